"""`generate`: the seed's four steps in one call, with defaults for everything but the prompt.

Defaults: the key's only workspace, a project found by name (made when missing), and the first
model of the type that accepts the params (what the seed's own code picks, `models[0]`, when
there are none). The `count` runs start together, each through `start_generation`, and are
waited for with one progress stream. Runs that started are always reported, even when others
did not start or the waiting failed: each one spends credits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp import rendering
from flora_mcp.client import (
    FloraError,
    GenerationRequest,
    GenerationType,
    Model,
    Run,
    RunStarted,
)
from flora_mcp.server import _checks, _waiting
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._context import Ctx, account, advice, api_errors
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server._starting import start_generation
from flora_mcp.server.tools.arguments import GenerationTypeArg, Prompt, WaitSeconds
from flora_mcp.settings import Settings

MAX_COUNT: Final = 8
DEFAULT_WAIT_SECONDS: Final = 45


@dataclass(frozen=True)
class Ask:
    """What the caller asked for, as given."""

    prompt: str
    type: str
    count: int
    model: str | None
    params: Mapping[str, Any]
    workspace_id: str | None
    project_id: str | None
    wait_seconds: float


async def generate(
    prompt: Prompt,
    ctx: Ctx,
    type: GenerationTypeArg = "image",
    count: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 1,
    model: str | None = None,
    params: dict[str, Any] | None = None,
    workspace_id: str | None = None,
    project_id: str | None = None,
    wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
) -> Annotated[CallToolResult, results.Generated]:
    ask = Ask(prompt, type, count, model, params or {}, workspace_id, project_id, wait_seconds)
    return await generate_for(ctx, ask)


async def generate_for(ctx: Ctx, ask: Ask) -> CallToolResult:
    type_ = _checks.check_type(ask.type)
    _checks.check_prompt(ask.prompt)
    if not 1 <= ask.count <= MAX_COUNT:
        raise ToolError(f"count {ask.count} is out of range: ask for 1 to {MAX_COUNT} outputs per call.")
    for name, value in (("workspace_id", ask.workspace_id), ("project_id", ask.project_id)):
        if value is not None:
            _checks.check_id(name, value)
    acct = await account(ctx)
    client = acct.client
    with api_errors():
        model = pick_model(await acct.models.get(type_), ask.model, ask.params, type_)
    with api_errors(not_found="Workspace or project not found: omit both to use the defaults."):
        workspace_id, project_id = await _where(ctx.request_context.lifespan_context.settings, acct, ask)
    request = GenerationRequest(
        type=type_,
        prompt=ask.prompt,
        workspace_id=workspace_id,
        project_id=project_id,
        model=model.model_id,
        params=dict(ask.params) or None,
    )
    started, failures = await _start_all(acct, request, ask.count)
    if not started:
        raise ToolError(_why(failures[0]))
    notes = [f"{len(failures)} of {ask.count} runs did not start: {_why(failures[0])}"] if failures else []
    clock = acct.runs
    for run in started:
        clock.started(run.run_id, run.estimated_seconds)
    follows = [_waiting.follow(clock, run.run_id) for run in started]
    try:
        await _waiting.wait(client, follows, ask.wait_seconds, ctx.report_progress)
    except FloraError as exc:
        ids = ", ".join(run.run_id for run in started)
        raise ToolError(
            f"Started {ids}, but could not read their status: {advice(exc)} "
            "Call get_generation_status with each run_id."
        ) from exc
    # A run never seen (its every poll failed) is still reported: it was started and is paid for.
    runs = [f.run or Run(run_id=f.run_id, status="pending", progress=0, created_at=0) for f in follows]
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs)
    data = {
        "workspace_id": workspace_id,
        "project_id": project_id,
        "model": model.model_id,
        "type": type_,
        "prompt": ask.prompt,
        "params": dict(ask.params),
        "runs": [results.dump(run) for run in runs],
    }
    return results.structured(data, rendering.generation_content(runs, shown.images, notes, shown.texts))


def pick_model(
    models: Sequence[Model], model_id: str | None, params: Mapping[str, Any], type_: GenerationType
) -> Model:
    """The model asked for, checked against params; else the first one that accepts the params."""
    if model_id is not None:
        model = _checks.find_model(models, model_id, type_)
        _checks.check_params(model, params)
        return model
    if not models:
        raise ToolError(f"No {type_} models are available to this FLORA key.")
    fits = [m for m in models if _accepts(m, params)]
    if not fits:
        _checks.check_params(models[0], params)  # raises, naming what the first (default) model takes
    return fits[0]


def _accepts(model: Model, params: Mapping[str, Any]) -> bool:
    try:
        _checks.check_params(model, params)
    except ToolError:
        return False
    return True


async def _where(settings: Settings, acct: Account, ask: Ask) -> tuple[str, str]:
    """The workspace and project to use: as given, else the configured or only ones."""
    client = acct.client
    workspace_id = ask.workspace_id or settings.workspace_id
    if workspace_id is None and ask.project_id is not None:
        workspace_id = (await client.get_project(ask.project_id)).workspace_id
    if workspace_id is None:
        workspaces = await client.list_workspaces()
        if not workspaces:
            raise ToolError("This FLORA key has no workspace: create one in FLORA first.")
        if len(workspaces) > 1:
            listed = ", ".join(f"{w.workspace_id} ({w.name})" for w in workspaces)
            raise ToolError(f"This key can use several workspaces; pass workspace_id, one of: {listed}.")
        workspace_id = workspaces[0].workspace_id
    if ask.project_id is not None:
        return workspace_id, ask.project_id
    name = settings.project_name
    async with acct.project_lock:  # two calls at once must not each create the project
        async for project in client.iter_projects(workspace_id, query=name):
            if project.name == name:
                return workspace_id, project.project_id
        return workspace_id, (await client.create_project(workspace_id, name)).project_id


def _why(exc: FloraError | ToolError) -> str:
    return advice(exc) if isinstance(exc, FloraError) else str(exc)


async def _start_all(
    acct: Account, request: GenerationRequest, count: int
) -> tuple[list[RunStarted], list[FloraError | ToolError]]:
    """Start `count` runs at once; the ones that started, and why any did not."""
    started: list[RunStarted | None] = [None] * count  # in request order, whatever order they finish
    failures: list[FloraError | ToolError] = []

    async def one(index: int) -> None:
        try:
            started[index] = await start_generation(acct.client, acct.claims, request)
        except (FloraError, ToolError) as exc:  # one failure must not hide the runs that did start
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(one, index)
    return [run for run in started if run is not None], failures
