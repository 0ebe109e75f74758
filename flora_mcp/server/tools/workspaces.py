"""Step 1: where generations go — workspaces and projects."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server.tools.arguments import Limit, WorkspaceId


async def list_workspaces(ctx: Ctx) -> Annotated[CallToolResult, results.WorkspaceList]:
    acct = await account(ctx)
    with api_errors():
        workspaces = await acct.client.list_workspaces()
    return results.structured(results.dump_all("workspaces", workspaces))


async def list_projects(
    workspace_id: WorkspaceId,
    ctx: Ctx,
    query: str | None = None,
    limit: Limit = 20,
    cursor: str | None = None,
) -> Annotated[CallToolResult, results.ProjectList]:
    _checks.check_id("workspace_id", workspace_id)
    acct = await account(ctx)
    with api_errors():
        page = await acct.client.list_projects(workspace_id, query=query, limit=limit, cursor=cursor)
    return results.structured(results.dump_all("projects", page.items, next_cursor=page.next_cursor))


async def create_project(
    workspace_id: WorkspaceId,
    name: Annotated[str, Field(min_length=1, max_length=200)],
    ctx: Ctx,
    folder_id: str | None = None,
) -> Annotated[CallToolResult, results.ProjectView]:
    """`POST /workspaces/{id}/projects`, the current route: the workspace is in the path, which
    matters when a key reaches several (the body form `POST /projects` stays for older servers)."""
    _checks.check_id("workspace_id", workspace_id)
    if not name.strip():
        raise ToolError("name is empty: give the project a name, e.g. 'Quick generations'.")
    missing = f"Workspace {workspace_id!r} was not found: use one from list_workspaces."
    if folder_id is not None:
        missing = f"Folder {folder_id!r} was not found in workspace {workspace_id!r}, or is not yours."
    with api_errors(not_found=missing):
        acct = await account(ctx)
        project = await acct.client.create_workspace_project(workspace_id, name, folder_id=folder_id)
    return results.structured(results.dump(project))
