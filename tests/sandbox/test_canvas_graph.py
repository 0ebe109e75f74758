"""The canvas as data in the sandbox over real HTTP: the graph, atomic changesets, node runs, and
projects made the current way (SDK 0.11)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox
from tests.sandbox.surface_helpers import client, image_output, png, project, upload, wait

pytestmark = pytest.mark.anyio


def _base(workspace_id: str, project_id: str) -> str:
    return f"/workspaces/{workspace_id}/projects/{project_id}"


async def _graph(http: httpx2.AsyncClient, base: str) -> dict[str, Any]:
    response = await http.get(f"{base}/graph")
    assert response.status_code == 200, response.text
    graph: dict[str, Any] = response.json()
    return graph


BOARD: dict[str, Any] = {
    "add": [
        {"ref": "brief", "type": "text", "prompt": "A ceramic mug on a sunlit table", "label": "Brief"},
        {"ref": "style", "type": "static_image", "content_url": "REF", "label": "Style"},
        {"ref": "hero", "type": "image", "model": "t2i-flux-2-pro", "params": {"aspect_ratio": "4:3"}},
        {"ref": "detail", "type": "image", "prompt": "close-up of the handle"},
    ],
    "connect": [
        {"from": "brief", "to": "hero"},
        {"from": "style", "to": "hero", "in": "image"},
        {"from": "brief", "to": "detail"},
    ],
}


async def _board(http: httpx2.AsyncClient) -> tuple[str, dict[str, Any], dict[str, Any]]:
    workspace_id, project_id = await project(http)
    reference = await upload(http, workspace_id, png((64, 64)))
    body = {
        **BOARD,
        "add": [dict(a, content_url=reference["url"]) if a["ref"] == "style" else a for a in BOARD["add"]],
    }
    base = _base(workspace_id, project_id)
    response = await http.post(f"{base}/canvas/changeset", json=body)
    assert response.status_code == 200, response.text
    return base, response.json(), await _graph(http, base)


async def test_a_changeset_builds_a_board_the_graph_reads_back_with_stable_ids(
    http: httpx2.AsyncClient,
) -> None:
    base, applied, graph = await _board(http)
    assert applied["applied"] == {"added": 4, "updated": 0, "connected": 3, "disconnected": 0, "removed": 0}
    assert set(applied["created"]) == {"brief", "style", "hero", "detail"}
    assert applied["revision"] == graph["revision"]
    ids = {ref: made["id"] for ref, made in applied["created"].items()}
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert by_id[ids["hero"]]["model_id"] == "t2i-flux-2-pro"
    assert by_id[ids["hero"]]["params"] == {"aspect_ratio": "4:3"} and by_id[ids["hero"]]["status"] == "idle"
    assert by_id[ids["brief"]]["model_id"] is None and by_id[ids["brief"]]["output_text"].startswith(
        "A ceramic"
    )
    assert by_id[ids["style"]]["status"] == "done" and by_id[ids["style"]]["output_url"]
    assert by_id[ids["detail"]]["model_id"]  # an image node without a model takes the default
    assert {(e["from"], e["to"]) for e in graph["edges"]} == {
        (ids["brief"], ids["hero"]),
        (ids["style"], ids["hero"]),
        (ids["brief"], ids["detail"]),
    }
    again = await _graph(http, base)
    assert again == graph  # nothing changed: same ids, same revision
    uuid_of = {n["id"]: n["node_id"] for n in graph["nodes"]}
    moved = await http.post(
        f"{base}/canvas/changeset",
        json={"update": [{"id": uuid_of[ids["hero"]], "prompt": "the mug, from above"}]},
    )
    assert moved.status_code == 200 and moved.json()["applied"]["updated"] == 1
    assert moved.json()["revision"] != graph["revision"]


async def test_a_changeset_with_bad_operations_changes_nothing_and_names_each(
    http: httpx2.AsyncClient,
) -> None:
    base, applied, before = await _board(http)
    hero = applied["created"]["hero"]["id"]
    response = await http.post(
        f"{base}/canvas/changeset",
        json={
            "add": [
                {
                    "ref": "extra",
                    "type": "image",
                    "model": "t2i-flux-2-pro",
                    "params": {"aspect_ratio": "7:5"},
                }
            ],
            "connect": [{"from": "extra", "to": "n99"}],
            "remove": [{"id": hero}],
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    fields = {f["field"]: f for f in error["fields"]}
    assert set(fields) == {"add[0].params.aspect_ratio", "connect[0].to"}
    assert fields["connect[0].to"]["code"] == "node_not_found"
    assert fields["add[0].params.aspect_ratio"]["code"] == "invalid_param"
    assert await _graph(http, base) == before  # the valid removal did not apply either


async def test_removal_takes_the_nodes_edges_and_is_final(http: httpx2.AsyncClient) -> None:
    base, applied, _ = await _board(http)
    brief = applied["created"]["brief"]["id"]
    removed = await http.post(f"{base}/canvas/changeset", json={"remove": [{"id": brief}]})
    assert removed.status_code == 200 and removed.json()["applied"]["removed"] == 1
    graph = await _graph(http, base)
    assert brief not in {n["id"] for n in graph["nodes"]}
    assert all(brief not in (e["from"], e["to"]) for e in graph["edges"])
    assert len(graph["nodes"]) == 3


async def test_node_runs_start_what_can_run_and_skip_the_rest_with_reasons(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    base, applied, _ = await _board(http)
    ids = {ref: made["id"] for ref, made in applied["created"].items()}
    before = emulator.state.runs_started()
    response = await http.post(
        f"{base}/nodes/run",
        json={"node_ids": [ids["hero"], ids["brief"], ids["style"], "n404", ids["detail"]]},
    )
    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert [r["status"] for r in runs] == ["started", "skipped", "skipped", "skipped", "started"]
    assert [r.get("reason") for r in runs[1:4]] == [
        "no_model_configured",
        "node_not_executable",
        "node_not_found",
    ]
    assert emulator.state.runs_started() == before + 2  # spent at once
    assert runs[0]["model"] == {"model_id": "t2i-flux-2-pro"} and runs[0]["charged_cost"] > 0
    again = await http.post(f"{base}/nodes/run", json={"node_ids": [ids["hero"]]})
    assert again.json()["runs"][0]["reason"] == "generation_already_running"
    done = await wait(http, runs[0]["run_id"])
    assert done["status"] == "completed"
    graph = await _graph(http, base)
    hero = next(n for n in graph["nodes"] if n["id"] == ids["hero"])
    assert hero["status"] == "done" and hero["output_url"] == done["outputs"][0]["url"]
    assert len(graph["nodes"]) == 4  # a node's run is not a node of its own
    bodies: list[dict[str, Any]] = [
        {"node_ids": []},
        {"node_ids": ["n1"] * 51},
        {"node_ids": ["n1"], "force": 1},
    ]
    for body in bodies:
        assert (await http.post(f"{base}/nodes/run", json=body)).status_code == 400


async def test_runs_made_elsewhere_are_nodes_of_the_graph_too(http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    await image_output(http, workspace_id, project_id, "a green mug")
    graph = await _graph(http, _base(workspace_id, project_id))
    [node] = graph["nodes"]
    assert node["prompt"] == "a green mug" and node["status"] == "done" and node["model_id"]


async def test_the_workspace_scoped_routes_check_the_workspace_and_project(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id, project_id = await project(http)
    made = await http.post(f"/workspaces/{workspace_id}/projects", json={"name": "Spring"})
    assert made.status_code == 201 and made.json()["workspace_id"] == workspace_id
    filed = await http.post(
        f"/workspaces/{workspace_id}/folders/fld_campaigns/projects", json={"name": "In a folder"}
    )
    assert filed.status_code == 201
    assert (
        await http.post(f"/workspaces/{workspace_id}/folders/elsewhere/projects", json={"name": "x"})
    ).status_code == 404
    assert (await http.post(f"/workspaces/{workspace_id}/projects", json={"name": ""})).status_code == 400
    async with client(emulator) as other:
        assert (await other.get(f"{_base(workspace_id, project_id)}/graph")).status_code in (403, 404)
        own = (await other.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
        assert (await other.get(f"{_base(own, project_id)}/graph")).status_code == 404
