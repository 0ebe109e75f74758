"""A round-robin HTTP balancer for scale-out tests and the load benchmark.

    with round_robin([replica_a.url, replica_b.url]) as balancer:
        async with Client(balancer.url + "/mcp") as client: ...
        assert all(balancer.counts.values())   # both replicas answered

Every request (not every connection) goes to the next upstream in turn, as a load balancer without
sticky routing does: method, path, query, headers (without hop-by-hop ones) and body are forwarded,
the answer streams back as it arrives (SSE included). An upstream that refuses the connection (a
killed replica) is skipped for that request, as nginx's `proxy_next_upstream error` does; the request
never reached it, so retrying it elsewhere is safe even for a POST. None answering: 502.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx2
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

START_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 10
# RFC 9110 7.6.1, plus the ones the client library sets again for the upstream hop.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# No read timeout: an SSE stream or a long `wait_seconds` call may be silent for a long time.
_TIMEOUT = httpx2.Timeout(connect=5, read=None, write=30, pool=None)
_LIMITS = httpx2.Limits(max_connections=None, max_keepalive_connections=200)

logger = logging.getLogger(__name__)


def _forwarded(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers without hop-by-hop ones, nor those the `Connection` header names as such."""
    named = {
        token.strip().lower()
        for key, value in headers
        if key.lower() == b"connection"
        for token in value.split(b",")
    }
    return [
        (k, v)
        for k, v in headers
        if k.lower() not in named and k.decode("latin-1").lower() not in _HOP_BY_HOP
    ]


class Balancer:
    """The ASGI app: `counts[upstream]` is how many requests that upstream has answered."""

    def __init__(self, upstreams: list[str]) -> None:
        if not upstreams:
            raise ValueError("a balancer needs at least one upstream")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.counts: dict[str, int] = dict.fromkeys(self.upstreams, 0)
        self.url = ""  # set once it serves
        self._turns = itertools.cycle(range(len(self.upstreams)))
        self._http: httpx2.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            response = await self._forward(Request(scope, receive))
            await response(scope, receive, send)
        # websockets: not needed by MCP; the connection is refused by returning without accepting

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._http = httpx2.AsyncClient(timeout=_TIMEOUT, limits=_LIMITS, follow_redirects=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._http is not None:
                    await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, request: Request) -> Response:
        assert self._http is not None, "the balancer serves only between its lifespan's start and end"
        body = await request.body()
        target = request.scope.get("raw_path") or request.url.path.encode()
        if query := request.scope.get("query_string"):
            target += b"?" + query
        headers = _forwarded(list(request.headers.raw))
        start = next(self._turns)
        for turn in range(len(self.upstreams)):
            upstream = self.upstreams[(start + turn) % len(self.upstreams)]
            outgoing = self._http.build_request(
                request.method, upstream + target.decode("latin-1"), headers=headers, content=body
            )
            try:
                answer = await self._http.send(outgoing, stream=True)
            except httpx2.ConnectError:
                logger.info("balancer: %s refused the connection; trying the next upstream", upstream)
                continue
            self.counts[upstream] += 1
            response = StreamingResponse(_relay(answer), status_code=answer.status_code)
            response.raw_headers = _forwarded(list(answer.headers.raw))
            return response
        return PlainTextResponse("no upstream accepted the connection", status_code=502)


async def _relay(answer: httpx2.Response) -> AsyncIterator[bytes]:
    """The upstream's bytes as they arrive (still encoded, as its headers say); closed in any case."""
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:
        await answer.aclose()


class _Server(uvicorn.Server):
    """A uvicorn server that says when it accepts connections."""

    def __init__(self, config: uvicorn.Config, started: threading.Event) -> None:
        super().__init__(config)
        self._started = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._started.set()


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Any ASGI app on a free loopback port, from a background thread until the block ends; its origin."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see flora_mcp/sandbox/_runner.py
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="auto",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )
    started = threading.Event()
    server = _Server(config, started)

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
            started.set()  # never leave the caller waiting

    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=serve, name=f"asgi-{origin}", daemon=True)
    thread.start()
    try:
        if not started.wait(START_TIMEOUT_SECONDS) or not server.started:
            raise RuntimeError(f"{app!r} did not start on {origin}")
        yield origin
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)


@contextmanager
def round_robin(upstreams: list[str]) -> Iterator[Balancer]:
    """A balancer over `upstreams` (origins such as http://127.0.0.1:8001) on a free loopback port,
    until the block ends; `.url` is its origin, `.counts` the requests each upstream answered."""
    balancer = Balancer(upstreams)
    with serving(balancer) as origin:
        balancer.url = origin
        yield balancer
