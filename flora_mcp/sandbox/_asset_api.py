"""HTTP handlers for assets: `POST /assets` (by URL or signed upload), complete, retry, read, list,
and the public routes: the signed upload's target and the asset files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._assets import (
    MAX_ASSET_BYTES,
    MAX_DIRECT_BYTES,
    STAND_IN_SUFFIXES,
    UPLOAD_TTL_SECONDS,
    Asset,
    Rejected,
    blocked_host,
    created_json,
    detail_json,
    fetch,
    file_url,
    is_asset_id,
    is_loopback,
    item_json,
    stand_in,
    upload_state_json,
)
from flora_mcp.sandbox._board import place_on_canvas
from flora_mcp.sandbox._errors import ApiError, invalid, not_found
from flora_mcp.sandbox._request import PUBLIC, Json, body_object, origin, paged, strings, workspace_filter
from flora_mcp.sandbox._store import SandboxState

if TYPE_CHECKING:
    from flora_mcp.sandbox._app import Api, Caller


def _asset_id(request: Request) -> str:
    asset_id: str = request.path_params["asset_id"]
    if not is_asset_id(asset_id):
        raise invalid([("assetId", f"Invalid identifier {asset_id!r}: expected asset_…")])
    return asset_id


def _own_asset(api: Api, request: Request, caller: Caller) -> Asset:
    asset_id = _asset_id(request)
    asset = api.state.assets.get(asset_id)
    if asset is None or asset.workspace_id != caller.workspace.workspace_id:
        raise not_found(f"Asset '{asset_id}' not found.")
    return asset


def _reserve(state: SandboxState, asset: Asset) -> None:
    asset.reserve(state._token() + state._token(), state.clock() + UPLOAD_TTL_SECONDS)


@dataclass(frozen=True)
class FilePart:
    """The `file` of a multipart `POST /assets`; its text form (for idempotency) is its digest."""

    name: str
    content_type: str | None
    content: bytes

    def __str__(self) -> str:
        return f"file:{hashlib.sha256(self.content).hexdigest()}"


async def form_body(request: Request) -> Json:
    """A multipart body as the handlers take a JSON one: its text fields, and `file` as a FilePart."""
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            body: Json = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    content = await value.read(MAX_DIRECT_BYTES + 1)
                    body[key] = FilePart(value.filename or "upload", value.content_type, content)
                else:
                    body[key] = value
            return body
    except (MultiPartException, HTTPException):
        raise invalid([("body", "Expected a multipart/form-data body with a 'file' field")]) from None


_OPTIONAL = ("folder", "content_type", "file_name", "project_id")


async def create_asset(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    direct = isinstance(body, dict) and isinstance(body.get("file"), FilePart)
    required = ("file", "workspace_id") if direct else ("source", "workspace_id")
    errors = body_object(body, required, _OPTIONAL)
    strings(body, ("source", "workspace_id", *_OPTIONAL), errors)
    source = body.get("source")
    signed = source == "signed-url"
    if isinstance(source, str) and not signed and urlsplit(source).scheme not in ("http", "https"):
        errors.append(("source", "Expected an http(s) URL or 'signed-url'"))
    file = body.get("file")
    if direct and len(file.content) > MAX_DIRECT_BYTES:
        errors.append(("file", f"Over {MAX_DIRECT_BYTES} bytes: use source 'signed-url' for larger files"))
    if errors:
        raise invalid(errors)
    workspace_id = api._own_workspace(caller, body["workspace_id"])
    project = api._own_project(caller, body["project_id"]) if "project_id" in body else None
    state = api.state
    name = body.get("file_name") or (
        file.name if direct else unquote(urlsplit(source).path.rsplit("/", 1)[-1])
    )
    asset = Asset(
        asset_id=f"asset_{state._token()}",
        workspace_id=workspace_id,
        name=name or "upload",
        uploaded_via="direct" if direct else "signed_url" if signed else "url",
        upload_content_type=body.get("content_type") or (file.content_type if direct else None),
        created=state.clock(),
        seq=state._next_seq(),
        project_id=project.project_id if project else None,
        storage=state.storage_origin,
    )
    if direct:
        asset.accept(file.content)
        if asset.status == "failed":  # FLORA refuses a file it cannot take in the same call
            raise invalid([("file", asset.failure or "Not a file FLORA accepts")])
    state.assets[asset.asset_id] = asset
    if signed:
        _reserve(state, asset)
    elif not direct:
        await _fetch_source(asset, source)
    _place(state, asset, origin(request))
    return 201, created_json(asset, origin(request))


async def _fetch_source(asset: Asset, source: str) -> None:
    """As FLORA: any public https URL. The sandbox fetches URLs on this machine for real, and keeps a
    drawn stand-in for a public image URL (it stays off the internet); anything else fails."""
    if is_loopback(source):
        try:
            asset.accept(await fetch(source))
        except Rejected as exc:
            asset.fail(str(exc))
    elif (why := blocked_host(source)) is not None:
        asset.fail(f"FLORA did not fetch {source}: {why}.")
    elif urlsplit(source).path.lower().endswith(STAND_IN_SUFFIXES):
        asset.accept(stand_in(source))
    else:
        asset.fail(f"Could not read an image, video, audio or PDF file at {source}.")


def _place(state: SandboxState, asset: Asset, at: str) -> None:
    """An asset given a project_id shows on that canvas once it is ready."""
    project = state.projects.get(asset.project_id or "")
    if project is not None and asset.status == "ready" and asset.node_id is None:
        asset.node_id = place_on_canvas(state, project, asset.name, file_url(asset, at))


async def get_asset(api: Api, request: Request, caller: Caller) -> Json:
    return detail_json(_own_asset(api, request, caller), origin(request))


async def list_assets(api: Api, request: Request, caller: Caller) -> Json:
    workspace_filter(api, request, caller)
    project_id = check.query_id(request.query_params, "project_id", "prj_")
    query = (request.query_params.get("query") or "").casefold()
    found = [
        a
        for a in sorted(api.state.assets.values(), key=lambda a: -a.seq)
        if a.workspace_id == caller.workspace.workspace_id
        and project_id in (None, a.project_id)  # on that project's canvas
        and query in a.name.casefold()
    ]
    page, meta = paged(found, request)
    return {"assets": [item_json(a, origin(request)) for a in page], "meta": meta}


async def complete_asset(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    asset = _own_asset(api, request, caller)
    if asset.status == "pending_upload":
        if asset.uploaded is None:
            message = "Nothing was uploaded for this asset yet: POST the file to its upload.url first."
            raise invalid([("assetId", message)])
        asset.accept(asset.uploaded)
        asset.uploaded = None
        _place(api.state, asset, origin(request))
    return 200, upload_state_json(asset, origin(request))


async def retry_asset(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    asset = _own_asset(api, request, caller)
    if asset.status == "ready":
        raise invalid([("assetId", "The asset is ready; there is no upload to retry.")])
    asset.uploaded_via = "signed_url"
    _reserve(api.state, asset)
    return 200, upload_state_json(asset, origin(request))


def _upload_error(status: int, message: str) -> Response:
    return ApiError(status, "input_validation_error" if status == 400 else "forbidden", message).response()


async def upload(state: SandboxState, request: Request) -> Response:
    """The signed upload's target: multipart with the form fields and `file`; the token authorises."""
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            return await _store_upload(state, request, form)
    except (MultiPartException, HTTPException):  # starlette's answer to a malformed multipart body
        return _upload_error(400, "Expected a multipart/form-data body with a 'file' field.")


