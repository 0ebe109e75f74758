"""Which model a generation runs on, and with which params, decided before spending.

A model asked for is checked (references by prefix, then its declared params). With none asked
for and no params, `model` is left out and FLORA runs the workspace default (what the user
expects; the catalogue's order means nothing and prices differ ~200x). With params but no model,
the default cannot be checked against them, so the cheapest model that can honour them is chosen
among the text-to-X models (or, with a reference, the models taking that reference) and named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import GenerationType
from flora_mcp.server import _checks
from flora_mcp.server._account import Account
from flora_mcp.server._context import api_errors
from flora_mcp.server._references import TEXT_TO, given_references


@dataclass(frozen=True)
class ModelChoice:
    model: str | None  # None: FLORA's workspace default
    params: dict[str, Any]
    note: str | None = None  # why this model, when this server chose it


async def choose(
    acct: Account,
    type_: GenerationType,
    model: str | None,
    params: Mapping[str, Any],
    media_origins: Sequence[str],
) -> ModelChoice:
    if model is None and not params:
        return ModelChoice(None, {})
    with api_errors():
        models = await acct.models.get(type_)
    if model is not None:
        found = _checks.find_model(models, model, type_)
        sent = _checks.check_params(found, params, media_origins)
        return ModelChoice(found.model_id, sent, _checks.spelled(found, params, sent))
    chosen = _checks.choose_model(models, type_, params)
    if chosen is None:
        raise ToolError(_none_fits(models, type_, params))
    kind = (
        "taking " + ", ".join(sorted(given_references(params)))
        if given_references(params)
        else f"text-to-{type_}"
    )
    note = (
        f"No model was given, so {chosen.model_id} was chosen: the cheapest {kind} model accepting these "
        f"params ({chosen.estimated_credits} credits). Pass model to choose another."
    )
    sent = _checks.check_params(chosen, params, media_origins)
    spelled = _checks.spelled(chosen, params, sent)
    return ModelChoice(chosen.model_id, sent, f"{note} {spelled}" if spelled else note)


def _none_fits(models: Sequence[Any], type_: GenerationType, params: Mapping[str, Any]) -> str:
    references = sorted(given_references(params))
    if references:
        return (
            f"No {type_} model takes {', '.join(references)} with these params. Choose a model from "
            f"list_models with type {type_!r} (its id's prefix says what it takes: i2i-/i2v- take "
            "params.image_url, iv2v- also video_url, i2t-/v2t- take image_urls/video_urls) and pass it."
        )
    text_to = [m for m in models if m.model_id.startswith(TEXT_TO[type_])]
    why = _checks.params_problem(text_to[0], params) if text_to else f"there is no text-to-{type_} model"
    return (
        f"No text-to-{type_} model accepts these params ({why}). Pass model (a model_id from "
        f"list_models with type {type_!r}) or leave params out for the workspace's default model."
    )
