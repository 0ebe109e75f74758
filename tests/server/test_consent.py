"""Spending the user agrees to: a batch estimated above `confirm_above` asks the user once (in both
protocol eras), starts nothing unless they agree, and tells a client that cannot ask the total."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, ErrorData
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import call_ok, error_text

pytestmark = pytest.mark.anyio

THRESHOLD = 0.05
# Two images at 12 credits ($0.03 each, the sandbox's rate) and a video of the workspace default,
# estimated at the cheapest text-to-video model (t2v-seedance-1-lite, 72 credits): $0.24 in all.
ITEMS: list[dict[str, Any]] = [
    {"type": "image", "prompt": "a lighthouse at noon", "model": "t2i-seedream-4"},
    {"type": "image", "prompt": "a lighthouse at night", "model": "t2i-seedream-4"},
    {"type": "video", "prompt": "a lighthouse beam sweeping fog"},
]
TOTAL = "$0.24"
ERAS = ["legacy", "auto"]  # 2025-era live elicitation/create, and 2026-07-28 InputRequiredResult


class User:
    """A test client's user: answers every question the same way and remembers what was asked."""

    def __init__(self, answer: ElicitResult) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        self.asked.append(params.message)
        return self.answer


def settings_for(sandbox: RunningSandbox, confirm_above: float = THRESHOLD) -> Settings:
    key = SecretStr(f"consent-{uuid.uuid4().hex}")
    return Settings(api_key=key, base_url=sandbox.base_url, confirm_above=confirm_above)


def runs_of(sandbox: RunningSandbox, settings: Settings) -> int:
    assert settings.api_key is not None
    workspace = sandbox.state.workspace_for(settings.api_key.get_secret_value())
    return len(sandbox.state.runs_in(workspace.workspace_id))


@pytest.fixture
async def plain(sandbox: RunningSandbox) -> AsyncIterator[tuple[Client, Settings]]:
    """A client that declares no elicitation."""
    settings = settings_for(sandbox)
    async with Client(build_server(settings)) as client:
        yield client, settings


