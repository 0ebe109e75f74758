"""A recognisable key, the whole flow under faults at the most verbose log level: the key is in
no log line, no error and no result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from flora_mcp.sandbox import RunningSandbox
from tests.conftest import wait_for_run
from tests.servers import flora_server, server_env

pytestmark = pytest.mark.anyio

SERVER_KEY = "flora-live-SECRET-9f8e7d6c5b4a"
CLIENT_KEY = "flora-client-SECRET-1a2b3c4d5e6f"


def _dump(result: CallToolResult) -> str:
    return result.model_dump_json() + json.dumps(result.structured_content)


async def _flow_with_errors(mcp: Client, sandbox: RunningSandbox) -> list[str]:
    """The four steps plus failures of every kind; the text of everything the client was shown."""
    seen: list[str] = []

    async def call(tool: str, args: dict[str, object]) -> CallToolResult:
        result = await mcp.call_tool(tool, args)
        seen.append(_dump(result))
        return result

    sandbox.state.inject_fault(status=503, times=1)
    sandbox.state.inject_fault(status=429, retry_after=0.1, times=1)
    workspaces = (await call("list_workspaces", {})).structured_content
    assert workspaces is not None
    workspace_id = workspaces["workspaces"][0]["workspace_id"]
    project = (
        await call("create_project", {"workspace_id": workspace_id, "name": "secrets"})
    ).structured_content
    assert project is not None
    await call("list_models", {"type": "image"})
    started = (
        await call(
            "create_generation",
            {
                "type": "image",
                "prompt": "a mug",
                "workspace_id": workspace_id,
                "project_id": project["project_id"],
            },
        )
    ).structured_content
    assert started is not None
    seen.append(_dump(await wait_for_run(mcp, started["run_id"])))
    failing: list[tuple[str, dict[str, object]]] = [
        ("create_generation", {"type": "t2i", "prompt": "x", "workspace_id": "ws_x", "project_id": "prj_x"}),
        ("get_generation_status", {"run_id": "run_missing"}),
        ("list_projects", {"workspace_id": "ws_not_mine"}),
        ("list_models", {"type": 42}),
    ]
    for tool, args in failing:
        assert (await call(tool, args)).is_error
    sandbox.state.inject_fault(status=500, times=10)  # beyond the retry budget: an API error surfaces
    assert (await call("list_workspaces", {})).is_error
    sandbox.state.faults.clear()
    return seen


async def test_server_key_appears_nowhere_over_stdio(sandbox: RunningSandbox, tmp_path: Path) -> None:
    env = server_env(FLORA_API_KEY=SERVER_KEY, FLORA_BASE_URL=sandbox.base_url, FLORA_LOG_LEVEL="DEBUG")
    params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=env)
    log_path = tmp_path / "stderr.log"
    with log_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as mcp:
            seen = await _flow_with_errors(mcp, sandbox)
    logs = log_path.read_text()
    assert "DEBUG" in logs  # the most verbose level really was on
    assert SERVER_KEY in {r.api_key for r in sandbox.state.requests}  # and the key really was used
    assert SERVER_KEY not in logs
    for text in seen:
        assert SERVER_KEY not in text


async def test_client_key_appears_nowhere_over_http(sandbox: RunningSandbox) -> None:
    env = server_env(FLORA_BASE_URL=sandbox.base_url, FLORA_LOG_LEVEL="DEBUG")
    with flora_server("--transport", "http", "--require-client-key", env=env) as server:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {CLIENT_KEY}"}, timeout=30)
        async with http, Client(streamable_http_client(server.url, http_client=http)) as mcp:
            seen = await _flow_with_errors(mcp, sandbox)
        server.process.terminate()
        server.process.wait(timeout=10)
        logs = "".join(server.stderr)
    assert "DEBUG" in logs
    assert CLIENT_KEY in {r.api_key for r in sandbox.state.requests}
    assert CLIENT_KEY not in logs
    for text in seen:
        assert CLIENT_KEY not in text
