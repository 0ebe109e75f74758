"""Waiting for runs: status reads per project and lag, when FLORA's estimate is off 3x either way.

    python benchmarks/polling.py [--estimates 6 10 14]

Runs `wait_for_runs` (the server's waiting) against in-process sandboxes over HTTP, one sandbox per
estimate and ratio of real duration to estimate (0.3x, 1x, 3x: the sandbox's `duration_factors`
pinned to it), for batches of 1 and 4 runs in one project, every case at once, each with its own
key. Several estimates put the runs' ends at different points between reads. Prints:
  - the most status reads of one project in any 2 s window, the first read left out (target <= 1;
    FLORA advises polling every 2-5 s and its rate limits are per workspace), and the smallest gap;
  - the lag from the last run's end (the sandbox's own clock) to the answer
    (target <= max(2 s, 15 % of the run's duration)). At the 2 s floor the two targets meet: a run
    ending just after a read waits out the whole gap, plus the read's own time (tens of ms).
Reads are timed as the client sends them, in this process: the sandboxes' threads make the
send times drift by milliseconds, which the schedule's `slack` (20 ms) absorbs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import httpx2

from flora_mcp.client import FloraClient, GenerationRequest, Model
from flora_mcp.sandbox import RunningSandbox, start_sandbox
from flora_mcp.server.waiting import POLL_SCHEDULE, StartedRuns, wait_for_runs

FACTORS = (0.3, 1.0, 3.0)
BATCHES = (1, 4)
WINDOW = POLL_SCHEDULE.min_gap
READ_TIME = 0.1  # at most this for one read on loopback, `slack` included
PROMPT = "a cinematic product photo of a ceramic mug on a sunlit table"


@dataclass
class Case:
    factor: float  # real duration / estimate
    batch: int
    estimate: float
    reads: list[float] = field(default_factory=list)  # send times, monotonic
    lag: float = 0.0
    duration: float = 0.0

    async def record(self, request: httpx2.Request) -> None:
        path = request.url.path
        if request.method == "GET" and ("/runs/" in path or path.endswith("/generations")):
            self.reads.append(time.monotonic())

    def most_in_a_window(self) -> int:
        """The most reads in any window of WINDOW seconds, the first read left out."""
        later = self.reads[1:]
        return max((sum(1 for t in later if start <= t < start + WINDOW) for start in later), default=0)

    def smallest_gap(self) -> float:
        gaps = [b - a for a, b in zip(self.reads[1:], self.reads[2:], strict=False)]
        return min(gaps, default=math.inf)

    def target(self) -> float:
        return max(2.0, 0.15 * self.duration)


def _speed(model: Model, estimate: float) -> float:
    """A sandbox speed giving `model` exactly `estimate` seconds, as its start answer rounds it up."""
    speed = estimate / model.estimated_seconds
    while math.ceil(model.estimated_seconds * speed) > estimate:
        speed = math.nextafter(speed, 0.0)
    return speed


async def _model(sandbox: RunningSandbox) -> Model:
    async with FloraClient(api_key="bench-catalogue", base_url=sandbox.base_url) as client:
        models = await client.list_models("image")
    return next((m for m in models if m.model_id.startswith("t2i-")), models[0])


async def measure(sandbox: RunningSandbox, model: Model, case: Case) -> None:
    """Start the case's batch in one new project, wait for it as the server does, time the answer."""
    started = StartedRuns()
    async with httpx2.AsyncClient(event_hooks={"request": [case.record]}) as http:
        client = FloraClient(api_key=f"bench-{uuid.uuid4().hex}", base_url=sandbox.base_url, http=http)
        workspace_id = (await client.list_workspaces())[0].workspace_id
        project_id = (await client.create_project(workspace_id, "Polling bench")).project_id
        request = GenerationRequest(
            type="image",
            prompt=PROMPT,
            workspace_id=workspace_id,
            project_id=project_id,
            model=model.model_id,
        )
        run_ids = []
        for _ in range(case.batch):
            run = await client.generate(request)
            started.add(run.run_id, project_id=project_id, estimated_seconds=run.estimated_seconds)
            run_ids.append(run.run_id)
        runs = await wait_for_runs(client, started, run_ids, seconds=case.factor * case.estimate + 30)
        answered = time.time()
    assert all(run.status == "completed" for run in runs.values()), runs
    ends = [sandbox.state.runs[run_id].created + sandbox.state.runs[run_id].duration for run_id in run_ids]
    case.lag = answered - max(ends)
    case.duration = statistics.mean(sandbox.state.runs[run_id].duration for run_id in run_ids)


async def run_all(estimates: Sequence[float]) -> list[Case]:
    """Every (ratio, estimate) in its own sandbox, every batch size in each, all at once."""
    places = [(factor, estimate) for factor in FACTORS for estimate in estimates]
    sandboxes = {place: start_sandbox(seed=1) for place in places}
    cases = [Case(factor, batch, estimate=estimate) for factor, estimate in places for batch in BATCHES]
    try:
        model = await _model(sandboxes[places[0]])
        for (factor, estimate), sandbox in sandboxes.items():
            sandbox.state.speed = _speed(model, estimate)
            sandbox.state.duration_factors = (factor, factor)
        async with anyio.create_task_group() as group:
            for case in cases:
                group.start_soon(measure, sandboxes[case.factor, case.estimate], model, case)
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--estimates", type=float, nargs="+", default=[6.0, 10.0, 14.0], help="estimated seconds of the runs"
    )
    args = parser.parse_args()

    began = time.monotonic()
    cases = anyio.run(run_all, args.estimates)
    print(
        f"{'real/est':>8} {'batch':>5} {'real':>11} {'reads':>6} {'max/2s':>6} {'min gap':>8} "
        f"{'lag med':>8} {'lag max':>8} {'lag-target':>10}"
    )
    worst_window, worst_over = 0, -math.inf
    for factor in FACTORS:
        for batch in BATCHES:
            same = [c for c in cases if c.factor == factor and c.batch == batch]
            lags = [c.lag for c in same]
            window = max(c.most_in_a_window() for c in same)
            over = max(c.lag - c.target() for c in same)
            durations = f"{min(c.duration for c in same):.0f}-{max(c.duration for c in same):.0f} s"
            reads = statistics.mean(len(c.reads) for c in same)
            gap = min(c.smallest_gap() for c in same)
            print(
                f"{factor:7.1f}x {batch:5d} {durations:>11} {reads:6.1f} {window:6d} {gap:7.3f}s "
                f"{statistics.median(lags):7.2f}s {max(lags):7.2f}s {over:+9.2f}s"
            )
            worst_window, worst_over = max(worst_window, window), max(worst_over, over)
    polite = "met" if worst_window <= 1 else "NOT met"
    worst = max(cases, key=lambda c: c.lag - c.target())
    if worst_over <= 0:
        quick = "met"
    elif worst.target() == POLL_SCHEDULE.min_gap and worst_over <= READ_TIME:
        # At the floor the two targets meet: a run ending just after a read waits out the whole
        # 2 s gap before the next, plus the time the read itself takes (`slack`, the request).
        quick = "met but for the read's own time at the 2 s floor"
    else:
        quick = "NOT met"
    print(f"reads per project per 2 s after the first <= 1: worst {worst_window}, {polite}")
    print(f"lag <= max(2 s, 15 % of the run): worst {worst_over:+.2f} s against the target, {quick}")
    print(f"({time.monotonic() - began:.0f} s in all)")


if __name__ == "__main__":
    main()
