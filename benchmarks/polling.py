"""Polling cost and lag: waiting in the server (`wait_seconds`) next to the seed's 3-second loop.

    python benchmarks/polling.py [--runs 3] [--lengths 2 5 10]

For sandbox runs of each length (the sandbox's speed scales a 10 s model to it), prints the
API polling requests per finished run and the lag from the run's `completed_at` to the answer:
  (a) create_generation, then get_generation_status with wait_seconds, through an MCP session;
  (b) generate: start and wait in one MCP call;
  (c) the seed's code: list generations every 3 s until the run shows completed.
Requests are counted from the sandbox's request log (GET /runs/… and GET /generations), per API
key; each measured run has its own key. Targets: (a) and (b) ≤ 3 requests and lag ≤ 0.5 s for
runs that end at their estimate. The runs of one length are measured together, started STAGGER
seconds apart: the sandbox draws each image on its first fetch, and a dozen drawn at the same
instant would measure this machine's CPU, not the polling.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.client import FloraClient, GenerationRequest
from flora_mcp.sandbox import RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings

MODEL = "t2i-imagen-4"  # estimated_seconds 10 in the sandbox catalogue
MODEL_SECONDS = 10
SEED_INTERVAL = 3.0
PROMPT = "a cinematic product photo of a ceramic mug on a sunlit table"
STAGGER = 0.4

Measure = Callable[[RunningSandbox, str], Awaitable[tuple[str, float]]]  # -> run_id, answered at


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


async def _place(client: Client) -> tuple[str, str]:
    workspace_id = _structured(await client.call_tool("list_workspaces", {}))["workspaces"][0]["workspace_id"]
    project = await client.call_tool("create_project", {"workspace_id": workspace_id, "name": "Bench"})
    return workspace_id, _structured(project)["project_id"]


def _session(sandbox: RunningSandbox, key: str) -> Client:
    return Client(build_server(Settings(api_key=SecretStr(key), base_url=sandbox.base_url)))


async def status_with_wait(sandbox: RunningSandbox, key: str) -> tuple[str, float]:
    async with _session(sandbox, key) as client:
        workspace_id, project_id = await _place(client)
        arguments = {"type": "image", "prompt": PROMPT, "model": MODEL}
        started = await client.call_tool(
            "create_generation", arguments | {"workspace_id": workspace_id, "project_id": project_id}
        )
        run_id: str = _structured(started)["run_id"]
        while True:
            result = await client.call_tool("get_generation_status", {"run_id": run_id, "wait_seconds": 50})
            if _structured(result)["status"] in ("completed", "failed"):
                return run_id, time.time()


async def generate_tool(sandbox: RunningSandbox, key: str) -> tuple[str, float]:
    async with _session(sandbox, key) as client:
        result = await client.call_tool("generate", {"prompt": PROMPT, "model": MODEL})
        answered = time.time()
        [run] = _structured(result)["runs"]
        assert run["status"] == "completed", run
        return run["run_id"], answered


async def seed_loop(sandbox: RunningSandbox, key: str) -> tuple[str, float]:
    """The seed page's step 4, as written: sleep 3 s, list generations, match the run_id."""
    async with FloraClient(api_key=key, base_url=sandbox.base_url) as client:
        workspace_id = (await client.list_workspaces())[0].workspace_id
        project_id = (await client.create_project(workspace_id, "Bench")).project_id
        request = GenerationRequest(
            type="image", prompt=PROMPT, workspace_id=workspace_id, project_id=project_id, model=MODEL
        )
        run_id = (await client.generate(request)).run_id
        while True:
            await anyio.sleep(SEED_INTERVAL)
            page = await client.list_generations(workspace_id=workspace_id, limit=10)
            found = next((g for g in page.items if g.run_id == run_id), None)
            if found is None or found.status not in ("pending", "running"):
                return run_id, time.time()


APPROACHES: dict[str, Measure] = {
    "(a) get_generation_status wait_seconds": status_with_wait,
    "(b) generate, one call": generate_tool,
    f"(c) seed: list every {SEED_INTERVAL:g} s": seed_loop,
}


def _polls(sandbox: RunningSandbox, key: str) -> int:
    return sum(
        1
        for r in sandbox.state.requests
        if r.api_key == key and r.method == "GET" and ("/runs/" in r.path or r.path.endswith("/generations"))
    )


async def measure_length(length: float, runs: int) -> dict[str, list[tuple[int, float]]]:
    """(polling requests, lag in seconds) per run, for each approach, all runs at once."""
    found: dict[str, list[tuple[int, float]]] = {name: [] for name in APPROACHES}
    with start_sandbox(speed=length / MODEL_SECONDS) as sandbox:

        async def one(name: str, measure: Measure, delay: float) -> None:
            await anyio.sleep(delay)
            key = f"bench-{uuid.uuid4().hex}"
            run_id, answered = await measure(sandbox, key)
            completed_at = sandbox.state.runs[run_id].created + sandbox.state.runs[run_id].duration
            found[name].append((_polls(sandbox, key), answered - completed_at))

        async with anyio.create_task_group() as group:
            for index in range(runs):
                for offset, (name, measure) in enumerate(APPROACHES.items()):
                    group.start_soon(one, name, measure, (index * len(APPROACHES) + offset) * STAGGER)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per approach and length")
    parser.add_argument("--lengths", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    args = parser.parse_args()

    print(f"{'run':>6}  {'approach':40} {'requests/run':>13} {'lag median':>11} {'lag max':>8}")
    worst_requests, worst_lag = 0, 0.0
    for length in args.lengths:
        results = anyio.run(measure_length, length, args.runs)
        for name, samples in results.items():
            requests = [r for r, _ in samples]
            lags = [lag for _, lag in samples]
            print(
                f"{length:5g}s  {name:40} {statistics.mean(requests):13.1f} "
                f"{statistics.median(lags):10.2f}s {max(lags):7.2f}s"
            )
            if not name.startswith("(c)"):
                worst_requests, worst_lag = max(worst_requests, max(requests)), max(worst_lag, max(lags))
    verdict = "met" if worst_requests <= 3 and worst_lag <= 0.5 else "NOT met"
    print(
        f"(a), (b) targets <= 3 requests, lag <= 0.5 s: worst {worst_requests}, {worst_lag:.2f} s, {verdict}"
    )


if __name__ == "__main__":
    main()
