"""The embedded FLORA sandbox over real HTTP: auth, workspaces, projects, models, runs, outputs, errors."""

from __future__ import annotations

import io
import signal
import sys
import time
import uuid
import wave
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from PIL import Image

from flora_mcp.sandbox import RunningSandbox, SandboxState, start_sandbox
from flora_mcp.sandbox._catalogue import DEFAULT_MODELS, REFERENCES, find_model, models_of

pytestmark = pytest.mark.anyio

SPEED = 0.01  # a 12 s image model finishes in 0.12 s


def _client(emulator: RunningSandbox, key: str | None = None) -> httpx2.AsyncClient:
    key = key or f"key-{uuid.uuid4().hex}"
    return httpx2.AsyncClient(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    """A client with a fresh key, so each test has a workspace of its own."""
    async with _client(emulator) as client:
        yield client


async def _workspace(http: httpx2.AsyncClient) -> str:
    response = await http.get("/workspaces")
    assert response.status_code == 200
    workspace_id: str = response.json()["workspaces"][0]["workspace_id"]
    return workspace_id


async def _project(http: httpx2.AsyncClient, name: str = "Mugs") -> tuple[str, str]:
    workspace_id = await _workspace(http)
    response = await http.post("/projects", json={"workspace_id": workspace_id, "name": name})
    assert response.status_code == 201, response.text
    return workspace_id, response.json()["project_id"]


async def _generate(http: httpx2.AsyncClient, **body: Any) -> dict[str, Any]:
    if "workspace_id" not in body:
        body["workspace_id"], body["project_id"] = await _project(http)
    response = await http.post("/generate", json={"type": "image", "prompt": "a ceramic mug"} | body)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def _wait(http: httpx2.AsyncClient, run_id: str) -> dict[str, Any]:
    """Poll the run until it has ended (a condition with a timeout, not a blind sleep)."""
    with anyio.fail_after(10):
        while True:
            response = await http.get(f"/runs/{run_id}")
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if run["status"] in ("completed", "failed"):
                return run
            await anyio.sleep(0.02)


async def _finished(http: httpx2.AsyncClient, **body: Any) -> dict[str, Any]:
    return await _wait(http, (await _generate(http, **body))["run_id"])


def _error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert set(body["error"]) <= {"code", "message", "fields"}
    error: dict[str, Any] = body["error"]
    return error


def _fields(error: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["message"] for f in error["fields"]}


# auth and workspaces


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "secret"])
async def test_requests_without_a_bearer_key_are_unauthorized(
    emulator: RunningSandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx2.AsyncClient(base_url=emulator.base_url) as client:
        response = await client.get("/workspaces", headers=headers)
    error = _error(response, 401, "unauthorized")
    assert "secret" not in error["message"] and "dXNlcjpwYXNz" not in error["message"]


async def test_each_key_has_one_stable_workspace_that_does_not_reveal_the_key(
    emulator: RunningSandbox,
) -> None:
    async with _client(emulator, "alpha-key") as alpha, _client(emulator, "beta-key") as beta:
        first, again = (await alpha.get("/workspaces")).json(), (await alpha.get("/workspaces")).json()
        other = (await beta.get("/workspaces")).json()
    assert first == again
    [workspace] = first["workspaces"]
    assert workspace["workspace_id"].startswith("ws_") and "alpha" not in workspace["workspace_id"]
    assert workspace["role"] == "owner" and isinstance(workspace["created_at"], int) and workspace["name"]
    assert other["workspaces"][0]["workspace_id"] != workspace["workspace_id"]
    assert "alpha-key" not in str(first)


async def test_another_keys_workspace_is_forbidden_and_an_unknown_one_not_found(
    emulator: RunningSandbox,
) -> None:
    async with _client(emulator) as mine, _client(emulator) as theirs:
        their_workspace, their_project = await _project(theirs)
        their_run = (await _generate(theirs, workspace_id=their_workspace, project_id=their_project))[
            "run_id"
        ]
        my_workspace, my_project = await _project(mine)

        _error(await mine.get("/projects", params={"workspace_id": their_workspace}), 403, "forbidden")
        _error(await mine.get("/projects", params={"workspace_id": "ws_nobody"}), 404, "not_found")
        _error(await mine.get(f"/projects/{their_project}"), 404, "not_found")
        _error(await mine.get(f"/runs/{their_run}"), 404, "not_found")
        body = {"type": "image", "prompt": "x", "workspace_id": their_workspace, "project_id": their_project}
        _error(await mine.post("/generate", json=body), 403, "forbidden")
        body |= {"workspace_id": my_workspace}  # my workspace, their project
        _error(await mine.post("/generate", json=body), 404, "not_found")
        body |= {"workspace_id": "abc", "project_id": my_project}  # FLORA fails on a malformed id here
        _error(await mine.post("/generate", json=body), 500, "unknown_error")
        listed = (await mine.get("/generations")).json()["generations"]
        assert their_run not in [g["run_id"] for g in listed]


# projects


async def test_projects_are_created_listed_by_recent_activity_searched_and_paged(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id = await _workspace(http)
    created = []
    for name in ("Spring campaign", "Autumn Campaign", "Mug shots"):
        response = await http.post("/projects", json={"workspace_id": workspace_id, "name": name})
        assert response.status_code == 201
        project = response.json()
        assert project["origin"] == "api" and project["workspace_id"] == workspace_id
        assert project["project_id"].startswith("prj_")
        created.append(project)
    assert (await http.get(f"/projects/{created[0]['project_id']}")).json() == created[0]

    first = (await http.get("/projects", params={"workspace_id": workspace_id, "limit": 2})).json()
    assert [p["name"] for p in first["projects"]] == ["Mug shots", "Autumn Campaign"]
    assert first["meta"]["total_estimate"] == 3 and first["meta"]["next_cursor"]
    params = {"workspace_id": workspace_id, "limit": 2, "cursor": first["meta"]["next_cursor"]}
    rest = (await http.get("/projects", params=params)).json()
    assert [p["name"] for p in rest["projects"]] == ["Spring campaign"]
    assert rest["meta"]["next_cursor"] is None

    found = (await http.get("/projects", params={"workspace_id": workspace_id, "query": "CAMPAIGN"})).json()
    assert sorted(p["name"] for p in found["projects"]) == ["Autumn Campaign", "Spring campaign"]

    # A generation is activity: it moves its project to the top.
    await _generate(http, workspace_id=workspace_id, project_id=created[0]["project_id"])
    top = (await http.get("/projects", params={"workspace_id": workspace_id, "limit": 1})).json()
    assert top["projects"][0]["project_id"] == created[0]["project_id"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"name": "x"}, "workspace_id", "Required"),
        ({"workspace_id": "WS"}, "name", "Required"),
        ({"workspace_id": "WS", "name": ""}, "name", "at least 1"),
        ({"workspace_id": "WS", "name": 7}, "name", "string"),
        ({"workspace_id": "WS", "name": "x", "color": "red"}, "color", "color"),
        (["not", "an", "object"], "body", "object"),
    ],
)
async def test_create_project_refuses_bodies_the_schema_refuses(
    http: httpx2.AsyncClient, body: Any, field: str, fragment: str
) -> None:
    workspace_id = await _workspace(http)
    if isinstance(body, dict) and body.get("workspace_id") == "WS":
        body["workspace_id"] = workspace_id
    error = _error(await http.post("/projects", json=body), 400, "input_validation_error")
    assert fragment in _fields(error)[field]
    assert field in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "workspace_id"),
        ({"workspace_id": "abc"}, "workspace_id"),
        ({"workspace_id": "ws_"}, "workspace_id"),
        ({"workspace_id": "OWN", "limit": "0"}, "limit"),
        ({"workspace_id": "OWN", "limit": "101"}, "limit"),
        ({"workspace_id": "OWN", "limit": "many"}, "limit"),
        ({"workspace_id": "OWN", "cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_list_projects_refuses_bad_query_parameters(
    http: httpx2.AsyncClient, params: dict[str, str], field: str
) -> None:
    if params.get("workspace_id") == "OWN":
        params["workspace_id"] = await _workspace(http)
    error = _error(await http.get("/projects", params=params), 400, "input_validation_error")
    assert field in _fields(error)


async def test_bodies_that_are_not_json_are_invalid_json(http: httpx2.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    for path in ("/projects", "/generate"):
        _error(await http.post(path, content=b"{not json", headers=headers), 400, "invalid_json")
        _error(await http.post(path, content=b"", headers=headers), 400, "invalid_json")


async def test_path_ids_are_checked_against_their_patterns(http: httpx2.AsyncClient) -> None:
    assert "runId" in _fields(_error(await http.get("/runs/12345"), 400, "input_validation_error"))
    assert "projectId" in _fields(_error(await http.get("/projects/abc"), 400, "input_validation_error"))
    assert "run_nope" in _error(await http.get("/runs/run_nope"), 404, "not_found")["message"]
    _error(await http.get("/projects/prj_nope"), 404, "not_found")


async def test_unknown_routes_and_methods_are_not_found_envelopes(http: httpx2.AsyncClient) -> None:
    _error(await http.get("/nothing-here"), 404, "not_found")
    _error(await http.delete("/workspaces"), 404, "not_found")
    _error(await http.get("/projects/prj_x/canvas"), 404, "not_found")  # in the contract, not in the sandbox


# models


async def test_models_are_listed_whole_or_filtered_by_type(http: httpx2.AsyncClient) -> None:
    everything = (await http.get("/models")).json()["models"]
    assert {m["type"] for m in everything} == {"image", "video", "audio", "text"}
    prefixes = {*REFERENCES, "t2i", "t2v", "v2v", "r2v", "t2a", "tts", "t2t"}
    assert {m["model_id"].split("-")[0] for m in everything} == prefixes
    for type_ in ("image", "video", "audio", "text"):
        models = (await http.get("/models", params={"type": type_})).json()["models"]
        assert models and all(m["type"] == type_ for m in models)
        assert models == [m for m in everything if m["type"] == type_]  # the same order, filtered

    for model in everything:
        for param in model["params"]:
            assert all(isinstance(o["value"], str) for o in param.get("options", []))
            if param["type"] == "seed":
                assert (param["min"], param["max"]) == (0, 2147483647)


@pytest.mark.parametrize("type_", ["t2i", "text-to-image", "IMAGE"])
async def test_list_models_refuses_a_model_family_as_type(http: httpx2.AsyncClient, type_: str) -> None:
    error = _error(await http.get("/models", params={"type": type_}), 400, "input_validation_error")
    assert "image|video|audio|text" in _fields(error)["type"]


# runs


async def test_image_run_goes_from_start_to_a_4x3_png_served_by_the_sandbox(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await _project(http)
    body = {"workspace_id": workspace_id, "project_id": project_id, "model": "t2i-imagen-4"}
    started = await _generate(http, **body, params={"aspect_ratio": "4:3"})
    assert started["type"] == "generation" and started["run_id"].startswith("run_")
    assert started["model"] == {"model_id": "t2i-imagen-4"} and started["project_id"] == project_id
    assert started["poll_url"] == f"{emulator.base_url}/runs/{started['run_id']}"
    assert started["charged_cost"] > 0 and isinstance(started["estimated_seconds"], int)

    run = await _wait(http, started["run_id"])
    assert run["status"] == "completed" and run["progress"] == 100
    assert run["created_at"] <= run["started_at"] <= run["completed_at"]
    [output] = run["outputs"]
    assert output["type"] == "imageUrl"
    assert output["url"].endswith(".png")
    assert any(output["url"].startswith(f"{o}/media/{started['run_id']}/") for o in emulator.media_origins)

    async with httpx2.AsyncClient() as anonymous:  # output URLs need no key, like a CDN's
        media = await anonymous.get(output["url"])
    assert media.status_code == 200 and media.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(media.content)) as image:
        assert (image.format, image.size) == ("PNG", (1536, 1152))


async def test_the_same_seed_draws_the_same_picture_and_no_seed_a_new_one(http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await _project(http)
    where = {"workspace_id": workspace_id, "project_id": project_id, "prompt": "a red mug"}
    where["model"] = "t2i-imagen-4"

    async def picture(**params: Any) -> bytes:
        run = await _finished(http, **where, params=params)
        async with httpx2.AsyncClient() as anonymous:
            return (await anonymous.get(run["outputs"][0]["url"])).content

    seeded = await picture(seed=42, aspect_ratio="16:9")
    assert seeded == await picture(seed=42, aspect_ratio="16:9")
    assert seeded != await picture(seed=43, aspect_ratio="16:9")
    assert await picture() != await picture()
    with Image.open(io.BytesIO(seeded)) as image:
        assert image.size == (1536, 864)


async def test_an_omitted_model_is_the_workspace_default_not_the_first_listed(
    http: httpx2.AsyncClient,
) -> None:
    for type_ in ("image", "video", "audio", "text"):
        started = await _generate(http, type=type_)
        assert started["model"]["model_id"] == DEFAULT_MODELS[type_] != models_of(type_)[0].model_id


def test_a_run_is_pending_then_running_at_progress_0_then_completed_at_100() -> None:
    now = [1000.0]
    state = SandboxState(speed=1.0, clock=lambda: now[0], duration_factors=(1.0, 1.0))
    project = state.create_project(state.workspace_for("k").workspace_id, "p")
    model = find_model("t2i-flux-2-pro")  # 12 s at speed 1, and exactly that with a factor of 1
    assert model is not None
    run = state.start_run("k", project, model, "a mug", {}, {})
    readings = [run.progress_at(1000.0 + t) for t in (0.0, 1.0, 2.0, 6.0, 11.9, 12.0, 60.0)]
    assert [r.status for r in readings] == ["pending"] * 2 + ["running"] * 3 + ["completed"] * 2
    assert [r.progress for r in readings] == [0] * 5 + [100] * 2  # FLORA's runs often report no progress
    assert readings[0].started_at is None and readings[2].started_at == 1001200
    assert readings[-1].ended_at == 1012000

    failing = state.start_run("k", project, model, "a mug [sandbox:fail]", {}, {})
    assert failing.progress_at(1000.0 + 5.0).status == "running"
    ended = failing.progress_at(1000.0 + 12.0)
    assert (ended.status, ended.progress, ended.ended_at) == (
        "failed",
        100,
        1007200,
    )  # failed: 100, and ended
    assert state.runs_started() == 2
    assert "seed" in run.resolved_params  # drawn at random, so the picture can be drawn again


async def test_a_prompt_with_the_fail_marker_ends_failed_with_a_reason(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    started = await _generate(http, prompt="a mug [sandbox:fail]")
    run = await _wait(http, started["run_id"])
    assert run["status"] == "failed"
    assert run["error_code"] and run["error_message"] and "outputs" not in run
    async with httpx2.AsyncClient() as anonymous:
        media = await anonymous.get(f"{emulator.origin}/media/{started['run_id']}/output_1.png")
    _error(media, 404, "not_found")


async def test_outputs_of_an_unfinished_run_are_not_served(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    started = await _generate(http, type="video")  # 60 s at speed 0.01: still running when asked
    async with httpx2.AsyncClient() as anonymous:
        media = await anonymous.get(f"{emulator.origin}/media/{started['run_id']}/output_1.gif")
    assert media.status_code == 404


async def test_video_audio_and_text_outputs_are_real_files_with_their_content_types(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id, project_id = await _project(http)
    where = {"workspace_id": workspace_id, "project_id": project_id, "prompt": "waves on a beach"}
    video = await _finished(http, **where, type="video", params={"aspect_ratio": "9:16", "duration": 4})
    audio = await _finished(http, **where, type="audio", params={"duration_seconds": 2})
    text = await _finished(http, **where, type="text")
    assert [r["outputs"][0]["type"] for r in (video, audio, text)] == ["videoUrl", "audioUrl", "text"]

    async with httpx2.AsyncClient() as anonymous:
        gif, wav, txt = [(await anonymous.get(r["outputs"][0]["url"])) for r in (video, audio, text)]
    assert gif.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(gif.content)) as clip:
        assert clip.format == "GIF" and getattr(clip, "n_frames", 1) > 1
        assert clip.width * 16 == clip.height * 9
    assert wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as sound:
        assert sound.getnframes() == 2 * sound.getframerate()
    assert txt.headers["content-type"].startswith("text/plain")
    assert "waves on a beach" in txt.text


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field", "fragments"),
    [
        ({"type": "t2i"}, 400, "input_validation_error", "type", ["image|video|audio|text"]),
        ({"type": "text-to-image"}, 400, "input_validation_error", "type", ["image|video|audio|text"]),
        ({"prompt": ""}, 400, "input_validation_error", "prompt", ["at least 1"]),
        ({"prompt": None}, 400, "input_validation_error", "prompt", ["string"]),
        ({"callback_url": "https://x"}, 400, "input_validation_error", "callback_url", ["callback_url"]),
        ({"project_id": None}, 400, "input_validation_error", "project_id", ["string"]),
        ({"params": [1]}, 400, "input_validation_error", "params", ["object"]),
        (
            {"model": "no-such-model"},
            400,
            "input_validation_error",
            "model",
            ["Model 'no-such-model' is not available for type 'image'. Available: ", "t2i-nano-banana"],
        ),
        ({"model": "t2v-veo-3"}, 400, "input_validation_error", "model", ["not available"]),
        ({"workspace_id": "abc"}, 500, "unknown_error", None, ["unknown"]),  # as FLORA: not a 400
        ({"project_id": "project-1"}, 500, "unknown_error", None, ["unknown"]),
        ({"project_id": "prj_nope"}, 404, "not_found", None, ["prj_nope"]),
    ],
)
async def test_generate_refuses_what_the_api_refuses_and_starts_nothing(
    emulator: RunningSandbox,
    http: httpx2.AsyncClient,
    overrides: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
    fragments: list[str],
) -> None:
    workspace_id, project_id = await _project(http)
    body = {
        "type": "image",
        "prompt": "a mug",
        "workspace_id": workspace_id,
        "project_id": project_id,
        "model": "t2i-flux-2-pro",
    }
    body |= overrides
    before = emulator.state.runs_started()

    error = _error(await http.post("/generate", json=body), status, code)

    text = error["message"] if field is None else _fields(error)[field]
    for fragment in fragments:
        assert fragment in text
    assert emulator.state.runs_started() == before


async def test_generate_lists_every_missing_required_field(http: httpx2.AsyncClient) -> None:
    error = _error(await http.post("/generate", json={}), 400, "input_validation_error")
    assert _fields(error) == {f: "Required" for f in ("type", "prompt", "workspace_id", "project_id")}
    assert error["message"].startswith("type: Required")


# idempotency and the request log


async def test_a_repeated_idempotency_key_is_refused_without_replay_and_starts_one_run(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await _project(http)
    body = {"type": "image", "prompt": "a mug", "workspace_id": workspace_id, "project_id": project_id}
    headers = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    before = emulator.state.runs_started()

    assert (await http.post("/generate", json=body, headers=headers)).status_code == 201
    again = _error(await http.post("/generate", json=body, headers=headers), 409, "idempotency_duplicate")
    assert "run_" not in again["message"]  # no replay of the first answer
    _error(
        await http.post("/generate", json=body | {"prompt": "a jug"}, headers=headers),
        409,
        "idempotency_duplicate",
    )
    assert emulator.state.runs_started() == before + 1
    recorded = [r for r in emulator.state.requests if r.idempotency_key == headers["Idempotency-Key"]]
    assert [r.status for r in recorded] == [201, 409, 409]

    async with _client(emulator) as stranger:  # keys are per API key: another key's same header is new
        other = await _project(stranger)
        theirs = await stranger.post(
            "/generate", json=body | {"workspace_id": other[0], "project_id": other[1]}, headers=headers
        )
    assert theirs.status_code == 201


async def test_a_request_that_failed_releases_its_idempotency_key(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await _project(http)
    headers = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    body = {"type": "image", "prompt": "a mug", "workspace_id": workspace_id, "project_id": "prj_nope"}
    _error(await http.post("/generate", json=body, headers=headers), 404, "not_found")
    fixed = await http.post("/generate", json=body | {"project_id": project_id}, headers=headers)
    assert fixed.status_code == 201


async def test_in_replay_mode_the_same_key_and_body_get_the_first_answer(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await _project(http)
    body = {"type": "image", "prompt": "a mug", "workspace_id": workspace_id, "project_id": project_id}
    headers = {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}
    emulator.state.idempotency = "replay"
    try:
        first = await http.post("/generate", json=body, headers=headers)
        again = await http.post("/generate", json=body, headers=headers)
        different = await http.post("/generate", json=body | {"prompt": "a jug"}, headers=headers)
    finally:
        emulator.state.idempotency = "conflict"
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    _error(different, 409, "idempotency_duplicate")


async def test_create_project_takes_an_idempotency_key_too(http: httpx2.AsyncClient) -> None:
    workspace_id = await _workspace(http)
    headers = {"Idempotency-Key": "same"}
    first = await http.post("/projects", json={"workspace_id": workspace_id, "name": "A"}, headers=headers)
    again = await http.post("/projects", json={"workspace_id": workspace_id, "name": "A"}, headers=headers)
    assert first.status_code == 201
    _error(again, 409, "idempotency_duplicate")
    listed = (await http.get("/projects", params={"workspace_id": workspace_id})).json()
    assert len(listed["projects"]) == 1


async def test_every_api_request_is_recorded_with_the_key_as_received(emulator: RunningSandbox) -> None:
    key = f"recorded-{uuid.uuid4().hex}"
    async with _client(emulator, key) as client:
        await client.get("/workspaces")
        await client.get("/models", params={"type": "t2i"})
        await client.get("/nowhere")
    mine = [r for r in emulator.state.requests if r.api_key == key]
    assert [(r.method, r.path, r.status) for r in mine] == [
        ("GET", "/api/v1/workspaces", 200),
        ("GET", "/api/v1/models", 400),
        ("GET", "/api/v1/nowhere", 404),
    ]
    assert mine[1].query == "type=t2i"
    assert key not in repr(mine[0])  # keys stay out of reprs, and so out of test reports and logs


# history


async def test_generations_are_listed_newest_first_filtered_and_paged(http: httpx2.AsyncClient) -> None:
    workspace_id, first_project = await _project(http, "One")
    _, second_project = await _project(http, "Two")
    runs = [
        await _generate(http, workspace_id=workspace_id, project_id=project, type="text", prompt=f"line {i}")
        for i, project in enumerate((first_project, second_project, second_project))
    ]
    ids = [r["run_id"] for r in runs]

    listed = (await http.get("/generations", params={"workspace_id": workspace_id})).json()
    assert [g["run_id"] for g in listed["generations"]] == ids[::-1]
    assert listed["meta"]["next_cursor"] is None
    item = listed["generations"][0]
    assert item["generation_id"] == item["run_id"] and item["poll_url"].endswith(f"/runs/{item['run_id']}")
    assert item["model"] == {"model_id": DEFAULT_MODELS["text"]}

    page = (await http.get("/generations", params={"project_id": second_project, "limit": 1})).json()
    assert [g["run_id"] for g in page["generations"]] == [ids[2]] and page["meta"]["next_cursor"]
    params = {"project_id": second_project, "limit": 1, "cursor": page["meta"]["next_cursor"]}
    last = (await http.get("/generations", params=params)).json()
    assert [g["run_id"] for g in last["generations"]] == [ids[1]] and last["meta"]["next_cursor"] is None

    for run_id in ids:
        await _wait(http, run_id)
    done = (await http.get("/generations", params={"status": "completed"})).json()["generations"]
    assert len(done) == 3 and all(g["outputs"][0]["type"] == "text" for g in done)
    assert (await http.get("/generations", params={"status": "running"})).json()["generations"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"workspace_id": "abc"}, "workspace_id"),
        ({"project_id": "abc"}, "project_id"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
async def test_list_generations_refuses_bad_filters(
    http: httpx2.AsyncClient, params: dict[str, str], field: str
) -> None:
    error = _error(await http.get("/generations", params=params), 400, "input_validation_error")
    assert field in _fields(error)


# faults and serving


async def test_an_injected_fault_answers_once_with_its_status_and_retry_after(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    emulator.state.inject_fault(429, retry_after=1)
    limited = await http.get("/workspaces")
    assert limited.headers["retry-after"] == "1"
    _error(limited, 429, "rate_limited")
    assert (await http.get("/workspaces")).status_code == 200


async def test_answers_on_a_kept_alive_connection_are_not_held_back(http: httpx2.AsyncClient) -> None:
    """With Nagle on, each answer's body waited for the client's delayed ACK: 40 ms a request."""
    await http.get("/workspaces")
    started = time.perf_counter()
    for _ in range(20):
        assert (await http.get("/workspaces")).status_code == 200
    assert time.perf_counter() - started < 0.5  # 0.9 s with the delay


def test_a_stopped_sandbox_refuses_connections() -> None:
    with start_sandbox(speed=SPEED) as running:
        assert (
            httpx2.get(f"{running.base_url}/workspaces", headers={"Authorization": "Bearer k"}).status_code
            == 200
        )
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"{running.base_url}/workspaces", timeout=2)


async def test_serve_sandbox_prints_only_what_on_ready_prints_and_stops_on_interrupt() -> None:
    code = (
        "import sys\n"
        "from flora_mcp.sandbox import serve_sandbox\n"
        "serve_sandbox('127.0.0.1', 0, speed=0.01, on_ready=lambda url: print(url, flush=True))\n"
        "print('bye', file=sys.stderr)\n"
    )
    process = await anyio.open_process([sys.executable, "-c", code])
    assert process.stdout is not None and process.stderr is not None
    try:
        with anyio.fail_after(20):
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
            base_url = line.decode().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
            async with httpx2.AsyncClient() as client:
                response = await client.get(f"{base_url}/workspaces", headers={"Authorization": "Bearer k"})
            assert response.status_code == 200
            process.send_signal(signal.SIGINT)  # as Ctrl-C
            assert await process.wait() == 0
            rest = b"".join([chunk async for chunk in process.stdout])
            assert rest == b""  # uvicorn wrote nothing on stdout
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()
