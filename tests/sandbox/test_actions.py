"""Actions in the sandbox over real HTTP: listed, run on earlier outputs and assets, real pixels changed."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox
from tests.sandbox.surface_helpers import client, image_output, picture, png, project, upload, wait

pytestmark = pytest.mark.anyio


async def _run(
    http: httpx2.AsyncClient, where: tuple[str, str], action_id: str, **body: Any
) -> dict[str, Any]:
    workspace_id, project_id = where
    sent = {"action_id": action_id, "workspace_id": workspace_id, "project_id": project_id} | body
    started = await http.post("/runs/action", json=sent)
    assert started.status_code == 201, started.text
    assert started.json()["type"] == "action"
    assert started.json()["action"] == {"action_id": action_id}
    run = await wait(http, started.json()["run_id"])
    assert run["status"] == "completed", run
    return run


async def _image(http: httpx2.AsyncClient, url: str) -> Any:
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    return picture(response.content).convert("RGB")


async def test_released_actions_are_listed_free_with_their_slots_and_params(http: httpx2.AsyncClient) -> None:
    actions = (await http.get("/actions")).json()["actions"]
    ids = {a["action_id"] for a in actions}
    assert {"change-image-ar", "side-by-side-composite", "split-text", "rotate-image"} <= ids
    assert all(a["charged_cost"] == 0 for a in actions)
    one = (await http.get("/actions/change-image-ar")).json()
    assert one in actions
    ratio = next(p for p in one["params"] if p["key"] == "aspect_ratio")
    assert "16:9" in [v["value"] for v in ratio["available_values"]]
    assert (await http.get("/actions/ken-burns-video")).status_code == 404


async def test_change_image_ar_crops_an_earlier_output_to_the_new_ratio(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    output = await image_output(http, *where, "a mug on a table")
    source = await _image(http, output)
    run = await _run(
        http,
        where,
        "change-image-ar",
        inputs=[{"type": "image", "url": output}],
        params={"aspect_ratio": "16:9", "fit": "crop"},
    )
    assert run["charged_cost"] == 0
    result = await _image(http, run["outputs"][0]["url"])
    assert abs(result.width / result.height - 16 / 9) < 0.01
    assert max(result.size) <= max(source.size)


async def test_change_image_ar_pads_with_the_asked_color(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    asset = await upload(http, where[0], png((300, 300), (10, 200, 10)))
    run = await _run(
        http,
        where,
        "change-image-ar",
        inputs=[{"type": "image", "url": asset["url"]}],
        params={"aspect_ratio": "9:16", "fit": "pad", "pad_color": "#ff00ff"},
    )
    result = await _image(http, run["outputs"][0]["url"])
    assert result.size == (300, 533)
    assert result.getpixel((150, 5)) == (255, 0, 255)
    assert result.getpixel((150, 266)) == (10, 200, 10)


async def test_side_by_side_puts_two_assets_next_to_each_other(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    red = await upload(http, where[0], png((300, 200), (255, 0, 0)))
    blue = await upload(http, where[0], png((200, 200), (0, 0, 255)))
    inputs = [{"type": "image", "url": red["url"]}, {"type": "image", "url": blue["url"]}]
    run = await _run(http, where, "side-by-side-composite", inputs=inputs)
    result = await _image(http, run["outputs"][0]["url"])
    assert result.size == (500, 200)
    assert (result.getpixel((10, 100)), result.getpixel((490, 100))) == ((255, 0, 0), (0, 0, 255))


async def test_rotate_turns_an_image_a_quarter(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    asset = await upload(http, where[0], png((300, 200)))
    run = await _run(http, where, "rotate-image", inputs=[{"type": "image", "url": asset["url"]}])
    assert (await _image(http, run["outputs"][0]["url"])).size == (200, 300)


async def test_split_text_gives_one_text_output_per_paragraph(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    text = "Scene one: the mug.\n\nScene two: the tea.\n\n\nScene three: the steam."
    run = await _run(http, where, "split-text", inputs=[{"type": "text", "text": text}])
    assert [o["type"] for o in run["outputs"]] == ["text"] * 3
    parts = [(await http.get(o["url"])).text for o in run["outputs"]]
    assert parts == ["Scene one: the mug.", "Scene two: the tea.", "Scene three: the steam."]


async def test_bad_action_runs_are_refused_with_fields_and_start_nothing(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    where = await project(http)
    image = [{"type": "image", "url": "http://127.0.0.1/x.png"}]
    base = {"workspace_id": where[0], "project_id": where[1]}
    before = len(emulator.state.jobs)

    async def refused(body: dict[str, Any]) -> set[str]:
        response = await http.post("/runs/action", json=base | body)
        assert response.status_code == 400, response.text
        return {f["field"] for f in response.json()["error"]["fields"]}

    assert await refused({"action_id": "side-by-side-composite", "inputs": image}) == {"inputs"}
    assert await refused({"action_id": "ken-burns-video", "inputs": image}) == {"action_id"}
    bad_ratio = {"action_id": "change-image-ar", "inputs": image, "params": {"aspect_ratio": "4:5"}}
    assert await refused(bad_ratio) == {"params.aspect_ratio"}
    assert await refused({"action_id": "change-image-ar", "inputs": []}) == {"inputs"}
    text_for_image = {"action_id": "rotate-image", "inputs": [{"type": "text", "text": "hi"}]}
    assert await refused(text_for_image) == {"inputs", "inputs[0].type"}
    async with client(emulator) as other:
        elsewhere = await other.post(
            "/runs/action", json=base | {"action_id": "rotate-image", "inputs": image}
        )
        assert elsewhere.status_code == 403
    assert len(emulator.state.jobs) == before


@pytest.mark.parametrize(
    "foreign", ["https://example.com/mug.png", "http://127.0.0.1:9/mug.png", "http://localhost:9/mug.png"]
)
async def test_an_action_on_a_url_off_the_sandbox_starts_then_fails_to_load_its_input(
    http: httpx2.AsyncClient, foreign: str
) -> None:
    workspace_id, project_id = await project(http)
    body = {
        "action_id": "flip-image",
        "workspace_id": workspace_id,
        "project_id": project_id,
        "inputs": [{"type": "image", "url": foreign}],
    }
    started = await http.post("/runs/action", json=body)
    assert started.status_code == 201
    run = await wait(http, started.json()["run_id"])
    assert (run["status"], run["charged_cost"]) == ("failed", 0)
    assert run["error_message"].startswith("Failed to load inputs")
    assert "not on a FLORA host" in run["error_message"]


async def test_an_output_is_read_under_the_sandboxs_other_name_too(http: httpx2.AsyncClient) -> None:
    where = await project(http)
    output = await image_output(http, *where, "a mug")
    names = ("127.0.0.1", "localhost") if "127.0.0.1" in output else ("localhost", "127.0.0.1")
    other_name = output.replace(*names)  # outputs come from either name, like FLORA's two media hosts
    assert other_name != output
    run = await _run(http, where, "flip-image", inputs=[{"type": "image", "url": other_name}])
    source, flipped = await _image(http, output), await _image(http, run["outputs"][0]["url"])
    assert flipped.getpixel((0, 0)) == source.getpixel((source.width - 1, 0))
