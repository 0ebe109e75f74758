"""The HTTP side of FLORA's creative surface: assets, techniques, actions and the canvas, wired up.

Handlers (here for the canvas, in `_asset_api` and `_run_api` for the rest) take the `Api` plumbing of
`_app` (auth, the error envelope, Idempotency-Key) like its own endpoints; `routes(api)` lists them,
with the public routes (asset files, the signed upload's target, technique and action outputs, the
canvas page) that need no key, like FLORA's CDN.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Message

from flora_mcp.sandbox import _asset_api as assets
from flora_mcp.sandbox import _board, _canvas
from flora_mcp.sandbox import _run_api as runs
from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._assets import ASSET_FILES, OUTPUT_FILES, UPLOAD_FORM
from flora_mcp.sandbox._errors import invalid, not_found
from flora_mcp.sandbox._request import Json, body_object, origin
from flora_mcp.sandbox._store import Project, SandboxState
from flora_mcp.sandbox._views import API_PREFIX

if TYPE_CHECKING:
    from flora_mcp.sandbox._app import Api, Caller

Endpoint = Callable[[Request], Awaitable[Response]]


def _project(api: Api, request: Request, caller: Caller) -> Project:
    project_id = check.check_id(request.path_params["project_id"], "prj_", "projectId")
    return api._own_project(caller, project_id)


async def get_canvas(api: Api, request: Request, caller: Caller) -> Json:
    return _canvas.read(api.state, _project(api, request, caller), origin(request))


async def patch_canvas(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    return 200, _canvas.patch(api.state, _project(api, request, caller), body, origin(request))


def _workspace_project(api: Api, request: Request, caller: Caller) -> Project:
    """The path's workspace (the caller's own) and a project in it."""
    workspace_id = check.check_id(request.path_params["workspace_id"], "ws_", "workspaceId")
    api._own_workspace(caller, workspace_id)
    project = _project(api, request, caller)
    if project.workspace_id != workspace_id:
        raise not_found(f"Project '{project.project_id}' not found in workspace '{workspace_id}'.")
    return project


async def create_workspace_project(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    """`POST /workspaces/{id}/projects`, and into a project folder (`fld_…`, any such id is one here)."""
    workspace_id = api._own_workspace(
        caller, check.check_id(request.path_params["workspace_id"], "ws_", "workspaceId")
    )
    folder = request.path_params.get("folder_id")
    if folder is not None and not folder.startswith("fld_"):
        raise not_found(f"Folder '{folder}' not found.")
    errors = body_object(body, ("name",), ())
    if not errors and (not isinstance(body["name"], str) or not body["name"]):
        errors.append(("name", "Expected a non-empty string"))
    if errors:
        raise invalid(errors)
    project = api.state.create_project(workspace_id, body["name"])
    project.folder_id = folder
    return 201, project.to_json()


async def get_graph(api: Api, request: Request, caller: Caller) -> Json:
    return _board.graph(api.state, _workspace_project(api, request, caller), origin(request))


async def apply_changeset(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    project = _workspace_project(api, request, caller)
    return 200, _board.changeset(api.state, project, body, origin(request))


async def run_nodes(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    project = _workspace_project(api, request, caller)
    return 200, _board.run_nodes(api.state, project, caller.api_key, body, origin(request))


async def canvas_page(state: SandboxState, request: Request) -> Response:
    """What `canvas_url` opens: the project's canvas as its Mermaid source (the sandbox has no editor)."""
    project = state.projects.get(request.path_params["project_id"])
    if project is None:
        return HTMLResponse("<h1>No such project</h1>", status_code=404)
    canvas = _canvas.read(state, project, origin(request))
    title = html.escape(project.name)
    body = (
        f"<!doctype html><meta charset=utf-8><title>{title} · FLORA sandbox</title>"
        f"<h1>{title}</h1><p>{canvas['summary']['node_count']} nodes, "
        f"{canvas['summary']['edge_count']} edges</p><pre>{html.escape(canvas['diagram'])}</pre>"
    )
    return HTMLResponse(body)


def _empty_body_is_an_object(endpoint: Endpoint) -> Endpoint:
    """`complete` and `retry` take no body in the contract: an empty one is read as `{}`."""

    async def wrapped(request: Request) -> Response:
        raw = await request.body()

        async def receive() -> Message:
            return {"type": "http.request", "body": raw if raw.strip() else b"{}", "more_body": False}

        return await endpoint(Request(request.scope, receive))

    return wrapped


def _public(state: SandboxState, handler: Callable[[SandboxState, Request], Awaitable[Response]]) -> Endpoint:
    return functools.partial(handler, state)


POST = ["POST"]


def routes(api: Api) -> list[Route]:
    p, state = API_PREFIX, api.state
    w = f"{p}/workspaces/{{workspace_id}}/projects/{{project_id}}"
    bodyless = _empty_body_is_an_object
    return [
        Route(f"{p}/assets", api.get(assets.list_assets), methods=["GET"]),
        Route(f"{p}/assets", api.post(assets.create_asset), methods=["POST"]),
        Route(f"{p}/assets/{{asset_id}}", api.get(assets.get_asset), methods=["GET"]),
        Route(
            f"{p}/assets/{{asset_id}}/complete", bodyless(api.post(assets.complete_asset)), methods=["POST"]
        ),
        Route(f"{p}/assets/{{asset_id}}/retry", bodyless(api.post(assets.retry_asset)), methods=["POST"]),
        Route(f"{p}/techniques", api.get(runs.list_techniques), methods=["GET"]),
        Route(f"{p}/techniques/{{technique_id}}", api.get(runs.get_technique), methods=["GET"]),
        Route(f"{p}/techniques/{{technique_id}}/runs", api.post(runs.start_technique_run), methods=["POST"]),
        Route(
            f"{p}/techniques/{{technique_id}}/runs/{{run_id}}",
            api.get(runs.get_technique_run),
            methods=["GET"],
        ),
        Route(f"{p}/runs/technique", api.post(runs.create_technique_run), methods=["POST"]),
        Route(f"{p}/actions", api.get(runs.list_actions), methods=["GET"]),
        Route(f"{p}/actions/{{action_id}}", api.get(runs.get_action), methods=["GET"]),
        Route(f"{p}/runs/action", api.post(runs.create_action_run), methods=["POST"]),
        Route(f"{p}/projects/{{project_id}}/canvas", api.get(get_canvas), methods=["GET"]),
        Route(f"{p}/projects/{{project_id}}/canvas", api.post(patch_canvas), methods=["PATCH"]),
        Route(f"{p}/workspaces/{{workspace_id}}/projects", api.post(create_workspace_project), methods=POST),
        Route(
            f"{p}/workspaces/{{workspace_id}}/folders/{{folder_id}}/projects",
            api.post(create_workspace_project),
            methods=["POST"],
        ),
        Route(f"{w}/graph", api.get(get_graph), methods=["GET"]),
        Route(f"{w}/canvas/changeset", api.post(apply_changeset), methods=["POST"]),
        Route(f"{w}/nodes/run", api.post(run_nodes), methods=["POST"]),
        Route(f"{UPLOAD_FORM}/{{asset_id}}", _public(state, assets.upload), methods=["POST"]),
        Route(f"{ASSET_FILES}/{{asset_id}}/{{file}}", _public(state, assets.asset_file), methods=["GET"]),
        Route(f"{OUTPUT_FILES}/{{run_id}}/{{file}}", _public(state, runs.output_file), methods=["GET"]),
        Route(f"{_canvas.CANVAS_PAGES}/{{project_id}}", _public(state, canvas_page), methods=["GET"]),
    ]
