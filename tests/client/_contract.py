"""Helpers for the client's tests: FLORA's contract (tests/contract/openapi.yaml), bodies it allows,
and a check that a request the client sent is one the contract accepts (openapi-core)."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx2
import yaml
from openapi_core import OpenAPI

from tests.openapi_check import CONTRACT, openapi_request

BASE = "https://flora.test/api/v1"


@cache
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text())
    return loaded


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    schema: dict[str, Any] = contract()["paths"][path][method]["responses"][status]["content"][
        "application/json"
    ]["schema"]
    return schema


def instance(schema: dict[str, Any], *, full: bool) -> Any:
    """A body the contract allows: every property (`full`), or only the required ones, with nulls
    wherever null is allowed. Arrays get one item, so item shapes are exercised too."""
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if not full and any(b.get("type") == "null" for b in branches):
            return None
        return instance(next(b for b in branches if b.get("type") != "null"), full=full)
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        body = {k: instance(props[k], full=full) for k in (props if full else schema.get("required", []))}
        if full and isinstance(schema.get("additionalProperties"), dict):
            body["extra_key"] = instance(schema["additionalProperties"], full=full)
        return body
    if kind == "array":
        return [instance(schema["items"], full=full)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-11-30T12:00:00Z"
        return "https://media.flora.ai/x.png" if schema.get("format") == "uri" else "x"
    return {"integer": 2, "number": 2.5, "boolean": True}.get(str(kind), "anything")


@cache
def _openapi() -> OpenAPI:
    spec = dict(contract())
    spec["servers"] = [{"url": BASE}]  # the same paths, served from the tests' base URL
    return OpenAPI.from_dict(spec)


def check_request(request: httpx2.Request) -> None:
    """Raise unless the contract accepts `request`: its path, query and JSON body (schema and all)."""
    _openapi().validate_request(openapi_request(request))
