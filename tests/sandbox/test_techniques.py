"""Techniques in the sandbox over real HTTP: found, read, run with checked inputs, followed to outputs."""

from __future__ import annotations

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox
from tests.sandbox.surface_helpers import client, picture, png, upload, wait, workspace

pytestmark = pytest.mark.anyio

PRODUCT_SHOT = "tech_product-shot"


async def test_techniques_are_listed_searched_paged_and_read_by_id_or_slug(http: httpx2.AsyncClient) -> None:
    workspace_id = await workspace(http)
    listed = (await http.get("/techniques", params={"workspace_id": workspace_id})).json()
    ids = [t["technique_id"] for t in listed["techniques"]]
    assert PRODUCT_SHOT in ids
    assert all(t["run_cost"] >= 0 and t["inputs"] and t["outputs"] for t in listed["techniques"])
    found = (await http.get("/techniques", params={"query": "PRODUCT"})).json()["techniques"]
    assert [t["technique_id"] for t in found] == [PRODUCT_SHOT]
    first = (await http.get("/techniques", params={"limit": 1})).json()
    assert len(first["techniques"]) == 1
    rest = (await http.get("/techniques", params={"cursor": first["meta"]["next_cursor"]})).json()
    assert [t["technique_id"] for t in first["techniques"] + rest["techniques"]] == ids

    by_id = (await http.get(f"/techniques/{PRODUCT_SHOT}")).json()
    assert (await http.get("/techniques/product-shot")).json() == by_id
    assert [(p["id"], p["type"]) for p in by_id["inputs"]] == [("product", "imageUrl"), ("setting", "text")]
    assert [p["specified_aspect_ratio"] for p in by_id["outputs"]] == ["1:1", "16:9", "9:16"]
    assert (await http.get("/techniques/tech_nothing")).status_code == 404


