"""Techniques (FLORA's reusable workflows) and actions (its prebuilt edits): found and run through two
tools, since both take inputs by name and are followed like a generation. Two tools, not four: every
host reads the whole tool list on every turn.

A run spends its cost whatever its inputs, and FLORA takes a bad input as it does a bad param
(accepted, billed, then failed or ignored), so inputs are checked against the definition first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any, Final, TypeVar

from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from flora_mcp import rendering
from flora_mcp.client import Action, RunStarted, Technique
from flora_mcp.server import _checks, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._consent import Answer, Consent, Decided, Line, Spend, decide, outcome, total
from flora_mcp.server._context import Ctx, account, api_errors, media_origins
from flora_mcp.server._defaults import default_place, default_workspace
from flora_mcp.server._history import Record
from flora_mcp.server._inline import crop_note
from flora_mcp.server._prices import LISTED
from flora_mcp.server._runs import Start, start_each
from flora_mcp.server._starting import start_once
from flora_mcp.server.tools import actions
from flora_mcp.server.tools.arguments import WaitSeconds
from flora_mcp.server.tools.generate import DEFAULT_WAIT_SECONDS
from flora_mcp.server.tools.technique_inputs import runs_of

LIST_LIMIT: Final = 100
BRIEF_CHARS: Final = 120

TechniqueId = Annotated[str, Field(description="tech_... or an action_id")]
_T = TypeVar("_T")


class Listed(BaseModel):
    model_config = ConfigDict(extra="allow")  # and `actions`, brief or the one asked for whole
    techniques: list[dict[str, Any]]


class RunsStarted(BaseModel):
    # Also quoted_cost_usd and what ran. No docstring: it would be the schema's description.
    model_config = ConfigDict(extra="allow")
    runs: list[dict[str, Any]]  # whole, as get_generation_status gives them


async def list_techniques(
    ctx: Ctx, query: str | None = None, technique_id: str | None = None
) -> Annotated[CallToolResult, Listed]:
    acct = await account(ctx)
    with api_errors():
        found = await acct.client.list_actions()
    if technique_id is not None:
        action = next((a for a in found if a.action_id == technique_id), None)
        if action is not None:
            return results.structured({"techniques": [], "actions": [results.dump(action)]})
        technique = await _technique(acct, technique_id)
        return results.structured({"techniques": [results.dump(technique)], "actions": []})
    # The configured workspace's own techniques too; otherwise those the key sees anywhere. Read
    # whole and searched here: FLORA matches the query as one phrase, a user means any of its words.
    workspace_id = ctx.request_context.lifespan_context.settings.workspace_id
    with api_errors():
        page = await acct.client.list_techniques(workspace_id, limit=LIST_LIMIT)
    techniques = matching(page.items, query, _technique_words)
    data: dict[str, Any] = {
        "techniques": [_brief(t) for t in techniques],
        "actions": [actions.brief(a) for a in matching(found, query, _action_words)],
    }
    more = "+" if page.next_cursor is not None else ""
    if query is not None and not data["techniques"] and not data["actions"]:
        data["note"] = (
            f"Nothing matches any word of {query!r}; {len(page.items)}{more} techniques and {len(found)} "
            "actions exist: call list_techniques without query to see them all."
        )
    elif page.next_cursor is not None:
        data["note"] = f"Only the first {LIST_LIMIT} techniques were searched: narrow them with query."
    return results.structured(data)


# Words too common to tell workflows apart.
_STOP_WORDS: Final = frozenset(
    {"a", "an", "and", "for", "from", "in", "into", "of", "on", "the", "to", "with"}
)


def matching(items: Sequence[_T], query: str | None, words_of: Callable[[_T], str]) -> list[_T]:
    """The items any word of `query` occurs in (as a word's start: `crop` finds `cropping`), those
    matching more words first, in their order otherwise; all of them without a query."""
    wanted = [w for w in re.findall(r"\w+", (query or "").lower()) if w not in _STOP_WORDS]
    if not wanted:
        return list(items)
    scored = []
    for position, item in enumerate(items):
        text = re.findall(r"\w+", words_of(item).lower())
        hits = sum(1 for w in wanted if any(t.startswith(w) for t in text))
        if hits:
            scored.append((-hits, position, item))
    return [item for _, _, item in sorted(scored, key=lambda entry: entry[:2])]


def _technique_words(technique: Technique) -> str:
    return f"{technique.technique_id} {technique.name} {technique.description or ''}".replace("-", " ")


def _action_words(action: Action) -> str:
    return f"{action.action_id} {action.name} {action.description}".replace("-", " ")


async def _ask_first(
    ctx: Ctx, technique_id: str, inputs: dict[str, Any], confirm_spend_usd: float | None
) -> Elicit[Answer] | Decided:
    """The consent resolver: a technique's `run_cost` (per value of an input given several) or an
    action's price, as listed."""
    acct = await account(ctx)
    with api_errors():
        action = next((a for a in await acct.client.list_actions() if a.action_id == technique_id), None)
    if action is not None:
        return decide(ctx, Spend((_listed(action),)), confirm_spend_usd)
    technique = await _technique(acct, technique_id)
    runs = runs_of(technique, inputs, await media_origins(ctx.request_context.lifespan_context))
    return decide(ctx, Spend((_listed(technique),) * len(runs)), confirm_spend_usd)


def _listed(runs: Action | Technique) -> Line:
    """What a run of a technique or action costs as FLORA lists it: what the consent and the start
    answer name."""
    if isinstance(runs, Action):
        return Line("action run", runs.action_id, runs.charged_cost, basis=LISTED)
    return Line("technique run", runs.technique_id, runs.run_cost, basis=LISTED)


async def run_technique(
    technique_id: TechniqueId,
    inputs: dict[str, Any],
    ctx: Ctx,
    consent: Annotated[Consent, Resolve(_ask_first)],
    params: dict[str, Any] | None = None,
    project_id: str | None = None,
    wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
    confirm_spend_usd: float | None = None,
) -> Annotated[CallToolResult, RunsStarted]:
    decided = outcome(consent)
    if not decided.start:
        raise ToolError(decided.why)
    if project_id is not None:
        _checks.check_id("project_id", project_id)
    acct = await account(ctx)
    state = ctx.request_context.lifespan_context
    origins = await media_origins(state)
    with api_errors():
        action = next((a for a in await acct.client.list_actions() if a.action_id == technique_id), None)
    if action is not None:
        return await _run_action(ctx, acct, action, inputs, params or {}, project_id, origins, wait_seconds)
    technique = await _technique(acct, technique_id)
    if params:
        raise ToolError(f"params are for actions; technique {technique.technique_id!r} takes only inputs.")
    runs = runs_of(technique, inputs, origins)
    with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
        workspace = await default_workspace(state.settings, acct, project_id=project_id)
    started, failures = await start_each(
        [_technique_start(acct, technique, workspace, given) for given in runs]
    )
    if not started:
        raise ToolError(failures[0])
    notes = [f"{len(failures)} of {len(runs)} runs did not start: {failures[0]}"] if failures else []
    about = {"technique_id": technique.technique_id, "workspace_id": workspace}
    quoted = total(s.quoted_cost for s in started)
    about |= results.costs(quoted, Spend((_listed(technique),) * len(started)))
    names = [slot.id for slot in technique.outputs]  # outputs by name: square, landscape…
    return await follow_started(ctx, acct, started, wait_seconds, about, names, notes)


def _technique_start(acct: Account, technique: Technique, workspace: str, given: dict[str, str]) -> Start:
    """One run of the technique on `given`, started once (`start_once`): its own intent and key."""
    record = Record("technique", None, None, technique.technique_id, dict(given), workspace, None)

    async def start() -> RunStarted:
        return await start_once(
            acct.history,
            record,
            lambda key: acct.client.run_technique(
                technique.technique_id, workspace, given, idempotency_key=key
            ),
        )

    return start


async def _run_action(
    ctx: Ctx,
    acct: Account,
    action: Action,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    project_id: str | None,
    origins: Sequence[str],
    wait_seconds: float,
) -> CallToolResult:
    given = actions.action_inputs(action, inputs, origins)
    actions.check_params(action, params)
    # The action's runs belong to a project: the one given (and its workspace), else generate's default.
    settings = ctx.request_context.lifespan_context.settings
    with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
        workspace, project = await default_place(settings, acct, None, project_id)
        record = Record("action", None, None, action.action_id, dict(params), workspace, project)
        started = await start_once(
            acct.history,
            record,
            lambda key: acct.client.run_action(
                action.action_id, workspace, project, given, params or None, idempotency_key=key
            ),
        )
    about = {
        "action_id": action.action_id,
        "workspace_id": workspace,
        "project_id": project,
        "canvas_url": await acct.canvas_url(project),
        **results.costs(started.quoted_cost, Spend((_listed(action),))),
    }
    note = await crop_note(ctx.request_context.lifespan_context, action, given, params)
    names = [slot.name for slot in action.outputs]
    return await follow_started(ctx, acct, [started], wait_seconds, about, names, [note] if note else [])


async def _technique(acct: Account, technique_id: str) -> Technique:
    with api_errors(not_found=f"{technique_id!r} is neither a technique nor an action: see list_techniques."):
        return await acct.client.get_technique(technique_id)


def _brief(technique: Technique) -> dict[str, Any]:
    about = " ".join((technique.description or "").split())
    if len(about) > BRIEF_CHARS:
        about = about[: BRIEF_CHARS - 1] + "…"
    return {
        "technique_id": technique.technique_id,
        "name": technique.name,
        "run_cost_usd": technique.run_cost,
        "description": about,
    }


async def follow_started(
    ctx: Ctx,
    acct: Account,
    started: Sequence[RunStarted],
    wait_seconds: float,
    about: dict[str, Any],
    output_names: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> CallToolResult:
    """Wait for started runs (progress to the host), then answer with their outputs labelled by the
    definition's output names (square, landscape…): the path every run takes (`_follow`)."""
    # Technique and action runs: FLORA's history lists generations only, so each is read on its own.
    for run in started:
        acct.runs.add(run.run_id, project_id=None, estimated_seconds=run.estimated_seconds)
    followed = await _follow.follow(ctx, acct, [run.run_id for run in started], wait_seconds)
    labelled = [rendering.labelled(run, output_names) for run in followed.runs]
    return await _follow.answer(ctx, about, replace(followed, runs=labelled), notes)
