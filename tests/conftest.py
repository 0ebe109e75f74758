"""Shared fixtures: a sandbox on a free loopback port and MCP clients connected to the server."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, settings
from mcp.client import Client
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.postgres import PG_ROOT, ThrowawayPostgres, postgres_bin, throwaway_postgres

TOOL_NAMES = frozenset(
    {
        "list_workspaces",
        "list_projects",
        "create_project",
        "list_models",
        "create_generation",
        "get_generation_status",
        "generate",
        "list_generations",
        "upload_asset",
        "save_outputs",
        "list_techniques",
        "run_technique",
        "get_canvas",
        "edit_canvas",
        "run_nodes",
        "generate_batch",
    }
)
TEST_SPEED = 0.01  # runs finish in a fraction of a second

# Property tests: fixed seed and a small budget by default, so CI is fast and replayable;
# `pytest --hypothesis-profile=long` for a real search.
_SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, suppress_health_check=_SLOW_OK
)
settings.register_profile("long", max_examples=1500, deadline=None, suppress_health_check=_SLOW_OK)


def pytest_configure(config: pytest.Config) -> None:
    """`ci` unless the command line names a profile (conftest loads after hypothesis applies it).
    The run journal of every server the tests start (in process or not) goes to a folder of its own."""
    settings.load_profile(config.getoption("hypothesis_profile", default=None) or "ci")
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="flora-mcp-tests-")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on anyio's runner (`pytestmark = pytest.mark.anyio`), which keeps a
    fixture's setup and teardown in one task: MCP clients hold task groups that need that."""
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_sandbox(speed=TEST_SPEED)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """A real PostgreSQL for the session (tests/postgres.py). Skipped only where none is installed
    and not in CI: with CI=true a missing PostgreSQL fails, so CI never passes by skipping."""
    if postgres_bin() is None:
        reason = f"no PostgreSQL binaries under {PG_ROOT} (Debian: apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with throwaway_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_url(postgres: ThrowawayPostgres) -> str:
    return postgres.url


@pytest.fixture
def api_key() -> str:
    """A fresh key per test: the sandbox gives each key its own workspace."""
    return f"test-key-{uuid.uuid4().hex}"


@pytest.fixture
async def mcp(sandbox: RunningSandbox, api_key: str) -> AsyncIterator[Client]:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    async with Client(build_server(settings)) as client:
        yield client


def error_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def call_ok(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def workspace_and_project(client: Client, name: str = "Quick generations") -> tuple[str, str]:
    workspaces = (await call_ok(client, "list_workspaces"))["workspaces"]
    workspace_id = workspaces[0]["workspace_id"]
    project = await call_ok(client, "create_project", {"workspace_id": workspace_id, "name": name})
    return workspace_id, project["project_id"]


async def start_run(mcp: Client, type_: str, prompt: str) -> str:
    """One run started in a new project of the caller's workspace; its run_id."""
    workspace_id, project_id = await workspace_and_project(mcp)
    started = await call_ok(
        mcp,
        "create_generation",
        {"type": type_, "prompt": prompt, "workspace_id": workspace_id, "project_id": project_id},
    )
    run_id: str = started["run_id"]
    return run_id


async def wait_for_run(client: Client, run_id: str, limit_seconds: float = 30) -> CallToolResult:
    """Poll get_generation_status until the run has ended; the result of the last call."""
    with anyio.fail_after(limit_seconds):
        while True:
            result = await client.call_tool("get_generation_status", {"run_id": run_id})
            assert not result.is_error, error_text(result)
            assert result.structured_content is not None
            if result.structured_content["status"] in ("completed", "failed"):
                return result
            await anyio.sleep(0.05)


async def text_to_image_model(mcp: Client, aspect_ratio: str) -> dict[str, Any]:
    """Step 2 as an agent does it: the first text→image model of the list that offers the aspect
    ratio (read from its full params), with the value that model spells it with."""
    for row in (await call_ok(mcp, "list_models", {"type": "image"}))["models"]:
        if row["for"] != "text→image" or "aspect_ratio" not in row["params"]:
            continue
        [model] = (await call_ok(mcp, "list_models", {"type": "image", "model_id": row["model_id"]}))[
            "models"
        ]
        [param] = [p for p in model["params"] if p["name"] == "aspect_ratio"]
        for option in param.get("options", []):
            if aspect_ratio in (option["value"], option["label"]):
                found: dict[str, Any] = model | {"aspect_ratio_value": option["value"]}
                return found
    raise AssertionError(f"no text→image model offers {aspect_ratio}")


async def wait_for_settled_cost(mcp: Client, run_id: str) -> dict[str, Any]:
    """Read the run's status until FLORA has settled its cost (a condition with a timeout)."""
    with anyio.fail_after(10):
        while True:
            status = await call_ok(mcp, "get_generation_status", {"run_id": run_id})
            if status["cost_usd"] is not None:
                return status
            await anyio.sleep(0.1)


async def four_steps(mcp: Client, aspect_ratio: str = "4:3") -> dict[str, Any]:
    """The seed's four steps for one image; the completed run (shown inline) it ends with."""
    workspace_id, project_id = await workspace_and_project(mcp)
    model = await text_to_image_model(mcp, aspect_ratio)
    started = await call_ok(
        mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "a ceramic mug on a sunlit table",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": model["model_id"],
            "params": {"aspect_ratio": model["aspect_ratio_value"]},
        },
    )
    result = await wait_for_run(mcp, started["run_id"])
    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    assert [b for b in result.content if isinstance(b, ImageContent)]
    run: dict[str, Any] = result.structured_content
    return run
