"""ASGI middleware: records every API request on the state, and answers with injected faults."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flora_mcp.sandbox._store import RecordedRequest, SandboxState
from flora_mcp.sandbox._views import API_PREFIX


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
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def recording_send(message: Message) -> None:
            # Recorded as the answer starts, so a client that has its answer also sees the record.
            if message["type"] == "http.response.start":
                self.state.requests.append(
                    RecordedRequest(
                        method=scope["method"],
                        path=scope["path"],
                        query=scope["query_string"].decode("latin-1"),
                        api_key=bearer(headers.get("authorization")),
                        idempotency_key=headers.get("idempotency-key"),
                        status=message["status"],
                    )
                )
            await send(message)

        fault = self.state.take_fault()
        if fault is None:
            await self.app(scope, receive, recording_send)
            return
        code = "rate_limited" if fault.status == 429 else "unknown_error"
        body = json.dumps(
            {"error": {"code": code, "message": f"Injected fault: HTTP {fault.status}."}}
        ).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if fault.retry_after is not None:
            response_headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
        await recording_send(
            {"type": "http.response.start", "status": fault.status, "headers": response_headers}
        )
        await recording_send({"type": "http.response.body", "body": body})
