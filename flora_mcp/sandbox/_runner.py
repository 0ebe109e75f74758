"""Serving the app with uvicorn: in a background thread (for the MCP server and tests) or blocking (CLI).

uvicorn must never write to stdout, which belongs to the MCP stdio transport: no log config of its own
(its records propagate to whatever the process set up, on stderr), level warning, no access log.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from flora_mcp.sandbox._app import create_app
from flora_mcp.sandbox._faults import FaultRule
from flora_mcp.sandbox._middleware import DroppedConnection
from flora_mcp.sandbox._store import DURATION_FACTORS, SETTLE_SECONDS, IdempotencyMode, SandboxState
from flora_mcp.sandbox._views import API_PREFIX, alternate_origin

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """A uvicorn server that says when it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def _not_an_injected_drop(record: logging.LogRecord) -> bool:
    """uvicorn logs the exception that drops a connection as a failure; an injected drop is not one."""
    return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _config(app: Starlette) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_not_an_injected_drop)  # once: the same function
    return uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        date_header=False,  # the middleware dates answers by the sandbox's clock
        lifespan="off",
        loop="asyncio",
        proxy_headers=False,  # media URLs use the origin the client actually called
        timeout_graceful_shutdown=2,
    )


def _bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket (so port 0 becomes a real port before serving) and the origin that reaches it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    # Accepted sockets inherit this. asyncio sets it only on sockets made with proto=IPPROTO_TCP, and
    # create_server makes proto 0: without it, Nagle holds each answer's body until the client's
    # delayed ACK of its headers, 40 ms per request on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    url_host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    if ":" in url_host:
        url_host = f"[{url_host}]"
    return sock, f"http://{url_host}:{sock.getsockname()[1]}"


class RunningSandbox:
    """A sandbox serving from a daemon thread with its own event loop; `stop()` it or use it in `with`."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, origin: str, state: SandboxState
    ) -> None:
        self._server = server
        self._thread = thread
        self.origin = origin
        self.base_url = origin + API_PREFIX
        # Every other run's outputs are served from the second origin, as FLORA serves from two hosts;
        # uploads from a third that it does not announce, as FLORA's storage (BEHAVIOUR.md).
        self.media_origins: tuple[str, ...] = tuple(dict.fromkeys((origin, alternate_origin(origin))))
        self.storage_origin = state.storage_origin or origin
        self.state = state

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSandbox(base_url={self.base_url!r})"


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    speed: float = 1.0,
    seed: int | None = None,
    faults: Iterable[FaultRule] = (),
    idempotency: IdempotencyMode = "conflict",
    duration_factors: tuple[float, float] = DURATION_FACTORS,
    settle_seconds: float = SETTLE_SECONDS,
) -> RunningSandbox:
    """Start a sandbox in a background thread; returns once it accepts connections.

    The options are as for `create_app`; change them later on `.state`.
    """
    sock, origin = _bind(host, port)
    storage, storage_origin = _bind(host, 0)
    app = create_app(
        speed=speed,
        seed=seed,
        faults=faults,
        idempotency=idempotency,
        duration_factors=duration_factors,
        settle_seconds=settle_seconds,
    )
    app.state.sandbox.storage_origin = storage_origin
    ready = threading.Event()
    server = _Server(_config(app), on_started=ready.set)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock, storage])
        except BaseException as exc:  # uvicorn exits with SystemExit on startup failures
            failure.append(exc)
        finally:
            sock.close()
            storage.close()
            ready.set()  # never leave the caller waiting

    thread = threading.Thread(target=serve, name="flora-sandbox", daemon=True)
    thread.start()
    running = RunningSandbox(server, thread, origin, app.state.sandbox)
    if not ready.wait(_START_TIMEOUT) or not server.started or failure:
        running.stop()
        raise RuntimeError(f"The FLORA sandbox did not start on {origin}") from (
            failure[0] if failure else None
        )
    return running


def serve_sandbox(
    host: str,
    port: int,
    *,
    speed: float,
    on_ready: Callable[[str], None],
    seed: int | None = None,
    faults: Iterable[FaultRule] = (),
    idempotency: IdempotencyMode = "conflict",
    duration_factors: tuple[float, float] = DURATION_FACTORS,
    settle_seconds: float = SETTLE_SECONDS,
) -> None:
    """Serve in this thread until Ctrl-C or SIGTERM; `on_ready(base_url)` once it accepts connections.

    The options (e.g. `faults=parse_faults("POST /generate drop first")`) are as for `create_app`.
    """
    sock, origin = _bind(host, port)
    storage, storage_origin = _bind(host, 0)
    app = create_app(
        speed=speed,
        seed=seed,
        faults=faults,
        idempotency=idempotency,
        duration_factors=duration_factors,
        settle_seconds=settle_seconds,
    )
    app.state.sandbox.storage_origin = storage_origin
    server = _Server(_config(app), on_started=lambda: on_ready(origin + API_PREFIX))
    try:
        server.run(sockets=[sock, storage])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled gracefully
        pass
    finally:
        sock.close()
        storage.close()
