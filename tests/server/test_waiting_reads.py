"""wait_for_runs against the sandbox over HTTP with a real FloraClient: a project's runs are read
together in one request per round, others one by one; failures, deadlines and cancellation."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest

from flora_mcp.client import FloraClient, GenerationRequest, NotFoundError
from flora_mcp.sandbox import FaultRule, RecordedRequest, RunningSandbox, start_sandbox
from flora_mcp.server.waiting import PollSchedule, StartedRuns, wait_for_runs

pytestmark = pytest.mark.anyio

RUN_SECONDS = 2.5  # long enough for a few rounds of reads, short enough for the suite
JITTER = 0.01  # between a round's start, from which the next is planned, and the request's send
FAST = PollSchedule(min_gap=0.1, first_after=0.05, quiet_gap=0.5, bare_429_wait=0.6)


@dataclass
class Sent:
    """The status reads this test's client sent, with this process's send times."""

    reads: list[tuple[float, httpx2.URL]] = field(default_factory=list)
    waiting: list[tuple[int, anyio.Event]] = field(default_factory=list)

    async def hook(self, request: httpx2.Request) -> None:
        if request.method == "GET" and (
            "/runs/" in request.url.path or request.url.path.endswith("/generations")
        ):
            self.reads.append((time.monotonic(), request.url))
        for count, event in self.waiting:
            if len(self.reads) >= count:
                event.set()

    def reached(self, count: int) -> anyio.Event:
        event = anyio.Event()
        self.waiting.append((count, event))
        return event


@dataclass
class Batch:
    client: FloraClient
    sandbox: RunningSandbox
    api_key: str
    sent: Sent
    started: StartedRuns = field(default_factory=StartedRuns)

    async def project(self) -> str:
        workspace_id = (await self.client.list_workspaces())[0].workspace_id
        return (await self.client.create_project(workspace_id, "Waiting")).project_id

    async def start(
        self, count: int, *, seconds: float = RUN_SECONDS, prompt: str = "a mug", register: bool = True
    ) -> tuple[str, list[str]]:
        """`count` image runs of about `seconds` in a new project; registered as started here."""
        workspace_id = (await self.client.list_workspaces())[0].workspace_id
        project_id = await self.project()
        models = await self.client.list_models("image")
        model = next((m for m in models if m.model_id.startswith("t2i-")), models[0])
        self.sandbox.state.speed = seconds / model.estimated_seconds
        request = GenerationRequest(
            type="image",
            prompt=prompt,
            workspace_id=workspace_id,
            project_id=project_id,
            model=model.model_id,
        )
        run_ids = []
        for _ in range(count):
            started = await self.client.generate(request)
            if register:
                self.started.add(
                    started.run_id, project_id=project_id, estimated_seconds=started.estimated_seconds
                )
            run_ids.append(started.run_id)
        return project_id, run_ids

    def recorded(self) -> list[RecordedRequest]:
        return [r for r in self.sandbox.state.requests if r.api_key == self.api_key and r.method == "GET"]

    def page_reads(self, project_id: str) -> int:
        return sum(1 for r in self.recorded() if r.path.endswith("/generations") and project_id in r.query)

    def run_reads(self) -> int:
        return sum(1 for r in self.recorded() if "/runs/" in r.path)


@pytest.fixture(scope="module")
def paced_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(seed=7) as running:
        running.state.duration_factors = (1.0, 1.0)  # each run takes its estimate: rounds are countable
        yield running


@pytest.fixture
async def batch(paced_sandbox: RunningSandbox, api_key: str) -> AsyncIterator[Batch]:
    sent = Sent()
    async with httpx2.AsyncClient(event_hooks={"request": [sent.hook]}) as http:
        # One attempt per read: the waiting, not the client's retries, must ride out failures here.
        client = FloraClient(api_key=api_key, base_url=paced_sandbox.base_url, http=http, max_attempts=1)
        yield Batch(client, paced_sandbox, api_key, sent)


async def test_four_runs_of_one_project_are_read_with_one_generations_request_per_round(batch: Batch) -> None:
    project_id, run_ids = await batch.start(4)
    with anyio.fail_after(20):
        runs = await wait_for_runs(batch.client, batch.started, run_ids, 15)
    assert [runs[run_id].status for run_id in run_ids] == ["completed"] * 4
    assert all(runs[run_id].outputs for run_id in run_ids)
    assert batch.run_reads() == 0
    rounds = [at for at, _ in batch.sent.reads]
    assert len(rounds) >= 2, "a run of 2.5 s takes more than one round"
    assert batch.page_reads(project_id) == len(rounds)  # every read was one page of this project
    assert all(b - a >= 2.0 - JITTER for a, b in itertools.pairwise(rounds)), "at most one read per 2 s"


async def test_a_run_not_started_here_is_read_on_its_own(batch: Batch) -> None:
    _, [run_id] = await batch.start(1, seconds=0.5, register=False)
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, [run_id], 10, schedule=FAST)
    assert runs[run_id].status == "completed"
    assert batch.run_reads() >= 1
    assert all(url.path.endswith(f"/runs/{run_id}") for _, url in batch.sent.reads)


async def test_a_lone_run_started_here_is_read_through_its_project_page(batch: Batch) -> None:
    project_id, [run_id] = await batch.start(1, seconds=0.5)
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, [run_id], 10, schedule=FAST)
    assert runs[run_id].status == "completed"
    assert batch.page_reads(project_id) >= 1
    assert batch.run_reads() == 0


async def test_parallel_waits_on_runs_of_one_project_share_one_read_per_round(batch: Batch) -> None:
    # An agent waiting on each run in its own tool call, all at once.
    project_id, run_ids = await batch.start(4)
    results: dict[str, str] = {}

    async def wait_one(run_id: str) -> None:
        runs = await wait_for_runs(batch.client, batch.started, [run_id], 15)
        results[run_id] = runs[run_id].status

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            for run_id in run_ids:
                group.start_soon(wait_one, run_id)
    assert results == dict.fromkeys(run_ids, "completed")
    assert batch.run_reads() == 0
    rounds = [at for at, _ in batch.sent.reads]
    assert batch.page_reads(project_id) == len(rounds)
    assert all(b - a >= 2.0 - JITTER for a, b in itertools.pairwise(rounds)), "at most one read per 2 s"


async def test_runs_missing_from_their_project_page_are_read_on_their_own(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=0.5, register=False)
    elsewhere = await batch.project()  # a project without these runs: its page does not list them
    for run_id in run_ids:
        batch.started.add(run_id, project_id=elsewhere, estimated_seconds=1)
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, run_ids, 10, schedule=FAST)
    assert [runs[run_id].status for run_id in run_ids] == ["completed"] * 2
    assert batch.page_reads(elsewhere) >= 1
    assert batch.run_reads() >= 2


async def test_without_a_readable_project_page_its_runs_are_read_one_by_one(batch: Batch) -> None:
    project_id, run_ids = await batch.start(2, seconds=1.0)
    batch.sandbox.state.faults.add(FaultRule("GET", "/generations", status=404, times=1))
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, run_ids, 10, schedule=FAST)
    assert [runs[run_id].status for run_id in run_ids] == ["completed"] * 2
    assert batch.page_reads(project_id) == 1, "the page is not asked for again"
    assert batch.run_reads() >= 2


async def test_a_failed_run_ends_the_wait_with_its_error(batch: Batch) -> None:
    _, [run_id] = await batch.start(1, seconds=1.0, prompt="a mug [sandbox:fail]")
    began = time.monotonic()
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, [run_id], 30, schedule=FAST)
    assert time.monotonic() - began < 5, "a failed run is not waited on until the deadline"
    assert runs[run_id].status == "failed"
    assert runs[run_id].error_message


async def test_transient_errors_do_not_end_the_wait(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=1.0)
    batch.sandbox.state.inject_fault(503, times=2)
    with anyio.fail_after(10):
        runs = await wait_for_runs(batch.client, batch.started, run_ids, 10, schedule=FAST)
    assert [runs[run_id].status for run_id in run_ids] == ["completed"] * 2
    failed = [r for r in batch.recorded() if r.status == 503]
    assert len(failed) == 2


async def test_a_429_without_retry_after_waits_before_the_next_read(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=1.5)
    batch.sandbox.state.inject_fault(429, times=1)
    with anyio.fail_after(10):
        await wait_for_runs(batch.client, batch.started, run_ids, 10, schedule=FAST)
    [refused_at, next_at, *_] = [at for at, _ in batch.sent.reads]
    assert next_at - refused_at >= FAST.bare_429_wait


async def test_a_429_with_retry_after_waits_as_long_as_told(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=2.0)
    batch.sandbox.state.inject_fault(429, retry_after=1, times=1)
    with anyio.fail_after(10):
        await wait_for_runs(batch.client, batch.started, run_ids, 10, schedule=FAST)
    [refused_at, next_at, *_] = [at for at, _ in batch.sent.reads]
    assert next_at - refused_at >= 1.0


async def test_a_run_that_does_not_exist_is_an_error(batch: Batch) -> None:
    with pytest.raises(NotFoundError):
        await wait_for_runs(batch.client, batch.started, ["run_missing"], 5)


async def test_the_deadline_ends_the_wait_with_the_runs_still_going(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=30)
    began = time.monotonic()
    runs = await wait_for_runs(batch.client, batch.started, run_ids, 1.5)
    assert time.monotonic() - began < 3
    assert {runs[run_id].status for run_id in run_ids} <= {"pending", "running"}


async def test_no_wait_reads_each_run_once_at_once(batch: Batch) -> None:
    project_id, run_ids = await batch.start(3, seconds=30)
    began = time.monotonic()
    runs = await wait_for_runs(batch.client, batch.started, run_ids, 0)
    assert time.monotonic() - began < 1
    assert set(runs) == set(run_ids)
    assert batch.page_reads(project_id) == 1 and batch.run_reads() == 0


async def test_progress_is_reported_between_reads_and_only_grows(batch: Batch) -> None:
    _, [run_id] = await batch.start(1, seconds=3.0)
    updates: list[tuple[float, float | None, str | None]] = []

    async def report(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    with anyio.fail_after(15):
        runs = await wait_for_runs(batch.client, batch.started, [run_id], 15, report)
    assert runs[run_id].status == "completed"
    values = [progress for progress, _, _ in updates]
    assert values == sorted(set(values)), "progress must only grow"
    assert len(values) > len(batch.sent.reads), "notifications come between reads too"
    assert updates[-1][:2] == (100, 100)
    assert all(message for _, _, message in updates)


async def test_cancelling_the_wait_stops_the_reads(batch: Batch) -> None:
    _, run_ids = await batch.start(2, seconds=30)
    three_reads = batch.sent.reached(3)
    async with anyio.create_task_group() as group:
        group.start_soon(
            functools.partial(wait_for_runs, schedule=FAST), batch.client, batch.started, run_ids, 20
        )
        with anyio.fail_after(10):
            await three_reads.wait()
        group.cancel_scope.cancel()
    after_cancel = len(batch.sent.reads)
    # Reads were due every 0.1 s; a settle window of ten of them shows none went out.
    await anyio.sleep(10 * FAST.min_gap)
    assert len(batch.sent.reads) == after_cancel
