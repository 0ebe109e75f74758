"""Under dropped answers and random 429/503, N generations started through the tools are N runs
in FLORA and N distinct run ids in the answers: nothing started twice, nothing lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anyio
import pytest
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, IdempotencyMode, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import TEST_SPEED, call_ok, workspace_and_project

pytestmark = pytest.mark.anyio

N = 6
FAULTS = [
    FaultRule(
        method="POST", path="/generate", drop_after_processing=True, first_only_per_idempotency_key=True
    ),
    FaultRule(status=429, retry_after=0.05, probability=0.2),
    FaultRule(status=503, probability=0.2),
]


@pytest.fixture(params=["replay", "conflict"])
def faulty_sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    """A sandbox of its own: `replay` answers a repeated key with the original response, `conflict`
    with 409 idempotency_duplicate (then the server must find the run it started)."""
    mode: IdempotencyMode = request.param
    with start_sandbox(speed=TEST_SPEED, seed=1234, faults=FAULTS, idempotency=mode) as running:
        yield running


async def test_n_starts_under_faults_are_n_runs_and_n_distinct_ids(faulty_sandbox: RunningSandbox) -> None:
    key = f"exactly-once-{uuid.uuid4().hex}"
    settings = Settings(api_key=SecretStr(key), base_url=faulty_sandbox.base_url, max_attempts=8)
    async with Client(build_server(settings)) as mcp:
        faulty_sandbox.state.faults.clear()  # set-up is not under test
        workspace_id, project_id = await workspace_and_project(mcp)
        faulty_sandbox.state.faults.add(*FAULTS)
        before = faulty_sandbox.state.runs_started()
        run_ids: list[str] = []

        async def start(i: int) -> None:
            started = await call_ok(
                mcp,
                "create_generation",
                {
                    "type": "text",
                    "prompt": f"line {i}",
                    "workspace_id": workspace_id,
                    "project_id": project_id,
                },
            )
            run_ids.append(started["run_id"])

        async with anyio.create_task_group() as starts:  # half at once, half one after another
            for i in range(N // 2):
                starts.start_soon(start, i)
        for i in range(N // 2, N):
            await start(i)

    assert len(run_ids) == N
    assert len(set(run_ids)) == N
    assert faulty_sandbox.state.runs_started() - before == N
    assert set(run_ids) <= set(faulty_sandbox.state.runs)
    assert any(r.dropped for r in faulty_sandbox.state.requests)  # the faults really happened
