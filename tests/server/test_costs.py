"""One cost story through MCP: what runs cost in one call, a USD estimate per model with its basis,
and start answers that say the quote is not the bill."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from mcp.client import Client
from mcp.types import TextContent
from pydantic import SecretStr

from flora_mcp.sandbox import start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import (
    TEST_SPEED,
    call_ok,
    error_text,
    wait_for_run,
    wait_for_settled_cost,
    workspace_and_project,
)

pytestmark = pytest.mark.anyio


async def _start(
    mcp: Client, type_: str, prompt: str, workspace_id: str, project_id: str
) -> dict[str, object]:
    return await call_ok(
        mcp,
        "create_generation",
        {"type": type_, "prompt": prompt, "workspace_id": workspace_id, "project_id": project_id},
    )


async def test_cost_summary_equals_the_sum_of_settled_costs_by_project_type_and_model(mcp: Client) -> None:
    workspace_id, first = await workspace_and_project(mcp, "Mugs")
    _, second = await workspace_and_project(mcp, "Posters")
    started = [
        await _start(mcp, "image", "a ceramic mug", workspace_id, first),
        await _start(mcp, "image", "a blue mug", workspace_id, first),
        await _start(mcp, "audio", "a short jingle", workspace_id, second),
    ]
    settled = [await wait_for_settled_cost(mcp, str(s["run_id"])) for s in started]
    bills = [s["cost_usd"] for s in settled]

    result = await mcp.call_tool("list_generations", {"cost_period": "today", "workspace_id": workspace_id})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    costs = result.structured_content["costs"]

    assert costs["settled_usd"] == pytest.approx(math.fsum(bills))
    assert costs["settled_runs"] == 3
    assert costs["unsettled_runs"] == 0
    assert costs["by_project"][first]["settled_usd"] == pytest.approx(bills[0] + bills[1])
    assert costs["by_project"][second]["runs"] == 1
    assert costs["by_type"]["image"]["runs"] == 2
    assert costs["by_type"]["audio"]["settled_usd"] == pytest.approx(bills[2])
    assert sum(g["runs"] for g in costs["by_model"].values()) == 3
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    assert f"${math.fsum(bills):.2f} settled" in text
    assert "By project:" in text and "By model:" in text


@pytest.fixture
async def slow_bills(api_key: str) -> AsyncIterator[Client]:
    """A server on a sandbox whose bills settle long after the runs end, as FLORA's sometimes do."""
    running = start_sandbox(speed=TEST_SPEED, settle_seconds=600)
    try:
        async with Client(
            build_server(Settings(api_key=SecretStr(api_key), base_url=running.base_url))
        ) as client:
            yield client
    finally:
        running.stop()


async def test_runs_not_settled_yet_are_counted_apart_never_as_zero(slow_bills: Client) -> None:
    workspace_id, project_id = await workspace_and_project(slow_bills)
    started = await _start(slow_bills, "image", "a mug at dawn", workspace_id, project_id)
    await wait_for_run(slow_bills, str(started["run_id"]))  # ended, not yet billed

    arguments = {"cost_period": "7d", "project_id": project_id}
    costs = (await call_ok(slow_bills, "list_generations", arguments))["costs"]

    assert costs["unsettled_runs"] == 1
    assert costs["settled_runs"] == 0 and costs["settled_usd"] == 0
    assert costs["unsettled_run_ids"] == [started["run_id"]]
    assert costs["unsettled_quoted_usd"] == started["quoted_cost_usd"]


async def test_a_period_that_is_not_one_is_refused_with_the_accepted_forms(mcp: Client) -> None:
    result = await mcp.call_tool("list_generations", {"cost_period": "last tuesday"})

    assert result.is_error
    assert "7d" in error_text(result) and "2026-12-01" in error_text(result)


async def test_list_models_gives_usd_per_run_from_credits_then_from_settled_runs(mcp: Client) -> None:
    listed = await call_ok(mcp, "list_models", {"type": "audio"})
    assert "price_note" in listed and "0.0025" in listed["price_note"]
    assert all(row["usd_basis"] == "credits" for row in listed["models"])
    row = listed["models"][0]
    assert row["usd"] == pytest.approx(row["credits"] * 0.0025)

    workspace_id, project_id = await workspace_and_project(mcp)
    started = await call_ok(
        mcp,
        "create_generation",
        {
            "type": "audio",
            "prompt": "a jingle",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": row["model_id"],
        },
    )
    assert "settles" in started["cost_note"]
    bill = (await wait_for_settled_cost(mcp, started["run_id"]))["cost_usd"]

    [learned] = (await call_ok(mcp, "list_models", {"type": "audio", "model_id": row["model_id"]}))["models"]
    assert learned["usd_basis"] == "1 settled"
    assert learned["usd"] == pytest.approx(bill, abs=1e-4)
