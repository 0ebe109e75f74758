"""A project's canvas as FLORA describes it: a Mermaid diagram of its runs, counts, and where to open it."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict

from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server.tools.arguments import ProjectId


class CanvasView(BaseModel):
    model_config = ConfigDict(extra="allow")  # also diagram and summary, as FLORA gives them
    canvas_url: str


async def get_canvas(project_id: ProjectId, ctx: Ctx) -> Annotated[CallToolResult, CanvasView]:
    _checks.check_id("project_id", project_id)
    acct = await account(ctx)
    with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
        canvas = await acct.client.get_canvas(project_id)
    counts = canvas.summary
    # Hosts render Markdown: the diagram as a mermaid block shows as a picture where they can.
    text = (
        f"Canvas of {canvas.project_id}: {counts.node_count} nodes, {counts.edge_count} edges, "
        f"{counts.workflow_count} workflows. Open it in FLORA: {canvas.canvas_url}\n\n"
        f"```mermaid\n{canvas.diagram}\n```"
    )
    return results.structured(results.dump(canvas), [TextContent(type="text", text=text)])
