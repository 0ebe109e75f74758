"""The sandbox behaves like the real FLORA service (BEHAVIOUR.md), not only like the contract.

A real-size catalogue, the workspace default model, params FLORA ignores instead of refusing, reference
inputs by model prefix that are really used, loose estimates, quotes that differ from the settled cost,
a request-id on every answer, and outputs served from two origins. See docs/sandbox-behaviour.md.
"""

from __future__ import annotations

import io
import math
import statistics
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from PIL import Image

from flora_mcp.sandbox import RunningSandbox, SandboxState, start_sandbox
from flora_mcp.sandbox._catalogue import DEFAULT_MODELS, find_model, models_of
from flora_mcp.sandbox._validate import model_params

pytestmark = pytest.mark.anyio

SPEED = 0.01
FOREIGN = "https://example.com/mug.png"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=SPEED, seed=3) as running:
        yield running


@pytest.fixture
async def http(emulator: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    headers = {"Authorization": f"Bearer flora-{uuid.uuid4().hex}"}
    async with httpx2.AsyncClient(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


async def _where(http: httpx2.AsyncClient) -> dict[str, str]:
    workspace_id = (await http.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
    project = await http.post("/projects", json={"workspace_id": workspace_id, "name": "Like FLORA"})
    assert project.status_code == 201, project.text
    return {"workspace_id": workspace_id, "project_id": project.json()["project_id"]}


async def _start(http: httpx2.AsyncClient, where: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await http.post("/generate", json=where | {"type": "image", "prompt": "a ceramic mug"} | body)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def _ended(http: httpx2.AsyncClient, run_id: str) -> dict[str, Any]:
    with anyio.fail_after(15):
        while True:
            run: dict[str, Any] = (await http.get(f"/runs/{run_id}")).json()
            if run["status"] in ("completed", "failed"):
                return run
            await anyio.sleep(0.02)


async def _run(http: httpx2.AsyncClient, where: dict[str, str], **body: Any) -> dict[str, Any]:
    return await _ended(http, (await _start(http, where, **body))["run_id"])


async def _file(url: str) -> bytes:
    async with httpx2.AsyncClient() as anonymous:  # output URLs are public
        response = await anonymous.get(url)
    assert response.status_code == 200, response.text
    return response.content


def _image(content: bytes) -> Image.Image:
    with Image.open(io.BytesIO(content)) as opened:
        return opened.convert("RGB")


def _likeness(a: Image.Image, b: Image.Image) -> float:
    """Correlation of two pictures' brightness on a small grid: 1 for the same picture, ~0 for unrelated."""
    pixels = [image.convert("L").resize((48, 27)).tobytes() for image in (a, b)]
    return statistics.correlation(*([float(v) for v in p] for p in pixels))


def _mean(image: Image.Image, band: int) -> float:
    return statistics.fmean(image.resize((32, 32)).getchannel(band).tobytes())


# the catalogue and the default model


async def test_the_catalogue_has_50_models_prices_200x_apart_and_each_models_own_option_spellings(
    http: httpx2.AsyncClient,
) -> None:
    models = (await http.get("/models")).json()["models"]
    assert len(models) >= 50
    images = [m for m in models if m["type"] == "image"]
    credits = [m["estimated_credits"] for m in images]
    assert max(credits) / min(credits) >= 150
    assert any(m["model_id"].startswith("i2i-") for m in images)  # image-to-image models are mixed in
    values = {o["value"] for m in images for p in m["params"] for o in p.get("options", [])}
    assert {"1:1", "square_1_1", "ASPECT_1_1", "1024x1024"} <= values


async def test_the_default_model_of_each_type_is_cheap_and_not_the_first_listed(
    http: httpx2.AsyncClient,
) -> None:
    for type_, default in DEFAULT_MODELS.items():
        models = (await http.get("/models", params={"type": type_})).json()["models"]
        ids = [m["model_id"] for m in models]
        assert ids.index(default) > 0
        credits = {m["model_id"]: m["estimated_credits"] for m in models}
        assert credits[default] <= statistics.median(credits.values())
    default_image = next(m for m in models_of("image") if m.model_id == DEFAULT_MODELS["image"])
    aspect = default_image.param("aspect_ratio")
    assert aspect is not None and "4:3" in [value for _, value in aspect.options]


async def test_a_4_3_product_shot_without_a_model_is_a_4_3_picture_from_the_default_model(
    http: httpx2.AsyncClient,
) -> None:
    run = await _run(http, await _where(http), params={"aspect_ratio": "4:3"})
    assert run["status"] == "completed"
    assert _image(await _file(run["outputs"][0]["url"])).size == (1536, 1152)


# params: FLORA checks none


async def test_unknown_params_and_bad_values_are_accepted_ignored_and_billed(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    where = await _where(http)
    params = {"colour": "red", "aspect_ratio": "5:17", "seed": -5, "guidance": True, "num_outputs": 4}
    started = await _start(http, where, model="t2i-flux-2-pro", params=params)
    assert started["charged_cost"] > 0
    run = await _ended(http, started["run_id"])
    assert run["status"] == "completed" and len(run["outputs"]) == 1
    assert _image(await _file(run["outputs"][0]["url"])).size == (1536, 1536)  # the default 1:1
    resolved = emulator.state.runs[started["run_id"]].resolved_params
    assert resolved["aspect_ratio"] == "1:1" and resolved["guidance"] == 3.5 and "colour" not in resolved


def test_a_number_that_spells_a_string_option_is_read_as_that_option() -> None:
    model = find_model("t2v-seedance-1-lite")
    assert model is not None
    assert model_params(model, {"duration": 10})["duration"] == "10"
    assert model_params(model, {"duration": 7})["duration"] == "5"  # not an option: the default


# references by model prefix


async def test_an_image_to_image_run_recolours_the_reference_and_keeps_its_shape(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    where = await _where(http)
    first = await _run(http, where, model="t2i-imagen-4", params={"aspect_ratio": "16:9", "seed": 1})
    other = await _run(http, where, model="t2i-imagen-4", params={"aspect_ratio": "16:9", "seed": 2})
    reference_url = first["outputs"][0]["url"]
    reference = _image(await _file(reference_url))

    for origin in emulator.media_origins:  # FLORA reads its outputs from any of its media hosts
        url = reference_url.replace(reference_url.split("/media/")[0], origin)
        body = {
            "model": "i2i-flux-kontext-pro",
            "prompt": "the same mug in blue",
            "params": {"image_url": url},
        }
        run = await _run(http, where, **body)
        assert run["status"] == "completed", run
        derived = _image(await _file(run["outputs"][0]["url"]))
        assert derived.size == reference.size == (1536, 864)
        assert _likeness(derived, reference) > 0.8
        assert _likeness(derived, reference) > _likeness(
            derived, _image(await _file(other["outputs"][0]["url"]))
        )
        assert _mean(derived, 2) - _mean(derived, 0) > _mean(reference, 2) - _mean(reference, 0) + 20  # bluer

    asked = {"image_url": reference_url, "aspect_ratio": "1:1"}
    square = await _run(http, where, model="i2i-nano-banana-edit", params=asked)
    assert _image(await _file(square["outputs"][0]["url"])).size == (864, 864)  # reshaped only when asked


async def test_a_reference_flora_would_not_fetch_is_billed_and_the_run_fails(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    where = await _where(http)
    unserved = f"{emulator.origin}/media/run_nope/output_1.png"
    for url in (FOREIGN, unserved, "not a url"):
        started = await _start(http, where, model="i2i-flux-kontext-pro", params={"image_url": url})
        assert started["charged_cost"] > 0  # accepted and quoted
        run = await _ended(http, started["run_id"])
        assert (run["status"], run["error_code"], run["progress"]) == (
            "failed",
            "GENERATION_GENERIC_ERROR",
            100,
        )
        assert run["completed_at"] >= run["created_at"] and "outputs" not in run


async def test_a_wrong_reference_form_is_ignored_so_a_model_that_needs_one_fails_and_others_run(
    http: httpx2.AsyncClient,
) -> None:
    where = await _where(http)
    url = (await _run(http, where, type="image"))["outputs"][0]["url"]
    plural = await _run(http, where, model="i2i-seededit-3", params={"image_urls": [url]})
    missing = await _run(http, where, model="i2v-kling-2-1", type="video")
    singular = await _run(http, where, model="i2t-florence-2-caption", type="text", params={"image_url": url})
    assert [r["error_code"] for r in (plural, missing, singular)] == ["GENERATION_GENERIC_ERROR"] * 3
    ignored = await _run(http, where, model="t2i-imagen-4", params={"image_url": url})  # takes no reference
    assert ignored["status"] == "completed"
    canvas_only = await _run(http, where, model="v2v-luma-modify-video", type="video")
    assert canvas_only["error_code"] == "GENERATION_GENERIC_ERROR"  # its source comes through the canvas


async def test_image_and_video_to_text_describe_what_they_were_given(http: httpx2.AsyncClient) -> None:
    where = await _where(http)
    image = await _run(http, where, model="t2i-imagen-4", params={"aspect_ratio": "16:9"})
    video = await _run(http, where, type="video", params={"aspect_ratio": "16:9"})
    image_url, video_url = image["outputs"][0]["url"], video["outputs"][0]["url"]

    described = await _run(
        http, where, type="text", model="i2t-florence-2-caption", params={"image_urls": [image_url]}
    )
    assert "Input 1: a PNG image, 1536x864" in (await _file(described["outputs"][0]["url"])).decode()
    watched = await _run(
        http, where, type="text", model="v2t-twelvelabs-pegasus", params={"video_urls": [video_url]}
    )
    assert "-frame clip, 320x180" in (await _file(watched["outputs"][0]["url"])).decode()


async def test_an_image_to_video_clip_starts_from_the_reference(http: httpx2.AsyncClient) -> None:
    where = await _where(http)
    image = await _run(http, where, model="t2i-imagen-4", params={"aspect_ratio": "9:16"})
    reference = _image(await _file(image["outputs"][0]["url"]))
    clip = await _run(
        http, where, type="video", model="i2v-kling-2-1", params={"image_url": image["outputs"][0]["url"]}
    )
    content = await _file(clip["outputs"][0]["url"])
    with Image.open(io.BytesIO(content)) as gif:
        assert gif.format == "GIF" and getattr(gif, "n_frames", 1) > 1
        assert _likeness(gif.convert("RGB"), reference.resize(gif.size)) > 0.8


# time and money


def test_a_run_takes_its_estimate_times_a_seeded_factor_between_0_3_and_3() -> None:
    model = find_model("t2i-imagen-4")
    assert model is not None

    def durations(seed: int, factors: tuple[float, float] = (0.3, 3.0)) -> list[float]:
        state = SandboxState(seed=seed, clock=lambda: 0.0, duration_factors=factors)
        project = state.create_project(state.workspace_for("k").workspace_id, "p")
        return [state.start_run("k", project, model, "x", {}, {}).duration for _ in range(200)]

    seen = [d / model.estimated_seconds for d in durations(5)]
    assert all(0.3 <= f <= 3.0 for f in seen)
    assert min(seen) < 0.5 and max(seen) > 2  # loose both ways
    assert durations(5) == durations(5) and durations(5) != durations(6)
    assert set(durations(5, (1.0, 1.0))) == {model.estimated_seconds}


async def test_the_start_quotes_a_cost_and_the_run_settles_another_a_little_after_it_ends() -> None:
    now = [1_000_000.0]
    with start_sandbox(speed=1.0, seed=1, duration_factors=(1.0, 1.0), settle_seconds=0.5) as running:
        running.state.clock = lambda: now[0]  # the test moves the sandbox's time
        headers = {"Authorization": "Bearer settle"}
        async with httpx2.AsyncClient(base_url=running.base_url, headers=headers) as http:
            where = await _where(http)
            started = await _start(http, where, model="t2i-gpt-image-1-hd", prompt="a mug")
            assert started["charged_cost"] != 0.873  # a quote, not the bill

            now[0] += 44.0
            running_run = (await http.get(f"/runs/{started['run_id']}")).json()
            assert (running_run["status"], running_run["progress"]) == ("running", 0)

            now[0] += 1.0  # ended (45 s), not settled
            ended = (await http.get(f"/runs/{started['run_id']}")).json()
            item = (await http.get("/generations")).json()["generations"][0]
            assert ended["status"] == item["status"] == "completed"
            assert "charged_cost" not in ended and "charged_cost" not in item

            now[0] += 0.5
            settled = (await http.get(f"/runs/{started['run_id']}")).json()
            item = (await http.get("/generations")).json()["generations"][0]
            assert settled["charged_cost"] == item["charged_cost"] == 0.873


# headers and origins


async def test_every_answer_carries_its_own_request_id(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    where = await _where(http)
    run = await _run(http, where, type="text")
    emulator.state.inject_fault(429, retry_after=1)
    answers = [
        await http.get("/workspaces"),  # the injected 429
        await http.get("/workspaces"),
        await http.get("/models", params={"type": "t2i"}),
        await http.get("/nowhere"),
        await http.post("/generate", json=where | {"type": "text", "prompt": "x", "project_id": "bad"}),
    ]
    async with httpx2.AsyncClient() as anonymous:
        answers += [
            await anonymous.get(run["outputs"][0]["url"]),
            await anonymous.get(emulator.base_url + "/models"),
        ]
    assert [a.status_code for a in answers] == [429, 200, 400, 404, 500, 200, 401]
    ids = [a.headers["request-id"] for a in answers]
    assert all(ids) and len(set(ids)) == len(ids)
    assert ids[4] in {r.request_id for r in emulator.state.requests}  # the log says which answer it was


async def test_outputs_come_from_two_origins_and_each_serves_them() -> None:
    with start_sandbox(speed=SPEED) as running:
        assert len(running.media_origins) == 2 and running.media_origins[0] == running.origin
        assert "localhost" in running.media_origins[1]
        async with httpx2.AsyncClient(
            base_url=running.base_url, headers={"Authorization": "Bearer o"}
        ) as http:
            where = await _where(http)
            runs = [await _run(http, where, type="text", prompt=f"line {i}") for i in range(2)]
        urls = [r["outputs"][0]["url"] for r in runs]
        assert [url.startswith(origin) for url, origin in zip(urls, running.media_origins, strict=True)] == [
            True,
            True,
        ]
        assert [b"line 0" in await _file(urls[0]), b"line 1" in await _file(urls[1])] == [True, True]


def test_quotes_never_equal_the_bill() -> None:
    state = SandboxState(seed=2, clock=lambda: 0.0)
    project = state.create_project(state.workspace_for("k").workspace_id, "p")
    for model in models_of(None):
        run = state.start_run("k", project, model, "x", {}, {})
        assert (
            run.quote_usd > 0
            and not math.isclose(run.quote_usd, run.cost_usd)
            and run.cost_usd == model.price_usd
        )
