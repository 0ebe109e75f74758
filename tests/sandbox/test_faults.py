"""Sandbox faults (429, 5xx, latency, answers dropped after processing, idempotency conflicts) and the
client's retries through them over real HTTP: nothing is started twice, nothing is lost."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest

from flora_mcp.client import ConflictError, FloraClient, GenerationRequest
from flora_mcp.sandbox import FaultRule, FaultSet, RunningSandbox, SandboxState, parse_faults, start_sandbox

pytestmark = pytest.mark.anyio

SPEED = 0.01
DROP_FIRST = "POST /generate drop first"


# The rules and their string form


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (
            DROP_FIRST,
            FaultRule("POST", "/generate", drop_after_processing=True, first_only_per_idempotency_key=True),
        ),
        ("* 429 retry_after=2 p=0.3", FaultRule(status=429, retry_after=2, probability=0.3)),
        ("GET /runs/* latency=0.5", FaultRule("GET", "/runs/*", latency=0.5)),
        ("/api/v1/generate 502 times=2", FaultRule("*", "/generate", status=502, times=2)),
        ("post * 503 probability=0.5 latency=0.1", FaultRule("POST", "*", 503, latency=0.1, probability=0.5)),
    ],
)
def test_a_rule_is_parsed_from_its_string_form_and_printed_back(spec: str, rule: FaultRule) -> None:
    assert FaultRule.parse(spec) == rule
    assert FaultRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty"),
        ("POST generate 503", "METHOD. PATH"),
        ("FETCH /generate 503", "METHOD. PATH"),
        ("* 200", "error status"),
        ("* 503 drop", "not both"),
        ("* latency=0", "does nothing"),
        ("* drop retry_after=2", "retry_after needs a status"),
        ("* 503 p=2", "between 0 and 1"),
        ("* 503 times=0", "at least 1"),
        ("* 503 sometimes", "'sometimes' is not one of"),
        ("* 503 latency=soon", "'latency=soon' is not one of"),
    ],
)
def test_a_rule_that_makes_no_sense_is_refused_with_the_reason(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        FaultRule.parse(spec)


def test_parse_faults_reads_rules_separated_by_semicolons_or_lines() -> None:
    rules = parse_faults(f"{DROP_FIRST}; * 429 retry_after=2 p=0.3;\n\nGET /runs/* latency=0.5\n")
    assert [str(r) for r in rules] == [
        "POST /generate drop first",
        "* * 429 retry_after=2 p=0.3",
        "GET /runs/* latency=0.5",
    ]
    assert parse_faults(" ; \n") == []


def test_a_rule_matches_its_method_and_path_glob() -> None:
    rule = FaultRule.parse("GET /runs/* latency=1")
    assert rule.matches("GET", "/runs/run_1")
    assert not rule.matches("POST", "/runs/run_1")
    assert not rule.matches("GET", "/runs")
    assert FaultRule.parse("* 503").matches("PATCH", "/projects/prj_1/canvas")


def test_first_only_fires_once_per_idempotency_key_and_always_without_one() -> None:
    faults = FaultSet([FaultRule.parse(DROP_FIRST)], seed=1)
    drops = [faults.decide("POST", "/generate", "k", key).drop for key in ("a", "a", "b", "a", None, None)]
    assert drops == [True, False, True, False, True, True]
    assert faults.decide("POST", "/generate", "another-api-key", "a").drop  # keys are per caller


def test_latency_adds_up_and_the_first_status_or_drop_decides_without_spending_later_rules() -> None:
    slow, limited, broken = parse_faults("* latency=0.2; * 429 times=1; * 503 latency=0.5 times=1")
    faults = FaultSet([slow, limited, broken], seed=1)
    first = faults.decide("GET", "/models", None, None)
    second = faults.decide("GET", "/models", None, None)
    third = faults.decide("GET", "/models", None, None)
    assert (first.status, first.latency) == (429, 0.2)
    assert (second.status, second.latency) == (503, 0.7)
    assert (third.status, third.latency) == (None, 0.2)
    assert [faults.fired(r) for r in (slow, limited, broken)] == [3, 1, 1]


def test_an_unseeded_fault_set_keeps_the_seed_it_picked_for_replay() -> None:
    picked = FaultSet([FaultRule.parse("* 503 p=0.5")])
    replay = FaultSet([FaultRule.parse("* 503 p=0.5")], seed=picked.seed)
    outcomes = [[f.decide("GET", "/x", None, None).status for _ in range(30)] for f in (picked, replay)]
    assert outcomes[0] == outcomes[1]


# The faults over HTTP


@pytest.fixture
def state(emulator: RunningSandbox) -> Iterator[SandboxState]:
    """The module's sandbox, without faults and in replay mode before and after each test."""
    emulator.state.faults.clear()
    emulator.state.idempotency = "replay"
    yield emulator.state
    emulator.state.faults.clear()
    emulator.state.idempotency = "replay"


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    headers = {"Authorization": f"Bearer faults-{uuid.uuid4().hex}"}
    async with httpx2.AsyncClient(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


async def _generate_body(http: httpx2.AsyncClient) -> dict[str, str]:
    workspace_id = (await http.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
    project = await http.post("/projects", json={"workspace_id": workspace_id, "name": "Faults"})
    return {
        "type": "text",
        "prompt": "a haiku",
        "workspace_id": workspace_id,
        "project_id": project.json()["project_id"],
    }


async def test_an_injected_status_answers_the_envelope_and_starts_nothing(
    state: SandboxState, http: httpx2.AsyncClient
) -> None:
    body = await _generate_body(http)
    state.faults.add(*parse_faults("POST /generate 503 times=1; GET /models 429 retry_after=2 times=1"))
    before = state.runs_started()

    refused = await http.post("/generate", json=body, headers={"Idempotency-Key": "k1"})
    assert refused.status_code == 503
    assert refused.json() == {"error": {"code": "unknown_error", "message": "Injected fault: HTTP 503."}}
    assert state.runs_started() == before
    limited = await http.get("/models")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert limited.json()["error"]["code"] == "rate_limited"

    assert (await http.post("/generate", json=body, headers={"Idempotency-Key": "k1"})).status_code == 201
    assert (await http.get("/models")).status_code == 200
    assert state.runs_started() == before + 1


async def test_a_dropped_answer_is_a_transport_error_but_the_run_is_started_and_replayed(
    state: SandboxState, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = await _generate_body(http)
    state.faults.add(FaultRule.parse(DROP_FIRST))
    headers = {"Idempotency-Key": f"drop-{uuid.uuid4().hex}"}
    before = set(state.runs)

    with pytest.raises(httpx2.RemoteProtocolError):
        await http.post("/generate", json=body, headers=headers)
    (started,) = set(state.runs) - before  # processed: the run exists
    (dropped,) = [r for r in state.requests if r.idempotency_key == headers["Idempotency-Key"]]
    assert (dropped.status, dropped.dropped) == (201, True)

    again = await http.post("/generate", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["run_id"] == started
    assert set(state.runs) - before == {started}
    assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]  # a drop is not a crash


async def test_in_conflict_mode_a_repeated_idempotency_key_is_refused(
    state: SandboxState, http: httpx2.AsyncClient
) -> None:
    body = await _generate_body(http)
    state.idempotency = "conflict"
    headers = {"Idempotency-Key": f"conflict-{uuid.uuid4().hex}"}
    assert (await http.post("/generate", json=body, headers=headers)).status_code == 201
    repeated = await http.post("/generate", json=body, headers=headers)
    assert repeated.status_code == 409
    assert repeated.json()["error"]["code"] == "idempotency_duplicate"


async def test_latency_delays_only_the_matching_endpoint(
    state: SandboxState, http: httpx2.AsyncClient
) -> None:
    rule = FaultRule.parse("GET /workspaces latency=0.3")
    state.faults.add(rule)
    started = time.perf_counter()
    assert (await http.get("/workspaces")).status_code == 200
    assert time.perf_counter() - started >= 0.3
    assert (await http.get("/models")).status_code == 200
    assert state.faults.fired(rule) == 1


async def test_inject_fault_is_a_rule_for_the_next_requests(
    state: SandboxState, http: httpx2.AsyncClient
) -> None:
    state.inject_fault(502, times=2)
    assert state.faults.rules == [FaultRule(status=502, times=2)]
    statuses = [(await http.get("/workspaces")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


def test_the_same_seed_replays_the_same_faults() -> None:
    faults = parse_faults("* 503 p=0.5")

    def statuses(seed: int) -> list[int]:
        with start_sandbox(speed=SPEED, seed=seed, faults=faults) as running:
            assert running.state.faults.seed == seed
            headers = {"Authorization": "Bearer seeded"}
            with httpx2.Client(base_url=running.base_url, headers=headers) as client:
                return [client.get("/workspaces").status_code for _ in range(24)]

    first, replay, other = statuses(7), statuses(7), statuses(8)
    assert first == replay
    assert {200, 503} == set(first)
    assert other != first


# The client through the faults


def _client(running: RunningSandbox, **options: Any) -> FloraClient:
    async def quick_sleep(seconds: float) -> None:  # the waits the client asks for, a hundred times shorter
        await anyio.sleep(seconds / 100)

    return FloraClient(
        api_key=f"client-{uuid.uuid4().hex}", base_url=running.base_url, sleep=quick_sleep, **options
    )


async def _request(client: FloraClient) -> GenerationRequest:
    workspace_id = (await client.list_workspaces())[0].workspace_id
    project = await client.create_project(workspace_id, "Through faults")
    return GenerationRequest(
        type="text", prompt="a haiku", workspace_id=workspace_id, project_id=project.project_id
    )


async def test_generate_through_drops_429s_and_503s_starts_each_run_exactly_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flora_mcp.client")
    calls = 8
    faults = parse_faults(f"{DROP_FIRST}; * 429 retry_after=1 p=0.2; * 503 p=0.2")
    with start_sandbox(speed=SPEED, seed=1, faults=faults, idempotency="replay") as running:
        async with _client(running, max_attempts=12) as client:
            request = await _request(client)
            run_ids = [(await client.generate(request)).run_id for _ in range(calls // 2)]
            async with anyio.create_task_group() as group:
                for _ in range(calls // 2):
                    group.start_soon(_append_run, client, request, run_ids)
        state = running.state

    assert len(run_ids) == len(set(run_ids)) == calls
    assert len(state.runs) == calls and set(state.runs) == set(run_ids)
    generate = [r for r in state.requests if r.path.endswith("/generate")]
    assert sum(r.dropped for r in generate) == calls  # the first answer of every call was lost ...
    assert len({r.idempotency_key for r in generate}) == calls  # ... and every retry kept its call's key
    assert {429, 503} <= {r.status for r in state.requests}
    assert any("Retrying POST /api/v1/generate" in r.getMessage() for r in caplog.records)


async def _append_run(client: FloraClient, request: GenerationRequest, run_ids: list[str]) -> None:
    run_ids.append((await client.generate(request)).run_id)


async def test_in_conflict_mode_a_dropped_generate_raises_conflict_and_the_run_exists() -> None:
    """The retry of a dropped call hears 409: the MCP layer then finds the run that was started."""
    with start_sandbox(
        speed=SPEED, seed=1, faults=parse_faults(DROP_FIRST), idempotency="conflict"
    ) as running:
        async with _client(running) as client:
            request = await _request(client)
            with pytest.raises(ConflictError) as caught:
                await client.generate(request)
        state = running.state
    assert caught.value.attempts == 2
    assert len(state.runs) == 1
    assert [(r.status, r.dropped) for r in state.requests if r.path.endswith("/generate")] == [
        (201, True),
        (409, False),
    ]
