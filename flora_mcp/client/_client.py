"""The async FLORA API client: one method per endpoint, typed in and out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, ValidationError

from flora_mcp import __version__
from flora_mcp.client._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    status_error,
)
from flora_mcp.client._models import (
    Generation,
    GenerationRequest,
    GenerationType,
    Model,
    Page,
    Project,
    Run,
    RunStarted,
    RunStatus,
    Workspace,
    _Generations,
    _Models,
    _Projects,
    _Workspaces,
)
from flora_mcp.client._retry import RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "FloraClient"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://app.flora.ai/api/v1"
_USER_AGENT: Final = f"flora-mcp/{__version__}"

M = TypeVar("M", bound=BaseModel)


class FloraClient:
    """Async client for the FLORA public API.

    Pass `http` to share one connection pool between clients (e.g. one per user key); a shared
    pool is not closed by `aclose()`. The key travels on each request, never as a pool default.

    Connection errors, timeouts, 408, 429 and 5xx are retried: at most `max_attempts` sends (1 = no
    retries) within `retry_budget` seconds in all, waits included, waiting as `Retry-After` says or
    with exponential backoff and jitter (0.5 s doubling to 8 s). Every attempt of a POST carries
    the same `Idempotency-Key`. `sleep` and `clock` are seams for tests.
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
        return Page[Project](
            items=body.projects, next_cursor=body.meta.next_cursor, total_estimate=body.meta.total_estimate
        )

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

    async def get_project(self, project_id: str) -> Project:
        return _parse(Project, await self._request("GET", f"/projects/{_segment(project_id)}"))

    # Models and generations

    async def list_models(self, type: GenerationType | None = None) -> list[Model]:
        return _parse(_Models, await self._request("GET", "/models", params={"type": type})).models

    async def generate(self, request: GenerationRequest) -> RunStarted:
        """Start a generation (`POST /generate`); it spends credits. Poll `get_run(run_id)`."""
        body = request.model_dump(mode="json", exclude_none=True)
        return _parse(RunStarted, await self._request("POST", "/generate", json=body))

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
        return Page[Generation](
            items=body.generations, next_cursor=body.meta.next_cursor, total_estimate=body.meta.total_estimate
        )

    # Transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | None] | None = None,
        idempotency_key: str | None = None,
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
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        request = self._http.build_request(
            method,
            self._base_url + path,
            params={k: v for k, v in (params or {}).items() if v is not None},
            json=json,
            headers=headers,
            timeout=self._timeout,
        )
        return await self._retry.run(lambda: self._send(request), method=method, path=request.url.path)

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        """One attempt: send, log, and turn transport failures and non-2xx answers into FloraErrors."""
        started = time.perf_counter()
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
        self._log(request, response.status_code, started)
        if not response.is_success:
            raise status_error(response, request=_redacted(request))
        return response

    @staticmethod
    def _log(request: httpx2.Request, outcome: int | str, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %s in %.0f ms", request.method, request.url.path, outcome, elapsed_ms)


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
            message, status_code=response.status_code, request=_redacted(request)
        ) from None


def _segment(value: str) -> str:
    """An ID as one path segment: `run_1/../x` must not walk to another endpoint."""
    return quote(value, safe="")


def _redacted(request: httpx2.Request) -> httpx2.Request:
    """A copy of `request` without the Authorization header, safe to attach to an exception."""
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "authorization"]
    return httpx2.Request(request.method, request.url, headers=headers)
