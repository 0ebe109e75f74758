"""What a host sees before calling anything: names, titles, schemas, annotations, instructions."""

from __future__ import annotations

import pytest
from mcp.client import Client

pytestmark = pytest.mark.anyio

TOOLS = {
    "list_workspaces",
    "list_projects",
    "create_project",
    "list_models",
    "create_generation",
    "get_generation_status",
    "list_generations",
    "generate",
}


async def test_every_tool_has_title_description_schemas_and_annotations(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) >= TOOLS
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
