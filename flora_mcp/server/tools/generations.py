"""Steps 3 and 4: start a generation and follow it.

A start spends credits, so above the spending threshold the user agrees first, exactly as for
`generate` (`_consent`): the resolver prices the run of the model that would run, and a client
that cannot ask gets the estimate and nothing starts until `confirm_spend_usd` covers it.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from flora_mcp import rendering
from flora_mcp.client import GenerationRequest, NotFoundError
from flora_mcp.server import _checks, _costs, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._consent import Answer, Consent, Decided, Spend, decide, outcome
from flora_mcp.server._context import Ctx, account, api_errors, media_origins
from flora_mcp.server._history import journal_fields
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server._model_choice import choose
from flora_mcp.server._runs import start_recorded
from flora_mcp.server.tools.arguments import (
    GenerationTypeArg,
    ProjectId,
    Prompt,
    RunId,
    WaitSeconds,
    WorkspaceId,
)
from flora_mcp.server.tools.history import not_found


async def _ask_first(
    ctx: Ctx,
    type: str,
    prompt: str,
    workspace_id: str,
    project_id: str,
    model: str | None,
    params: dict[str, Any] | None,
    confirm_spend_usd: float | None,
) -> Elicit[Answer] | Decided:
    """The consent resolver: the estimate of one run of the model that would run. Bad arguments are
    refused before the user is asked about them."""
    type_ = _checks.check_type(type)
    _checks.check_prompt(prompt)
    _checks.check_id("workspace_id", workspace_id)
    _checks.check_id("project_id", project_id)
    acct = await account(ctx)
    choice = await choose(
        acct, type_, model, params or {}, await media_origins(ctx.request_context.lifespan_context)
    )
    return decide(ctx, Spend((await _costs.line(acct, type_, choice.model),)), confirm_spend_usd)


async def create_generation(
    type: GenerationTypeArg,
    prompt: Prompt,
    workspace_id: WorkspaceId,
    project_id: ProjectId,
    ctx: Ctx,
    consent: Annotated[Consent, Resolve(_ask_first)],
    model: str | None = None,
    params: dict[str, Any] | None = None,
    confirm_spend_usd: float | None = None,
) -> Annotated[CallToolResult, results.Started]:
    type_ = _checks.check_type(type)
    _checks.check_prompt(prompt)
    _checks.check_id("workspace_id", workspace_id)
    _checks.check_id("project_id", project_id)
    decided = outcome(consent)
    if not decided.start:
        raise ToolError(decided.why)
    acct = await account(ctx)
    origins = await media_origins(ctx.request_context.lifespan_context)
    choice = await choose(acct, type_, model, params or {}, origins)
    request = GenerationRequest(
        type=type_,
        prompt=prompt,
        workspace_id=workspace_id,
        project_id=project_id,
        model=choice.model,
        params=choice.params or None,
    )
    with api_errors(not_found=f"Workspace {workspace_id!r} or project {project_id!r} was not found."):
        started = await start_recorded(acct, request)
    spend = Spend((await _costs.line(acct, type_, choice.model),))
    return results.structured(results.started_data(started, choice.model, choice.note, spend=spend))


async def get_generation_status(
    run_id: RunId, ctx: Ctx, wait_seconds: WaitSeconds = 0
) -> Annotated[CallToolResult, results.RunView]:
    _checks.check_id("run_id", run_id)
    acct = await account(ctx)
    with api_errors():
        try:
            [run] = await _follow.read(ctx, acct, [run_id], wait_seconds)
        except NotFoundError as exc:
            raise ToolError(await not_found(acct, [run_id], exc)) from exc
    entry = (await acct.history.entries([run_id])).get(run_id)
    shown = await inline_outputs(ctx.request_context.lifespan_context, [run])
    content = rendering.run_content(run, shown.images, shown.texts)
    data = results.run_data(run) | (journal_fields(entry) if entry else {})
    return results.structured(data, content)
