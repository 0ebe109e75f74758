"""The MCP tools: thin, typed, validated. Each checks what it can, calls the client, shapes the result."""

from __future__ import annotations

from typing import Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from flora_mcp import rendering
from flora_mcp.client import GenerationRequest, RunStatus
from flora_mcp.server import _checks, _generate, _waiting
from flora_mcp.server import _results as results
from flora_mcp.server._context import account as _account
from flora_mcp.server._context import api_errors as _api_errors
from flora_mcp.server._context import app_state as _state
from flora_mcp.server._inline import inline_images
from flora_mcp.server._starting import start_generation
from flora_mcp.server._state import AppState
from flora_mcp.ui import tool_meta

TYPE_ENUM: Final = {"enum": list(_checks.GENERATION_TYPES)}
WorkspaceId = Annotated[str, Field(description="ws_… from list_workspaces")]
ProjectId = Annotated[str, Field(description="prj_… from list_projects")]
RunId = Annotated[str, Field(description="run_… from create_generation")]
Limit = Annotated[int, Field(ge=1, le=100)]
WaitSeconds = Annotated[float, Field(ge=0, le=_waiting.MAX_WAIT_SECONDS)]

# Hints left out hold their spec defaults: open-world (FLORA is an outside service) and, for
# read-only tools, idempotent and non-destructive by definition.
READ: Final = ToolAnnotations(readOnlyHint=True)
CREATE: Final = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False)


