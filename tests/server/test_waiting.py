"""get_generation_status with wait_seconds, through MCP: the server waits, reports progress, and stops
when cancelled. The waiting algorithm itself is tested in test_waiting_schedule.py (pure) and
test_waiting_reads.py (reads against the sandbox)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from mcp.client import Client
from mcp.types import ImageContent
from pydantic import SecretStr

from flora_mcp.client import FloraClient, GenerationRequest
from flora_mcp.sandbox import RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.server.waiting import POLL_SCHEDULE
from flora_mcp.settings import Settings
from tests.conftest import call_ok, error_text, start_run, workspace_and_project

pytestmark = pytest.mark.anyio

SLOW_SPEED = 0.2  # the video model's 60 s estimate becomes a 12 s run: longer than any wait here


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=SLOW_SPEED) as running:
        running.state.duration_factors = (1.0, 1.0)  # every run takes its estimate: none ends early
        yield running


@pytest.fixture
async def slow_mcp(slow_sandbox: RunningSandbox, api_key: str) -> AsyncIterator[Client]:
    settings = Settings(api_key=SecretStr(api_key), base_url=slow_sandbox.base_url)
    async with Client(build_server(settings)) as client:
        yield client


def status_reads(sandbox: RunningSandbox, api_key: str) -> int:
    """Reads of run status by this key: one run (GET /runs/{id}) or a project's (GET /generations)."""
    return sum(
        1
        for r in sandbox.state.requests
        if r.api_key == api_key
        and r.method == "GET"
        and ("/runs/" in r.path or r.path.endswith("/generations"))
    )


async def test_wait_returns_the_completed_run_with_inline_image_and_progress(
    mcp: Client, sandbox: RunningSandbox, api_key: str
) -> None:
    run_id = await start_run(mcp, "image", "a mug")
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    result = await mcp.call_tool(
        "get_generation_status",
        {"run_id": run_id, "wait_seconds": 20},
        progress_callback=on_progress,
    )
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert [b for b in result.content if isinstance(b, ImageContent)]
    assert updates, "no progress notifications"
    values = [progress for progress, _, _ in updates]
    assert values == sorted(set(values)), "progress must only grow"
    assert updates[-1][:2] == (100, 100)
    assert all(message for _, _, message in updates)
    # This server started the run, so it knows the estimate: it reads on a schedule, not in a loop.
    assert status_reads(sandbox, api_key) <= 2


async def test_without_a_progress_token_the_wait_still_answers(mcp: Client) -> None:
    run_id = await start_run(mcp, "text", "a haiku")
    run = await call_ok(mcp, "get_generation_status", {"run_id": run_id, "wait_seconds": 20})
    assert run["status"] == "completed"


async def test_wait_shorter_than_the_run_returns_its_status_and_says_to_call_again(
    slow_mcp: Client,
) -> None:
    run_id = await start_run(slow_mcp, "video", "waves")
    began = time.monotonic()
    result = await slow_mcp.call_tool("get_generation_status", {"run_id": run_id, "wait_seconds": 1})
    assert time.monotonic() - began < 5
    assert result.structured_content is not None
    assert result.structured_content["status"] in ("pending", "running")
    assert result.structured_content["outputs"] == []
    hint = error_text(result)
    assert "get_generation_status again" in hint and "wait_seconds" in hint


async def test_wait_seconds_out_of_range_is_refused(mcp: Client) -> None:
    result = await mcp.call_tool("get_generation_status", {"run_id": "run_x", "wait_seconds": 51})
    assert result.is_error and "50" in error_text(result)


async def test_cancelling_the_call_stops_the_polling(
    slow_mcp: Client, slow_sandbox: RunningSandbox, api_key: str
) -> None:
    # Started outside this server, so it is read from the first moment, then every 2 s.
    workspace_id, project_id = await workspace_and_project(slow_mcp)
    async with FloraClient(api_key=api_key, base_url=slow_sandbox.base_url) as flora:
        started = await flora.generate(
            GenerationRequest(type="video", prompt="waves", workspace_id=workspace_id, project_id=project_id)
        )
    run_id = started.run_id

    async with anyio.create_task_group() as group:
        group.start_soon(slow_mcp.call_tool, "get_generation_status", {"run_id": run_id, "wait_seconds": 30})
        with anyio.fail_after(10):
            # The sandbox's log is written on its own thread: nothing to await but a look at it.
            while status_reads(slow_sandbox, api_key) < 2:  # noqa: ASYNC110
                await anyio.sleep(0.02)
        group.cancel_scope.cancel()

    after_cancel = status_reads(slow_sandbox, api_key)
    # The next read was due within the 2 s gap; a settle window longer than that shows none went out.
    await anyio.sleep(1.25 * POLL_SCHEDULE.min_gap)
    assert status_reads(slow_sandbox, api_key) == after_cancel
    # The session is still usable afterwards.
    assert (await call_ok(slow_mcp, "get_generation_status", {"run_id": run_id}))["status"] in (
        "pending",
        "running",
    )
