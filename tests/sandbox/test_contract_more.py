"""The sandbox's answers for assets, techniques, actions and the canvas conform to FLORA's contract.

Checked by openapi-core against tests/contract/openapi.yaml, as `test_sandbox_contract` does for the rest.
"""

from __future__ import annotations

import httpx2
import pytest
from openapi_core import OpenAPI

from tests.sandbox.surface_helpers import (
    image_output,
    png,
    project,
    put_file,
    reserve,
    upload,
    wait,
)
from tests.sandbox.test_sandbox_contract import conforms

pytestmark = pytest.mark.anyio


def _check_all(openapi: OpenAPI, responses: list[tuple[httpx2.Response, int]]) -> None:
    for response, status in responses:
        assert response.status_code == status, (response.request.url, response.text)
        conforms(openapi, response)


async def test_assets_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, _ = await project(http)
    pending = await http.post("/assets", json={"source": "signed-url", "workspace_id": workspace_id})
    asset_id = pending.json()["asset_id"]
    ready = await upload(http, workspace_id, png())
    failed = await upload(http, workspace_id, b"text", "notes.png")
    headers = {"Idempotency-Key": "contract-asset"}
    body = {"source": "https://example.com/a.png", "workspace_id": workspace_id, "file_name": "a.png"}
    _check_all(
        openapi,
        [
            (pending, 201),
            (await http.post("/assets", json=body, headers=headers), 201),  # failed: not reachable
            (await http.post("/assets", json=body, headers=headers), 409),
            (await http.post("/assets", json={"source": "ftp://x", "workspace_id": workspace_id}), 400),
            (await http.post("/assets", json={"workspace_id": workspace_id}), 400),
            (await http.post("/assets", json={"source": "signed-url", "workspace_id": "ws_nobody"}), 404),
            (await http.get(f"/assets/{asset_id}"), 200),  # pending
            (await http.get(f"/assets/{ready['asset_id']}"), 200),
            (await http.get(f"/assets/{failed['asset_id']}"), 200),
            (await http.get("/assets/asset_nope"), 404),
            (await http.get("/assets/nope"), 400),
            (await http.get("/assets", params={"workspace_id": workspace_id, "limit": 1}), 200),
            (await http.get("/assets", params={"query": "notes"}), 200),
            (await http.get("/assets", params={"limit": 0}), 400),
            (await http.post(f"/assets/{asset_id}/complete"), 400),  # nothing uploaded yet
            (await http.post(f"/assets/{failed['asset_id']}/complete"), 200),
            (await http.post(f"/assets/{failed['asset_id']}/retry"), 200),
            (await http.post(f"/assets/{ready['asset_id']}/retry"), 400),
            (await http.post("/assets/asset_nope/complete"), 404),
        ],
    )
    reserved = await reserve(http, workspace_id)
    await put_file(http, reserved["upload"], png(), "p.png")
    conforms(openapi, await http.post(f"/assets/{reserved['asset_id']}/complete", json={}))


async def test_techniques_and_their_runs_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, _ = await project(http)
    asset = await upload(http, workspace_id, png((300, 300)))
    nested = {"inputs": [{"id": "product", "type": "imageUrl", "value": asset["url"]}], "mode": "async"}
    started = await http.post("/techniques/tech_product-shot/runs", json=nested)
    run_id = started.json()["run_id"]
    top = await http.post(
        "/runs/technique",
        json={
            "technique_id": "tech_tagline-writer",
            "workspace_id": workspace_id,
            "inputs": {"brief": "a mug"},
        },
    )
    failing = await http.post(
        "/runs/technique",
        json={
            "technique_id": "tech_product-shot",
            "workspace_id": workspace_id,
            "inputs": {"product": "https://example.com/x.png"},
        },
    )
    responses = [
        (started, 201),
        (top, 201),
        (failing, 201),
        (await http.get(f"/techniques/tech_product-shot/runs/{run_id}"), 200),  # pending or running
    ]
    for answer in (started, top, failing):
        await wait(http, answer.json()["run_id"])
    replay = nested | {"idempotency_key": "contract-technique"}
    responses += [
        (await http.get("/techniques"), 200),
        (
            await http.get("/techniques", params={"workspace_id": workspace_id, "query": "tag", "limit": 1}),
            200,
        ),
        (await http.get("/techniques", params={"workspace_id": "bad"}), 400),
        (await http.get("/techniques/tech_product-shot"), 200),
        (await http.get("/techniques/product-shot"), 200),
        (await http.get("/techniques/tech_nope"), 404),
        (await http.get(f"/techniques/tech_product-shot/runs/{run_id}"), 200),  # completed
        (await http.get(f"/runs/{run_id}"), 200),
        (await http.get(f"/runs/{top.json()['run_id']}"), 200),
        (await http.get(f"/runs/{failing.json()['run_id']}"), 200),  # failed
        (await http.get("/techniques/tech_product-shot/runs/run_nope"), 404),
        (await http.post("/techniques/tech_product-shot/runs", json=replay), 201),
        (await http.post("/techniques/tech_product-shot/runs", json=replay), 200),
        (await http.post("/techniques/tech_product-shot/runs", json={"inputs": [], "mode": "async"}), 400),
        (
            await http.post(
                "/runs/technique", json={"technique_id": "tech_nope", "workspace_id": workspace_id}
            ),
            404,
        ),
        (await http.post("/runs/technique", json={"technique_id": "tech_product-shot"}), 400),
    ]
    _check_all(openapi, responses)


