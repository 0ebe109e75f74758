"""Fakes shared by the client's tests."""

from __future__ import annotations


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now
