"""Where a call goes when it does not say: the workspace and project defaults, in one place.

The workspace: as given, else `FLORA_WORKSPACE_ID`, else the given project's, else the key's
only one. The project: as given, else the one named `FLORA_PROJECT_NAME`, made on first use.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.server._account import Account
from flora_mcp.settings import Settings


async def default_workspace(
    settings: Settings, acct: Account, given: str | None = None, project_id: str | None = None
) -> str:
    if given is not None:
        return given
    if settings.workspace_id is not None:
        return settings.workspace_id
    if project_id is not None:
        return (await acct.client.get_project(project_id)).workspace_id
    workspaces = await acct.client.list_workspaces()
    if not workspaces:
        raise ToolError("This FLORA key has no workspace: create one in FLORA first.")
    if len(workspaces) > 1:
        listed = ", ".join(f"{w.workspace_id} ({w.name})" for w in workspaces)
        raise ToolError(f"This key can use several workspaces; pass workspace_id, one of: {listed}.")
    return workspaces[0].workspace_id


async def default_place(
    settings: Settings, acct: Account, workspace_id: str | None, project_id: str | None
) -> tuple[str, str]:
    """The workspace and project a generation goes to."""
    workspace_id = await default_workspace(settings, acct, workspace_id, project_id)
    if project_id is not None:
        return workspace_id, project_id
    name = settings.project_name
    async with acct.project_lock:  # two calls at once must not each create the project
        async for project in acct.client.iter_projects(workspace_id, query=name):
            if project.name == name:
                return workspace_id, project.project_id
        return workspace_id, (await acct.client.create_project(workspace_id, name)).project_id
