"""Step 2: which model, with which params.

A real catalogue has 50+ models; listing every model's params costs an agent ~60 KB a call. So the
list is one short row per model (id, name, what it turns into what, price hint, param names), and
`model_id` gives one model's full params.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp.client import Model
from flora_mcp.server import _checks, _costs
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server._families import FAMILIES
from flora_mcp.server._references import FORMS, prefix_of
from flora_mcp.server.tools.arguments import TYPE_ENUM

WHAT_FOR: Final = {f.prefix: f.what_for for f in FAMILIES}


async def list_models(
    ctx: Ctx,
    type: Annotated[str | None, Field(json_schema_extra=TYPE_ENUM)] = None,
    model_id: str | None = None,
) -> Annotated[CallToolResult, results.ModelList]:
    type_ = _checks.check_type(type) if type is not None else None
    acct = await account(ctx)
    with api_errors():
        models = await acct.models.get(type_)
    prices = await _costs.learned_prices(acct)  # USD per run, and its basis (_costs.estimate)
    if model_id is None:
        return results.structured(
            _costs.with_price_note({"models": [brief(m) | _costs.estimate(m, prices) for m in models]})
        )
    found = next((m for m in models if m.model_id == model_id), None)
    if found is None:
        where = f"type {type_!r}" if type_ else "this key"
        raise ToolError(f"No model {model_id!r} for {where}: use a model_id from list_models.")
    return results.structured(
        _costs.with_price_note({"models": [full(found) | _costs.estimate(found, prices)]})
    )


def brief(model: Model) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model_id": model.model_id,
        "name": model.name,
        "for": WHAT_FOR.get(prefix_of(model.model_id), str(model.type)),
        "credits": model.estimated_credits,
        "params": [p.name for p in model.params],
    }
    if takes := FORMS.get(prefix_of(model.model_id)):
        row["takes"] = [f"params.{name}" for name in takes]
    if shapes := ratios(model):
        row["ratios"] = shapes
    return row


def ratios(model: Model) -> str | None:
    """The aspect ratios a model offers, compactly and in the user's words: '1:1 4:3 16:9' for
    options spelled `ASPECT_1_1`… too (those words are accepted), with the param's name when it
    is not `aspect_ratio` ('1:1 4:3 (image_size)')."""
    for param in model.params:
        shapes = [
            r for o in param.options or () if (r := _checks.ratio_of(o.value) or _checks.ratio_of(o.label))
        ]
        if shapes and len(shapes) == len(param.options or ()):
            named = "" if param.name == "aspect_ratio" else f" ({param.name})"
            return " ".join(dict.fromkeys(shapes)) + named
    return None


def full(model: Model) -> dict[str, Any]:
    data = brief(model) | results.dump(model)
    data["params"] = [p.model_dump(mode="json", exclude_none=True) for p in model.params]
    data["price_hint"] = "credits are FLORA's estimate per run, not USD; the start answer quotes USD"
    return data
