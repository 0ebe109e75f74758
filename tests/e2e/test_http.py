"""Real server processes on loopback, driven by MCP clients over streamable HTTP and SSE."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from flora_mcp.sandbox import RunningSandbox
from tests.conftest import call_ok, four_steps
from tests.servers import flora_server, server_env

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _with_headers(headers: dict[str, str]) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))


async def test_streamable_http_runs_the_four_steps_on_the_embedded_sandbox() -> None:
    with flora_server("--transport", "http") as server:
        assert server.url.endswith("/mcp")
        async with Client(server.url) as mcp:
            await four_steps(mcp)


async def test_sse_runs_the_four_steps() -> None:
    with flora_server("--transport", "sse") as server:
        assert server.url.endswith("/sse")
        async with Client(sse_client(server.url)) as mcp:
            await four_steps(mcp, aspect_ratio="9:16")


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in miniature: each request goes to the next server in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)
        self.served: list[int] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        self.served.append(port)
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        return await self.inner.handle_async_request(request)


async def test_stateless_replicas_serve_one_client_alternately(sandbox: RunningSandbox) -> None:
    env = server_env(FLORA_API_KEY="stateless-key", FLORA_BASE_URL=sandbox.base_url)
    with (
        flora_server("--transport", "http", "--stateless", env=env) as first,
        flora_server("--transport", "http", "--stateless", env=env) as second,
    ):
        ports = [httpx2.URL(s.url).port or 0 for s in (first, second)]
        balancer = RoundRobin(ports)
        http = httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30, read=300))
        async with http, Client(streamable_http_client(first.url, http_client=http)) as mcp:
            await four_steps(mcp)
    assert set(balancer.served) == set(ports)
    consecutive = list(itertools.pairwise(balancer.served))
    assert all(a != b for a, b in consecutive)


async def test_auth_token_guards_the_endpoint(sandbox: RunningSandbox) -> None:
    env = server_env(
        FLORA_API_KEY="server-key", FLORA_BASE_URL=sandbox.base_url, FLORA_AUTH_TOKEN="s3cret-token"
    )
    with flora_server("--transport", "http", env=env) as server:
        async with httpx2.AsyncClient() as raw:
            missing = await raw.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)
            wrong = await raw.post(
                server.url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": "Bearer guess"}
            )
        assert missing.status_code == 401
        assert wrong.status_code == 401
        assert "s3cret-token" not in wrong.text
        http = _with_headers({"Authorization": "Bearer s3cret-token"})
        async with http, Client(streamable_http_client(server.url, http_client=http)) as mcp:
            workspaces = await call_ok(mcp, "list_workspaces")
        assert workspaces["workspaces"]
    # The token guards the endpoint; FLORA was called with the server's key only.
    keys = {r.api_key for r in sandbox.state.requests if r.path.endswith("/workspaces")}
    assert "server-key" in keys
    assert "s3cret-token" not in keys


async def test_each_client_key_is_used_for_its_own_requests_only(sandbox: RunningSandbox) -> None:
    env = server_env(FLORA_BASE_URL=sandbox.base_url)
    with flora_server("--transport", "http", "--require-client-key", env=env) as server:
        async with httpx2.AsyncClient() as raw:
            keyless = await raw.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)
        assert keyless.status_code == 401
        before = len(sandbox.state.requests)
        keys = ["alice-flora-key-1f2e", "bob-flora-key-9c8d"]
        results: dict[str, dict[str, Any]] = {}

        async def user(key: str) -> None:
            http = _with_headers({"Authorization": f"Bearer {key}"})
            async with http, Client(streamable_http_client(server.url, http_client=http)) as mcp:
                results[key] = await four_steps(mcp)

        async with anyio.create_task_group() as users:
            for key in keys:
                users.start_soon(user, key)

    requests = sandbox.state.requests[before:]
    assert {r.api_key for r in requests} == set(keys)
    for key in keys:
        assert sandbox.state.runs[results[key]["run_id"]].api_key == key
    workspaces = {key: sandbox.state.runs[results[key]["run_id"]].workspace_id for key in keys}
    assert workspaces[keys[0]] != workspaces[keys[1]]


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Origin": "http://evil.example"}],
    ids=["foreign-host", "foreign-origin"],
)
async def test_loopback_server_rejects_foreign_host_or_origin(headers: dict[str, str]) -> None:
    with flora_server("--transport", "http") as server:
        async with httpx2.AsyncClient() as raw:
            foreign = await raw.post(server.url, json=INITIALIZE, headers=MCP_HEADERS | headers)
            local = await raw.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)
    assert foreign.status_code in (400, 403, 421)
    assert local.status_code == 200


def test_non_loopback_bind_without_auth_is_refused_at_start() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "flora_mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "--auth-token" in refused.stderr and "--require-client-key" in refused.stderr
    assert "Traceback" not in refused.stderr
