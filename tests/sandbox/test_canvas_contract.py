"""The sandbox's answers for SDK 0.11's endpoints conform to FLORA's contract: the graph, changesets
(and their per-operation 400), node runs, workspace-scoped projects and assets in one call.

Checked by openapi-core against tests/contract/openapi.yaml, requests as well as answers."""

from __future__ import annotations

import httpx2
import pytest
from openapi_core import OpenAPI

from tests.openapi_check import openapi_request
from tests.sandbox.surface_helpers import png, project, upload, wait
from tests.sandbox.test_sandbox_contract import conforms

pytestmark = pytest.mark.anyio


def _check(openapi: OpenAPI, response: httpx2.Response, status: int, *, request: bool = True) -> None:
    """The answer has the status and shape the contract gives; a request the test meant to be valid is
    (not a multipart one: openapi-core reads a file part as bytes, which its 3.1 schema calls a string)."""
    assert response.status_code == status, (response.request.url, response.text)
    if request and status < 400:
        openapi.validate_request(openapi_request(response.request))
    conforms(openapi, response)


async def test_graph_changeset_and_node_runs_conform(openapi: OpenAPI, http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    base = f"/workspaces/{workspace_id}/projects/{project_id}"
    reference = await upload(http, workspace_id, png((32, 32)))
    _check(openapi, await http.get(f"{base}/graph"), 200)
    body = {
        "add": [
            {"ref": "brief", "type": "text", "prompt": "a mug", "label": "Brief"},
            {"ref": "ref", "type": "static_image", "content_url": reference["url"]},
            {"ref": "shot", "type": "image", "model": "t2i-flux-2-pro", "params": {"aspect_ratio": "1:1"}},
            {"ref": "frame", "type": "group", "position": {"x": 0, "y": 900}},
        ],
        "connect": [{"from": "brief", "to": "shot"}, {"from": "ref", "to": "shot", "in": "image"}],
    }
    applied = await http.post(f"{base}/canvas/changeset", json=body)
    _check(openapi, applied, 200)
    ids = {ref: made["id"] for ref, made in applied.json()["created"].items()}
    rejected = await http.post(
        f"{base}/canvas/changeset",
        json={"update": [{"id": "n404", "prompt": "x"}], "connect": [{"from": ids["shot"], "to": "nowhere"}]},
    )
    _check(openapi, rejected, 400)
    assert all("code" in f for f in rejected.json()["error"]["fields"])
    edited = await http.post(
        f"{base}/canvas/changeset",
        json={"disconnect": [{"from": ids["brief"], "to": ids["shot"]}], "remove": [{"id": ids["frame"]}]},
    )
    _check(openapi, edited, 200)
    ran = await http.post(f"{base}/nodes/run", json={"node_ids": [ids["shot"], ids["brief"], "n404"]})
    _check(openapi, ran, 200)
    await wait(http, ran.json()["runs"][0]["run_id"])
    _check(openapi, await http.get(f"{base}/graph"), 200)  # with a finished run's output
    _check(openapi, await http.post(f"{base}/nodes/run", json={"node_ids": []}), 400)


async def _multipart(http: httpx2.AsyncClient, fields: dict[str, str], content: bytes) -> httpx2.Response:
    """A multipart `POST /assets`, its body read so that the contract check can see it."""
    request = http.build_request(
        "POST", "/assets", data=fields, files={"file": ("mug.png", content, "image/png")}
    )
    request.read()
    return await http.send(request)


async def test_workspace_projects_and_assets_in_one_call_conform(
    openapi: OpenAPI, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await project(http)
    _check(openapi, await http.post(f"/workspaces/{workspace_id}/projects", json={"name": "Spring"}), 201)
    folder = f"/workspaces/{workspace_id}/folders/fld_x/projects"
    _check(openapi, await http.post(folder, json={"name": "Filed"}), 201)
    direct = await _multipart(http, {"workspace_id": workspace_id, "project_id": project_id}, png((40, 30)))
    _check(openapi, direct, 201, request=False)
    assert direct.json()["uploaded_via"] == "direct" and direct.json()["status"] == "ready"
    by_url = await http.post(
        "/assets",
        json={
            "source": "https://93.184.215.14/linen.png",
            "workspace_id": workspace_id,
            "project_id": project_id,
        },
    )
    _check(openapi, by_url, 201)
    too_big = await _multipart(http, {"workspace_id": workspace_id}, b"\0" * (4 * 1024 * 1024 + 1))
    _check(openapi, too_big, 400)
    listed = await http.get("/assets", params={"project_id": project_id})
    _check(openapi, listed, 200)
    assert len(listed.json()["assets"]) == 2
