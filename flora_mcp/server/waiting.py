"""Waiting for runs to end inside one tool call: fast whatever FLORA's estimate, polite to its limits.

FLORA's `estimated_seconds` is loose both ways (real runs end at 0.3x to 3x of it) and the progress
of a running run often stays 0, so neither says when to look. What can be bounded is the cost of
looking and the lag of seeing:

- politeness: at most one status read per project every 2 s (`min_gap`). FLORA's rate limits are
  per workspace and its own advice is to poll every 2-5 s. Only the first read may come sooner
  (and a run missing from its project's page costs a read of its own).
- lag: the answer comes at most max(2 s, 15 % of the run's duration) after the run ends. After a
  read at age `a` (seconds since the start) the next comes max(2 s, 0.14 a) later; a run still
  going at age `a` lasts longer than `a`, so the gap, and the lag, is within 15 % of its duration
  (14 % leaves room for the read itself).

`PollSchedule` turns that into times: a first read soon after the start (a refused prompt fails
within seconds), sparse reads until a quarter of the estimate (no run ends much sooner than a
third of it), then the lag-bounded gaps. `StartedRuns` keeps what that needs for each run this
server started: when (on this machine's clock; FLORA's times are on another), the estimate, and
the project; and the latest read of each project, so that concurrent waits (an agent waiting on
four runs in four parallel calls) share one read instead of making four.

`wait_for_runs` reads in rounds: the followed runs of one project in one
`GET /generations?project_id=…&limit=100` (a batch of 20 costs one request, not 20); a run of
unknown project (not started here) or older than its project's newest page with `GET /runs/{id}`.
Between reads the host gets progress notifications; cancelling the tool call cancels the sleep or
the request in flight, so polling stops with it.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import anyio

from flora_mcp.client import (
    APIConnectionError,
    APIStatusError,
    FloraClient,
    FloraError,
    Generation,
    InternalServerError,
    RateLimitError,
    Run,
)

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS: Final = 50  # under the ~60 s request timeout common in hosts
TICK_SECONDS: Final = 1.0  # progress notifications between reads
PAGE_SIZE: Final = 100  # the most `GET /generations` gives in one page
STILL_GOING: Final = frozenset({"pending", "running"})  # any other status, even a new one, ends the wait
_TRANSIENT: Final = (APIConnectionError, InternalServerError, RateLimitError)

Report = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclass(frozen=True)
class PollSchedule:
    """When to read a run, from its age and FLORA's estimate; pure, in seconds on one clock."""

    min_gap: float = 2.0  # politeness: never two reads of a project closer than this
    slack: float = 0.02  # sends drift by milliseconds (thread switches, a busy loop): still min_gap apart
    lag_share: float = 0.14  # next read this share of the run's age later: 15 % less the read's own time
    first_after: float = 1.0  # an early failure (moderation, a bad reference) shows within seconds
    earliest_end: float = 0.25  # share of the estimate before which no run is expected to end
    quiet_gap: float = 10.0  # before that, still look this often: a run can fail early
    max_gap: float = 30.0
    bare_429_wait: float = 5.0  # FLORA's own sample waits 5 s after a 429 without Retry-After

    def first_read(self, started_at: float, estimate: float | None, now: float) -> float:
        """Soon after the start, sooner for a short estimate; at once for a run started long ago."""
        after = self.first_after if estimate is None else min(self.first_after, self.earliest_end * estimate)
        return max(now, started_at + after)

    def next_read(self, started_at: float, estimate: float | None, read_at: float) -> float:
        """The read after one at `read_at` that found the run still going."""
        gap = min(self.max_gap, max(self.min_gap, self.lag_share * (read_at - started_at)))
        lagged = read_at + gap + self.slack
        if estimate is None:
            return lagged
        quiet_until = min(started_at + self.earliest_end * estimate, read_at + self.quiet_gap)
        return max(lagged, quiet_until)


POLL_SCHEDULE: Final = PollSchedule()


@dataclass(frozen=True)
class StartedRun:
    started_at: float  # time.monotonic() when the start was answered
    estimate: float | None  # FLORA's estimated_seconds
    project_id: str | None


@dataclass(frozen=True)
class ProjectRead:
    """One read of a project's newest runs; `runs` is None when the read failed."""

    read_at: float  # time.monotonic() when it was sent
    runs: Mapping[str, Run] | None
    full: bool = False  # as long as a page can be: older runs are not in it
    retry_after: float = 0.0  # FLORA asked for this long before the next read
    error: Exception | None = None  # why the read failed


