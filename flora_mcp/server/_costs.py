"""One cost story: what runs have cost, and what a run of a model will likely cost, in USD.

FLORA says three different things about money: a model's `estimated_credits` (another unit), the
start answer's `charged_cost` (a quote, often low), and the run's own `charged_cost`, which settles
a little after the run ends (the bill). This module turns them into one story:

- `summarize` sums the bills of a period's runs by project, type and model, and counts apart the
  runs not settled yet (never as 0). Bills come from FLORA (`GET /generations`, `GET /runs/{id}`),
  what FLORA does not keep (type, quote) from the local run journal.
- `estimate` prices one run of a model: the mean of this key's settled bills of that model when
  there are any (learned), else its credits at `USD_PER_CREDIT`, always saying which.

The shaping is pure (data in, dicts and text out); `gather` and `learned_prices` do the reading.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from flora_mcp.client import FloraError, GenerationType, Model
from flora_mcp.server import _results as results
from flora_mcp.server._consent import Line, line_for
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server._prices import USD_PER_CREDIT, Billed, Prices, learned, price
from flora_mcp.server._references import TYPE_OF_PREFIX, prefix_of

if TYPE_CHECKING:
    from flora_mcp.server._account import Account

# How far back a summary reads FLORA's history: 10 pages of 100, newest first.
MAX_PAGES: Final = 10
PAGE_SIZE: Final = 100
# Journal rows read for a summary or for learning prices.
JOURNAL_ROWS: Final = 1000
# Runs the journal knows but FLORA's history does not list (technique and action runs): read one by one.
MAX_SINGLE_READS: Final = 20
# Unsettled run ids named in a summary; the count is always whole.
MAX_LISTED: Final = 10
PERIOD_HELP: Final = "today, 7d (last 7 days), 24h, 2026-12-01 (since that day), 2026-12 (that month) or all"
COST_PERIOD_HELP: Final = (
    "Costs instead of runs: settled USD, runs not settled yet, by project, type and model, for "
    "today, 7d, 24h, 2026-12-01 (since), 2026-12 (month) or all"
)
PRICE_NOTE: Final = (
    f"usd: a run's estimated cost. usd_basis 'credits': estimated_credits x ${USD_PER_CREDIT} "
    "(an assumed rate; FLORA's depends on the plan); 'N settled': the mean bill of this key's N "
    "settled runs of that model. A start answer adds FLORA's quote; the bill settles after the run."
)
_RELATIVE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([dhw])")
_UNITS: Final = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


class JournalRow(Billed, Protocol):
    """What a summary reads of a journal entry (the journal's storage may change; these fields stay)."""

    @property
    def run_id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def workspace_id(self) -> str | None: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def quote_usd(self) -> float | None: ...
    @property
    def started_at(self) -> float: ...


@dataclass(frozen=True)
class Period:
    since: float | None  # epoch seconds; None: all time
    until: float | None
    label: str

    def holds(self, when: float) -> bool:
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)


@dataclass
class CostRun:
    """One run of a summary, merged from FLORA and the journal."""

    run_id: str
    created_at: float  # epoch seconds
    status: str
    cost_usd: float | None  # the bill; None until settled
    quote_usd: float | None = None
    project_id: str | None = None
    type: str | None = None
    model: str | None = None


def parse_period(text: str, now: float | None = None) -> Period:
    """`today`, `7d`/`24h`/`2w`, `2026-12-01` (since that day), `2026-12` (that month), `all`; local time.
    ValueError naming the accepted forms otherwise."""
    now = time.time() if now is None else now
    given = text.strip().lower()
    local_now = datetime.fromtimestamp(now)
    if given in ("all", "ever", ""):
        return Period(None, None, "all time")
    if given == "today":
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(midnight.timestamp(), None, "today")
    if given == "yesterday":
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period((midnight - timedelta(days=1)).timestamp(), midnight.timestamp(), "yesterday")
    if match := _RELATIVE.fullmatch(given):
        amount, unit = float(match[1]), match[2]
        word = {"h": "hour", "d": "day", "w": "week"}[unit]
        return Period(now - amount * _UNITS[unit], None, f"the last {match[1]} {word}(s)")
    try:
        if len(given) == 7:  # a month
            start = datetime.strptime(given, "%Y-%m")
            end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
            return Period(start.timestamp(), end.timestamp(), start.strftime("%B %Y"))
        day = datetime.strptime(given, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"cost_period {text!r} is not a period: use {PERIOD_HELP}.") from None
    return Period(day.timestamp(), None, f"since {given}")


