"""The Starlette app: the contract's endpoints under /api/v1 and a media route for output files."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._asset_api import form_body
from flora_mcp.sandbox._assets import asset_bytes
from flora_mcp.sandbox._catalogue import TYPES, Model, default_model, find_model, models_of
from flora_mcp.sandbox._errors import (
    ApiError,
    forbidden,
    idempotency_duplicate,
    invalid,
    not_found,
    unauthorized,
    unknown_error,
)
from flora_mcp.sandbox._faults import FaultRule
from flora_mcp.sandbox._media import render
from flora_mcp.sandbox._middleware import RecordRequests, bearer
from flora_mcp.sandbox._run_api import job_status
from flora_mcp.sandbox._store import (
    DURATION_FACTORS,
    GENERIC_FAILURE,
    SETTLE_SECONDS,
    Failure,
    IdempotencyMode,
    Project,
    SandboxState,
    Workspace,
)
from flora_mcp.sandbox._surface import routes as surface_routes
from flora_mcp.sandbox._views import (
    API_PREFIX,
    flora_origins,
    generation_item,
    run_started,
    run_status,
)

logger = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    api_key: str
    workspace: Workspace


GetHandler = Callable[["Api", Request, Caller], Awaitable[Json]]
PostHandler = Callable[["Api", Request, Caller, Any], Awaitable[tuple[int, Json]]]
Endpoint = Callable[[Request], Awaitable[Response]]
_MEDIA_PATH = re.compile(r"/media/([^/]+)/([^/]+)")


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
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body: Any = await form_body(request)  # POST /assets with the file's bytes
        else:
            body = check.parse_json(await request.body())
        key = request.headers.get("idempotency-key")
        if not key:
            status, payload = await handler(self, request, caller, body)
            return JSONResponse(payload, status_code=status)
        # The same key and body replay the first answer; a different body under that key is refused.
        canonical = json.dumps([request.url.path, body], sort_keys=True, separators=(",", ":"), default=str)
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
        fields = check.generate_body(body)  # FLORA checks the body's shape, and nothing in `params`
        if check.malformed_ids(fields):
            raise unknown_error()  # FLORA's answer to a malformed ws_/prj_ id here: a 500, not a 400
        self._own_workspace(caller, fields["workspace_id"])
        project = self._own_project(caller, fields["project_id"])
        model = _model(fields)
        params = fields.get("params", {})
        resolved = check.model_params(model, params)
        sources, failure = self._references(model, params, _origin(request))
        run = self.state.start_run(
            caller.api_key,
            project,
            model,
            fields["prompt"],
            params,
            resolved,
            sources=sources,
            failure=failure,
        )
        return 201, run_started(run, _origin(request))

    def _references(self, model: Model, params: Json, origin: str) -> tuple[tuple[str, ...], Failure | None]:
        """The reference URLs the run reads, or the failure it will end with; nothing is refused here.

        As FLORA: the prefix says which names hold references (a string, or an array for the plural
        names); another form is ignored, so a model that needs a reference then fails, billed. A URL that
        FLORA would not fetch (not one of its own media or asset URLs) makes the run fail too.
        """
        if model.canvas_sourced:
            return (), (GENERIC_FAILURE, f"Generation failed: {model.model_id} has no source connected.")
        urls: list[str] = []
        for name in model.references:
            value = params.get(name)
            if name.endswith("s"):
                given = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
            else:
                given = [value] if isinstance(value, str) else []
            if not given:
                return (), (GENERIC_FAILURE, f"Generation failed: no input was given in '{name}'.")
            for url in given:
                if not self._fetchable(url, origin):
                    return (), (GENERIC_FAILURE, f"Generation failed: the input at {url} could not be read.")
            urls += given
        return tuple(urls), None

    def _fetchable(self, url: str, origin: str) -> bool:
        """Whether FLORA would read this URL: an output or asset file of this sandbox, ready now."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if f"{parts.scheme}://{parts.netloc}" not in flora_origins(origin, self.state.storage_origin):
            return False
        media = _MEDIA_PATH.fullmatch(parts.path)
        if media is None:
            return asset_bytes(self.state, url) is not None
        return self._servable(media[1], media[2])

    def _servable(self, run_id: str, file: str) -> bool:
        run = self.state.runs.get(run_id)
        return (
            run is not None
            and file == run.output_file
            and run.progress_at(self.state.clock()).status == "completed"
        )

    async def get_run(self, request: Request, caller: Caller) -> Json:
        run_id = check.check_id(request.path_params["run_id"], "run_", "runId")
        if (job := job_status(self, request, caller, run_id)) is not None:
            return job  # a technique or action run
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
            "generations": [generation_item(run, progress, now, origin) for run, progress in page],
            "meta": {"next_cursor": next_cursor},
        }

    async def media(self, request: Request) -> Response:
        """Output files: no auth, like a CDN URL; drawn on first request and kept."""
        found = await self._output(request.path_params["run_id"], request.path_params["file"])
        if found is None:
            return not_found("No such output file.").response()
        content, content_type = found
        # Public, like a CDN's output URLs; CORS so a gallery view in a host's iframe can read text outputs.
        headers = {"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
        return Response(content, media_type=content_type, headers=headers)

    async def _output(self, run_id: str, file: str) -> tuple[bytes, str] | None:
        if not self._servable(run_id, file):
            return None
        run = self.state.runs[run_id]
        cache_key = f"{run_id}/{file}"
        if cache_key not in self.state.media:
            sources = [found for url in run.sources if (found := await self._source(url)) is not None]
            draw = functools.partial(render, run.type, run.model_id, run.prompt, run.resolved_params, sources)
            self.state.media[cache_key] = await anyio.to_thread.run_sync(draw)
        return self.state.media[cache_key]

    async def _source(self, url: str) -> bytes | None:
        """A reference's bytes, read from the sandbox's own stores (FLORA reads its own hosts only)."""
        media = _MEDIA_PATH.fullmatch(urlsplit(url).path)
        if media is None:
            return asset_bytes(self.state, url)
        found = await self._output(media[1], media[2])
        return found[0] if found is not None else None


def _model(fields: Json) -> Model:
    """The model asked for, or the workspace default of the type when `model` is left out."""
    type_ = fields["type"]
    if "model" not in fields:
        return default_model(type_)
    model = find_model(fields["model"])
    if model is None or model.type != type_:
        ids = ", ".join(m.model_id for m in models_of(type_))
        message = f"Model '{fields['model']}' is not available for type '{type_}'. Available: {ids}"
        raise invalid([("model", message)])
    return model


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
    idempotency: IdempotencyMode = "conflict",
    duration_factors: tuple[float, float] = DURATION_FACTORS,
    settle_seconds: float = SETTLE_SECONDS,
) -> Starlette:
    """The sandbox as an ASGI app; `app.state.sandbox` is its SandboxState.

    `seed` makes ids, unseeded pictures, run durations, quotes and the faults' random draws repeatable;
    `faults` are the rules in force from the start (see `parse_faults`); `idempotency` is "conflict"
    (FLORA's way: a repeated key is refused with 409 idempotency_duplicate) or "replay" (a repeated key
    and body get the first answer); each run takes its estimate times a factor drawn from
    `duration_factors` ((1, 1) for exactly the estimate); a run's cost settles `settle_seconds` after it
    ends.
    """
    state = SandboxState(
        speed=speed,
        seed=seed,
        faults=faults,
        idempotency=idempotency,
        duration_factors=duration_factors,
        settle_seconds=settle_seconds,
    )
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
        *surface_routes(api),  # assets, techniques, actions, the canvas
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RecordRequests, state=state)],
        exception_handlers={404: _no_route, 405: _no_route},
    )
    app.state.sandbox = state
    return app
