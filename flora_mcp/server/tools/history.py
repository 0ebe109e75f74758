"""History: what was generated, newest first, or earlier runs by id, with what FLORA forgets.

FLORA's history has no prompt, type or params; the local run journal (`_history`) has them for
runs this server started, so both are merged. Earlier runs asked for by id are read together
(one request per project, see `waiting`) and shown again in one result, previews within budget.

The text says what the answer holds: how many runs of how many, how to get the next page, and one
line per run with its type, model and the start of its prompt; a run id that does not exist is
answered with the closest ids this key knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Final

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import Field

from flora_mcp import rendering
from flora_mcp._constants import BATCH_LIMIT
from flora_mcp.client import FloraError, NotFoundError, Run, RunStatus
from flora_mcp.server import _checks, _costs, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._context import Ctx, account, api_errors, learn_media
from flora_mcp.server._history import journal_fields
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server.tools.arguments import Limit
from flora_mcp.server.waiting import run_from_generation

MAX_RUN_IDS: Final = BATCH_LIMIT  # a batch's runs, shown again in one call
# An intent older than this with no run id was cut off by a crash (a start answers in seconds).
LOST_AFTER_SECONDS: Final = 120
PROMPT_CHARS: Final = 48  # the start of a prompt shown on a history line
KNOWN_IDS: Final = 200  # recent runs a mistyped id is compared with
JOURNAL_COUNT: Final = 1000  # journal entries counted for a page's "of N+"
_TYPE_BY_OUTPUT: Final = {"imageUrl": "image", "videoUrl": "video", "audioUrl": "audio", "text": "text"}


async def list_generations(
    ctx: Ctx,
    run_ids: Annotated[list[str] | None, Field(max_length=MAX_RUN_IDS)] = None,
    workspace_id: str | None = None,
    project_id: str | None = None,
    status: RunStatus | None = None,
    limit: Limit = 10,
    cursor: str | None = None,
    cost_period: Annotated[str | None, Field(description=_costs.COST_PERIOD_HELP)] = None,
) -> Annotated[CallToolResult, results.GenerationList]:
    for name, value in (("workspace_id", workspace_id), ("project_id", project_id)):
        if value is not None:
            _checks.check_id(name, value)
    if cost_period is not None:  # the cost mode (_costs): sums, not runs
        return await _costs.cost_result(ctx, cost_period, workspace_id, project_id)
    acct = await account(ctx)
    if run_ids:
        return await _by_id(ctx, run_ids)
    with api_errors():
        page = await acct.client.list_generations(
            workspace_id=workspace_id, project_id=project_id, status=status, limit=limit, cursor=cursor
        )
    runs = [run_from_generation(g) for g in page.items]
    await acct.history.settle(runs)
    await learn_media(ctx.request_context.lifespan_context, [o.url for run in runs for o in run.outputs])
    known = await acct.history.entries(g.run_id for g in page.items)
    # A generation says more than a run (its project, model): kept, but its cost as run_data labels it.
    items = [
        {k: v for k, v in results.dump(g).items() if k != "charged_cost"} | _remembered(run, known)
        for g, run in zip(page.items, runs, strict=True)
    ]
    data: dict[str, Any] = {"generations": items, "next_cursor": page.next_cursor}
    if page.total_estimate is not None:
        data["total_estimate"] = page.total_estimate
    filters = {"workspace_id": workspace_id, "project_id": project_id, "status": status}
    at_least = max(page.total_estimate or 0, await _journal_count(acct, workspace_id, project_id, status))
    header = page_header(len(items), at_least, page.next_cursor, cursor, filters)
    lost = await acct.history.unconfirmed(older_than=LOST_AFTER_SECONDS) if cursor is None else []
    notes = []
    if lost:
        # Starts whose answer never came back (the server stopped mid-call): the run may exist.
        data["unconfirmed_starts"] = [journal_fields(e) | {"started_at": e.started_at} for e in lost]
        notes.append(f"{len(lost)} start(s) never confirmed (cut off by a stop): see unconfirmed_starts.")
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs, images=False)
    lines = [history_line(item) for item in items]
    content: list[ContentBlock] = [TextContent(type="text", text="\n".join([header, *lines, *notes]))]
    for run in runs:
        content += rendering.output_blocks(run, {}, shown.texts)
    return results.structured(data, content)


def page_header(
    count: int,
    at_least: int,
    next_cursor: str | None,
    cursor: str | None,
    filters: Mapping[str, str | None],
) -> str:
    """What a page holds and how to get the next one, e.g. 'Showing 10 of 17+ runs, newest first.
    More: list_generations with cursor="…" (and the same filters).'"""
    where = ", ".join(f"{name}={value}" for name, value in filters.items() if value)
    scope = f" ({where})" if where else ""
    if count == 0:
        return f"No runs{scope}{' on this page' if cursor else ''}."
    noun = "run" if count == 1 else "runs"
    if next_cursor is None:
        if cursor is None:
            return f"Showing all {count} {noun}{scope}, newest first."
        return f"Showing the last {count} {noun}{scope}: the end of the history."
    of = f" of {max(at_least, count + 1)}+"
    later = "a later page: " if cursor else ""
    again = f", {where}" if where else ""
    return (
        f"Showing {later}{count}{of} runs{scope}, newest first. More: list_generations with "
        f'cursor="{next_cursor}"{again}.'
    )


