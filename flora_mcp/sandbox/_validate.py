"""Request checks the real API makes: body and query shapes from the contract, and model params."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from flora_mcp.sandbox._catalogue import SEED_MAX, TYPES, Model, Param
from flora_mcp.sandbox._errors import FieldError, invalid, invalid_json

_ID_PATTERNS = {"ws_": re.compile(r"ws_\S+"), "prj_": re.compile(r"prj_\S+"), "run_": re.compile(r"run_\S+")}
_TYPES_TEXT = "|".join(TYPES)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise invalid_json("The request body is empty; expected a JSON object.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_json(f"The request body is not valid JSON: {exc}.") from None


def _object(body: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> list[FieldError]:
    """`required` and `additionalProperties: false`; the caller checks each present field's value."""
    if not isinstance(body, dict):
        raise invalid([("body", "Expected a JSON object")])
    errors = [(name, "Required") for name in required if name not in body]
    allowed = set(required) | set(optional)
    errors += [(name, f"Unrecognized field '{name}' is not allowed") for name in body if name not in allowed]
    return errors


def _string(body: dict[str, Any], name: str, errors: list[FieldError], *, min_length: int = 0) -> None:
    if name not in body:
        return
    value = body[name]
    if not isinstance(value, str):
        errors.append((name, f"Expected a string, received {_json_type(value)}"))
    elif len(value) < min_length:
        errors.append((name, f"Must contain at least {min_length} character(s)"))


def type_error(value: object) -> FieldError:
    family = " (a model family such as t2i is not a generation type)" if isinstance(value, str) else ""
    return "type", f"Invalid type {json.dumps(value)}: expected one of {_TYPES_TEXT}{family}"


def project_body(body: Any) -> dict[str, Any]:
    errors = _object(body, ("workspace_id", "name"), ())
    _string(body, "workspace_id", errors)
    _string(body, "name", errors, min_length=1)
    if errors:
        raise invalid(errors)
    return dict(body)


def generate_body(body: Any) -> dict[str, Any]:
    # Ids in the body are plain strings in the contract (`workspace_id: "abc"` passes the schema).
    errors = _object(body, ("type", "prompt", "workspace_id", "project_id"), ("model", "params"))
    if "type" in body and body["type"] not in TYPES:
        errors.append(type_error(body["type"]))
    _string(body, "prompt", errors, min_length=1)
    for name in ("workspace_id", "project_id", "model"):
        _string(body, name, errors)
    if "params" in body and not isinstance(body["params"], dict):
        errors.append(("params", f"Expected an object, received {_json_type(body['params'])}"))
    if errors:
        raise invalid(errors)
    return dict(body)


def check_id(value: str, prefix: str, field: str) -> str:
    if not _ID_PATTERNS[prefix].fullmatch(value):
        raise invalid([(field, f"Invalid identifier {json.dumps(value)}: expected {prefix}…")])
    return value


def query_id(query: Mapping[str, str], name: str, prefix: str, *, required: bool = False) -> str | None:
    value = query.get(name)
    if value is None:
        if required:
            raise invalid([(name, "Required")])
        return None
    return check_id(value, prefix, name)


def query_enum(query: Mapping[str, str], name: str, values: tuple[str, ...]) -> str | None:
    value = query.get(name) or None
    if value is not None and value not in values:
        detail = " (a model family such as t2i is not a generation type)" if name == "type" else ""
        raise invalid(
            [(name, f"Invalid {name} {json.dumps(value)}: expected one of {'|'.join(values)}{detail}")]
        )
    return value


def query_limit(query: Mapping[str, str], default: int) -> int:
    raw = query.get("limit") or None
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw) or not 1 <= int(raw) <= 100:
        raise invalid([("limit", f"Expected an integer from 1 to 100, received {json.dumps(raw)}")])
    return int(raw)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def query_cursor(query: Mapping[str, str]) -> int:
    """Opaque to clients; here base64 of `{"offset": n}`, like the contract's example cursor."""
    raw = query.get("cursor") or None
    if raw is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["offset"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid([("cursor", "Invalid cursor; pass meta.next_cursor from a previous page unchanged")])
    return offset


def malformed_ids(body: Mapping[str, Any]) -> bool:
    """FLORA answers `POST /generate` with ids that do not look like ids by failing (500), not 400."""
    return not (
        _ID_PATTERNS["ws_"].fullmatch(body["workspace_id"])
        and _ID_PATTERNS["prj_"].fullmatch(body["project_id"])
    )


def model_params(model: Model, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params a run uses: the model's defaults, overridden by each given value the model can use.

    FLORA validates no param: an unknown name or a bad value is accepted and ignored (the run is billed
    at the defaults), so nothing here refuses; what is not usable is left out.
    """
    defaults = {p.name: p.default for p in model.params if p.default is not None}
    usable = {}
    for name, value in params.items():
        param = model.param(name)
        if param is not None and _usable(param, value):
            usable[name] = _as_option(param, value)
    return defaults | usable


def _as_option(param: Param, value: Any) -> Any:
    """Option values are strings; a number that spells one (5 for "5") is read as that string."""
    if param.options and param.type == "string" and not isinstance(value, str | bool):
        return _num(value)
    return value


def usable(param: Param, value: Any) -> bool:
    """Whether a model can use this value for `param` (a changeset refuses what it cannot)."""
    return _usable(param, value)


def _usable(param: Param, value: Any) -> bool:
    kind = param.type
    if kind == "string" or kind == "string[]":
        items = value if kind == "string[]" and isinstance(value, list) else [value]
        if kind == "string[]" and not isinstance(value, list):
            return False
        allowed = [v for _, v in param.options]
        if allowed:
            return all(_is_number(v) or isinstance(v, str) for v in items) and all(
                (v if isinstance(v, str) else _num(v)) in allowed for v in items
            )
        return all(isinstance(v, str) for v in items)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "int?" and value is None:
        return True
    if kind in ("int", "int?", "seed") and not _is_integer(value):
        return False
    if kind == "float" and not (_is_number(value) and math.isfinite(value)):
        return False
    low = param.min if param.min is not None else (0 if kind == "seed" else None)
    high = param.max if param.max is not None else (SEED_MAX if kind == "seed" else None)
    return not ((low is not None and value < low) or (high is not None and value > high))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    )


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
