"""The Starlette app: the contract's endpoints under /api/v1 and a media route for output files."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._catalogue import TYPES, models_of
from flora_mcp.sandbox._errors import (
    ApiError,
    forbidden,
    idempotency_duplicate,
    invalid,
    not_found,
    unauthorized,
)
from flora_mcp.sandbox._faults import FaultRule
from flora_mcp.sandbox._media import render
from flora_mcp.sandbox._middleware import RecordRequests, bearer
from flora_mcp.sandbox._store import IdempotencyMode, Project, SandboxState, Workspace
from flora_mcp.sandbox._views import API_PREFIX, generation_item, run_started, run_status

logger = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    api_key: str
    workspace: Workspace


GetHandler = Callable[["Api", Request, Caller], Awaitable[Json]]
PostHandler = Callable[["Api", Request, Caller, Any], Awaitable[tuple[int, Json]]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _paged(items: list[Any], offset: int, limit: int) -> tuple[list[Any], str | None]:
    end = offset + limit
    return items[offset:end], check.encode_cursor(end) if end < len(items) else None


class Api:
    """Handlers get the authenticated caller; errors are raised as ApiError and become the envelope."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # plumbing: auth, envelope, idempotency

    def _caller(self, request: Request) -> Caller:
        key = bearer(request.headers.get("authorization"))
        if not key:
            raise unauthorized("Missing or empty API key: send 'Authorization: Bearer <key>'.")
        return Caller(key, self.state.workspace_for(key))

    def get(self, handler: GetHandler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await _enveloped(lambda: self._get(handler, request))

        return endpoint

    async def _get(self, handler: GetHandler, request: Request) -> Response:
        return JSONResponse(await handler(self, request, self._caller(request)))

    def post(self, handler: PostHandler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await _enveloped(lambda: self._post(handler, request))

        return endpoint

    async def _post(self, handler: PostHandler, request: Request) -> Response:
        caller = self._caller(request)
        body = check.parse_json(await request.body())
        key = request.headers.get("idempotency-key")
        if not key:
            status, payload = await handler(self, request, caller, body)
            return JSONResponse(payload, status_code=status)
        # The same key and body replay the first answer; a different body under that key is refused.
        canonical = json.dumps([request.url.path, body], sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        scope = caller.workspace.workspace_id
        previous = self.state.replay(scope, key)
        if previous is not None:
            if self.state.idempotency == "conflict":
                raise idempotency_duplicate(
                    "This Idempotency-Key was already used in the last two hours; use a new key."
                )
            if previous.fingerprint != fingerprint:
                raise idempotency_duplicate(
                    "This Idempotency-Key was already used with a different request; use a new key."
                )
            return JSONResponse(
                previous.body, status_code=previous.status, headers={"Idempotent-Replayed": "true"}
            )
        status, payload = await handler(self, request, caller, body)
        self.state.remember(scope, key, fingerprint, status, payload)  # only successes: errors start nothing
        return JSONResponse(payload, status_code=status)

    def _own_workspace(self, caller: Caller, workspace_id: str) -> str:
        if workspace_id == caller.workspace.workspace_id:
            return workspace_id
        if workspace_id in self.state.workspaces:
            raise forbidden(f"This API key has no access to workspace '{workspace_id}'.")
        raise not_found(f"Workspace '{workspace_id}' not found.")

    def _own_project(self, caller: Caller, project_id: str) -> Project:
        project = self.state.projects.get(project_id)
        if project is None or project.workspace_id != caller.workspace.workspace_id:
            raise not_found(f"Project '{project_id}' not found.")  # someone else's is "not found" too
        return project

    # endpoints

    async def list_workspaces(self, request: Request, caller: Caller) -> Json:
        return {"workspaces": [caller.workspace.to_json()]}

    async def list_projects(self, request: Request, caller: Caller) -> Json:
        q = request.query_params
        workspace_id = check.query_id(q, "workspace_id", "ws_", required=True)
        assert workspace_id is not None
        limit, offset = check.query_limit(q, 20), check.query_cursor(q)
        found = self.state.projects_in(self._own_workspace(caller, workspace_id), q.get("query"))
        page, next_cursor = _paged(found, offset, limit)
        return {
            "projects": [p.to_json() for p in page],
            "meta": {"next_cursor": next_cursor, "total_estimate": len(found)},
        }

    async def create_project(self, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
        fields = check.project_body(body)
        workspace_id = self._own_workspace(caller, fields["workspace_id"])
        return 201, self.state.create_project(workspace_id, fields["name"]).to_json()

    async def get_project(self, request: Request, caller: Caller) -> Json:
        project_id = check.check_id(request.path_params["project_id"], "prj_", "projectId")
        return self._own_project(caller, project_id).to_json()

    async def list_models(self, request: Request, caller: Caller) -> Json:
        type_ = check.query_enum(request.query_params, "type", TYPES)
        return {"models": [m.to_json() for m in models_of(type_)]}

    async def generate(self, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
        fields = check.generate_body(body)
        self._own_workspace(caller, fields["workspace_id"])
        project = self._own_project(caller, fields["project_id"])
        available = models_of(fields["type"])
        model_id = fields.get("model", available[0].model_id)  # omitted: the type's default model
        model = next((m for m in available if m.model_id == model_id), None)
        if model is None:
            ids = ", ".join(m.model_id for m in available)
            message = f"Model '{model_id}' is not available for type '{fields['type']}'. Available: {ids}"
            raise invalid([("model", message)])
        params = fields.get("params", {})
        resolved = check.model_params(model, params)
        run = self.state.start_run(caller.api_key, project, model, fields["prompt"], params, resolved)
        return 201, run_started(run, _origin(request))

    async def get_run(self, request: Request, caller: Caller) -> Json:
        run_id = check.check_id(request.path_params["run_id"], "run_", "runId")
        run = self.state.runs.get(run_id)
        if run is None or run.workspace_id != caller.workspace.workspace_id:
            raise not_found(f"Run '{run_id}' not found.")
        return run_status(run, self.state.clock(), _origin(request))

    async def list_generations(self, request: Request, caller: Caller) -> Json:
        q = request.query_params
        workspace_id = check.query_id(q, "workspace_id", "ws_")
        if workspace_id is not None:
            self._own_workspace(caller, workspace_id)
        project_id = check.query_id(q, "project_id", "prj_")
        status = check.query_enum(q, "status", ("pending", "running", "completed", "failed"))
        limit, offset = check.query_limit(q, 20), check.query_cursor(q)
        now, origin = self.state.clock(), _origin(request)
        found = []
        for run in self.state.runs_in(caller.workspace.workspace_id):
            progress = run.progress_at(now)  # one reading per run, so the filter and the item agree
            if project_id in (None, run.project_id) and status in (None, progress.status):
                found.append((run, progress))
        page, next_cursor = _paged(found, offset, limit)
        return {
            "generations": [generation_item(run, progress, origin) for run, progress in page],
            "meta": {"next_cursor": next_cursor},
        }

    async def media(self, request: Request) -> Response:
        """Output files: no auth, like a CDN URL; drawn on first request and kept."""
        run = self.state.runs.get(request.path_params["run_id"])
        file = request.path_params["file"]
        if (
            run is None
            or file != run.output_file
            or run.progress_at(self.state.clock()).status != "completed"
        ):
            return not_found("No such output file.").response()
        cache_key = f"{run.run_id}/{file}"
        if cache_key not in self.state.media:
            draw = functools.partial(render, run.type, run.model_id, run.prompt, run.resolved_params)
            self.state.media[cache_key] = await anyio.to_thread.run_sync(draw)
        content, content_type = self.state.media[cache_key]
        # Public, like a CDN's output URLs; CORS so a gallery view in a host's iframe can read text outputs.
        headers = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
        return Response(content, media_type=content_type, headers=headers)


async def _enveloped(call: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await call()
    except ApiError as err:
        return err.response()
    except Exception:
        logger.exception("Sandbox handler failed")
        return ApiError(500, "unknown_error", "An unknown error occurred.").response()


async def _no_route(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in (404, 405):  # the contract has no 405 code: an unknown method + path is not found
        return not_found(f"No endpoint {request.method} {request.url.path}.").response()
    return ApiError(status, "unknown_error", "An unknown error occurred.").response()


def create_app(
    *,
    speed: float = 1.0,
    seed: int | None = None,
    faults: Iterable[FaultRule] = (),
    idempotency: IdempotencyMode = "replay",
) -> Starlette:
    """The sandbox as an ASGI app; `app.state.sandbox` is its SandboxState.

    `seed` makes ids, unseeded pictures and the faults' random draws repeatable; `faults` are the rules
    in force from the start (see `parse_faults`); `idempotency` is "replay" (a repeated key and body
    get the first answer) or "conflict" (a repeated key is refused with 409 idempotency_duplicate).
    """
    state = SandboxState(speed=speed, seed=seed, faults=faults, idempotency=idempotency)
    api = Api(state)
    p = API_PREFIX
    routes = [
        Route(f"{p}/workspaces", api.get(Api.list_workspaces), methods=["GET"]),
        Route(f"{p}/projects", api.get(Api.list_projects), methods=["GET"]),
        Route(f"{p}/projects", api.post(Api.create_project), methods=["POST"]),
        Route(f"{p}/projects/{{project_id}}", api.get(Api.get_project), methods=["GET"]),
        Route(f"{p}/models", api.get(Api.list_models), methods=["GET"]),
        Route(f"{p}/generate", api.post(Api.generate), methods=["POST"]),
        Route(f"{p}/runs/{{run_id}}", api.get(Api.get_run), methods=["GET"]),
        Route(f"{p}/generations", api.get(Api.list_generations), methods=["GET"]),
        Route("/media/{run_id}/{file}", api.media, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RecordRequests, state=state)],
        exception_handlers={404: _no_route, 405: _no_route},
    )
    app.state.sandbox = state
    return app
