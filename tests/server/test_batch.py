"""`generate_batch`: mixed items checked one by one, each valid one started exactly once (even when
FLORA's answers are lost), followed together, and answered in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import ImageContent
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import TEST_SPEED, call_ok, error_text

pytestmark = pytest.mark.anyio

MIXED: list[dict[str, Any]] = [
    {"type": "image", "prompt": "a red apple on slate", "model": "t2i-flux-schnell"},
    {
        "type": "image",
        "prompt": "a green pear on linen",
        "model": "t2i-seedream-4",
        "params": {"aspect_ratio": "4:3"},
    },
    {"type": "video", "prompt": "waves at dusk"},
    {"type": "t2i", "prompt": "a plum"},  # a model family, not a type: refused
    {"type": "text", "prompt": "a haiku about tea"},
    {"type": "image", "prompt": "a blue plum in a bowl", "model": "t2i-flux-schnell"},
]
STARTED = [0, 1, 2, 4, 5]


def check_answer(data: dict[str, Any], sandbox: RunningSandbox) -> None:
    """Every item in order; the valid ones started once each, on the run with their own prompt."""
    items = data["items"]
    assert [i["index"] for i in items] == list(range(len(MIXED)))
    assert [i["ok"] for i in items] == [i in STARTED for i in range(len(MIXED))]
    assert "'t2i'" in items[3]["error"] and "model family" in items[3]["error"]
    run_ids = [items[i]["run_id"] for i in STARTED]
    assert len(set(run_ids)) == len(STARTED)
    workspace_runs = sandbox.state.runs_in(data["workspace_id"])
    assert sorted(r.run_id for r in workspace_runs) == sorted(run_ids)
    for index in STARTED:
        run = sandbox.state.runs[items[index]["run_id"]]
        assert (run.prompt, run.type) == (MIXED[index]["prompt"], MIXED[index]["type"])


async def test_a_mixed_batch_answers_every_item_in_order_with_five_runs_and_one_clear_refusal(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    result = await mcp.call_tool("generate_batch", {"items": MIXED})
    assert not result.is_error, error_text(result)
    data = result.structured_content
    assert data is not None
    check_answer(data, sandbox)
    items = data["items"]
    assert [items[i]["model"] for i in (0, 1, 5)] == [
        "t2i-flux-schnell",
        "t2i-seedream-4",
        "t2i-flux-schnell",
    ]
    assert [r["index"] for r in data["runs"]] == STARTED
    assert all(r["status"] == "completed" for r in data["runs"])
    assert [r["prompt"] for r in data["runs"]] == [MIXED[i]["prompt"] for i in STARTED]
    quotes = [items[i]["quoted_cost_usd"] for i in STARTED]
    assert data["quoted_cost_usd"] == pytest.approx(sum(quotes))
    assert 0 < data["estimated_cost_usd"] <= 1.0  # under the default threshold: nobody was asked
    assert len([b for b in result.content if isinstance(b, ImageContent)]) == 4  # 3 images, 1 video poster
    assert "Item 3 refused" in error_text(result)


async def test_generate_batch_is_shown_in_the_gallery(mcp: Client) -> None:
    [tool] = [t for t in (await mcp.list_tools()).tools if t.name == "generate_batch"]
    assert tool.meta is not None and tool.meta["ui"]["resourceUri"].startswith("ui://")
    assert tool.annotations is not None and tool.annotations.read_only_hint is False


async def test_a_batch_whose_items_all_fail_their_checks_starts_nothing_and_says_why_for_each(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    before = sandbox.state.runs_started()
    items = [
        {"type": "image", "prompt": "x", "model": "t2i-flux-schnell", "params": {"aspect_ratio": "4:3"}},
        {"type": "image", "prompt": "   "},
    ]
    result = await mcp.call_tool("generate_batch", {"items": items})
    assert result.is_error
    text = error_text(result)
    assert "Item 0 refused" in text and "Accepted params: image_size" in text
    assert "Item 1 refused" in text and "prompt is empty" in text
    assert sandbox.state.runs_started() == before


@pytest.fixture
def dropping_sandbox() -> Iterator[RunningSandbox]:
    """FLORA's measured idempotency (a repeated key gets 409 without the first answer), and the
    first answer of every start lost after the run was made."""
    with start_sandbox(speed=TEST_SPEED, seed=7, idempotency="conflict") as running:
        yield running


async def test_exactly_five_runs_exist_when_the_first_answer_of_every_start_is_lost(
    dropping_sandbox: RunningSandbox,
) -> None:
    settings = Settings(api_key=SecretStr(f"batch-{uuid.uuid4().hex}"), base_url=dropping_sandbox.base_url)
    async with Client(build_server(settings)) as mcp:
        await call_ok(mcp, "list_workspaces")  # set-up, not under faults
        dropping_sandbox.state.faults.add(FaultRule.parse("POST /generate drop first"))
        data = await call_ok(mcp, "generate_batch", {"items": MIXED})
    check_answer(data, dropping_sandbox)
    dropped = [r for r in dropping_sandbox.state.requests if r.dropped]
    assert len(dropped) == len(STARTED)


async def test_a_batch_none_of_whose_starts_succeed_is_an_error_naming_each_reason() -> None:
    with start_sandbox(speed=TEST_SPEED, faults=[FaultRule.parse("POST /generate 402")]) as running:
        settings = Settings(api_key=SecretStr(f"batch-{uuid.uuid4().hex}"), base_url=running.base_url)
        async with Client(build_server(settings)) as mcp:
            result = await mcp.call_tool("generate_batch", {"items": MIXED[:2]})
    assert result.is_error
    text = error_text(result)
    assert "No item started" in text and text.index("Item 0:") < text.index("Item 1:")
    assert text.count("Add credits") == 2
    assert running.state.runs_started() == 0
