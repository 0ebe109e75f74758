"""The MCP tools: thin, typed, validated. Each checks what it can, calls the client, shapes the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, ToolAnnotations
from pydantic import Field

from flora_mcp import rendering
from flora_mcp.client import (
    AuthenticationError,
    FloraError,
    GenerationRequest,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
    Run,
    RunStatus,
)
from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._fetch import FetchRefused, fetch_output
from flora_mcp.server._http import caller_key
from flora_mcp.server._starting import start_generation
from flora_mcp.server._state import Account, AppState

logger = logging.getLogger(__name__)

TYPE_ENUM: Final = {"enum": list(_checks.GENERATION_TYPES)}
WorkspaceId = Annotated[str, Field(description="ws_… from list_workspaces")]
ProjectId = Annotated[str, Field(description="prj_… from list_projects")]
RunId = Annotated[str, Field(description="run_… from create_generation")]
Limit = Annotated[int, Field(ge=1, le=100)]

# Hints left out hold their spec defaults: open-world (FLORA is an outside service) and, for
# read-only tools, idempotent and non-destructive by definition.
READ: Final = ToolAnnotations(readOnlyHint=True)
CREATE: Final = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False)


def _state(ctx: Context) -> AppState:
    state = ctx.request_context.lifespan_context
    assert isinstance(state, AppState)
    return state


async def _account(ctx: Context) -> Account:
    """The FLORA account this call acts for: the caller's own key over HTTP, else the server's."""
    return await _state(ctx).account(caller_key(ctx))


@contextmanager
def _api_errors(not_found: str | None = None) -> Iterator[None]:
    """API failures become tool errors that say what to do next."""
    try:
        yield
    except NotFoundError as exc:
        raise ToolError(not_found or str(exc)) from exc
    except AuthenticationError as exc:
        raise ToolError(f"{exc}. Check the FLORA API key the server was started with.") from exc
    except InsufficientCreditsError as exc:
        raise ToolError(f"{exc}. Add credits to this workspace in FLORA, or use another workspace.") from exc
    except RateLimitError as exc:
        raise ToolError(f"{exc}. FLORA is rate-limiting: wait a little, then try again.") from exc
    except FloraError as exc:
        raise ToolError(str(exc)) from exc


def register(server: MCPServer[AppState]) -> None:
    @server.tool(
        title="List FLORA workspaces",
        description="Step 1. Workspaces this key can use; generations are billed to one. "
        "Its workspace_id goes to the other tools.",
        annotations=READ,
    )
    async def list_workspaces(ctx: Context) -> Annotated[CallToolResult, results.WorkspaceList]:
        account = await _account(ctx)
        with _api_errors():
            workspaces = await account.client.list_workspaces()
        return results.structured(results.dump_all("workspaces", workspaces))

    @server.tool(
        title="List projects",
        description="Step 1. Projects in a workspace, most recent first; query filters by name. "
        "Pick one or call create_project. Paged: pass next_cursor as cursor.",
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
        description="Step 1. Create a project in a workspace; generations attach to it and appear "
        "on its FLORA canvas.",
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
        description="Step 2. Models of a type, with the params each accepts (aspect_ratio options, "
        "seed, …) for create_generation.",
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
        description="Step 3. Start one generation (spends credits). type: exactly image, video, audio "
        "or text, not a model family like t2i. model: a model_id from list_models for that type; "
        'omit for the default. params: that model\'s, e.g. {"aspect_ratio": "4:3"}. '
        "Returns run_id for get_generation_status.",
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
            started = await start_generation(account.client, request)
        return results.structured(results.dump(started))

    @server.tool(
        title="Get generation status",
        description="Step 4. Status and progress of a run; once completed, its outputs, images shown "
        "inline. Poll every few seconds until then.",
        annotations=READ,
    )
    async def get_generation_status(
        run_id: RunId, ctx: Context
    ) -> Annotated[CallToolResult, results.RunView]:
        _checks.check_id("run_id", run_id)
        account = await _account(ctx)
        with _api_errors(not_found=f"Run {run_id!r} was not found: use a run_id from create_generation."):
            run = await account.client.get_run(run_id)
        images = await _inline_images(_state(ctx), run) if run.status == "completed" else {}
        return results.structured(results.dump(run), rendering.run_content(run, images))

    @server.tool(
        title="List generations",
        description="Generation history, newest first, with status and outputs; filter by workspace, "
        "project or status.",
        annotations=READ,
    )
    async def list_generations(
        ctx: Context,
        workspace_id: WorkspaceId | None = None,
        project_id: ProjectId | None = None,
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


async def _inline_images(state: AppState, run: Run) -> dict[str, ImageContent]:
    """Fetch and downscale each image output; one that cannot be fetched is only linked."""
    urls = [o.url for o in run.outputs if o.type == "imageUrl"]
    budget = rendering.inline_budget_per_image(run.outputs)
    origin = await state.loopback_origin()

    async def one(url: str) -> tuple[str, ImageContent | None]:
        try:
            data = await fetch_output(state.http, url, sandbox_origin=origin)
            image = await asyncio.to_thread(
                rendering.inline_image, data, state.settings.inline_max_side, budget
            )
        except (FetchRefused, OSError, ValueError) as exc:
            logger.info("Not inlining an output of %s: %s", run.run_id, exc)
            return url, None
        except Exception as exc:  # a media host's failure must not hide the run's result
            logger.info("Not inlining an output of %s: %s", run.run_id, type(exc).__name__)
            return url, None
        return url, image

    pairs = await asyncio.gather(*(one(url) for url in urls))
    return {url: image for url, image in pairs if image is not None}
