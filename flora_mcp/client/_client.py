"""The async FLORA API client: one method per endpoint, typed in and out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, ValidationError

from flora_mcp import __version__
from flora_mcp._constants import DEFAULT_BASE_URL
from flora_mcp.client._clock import FloraClock
from flora_mcp.client._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AssetFailedError,
    RunIdMissingError,
    UploadError,
    parse_retry_after,
    request_id_of,
    status_error,
)
from flora_mcp.client._models import (
    Action,
    ActionInput,
    Asset,
    AssetUpload,
    Canvas,
    CanvasGraph,
    CanvasNodeParams,
    CanvasPatched,
    ChangesetApplied,
    Generation,
    GenerationRequest,
    GenerationType,
    Model,
    NodeRuns,
    Page,
    Project,
    Run,
    RunStarted,
    RunStatus,
    Technique,
    Workspace,
    _Actions,
    _Assets,
    _Generations,
    _Meta,
    _Models,
    _Projects,
    _Techniques,
    _Workspaces,
)
from flora_mcp.client._retry import RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "DIRECT_UPLOAD_MAX_BYTES", "FloraClient"]

logger = logging.getLogger(__name__)

_USER_AGENT: Final = f"flora-mcp/{__version__}"

# Methods whose repeats the API tells apart by `Idempotency-Key` (its docs: "POST and PATCH").
_IDEMPOTENT_BY_KEY: Final = frozenset({"POST", "PATCH"})
DIRECT_UPLOAD_MAX_BYTES: Final = 4 * 1024 * 1024  # FLORA's cap on a multipart `POST /assets`
ASSET_POLL_INTERVAL: Final = 1.0  # seconds between reads of an asset FLORA is still processing
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


class _QueryHidden(logging.Filter):
    """httpx2 logs every request's full URL at INFO; a signed upload URL's query is its credential.
    Shown as `?…`: FLORA's own queries (ids, cursors) are not worth a leaked signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx2.URL) and args[1].query:
            record.args = (args[0], f"{args[1].copy_with(query=None)}?…", *args[2:])
        return True


logging.getLogger("httpx2").addFilter(_QueryHidden())

M = TypeVar("M", bound=BaseModel)
I = TypeVar("I")  # noqa: E741 - an item of a page


