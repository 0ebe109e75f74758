"""Prompts for FLORA's workflows (issue 16, item 6): at least four, with arguments, in both protocol
eras; an unknown prompt or a missing argument is the spec's -32602 naming what exists."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import call_ok

pytestmark = pytest.mark.anyio

PROMPTS = {"product_shots", "variations", "social_formats", "campaign_batch"}
INVALID_PARAMS = -32602


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_four_workflow_prompts_are_listed_with_their_arguments(
    sandbox: RunningSandbox, api_key: str, mode: str
) -> None:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    async with Client(build_server(settings), mode=mode) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(listed) >= PROMPTS
    for prompt in listed.values():
        assert prompt.title and prompt.description and prompt.arguments
    required = {p: [a.name for a in listed[p].arguments or [] if a.required] for p in PROMPTS}
    assert required == {
        "product_shots": ["photo"],
        "variations": ["run_id"],
        "social_formats": ["photo"],
        "campaign_batch": ["brief"],
    }
    photo = next(a for a in listed["product_shots"].arguments or [] if a.name == "photo")
    assert photo.description and "run_id" in photo.description


async def test_a_prompt_names_the_tools_and_values_to_use(mcp: Client) -> None:
    result = await mcp.get_prompt(
        "product_shots", {"photo": "/home/me/mug.jpg", "product": "a ceramic mug", "count": "3"}
    )
    [message] = result.messages
    assert message.role == "user" and isinstance(message.content, TextContent)
    text = message.content.text
    assert "upload_asset" in text and "'/home/me/mug.jpg'" in text
    assert "count=3" in text and "a ceramic mug" in text and "image_url" in text

    social = await mcp.get_prompt("social_formats", {"photo": "run_abc"})
    assert isinstance(social.messages[0].content, TextContent)
    assert "1:1, 4:5, 9:16, 16:9" in social.messages[0].content.text
    campaign = await mcp.get_prompt("campaign_batch", {"brief": "a tea shop opening", "videos": "2"})
    assert isinstance(campaign.messages[0].content, TextContent)
    assert "4 image, 2 video, 2 text" in campaign.messages[0].content.text


async def test_variations_start_from_the_prompt_the_journal_remembers(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a lighthouse at dusk", "model": "t2i-seedream-4"})
    run_id = made["runs"][0]["run_id"]
    result = await mcp.get_prompt("variations", {"run_id": run_id, "change": "in snow"})
    content = result.messages[0].content
    assert isinstance(content, TextContent)
    assert "'a lighthouse at dusk' on t2i-seedream-4" in content.text and "in snow" in content.text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_an_unknown_prompt_is_invalid_params_naming_the_prompts(
    sandbox: RunningSandbox, api_key: str, mode: str
) -> None:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    async with Client(build_server(settings), mode=mode) as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("product_shot", {})
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("variations", {})
    assert unknown.value.code == INVALID_PARAMS
    assert all(name in unknown.value.message for name in PROMPTS)
    assert missing.value.code == INVALID_PARAMS and "run_id" in missing.value.message