def register(server: MCPServer[AppState]) -> None:
    @server.tool(
        title="List workspaces",
        description="Step 1. Workspaces this key can use; generations are billed to one.",
        annotations=READ,
    )
    async def list_workspaces(ctx: Context) -> Annotated[CallToolResult, results.WorkspaceList]:
        account = await _account(ctx)
        with _api_errors():
            workspaces = await account.client.list_workspaces()
        return results.structured(results.dump_all("workspaces", workspaces))

    @server.tool(
        title="List projects",
        description="Step 1. A workspace's projects, newest first; query filters by name; paged by "
        "cursor. Pick one or create_project.",
        annotations=READ,
    )
    async def list_projects(
        workspace_id: WorkspaceId,
        ctx: Context,
        query: str | None = None,
        limit: Limit = 20,
        cursor: str | None = None,
    ) -> Annotated[CallToolResult, results.ProjectList]:
        _checks.check_id("workspace_id", workspace_id)
        account = await _account(ctx)
        with _api_errors():
            page = await account.client.list_projects(workspace_id, query=query, limit=limit, cursor=cursor)
        return results.structured(results.dump_all("projects", page.items, next_cursor=page.next_cursor))

    @server.tool(
        title="Create a project",
        description="Step 1. Create a project in a workspace; its generations show on its FLORA canvas.",
        annotations=CREATE,
    )
    async def create_project(
        workspace_id: WorkspaceId, name: Annotated[str, Field(min_length=1, max_length=200)], ctx: Context
    ) -> Annotated[CallToolResult, results.ProjectView]:
        _checks.check_id("workspace_id", workspace_id)
        if not name.strip():
            raise ToolError("name is empty: give the project a name, e.g. 'Quick generations'.")
        with _api_errors(
            not_found=f"Workspace {workspace_id!r} was not found: use one from list_workspaces."
        ):
            account = await _account(ctx)
            project = await account.client.create_project(workspace_id, name)
        return results.structured(results.dump(project))

    @server.tool(
        title="List models",
        description="Step 2. Models of a type and the params each accepts (aspect_ratio options, seed, …).",
        annotations=READ,
    )
    async def list_models(
        ctx: Context, type: Annotated[str | None, Field(json_schema_extra=TYPE_ENUM)] = None
    ) -> Annotated[CallToolResult, results.ModelList]:
        type_ = _checks.check_type(type) if type is not None else None
        account = await _account(ctx)
        with _api_errors():
            models = await account.models.get(type_)
        return results.structured(results.dump_all("models", models))

    @server.tool(
        title="Start a generation",
        description="Step 3. Start one run (spends credits). type: image, video, audio or text, not "
        "a model family (t2i…). model: a model_id from list_models for that type; omit for the "
        'default. params: that model\'s, e.g. {"aspect_ratio": "4:3"}.',
        annotations=CREATE,
    )
    async def create_generation(
        type: Annotated[str, Field(json_schema_extra=TYPE_ENUM)],
        prompt: Annotated[str, Field(max_length=20_000)],
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        ctx: Context,
        model: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Annotated[CallToolResult, results.Started]:
        type_ = _checks.check_type(type)
        _checks.check_prompt(prompt)
        _checks.check_id("workspace_id", workspace_id)
        _checks.check_id("project_id", project_id)
        account = await _account(ctx)
        if model is not None:
            with _api_errors():
                models = await account.models.get(type_)
            _checks.check_params(_checks.find_model(models, model, type_), params or {})
        request = GenerationRequest(
            type=type_,
            prompt=prompt,
            workspace_id=workspace_id,
            project_id=project_id,
            model=model,
            params=params,
        )
        with _api_errors(not_found=f"Workspace {workspace_id!r} or project {project_id!r} was not found."):
            started = await start_generation(account.client, account.claims, request)
        account.runs.started(started.run_id, started.estimated_seconds)
        return results.structured(results.dump(started))

    @server.tool(
        title="Get generation status",
        description="Step 4. A run's status; once completed, its outputs, images inline. "
        "wait_seconds (≤50) waits for the end.",
        annotations=READ,
        meta=tool_meta(),
    )
    async def get_generation_status(
        run_id: RunId, ctx: Context, wait_seconds: WaitSeconds = 0
    ) -> Annotated[CallToolResult, results.RunView]:
        _checks.check_id("run_id", run_id)
        account = await _account(ctx)
        follow = _waiting.follow(account.runs, run_id)
        with _api_errors(not_found=f"Run {run_id!r} was not found: use a run_id from create_generation."):
            report = ctx.report_progress if wait_seconds else None
            await _waiting.wait(account.client, [follow], wait_seconds, report)
        assert follow.run is not None  # the last poll either read the run or raised
        images = await inline_images(_state(ctx), [follow.run])
        return results.structured(results.dump(follow.run), rendering.run_content(follow.run, images))

    @server.tool(
        title="Generate and wait",
        description="Steps 1-4 in one call (spends credits): count runs of prompt, waited for; returns "
        "every output, images inline. Defaults: the only workspace, project 'Quick generations', the "
        "first model taking params.",
        annotations=CREATE,
        meta=tool_meta(),
    )
    async def generate(
        prompt: Annotated[str, Field(max_length=20_000)],
        ctx: Context,
        type: Annotated[str, Field(json_schema_extra=TYPE_ENUM)] = "image",
        count: Annotated[int, Field(ge=1, le=_generate.MAX_COUNT)] = 1,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        workspace_id: str | None = None,
        project_id: str | None = None,
        wait_seconds: WaitSeconds = _generate.DEFAULT_WAIT_SECONDS,
    ) -> Annotated[CallToolResult, results.Generated]:
        ask = _generate.Ask(prompt, type, count, model, params or {}, workspace_id, project_id, wait_seconds)
        return await _generate.generate(ctx, ask)

    @server.tool(
        title="List generations",
        description="Generation history, newest first, with outputs; filter by workspace, project or status.",
        annotations=READ,
    )
    async def list_generations(
        ctx: Context,
        workspace_id: str | None = None,
        project_id: str | None = None,
        status: RunStatus | None = None,
        limit: Limit = 10,
        cursor: str | None = None,
    ) -> Annotated[CallToolResult, results.GenerationList]:
        if workspace_id is not None:
            _checks.check_id("workspace_id", workspace_id)
        if project_id is not None:
            _checks.check_id("project_id", project_id)
        account = await _account(ctx)
        with _api_errors():
            page = await account.client.list_generations(
                workspace_id=workspace_id, project_id=project_id, status=status, limit=limit, cursor=cursor
            )
        return results.structured(results.dump_all("generations", page.items, next_cursor=page.next_cursor))