class FloraClient:
    """Async client for the FLORA public API.

    Pass `http` to share one connection pool between clients (e.g. one per user key); a shared
    pool is not closed by `aclose()`. The key travels on each request, never as a pool default.

    Connection errors, timeouts, 408, 429 and 5xx are retried: at most `max_attempts` sends (1 = no
    retries) within `retry_budget` seconds in all, waits included, waiting as `Retry-After` says, at
    least 5 s after a 429 without it, else with exponential backoff and jitter (0.5 s doubling to
    8 s). Every attempt of a POST or PATCH carries the same `Idempotency-Key` (pass
    `idempotency_key` to a run start to choose it). `sleep` and `clock` are seams for tests.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        http: httpx2.AsyncClient | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_budget: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._retry = RetryPolicy(max_attempts=max_attempts, budget=retry_budget, sleep=sleep, clock=clock)
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self.clock = FloraClock()  # FLORA's time, for matching a lost answer to its run
        self._timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else httpx2.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:  # never shows the key
        return f"FloraClient(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Workspaces and projects

    async def list_workspaces(self) -> list[Workspace]:
        return _parse(_Workspaces, await self._request("GET", "/workspaces")).workspaces

    async def list_projects(
        self,
        workspace_id: str,
        *,
        query: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Project]:
        params = {"workspace_id": workspace_id, "query": query, "limit": limit, "cursor": cursor}
        body = _parse(_Projects, await self._request("GET", "/projects", params=params))
        return _page(body.projects, body.meta)

    def iter_projects(
        self, workspace_id: str, *, query: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Project]:
        """Every project, page after page (`async for`). Stops on a null cursor, on an empty page,
        and on a cursor already followed: a server that keeps answering the same cursor (the
        contract's mock does) must not make this loop forever."""
        if not 1 <= page_size <= 100:  # checked now, not on first iteration, so the caller sees it
            raise ValueError("page_size must be between 1 and 100")
        return self._iter_projects(workspace_id, query, page_size)

    async def _iter_projects(
        self, workspace_id: str, query: str | None, page_size: int
    ) -> AsyncIterator[Project]:
        cursor: str | None = None
        followed: set[str] = set()
        while True:
            page = await self.list_projects(workspace_id, query=query, limit=page_size, cursor=cursor)
            for project in page.items:
                yield project
            if page.next_cursor is None or not page.items:
                return
            if page.next_cursor in followed:
                logger.warning("GET /projects repeated an already followed cursor; stopping pagination")
                return
            followed.add(page.next_cursor)
            cursor = page.next_cursor

    async def create_project(self, workspace_id: str, name: str) -> Project:
        body = {"workspace_id": workspace_id, "name": name}
        return _parse(Project, await self._request("POST", "/projects", json=body))

    async def create_workspace_project(
        self, workspace_id: str, name: str, *, folder_id: str | None = None
    ) -> Project:
        """Create a project the current way (`POST /workspaces/{id}/projects`): the workspace is in the
        path, which matters when a key reaches several. With `folder_id`, filed in that project folder."""
        path = f"/workspaces/{_segment(workspace_id)}"
        path += f"/folders/{_segment(folder_id)}/projects" if folder_id is not None else "/projects"
        return _parse(Project, await self._request("POST", path, json={"name": name}))

    async def get_project(self, project_id: str) -> Project:
        return _parse(Project, await self._request("GET", f"/projects/{_segment(project_id)}"))

    # Models, generations and runs

    async def list_models(self, type: GenerationType | None = None) -> list[Model]:
        return _parse(_Models, await self._request("GET", "/models", params={"type": type})).models

    async def generate(self, request: GenerationRequest, *, idempotency_key: str | None = None) -> RunStarted:
        """Start a generation (`POST /generate`); it spends credits. Poll `get_run(run_id)`.

        Raises RunIdMissingError when FLORA's 2xx answer has no readable `run_id` (the run may
        exist: recover it from `list_generations` as for a lost answer, never start it again).
        """
        body = request.model_dump(mode="json", exclude_none=True)
        return _started(await self._request("POST", "/generate", json=body, idempotency_key=idempotency_key))

    async def get_run(self, run_id: str) -> Run:
        return _parse(Run, await self._request("GET", f"/runs/{_segment(run_id)}"))

    async def list_generations(
        self,
        *,
        workspace_id: str | None = None,
        project_id: str | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Generation]:
        params = {
            "workspace_id": workspace_id,
            "project_id": project_id,
            "status": status,
            "limit": limit,
            "cursor": cursor,
        }
        body = _parse(_Generations, await self._request("GET", "/generations", params=params))
        return _page(body.generations, body.meta)

    # Assets

    async def list_assets(
        self,
        workspace_id: str | None = None,
        *,
        project_id: str | None = None,
        query: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Asset]:
        params = {
            "workspace_id": workspace_id,
            "project_id": project_id,
            "query": query,
            "limit": limit,
            "cursor": cursor,
        }
        body = _parse(_Assets, await self._request("GET", "/assets", params=params))
        return _page(body.assets, body.meta)

    async def get_asset(self, asset_id: str) -> Asset:
        return _parse(Asset, await self._request("GET", f"/assets/{_segment(asset_id)}"))

    async def create_asset_from_url(
        self,
        workspace_id: str,
        url: str,
        *,
        folder: str | None = None,
        content_type: str | None = None,
        file_name: str | None = None,
        project_id: str | None = None,
        ready_timeout: float = 60.0,
        idempotency_key: str | None = None,
    ) -> Asset:
        """Make an asset of a public https URL, which FLORA fetches itself; returns it once ready.

        Returns the asset when its status is "ready", or as it is when `ready_timeout` seconds pass
        first; raises AssetFailedError when FLORA reports that it failed.
        """
        body = _without_none(
            source=url,
            workspace_id=workspace_id,
            folder=folder,
            content_type=content_type,
            file_name=file_name,
            project_id=project_id,
        )
        answer = await self._request("POST", "/assets", json=body, idempotency_key=idempotency_key)
        return await self._until_ready(_parse(AssetUpload, answer).asset_id, ready_timeout)

    async def upload_asset(
        self,
        workspace_id: str,
        data: bytes,
        content_type: str,
        file_name: str,
        *,
        folder: str | None = None,
        project_id: str | None = None,
        ready_timeout: float = 60.0,
    ) -> Asset:
        """Upload a file's bytes as an asset: reserve a signed upload (`POST /assets`,
        source=signed-url), send the bytes where FLORA says, mark it complete, and return the asset
        once ready (as `create_asset_from_url` does).

        The bearer key goes to the upload URL only when that URL is on FLORA's own origin (the base
        URL's): a signed URL to storage carries its own authorisation.
        """
        if not data:
            raise ValueError("data must not be empty: FLORA refuses empty files")
        body = _without_none(
            source="signed-url",
            workspace_id=workspace_id,
            folder=folder,
            content_type=content_type,
            file_name=file_name,
            project_id=project_id,
        )
        reservation = _parse(AssetUpload, await self._request("POST", "/assets", json=body))
        await self._send_bytes(reservation, data, content_type, file_name)
        path = f"/assets/{_segment(reservation.asset_id)}/complete"
        completed = _parse(AssetUpload, await self._request("POST", path))
        return await self._until_ready(completed.asset_id, ready_timeout)

    async def upload_asset_direct(
        self,
        workspace_id: str,
        data: bytes,
        content_type: str,
        file_name: str,
        *,
        folder: str | None = None,
        project_id: str | None = None,
        ready_timeout: float = 60.0,
    ) -> Asset:
        """Upload a file of at most `DIRECT_UPLOAD_MAX_BYTES` in one multipart `POST /assets`; returns the
        asset once ready (FLORA's answer is ready at once). Larger files: `upload_asset`."""
        if not data:
            raise ValueError("data must not be empty: FLORA refuses empty files")
        if len(data) > DIRECT_UPLOAD_MAX_BYTES:
            raise ValueError(f"{len(data)} bytes is over the {DIRECT_UPLOAD_MAX_BYTES}-byte direct upload")
        fields = _without_none(
            workspace_id=workspace_id, folder=folder, content_type=content_type, project_id=project_id
        )
        files = {"file": (file_name, data, content_type)}
        answer = await self._request("POST", "/assets", form=fields, files=files)
        return await self._until_ready(_parse(AssetUpload, answer).asset_id, ready_timeout)

    async def _send_bytes(
        self, reservation: AssetUpload, data: bytes, content_type: str, file_name: str
    ) -> None:
        target = reservation.upload
        if target is not None:  # FLORA's form: the signed fields first, then the file
            url = target.url
            request = self._http.build_request(
                target.method,
                url,
                data=target.form_fields,
                files={target.file_field: (file_name, data, content_type)},
                headers=self._upload_headers(url),
                timeout=self._timeout,
            )
        elif reservation.upload_url:  # a plain presigned URL takes the raw bytes
            url = reservation.upload_url
            headers = {"Content-Type": content_type} | self._upload_headers(url)
            request = self._http.build_request(
                "PUT", url, content=data, headers=headers, timeout=self._timeout
            )
        else:
            raise APIResponseValidationError(
                f"FLORA reserved asset {reservation.asset_id} without an upload URL (neither `upload` "
                "nor `upload_url`); nothing was uploaded",
                status_code=201,
            )

        def refused(response: httpx2.Response, sent: httpx2.Request) -> APIStatusError:
            reason = f" ({response.reason_phrase})" if response.reason_phrase else ""
            return UploadError(
                f"Uploading the file for asset {reservation.asset_id} to {sent.url.host} failed: "
                f"HTTP {response.status_code}{reason}",
                status_code=response.status_code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                request=sent,
                request_id=request_id_of(response),
                method=sent.method,
                path=sent.url.path,
            )

        await self._retry.run(
            lambda: self._send(request, sent_path=request.url.path, refused=refused),
            method=request.method,
            path=request.url.path,
        )

    def _upload_headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": _USER_AGENT}
        if _origin(httpx2.URL(url)) == _origin(httpx2.URL(self._base_url)):
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def _until_ready(self, asset_id: str, ready_timeout: float) -> Asset:
        deadline = self._retry.clock() + ready_timeout
        while True:
            asset = await self.get_asset(asset_id)
            if asset.status == "failed":
                why = f": {asset.failure_message}" if asset.failure_message else ""
                raise AssetFailedError(
                    f"FLORA could not process asset {asset_id}{why}",
                    asset_id=asset_id,
                    failure_message=asset.failure_message,
                )
            if asset.status == "ready" or self._retry.clock() + ASSET_POLL_INTERVAL > deadline:
                return asset
            await self._retry.sleep(ASSET_POLL_INTERVAL)

    # Techniques

    async def list_techniques(
        self,
        workspace_id: str | None = None,
        *,
        query: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Technique]:
        params = {"workspace_id": workspace_id, "query": query, "limit": limit, "cursor": cursor}
        body = _parse(_Techniques, await self._request("GET", "/techniques", params=params))
        return _page(body.techniques, body.meta)

    async def get_technique(self, technique_id: str) -> Technique:
        """One technique by id (`tech_…`) or slug, with its inputs and outputs and `run_cost`."""
        return _parse(Technique, await self._request("GET", f"/techniques/{_segment(technique_id)}"))

    async def run_technique(
        self,
        technique_id: str,
        workspace_id: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> RunStarted:
        """Start a technique run (`POST /runs/technique`); it spends credits (`run_cost`). `inputs` is
        keyed by the technique's input ids (`get_technique`). Poll `get_technique_run` or `get_run`.
        Raises RunIdMissingError as `generate` does."""
        body = {"technique_id": technique_id, "workspace_id": workspace_id, "inputs": dict(inputs)}
        answer = await self._request("POST", "/runs/technique", json=body, idempotency_key=idempotency_key)
        return _started(answer)

    async def get_technique_run(self, technique_id: str, run_id: str) -> Run:
        path = f"/techniques/{_segment(technique_id)}/runs/{_segment(run_id)}"
        return _parse(Run, await self._request("GET", path))

    # Actions

    async def list_actions(self) -> list[Action]:
        return _parse(_Actions, await self._request("GET", "/actions")).actions

    async def get_action(self, action_id: str) -> Action:
        """One action by its raw slug, e.g. `rotate-image`."""
        return _parse(Action, await self._request("GET", f"/actions/{_segment(action_id)}"))

    async def run_action(
        self,
        action_id: str,
        workspace_id: str,
        project_id: str,
        inputs: Sequence[ActionInput],
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> RunStarted:
        """Start an action run (`POST /runs/action`, headless: the canvas is not changed). Poll
        `get_run(run_id)`. Raises RunIdMissingError as `generate` does."""
        body: dict[str, Any] = {
            "action_id": action_id,
            "workspace_id": workspace_id,
            "project_id": project_id,
            "inputs": [i.model_dump(mode="json", exclude_none=True) for i in inputs],
        }
        if params is not None:
            body["params"] = dict(params)
        answer = await self._request("POST", "/runs/action", json=body, idempotency_key=idempotency_key)
        return _started(answer)

    # Canvas

    async def get_canvas(self, project_id: str) -> Canvas:
        return _parse(Canvas, await self._request("GET", f"/projects/{_segment(project_id)}/canvas"))

    async def patch_canvas(
        self, project_id: str, diagram: str, node_params: Mapping[str, CanvasNodeParams] | None = None
    ) -> CanvasPatched:
        """Apply a Mermaid flowchart patch to a project's canvas (new nodes and edges; existing nodes
        by their Mermaid ids), with optional parameters per node id."""
        body: dict[str, Any] = {"diagram": diagram}
        if node_params is not None:
            body["node_params"] = {
                node: p.model_dump(mode="json", exclude_none=True) for node, p in node_params.items()
            }
        path = f"/projects/{_segment(project_id)}/canvas"
        return _parse(CanvasPatched, await self._request("PATCH", path, json=body))

    def _project_path(self, workspace_id: str, project_id: str) -> str:
        return f"/workspaces/{_segment(workspace_id)}/projects/{_segment(project_id)}"

    async def get_graph(self, workspace_id: str, project_id: str) -> CanvasGraph:
        """A project's canvas as data: nodes (short ids, types, prompts, models, params, status, outputs),
        edges and the revision."""
        path = self._project_path(workspace_id, project_id) + "/graph"
        return _parse(CanvasGraph, await self._request("GET", path))

    async def apply_changeset(
        self, workspace_id: str, project_id: str, changeset: Mapping[str, Any]
    ) -> ChangesetApplied:
        """Apply `{add?, update?, connect?, disconnect?, remove?}` as one atomic transaction. A refusal is a
        BadRequestError whose `fields` name each operation at fault; nothing is applied then. `remove` is
        immediate and irreversible: ask the user first."""
        path = self._project_path(workspace_id, project_id) + "/canvas/changeset"
        return _parse(ChangesetApplied, await self._request("POST", path, json=dict(changeset)))

    async def run_nodes(
        self,
        workspace_id: str,
        project_id: str,
        node_ids: Sequence[str],
        *,
        idempotency_key: str | None = None,
    ) -> NodeRuns:
        """Run 1-50 canvas nodes (`POST …/nodes/run`); it spends credits at once. One entry per node, in
        order: started (poll its `run_id`) or skipped with FLORA's `reason`."""
        path = self._project_path(workspace_id, project_id) + "/nodes/run"
        body = {"node_ids": list(node_ids)}
        return _parse(NodeRuns, await self._request("POST", path, json=body, idempotency_key=idempotency_key))

    # Transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | None] | None = None,
        idempotency_key: str | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx2.Response:
        """One logical call: build the request once, send it (with retries), return the success.

        The request, with its `Idempotency-Key`, is built here once and every attempt re-sends that
        very request, so the API can tell a retry from a new call and start nothing twice.
        """
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if method in _IDEMPOTENT_BY_KEY:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        request = self._http.build_request(
            method,
            self._base_url + path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            json=json,
            data=form,  # with `files`: a multipart body
            files=files,
            headers=headers,
            timeout=self._timeout,
        )
        return await self._retry.run(
            lambda: self._send(request, sent_path=path), method=method, path=request.url.path
        )

    async def _send(
        self,
        request: httpx2.Request,
        *,
        sent_path: str,
        refused: Callable[[httpx2.Response, httpx2.Request], APIStatusError] | None = None,
    ) -> httpx2.Response:
        """One attempt: send, log, and turn transport failures and non-2xx answers into FloraErrors.

        `sent_path` names the call in errors (relative to the base URL); `refused` builds the error
        for a non-2xx answer that is not FLORA's JSON API (default: FLORA's error envelope).
        """
        started, sent_at = time.perf_counter(), time.time()
        try:
            response = await self._http.send(request)
        except httpx2.TimeoutException as exc:
            self._log(request, "timeout", started)
            raise APITimeoutError(
                f"FLORA did not answer {request.method} {request.url.path} in time ({type(exc).__name__})",
                request=_redacted(request),
            ) from exc
        except httpx2.RequestError as exc:
            self._log(request, "failed", started)
            raise APIConnectionError(
                f"Could not reach FLORA at {request.url.host} ({type(exc).__name__}: {exc})",
                request=_redacted(request),
            ) from exc
        self._log(request, response.status_code, started, request_id_of(response))
        self.clock.observe(response.headers.get("date"), sent_at, time.time())
        if not response.is_success:
            if refused is not None:
                raise refused(response, _redacted(request))
            raise status_error(response, request=_redacted(request), method=request.method, path=sent_path)
        return response

    @staticmethod
    def _log(
        request: httpx2.Request, outcome: int | str, started: float, request_id: str | None = None
    ) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        rid = f" (request-id {request_id})" if request_id else ""
        logger.debug("%s %s -> %s in %.0f ms%s", request.method, request.url.path, outcome, elapsed_ms, rid)


def _parse(model: type[M], response: httpx2.Response) -> M:
    """The 2xx body as `model`; anything else is an APIResponseValidationError naming what is wrong."""
    request = response.request
    where = f"FLORA answered {request.method} {request.url.path} ({response.status_code}) with a body that"
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        if problems and problems[0]["type"] == "json_invalid":
            message = f"{where} is not JSON"
        else:
            shown = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in problems[:3]
            )
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            message = f"{where} does not match the API contract: {shown}{more}"
        # `from None`: pydantic's own error text would repeat the body.
        raise APIResponseValidationError(
            message,
            status_code=response.status_code,
            request=_redacted(request),
            request_id=request_id_of(response),
        ) from None


def _started(response: httpx2.Response) -> RunStarted:
    """A run-start answer: only its `run_id` is needed; without one, a RunIdMissingError, since the
    run may exist (and be billed) all the same."""
    try:
        return _parse(RunStarted, response)
    except APIResponseValidationError as exc:
        raise RunIdMissingError(
            f"{exc.message}, so its run_id is unknown; the run may have started: look for it in the "
            "history before starting it again",
            status_code=exc.status_code,
            request=exc.request,
            request_id=exc.request_id,
        ) from None


def _page(items: list[I], meta: _Meta) -> Page[I]:
    return Page[I](items=items, next_cursor=meta.next_cursor, total_estimate=meta.total_estimate)


def _without_none(**fields: str | None) -> dict[str, str]:
    """A request body without its None fields: the API refuses nulls for optional fields."""
    return {k: v for k, v in fields.items() if v is not None}


def _segment(value: str) -> str:
    """An ID as one path segment: `run_1/../x` must not walk to another endpoint, nor may an empty
    id, `.` or `..` (which would name the list, or the parent, instead of one item)."""
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} is not an id FLORA issues")
    return quote(value, safe="")


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _redacted(request: httpx2.Request) -> httpx2.Request:
    """A copy of `request` without the Authorization header, safe to attach to an exception."""
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "authorization"]
    return httpx2.Request(request.method, request.url, headers=headers)
