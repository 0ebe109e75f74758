"""An external client, the MCP Inspector CLI, lists the tools and calls one, over stdio and HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.npm_tools import npm_tool
from tests.servers import flora_server, server_env

# Node 20 here: the 2.x Inspector needs Node 22; 0.15.0 is the newest for 20 and has --cli.
INSPECTOR_VERSION = "0.15.0"


@pytest.fixture(scope="module")
def inspector() -> Path:
    return npm_tool("@modelcontextprotocol/inspector", INSPECTOR_VERSION, "mcp-inspector")


def _inspect(inspector: Path, target: list[str], *method: str) -> dict[str, object]:
    done = subprocess.run(
        [str(inspector), "--cli", *target, "--method", *method],
        capture_output=True,
        text=True,
        timeout=120,
        env=server_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def _check(inspector: Path, target: list[str]) -> None:
    listed = _inspect(inspector, target, "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert {"list_workspaces", "create_generation", "get_generation_status", "generate"} <= names
    called = _inspect(inspector, target, "tools/call", "--tool-name", "list_workspaces")
    assert called["isError"] is False
    assert called["structuredContent"]["workspaces"][0]["workspace_id"].startswith("ws_")  # type: ignore[index]


def test_inspector_cli_uses_the_stdio_server(inspector: Path) -> None:
    _check(inspector, [sys.executable, "-m", "flora_mcp"])


def test_inspector_cli_uses_the_http_server(inspector: Path) -> None:
    with flora_server("--transport", "http") as server:
        _check(inspector, [server.url])
