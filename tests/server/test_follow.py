"""The one path from started runs to an answer (`_follow`), as every tool that returns runs takes it:
a paid run is never lost when its status cannot be read, every run's end reaches the journal (a
technique's too), and each start shows FLORA's quote next to the same estimate the consent used."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.server._state import AppState
from flora_mcp.settings import Settings
from flora_mcp.store import JournalEntry, account_digest
from tests.conftest import TEST_SPEED, call_ok, error_text
from tests.server.test_techniques import earlier_image

pytestmark = pytest.mark.anyio

UNREADABLE = [FaultRule.parse("GET /generations 403"), FaultRule.parse("GET /runs/* 403")]


@pytest.fixture
def own_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=TEST_SPEED, seed=21) as running:
        yield running


@asynccontextmanager
async def serving(sandbox: RunningSandbox, journal: Path) -> AsyncIterator[tuple[Client, AppState]]:
    settings = Settings(
        api_key=SecretStr(f"follow-{uuid.uuid4().hex}"), base_url=sandbox.base_url, journal=str(journal)
    )
    state = AppState(settings)
    async with Client(build_server(settings, state)) as client:
        yield client, state


async def journal_of(state: AppState, run_ids: list[str]) -> dict[str, JournalEntry]:
    key = state.settings.api_key
    assert key is not None
    return (await state.store()).get(account_digest(key.get_secret_value()), run_ids)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("generate", {"prompt": "a mug", "count": 2}),
        (
            "generate_batch",
            {"items": [{"type": "image", "prompt": "a mug"}, {"type": "text", "prompt": "hi"}]},
        ),
    ],
)
async def test_runs_whose_status_cannot_be_read_are_still_named_in_a_result(
    own_sandbox: RunningSandbox, tmp_path: Path, tool: str, arguments: dict[str, Any]
) -> None:
    async with serving(own_sandbox, tmp_path / "runs.sqlite3") as (mcp, _):
        await call_ok(mcp, "list_workspaces")  # set-up, not under faults
        for rule in UNREADABLE:
            own_sandbox.state.faults.add(rule)
        result = await mcp.call_tool(tool, arguments)
        own_sandbox.state.faults.clear()

    assert not result.is_error, error_text(result)
    data = result.structured_content
    assert data is not None
    started = set(own_sandbox.state.runs)
    assert len(started) == 2 and {run["run_id"] for run in data["runs"]} == started
    assert {run["status"] for run in data["runs"]} == {"unknown"}
    [note] = [n for n in data["notes"] if "could not read their status" in n]
    assert all(run_id in note for run_id in started) and "get_generation_status" in note
    assert all(run_id in error_text(result) for run_id in started)  # in the text a host shows too


async def test_a_technique_runs_end_and_cost_reach_the_journal(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with serving(sandbox, tmp_path / "runs.sqlite3") as (mcp, state):
        mug = (await earlier_image(mcp))["runs"][0]["outputs"][0]["url"]
        ran = await call_ok(
            mcp, "run_technique", {"technique_id": "tech_product-shot", "inputs": {"product": mug}}
        )
        [run] = ran["runs"]
        entry = (await journal_of(state, [run["run_id"]]))[run["run_id"]]

    assert run["status"] == "completed" and entry.status == "completed"
    assert entry.kind == "technique" and len(entry.outputs) == len(run["outputs"]) == 3
    assert ran["estimated_cost_usd"] == 0.12 and ran["estimate_basis"] == "FLORA's listed price"


async def test_a_start_shows_the_quote_next_to_the_estimate_the_consent_used(mcp: Client) -> None:
    models = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
    model = min((m for m in models if m["model_id"].startswith("t2i-")), key=lambda m: m["usd"])
    made = await call_ok(mcp, "generate", {"prompt": "a mug", "count": 2, "model": model["model_id"]})
    workspace_id, project_id = made["workspace_id"], made["project_id"]
    one = await call_ok(
        mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "a mug",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": model["model_id"],
        },
    )

    # list_models' price, as the consent sums it: rounded up to the cent
    assert made["estimated_cost_usd"] == math.ceil(round(2 * model["usd"] * 100, 6)) / 100
    assert one["estimated_cost_usd"] == math.ceil(round(model["usd"] * 100, 6)) / 100
    assert one["quoted_cost_usd"] is not None and made["quoted_cost_usd"] is not None
    for answer in (made, one):
        assert "not the bill" in answer["cost_note"] and answer["estimate_basis"]
