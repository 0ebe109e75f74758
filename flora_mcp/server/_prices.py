"""What one run of a model will likely cost in USD, and what the figure rests on.

One estimate serves every place that names a price before a run (the spending consent, the start
answers, `list_models`): the mean of this key's settled bills of that model when the journal has
any (learned), else the model's `estimated_credits` at `USD_PER_CREDIT`, always saying which.
Pure: the learned prices are read by the caller (`_costs.learned_prices`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from flora_mcp.client import Model

# What one of FLORA's `estimated_credits` costs in USD, as the sandbox prices it. The real rate is
# FLORA's (by plan, unpublished): estimates say so, and the start answers' quotes replace them.
USD_PER_CREDIT: Final = 0.0025
CREDITS: Final = "credits"  # the basis of an estimate from estimated_credits
LISTED: Final = "listed"  # the basis of a technique's or action's price: FLORA lists it in USD

Prices = Mapping[str, tuple[float, int]]  # model id -> (mean settled bill in USD, how many bills)


class Billed(Protocol):
    """What learning a price reads of a journal entry."""

    @property
    def model(self) -> str | None: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Price:
    usd: float
    basis: str  # CREDITS, LISTED, or "N settled": the mean bill of this key's N settled runs of the model


def learned(entries: Iterable[Billed]) -> dict[str, tuple[float, int]]:
    """Per model: the mean of this key's settled bills and how many there were."""
    bills: dict[str, list[float]] = defaultdict(list)
    for entry in entries:
        if entry.model and entry.cost_usd is not None and entry.status == "completed":
            bills[entry.model].append(entry.cost_usd)
    return {model: (round(math.fsum(b) / len(b), 6), len(b)) for model, b in bills.items()}


def price(model: Model, prices: Prices) -> Price:
    if (known := prices.get(model.model_id)) is not None:
        usd, count = known
        return Price(round(usd, 4), f"{count} settled")
    return Price(round(model.estimated_credits * USD_PER_CREDIT, 4), CREDITS)