class StartedRuns:
    """One FLORA key's runs started by this server (when, FLORA's estimate, the project), and the
    latest read of each of their projects with a lock per project: concurrent waits (an agent
    waiting on several runs in parallel calls) share reads instead of each reading; bounded."""

    def __init__(self, capacity: int = 4096, projects: int = 256) -> None:
        self._capacity = capacity
        self._runs: OrderedDict[str, StartedRun] = OrderedDict()
        self._project_capacity = projects
        self._reads: OrderedDict[str, ProjectRead] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}

    def add(
        self,
        run_id: str,
        *,
        project_id: str | None,
        estimated_seconds: float | None,
        at: float | None = None,
    ) -> None:
        started_at = time.monotonic() if at is None else at
        estimate = None if estimated_seconds is None else float(estimated_seconds)
        self._runs[run_id] = StartedRun(started_at, estimate, project_id)
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._capacity:
            self._runs.popitem(last=False)

    def get(self, run_id: str) -> StartedRun | None:
        return self._runs.get(run_id)

    def __len__(self) -> int:
        return len(self._runs)

    def project_lock(self, project_id: str) -> anyio.Lock:
        return self._locks.setdefault(project_id, anyio.Lock())

    def last_read(self, project_id: str) -> ProjectRead | None:
        return self._reads.get(project_id)

    def keep_read(self, project_id: str, read: ProjectRead) -> None:
        self._reads[project_id] = read
        self._reads.move_to_end(project_id)
        while len(self._reads) > self._project_capacity:
            oldest, _ = self._reads.popitem(last=False)
            lock = self._locks.get(oldest)
            if lock is not None and not lock.locked():
                del self._locks[oldest]


def run_from_generation(generation: Generation) -> Run:
    """A history item as `GET /runs/{id}` would give it: the fields both shapes share."""
    return Run.model_validate(generation.model_dump(include=set(Run.model_fields)))


async def wait_for_runs(
    client: FloraClient,
    started: StartedRuns,
    run_ids: Sequence[str],
    seconds: float,
    report: Report | None = None,
    *,
    schedule: PollSchedule = POLL_SCHEDULE,
) -> dict[str, Run]:
    """Read the runs until every one has ended or `seconds` have passed; each run's last reading,
    by run_id in the order given. Runs still going at the deadline are read once more unless read
    within `min_gap` (seconds=0 reads each once). Transient failures (connection, 5xx, 429) are
    read again later; any other failure, or a run never read by the deadline, is raised."""
    now = time.monotonic()
    watches = [_watch(started.get(run_id), run_id, now, schedule) for run_id in dict.fromkeys(run_ids)]
    deadline = now + seconds
    reader = _Reader(client, started, schedule)
    progress = _Progress(report)
    await progress.update(watches, now)
    while pending := [w for w in watches if w.going]:
        now = time.monotonic()
        wake = min(min(w.due for w in pending), deadline)
        if report is not None:
            wake = min(wake, now + TICK_SECONDS)
        if wake > now:
            await anyio.sleep(wake - now)
            now = time.monotonic()
        final = now >= deadline
        due = [w for w in pending if w.due <= now or (final and reader.stale(w, now))]
        if due:
            await reader.round(due, pending, final)
        await progress.update(watches, time.monotonic())
        if final:
            break
    runs = {w.run_id: w.run for w in watches if w.run is not None}
    assert len(runs) == len(watches)  # every run was read, or the final round raised
    return runs


@dataclass
class _Watch:
    """One run being waited for: what was last seen of it and when to read it next."""

    run_id: str
    started_at: float
    estimate: float | None
    project_id: str | None
    due: float
    run: Run | None = None
    read_at: float | None = None
    off_page: bool = False  # older than its project's newest page: read on its own

    @property
    def going(self) -> bool:
        return self.run is None or self.run.status in STILL_GOING

    def percent(self, now: float) -> float:
        """Seen progress, or a guess from the estimate when ahead of it: it nears 95 % and never
        reaches it, so a run three times over its estimate still moves and is never shown done."""
        if not self.going:
            return 100.0
        seen = self.run.progress if self.run is not None else 0.0
        if not self.estimate:
            return seen
        return max(seen, 95 * (1 - math.exp(-(now - self.started_at) / self.estimate)))


def _watch(known: StartedRun | None, run_id: str, now: float, schedule: PollSchedule) -> _Watch:
    """A run this server started waits as its schedule says; any other is read now, its age counted
    from now (younger than it is: its reads come a little more often than needed, never later)."""
    if known is None:
        return _Watch(run_id, now, None, None, due=now)
    due = schedule.first_read(known.started_at, known.estimate, now)
    return _Watch(run_id, known.started_at, known.estimate, known.project_id, due=due)


