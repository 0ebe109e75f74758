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

GENERATION_TYPES: Final = get_args(GenerationType)
_ID_PATTERNS: Final = {"workspace_id": "ws_", "project_id": "prj_", "run_id": "run_"}
_MODEL_FAMILIES: Final = re.compile(r"^(t2i|i2i|t2v|i2v|v2v|t2a|tts|llm|text-to-|image-to-)", re.IGNORECASE)


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


def check_params(model: Model, params: Mapping[str, Any]) -> None:
    """Check `params` against the model's declared parameters: names, types, options, bounds."""
    declared = {p.name: p for p in model.params}
    unknown = [name for name in params if name not in declared]
    if unknown:
        accepted = ", ".join(declared) or "none"
        raise ToolError(
            f"params {', '.join(map(repr, unknown))} not accepted by model {model.model_id!r}. "
            f"Accepted params: {accepted}."
        )
    missing = [p.name for p in model.params if p.required and p.default is None and p.name not in params]
    if missing:
        raise ToolError(f"model {model.model_id!r} requires params: {', '.join(missing)}.")
    for name, value in params.items():
        problem = _param_problem(declared[name], value)
        if problem:
            raise ToolError(
                f"params.{name} = {_short(value)} is not valid for model {model.model_id!r}: {problem}"
            )


def _param_problem(param: ModelParam, value: Any) -> str | None:
    kind = param.type
    if value is None:
        return None if kind == "int?" else "null is not accepted; omit it to use the default."
    if param.options:
        allowed = [o.value for o in param.options]
        values = value if kind == "string[]" and isinstance(value, list) else [value]
        return f"accepted values are {', '.join(allowed)}." if any(v not in allowed for v in values) else None
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
