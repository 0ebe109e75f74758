"""The sandbox's own tests: one emulator per module, a client with a key of its own per test, and
the contract served from that emulator (modules with other needs, a seed or another client,
define their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
import yaml
from openapi_core import OpenAPI

from flora_mcp.sandbox import RunningSandbox, start_sandbox
from tests.openapi_check import CONTRACT
from tests.sandbox.surface_helpers import SPEED, client


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=SPEED) as running:
        yield running


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with client(emulator) as http:
        yield http


@pytest.fixture(scope="module")
def openapi(emulator: RunningSandbox) -> OpenAPI:
    spec = yaml.safe_load(CONTRACT.read_text())
    spec["servers"] = [{"url": emulator.base_url}]  # the same paths, served from loopback
    return OpenAPI.from_dict(spec)
