"""History: what was generated, newest first, or earlier runs by id, with what FLORA forgets.

FLORA's history has no prompt, type or params; the local run journal (`_history`) has them for
runs this server started, so both are merged. Earlier runs asked for by id are read together
(one request per project, see `waiting`) and shown again in one result, previews within budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp import rendering
from flora_mcp.client import Run, RunStatus
from flora_mcp.journal import JournalEntry
from flora_mcp.server import _checks, _costs
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server._history import journal_fields
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server.tools.arguments import Limit
from flora_mcp.server.waiting import run_from_generation, wait_for_runs

MAX_RUN_IDS = 20
# An intent older than this with no run id was cut off by a crash (a start answers in seconds).
LOST_AFTER_SECONDS = 120


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
    known = await acct.history.entries(g.run_id for g in page.items)
    # A generation says more than a run (its project, model): kept, but its cost as run_data labels it.
    items = [
        {k: v for k, v in results.dump(g).items() if k != "charged_cost"} | _remembered(run, known)
        for g, run in zip(page.items, runs, strict=True)
    ]
    data: dict[str, Any] = {"generations": items, "next_cursor": page.next_cursor}
    if cursor is None and (lost := await acct.history.unconfirmed(older_than=LOST_AFTER_SECONDS)):
        # Starts whose answer never came back (the server stopped mid-call): the run may exist.
        data["unconfirmed_starts"] = [journal_fields(e) | {"started_at": e.started_at} for e in lost]
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs, images=False)
    return results.structured(data, rendering.generation_content(runs, {}, (), shown.texts))


async def _by_id(ctx: Ctx, run_ids: list[str]) -> CallToolResult:
    for run_id in run_ids:
        _checks.check_id("run_id", run_id)
    unique = list(dict.fromkeys(run_ids))
    acct = await account(ctx)
    known = await acct.history.entries(unique)
    for run_id, entry in known.items():  # after a restart, the journal knows each run's project
        if acct.runs.get(run_id) is None and entry.project_id:
            acct.runs.add(run_id, project_id=entry.project_id, estimated_seconds=None)
    with api_errors(not_found="A run was not found: use run_ids from create_generation or list_generations."):
        seen = await wait_for_runs(acct.client, acct.runs, unique, 0)
    runs: list[Run] = [seen[r] for r in unique]
    await acct.history.settle(runs)
    items = [
        results.run_data(r) | (journal_fields(known[r.run_id]) if r.run_id in known else {}) for r in runs
    ]
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs)
    content = rendering.generation_content(runs, shown.images, (), shown.texts)
    return results.structured({"generations": items, "next_cursor": None}, content)


def _remembered(run: Run, known: Mapping[str, JournalEntry]) -> dict[str, Any]:
    """A run as FLORA tells it, with what the journal remembers of its request."""
    entry = known.get(run.run_id)
    return results.run_data(run) | (journal_fields(entry) if entry else {})
