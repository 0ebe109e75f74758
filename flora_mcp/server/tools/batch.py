"""`generate_batch`: 1-20 mixed generations in one call, as FLORA's own hosted server offers them.

Every item is checked before anything starts (type, prompt, model, params, references: `choose`);
a bad item is refused on its own and the others go ahead. The estimated total goes through the
spending consent (`_consent`) first. Each valid item then starts once through `start_recorded`
(its own Idempotency-Key; a lost answer found again in the project's history), all are followed
together (`wait_for_runs`: one status read per project per round), and the answer lists every item
in order: `index`, `ok`, and `run_id` or why not. Runs that started are always reported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Final

import anyio
from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field

from flora_mcp._constants import BATCH_LIMIT
from flora_mcp.client import FloraError, GenerationRequest, GenerationType, Run, RunStarted
from flora_mcp.server import _checks, _costs, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._consent import Answer, Consent, Decided, Line, Spend, decide, outcome, total
from flora_mcp.server._context import Ctx, account, advice, api_errors, media_origins
from flora_mcp.server._defaults import default_place
from flora_mcp.server._model_choice import ModelChoice, choose
from flora_mcp.server._runs import MAX_STARTING, start_recorded
from flora_mcp.server.tools.arguments import GenerationTypeArg, Prompt, WaitSeconds
from flora_mcp.server.tools.generate import DEFAULT_WAIT_SECONDS

MAX_ITEMS: Final = BATCH_LIMIT
_DASH: Final = "\u2013"  # an en dash, for ranges of items


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: GenerationTypeArg
    prompt: Prompt
    model: str | None = None
    params: dict[str, Any] | None = None


Items = Annotated[list[BatchItem], Field(min_length=1, max_length=MAX_ITEMS)]


@dataclass(frozen=True)
class Checked:
    """One item after its checks: what it would run and cost, or why it cannot."""

    index: int
    item: BatchItem
    type: GenerationType | None = None
    choice: ModelChoice | None = None
    line: Line | None = None
    error: str | None = None


async def _ask_first(
    ctx: Ctx,
    items: list[BatchItem],
    workspace_id: str | None,
    project_id: str | None,
    confirm_spend_usd: float | None,
) -> Elicit[Answer] | Decided:
    """The consent resolver: runs before the tool body, on every round of a 2026-07-28 call."""
    _check_ids(workspace_id, project_id)  # a bad id is refused before the user is asked
    return decide(ctx, _spend(await check_items(ctx, items)), confirm_spend_usd)


async def generate_batch(
    items: Items,
    ctx: Ctx,
    consent: Annotated[Consent, Resolve(_ask_first)],
    workspace_id: str | None = None,
    project_id: str | None = None,
    confirm_spend_usd: float | None = None,
    wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
) -> Annotated[CallToolResult, results.Batch]:
    _check_ids(workspace_id, project_id)
    state = ctx.request_context.lifespan_context
    checked = await check_items(ctx, items)
    spend = _spend(checked)
    decided = outcome(consent)
    if not decided.start:
        return _not_started(checked, spend, decided.why, state.settings.confirm_above)
    valid = [c for c in checked if c.error is None]
    if not valid:
        raise ToolError("No item can start. " + " ".join(_refusals(checked)))
    acct = await account(ctx)
    with api_errors(not_found="Workspace or project not found: omit both to use the defaults."):
        workspace_id, project_id = await default_place(state.settings, acct, workspace_id, project_id)
    started = await _start_all(acct, valid, workspace_id, project_id)
    by_id = {s.run_id: (c, s) for c, s in _started_in_order(valid, started)}  # in item order
    if not by_id:  # nothing spent: an error the agent cannot miss
        failed: dict[str, list[int]] = {}
        for index, why in sorted(started.items()):
            failed.setdefault(str(why), []).append(index)
        raise ToolError("No item started. " + " ".join(f"{_items(i)}: {why}." for why, i in failed.items()))
    notes = _refusals(checked)
    if decided.asked:
        notes.append(f"The user agreed to spend about ${spend.total_usd:.2f}.")
    followed = await _follow.follow(ctx, acct, list(by_id), wait_seconds)
    data: dict[str, Any] = {
        "workspace_id": workspace_id,
        "project_id": project_id,
        "canvas_url": await acct.canvas_url(project_id),
        "items": _fold_errors([_item_data(c, started.get(c.index)) for c in checked]),
        **results.costs(
            total(s.quoted_cost for _, s in by_id.values()),
            Spend(tuple(c.line for c, _ in by_id.values() if c.line is not None)),
        ),
    }
    return await _follow.answer(
        ctx, data, followed, notes, row=lambda run: _run_data(run, *by_id[run.run_id])
    )


async def check_items(ctx: Ctx, items: Sequence[BatchItem]) -> list[Checked]:
    """Each item checked on its own, in order (the model lists are cached: one read per type)."""
    acct = await account(ctx)
    origins = await media_origins(ctx.request_context.lifespan_context)
    prices = await _costs.learned_prices(acct)  # one journal read for every item
    checked = []
    for index, item in enumerate(items):
        try:
            type_ = _checks.check_type(item.type)
            _checks.check_prompt(item.prompt)
            choice = await choose(acct, type_, item.model, item.params or {}, origins)
            line = await _costs.line(acct, type_, choice.model, prices)
        except ToolError as exc:
            checked.append(Checked(index, item, error=str(exc)))
        else:
            checked.append(Checked(index, item, type_, choice, line))
    return checked


def _check_ids(workspace_id: str | None, project_id: str | None) -> None:
    for name, value in (("workspace_id", workspace_id), ("project_id", project_id)):
        if value is not None:
            _checks.check_id(name, value)


def _spend(checked: Sequence[Checked]) -> Spend:
    return Spend(tuple(c.line for c in checked if c.line is not None))


def _refusals(checked: Sequence[Checked]) -> list[str]:
    """One line per distinct refusal, naming every item it refused ('Items 0-11 refused: …')."""
    return [f"{_items(indexes)} refused: {why}" for why, indexes in _by_reason(checked).items()]


def _by_reason(checked: Sequence[Checked]) -> dict[str, list[int]]:
    reasons: dict[str, list[int]] = {}
    for c in checked:
        if c.error is not None:
            reasons.setdefault(c.error, []).append(c.index)
    return reasons


def _items(indexes: Sequence[int]) -> str:
    """'Item 3', 'Items 0-11', 'Items 0, 2, 5-7' (with en dashes): runs of consecutive indexes as ranges."""
    spans: list[list[int]] = []
    for i in sorted(indexes):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = ", ".join(str(a) if a == b else f"{a}{_DASH}{b}" if b > a + 1 else f"{a}, {b}" for a, b in spans)
    return f"Item {text}" if len(indexes) == 1 else f"Items {text}"


def _fold_errors(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An error repeated word for word is written once, at its first item; the others point to it."""
    first: dict[str, int] = {}
    for item in items:
        error = item.get("error")
        if isinstance(error, str):
            if error in first:
                item["error"] = f"same as item {first[error]}"
            else:
                first[error] = item["index"]
    return items


