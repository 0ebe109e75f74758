"""What a host sees before calling anything: names, titles, schemas, annotations, instructions."""

from __future__ import annotations

import pytest
from mcp.client import Client, advertise
from mcp.types import ImageContent, ResourceLink, TextContent
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import TOOL_NAMES, start_run, wait_for_run

pytestmark = pytest.mark.anyio


async def test_every_tool_has_title_description_schemas_and_annotations(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == TOOL_NAMES
    for tool in tools.values():
        assert tool.title and tool.description, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is not False  # unset means true: FLORA is outside


async def test_annotations_are_honest_about_spending_and_reading(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for name in ("create_generation", "generate"):
        spend = tools[name].annotations
        assert spend is not None
        assert spend.read_only_hint is False and spend.idempotent_hint is False
        assert spend.destructive_hint is False  # it adds runs; it changes nothing that exists
    for name in (
        "list_workspaces",
        "list_projects",
        "list_models",
        "get_generation_status",
        "list_generations",
    ):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True, name


async def test_argument_and_result_names_follow_the_api(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    create = tools["create_generation"].input_schema
    assert set(create["required"]) == {"type", "prompt", "workspace_id", "project_id"}
    assert create["properties"]["type"]["enum"] == ["image", "video", "audio", "text"]
    assert {"model", "params"} <= set(create["properties"])
    status = tools["get_generation_status"].output_schema
    assert status is not None
    assert {"run_id", "status", "progress", "outputs"} <= set(status["properties"])


async def test_instructions_state_the_four_steps(mcp: Client) -> None:
    text = mcp.instructions
    assert text is not None
    for step in ("list_workspaces", "list_models", "create_generation", "get_generation_status"):
        assert step in text


async def test_result_tools_declare_the_gallery_view_and_it_is_served(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for name in ("get_generation_status", "generate"):
        assert tools[name].meta == {"ui": {"resourceUri": "ui://flora/gallery.html"}}
    [content] = (await mcp.read_resource("ui://flora/gallery.html")).contents
    assert content.mime_type == "text/html;profile=mcp-app"
    assert content.meta is not None
    csp = content.meta["ui"]["csp"]
    assert "https://*.flora.ai" in csp["resourceDomains"]


async def test_hosts_with_and_without_mcp_apps_get_the_same_result(
    sandbox: RunningSandbox, api_key: str
) -> None:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    async with (
        Client(build_server(settings)) as plain,
        Client(build_server(settings), extensions=[apps]) as rich,
    ):
        run_id = await start_run(plain, "image", "a mug")
        done = await wait_for_run(plain, run_id)
        again = await rich.call_tool("get_generation_status", {"run_id": run_id})
    assert again.structured_content == done.structured_content
    assert [type(b) for b in again.content] == [type(b) for b in done.content]
    kinds = {type(b) for b in done.content}
    assert {TextContent, ResourceLink, ImageContent} <= kinds