class _Reader:
    """One round of reads: a page per project with runs to read, single reads for the rest."""

    def __init__(self, client: FloraClient, started: StartedRuns, schedule: PollSchedule) -> None:
        self._client = client
        self._started = started
        self._schedule = schedule
        self._unpaged: set[str] = set()  # projects whose page could not be read: their runs one by one
        self._final = False  # this round is the last: a run never read by it is an error
        self._failures: list[Exception] = []

    def stale(self, watch: _Watch, now: float) -> bool:
        """Worth a final read: never read, or not within `min_gap` (a failed read counts)."""
        return watch.run is None or watch.read_at is None or now - watch.read_at >= self._schedule.min_gap

    async def round(self, due: Sequence[_Watch], pending: Sequence[_Watch], final: bool) -> None:
        self._final, self._failures = final, []
        projects = {w.project_id for w in due if self._pageable(w)}
        async with anyio.create_task_group() as group:
            for project_id in projects:
                assert project_id is not None
                # The project's other followed runs come along: its reads stay together, min_gap apart.
                members = [w for w in pending if w.project_id == project_id and self._pageable(w)]
                group.start_soon(self._read_page, project_id, members)
            for watch in due:
                if not self._pageable(watch):
                    group.start_soon(self._read_one, watch)
        if self._failures:  # raised after the others are read, not from inside the task group
            raise self._failures[0]

    def _pageable(self, watch: _Watch) -> bool:
        return watch.project_id is not None and not watch.off_page and watch.project_id not in self._unpaged

    async def _read_page(self, project_id: str, members: Sequence[_Watch]) -> None:
        async with self._started.project_lock(project_id):
            read = self._started.last_read(project_id)
            shared = read is not None and time.monotonic() - read.read_at < self._schedule.min_gap
            if not shared:
                read = await self._fetch_page(project_id)
        if read is None:  # no page to be had: read one by one
            for watch in members:
                await self._read_one(watch)
            return
        for watch in members:
            run = read.runs.get(watch.run_id) if read.runs is not None else None
            if run is not None:
                self._seen(watch, run, read.read_at)
            elif read.runs is not None and read.full:  # older than the project's newest runs
                watch.off_page = True  # read on its own from now on
                await self._read_one(watch)
            elif shared and self._final and watch.run is None:  # nothing to answer with otherwise
                await self._read_one(watch)
            elif shared or read.runs is None:  # a failed read, or a run started after that read
                self._later(watch, read.read_at, read.retry_after, read.error)
            else:  # a run not listed yet
                await self._read_one(watch)

    async def _fetch_page(self, project_id: str) -> ProjectRead | None:
        """The project's newest runs, kept for concurrent waits; None if FLORA cannot list them."""
        sent = time.monotonic()  # the next read is planned from the send, not from the round's start
        try:
            page = await self._client.list_generations(project_id=project_id, limit=PAGE_SIZE)
        except _TRANSIENT as exc:
            logger.info("Reading project %s failed (%s); trying again later", project_id, exc)
            read = ProjectRead(sent, None, retry_after=self._retry_after(exc), error=exc)
        except FloraError as exc:  # e.g. a service without the SDK-only listing
            logger.warning("Reading project %s failed (%s); reading its runs one by one", project_id, exc)
            self._unpaged.add(project_id)
            return None
        else:
            runs = {g.run_id: run_from_generation(g) for g in page.items}
            full = page.next_cursor is not None or len(page.items) >= PAGE_SIZE
            read = ProjectRead(sent, runs, full)
        self._started.keep_read(project_id, read)
        return read

    async def _read_one(self, watch: _Watch) -> None:
        sent = time.monotonic()
        try:
            run = await self._client.get_run(watch.run_id)
        except _TRANSIENT as exc:
            logger.info("Reading %s failed (%s); trying again later", watch.run_id, exc)
            self._later(watch, sent, self._retry_after(exc), exc)
            return
        except Exception as exc:
            self._failures.append(exc)
            return
        self._seen(watch, run, sent)

    def _seen(self, watch: _Watch, run: Run, read_at: float) -> None:
        watch.run, watch.read_at = run, read_at
        watch.due = self._schedule.next_read(watch.started_at, watch.estimate, read_at)

    def _later(self, watch: _Watch, read_at: float, retry_after: float, error: Exception | None) -> None:
        """Not read this time (a transient failure, or a shared read without it): read again when
        the schedule, or FLORA's Retry-After, says. A failed read counts against the budget too."""
        if self._final and watch.run is None and error is not None:  # nothing to answer with
            self._failures.append(error)
        watch.read_at = read_at
        if watch.run is None:  # a first read put off: as soon as the project may be read again
            planned = read_at + self._schedule.min_gap + self._schedule.slack
        else:
            planned = self._schedule.next_read(watch.started_at, watch.estimate, read_at)
        watch.due = max(planned, read_at + retry_after)

    def _retry_after(self, exc: Exception) -> float:
        retry_after = exc.retry_after if isinstance(exc, APIStatusError) else None
        if retry_after is None and isinstance(exc, RateLimitError):
            retry_after = self._schedule.bare_429_wait
        return retry_after or 0.0


class _Progress:
    """Sends the mean progress of all runs, in percent, only when it has grown (the spec's rule)."""

    def __init__(self, report: Report | None) -> None:
        self._report = report
        self._sent = -1.0

    async def update(self, watches: Sequence[_Watch], now: float) -> None:
        if self._report is None or not watches:
            return
        value = round(sum(w.percent(now) for w in watches) / len(watches), 1)
        if value <= self._sent:
            return
        self._sent = value
        await self._report(value, 100.0, _message(watches, value))


def _message(watches: Sequence[_Watch], value: float) -> str:
    statuses = [w.run.status if w.run is not None else "pending" for w in watches]
    if len(statuses) == 1:
        return f"{statuses[0]}, ~{value:.0f}%"
    done = sum(1 for s in statuses if s not in STILL_GOING)
    failed = statuses.count("failed")
    return f"{done} of {len(statuses)} runs done, ~{value:.0f}%" + (f" ({failed} failed)" if failed else "")
