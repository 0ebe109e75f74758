"""The sandbox's answers conform to FLORA's contract (tests/contract/openapi.yaml, a verbatim copy).

Each response is checked by openapi-core against the operation it answers: status documented, body valid
against that status's schema. The copy lives in the repo so a fresh clone can run this.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx2
import jsonschema
import pytest
import yaml
from openapi_core import OpenAPI

from flora_mcp.sandbox import RunningSandbox, start_sandbox
from tests.openapi_check import CONTRACT, openapi_request, openapi_response

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=0.01) as running:
        yield running


def conforms(openapi: OpenAPI, response: httpx2.Response) -> httpx2.Response:
    """Validate `response` against the contract; raises when its status or body is not as documented."""
    openapi.validate_response(openapi_request(response.request), openapi_response(response))
    return response


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    headers = {"Authorization": f"Bearer contract-{uuid.uuid4().hex}"}
    async with httpx2.AsyncClient(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


async def _setup(http: httpx2.AsyncClient) -> tuple[str, str]:
    workspace_id = (await http.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
    project = await http.post("/projects", json={"workspace_id": workspace_id, "name": "Contract"})
    return workspace_id, project.json()["project_id"]


async def _wait(http: httpx2.AsyncClient, run_id: str) -> None:
    with anyio.fail_after(10):
        while True:
            if (await http.get(f"/runs/{run_id}")).json()["status"] in ("completed", "failed"):
                return
            await anyio.sleep(0.02)


def _check_all(openapi: OpenAPI, responses: list[tuple[httpx2.Response, int]]) -> None:
    for response, status in responses:
        assert response.status_code == status, response.text
        conforms(openapi, response)


async def test_the_validator_is_not_vacuous(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    good = await http.get("/workspaces")
    conforms(openapi, good)
    broken = json.dumps({"workspaces": [{"workspace_id": "abc", "name": "x", "role": "owner"}]}).encode()
    bad = httpx2.Response(
        200, content=broken, headers={"content-type": "application/json"}, request=good.request
    )
    with pytest.raises(Exception, match=r"(?i)invalid|valid"):
        conforms(openapi, bad)
    undocumented = httpx2.Response(418, json={}, request=good.request)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any validation failure will do
        conforms(openapi, undocumented)


async def test_workspaces_conform(
    openapi: OpenAPI, emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    async with httpx2.AsyncClient(base_url=emulator.base_url) as anonymous:
        _check_all(openapi, [(await http.get("/workspaces"), 200), (await anonymous.get("/workspaces"), 401)])


async def test_projects_conform(openapi: OpenAPI, emulator: RunningSandbox, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await _setup(http)
    for name in ("A", "B"):
        await http.post("/projects", json={"workspace_id": workspace_id, "name": name})
    first = await http.get("/projects", params={"workspace_id": workspace_id, "limit": 2})
    cursor = first.json()["meta"]["next_cursor"]
    async with httpx2.AsyncClient(
        base_url=emulator.base_url, headers={"Authorization": "Bearer other"}
    ) as other:
        other_workspace = (await other.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
    headers = {"Idempotency-Key": "contract-project"}
    created = await http.post("/projects", json={"workspace_id": workspace_id, "name": "C"}, headers=headers)
    _check_all(
        openapi,
        [
            (first, 200),
            (await http.get("/projects", params={"workspace_id": workspace_id, "cursor": cursor}), 200),
            (await http.get("/projects", params={"workspace_id": workspace_id, "query": "a"}), 200),
            (await http.get("/projects", params={"workspace_id": "abc"}), 400),
            (await http.get("/projects", params={"workspace_id": workspace_id, "limit": 0}), 400),
            (await http.get("/projects", params={"workspace_id": other_workspace}), 403),
            (await http.get("/projects", params={"workspace_id": "ws_nobody"}), 404),
            (created, 201),
            (
                await http.post(
                    "/projects", json={"workspace_id": workspace_id, "name": "D"}, headers=headers
                ),
                409,
            ),
            (await http.post("/projects", json={"workspace_id": workspace_id, "name": ""}), 400),
            (await http.post("/projects", json={"workspace_id": workspace_id, "name": "x", "extra": 1}), 400),
            (await http.post("/projects", content=b"{", headers={"content-type": "application/json"}), 400),
            (await http.get(f"/projects/{project_id}"), 200),
            (await http.get("/projects/prj_nope"), 404),
            (await http.get("/projects/nope"), 400),
        ],
    )


async def test_models_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    responses = [(await http.get("/models"), 200), (await http.get("/models", params={"type": "t2i"}), 400)]
    for type_ in ("image", "video", "audio", "text"):
        responses.append((await http.get("/models", params={"type": type_}), 200))
    _check_all(openapi, responses)


async def test_generate_and_runs_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await _setup(http)
    where = {"workspace_id": workspace_id, "project_id": project_id}
    runs = []
    responses = []
    for body in (
        {"type": "image", "prompt": "a mug", "params": {"aspect_ratio": "4:3", "seed": 1}},
        {"type": "video", "prompt": "waves", "model": "t2v-veo-3"},
        {"type": "audio", "prompt": "rain"},
        {"type": "text", "prompt": "a haiku"},
        {"type": "image", "prompt": "a mug [sandbox:fail]"},
        {"type": "image", "prompt": "in blue", "model": "i2i-flux-kontext-pro", "params": {"image_url": "x"}},
    ):
        started = await http.post("/generate", json=where | body)
        responses.append((started, 201))
        runs.append(started.json()["run_id"])
    responses.append((await http.get(f"/runs/{runs[1]}"), 200))  # still pending or running
    for run_id in runs:
        await _wait(http, run_id)
        responses.append((await http.get(f"/runs/{run_id}"), 200))  # completed, or failed for the last two
    reference = (await http.get(f"/runs/{runs[0]}")).json()["outputs"][0]["url"]
    derived = await http.post(
        "/generate",
        json=where
        | {
            "type": "image",
            "prompt": "in blue",
            "model": "i2i-nano-banana-edit",
            "params": {"image_url": reference},
        },
    )
    responses.append((derived, 201))
    await _wait(http, derived.json()["run_id"])
    responses.append((await http.get(f"/runs/{derived.json()['run_id']}"), 200))
    headers = {"Idempotency-Key": "contract-generate"}
    body = where | {"type": "text", "prompt": "once"}
    responses += [
        (await http.post("/generate", json=body, headers=headers), 201),
        (await http.post("/generate", json=body, headers=headers), 409),
        (await http.post("/generate", json=body | {"prompt": "twice"}, headers=headers), 409),
        (await http.post("/generate", json=where | {"type": "t2i", "prompt": "x"}), 400),
        (await http.post("/generate", json=where | {"type": "image", "prompt": "x", "model": "nope"}), 400),
        (
            await http.post(
                "/generate",
                json=where | {"type": "image", "prompt": "x", "params": {"seed": -1, "colour": 1}},
            ),
            201,  # FLORA checks no param: accepted, ignored, billed
        ),
        (
            await http.post("/generate", json=where | {"type": "text", "prompt": "x", "workspace_id": "abc"}),
            500,
        ),
        (
            await http.post("/generate", json=where | {"type": "image", "prompt": "x", "callback_url": "u"}),
            400,
        ),
        (await http.post("/generate", json={}), 400),
        (await http.post("/generate", content=b"nope", headers={"content-type": "application/json"}), 400),
        (
            await http.post(
                "/generate", json=where | {"type": "image", "prompt": "x", "project_id": "prj_z"}
            ),
            404,
        ),
        (await http.get("/runs/run_nope"), 404),
        (await http.get("/runs/nope"), 400),
    ]
    _check_all(openapi, responses)
    statuses = {(await http.get(f"/runs/{run_id}")).json()["status"] for run_id in runs}
    assert statuses == {"completed", "failed"}
    with anyio.fail_after(10):  # the settled cost, which comes a little after the end
        while True:
            settled = await http.get(f"/runs/{runs[-1]}")
            if "charged_cost" in settled.json():
                break
            await anyio.sleep(0.05)
    conforms(openapi, settled)


async def test_generations_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await _setup(http)
    where = {"workspace_id": workspace_id, "project_id": project_id}
    for prompt in ("one", "two [sandbox:fail]", "three"):
        await http.post("/generate", json=where | {"type": "image", "prompt": prompt})
    page = await http.get("/generations", params={"limit": 2})
    cursor = page.json()["meta"]["next_cursor"]
    _check_all(
        openapi,
        [
            (page, 200),  # pending and running items
            (await http.get("/generations", params={"cursor": cursor}), 200),
            (
                await http.get(
                    "/generations", params={"workspace_id": workspace_id, "project_id": project_id}
                ),
                200,
            ),
            (await http.get("/generations", params={"status": "done"}), 400),
            (await http.get("/generations", params={"limit": 101}), 400),
            (await http.get("/generations", params={"project_id": "x"}), 400),
        ],
    )
    for item in page.json()["generations"]:
        await _wait(http, item["run_id"])
    conforms(openapi, await http.get("/generations"))  # completed and failed items


async def test_unknown_routes_answer_the_error_envelope(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    response = await http.get("/nothing")
    assert response.status_code == 404
    spec = yaml.safe_load(CONTRACT.read_text())
    error_schema = spec["components"]["schemas"]["Error"]
    jsonschema.validate(response.json(), error_schema)


def test_the_contract_copy_matches_the_shared_original_when_present() -> None:
    original = Path(__file__).resolve().parents[3] / "shared" / "flora-api" / "openapi.yaml"
    if not original.exists():
        pytest.skip("no shared/flora-api next to this clone")
    assert CONTRACT.read_bytes() == original.read_bytes(), "re-copy shared/flora-api/openapi.yaml"
