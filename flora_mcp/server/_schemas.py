"""Compact JSON Schemas for `tools/list`: the same constraints in fewer bytes.

Every tool list is read into the agent's context on each turn, so pydantic's generated
extras (a `title` per field, `anyOf` with null for optionals, `default: null`,
`additionalProperties: true`) are worth removing. Nothing here loosens a schema.
"""

from __future__ import annotations

from typing import Any


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`compact`, with each `$defs` entry inlined where it is used (pydantic emits no recursion here)."""
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return inline(defs[ref.removeprefix("#/$defs/")])
        return {key: inline(value) for key, value in node.items() if key != "$defs"}

    result: dict[str, Any] = compact(inline(schema))
    return result


def compact(schema: Any) -> Any:
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue  # both are what JSON Schema assumes anyway
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact(prop) for name, prop in value.items()}  # names, not keywords
        else:
            out[key] = compact(value)
    return _nullable(out)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [{type: T, …}, {type: null}]` → `{type: [T, null], …}` where T is a plain type."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    [other] = [o for o in options if o != {"type": "null"}]
    if not isinstance(other.get("type"), str) or "$ref" in other:
        return schema
    merged = {**other, **{k: v for k, v in schema.items() if k != "anyOf"}, "type": [other["type"], "null"]}
    if "enum" in merged and None not in merged["enum"]:
        merged["enum"] = [*merged["enum"], None]
    return merged
