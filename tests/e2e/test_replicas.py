"""Two `--stateless` replicas, each with its own HOME, one PostgreSQL, a round-robin balancer: they
act as one server. Consent asked on one replica is answered on the other; each shows the prompts of
runs the other started; lost answers spread over both are each matched to their own run; a replica
killed while it waits leaves its run readable, with its prompt, on the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp.client import Client
from mcp.types import ElicitResult

from flora_mcp.sandbox import FaultRule, RunningSandbox, start_sandbox
from tests.balancer import Balancer, round_robin
from tests.conftest import TEST_SPEED, call_ok, error_text
from tests.postgres import ThrowawayPostgres
from tests.server.test_consent import ITEMS, TOTAL, User
from tests.server.test_exactly_once import generation, start_at_once
from tests.servers import ServerProcess, flora_server, server_env

pytestmark = pytest.mark.anyio

THRESHOLD = "0.05"
LOST = FaultRule(
    method="POST", path="/generate", drop_after_processing=True, first_only_per_idempotency_key=True
)


@dataclass
class Deployment:
    sandbox: RunningSandbox
    replicas: list[ServerProcess]
    balancer: Balancer
    database_url: str

    @property
    def url(self) -> str:
        return self.balancer.url + "/mcp"


@pytest.fixture
def deployment(postgres: ThrowawayPostgres, tmp_path: Path) -> Iterator[Deployment]:
    """Both replicas hold the same FLORA key, as one deployment does; each has its own HOME."""
    database_url = postgres.new_database()
    key = f"replicas-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        sandbox = stack.enter_context(start_sandbox(speed=TEST_SPEED, idempotency="conflict"))
        replicas = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            env = server_env(
                HOME=str(home),
                XDG_DATA_HOME=str(home / ".local" / "share"),
                FLORA_API_KEY=key,
                FLORA_BASE_URL=sandbox.base_url,
                FLORA_DATABASE_URL=database_url,
                FLORA_CONFIRM_ABOVE=THRESHOLD,
            )
            replicas.append(stack.enter_context(flora_server("--transport", "http", "--stateless", env=env)))
        balancer = stack.enter_context(round_robin([r.url.removesuffix("/mcp") for r in replicas]))
        yield Deployment(sandbox, replicas, balancer, database_url)


async def place(mcp: Client) -> tuple[str, str]:
    workspaces = (await call_ok(mcp, "list_workspaces"))["workspaces"]
    workspace_id = workspaces[0]["workspace_id"]
    project = await call_ok(mcp, "create_project", {"workspace_id": workspace_id, "name": "Replicas"})
    return workspace_id, project["project_id"]


@pytest.mark.parametrize("accept", [True, False], ids=["accept", "decline"])
async def test_consent_asked_on_one_replica_is_answered_on_the_other(
    deployment: Deployment, accept: bool
) -> None:
    answer = (
        ElicitResult(action="accept", content={"start": True}) if accept else ElicitResult(action="decline")
    )
    user = User(answer)
    async with Client(deployment.url, mode="auto", elicitation_callback=user) as mcp:  # 2026-07-28
        before = dict(deployment.balancer.counts)
        result = await mcp.call_tool("generate_batch", {"items": ITEMS})
    [question] = user.asked
    assert TOTAL in question
    served = {u: deployment.balancer.counts[u] - before[u] for u in before}
    assert all(served.values()), served  # the question and the answer went to different replicas
    if accept:
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        assert [i["ok"] for i in result.structured_content["items"]] == [True, True, True]
        assert deployment.sandbox.state.runs_started() == 3
    else:
        assert "Nothing started" in error_text(result) + str(result.structured_content)
        assert deployment.sandbox.state.runs_started() == 0


async def test_legacy_clients_confirm_through_the_argument_on_any_replica(deployment: Deployment) -> None:
    user = User(ElicitResult(action="accept", content={"start": True}))
    async with Client(deployment.url, mode="legacy", elicitation_callback=user) as mcp:
        first = await mcp.call_tool("generate_batch", {"items": ITEMS})
        assert f"confirm_spend_usd={TOTAL[1:]}" in error_text(first) + str(first.structured_content)
        assert deployment.sandbox.state.runs_started() == 0
        confirmed = await call_ok(
            mcp, "generate_batch", {"items": ITEMS, "confirm_spend_usd": float(TOTAL[1:])}
        )
    assert [i["ok"] for i in confirmed["items"]] == [True, True, True]
    assert user.asked == []  # a stateless legacy connection has no back channel: nobody was asked


async def test_each_replica_alone_shows_the_prompts_of_runs_the_other_started(
    deployment: Deployment,
) -> None:
    a, b = deployment.replicas
    async with Client(a.url) as on_a, Client(b.url) as on_b:
        workspace_id, project_id = await place(on_a)
        from_a = await call_ok(on_a, "create_generation", generation(workspace_id, project_id, "on a"))
        from_b = await call_ok(on_b, "create_generation", generation(workspace_id, project_id, "on b"))
        seen_by_b = await call_ok(on_b, "list_generations", {"project_id": project_id})
        seen_by_a = await call_ok(on_a, "list_generations", {"project_id": project_id})
    for seen in (seen_by_a, seen_by_b):
        prompts = {g["run_id"]: g.get("prompt") for g in seen["generations"]}
        assert prompts[from_a["run_id"]] == "on a"
        assert prompts[from_b["run_id"]] == "on b"


async def test_lost_answers_over_two_replicas_each_get_their_own_run(deployment: Deployment) -> None:
    async with Client(deployment.url) as mcp:
        workspace_id, project_id = await place(mcp)
        models = (await call_ok(mcp, "list_models", {"type": "text"}))["models"]
        model = next(m["model_id"] for m in models if m["model_id"].startswith("t2t-"))
        deployment.sandbox.state.faults.add(LOST)
        before = dict(deployment.balancer.counts)
        answers = await start_at_once(mcp, workspace_id, project_id, model, 6)

    runs = deployment.sandbox.state.runs
    assert all(deployment.balancer.counts[u] > before[u] for u in before)  # spread over both
    assert len(set(answers.values())) == 6 and len(runs) == 6
    assert {prompt: runs[run_id].prompt for prompt, run_id in answers.items()} == {p: p for p in answers}
    assert sum(r.dropped for r in deployment.sandbox.state.requests) == 6  # every first answer lost


async def test_a_killed_replicas_run_is_listed_with_its_prompt_by_the_other(
    deployment: Deployment,
) -> None:
    a, b = deployment.replicas
    deployment.sandbox.state.speed = 1.0  # runs take their whole estimate: A is still waiting
    async with Client(b.url) as on_b:
        _, project_id = await place(on_b)

        async def wait_on_a() -> None:
            async with Client(a.url) as on_a:
                await on_a.call_tool(
                    "generate", {"prompt": "a slow lighthouse", "type": "image", "project_id": project_id}
                )

        async with anyio.create_task_group() as group:
            group.start_soon(wait_on_a)
            with anyio.fail_after(30):  # A has its answer and is waiting: it reads the run's status
                while not _waiting(deployment.sandbox):  # noqa: ASYNC110 - another thread's state
                    await anyio.sleep(0.05)
            os.kill(a.process.pid, signal.SIGKILL)
            a.process.wait(timeout=10)
            group.cancel_scope.cancel()

        [run_id] = deployment.sandbox.state.runs
        listed = await call_ok(on_b, "list_generations", {"project_id": project_id})
        status = await call_ok(on_b, "get_generation_status", {"run_id": run_id})
    [entry] = [g for g in listed["generations"] if g["run_id"] == run_id]
    assert entry.get("prompt") == "a slow lighthouse"
    assert status["status"] in ("pending", "running", "completed")
    assert status.get("prompt") == "a slow lighthouse"


async def test_a_database_that_goes_away_refuses_starts_and_keeps_reads(
    deployment: Deployment, postgres: ThrowawayPostgres
) -> None:
    async with Client(deployment.url) as mcp:
        workspace_id, project_id = await place(mcp)
        kept = await call_ok(mcp, "create_generation", generation(workspace_id, project_id, "before"))
        after = generation(workspace_id, project_id, "after")
        with postgres.stopped():
            refused = await mcp.call_tool("create_generation", generation(workspace_id, project_id, "during"))
            listed = await call_ok(mcp, "list_generations", {"project_id": project_id})
        with anyio.fail_after(30):  # the pool reconnects by itself (backoff of at most 10 s)
            while (again := await mcp.call_tool("create_generation", after)).is_error:
                assert "Nothing was started or spent" in error_text(again)
                await anyio.sleep(1)
    assert refused.is_error and "Nothing was started or spent" in error_text(refused)
    assert "during" not in {r.prompt for r in deployment.sandbox.state.runs.values()}
    assert kept["run_id"] in {g["run_id"] for g in listed["generations"]}  # FLORA's own data still read
    assert again.structured_content is not None
    assert deployment.sandbox.state.runs[again.structured_content["run_id"]].prompt == "after"


def _waiting(sandbox: RunningSandbox) -> bool:
    """A run exists and its status has been read since: the replica that started it is waiting."""
    if not sandbox.state.runs:
        return False
    posted = max(i for i, r in enumerate(sandbox.state.requests) if r.method == "POST")
    later = sandbox.state.requests[posted + 1 :]
    return any(r.method == "GET" and ("generations" in r.path or "/runs/" in r.path) for r in later)


def test_a_replica_refuses_to_start_without_its_database() -> None:
    env = server_env(
        FLORA_DATABASE_URL="postgresql://flora:pw-never-shown@127.0.0.1:9/flora", FLORA_API_KEY="k"
    )
    done = subprocess.run(
        [sys.executable, "-m", "flora_mcp", "--transport", "http", "--stateless", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "not starting" in done.stderr and "127.0.0.1:9/flora" in done.stderr
    assert "pw-never-shown" not in done.stderr and "Traceback" not in done.stderr


def test_start_up_without_a_database_never_imports_the_postgresql_driver() -> None:
    code = (
        "import sys; from flora_mcp.server import build_server; from flora_mcp.settings import Settings;"
        "build_server(Settings()); assert not [m for m in sys.modules if m.startswith('psycopg')], 'psycopg'"
    )
    subprocess.run([sys.executable, "-c", code], env=server_env(), check=True, timeout=60)