def seconds(timestamp: float) -> float:
    """FLORA's times are epoch milliseconds, the journal's seconds: both as seconds."""
    return timestamp / 1000 if timestamp > 1e11 else timestamp


def type_of(model: str | None) -> str | None:
    return TYPE_OF_PREFIX.get(prefix_of(model)) if model else None


def merge(
    flora: Iterable[CostRun], journal: Iterable[JournalRow], single_reads: Mapping[str, CostRun] | None = None
) -> list[CostRun]:
    """FLORA's word on status and bill wins; the journal adds the type, quote and project it knows,
    and the runs FLORA's history does not list (from `single_reads` when read, else as journaled)."""
    runs = {run.run_id: run for run in flora}
    for entry in journal:
        if entry.run_id is None:
            continue  # an intent: no run, no bill
        run = runs.get(entry.run_id) or (single_reads or {}).get(entry.run_id)
        if run is None:
            run = CostRun(entry.run_id, entry.started_at, entry.status, entry.cost_usd)
        runs[entry.run_id] = run
        run.quote_usd = run.quote_usd if run.quote_usd is not None else entry.quote_usd
        run.project_id = run.project_id or entry.project_id
        run.type = entry.type or run.type
        run.model = run.model or entry.model
        if run.cost_usd is None and entry.cost_usd is not None:
            run.cost_usd = entry.cost_usd
    for run in runs.values():
        run.type = run.type or type_of(run.model)
    return sorted(runs.values(), key=lambda r: r.created_at, reverse=True)


def summarize(runs: Sequence[CostRun], period: Period, *, complete: bool = True) -> dict[str, Any]:
    """Settled USD total and the runs not settled yet, by project, type and model. A failed run
    counts with whatever FLORA billed for it; a run still going is unsettled."""
    settled = [r for r in runs if r.cost_usd is not None]
    unsettled = [r for r in runs if r.cost_usd is None]
    data: dict[str, Any] = {
        "period": period.label,
        "settled_usd": _usd(r.cost_usd for r in settled),
        "settled_runs": len(settled),
        "unsettled_runs": len(unsettled),
    }
    if unsettled:
        quotes = [r.quote_usd for r in unsettled if r.quote_usd is not None]
        data["unsettled_quoted_usd"] = _usd(quotes) if quotes else None
        data["unsettled_run_ids"] = [r.run_id for r in unsettled[:MAX_LISTED]]
    for name, key in (("by_project", "project_id"), ("by_type", "type"), ("by_model", "model")):
        data[name] = _groups(runs, key)
    if not complete:
        data["partial"] = f"only the newest {MAX_PAGES * PAGE_SIZE} runs of FLORA's history were read"
    return data


def _groups(runs: Sequence[CostRun], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[CostRun]] = defaultdict(list)
    for run in runs:
        groups[getattr(run, key) or "unknown"].append(run)
    shaped = {
        name: {
            "settled_usd": _usd(r.cost_usd for r in members if r.cost_usd is not None),
            "runs": len(members),
            "unsettled": sum(1 for r in members if r.cost_usd is None),
        }
        for name, members in groups.items()
    }
    return dict(sorted(shaped.items(), key=lambda item: -item[1]["settled_usd"]))


def _usd(values: Iterable[float | None]) -> float:
    return round(math.fsum(v for v in values if v is not None), 6)


