"""ASGI middleware: a `request-id` on every answer, records every API request, plays `state.faults`."""

from __future__ import annotations

import json
import uuid
from email.utils import formatdate
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flora_mcp.sandbox._faults import Decision
from flora_mcp.sandbox._store import RecordedRequest, SandboxState
from flora_mcp.sandbox._views import API_PREFIX

# The envelope code an injected status answers with; any other status is an unknown_error.
_CODES: Final = {
    400: "input_validation_error",
    401: "unauthorized",
    402: "insufficient_credits",
    403: "forbidden",
    404: "not_found",
    409: "idempotency_duplicate",
    429: "rate_limited",
}


class DroppedConnection(Exception):
    """Raised after a request was processed so that the server closes the connection unanswered."""


def bearer(value: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>`, or None when there is no bearer header."""
    if value is None or value[:7].lower() != "bearer ":
        return None
    return value[7:].strip()


class RecordRequests:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # FLORA puts a request-id on every answer, errors included; its support asks for it.
        request_id = str(uuid.uuid4())
        send = _with_request_id(send, request_id, self.state.clock())
        if not scope["path"].startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        api_key = bearer(headers.get("authorization"))
        idempotency_key = headers.get("idempotency-key")

        def record(status: int, *, dropped: bool = False) -> None:
            self.state.requests.append(
                RecordedRequest(
                    method=scope["method"],
                    path=scope["path"],
                    query=scope["query_string"].decode("latin-1"),
                    api_key=api_key,
                    idempotency_key=idempotency_key,
                    status=status,
                    dropped=dropped,
                    request_id=request_id,
                )
            )

        async def recording_send(message: Message) -> None:
            # Recorded as the answer starts, so a client that has its answer also sees the record.
            if message["type"] == "http.response.start":
                record(message["status"])
            await send(message)

        path = scope["path"].removeprefix(API_PREFIX)
        decision = self.state.faults.decide(scope["method"], path, api_key, idempotency_key)
        if decision.latency:
            await anyio.sleep(decision.latency)
        if decision.status is not None:
            await _answer_fault(decision, recording_send)
        elif decision.drop:
            start = await _processed_unanswered(self.app, scope, receive)
            if start is not None:
                record(start["status"], dropped=True)
                await send(start)
                raise DroppedConnection(f"Injected fault: {scope['method']} {scope['path']} dropped")
        else:
            await self.app(scope, receive, recording_send)


def _with_request_id(send: Send, request_id: str, now: float) -> Send:
    # `Date` from the sandbox's own clock (uvicorn's is turned off), so a test can skew FLORA's time.
    date = formatdate(now, usegmt=True).encode()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"request-id", request_id.encode()), (b"date", date)]
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _processed_unanswered(app: ASGIApp, scope: Scope, receive: Receive) -> Message | None:
    """Run the handler to the end (the run starts, the key is remembered); keep its answer's start.

    The caller sends only that start and raises: an exception after the response has started is how
    an ASGI server is told to close the connection. uvicorn then writes no body, so the client reads
    a status line and headers and then the end of the stream (httpx: RemoteProtocolError).
    """
    start: Message | None = None

    async def hold(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message

    await app(scope, receive, hold)
    return start


async def _answer_fault(decision: Decision, send: Send) -> None:
    status = decision.status
    assert status is not None
    code = _CODES.get(status, "unknown_error")
    body = json.dumps({"error": {"code": code, "message": f"Injected fault: HTTP {status}."}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if decision.retry_after is not None:
        headers.append((b"retry-after", f"{decision.retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