async def test_product_shot_frames_an_uploaded_photo_three_ways_followed_like_a_generation(
    http: httpx2.AsyncClient,
) -> None:
    red = (200, 30, 30)
    asset = await upload(http, await workspace(http), png((400, 400), red))
    body = {
        "inputs": [
            {"id": "product", "type": "imageUrl", "value": asset["url"]},
            {"id": "setting", "type": "text", "value": "marble counter, morning light"},
        ],
        "mode": "async",
    }
    started = await http.post(f"/techniques/{PRODUCT_SHOT}/runs", json=body)
    assert started.status_code == 201, started.text
    assert started.json()["status"] in ("pending", "running")
    run_id = started.json()["run_id"]
    nested = await wait(http, run_id, f"/techniques/product-shot/runs/{run_id}")
    top = await wait(http, run_id)
    assert nested == top
    assert top["status"] == "completed"
    assert top["charged_cost"] == 0.12
    sizes = []
    for output in top["outputs"]:
        assert output["type"] == "imageUrl"
        image = picture((await http.get(output["url"])).content).convert("RGB")
        sizes.append(image.size)
        assert image.getpixel((image.width // 2, int(image.height * 0.46))) == red  # the product itself
    assert sizes == [(1024, 1024), (1024, 576), (576, 1024)]


async def test_a_text_technique_runs_through_runs_technique_and_its_text_is_readable(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id = await workspace(http)
    body = {
        "technique_id": "tagline-writer",
        "workspace_id": workspace_id,
        "inputs": {"brief": "A stoneware mug for slow mornings"},
    }
    started = await http.post("/runs/technique", json=body)
    assert started.status_code == 201, started.text
    answer = started.json()
    assert answer["type"] == "technique"
    assert answer["technique"] == {"technique_id": "tech_tagline-writer", "name": "Tagline Writer"}
    assert answer["project_id"] is None
    run = await wait(http, answer["run_id"])
    assert [o["type"] for o in run["outputs"]] == ["text"]
    text = (await http.get(run["outputs"][0]["url"])).text
    assert "stoneware" in text.casefold()
    assert len(text.strip().splitlines()) >= 4


async def test_a_poster_sets_a_headline_over_a_picture_at_3_by_4(http: httpx2.AsyncClient) -> None:
    workspace_id = await workspace(http)
    teal = (20, 160, 150)
    asset = await upload(http, workspace_id, png((500, 300), teal))
    body = {
        "technique_id": "tech_poster",
        "workspace_id": workspace_id,
        "inputs": {"picture": {"type": "imageUrl", "value": asset["url"]}, "headline": "Slow mornings"},
    }
    started = await http.post("/runs/technique", json=body)
    assert started.status_code == 201, started.text
    run = await wait(http, started.json()["run_id"])
    assert run["status"] == "completed", run
    image = picture((await http.get(run["outputs"][0]["url"])).content).convert("RGB")
    assert image.size == (768, 1024)
    assert image.getpixel((5, 5)) == teal
    foot = image.getpixel((5, 1018))
    assert isinstance(foot, tuple)
    assert sum(foot) < sum(teal) / 2  # darkened under the headline


async def test_inputs_are_checked_against_the_definition_and_nothing_starts_when_wrong(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    before = len(emulator.state.jobs)
    missing = await http.post(
        f"/techniques/{PRODUCT_SHOT}/runs",
        json={"inputs": [{"id": "setting", "type": "text", "value": "a beach"}], "mode": "async"},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["fields"] == [
        {"field": "inputs.product", "message": "Required: Product photo (imageUrl)"}
    ]
    wrong = await http.post(
        f"/techniques/{PRODUCT_SHOT}/runs",
        json={"inputs": [{"id": "product", "type": "text", "value": "a mug"}], "mode": "async"},
    )
    assert wrong.json()["error"]["fields"][0]["field"] == "inputs.product"
    unknown = await http.post(
        "/runs/technique",
        json={
            "technique_id": PRODUCT_SHOT,
            "workspace_id": await workspace(http),
            "inputs": {"colour": "red"},
        },
    )
    fields = {f["field"] for f in unknown.json()["error"]["fields"]}
    assert fields == {"inputs.colour", "inputs.product"}
    no_mode = await http.post(f"/techniques/{PRODUCT_SHOT}/runs", json={"inputs": []})
    assert {f["field"] for f in no_mode.json()["error"]["fields"]} == {"inputs", "mode"}
    absent = await http.post("/techniques/tech_nothing/runs", json={"inputs": [], "mode": "async"})
    assert absent.status_code == 404
    assert len(emulator.state.jobs) == before


async def test_an_input_on_a_foreign_host_is_accepted_then_the_run_fails_unbilled(
    http: httpx2.AsyncClient,
) -> None:
    body = {
        "inputs": [{"id": "product", "type": "imageUrl", "value": "https://example.com/mug.png"}],
        "mode": "async",
    }
    started = await http.post(f"/techniques/{PRODUCT_SHOT}/runs", json=body)
    assert started.status_code == 201
    run = await wait(http, started.json()["run_id"])
    assert (run["status"], run["progress"], run["charged_cost"]) == ("failed", 100, 0)
    assert "Failed to load inputs" in run["error_message"]
    assert "POST /assets" in run["error_message"]


async def test_a_body_idempotency_key_replays_the_same_run(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    body = {
        "inputs": [{"id": "brief", "type": "text", "value": "tea for two"}],
        "mode": "async",
        "idempotency_key": "brief-1",
    }
    first = await http.post("/techniques/tagline-writer/runs", json=body)
    again = await http.post("/techniques/tagline-writer/runs", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["run_id"] == again.json()["run_id"]
    workspace_id = await workspace(http)
    assert sum(1 for j in emulator.state.jobs.values() if j.workspace_id == workspace_id) == 1


async def test_a_technique_run_is_private_to_its_workspace_and_to_its_technique(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    body = {"inputs": [{"id": "brief", "type": "text", "value": "a lamp"}], "mode": "async"}
    run_id = (await http.post("/techniques/tagline-writer/runs", json=body)).json()["run_id"]
    assert (await http.get(f"/techniques/{PRODUCT_SHOT}/runs/{run_id}")).status_code == 404
    async with client(emulator) as other:
        assert (await other.get(f"/runs/{run_id}")).status_code == 404
        assert (await other.get(f"/techniques/tagline-writer/runs/{run_id}")).status_code == 404
