"""Argument checks made before any credit is spent, each failing with a message that names the fix.

Pure functions over the API client's models: the API would refuse the same requests, but
later, with less to go on (the ids it would accept, the options a parameter offers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, get_args

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import GenerationType, Model, ModelParam
from flora_mcp.server._families import CONFUSED_WITH_TYPES, FAMILIES
from flora_mcp.server._references import (
    REFERENCE_PARAMS,
    check_references,
    given_references,
    is_text_to,
    takes,
)

GENERATION_TYPES: Final = get_args(GenerationType)
_ID_PATTERNS: Final = {"workspace_id": "ws_", "project_id": "prj_", "run_id": "run_"}
_RATIO: Final = re.compile(r"(?<![\d.])(\d{1,2})\s*[:x\u00d7_/-]\s*(\d{1,2})(?![\d.])")
# A model family's prefix (dash or not) or a word agents confuse with a type: named where a type belongs.
_FAMILY_WORDS: Final = (*(f.prefix.rstrip("-") for f in FAMILIES), *CONFUSED_WITH_TYPES)
_MODEL_FAMILIES: Final = re.compile("^(" + "|".join(map(re.escape, _FAMILY_WORDS)) + ")", re.IGNORECASE)


def check_type(value: str) -> GenerationType:
    if value in GENERATION_TYPES:
        return value  # type: ignore[return-value]  # narrowed by the membership test
    hint = " That is a model family, not a type;" if _MODEL_FAMILIES.match(value) else ""
    raise ToolError(
        f"type {value!r} is not valid.{hint} type must be exactly one of: {', '.join(GENERATION_TYPES)}."
    )


def check_id(name: str, value: str) -> str:
    prefix = _ID_PATTERNS[name]
    if not value.startswith(prefix) or len(value) == len(prefix) or any(c.isspace() for c in value):
        source = {
            "workspace_id": "list_workspaces",
            "project_id": "list_projects or create_project",
            "run_id": "create_generation or list_generations",
        }[name]
        raise ToolError(
            f"{name} {value!r} is not valid: it must start with '{prefix}'. Get one from {source}."
        )
    return value


def check_prompt(value: str) -> str:
    if not value.strip():
        raise ToolError("prompt is empty: describe what to generate, e.g. 'a ceramic mug on a sunlit table'.")
    return value


def find_model(models: Sequence[Model], model_id: str, type_: GenerationType) -> Model:
    for model in models:
        if model.model_id == model_id:
            return model
    available = ", ".join(m.model_id for m in models) or "none"
    raise ToolError(
        f"Model {model_id!r} is not available for type {type_!r}. "
        f"Use one of: {available} (from list_models with type {type_!r}), or omit model for the default."
    )


def check_params(model: Model, params: Mapping[str, Any], media_origins: Sequence[str]) -> dict[str, Any]:
    """`params` checked against the model: its references by prefix, the rest against its declared
    params (names, types, options, bounds). Returns them as FLORA compares them: option values are
    strings, so a number given for a string option is sent as its string, and an option named in
    other words (`1:1` for `ASPECT_1_1`) is sent in the model's spelling."""
    check_references(model.model_id, params, media_origins)
    problem = params_problem(model, params)
    if problem:
        raise ToolError(problem)
    return {name: _as_option(model, name, value) for name, value in params.items()}


def params_problem(model: Model, params: Mapping[str, Any]) -> str | None:
    """What is wrong with `params` (references aside) for this model, or None."""
    declared = {p.name: p for p in model.params}
    unknown = [n for n in params if n not in declared and n not in REFERENCE_PARAMS]
    if "num_outputs" in unknown or "n" in unknown:
        return (
            f"model {model.model_id!r} makes one output per run: FLORA would ignore "
            f"{'num_outputs' if 'num_outputs' in unknown else 'n'} and bill one. For several, start several "
            "runs (generate's count, or one create_generation per output)."
        )
    if unknown:
        accepted = ", ".join(declared) or "none"
        return (
            f"params {', '.join(map(repr, unknown))} not accepted by model {model.model_id!r} (FLORA would "
            f"ignore them and bill the run). Accepted params: {accepted}."
        )
    missing = [p.name for p in model.params if p.required and p.default is None and p.name not in params]
    if missing:
        return f"model {model.model_id!r} requires params: {', '.join(missing)}."
    for name, value in params.items():
        if name in declared and (problem := _param_problem(declared[name], value)):
            return f"params.{name} = {_short(value)} is not valid for model {model.model_id!r}: {problem}"
    return None


