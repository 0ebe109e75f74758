"""Steps 3 and 4: start a generation, follow it, and the history of generations."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult

from flora_mcp import rendering
from flora_mcp.client import GenerationRequest, RunStatus
from flora_mcp.server import _checks, _waiting
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server._starting import start_generation
from flora_mcp.server.tools.arguments import (
    GenerationTypeArg,
    Limit,
    ProjectId,
    Prompt,
    RunId,
    WaitSeconds,
    WorkspaceId,
)


async def create_generation(
    type: GenerationTypeArg,
    prompt: Prompt,
    workspace_id: WorkspaceId,
    project_id: ProjectId,
    ctx: Ctx,
    model: str | None = None,
    params: dict[str, Any] | None = None,
) -> Annotated[CallToolResult, results.Started]:
    type_ = _checks.check_type(type)
    _checks.check_prompt(prompt)
    _checks.check_id("workspace_id", workspace_id)
    _checks.check_id("project_id", project_id)
    acct = await account(ctx)
    if model is not None:
        with api_errors():
            models = await acct.models.get(type_)
        _checks.check_params(_checks.find_model(models, model, type_), params or {})
    request = GenerationRequest(
        type=type_,
        prompt=prompt,
        workspace_id=workspace_id,
        project_id=project_id,
        model=model,
        params=params,
    )
    with api_errors(not_found=f"Workspace {workspace_id!r} or project {project_id!r} was not found."):
        started = await start_generation(acct.client, acct.claims, request)
    acct.runs.started(started.run_id, started.estimated_seconds)
    return results.structured(results.dump(started))


async def get_generation_status(
    run_id: RunId, ctx: Ctx, wait_seconds: WaitSeconds = 0
) -> Annotated[CallToolResult, results.RunView]:
    _checks.check_id("run_id", run_id)
    acct = await account(ctx)
    follow = _waiting.follow(acct.runs, run_id)
    with api_errors(not_found=f"Run {run_id!r} was not found: use a run_id from create_generation."):
        report = ctx.report_progress if wait_seconds else None
        await _waiting.wait(acct.client, [follow], wait_seconds, report)
    assert follow.run is not None  # the last poll either read the run or raised
    shown = await inline_outputs(ctx.request_context.lifespan_context, [follow.run])
    content = rendering.run_content(follow.run, shown.images, shown.texts)
    return results.structured(results.dump(follow.run), content)


async def list_generations(
    ctx: Ctx,
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
    acct = await account(ctx)
    with api_errors():
        page = await acct.client.list_generations(
            workspace_id=workspace_id, project_id=project_id, status=status, limit=limit, cursor=cursor
        )
    return results.structured(results.dump_all("generations", page.items, next_cursor=page.next_cursor))
