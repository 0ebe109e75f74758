"""Retries of one logical call: which failures earn another attempt, how long to wait, when to stop.

A small loop instead of stamina or tenacity. stamina bounds time with tenacity's `stop_after_delay`,
checked after an attempt, so a long `Retry-After` is slept even when it overshoots the budget; its
sleep can be replaced only by a process-wide testing mode, and its retry logging is process-wide
hooks. tenacity would take an injected sleep, but its clock is fixed and every policy piece here
(what to retry, Retry-After, the budget, the log line, the give-up note) would be custom anyway,
leaving it only the loop below.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import anyio

from flora_mcp.client._errors import APIConnectionError, APIStatusError, FloraError

__all__ = ["RATE_LIMIT_WAIT", "Clock", "RetryPolicy", "Sleep", "backoff", "is_retryable", "wait_before"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
T = TypeVar("T")

INITIAL_WAIT: Final = 0.5
MAX_WAIT: Final = 8.0
# Each wait is shortened by up to a quarter, so clients that failed together do not retry together.
JITTER: Final = 0.25
# A 429 without `Retry-After` (FLORA sends one only sometimes): FLORA's own sample waits 5 s, and its
# limits are per workspace, so a quicker retry would only be refused again.
RATE_LIMIT_WAIT: Final = 5.0


def is_retryable(exc: FloraError) -> bool:
    """Transport failures, timeouts, 408, 429 and 5xx; never another 4xx, nor a bad 2xx body."""
    if isinstance(exc, APIConnectionError):  # timeouts included
        return True
    if isinstance(exc, APIStatusError):
        if exc.code == "idempotency_duplicate":  # the answer about an earlier attempt, not a hiccup
            return False
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False


def backoff(retry: int) -> float:
    """The wait before retry number `retry` (1-based) when the server names none."""
    ceiling = min(MAX_WAIT, INITIAL_WAIT * 2.0 ** min(retry - 1, 30))
    return ceiling * (1 - JITTER * random.random())


def wait_before(retry: int, exc: FloraError) -> float:
    """The wait before retry number `retry` after `exc`: the server's `Retry-After` when it sent one;
    at least RATE_LIMIT_WAIT after a bare 429; else exponential backoff with jitter."""
    if isinstance(exc, APIStatusError):
        if exc.retry_after is not None:
            return exc.retry_after
        if exc.status_code == 429:
            return max(RATE_LIMIT_WAIT, backoff(retry))
    return backoff(retry)


def _reason(exc: FloraError) -> str:
    if isinstance(exc, APIStatusError):
        code = f" {exc.code}" if exc.code else ""
        return f"HTTP {exc.status_code}{code}"
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` sends, within `budget` seconds in all, waits included.

    The wait is the server's `Retry-After` when it sent one, at least 5 s after a 429 without one,
    else exponential backoff with jitter (see `wait_before`). A wait that would end past the budget
    is not started: the last error is raised at once.
    """

    max_attempts: int = 4
    budget: float = 60.0
    sleep: Sleep = anyio.sleep
    clock: Clock = time.monotonic

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (1 means no retries)")
        if self.budget < 0:
            raise ValueError("retry_budget must not be negative")

    async def run(self, attempt: Callable[[], Awaitable[T]], *, method: str, path: str) -> T:
        """`attempt()` until it succeeds, fails for good, or the attempts or the budget run out."""
        started = self.clock()
        number = 1
        while True:
            try:
                return await attempt()
            except FloraError as exc:
                exc.attempts = number
                if not is_retryable(exc):
                    raise
                elapsed = self.clock() - started
                spent = f"{number} attempt{'s' if number > 1 else ''} in {elapsed:.1f} s"
                if number >= self.max_attempts:
                    if number > 1:  # one allowed attempt is not "giving up"
                        exc.gave_up = f"gave up after {spent}"
                    raise
                wait = wait_before(number, exc)
                if elapsed + wait > self.budget:
                    exc.gave_up = (
                        f"gave up after {spent}: waiting {wait:.1f} s more would pass "
                        f"the {self.budget:g} s retry budget"
                    )
                    raise
                number += 1
                logger.info(
                    "Retrying %s %s (attempt %d of %d) in %.2f s after %s",
                    method,
                    path,
                    number,
                    self.max_attempts,
                    wait,
                    _reason(exc),
                )
                await self.sleep(wait)
