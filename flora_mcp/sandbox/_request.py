"""What the creative surface's handlers share: the origin called, body and query checks, paging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._errors import FieldError, invalid

if TYPE_CHECKING:
    from flora_mcp.sandbox._app import Api, Caller

Json = dict[str, Any]
PUBLIC = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}  # CDN-like files


def origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def body_object(body: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> list[FieldError]:
    if not isinstance(body, dict):
        raise invalid([("body", "Expected a JSON object")])
    errors = [(name, "Required") for name in required if name not in body]
    allowed = set(required) | set(optional)
    return errors + [(k, f"Unrecognized field '{k}' is not allowed") for k in body if k not in allowed]


def strings(body: Json, names: tuple[str, ...], errors: list[FieldError]) -> None:
    errors += [(n, "Expected a string") for n in names if n in body and not isinstance(body[n], str)]


def paged(items: list[Any], request: Request) -> tuple[list[Any], Json]:
    limit, offset = check.query_limit(request.query_params, 20), check.query_cursor(request.query_params)
    end = offset + limit
    next_cursor = check.encode_cursor(end) if end < len(items) else None
    return items[offset:end], {"next_cursor": next_cursor, "total_estimate": len(items)}


def workspace_filter(api: Api, request: Request, caller: Caller) -> None:
    workspace_id = check.query_id(request.query_params, "workspace_id", "ws_")
    if workspace_id is not None:
        api._own_workspace(caller, workspace_id)
