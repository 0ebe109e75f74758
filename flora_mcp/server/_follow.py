"""The one path from run ids to an answer: wait, journal, previews, result.

Every tool that returns runs ends the same way: wait for them (progress to the host), write how
they ended to the journal (`History.settle`: status, outputs, the bill once settled), fetch their
previews within one budget (`_inline`), and answer with the runs whole next to the tool's own
fields. Runs this call started are never lost on the way: when their status cannot be read, the
answer still lists every run id, with what to call next, instead of an error that hides them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp.types import CallToolResult

from flora_mcp import rendering
from flora_mcp.client import FloraError, Run
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._context import Ctx, advice, learn_media
from flora_mcp.server._inline import inline_outputs
from flora_mcp.server.waiting import wait_for_runs

Row = Callable[[Run], dict[str, Any]]


@dataclass(frozen=True)
class Followed:
    """Runs this call started, as last read, in the order started."""

    runs: list[Run]
    unread: list[str] = field(default_factory=list)  # started, but their status could not be read
    notes: list[str] = field(default_factory=list)

    def rows(self, row: Row = results.run_data) -> list[dict[str, Any]]:
        """Each run for the agent (`row`), then each unread one by id: a paid run is always named."""
        return [row(run) for run in self.runs] + [{"run_id": i, "status": "unknown"} for i in self.unread]


async def read(ctx: Ctx, acct: Account, run_ids: Sequence[str], wait_seconds: float) -> list[Run]:
    """The runs, once ended or after `wait_seconds`, journaled (and their media hosts learned:
    `learn_media`); FLORA's errors are raised."""
    report = ctx.report_progress if wait_seconds else None
    seen = await wait_for_runs(acct.client, acct.runs, list(run_ids), wait_seconds, report)
    runs = [seen[run_id] for run_id in run_ids]
    await acct.history.settle(runs)
    await learn_media(ctx.request_context.lifespan_context, [o.url for run in runs for o in run.outputs])
    return runs


async def follow(ctx: Ctx, acct: Account, run_ids: Sequence[str], wait_seconds: float) -> Followed:
    """`read` for runs this call started: an error reading them becomes a note naming them all."""
    try:
        return Followed(await read(ctx, acct, run_ids, wait_seconds))
    except FloraError as exc:
        note = (
            f"Started {', '.join(run_ids)}, but could not read their status: {advice(exc)} "
            "Call get_generation_status with each run_id."
        )
        return Followed([], list(run_ids), [note])


async def answer(
    ctx: Ctx,
    data: dict[str, Any],
    followed: Followed,
    notes: Sequence[str] = (),
    *,
    row: Row = results.run_data,
) -> CallToolResult:
    """`data` with the runs (`row` each) and every note; the runs' summary, outputs and previews."""
    runs = followed.runs
    shown = await inline_outputs(ctx.request_context.lifespan_context, runs)
    all_notes = [*notes, *followed.notes]
    data["runs"] = followed.rows(row)
    if all_notes:
        data["notes"] = all_notes
    content = rendering.generation_content(runs, shown.images, all_notes, shown.texts)
    return results.structured(data, content)