@pytest.mark.parametrize("mode", ERAS)
async def test_accepting_the_question_asked_once_with_the_total_starts_every_item(
    sandbox: RunningSandbox, mode: str
) -> None:
    user = User(ElicitResult(action="accept", content={"start": True}))
    settings = settings_for(sandbox)
    async with Client(build_server(settings), mode=mode, elicitation_callback=user) as client:
        data = await call_ok(client, "generate_batch", {"items": ITEMS})
    [question] = user.asked
    assert TOTAL in question and "2 images of t2i-seedream-4" in question
    assert "1 video of the workspace's default model (estimated as t2v-seedance-1-lite)" in question
    assert [i["ok"] for i in data["items"]] == [True, True, True]
    assert data["estimated_cost_usd"] == 0.24
    assert runs_of(sandbox, settings) == 3


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(
    "answer",
    [
        ElicitResult(action="decline"),
        ElicitResult(action="cancel"),
        ElicitResult(action="accept", content={"start": False}),
    ],
    ids=["decline", "cancel", "unticked"],
)
async def test_a_user_who_does_not_agree_starts_nothing(
    sandbox: RunningSandbox, mode: str, answer: ElicitResult
) -> None:
    user = User(answer)
    settings = settings_for(sandbox)
    async with Client(build_server(settings), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("generate_batch", {"items": ITEMS})
    assert len(user.asked) == 1
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None and result.structured_content["started"] is False
    assert "Nothing started: the user did not agree" in error_text(result)
    assert runs_of(sandbox, settings) == 0


async def test_a_client_that_cannot_ask_gets_the_total_and_nothing_starts_until_it_confirms(
    plain: tuple[Client, Settings], sandbox: RunningSandbox
) -> None:
    client, settings = plain
    refused = await call_ok(client, "generate_batch", {"items": ITEMS})
    assert refused["started"] is False and refused["estimated_cost_usd"] == 0.24
    assert "2 images of t2i-seedream-4" in refused["buys"]
    assert f"confirm_spend_usd={TOTAL[1:]}" in refused["notes"][0]
    assert runs_of(sandbox, settings) == 0

    too_little = await call_ok(client, "generate_batch", {"items": ITEMS, "confirm_spend_usd": 0.2})
    assert too_little["started"] is False
    assert runs_of(sandbox, settings) == 0

    confirmed = await call_ok(client, "generate_batch", {"items": ITEMS, "confirm_spend_usd": 0.24})
    assert [i["ok"] for i in confirmed["items"]] == [True, True, True]
    assert runs_of(sandbox, settings) == 3


async def test_a_batch_under_the_threshold_starts_without_asking(sandbox: RunningSandbox) -> None:
    user = User(ElicitResult(action="decline"))
    settings = settings_for(sandbox, confirm_above=1.0)
    async with Client(build_server(settings), elicitation_callback=user) as client:
        data = await call_ok(client, "generate_batch", {"items": ITEMS})
    assert user.asked == []
    assert "started" not in data and runs_of(sandbox, settings) == 3


async def test_a_refused_item_is_not_counted_in_the_total(plain: tuple[Client, Settings]) -> None:
    client, _ = plain
    items = [*ITEMS, {"type": "video", "prompt": "x", "model": "t2v-veo-3", "params": {"colour": "red"}}]
    data = await call_ok(client, "generate_batch", {"items": items})
    assert data["estimated_cost_usd"] == 0.24
    assert data["items"][3]["ok"] is False and "colour" in data["items"][3]["error"]


@pytest.mark.parametrize("mode", ERAS)
async def test_generate_over_the_threshold_asks_too_and_a_decline_starts_nothing(
    sandbox: RunningSandbox, mode: str
) -> None:
    user = User(ElicitResult(action="decline"))
    settings = settings_for(sandbox)
    arguments = {"prompt": "a lighthouse", "model": "t2i-seedream-4", "count": 2}
    async with Client(build_server(settings), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("generate", arguments)
        assert result.is_error and "the user did not agree" in error_text(result)
        assert runs_of(sandbox, settings) == 0
        user.answer = ElicitResult(action="accept", content={"start": True})
        data = await call_ok(client, "generate", arguments)
    assert [("$0.06" in q and "2 images of t2i-seedream-4" in q) for q in user.asked] == [True, True]
    assert len(data["runs"]) == 2 and runs_of(sandbox, settings) == 2


async def test_generate_for_a_client_that_cannot_ask_names_the_total_and_waits_for_confirmation(
    plain: tuple[Client, Settings], sandbox: RunningSandbox
) -> None:
    client, settings = plain
    arguments: dict[str, Any] = {"prompt": "a lighthouse", "model": "t2i-seedream-4", "count": 2}
    result = await client.call_tool("generate", arguments)
    assert result.is_error and "confirm_spend_usd=0.06" in error_text(result)
    assert runs_of(sandbox, settings) == 0
    data = await call_ok(client, "generate", {**arguments, "confirm_spend_usd": 0.06})
    assert len(data["runs"]) == 2 and runs_of(sandbox, settings) == 2


async def test_a_technique_above_the_threshold_asks_with_its_run_cost_and_a_decline_starts_nothing(
    sandbox: RunningSandbox,
) -> None:
    settings = settings_for(sandbox, confirm_above=0.10)  # the product-shot technique costs $0.12
    async with Client(build_server(settings)) as plain_client:
        image = await call_ok(plain_client, "generate", {"prompt": "a ceramic mug"})
    mug = image["runs"][0]["outputs"][0]["url"]
    arguments = {"technique_id": "tech_product-shot", "inputs": {"product": mug}}
    user = User(ElicitResult(action="decline"))
    async with Client(build_server(settings), elicitation_callback=user) as client:
        jobs_before = len(sandbox.state.jobs)
        result = await client.call_tool("run_technique", arguments)
    [question] = user.asked
    assert "$0.12" in question and "technique run of tech_product-shot" in question
    assert result.is_error and "did not agree" in error_text(result)
    assert len(sandbox.state.jobs) == jobs_before
