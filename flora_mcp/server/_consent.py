"""Spending the user agrees to: above `settings.confirm_above` USD, a call asks before it starts.

FLORA quotes a cost only in the answer to a start, when the money is spent, so the total is
estimated beforehand from the model list (`estimated_credits`). A tool asks through a parameter
`Annotated[ElicitationResult[Answer], Resolve(resolver)]` whose resolver returns `decide(...)`: the
SDK turns an `Elicit` into the era's round trip (an `InputRequiredResult` the client answers and
retries on 2026-07-28 connections, a live `elicitation/create` before), and a resolver sees the
tool's other arguments by name, so the question can name the total. `ctx.elicit` would not do: it
raises `NoBackChannelError` on 2026-07-28 and stateless connections.

A client that cannot ask gets nothing started and the total to ask the user about;
`confirm_spend_usd` (at least the total) is the user's yes relayed by the agent. A client that
can ask is always asked: the user's own answer beats the agent's word.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Elicit
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from flora_mcp.client import GenerationType, Model
from flora_mcp.server._context import Ctx
from flora_mcp.server._prices import CREDITS, LISTED, USD_PER_CREDIT, Prices, price
from flora_mcp.server._references import is_text_to

ASKING_ERA: Final = "2026-07-28"  # from here elicitation rides InputRequiredResult: no back channel needed
_BASES: Final = {
    CREDITS: f"estimated_credits x ${USD_PER_CREDIT} (an assumed rate)",
    "settled": "this key's settled bills",
    LISTED: "FLORA's listed price",
}
PLURAL: Final = {"image": "images", "video": "videos", "audio": "audio clips", "text": "texts"}


class Answer(BaseModel):
    """The form the user answers."""

    start: bool = Field(title="Start and spend this", description="Untick or decline to start nothing.")


class Decided(BaseModel):
    """An answer found without asking: below the threshold, confirmed by argument, or not askable."""

    start: bool
    why: str
    asked: bool = False  # the user answered


Consent = ElicitationResult[Answer | Decided]
"""What a tool's consent parameter receives."""


@dataclass(frozen=True)
class Line:
    """One thing a call buys: a run of `model` (or of the workspace default) and its estimate."""

    type: str  # a generation type, or "technique run" / "action run"
    model: str | None  # None: the workspace's default, priced as `priced_as`
    usd: float
    priced_as: str | None = None
    basis: str = CREDITS  # what the estimate rests on (`_prices`)


@dataclass(frozen=True)
class Spend:
    lines: tuple[Line, ...]

    @property
    def total_usd(self) -> float:
        """Rounded up to the cent: the figure shown is the figure a confirmation must reach."""
        return math.ceil(round(sum(line.usd for line in self.lines) * 100, 6)) / 100

    def basis(self) -> str:
        """What the total rests on, e.g. "this key's settled bills, estimated_credits x $0.0025"."""
        kinds = {"settled" if line.basis.endswith(" settled") else line.basis for line in self.lines}
        return ", ".join(_BASES.get(kind, kind) for kind in sorted(kinds))

    def buys(self) -> str:
        """'2 images of t2i-flux-schnell, 1 video of the workspace default (priced as t2v-…)'."""
        counts = Counter((line.type, line.model, line.priced_as) for line in self.lines)
        parts = []
        for (type_, model, priced_as), n in counts.items():
            kind = PLURAL.get(type_, f"{type_}s") if n > 1 else type_
            what = model or f"the workspace's default model (estimated as {priced_as or 'unknown'})"
            parts.append(f"{n} {kind} of {what}")
        return ", ".join(parts)


def line_for(
    models: Sequence[Model], type_: GenerationType, model_id: str | None, prices: Prices | None = None
) -> Line:
    """The estimate of one run (`_prices`: learned from settled bills, else credits). FLORA does not
    say which model is a workspace's default, so an unnamed model is priced as the cheapest
    text-to-X model: an estimate, and labelled one."""
    prices = prices or {}
    if model_id is not None:
        found = next((m for m in models if m.model_id == model_id), None)
        if found is None:
            return Line(type_, model_id, 0.0)
        known = price(found, prices)
        return Line(type_, model_id, known.usd, basis=known.basis)
    text_to = [m for m in models if is_text_to(m.model_id, type_)] or list(models)
    cheapest = min(text_to, key=lambda m: price(m, prices).usd, default=None)
    if cheapest is None:
        return Line(type_, None, 0.0)
    known = price(cheapest, prices)
    return Line(type_, None, known.usd, cheapest.model_id, basis=known.basis)


def can_ask(ctx: Ctx) -> bool:
    """Whether this client can be asked now: it declared form elicitation, and the era's channel
    exists (2026-07-28 needs none; older connections need a back channel, which stateless HTTP lacks)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    return (version is not None and is_version_at_least(version, ASKING_ERA)) or ctx.session.can_send_request


def decide(ctx: Ctx, spend: Spend, confirm_spend_usd: float | None) -> Elicit[Answer] | Decided:
    """The resolver's answer: go ahead, stop, or ask the user."""
    threshold = ctx.request_context.lifespan_context.settings.confirm_above
    total = spend.total_usd
    if total <= threshold:
        return Decided(start=True, why="below the confirmation threshold")
    if can_ask(ctx):
        return Elicit(
            f"This will spend about ${total:.2f} of FLORA credits (estimate; your confirmation "
            f"threshold is ${threshold:.2f}): {spend.buys()}. Start?",
            Answer,
        )
    if confirm_spend_usd is not None and confirm_spend_usd >= total:
        return Decided(start=True, why=f"confirm_spend_usd {confirm_spend_usd} covers it")
    return Decided(
        start=False,
        why=(
            f"Nothing started: this would spend about ${total:.2f} (estimate: {spend.buys()}), above the "
            f"confirmation threshold of ${threshold:.2f}, and this client cannot ask the user. Ask the "
            f"user; if they agree, call again with confirm_spend_usd={total:.2f}."
        ),
    )


def outcome(
    answer: ElicitationResult[Any],
    *,
    agreed: Callable[[Any], bool] = lambda data: isinstance(data, Answer) and data.start,
    refused: str = "Nothing started: the user did not agree to spend this.",
) -> Decided:
    """Whatever way the answer came (the resolver's own decision, or the user's form, `agreed` telling
    a yes), as go or stop with the reason."""
    if isinstance(answer, AcceptedElicitation):
        data: Any = answer.data
        if isinstance(data, Decided):
            return data
        if agreed(data):
            return Decided(start=True, why="the user agreed", asked=True)
    return Decided(start=False, why=refused, asked=True)


def total(quotes: Iterable[float | None]) -> float | None:
    """The sum of the known quotes, or None when there is none (never a made-up 0)."""
    known = [q for q in quotes if q is not None]
    return round(sum(known), 6) if known else None
