"""Actions: FLORA's prebuilt edits (aspect ratio, side by side, text utilities…), listed and run through
the technique tools, whose `inputs` they take the same way: `{slot name: URL or text}`.

FLORA ignores unknown params and bills at the defaults, and an input it cannot fetch fails the run
after the start, so inputs and params are checked against the action's definition first. Pure
functions over the client's models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, get_args

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import Action, ActionInput, ActionMediaType, ActionParam, ActionSlot
from flora_mcp.server._references import HOW_TO_GET_ONE, fetchable

MEDIA_TYPES: Final[tuple[ActionMediaType, ...]] = get_args(ActionMediaType)
_COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}")


def brief(action: Action) -> dict[str, Any]:
    """An action in a few words: its inputs by name (`image+`: one or more) and each param's values."""
    return {
        "action_id": action.action_id,
        "name": action.name,
        "cost_usd": action.charged_cost,
        "description": action.description,
        "inputs": {s.name: f"{s.type}{'+' if s.dynamic else ''}" for s in action.inputs},
        "params": {p.key: _param_line(p) for p in action.params},
    }


def matches(action: Action, query: str) -> bool:
    words = f"{action.action_id} {action.name} {action.description}".lower()
    return all(word in words for word in query.lower().split())


def action_inputs(action: Action, inputs: Mapping[str, Any], origins: Sequence[str]) -> list[ActionInput]:
    """`{slot name: value}` as FLORA's headless run takes it, `[{type, url | text}]` in slot order;
    refused before spending when the action could not use it."""
    slots = {s.name: s for s in action.inputs}
    takes = "; ".join(f"{s.name} ({s.type}{', one or more' if s.dynamic else ''})" for s in action.inputs)
    name = f"action {action.action_id!r}"
    unknown = [key for key in inputs if key not in slots]
    if unknown:
        raise ToolError(
            f"inputs {', '.join(map(repr, unknown))} are not inputs of {name}. Its inputs: {takes}."
        )
    # The contract marks no slot optional; FLORA's released actions need each one.
    missing = [s.name for s in action.inputs if s.name not in inputs]
    if missing:
        raise ToolError(f"{name} needs inputs {', '.join(missing)}. Its inputs: {takes}.")
    return [item for slot in action.inputs for item in _slot_inputs(slot, inputs[slot.name], origins)]


def _slot_inputs(slot: ActionSlot, value: Any, origins: Sequence[str]) -> list[ActionInput]:
    where = f"inputs.{slot.name}"
    type_ = next((t for t in MEDIA_TYPES if t == slot.type), None)
    if type_ is None:
        raise ToolError(f"{where} is a {slot.type} input, which this server cannot send yet.")
    values = value if isinstance(value, list) else [value]
    if not values or (len(values) > 1 and not slot.dynamic):
        raise ToolError(f"{where} takes {'one or more' if slot.dynamic else 'one'} {slot.type}.")
    made = []
    for item in values:
        if not isinstance(item, str) or not item.strip():
            raise ToolError(f"{where} must be {_what(slot)}: a non-empty string.")
        is_url = item.startswith(("http://", "https://"))
        if slot.type == "text" and not (is_url and fetchable(item, origins)):
            made.append(ActionInput(type="text", text=item))  # words, not a link to them
            continue
        if not fetchable(item, origins):
            raise ToolError(f"{where} {item!r} is not {_what(slot)} FLORA will fetch. {HOW_TO_GET_ONE}")
        made.append(ActionInput(type=type_, url=item))
    return made


def _what(slot: ActionSlot) -> str:
    return "a text" if slot.type == "text" else f"{'an' if slot.type[0] in 'aeiou' else 'a'} {slot.type} URL"


def check_params(action: Action, params: Mapping[str, Any]) -> None:
    declared = {p.key: p for p in action.params}
    unknown = [key for key in params if key not in declared]
    if unknown:
        accepted = ", ".join(f"{k}: {_param_line(p)}" for k, p in declared.items()) or "none"
        raise ToolError(
            f"params {', '.join(map(repr, unknown))} are not params of action {action.action_id!r} "
            f"(FLORA would ignore them). Accepted: {accepted}."
        )
    for key, value in params.items():
        problem = _param_problem(declared[key], value)
        if problem:
            raise ToolError(
                f"params.{key} = {value!r} is not valid for action {action.action_id!r}: {problem}"
            )


def _param_line(param: ActionParam) -> str:
    if param.available_values:
        kind = "|".join(v.value for v in param.available_values)
    elif param.min_number_value is not None or param.max_number_value is not None:
        kind = f"{param.type} {_num(param.min_number_value)}..{_num(param.max_number_value)}"
    else:
        kind = param.type
    return f"{kind} (default {param.default_value!r})" if param.default_value is not None else kind


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _param_problem(param: ActionParam, value: Any) -> str | None:
    if param.available_values:
        allowed = [v.value for v in param.available_values]
        return None if value in allowed else f"use one of {', '.join(allowed)}."
    kind = param.type
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "expected a number."
        low, high = param.min_number_value, param.max_number_value
        if (low is not None and value < low) or (high is not None and value > high):
            return f"must be between {_num(low) or '-inf'} and {_num(high) or 'inf'}."
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "expected true or false."
    if kind == "color":
        ok = isinstance(value, str) and _COLOR.fullmatch(value) is not None
        return None if ok else "expected a color as #rrggbb."
    if kind in ("text", "select"):
        return None if isinstance(value, str) else "expected a string."
    return None  # a param type newer than this server: let FLORA judge it
