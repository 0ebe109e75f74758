"""A project's canvas in the sandbox over real HTTP: its runs as a Mermaid flowchart, and patches to it."""

from __future__ import annotations

import re

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox
from tests.sandbox.surface_helpers import client, image_output, png, project, upload, wait

pytestmark = pytest.mark.anyio


def _nodes(diagram: str) -> dict[str, str]:
    return dict(re.findall(r'^\s+(\w+)\["(.*)"\]$', diagram, re.MULTILINE))


def _edges(diagram: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s+(\w+) -->(?:\|[^|]*\|)? (\w+)$", diagram, re.MULTILINE))


async def test_a_new_projects_canvas_is_empty_and_its_canvas_url_opens(http: httpx2.AsyncClient) -> None:
    _, project_id = await project(http, "Empty")
    canvas = (await http.get(f"/projects/{project_id}/canvas")).json()
    assert canvas["project_id"] == project_id
    assert canvas["diagram"] == "graph LR"
    assert canvas["summary"] == {
        "node_count": 0,
        "edge_count": 0,
        "workflow_count": 0,
        "isolated_node_count": 0,
        "group_count": 0,
    }
    page = await http.get(canvas["canvas_url"])
    assert page.status_code == 200
    assert "Empty" in page.text


async def test_runs_are_nodes_and_a_run_that_used_anothers_output_is_an_edge(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id, project_id = await project(http)
    output = await image_output(http, workspace_id, project_id, "a blue mug")
    lonely = await image_output(http, workspace_id, project_id, "a lonely teapot")
    assert lonely
    asset = await upload(http, workspace_id, png((200, 200)))
    action = await http.post(
        "/runs/action",
        json={
            "action_id": "side-by-side-composite",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "inputs": [{"type": "image", "url": output}, {"type": "image", "url": asset["url"]}],
        },
    )
    composite = await wait(http, action.json()["run_id"])
    technique = await http.post(
        "/techniques/product-shot/runs",
        json={
            "inputs": [{"id": "product", "type": "imageUrl", "value": composite["outputs"][0]["url"]}],
            "mode": "async",
        },
    )
    await wait(http, technique.json()["run_id"])

    canvas = (await http.get(f"/projects/{project_id}/canvas")).json()
    nodes, edges = _nodes(canvas["diagram"]), _edges(canvas["diagram"])
    by_label = {label: node_id for node_id, label in nodes.items()}
    assert set(by_label) == {
        "a blue mug (image)",
        "a lonely teapot (image)",
        "photo.png (image)",
        "Side by Side (image)",
        "Product Shot (image)",
    }
    assert edges == {
        (by_label["a blue mug (image)"], by_label["Side by Side (image)"]),
        (by_label["photo.png (image)"], by_label["Side by Side (image)"]),
        (by_label["Side by Side (image)"], by_label["Product Shot (image)"]),
    }
    assert canvas["summary"] == {
        "node_count": 5,
        "edge_count": 3,
        "workflow_count": 1,
        "isolated_node_count": 1,
        "group_count": 0,
    }
    again = (await http.get(f"/projects/{project_id}/canvas")).json()
    assert again["diagram"] == canvas["diagram"]  # short ids are kept


async def test_a_patch_adds_nodes_and_edges_that_may_reference_existing_ones(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id, project_id = await project(http)
    await image_output(http, workspace_id, project_id, "a green mug")
    before = (await http.get(f"/projects/{project_id}/canvas")).json()
    existing = next(iter(_nodes(before["diagram"])))
    diagram = "\n".join(
        [
            "graph LR",
            '  brief["Campaign brief (Text)"]',
            '  hero["Hero image (Image)"]',
            "  brief --> hero",
            f"  {existing} -->|image| hero",
        ]
    )
    patched = await http.patch(
        f"/projects/{project_id}/canvas",
        json={"diagram": diagram, "node_params": {"hero": {"prompt": "a hero shot", "aspect_ratio": "16:9"}}},
    )
    assert patched.status_code == 200, patched.text
    answer = patched.json()
    assert (answer["created_node_count"], answer["created_edge_count"]) == (2, 2)
    assert answer["diagram"] == diagram
    assert answer["canvas_url"] == before["canvas_url"]
    after = (await http.get(f"/projects/{project_id}/canvas")).json()
    assert _nodes(after["diagram"]) == _nodes(before["diagram"]) | {
        "brief": "Campaign brief (Text)",
        "hero": "Hero image (Image)",
    }
    assert {("brief", "hero"), (existing, "hero")} <= _edges(after["diagram"])
    assert after["summary"]["workflow_count"] == 1


async def test_bad_patches_are_refused_and_change_nothing(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    _, project_id = await project(http)
    path = f"/projects/{project_id}/canvas"
    before = (await http.get(path)).json()
    for body in (
        {"diagram": "not mermaid at all"},
        {"diagram": "graph LR\n  a --> ghost"},
        {"diagram": ""},
        {},
        {"diagram": "graph LR\n  a[A]", "extra": True},
        {"diagram": "graph LR\n  a[A]", "node_params": {"a": {"colour": "red"}}},
    ):
        response = await http.patch(path, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "input_validation_error"
    assert (await http.get(path)).json() == before
    async with client(emulator) as other:
        assert (await other.get(path)).status_code == 404
        assert (await other.patch(path, json={"diagram": "graph LR\n  a[A]"})).status_code == 404
    assert (await http.get("/projects/nope/canvas")).status_code == 400
