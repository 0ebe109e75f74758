"""Consent on `create_generation` (issue 16, item 1): a dear single run asks the user first, in both
protocol eras, exactly as `generate` does; declining starts nothing; a client that cannot ask gets
the estimate and nothing starts until `confirm_spend_usd` covers it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import ElicitResult

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from tests.conftest import call_ok, error_text
from tests.server.test_consent import ERAS, User, runs_of, settings_for

pytestmark = pytest.mark.anyio

DEAR = "t2v-veo-3"  # about $3 a run, above the default $1 threshold


async def _place(client: Client) -> dict[str, str]:
    workspaces = (await call_ok(client, "list_workspaces"))["workspaces"]
    workspace_id = workspaces[0]["workspace_id"]
    project = await call_ok(client, "create_project", {"workspace_id": workspace_id, "name": "consent"})
    return {"workspace_id": workspace_id, "project_id": project["project_id"]}


def _dear(place: dict[str, str]) -> dict[str, Any]:
    return {"type": "video", "prompt": "a lighthouse beam sweeping fog", "model": DEAR, **place}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_dear_create_generation_asks_and_a_decline_starts_nothing(
    sandbox: RunningSandbox, mode: str
) -> None:
    user = User(ElicitResult(action="decline"))
    settings = settings_for(sandbox, confirm_above=1.0)
    async with Client(build_server(settings), mode=mode, elicitation_callback=user) as client:
        arguments = _dear(await _place(client))
        result = await client.call_tool("create_generation", arguments)
        assert result.is_error and "the user did not agree" in error_text(result)
        assert runs_of(sandbox, settings) == 0
        user.answer = ElicitResult(action="accept", content={"start": True})
        started = await call_ok(client, "create_generation", arguments)
    assert [("1 video of t2v-veo-3" in q and "Start?" in q) for q in user.asked] == [True, True]
    assert started["run_id"].startswith("run_") and runs_of(sandbox, settings) == 1


async def test_create_generation_for_a_client_that_cannot_ask_names_the_total_and_waits_for_confirmation(
    sandbox: RunningSandbox,
) -> None:
    settings = settings_for(sandbox, confirm_above=1.0)
    async with Client(build_server(settings)) as client:
        arguments = _dear(await _place(client))
        refused = await client.call_tool("create_generation", arguments)
        assert refused.is_error and "confirm_spend_usd=" in error_text(refused)
        found = re.search(r"confirm_spend_usd=(\d+\.\d\d)", error_text(refused))
        assert found is not None
        total = float(found.group(1))
        assert total > 1.0 and runs_of(sandbox, settings) == 0
        short = await client.call_tool("create_generation", {**arguments, "confirm_spend_usd": total - 0.5})
        assert short.is_error and runs_of(sandbox, settings) == 0
        started = await call_ok(client, "create_generation", {**arguments, "confirm_spend_usd": total})
    assert started["run_id"].startswith("run_") and runs_of(sandbox, settings) == 1


async def test_a_cheap_create_generation_starts_without_asking(sandbox: RunningSandbox) -> None:
    user = User(ElicitResult(action="decline"))
    settings = settings_for(sandbox, confirm_above=1.0)
    async with Client(build_server(settings), elicitation_callback=user) as client:
        arguments = {"type": "image", "prompt": "a mug", "model": "t2i-seedream-4", **await _place(client)}
        await call_ok(client, "create_generation", arguments)
    assert user.asked == [] and runs_of(sandbox, settings) == 1


async def test_bad_arguments_are_refused_before_the_user_is_asked(sandbox: RunningSandbox) -> None:
    user = User(ElicitResult(action="accept", content={"start": True}))
    settings = settings_for(sandbox, confirm_above=0.0)
    async with Client(build_server(settings), elicitation_callback=user) as client:
        place = await _place(client)
        result = await client.call_tool("create_generation", {**_dear(place), "model": "t2v-nope"})
    assert result.is_error and "t2v-nope" in error_text(result)
    assert user.asked == [] and runs_of(sandbox, settings) == 0
