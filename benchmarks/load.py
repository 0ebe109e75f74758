"""Load on the streamable HTTP transport: many concurrent MCP clients calling tools.

    python benchmarks/load.py [--clients 50] [--seconds 60] [--warmup 10]

Starts `flora-mcp sandbox` and `flora-mcp --transport http` (with a key, pointed at that
sandbox, so the server's memory is the MCP server's alone), then runs the clients, each its
own MCP session, through the seed flow in a loop: list workspaces and models, start an image
generation, check its status until it completes (images inlined). Prints calls/s, p50/p99
latency, errors, and the server's resident memory at start, after warm-up and at the end.
Target: 0 errors, memory at the end <= 1.2x memory after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import flora_server, server_env  # noqa: E402 - after making the repo importable


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    measuring: bool = False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def timed(client: Client, stats: Stats, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = await client.call_tool(tool, args)
    except Exception as exc:  # a transport failure is an error too, not the end of the run
        stats.errors.append(f"{tool}: {type(exc).__name__}: {exc}")
        return {}
    if stats.measuring:
        stats.latencies.append(time.perf_counter() - started)
    if result.is_error:
        stats.errors.append(f"{tool}: {result.content[0]}")
        return {}
    return result.structured_content or {}


async def one_client(url: str, stats: Stats, deadline: float) -> None:
    async with Client(url) as client:
        workspaces = (await timed(client, stats, "list_workspaces", {})).get("workspaces", [])
        workspace_id = workspaces[0]["workspace_id"]
        project = await timed(client, stats, "create_project", {"workspace_id": workspace_id, "name": "load"})
        while time.monotonic() < deadline:
            await timed(client, stats, "list_models", {"type": "image"})
            await timed(client, stats, "list_projects", {"workspace_id": workspace_id, "limit": 5})
            started = await timed(
                client,
                stats,
                "create_generation",
                {
                    "type": "image",
                    "prompt": "a ceramic mug on a sunlit table",
                    "workspace_id": workspace_id,
                    "project_id": project.get("project_id", "prj_missing"),
                    "model": "t2i-imagen-4",
                    "params": {"aspect_ratio": "4:3"},
                },
            )
            while started and time.monotonic() < deadline + 30:
                run = await timed(client, stats, "get_generation_status", {"run_id": started["run_id"]})
                if run.get("status") in ("completed", "failed", None):
                    break
                await anyio.sleep(0.2)


async def run_load(url: str, pid: int, options: argparse.Namespace) -> None:
    at_start = rss_mb(pid)
    stats = Stats()
    deadline = time.monotonic() + options.warmup + options.seconds
    async with anyio.create_task_group() as clients:
        for _ in range(options.clients):
            clients.start_soon(one_client, url, stats, deadline)
        await anyio.sleep(options.warmup)
        after_warmup = rss_mb(pid)
        stats.measuring = True
        measured_from = time.monotonic()
    measured = time.monotonic() - measured_from
    at_end = rss_mb(pid)

    latencies = sorted(stats.latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{options.clients} clients over streamable HTTP, {measured:.0f} s after warm-up")
    print(f"  calls/s        {len(latencies) / measured:8.1f}   ({len(latencies)} calls)")
    print(f"  latency p50    {statistics.median(latencies) * 1000:8.1f} ms")
    print(f"  latency p99    {p99 * 1000:8.1f} ms")
    print(f"  errors         {len(stats.errors):8d}")
    for error in stats.errors[:5]:
        print(f"    {error[:200]}")
    print(f"  server RSS     start {at_start:.1f} MB, warm {after_warmup:.1f} MB, end {at_end:.1f} MB")
    print(f"  end / warm-up  {at_end / after_warmup:8.2f}x   (target <= 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    options = parser.parse_args()

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "flora_mcp", "sandbox", "--port", "0", "--sandbox-speed", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=server_env(),
    )
    assert sandbox.stdout is not None
    base_url = sandbox.stdout.readline().strip()
    env = server_env(FLORA_API_KEY="load-benchmark-key", FLORA_BASE_URL=base_url)
    try:
        with flora_server("--transport", "http", env=env) as server:
            anyio.run(run_load, server.url, server.process.pid, options)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