def choose_model(models: Sequence[Model], type_: GenerationType, params: Mapping[str, Any]) -> Model | None:
    """With no model asked for but params to honour: the cheapest model that takes exactly these
    references (a text-to-X model when there are none) and accepts the rest; None if none does."""
    references = given_references(params)
    fits = [
        m
        for m in models
        if (takes(m.model_id, references) if references else is_text_to(m.model_id, type_))
        and params_problem(m, params) is None
    ]
    return min(fits, key=lambda m: m.estimated_credits, default=None)


def _as_option(model: Model, name: str, value: Any) -> Any:
    """A value as FLORA compares it: an option in the model's own spelling (see `option_value`)."""
    param = next((p for p in model.params if p.name == name), None)
    if param is None or not param.options:
        return value
    if param.type == "string[]" and isinstance(value, list):
        return [option_value(param, v) for v in value]
    return option_value(param, value)


def option_value(param: ModelParam, value: Any) -> Any:
    """The option `value` names, in this model's spelling, or None when it names none or several.

    Options differ by model (one model's `1:1` is another's `ASPECT_1_1` or `square_1_1`, `TURBO`
    is written in capitals): a value is taken as the option it equals, else the one option whose
    value or label it equals ignoring case, else the one option whose aspect ratio it writes."""
    text = _option_text(value)
    allowed = [o.value for o in param.options or ()]
    if text in allowed or not isinstance(text, str):
        return text if text in allowed else None
    for key in (_folded, ratio_of):
        wanted = key(text)
        if wanted is None:
            continue
        found = {o.value for o in param.options or () if wanted in (key(o.value), key(o.label))}
        if found:
            return found.pop() if len(found) == 1 else None
    return None


def ratio_of(text: str) -> str | None:
    """'16:9' for '16:9', 'landscape_16_9', 'ASPECT_16_9' or '16x9'; None when it writes no ratio."""
    found = _RATIO.search(text)
    return f"{int(found[1])}:{int(found[2])}" if found else None


def spelled(model: Model, given: Mapping[str, Any], sent: Mapping[str, Any]) -> str | None:
    """What was sent in the model's spelling instead of the value given, said once."""
    changed = [
        f"{name}={sent[name]!r} for {value!r}"
        for name, value in given.items()
        if name in sent and sent[name] != value and sent[name] != _option_text(value)
    ]
    if not changed:
        return None
    return f"Sent {', '.join(changed)}: {model.model_id} spells these options so."


def _folded(text: str) -> str:
    return text.strip().casefold()


def _option_text(value: Any) -> Any:
    """5 and 5.0 as FLORA's string options write them ("5"); other values as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _param_problem(param: ModelParam, value: Any) -> str | None:
    kind = param.type
    if value is None:
        return None if kind == "int?" else "null is not accepted; omit it to use the default."
    if param.options:
        allowed = [o.value for o in param.options]
        values = value if kind == "string[]" and isinstance(value, list) else [value]
        if all(option_value(param, v) is not None for v in values):
            return None
        return f"accepted values are {', '.join(allowed)} (strings, as listed by list_models)."
    if kind not in _TYPE_WORDS:  # a type newer than this server: let the API judge it
        return None
    wrong = f"expected {_TYPE_WORDS[kind]}."
    if kind in ("int", "int?", "seed", "float"):
        numeric = (int, float) if kind == "float" else (int,)
        if isinstance(value, bool) or not isinstance(value, numeric):
            return wrong
        if isinstance(value, float) and not math.isfinite(value):
            return "expected a finite number."
        return _bounds_problem(param, value)
    if kind == "string[]":
        return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else wrong
    expected = {"string": str, "bool": bool, "dict": dict}[kind]
    return None if isinstance(value, expected) else wrong


def _bounds_problem(param: ModelParam, value: float) -> str | None:
    low, high = param.min, param.max
    if (low is not None and value < low) or (high is not None and value > high):
        return f"must be between {_num(low)} and {_num(high)}."
    return None


_TYPE_WORDS: Final = {
    "string": "a string",
    "string[]": "a list of strings",
    "bool": "true or false",
    "int": "an integer",
    "int?": "an integer or null",
    "seed": "an integer seed",
    "float": "a number",
    "dict": "an object",
}


def _num(value: float | None) -> str:
    if value is None:
        return "unbounded"
    return str(int(value)) if float(value).is_integer() else str(value)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