async def _journal_count(
    acct: Account, workspace_id: str | None, project_id: str | None, status: str | None
) -> int:
    """How many runs this server remembers starting under these filters: a floor for the total,
    which FLORA's history does not always give."""
    entries = await acct.history.recent(workspace_id=workspace_id, project_id=project_id, limit=JOURNAL_COUNT)
    return sum(1 for e in entries if e.run_id and (status is None or e.status == status))


def history_line(item: Mapping[str, Any]) -> str:
    """'- run_… image t2i-flux-2-pro completed "a ceramic mug on a sunlit…" https://…': one run."""
    model = item.get("model")
    if isinstance(model, Mapping):
        model = model.get("model_id")
    outputs = item.get("outputs") or []
    type_ = item.get("type") or next((_TYPE_BY_OUTPUT.get(o.get("type")) for o in outputs), None)
    parts = [f"- {item['run_id']}", type_ or "?", model or "default model", _status(item)]
    prompt = item.get("prompt")
    parts.append(f'"{_start(prompt)}"' if prompt else "(prompt unknown: not started here)")
    if outputs:
        first = str(outputs[0].get("url", ""))
        more = f" (+{len(outputs) - 1} more)" if len(outputs) > 1 else ""
        parts.append(("(text below)" if not first.startswith("http") else first) + more)
    return " ".join(parts)


def _status(item: Mapping[str, Any]) -> str:
    status = str(item.get("status"))
    if status == "failed":
        return f"failed ({item.get('error_message') or item.get('error_code') or 'no reason given'})"
    if status in ("pending", "running"):
        return f"{status} {float(item.get('progress') or 0):.0f}%"
    return status


def _start(prompt: str) -> str:
    flat = " ".join(prompt.split())
    if len(flat) <= PROMPT_CHARS:
        return flat
    cut = flat[: PROMPT_CHARS - 1]
    words = cut.rsplit(" ", 1)[0] if " " in cut[PROMPT_CHARS // 2 :] else cut  # whole words if it can
    return words.rstrip(" ,;:") + "…"


async def _by_id(ctx: Ctx, run_ids: list[str]) -> CallToolResult:
    for run_id in run_ids:
        _checks.check_id("run_id", run_id)
    unique = list(dict.fromkeys(run_ids))
    acct = await account(ctx)
    known = await acct.history.entries(unique)
    for run_id, entry in known.items():  # after a restart, the journal knows each run's project
        if acct.runs.get(run_id) is None and entry.project_id:
            acct.runs.add(run_id, project_id=entry.project_id, estimated_seconds=None)
    with api_errors():
        try:
            runs = await _follow.read(ctx, acct, unique, 0)
        except NotFoundError as exc:
            raise ToolError(await not_found(acct, unique, exc)) from exc
    items = [
        results.run_data(r) | (journal_fields(known[r.run_id]) if r.run_id in known else {}) for r in runs
    ]
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs)
    content = rendering.generation_content(runs, shown.images, (), shown.texts)
    return results.structured({"generations": items, "next_cursor": None}, content)


async def not_found(acct: Account, run_ids: Sequence[str], exc: NotFoundError) -> str:
    """Why a run id was not found, with the closest ids this key knows (the journal's recent runs,
    else FLORA's newest) and where to look them up."""
    known = await _known_ids(acct)
    missing = [r for r in run_ids if r not in known] or list(run_ids)
    parts = []
    for run_id in missing:
        close = closest(run_id, known)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        parts.append(f"Run {run_id!r} was not found.{hint}")
    traced = f" (request-id {exc.request_id})" if exc.request_id else ""
    return (
        " ".join(parts)
        + f"{traced} list_generations lists this key's runs, newest first; use a run_id from it or "
        "from create_generation."
    )


def closest(run_id: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known ids nearest to a mistyped one: at most two edits away (a character dropped, added,
    changed, or two swapped), nearest first."""
    scored = sorted((_edits(run_id, other), other) for other in dict.fromkeys(known) if other != run_id)
    return [other for distance, other in scored if distance <= 2][:n]


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: Levenshtein with adjacent swaps counted as one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


async def _known_ids(acct: Account) -> list[str]:
    entries = await acct.history.recent(workspace_id=None, project_id=None, limit=KNOWN_IDS)
    ids = [e.run_id for e in entries if e.run_id]
    try:  # FLORA's own newest runs too: runs started elsewhere, or with the journal off
        page = await acct.client.list_generations(limit=100)
        ids += [g.run_id for g in page.items]
    except FloraError:
        pass  # a hint, not the answer
    return ids


def _remembered(run: Run, known: Mapping[str, Any]) -> dict[str, Any]:
    """A run as FLORA tells it, with what the journal remembers of its request."""
    entry = known.get(run.run_id)
    return results.run_data(run) | (journal_fields(entry) if entry else {})