async def _store_upload(state: SandboxState, request: Request, form: FormData) -> Response:
    asset = state.assets.get(request.path_params["asset_id"])
    token = form.get("token") or request.query_params.get("token")
    if asset is None or not asset.token or token != asset.token:
        return _upload_error(403, "The upload token is not valid for this asset.")
    if asset.status != "pending_upload" or state.clock() > asset.expires:
        return _upload_error(
            403, "This upload has expired or is done; POST /assets/{id}/retry for a new one."
        )
    file = form.get("file")
    if not isinstance(file, UploadFile):
        return _upload_error(400, "Expected the file in the 'file' field.")
    content = await file.read(MAX_ASSET_BYTES + 1)
    if len(content) > MAX_ASSET_BYTES:
        return ApiError(
            413, "input_validation_error", f"The file is over {MAX_ASSET_BYTES} bytes."
        ).response()
    asset.uploaded = content
    return Response(status_code=204)


async def asset_file(state: SandboxState, request: Request) -> Response:
    asset = state.assets.get(request.path_params["asset_id"])
    if asset is None or asset.status != "ready" or asset.content is None:
        return not_found("No such asset file.").response()
    if request.path_params["file"] != unquote(asset.file_name):
        return not_found("No such asset file.").response()
    return Response(asset.content, media_type=asset.content_type, headers=PUBLIC)