async def test_actions_and_their_runs_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    output = await image_output(http, workspace_id, project_id, "a mug")
    where = {"workspace_id": workspace_id, "project_id": project_id}
    started = await http.post(
        "/runs/action",
        json=where
        | {
            "action_id": "change-image-ar",
            "inputs": [{"type": "image", "url": output}],
            "params": {"aspect_ratio": "4:3"},
        },
    )
    text = await http.post(
        "/runs/action",
        json=where | {"action_id": "split-text", "inputs": [{"type": "text", "text": "a\n\nb"}]},
    )
    responses = [(started, 201), (text, 201), (await http.get(f"/runs/{started.json()['run_id']}"), 200)]
    for answer in (started, text):
        await wait(http, answer.json()["run_id"])
    responses += [
        (await http.get("/actions"), 200),
        (await http.get("/actions/side-by-side-composite"), 200),
        (await http.get("/actions/ken-burns-video"), 404),
        (await http.get(f"/runs/{started.json()['run_id']}"), 200),
        (await http.get(f"/runs/{text.json()['run_id']}"), 200),
        (await http.post("/runs/action", json=where | {"action_id": "split-text", "inputs": []}), 400),
        (
            await http.post(
                "/runs/action",
                json=where | {"action_id": "rotate-image", "inputs": [{"type": "image"}]},
            ),
            400,
        ),
        (
            await http.post(
                "/runs/action",
                json=where
                | {
                    "action_id": "rotate-image",
                    "inputs": [{"type": "image", "url": output}],
                    "project_id": "prj_x",
                },
            ),
            404,
        ),
    ]
    _check_all(openapi, responses)


async def test_the_canvas_conforms(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    await image_output(http, workspace_id, project_id, "a mug")
    path = f"/projects/{project_id}/canvas"
    diagram = 'graph LR\n  a["Prompt (text)"]\n  b["Result (image)"]\n  a --> b'
    _check_all(
        openapi,
        [
            (await http.get(path), 200),
            (
                await http.patch(
                    path, json={"diagram": diagram, "node_params": {"b": {"prompt": "x", "model": None}}}
                ),
                200,
            ),
            (await http.get(path), 200),
            (await http.patch(path, json={"diagram": "nope"}), 400),
            (await http.patch("/projects/prj_nope/canvas", json={"diagram": diagram}), 404),
            (await http.get("/projects/prj_nope/canvas"), 404),
        ],
    )


async def test_the_checks_here_would_catch_an_answer_off_the_contract(
    openapi: OpenAPI, http: httpx2.AsyncClient
) -> None:
    workspace_id, _ = await project(http)
    good = await http.post("/assets", json={"source": "signed-url", "workspace_id": workspace_id})
    conforms(openapi, good)
    broken = {key: value for key, value in good.json().items() if key != "visibility"}
    bad = httpx2.Response(201, json=broken, request=good.request)
    with pytest.raises(Exception, match=r"(?i)valid"):
        conforms(openapi, bad)
