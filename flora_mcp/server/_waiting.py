"""Waiting for runs to end inside one tool call, so an agent need not poll in a loop.

`GET /runs/{id}` tells neither how long a run should take nor when it began on this machine's
clock; the start answer's `estimated_seconds` does, so a `RunClock` keeps it for each run this
server started. Such a run is first polled just before its estimated end, then at short, growing
intervals; any other run is polled at once, then on the same growing intervals. Between polls
the host gets progress notifications (when it asked for them), interpolated from the estimate.
Cancelling the tool call cancels the sleep or request in flight, so polling stops with it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

import anyio

from flora_mcp.client import (
    APIConnectionError,
    APIStatusError,
    FloraClient,
    InternalServerError,
    RateLimitError,
    Run,
)

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS: Final = 50  # under the ~60 s request timeout common in hosts
LEAD_SECONDS: Final = 0.2  # first poll this long before the estimated end (at most a tenth of it)
FIRST_STEP: Final = 0.25
GROWTH: Final = 1.5
MAX_STEP: Final = 5.0
QUIET_MAX: Final = 15.0  # before the estimated end, still look this often: a run can fail early
TICK_SECONDS: Final = 1.0  # progress notifications between polls
_TRANSIENT: Final = (APIConnectionError, InternalServerError, RateLimitError)

Report = Callable[[float, float | None, str | None], Awaitable[None]]


class RunClock:
    """When this server started each run (monotonic) and FLORA's estimate of its length; bounded."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._runs: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def started(self, run_id: str, estimated_seconds: float | None, at: float | None = None) -> None:
        if estimated_seconds is None:
            return
        self._runs[run_id] = (time.monotonic() if at is None else at, float(estimated_seconds))
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._capacity:
            self._runs.popitem(last=False)

    def get(self, run_id: str) -> tuple[float, float] | None:
        return self._runs.get(run_id)


@dataclass
class Follow:
    """One run being waited for: what was last seen of it and when to look next."""

    run_id: str
    started: float | None = None
    estimate: float | None = None
    run: Run | None = None
    next_poll: float = 0.0
    step: float = FIRST_STEP

    @property
    def ended(self) -> bool:
        return self.run is not None and self.run.status in ("completed", "failed")

    def until_first_poll(self, now: float) -> float:
        """Seconds until just before the estimated end; 0 for a run with no estimate or past it."""
        if self.started is None or self.estimate is None:
            return 0.0
        return max(0.0, self.started + self.estimate - min(LEAD_SECONDS, self.estimate / 10) - now)

    def plan(self, now: float, not_before: float = 0.0) -> None:
        """Just before the estimated end (looking in every QUIET_MAX), then at growing intervals."""
        if (wait := self.until_first_poll(now)) > 0:
            self.next_poll = now + max(min(wait, QUIET_MAX), not_before)
            return
        self.next_poll = now + max(self.step, not_before)
        self.step = min(self.step * GROWTH, MAX_STEP)

    def percent(self, now: float) -> float:
        """Seen progress, or the share of the estimate elapsed if ahead of it (capped short of done)."""
        if self.ended:
            return 100.0
        seen = self.run.progress if self.run is not None else 0.0
        if self.started is None or not self.estimate:
            return seen
        return max(seen, min(95.0, 100 * (now - self.started) / self.estimate))


def follow(clock: RunClock, run_id: str) -> Follow:
    """A run to wait for: one this server started waits for its estimate, any other is polled now."""
    now = time.monotonic()
    started, estimate = clock.get(run_id) or (None, None)
    item = Follow(run_id, started, estimate, next_poll=now)
    if item.until_first_poll(now) > 0:
        item.plan(now)
    return item


async def wait(client: FloraClient, follows: Sequence[Follow], seconds: float, report: Report | None) -> None:
    """Poll until every run has ended or `seconds` have passed; runs still going are polled once
    more at the deadline, so each ends with a fresh reading. API failures other than transient
    ones (connection, 5xx, 429) are raised."""
    progress = _Progress(report)
    deadline = time.monotonic() + seconds
    await progress.update(follows)
    while pending := [f for f in follows if not f.ended]:
        now = time.monotonic()
        wake = min(min(f.next_poll for f in pending), deadline, now + TICK_SECONDS)
        if wake > now:
            await anyio.sleep(wake - now)
            now = time.monotonic()
        final = now >= deadline
        due = [f for f in pending if final or f.next_poll <= now]
        if due:
            await _poll(client, due, final)
        await progress.update(follows)
        if final:
            return


async def _poll(client: FloraClient, due: Sequence[Follow], final: bool) -> None:
    failures: list[Exception] = []

    async def one(item: Follow) -> None:
        try:
            item.run = await client.get_run(item.run_id)
        except _TRANSIENT as exc:
            if final and item.run is None:  # nothing to answer with
                failures.append(exc)
            logger.info("Polling %s failed (%s); trying again later", item.run_id, exc)
            retry_after = exc.retry_after if isinstance(exc, APIStatusError) else None
            item.plan(time.monotonic(), retry_after or 0.0)
            return
        except Exception as exc:  # raised after the others are read, not from inside the task group
            failures.append(exc)
            return
        if not item.ended:
            item.plan(time.monotonic())

    async with anyio.create_task_group() as group:
        for item in due:
            group.start_soon(one, item)
    if failures:
        raise failures[0]


class _Progress:
    """Sends the mean progress of all runs, in percent, only when it has grown (the spec's rule)."""

    def __init__(self, report: Report | None) -> None:
        self._report = report
        self._sent = -1.0

    async def update(self, follows: Sequence[Follow]) -> None:
        if self._report is None or not follows:
            return
        now = time.monotonic()
        value = round(sum(f.percent(now) for f in follows) / len(follows), 1)
        if value <= self._sent:
            return
        self._sent = value
        await self._report(value, 100.0, _message(follows, value))


def _message(follows: Sequence[Follow], value: float) -> str:
    statuses = [f.run.status if f.run is not None else "pending" for f in follows]
    if len(statuses) == 1:
        return f"{statuses[0]}, ~{value:.0f}%"
    done = sum(1 for s in statuses if s in ("completed", "failed"))
    failed = statuses.count("failed")
    return f"{done} of {len(statuses)} runs done, ~{value:.0f}%" + (f" ({failed} failed)" if failed else "")
