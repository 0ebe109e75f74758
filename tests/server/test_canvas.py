"""A project's canvas through MCP: its runs as FLORA describes them, with the link to open it."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp.types import TextContent

from tests.conftest import call_ok, error_text
from tests.server.test_techniques import earlier_image

pytestmark = pytest.mark.anyio


async def test_the_canvas_read_after_runs_lists_them_with_the_projects_canvas_url(mcp: Client) -> None:
    made = await earlier_image(mcp)
    project_id, mug = made["project_id"], made["runs"][0]["outputs"][0]["url"]
    edited = await call_ok(
        mcp,
        "run_technique",
        {"technique_id": "flip-image", "inputs": {"source": mug}, "project_id": project_id},
    )
    assert edited["project_id"] == project_id
    # A technique run has no project in FLORA: it shows on the canvas of the project whose output it used.
    await call_ok(mcp, "run_technique", {"technique_id": "tech_product-shot", "inputs": {"product": mug}})

    result = await mcp.call_tool("get_canvas", {"project_id": project_id})
    assert not result.is_error, error_text(result)
    canvas = result.structured_content
    assert canvas is not None
    assert canvas["project_id"] == project_id and project_id in canvas["canvas_url"]
    assert canvas["summary"]["node_count"] == 3 and canvas["summary"]["edge_count"] == 2
    for label in ("a ceramic mug", "Flip Image", "Product Shot"):
        assert label in canvas["diagram"]
    [shown, *_] = [b.text for b in result.content if isinstance(b, TextContent)]
    assert canvas["canvas_url"] in shown and "```mermaid\ngraph LR" in shown


async def test_a_new_projects_canvas_is_empty_but_openable(mcp: Client) -> None:
    workspace_id = (await call_ok(mcp, "list_workspaces"))["workspaces"][0]["workspace_id"]
    project = await call_ok(mcp, "create_project", {"workspace_id": workspace_id, "name": "Empty"})
    canvas = await call_ok(mcp, "get_canvas", {"project_id": project["project_id"]})
    assert canvas["summary"]["node_count"] == 0 and canvas["canvas_url"].startswith("http")


@pytest.mark.parametrize(
    ("project_id", "named"), [("prj_missing", "list_projects"), ("abc", "must start with 'prj_'")]
)
async def test_a_canvas_of_no_project_is_refused_clearly(mcp: Client, project_id: str, named: str) -> None:
    result = await mcp.call_tool("get_canvas", {"project_id": project_id})
    assert result.is_error and named in error_text(result)


async def test_a_generation_result_links_to_its_projects_canvas(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug"})
    canvas = await call_ok(mcp, "get_canvas", {"project_id": made["project_id"]})
    assert made["canvas_url"] == canvas["canvas_url"] and made["project_id"] in made["canvas_url"]
