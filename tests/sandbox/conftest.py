"""The sandbox's own tests: one emulator per module, and a client with a key of its own per test
(modules with other needs, a seed or another client, define their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox, start_sandbox
from tests.sandbox.surface_helpers import SPEED, client


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=SPEED) as running:
        yield running


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with client(emulator) as http:
        yield http