class _Pacer:
    """At most `limit` starts at once, and never two whose lost answers could be mixed up: a lost
    answer is recovered by project, time and model (`_starting`), so two starts of one model, or a
    start of the workspace default (model unknown) next to any other, go one after the other."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._starting: list[str | None] = []
        self._changed = anyio.Condition()

    @asynccontextmanager
    async def slot(self, model: str | None) -> AsyncIterator[None]:
        async with self._changed:
            while len(self._starting) >= self._limit or any(
                model is None or other is None or model == other for other in self._starting
            ):
                await self._changed.wait()
            self._starting.append(model)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._changed:
                    self._starting.remove(model)
                    self._changed.notify_all()


async def _start_all(
    acct: Account, valid: Sequence[Checked], workspace_id: str, project_id: str
) -> dict[int, RunStarted | str]:
    """Start every valid item once; by index, its start answer or why it did not start."""
    pacer = _Pacer(MAX_STARTING)
    started: dict[int, RunStarted | str] = {}

    async def one(checked: Checked) -> None:
        assert checked.type is not None and checked.choice is not None
        request = GenerationRequest(
            type=checked.type,
            prompt=checked.item.prompt,
            workspace_id=workspace_id,
            project_id=project_id,
            model=checked.choice.model,
            params=checked.choice.params or None,
        )
        async with pacer.slot(checked.choice.model):
            try:
                started[checked.index] = await start_recorded(acct, request)
            except FloraError as exc:  # one failure must not hide the runs that did start
                started[checked.index] = advice(exc)
            except ToolError as exc:
                started[checked.index] = str(exc)

    async with anyio.create_task_group() as group:
        for checked in valid:
            group.start_soon(one, checked)
    return started


def _started_in_order(
    valid: Sequence[Checked], started: dict[int, RunStarted | str]
) -> list[tuple[Checked, RunStarted]]:
    return [(c, s) for c in valid if isinstance(s := started.get(c.index), RunStarted)]


def _item_data(checked: Checked, started: RunStarted | str | None) -> dict[str, Any]:
    if checked.error is not None:
        return {"index": checked.index, "ok": False, "error": checked.error}
    if isinstance(started, str) or started is None:
        return {"index": checked.index, "ok": False, "error": f"did not start: {started or 'not tried'}"}
    data = {"index": checked.index, "ok": True, "run_id": started.run_id, "type": checked.type}
    data |= {"model": _model(checked, started), "quoted_cost_usd": started.quoted_cost}
    if checked.choice is not None and checked.choice.note:
        data["note"] = checked.choice.note
    return data


def _run_data(run: Run, checked: Checked, started: RunStarted) -> dict[str, Any]:
    """A run whole, with what the gallery captions it by."""
    data = results.run_data(run, _model(checked, started))
    return {"index": checked.index, "type": checked.type, "prompt": checked.item.prompt, **data}


def _model(checked: Checked, started: RunStarted) -> str:
    ran = started.model.model_id if started.model and started.model.model_id else None
    chosen = checked.choice.model if checked.choice is not None else None
    return ran or chosen or "the workspace's default model"


def _not_started(checked: Sequence[Checked], spend: Spend, why: str, threshold: float) -> CallToolResult:
    items = _fold_errors(
        [
            {"index": c.index, "ok": False, "error": c.error}
            if c.error is not None
            else {"index": c.index, "ok": True, "type": c.type, "model": c.choice.model if c.choice else None}
            for c in checked
        ]
    )
    data = {
        "started": False,
        "items": items,
        "estimated_cost_usd": spend.total_usd,
        "buys": spend.buys(),
        "confirm_above_usd": threshold,
        "notes": [why, *_refusals(checked)],
    }
    return results.structured(data, [TextContent(type="text", text=why)])