def summary_text(data: Mapping[str, Any]) -> str:
    """The summary in a few lines an agent can repeat to the user."""
    lines = [
        f"Costs for {data['period']}: ${data['settled_usd']:.2f} settled (the bills) over "
        f"{data['settled_runs']} run(s)."
    ]
    if data["unsettled_runs"]:
        quoted = data.get("unsettled_quoted_usd")
        about = f" (quoted ${quoted:.2f})" if quoted is not None else ""
        lines.append(
            f"{data['unsettled_runs']} run(s) not settled yet{about}: FLORA bills a little after a run ends; "
            "ask again later. They are not counted as $0."
        )
    for name, title in (("by_project", "By project"), ("by_type", "By type"), ("by_model", "By model")):
        groups = data[name]
        if groups:
            parts = [
                f"{key} ${g['settled_usd']:.2f} ({g['runs']} run(s)"
                + (f", {g['unsettled']} unsettled)" if g["unsettled"] else ")")
                for key, g in groups.items()
            ]
            lines.append(f"{title}: " + "; ".join(parts) + ".")
    if partial := data.get("partial"):
        lines.append(f"Partial: {partial}; narrow the period or pass project_id.")
    return "\n".join(lines)


def estimate(model: Model, prices: Prices) -> dict[str, Any]:
    """One run of `model` in USD and what the figure rests on (see `PRICE_NOTE`)."""
    found = price(model, prices)
    return {"usd": found.usd, "usd_basis": found.basis}


def with_price_note(data: dict[str, Any]) -> dict[str, Any]:
    return data | {"price_note": PRICE_NOTE}


async def line(
    acct: Account, type_: GenerationType, model_id: str | None, prices: Prices | None = None
) -> Line:
    """What one run of `model_id` (None: the workspace default) will likely cost, for the spending
    consent and the start answers; `prices` from `learned_prices`, read here when not given."""
    with api_errors():
        models = await acct.models.get(type_)
    return line_for(models, type_, model_id, await learned_prices(acct) if prices is None else prices)


async def learned_prices(acct: Account) -> Prices:
    """What this key's settled runs cost per model, from the journal (empty when it is off)."""
    return learned(await acct.history.recent(workspace_id=None, project_id=None, limit=JOURNAL_ROWS))


async def gather(
    acct: Account, period: Period, *, workspace_id: str | None, project_id: str | None
) -> dict[str, Any]:
    """Read the period's runs from FLORA and the journal, and summarize them."""
    flora: list[CostRun] = []
    cursor: str | None = None
    complete = True
    for page_number in range(MAX_PAGES):
        page = await acct.client.list_generations(
            workspace_id=workspace_id, project_id=project_id, limit=PAGE_SIZE, cursor=cursor
        )
        older = False
        for g in page.items:
            created = seconds(g.created_at)
            if period.since is not None and created < period.since:
                older = True
                continue
            if period.holds(created):
                model = g.model.model_id if g.model else None
                flora.append(
                    CostRun(g.run_id, created, str(g.status), g.charged_cost, None, g.project_id, None, model)
                )
        cursor = page.next_cursor
        if older or cursor is None:
            break
        if page_number == MAX_PAGES - 1:
            complete = False
    rows = await acct.history.recent(workspace_id=workspace_id, project_id=project_id, limit=JOURNAL_ROWS)
    journal = [e for e in rows if e.run_id is not None and period.holds(e.started_at)]
    listed = {r.run_id for r in flora}
    missing = [e.run_id for e in journal if e.run_id and e.run_id not in listed and e.cost_usd is None]
    single: dict[str, CostRun] = {}
    for run_id in missing[:MAX_SINGLE_READS]:
        try:
            run = await acct.client.get_run(run_id)
        except FloraError:  # gone or unreadable: counted as the journal has it
            continue
        single[run_id] = CostRun(run_id, seconds(run.created_at), str(run.status), run.charged_cost)
    return summarize(merge(flora, journal, single), period, complete=complete)


async def cost_result(
    ctx: Ctx, cost_period: str, workspace_id: str | None, project_id: str | None
) -> CallToolResult:
    """`list_generations(cost_period=…)`: the summary as structured content and a few lines of text."""
    try:
        period = parse_period(cost_period)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    acct = await account(ctx)
    with api_errors():
        costs = await gather(acct, period, workspace_id=workspace_id, project_id=project_id)
    data: dict[str, Any] = {"generations": [], "next_cursor": None, "costs": costs}
    return results.structured(data, [TextContent(type="text", text=summary_text(costs))])
