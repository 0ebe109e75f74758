"""FLORA's clock as seen from here, measured from the `Date` header of its answers.

A lost answer is matched to its run by creation time (`created_at`, FLORA's clock, epoch ms), so our
own clock must be translated into FLORA's, whatever the skew between the two machines. Each answer
bounds the offset: its `Date` (whole seconds) was FLORA's time at some instant between sending and
receiving, so `offset` lies in `[date - received, date + 1 - sent]`. The tightest bounds seen are
kept, as NTP's minimum filter does; an observation that contradicts them (a clock stepped on either
side) starts the bounds afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

FALLBACK_SKEW_SECONDS = 120.0
"""How far apart the clocks are assumed to be before FLORA has answered anything."""


@dataclass
class FloraClock:
    low: float = -FALLBACK_SKEW_SECONDS
    high: float = FALLBACK_SKEW_SECONDS
    measured: bool = False

    def observe(self, date_header: str | None, sent: float, received: float) -> None:
        """Narrow the offset with one answer's `Date`, sent and received at our `time.time()`."""
        if not date_header:
            return
        try:
            date = parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        low, high = date - received, date + 1.0 - sent
        if self.measured and low <= self.high and high >= self.low:
            self.low, self.high = max(self.low, low), min(self.high, high)
        else:
            self.low, self.high, self.measured = low, high, True

    def flora_range(self, local: float) -> tuple[float, float]:
        """The earliest and latest FLORA time (epoch seconds) it can be when it is `local` here."""
        return local + self.low, local + self.high

    def now_range(self) -> tuple[float, float]:
        return self.flora_range(time.time())
