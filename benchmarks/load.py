"""Load on the streamable HTTP transport: many concurrent MCP clients calling tools.

    python benchmarks/load.py [--clients 50] [--seconds 60] [--warmup 10]
                              [--replicas N] [--database-url postgresql://...]

Starts `flora-mcp sandbox` and `flora-mcp --transport http` (with a key, pointed at that
sandbox, so the server's memory is the MCP server's alone), then runs the clients, each its
own MCP session, through the seed flow in a loop: list workspaces and models, start an image
generation, check its status until it completes (images inlined). Prints calls/s, p50/p99
latency, errors, and the server's resident memory at start, after warm-up and at the end.
Target: 0 errors, memory at the end <= 1.2x memory after warm-up.

With `--replicas N` (N > 1), N `--stateless` replicas, each with its own HOME, all pointed at
the one sandbox, serve behind a round-robin balancer (tests/balancer.py: every request to the
next replica); memory is given per replica. `--database-url` gives every replica that
`FLORA_DATABASE_URL`, the store they share; without it each keeps its own SQLite journal.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.balancer import round_robin  # noqa: E402 - after making the repo importable
from tests.servers import flora_server, server_env  # noqa: E402


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


@dataclass
class Target:
    """Where the clients connect, and the server processes behind it."""

    url: str
    pids: list[int]
    describe: str = ""
    counts: dict[str, int] | None = None  # requests per replica, when behind the balancer
    origins: list[str] = field(default_factory=list)


def rss_line(label: str, start: float, warm: float, end: float) -> str:
    return f"  {label:<15}start {start:.1f} MB, warm {warm:.1f} MB, end {end:.1f} MB"


async def run_load(target: Target, options: argparse.Namespace) -> None:
    at_start = [rss_mb(pid) for pid in target.pids]
    stats = Stats()
    deadline = time.monotonic() + options.warmup + options.seconds
    async with anyio.create_task_group() as clients:
        for _ in range(options.clients):
            clients.start_soon(one_client, target.url, stats, deadline)
        await anyio.sleep(options.warmup)
        after_warmup = [rss_mb(pid) for pid in target.pids]
        stats.measuring = True
        measured_from = time.monotonic()
    measured = time.monotonic() - measured_from
    at_end = [rss_mb(pid) for pid in target.pids]

    latencies = sorted(stats.latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{options.clients} clients over streamable HTTP{target.describe}, {measured:.0f} s after warm-up")
    print(f"  calls/s        {len(latencies) / measured:8.1f}   ({len(latencies)} calls)")
    print(f"  latency p50    {statistics.median(latencies) * 1000:8.1f} ms")
    print(f"  latency p99    {p99 * 1000:8.1f} ms")
    print(f"  errors         {len(stats.errors):8d}")
    for error in stats.errors[:5]:
        print(f"    {error[:200]}")
    if len(target.pids) == 1:
        print(rss_line("server RSS", at_start[0], after_warmup[0], at_end[0]))
        print(f"  end / warm-up  {at_end[0] / after_warmup[0]:8.2f}x   (target <= 1.2x)")
        return
    for i, origin in enumerate(target.origins):
        requests = target.counts[origin] if target.counts is not None else 0
        print(
            rss_line(f"replica {i + 1} RSS", at_start[i], after_warmup[i], at_end[i])
            + f", {requests} requests"
        )
    worst = max(end / warm for end, warm in zip(at_end, after_warmup, strict=True))
    print(f"  end / warm-up  {worst:8.2f}x   (worst replica; target <= 1.2x)")


@contextmanager
def replicas(count: int, env: dict[str, str]) -> Iterator[Target]:
    """One server as before, or `count` stateless replicas with their own HOMEs behind the balancer."""
    if count == 1:
        with flora_server("--transport", "http", env=env) as server:
            yield Target(server.url, [server.process.pid])
        return
    with ExitStack() as stack:
        servers = []
        for _ in range(count):
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="flora-load-home-"))
            own = {k: v for k, v in env.items() if k != "XDG_DATA_HOME"} | {"HOME": home}
            servers.append(stack.enter_context(flora_server("--transport", "http", "--stateless", env=own)))
        origins = [server.url.rsplit("/", 1)[0] for server in servers]
        path = "/" + servers[0].url.split("/", 3)[3]
        balancer = stack.enter_context(round_robin(origins))
        yield Target(
            balancer.url + path,
            [server.process.pid for server in servers],
            describe=f", {count} stateless replicas behind a round-robin balancer",
            counts=balancer.counts,
            origins=origins,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--replicas", type=int, default=1, help="servers behind a round-robin balancer")
    parser.add_argument("--database-url", help="FLORA_DATABASE_URL for every replica (their shared store)")
    options = parser.parse_args()
    if options.replicas < 1:
        parser.error("--replicas must be at least 1")

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
    if options.database_url:
        env["FLORA_DATABASE_URL"] = options.database_url
    try:
        with replicas(options.replicas, env) as target:
            anyio.run(run_load, target, options)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
