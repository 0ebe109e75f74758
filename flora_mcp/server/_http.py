"""The HTTP transports: who may call, with which FLORA key, and the app that serves them.

Two ways to authenticate, chosen by the operator:
- `--auth-token`: the MCP endpoint is guarded by one token, and the server's FLORA_API_KEY pays;
- otherwise a client may send its own FLORA key as `Authorization: Bearer …`, used for that
  request's API calls only (`--require-client-key` makes it mandatory).
"""

from __future__ import annotations

import hmac
import socket
from collections.abc import Callable

import anyio.to_thread
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp._constants import LOOPBACK_HOSTS
from flora_mcp.server._app import build_server
from flora_mcp.server._bearer import bearer
from flora_mcp.server._state import AppState
from flora_mcp.settings import Settings


class CallerGate:
    """ASGI guard in front of the MCP endpoint: 401 before any MCP processing."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.token = settings.auth_token.get_secret_value().encode() if settings.auth_token else None
        self.require_client_key = settings.require_client_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(bearer(Headers(scope=scope).get("authorization")))
            if problem is not None:
                response = JSONResponse(
                    {"error": "unauthorized", "error_description": problem},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="flora-mcp"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, token: str | None) -> str | None:
        if self.token is not None:
            # Constant-time: the comparison must not reveal how much of a guess was right.
            if token is None or not hmac.compare_digest(token.encode(), self.token):
                return "missing or wrong token: send 'Authorization: Bearer <the server's auth token>'"
        elif self.require_client_key and token is None:
            return "send your FLORA API key as 'Authorization: Bearer <key>'"
        return None


def transport_security(settings: Settings) -> TransportSecuritySettings | None:
    """Host/Origin checks against DNS rebinding, on for loopback binds (where browsers are the threat)."""
    if settings.host not in LOOPBACK_HOSTS:
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


async def serve_http(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """Serve MCP over streamable HTTP (`/mcp`) or SSE (`/sse`) until cancelled or signalled."""
    import uvicorn  # lazy: stdio never needs the HTTP server stack

    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it Nagle delays each answer's body ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((settings.host, settings.port))  # bound first, so port 0 resolves before we announce
    port = sock.getsockname()[1]
    opened = await anyio.to_thread.run_sync(AppState.open, settings)  # refuses an unreachable database
    async with opened.running() as state:
        state.want_sandbox()  # no handshake to wait for: the sandbox serves every session
        server = build_server(settings, state=state)
        security = transport_security(settings)
        if settings.transport == "http":
            app = server.streamable_http_app(
                json_response=settings.stateless,
                stateless_http=settings.stateless,
                transport_security=security,
                host=settings.host,
            )
            path = "/mcp"
        else:
            app = server.sse_app(transport_security=security, host=settings.host)
            path = "/sse"
        config = uvicorn.Config(
            CallerGate(app, settings),
            log_level=settings.log_level.lower(),
            access_log=settings.log_level == "DEBUG",
            log_config=None,  # keep the process's logging (stderr, our format)
        )
        uvicorn_server = uvicorn.Server(config)
        shown_host = f"[{settings.host}]" if family == socket.AF_INET6 else settings.host
        sock.listen(2048)  # from here connections queue until uvicorn accepts them
        on_ready(f"http://{shown_host}:{port}{path}")
        await uvicorn_server.serve(sockets=[sock])
