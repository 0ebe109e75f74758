"""Each start is handed the run its own request created: under lost answers and random 429/503,
across restarts and with FLORA's clock elsewhere; and where FLORA's history cannot decide, the
candidates are listed instead of a guess. The cases are argued in `flora_mcp/server/_starting.py`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, IdempotencyMode, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.server._state import AppState
from flora_mcp.settings import Settings
from tests.conftest import TEST_SPEED, call_ok, error_text, workspace_and_project

pytestmark = pytest.mark.anyio

N = 6
LOST = FaultRule(
    method="POST", path="/generate", drop_after_processing=True, first_only_per_idempotency_key=True
)
FAULTS = [
    LOST,
    FaultRule(status=429, retry_after=0.05, probability=0.2),
    FaultRule(status=503, probability=0.2),
]


@pytest.fixture(params=["replay", "conflict"])
def faulty_sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    """A sandbox of its own: `replay` answers a repeated key with the original response, `conflict`
    with 409 idempotency_duplicate (FLORA's measured behaviour: the server must find the run)."""
    mode: IdempotencyMode = request.param
    with start_sandbox(speed=TEST_SPEED, seed=1234, faults=FAULTS, idempotency=mode) as running:
        yield running


@asynccontextmanager
async def server(sandbox: RunningSandbox, key: str, journal: Path | str) -> AsyncIterator[Client]:
    settings = Settings(
        api_key=SecretStr(key), base_url=sandbox.base_url, max_attempts=8, journal=str(journal)
    )
    async with Client(build_server(settings)) as client:
        yield client


async def text_model(mcp: Client) -> str:
    models = (await call_ok(mcp, "list_models", {"type": "text"}))["models"]
    model_id: str = next(m["model_id"] for m in models if m["model_id"].startswith("t2t-"))
    return model_id


def generation(workspace_id: str, project_id: str, prompt: str, model: str | None = None) -> dict[str, str]:
    arguments = {"type": "text", "prompt": prompt, "workspace_id": workspace_id, "project_id": project_id}
    return arguments | ({"model": model} if model else {})


async def start_at_once(
    mcp: Client, workspace_id: str, project_id: str, model: str | None, n: int
) -> dict[str, str]:
    """`n` create_generation calls at once, prompts "line 0".."line n-1": each prompt's answered run id."""
    answers: dict[str, str] = {}

    async def start(i: int) -> None:
        prompt = f"line {i}"
        started = await call_ok(mcp, "create_generation", generation(workspace_id, project_id, prompt, model))
        answers[prompt] = started["run_id"]

    async with anyio.create_task_group() as starts:
        for i in range(n):
            starts.start_soon(start, i)
    return answers


def prompt_of(sandbox: RunningSandbox, run_id: str) -> str:
    return sandbox.state.runs[run_id].prompt


@pytest.mark.parametrize("named_model", [True, False], ids=["named model", "default model"])
async def test_concurrent_starts_each_get_the_run_of_their_own_prompt(
    faulty_sandbox: RunningSandbox, tmp_path: Path, named_model: bool
) -> None:
    async with server(faulty_sandbox, f"key-{uuid.uuid4().hex}", tmp_path / "runs.sqlite3") as mcp:
        faulty_sandbox.state.faults.clear()  # set-up is not under test
        workspace_id, project_id = await workspace_and_project(mcp)
        model = await text_model(mcp) if named_model else None
        faulty_sandbox.state.faults.add(*FAULTS)
        before = faulty_sandbox.state.runs_started()
        answers = await start_at_once(mcp, workspace_id, project_id, model, N)  # every first answer lost

    assert faulty_sandbox.state.runs_started() - before == N
    assert len(set(answers.values())) == N
    assert {prompt: prompt_of(faulty_sandbox, run_id) for prompt, run_id in answers.items()} == {
        prompt: prompt for prompt in answers
    }
    assert any(r.dropped for r in faulty_sandbox.state.requests)  # the faults really happened


async def test_after_a_restart_a_lost_answer_never_gets_an_earlier_run(tmp_path: Path) -> None:
    journal, key = tmp_path / "runs.sqlite3", f"key-{uuid.uuid4().hex}"
    with start_sandbox(speed=TEST_SPEED, seed=7, idempotency="conflict") as sandbox:
        async with server(sandbox, key, journal) as first:
            workspace_id, project_id = await workspace_and_project(first)
            model = await text_model(first)
            earlier = await call_ok(
                first, "create_generation", generation(workspace_id, project_id, "earlier", model)
            )
        sandbox.state.faults.add(LOST)
        async with server(sandbox, key, journal) as restarted:
            later = await call_ok(
                restarted, "create_generation", generation(workspace_id, project_id, "later", model)
            )

    assert later["run_id"] != earlier["run_id"]
    assert prompt_of(sandbox, later["run_id"]) == "later"


async def test_a_skewed_flora_clock_still_matches_the_lost_answer(tmp_path: Path) -> None:
    with start_sandbox(speed=TEST_SPEED, seed=8, idempotency="conflict") as sandbox:
        sandbox.state.clock = lambda: time.time() - 600  # FLORA ten minutes behind us
        async with server(sandbox, f"key-{uuid.uuid4().hex}", tmp_path / "runs.sqlite3") as mcp:
            workspace_id, project_id = await workspace_and_project(mcp)
            sandbox.state.faults.add(LOST)
            started = await call_ok(
                mcp, "create_generation", generation(workspace_id, project_id, "skewed", None)
            )

    assert prompt_of(sandbox, started["run_id"]) == "skewed"


async def test_a_foreign_run_in_the_window_is_listed_not_guessed(tmp_path: Path) -> None:
    """Another tool (its own store) starts the same model in the project a moment before: FLORA's
    history cannot tell the two runs apart, so both are named and neither is handed out."""
    key = f"key-{uuid.uuid4().hex}"
    with start_sandbox(speed=TEST_SPEED, seed=9, idempotency="conflict") as sandbox:
        async with (
            server(sandbox, key, "off") as other,
            server(sandbox, key, tmp_path / "runs.sqlite3") as mcp,
        ):
            workspace_id, project_id = await workspace_and_project(mcp)
            model = await text_model(mcp)
            foreign = await call_ok(
                other, "create_generation", generation(workspace_id, project_id, "theirs", model)
            )
            sandbox.state.faults.add(LOST)
            result = await mcp.call_tool(
                "create_generation", generation(workspace_id, project_id, "ours", model)
            )

    assert result.is_error
    ours = next(run_id for run_id, run in sandbox.state.runs.items() if run.prompt == "ours")
    message = error_text(result)
    assert foreign["run_id"] in message and ours in message
    assert "Do not start it again" in message
    assert sandbox.state.runs_started() == 2  # nothing started twice


async def test_a_lost_technique_answer_says_the_run_may_exist(tmp_path: Path) -> None:
    with start_sandbox(speed=TEST_SPEED, seed=10, idempotency="conflict") as sandbox:
        async with server(sandbox, f"key-{uuid.uuid4().hex}", tmp_path / "runs.sqlite3") as mcp:
            await workspace_and_project(mcp)
            sandbox.state.faults.add(
                FaultRule(method="POST", path="/runs/technique", drop_after_processing=True, times=1)
            )
            result = await mcp.call_tool(
                "run_technique",
                {"technique_id": "tech_tagline-writer", "inputs": {"brief": "a travel mug for cyclists"}},
            )

    assert result.is_error
    assert "may have started it" in error_text(result) and "Do not start it again" in error_text(result)
    posts = [r for r in sandbox.state.requests if r.method == "POST" and r.path.endswith("/runs/technique")]
    assert len(posts) == 2 and len({r.idempotency_key for r in posts}) == 1  # one start, one key


async def test_a_store_that_cannot_record_refuses_to_start(tmp_path: Path) -> None:
    with start_sandbox(speed=TEST_SPEED, seed=11) as sandbox:
        settings = Settings(
            api_key=SecretStr(f"key-{uuid.uuid4().hex}"),
            base_url=sandbox.base_url,
            journal=str(tmp_path / "j"),
        )
        state = AppState(settings)
        async with Client(build_server(settings, state)) as mcp:
            workspace_id, project_id = await workspace_and_project(mcp)
            started = await call_ok(
                mcp, "create_generation", generation(workspace_id, project_id, "kept", None)
            )
            (await state.store()).close()  # the database is gone
            before = sandbox.state.runs_started()
            refused = await mcp.call_tool(
                "create_generation", generation(workspace_id, project_id, "no", None)
            )
            listed = await call_ok(mcp, "list_generations", {"project_id": project_id})

    assert refused.is_error
    assert "Nothing was started or spent" in error_text(refused)
    assert sandbox.state.runs_started() == before
    assert started["run_id"] in {run["run_id"] for run in listed["generations"]}  # reads still work
