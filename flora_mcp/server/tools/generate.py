"""`generate`: the seed's four steps in one call, with defaults for everything but the prompt.

Defaults: the key's only workspace, a project found by name (made when missing), and the
workspace's default model (see `_model_choice`). The `count` runs start together, each through
`start_recorded`, and are waited for together (`waiting`: one status read per project per round).
Runs that started are always reported, even when others did not start or the waiting failed:
each one spends credits. Above the spending threshold the user agrees first (`_consent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp.client import (
    GenerationRequest,
)
from flora_mcp.server import _checks, _costs, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._consent import Answer, Consent, Decided, Spend, decide, outcome, total
from flora_mcp.server._context import Ctx, account, api_errors, media_origins
from flora_mcp.server._defaults import default_place
from flora_mcp.server._model_choice import choose
from flora_mcp.server._runs import start_each, start_recorded
from flora_mcp.server.tools.arguments import GenerationTypeArg, Prompt, WaitSeconds

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


async def _ask_first(
    ctx: Ctx,
    type: str,
    count: int,
    model: str | None,
    params: dict[str, Any] | None,
    confirm_spend_usd: float | None,
) -> Elicit[Answer] | Decided:
    """The consent resolver: the estimate of `count` runs of the model that would run."""
    type_ = _checks.check_type(type)
    acct = await account(ctx)
    choice = await choose(
        acct, type_, model, params or {}, await media_origins(ctx.request_context.lifespan_context)
    )
    return decide(ctx, Spend((await _costs.line(acct, type_, choice.model),) * count), confirm_spend_usd)


async def generate(
    prompt: Prompt,
    ctx: Ctx,
    consent: Annotated[Consent, Resolve(_ask_first)],
    type: GenerationTypeArg = "image",
    count: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 1,
    model: str | None = None,
    params: dict[str, Any] | None = None,
    workspace_id: str | None = None,
    project_id: str | None = None,
    wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
    confirm_spend_usd: float | None = None,
) -> Annotated[CallToolResult, results.Generated]:
    decided = outcome(consent)
    if not decided.start:
        raise ToolError(decided.why)
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
    state = ctx.request_context.lifespan_context
    acct = await account(ctx)
    choice = await choose(acct, type_, ask.model, ask.params, await media_origins(state))
    with api_errors(not_found="Workspace or project not found: omit both to use the defaults."):
        workspace_id, project_id = await default_place(state.settings, acct, ask.workspace_id, ask.project_id)
    request = GenerationRequest(
        type=type_,
        prompt=ask.prompt,
        workspace_id=workspace_id,
        project_id=project_id,
        model=choice.model,
        params=choice.params or None,
    )
    # The requests are identical, so a lost answer recovered as another's run changes nothing.
    started, failures = await start_each([lambda: start_recorded(acct, request)] * ask.count)
    if not started:
        raise ToolError(failures[0])
    notes = [f"{len(failures)} of {ask.count} runs did not start: {failures[0]}"] if failures else []
    notes += [choice.note] if choice.note else []
    model = next((s.model.model_id for s in started if s.model and s.model.model_id), choice.model)
    spend = Spend((await _costs.line(acct, type_, choice.model),) * len(started))
    followed = await _follow.follow(ctx, acct, [s.run_id for s in started], ask.wait_seconds)
    data: dict[str, Any] = {
        "workspace_id": workspace_id,
        "project_id": project_id,
        "canvas_url": await acct.canvas_url(project_id),
        "model": model or "the workspace's default model",
        "type": type_,
        "prompt": ask.prompt,
        "params": choice.params,
        **results.costs(total(s.quoted_cost for s in started), spend),
    }
    return await _follow.answer(ctx, data, followed, notes)
