"""Assets in the sandbox over real HTTP: signed uploads, URL sources, checks by content, listing, retries."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.sandbox._assets import MAX_ASSET_BYTES, asset_bytes
from tests.sandbox.surface_helpers import (
    client,
    image_output,
    picture,
    png,
    project,
    put_file,
    reserve,
    upload,
    wait,
    workspace,
)

pytestmark = pytest.mark.anyio


async def test_a_signed_upload_of_a_png_becomes_a_ready_asset_served_with_its_bytes(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id = await workspace(http)
    reserved = await reserve(http, workspace_id, "mug.png")
    assert reserved["status"] == "pending_upload"
    assert reserved["uploaded_via"] == "signed_url"
    assert reserved["upload"]["method"] == "POST"
    assert reserved["upload"]["file_field"] == "file"
    assert (await http.get(reserved["url"])).status_code == 404  # nothing to serve yet

    content = png((320, 200))
    assert (await put_file(http, reserved["upload"], content, "mug.png")).status_code == 204
    completed = await http.post(f"/assets/{reserved['asset_id']}/complete")
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "ready"
    assert completed.json()["failure_message"] is None

    served = await http.get(completed.json()["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == content
    detail = (await http.get(f"/assets/{reserved['asset_id']}")).json()
    assert (detail["width"], detail["height"], detail["size_bytes"]) == (320, 200, len(content))
    assert (detail["name"], detail["content_type"], detail["status"]) == ("mug.png", "image/png", "ready")


async def test_a_text_file_named_png_is_refused_by_its_content_and_not_served(
    http: httpx2.AsyncClient,
) -> None:
    completed = await upload(http, await workspace(http), b"just some words, not a picture\n", "fake.png")
    assert completed["status"] == "failed"
    assert "not an image" in completed["failure_message"]
    detail = (await http.get(f"/assets/{completed['asset_id']}")).json()
    assert (detail["status"], detail["url"]) == ("failed", None)
    assert (await http.get(completed["url"])).status_code == 404


async def test_video_and_audio_are_recognised_by_their_signatures(http: httpx2.AsyncClient) -> None:
    workspace_id = await workspace(http)
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64)
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
    assert (await upload(http, workspace_id, mp4, "clip.mp4"))["status"] == "ready"
    audio = await upload(http, workspace_id, wav, "tone.wav")
    assert (await http.get(f"/assets/{audio['asset_id']}")).json()["content_type"] == "audio/wav"


async def test_a_failed_upload_is_retried_with_a_new_token_and_the_old_one_stops_working(
    http: httpx2.AsyncClient,
) -> None:
    workspace_id = await workspace(http)
    failed = await upload(http, workspace_id, b"", "empty.png")
    assert failed["status"] == "failed"
    assert "empty" in failed["failure_message"]
    old_token = (await http.get(f"/assets/{failed['asset_id']}")).json()  # no token in the metadata
    assert "upload" not in old_token

    retried = await http.post(f"/assets/{failed['asset_id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending_upload"
    fresh = retried.json()["upload"]
    stale = fresh | {"form_fields": {"token": "not-the-token"}}
    assert (await put_file(http, stale, png(), "x.png")).status_code == 403
    assert (await put_file(http, fresh, png(), "x.png")).status_code == 204
    done = await http.post(f"/assets/{failed['asset_id']}/complete")
    assert done.json()["status"] == "ready"
    refused = await http.post(f"/assets/{failed['asset_id']}/retry")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "input_validation_error"


async def test_complete_before_any_upload_is_refused_and_the_asset_stays_pending(
    http: httpx2.AsyncClient,
) -> None:
    reserved = await reserve(http, await workspace(http))
    refused = await http.post(f"/assets/{reserved['asset_id']}/complete")
    assert refused.status_code == 400
    assert "upload.url" in refused.json()["error"]["message"]
    assert (await http.get(f"/assets/{reserved['asset_id']}")).json()["status"] == "pending_upload"


async def test_an_upload_over_the_size_cap_is_refused(http: httpx2.AsyncClient) -> None:
    reserved = await reserve(http, await workspace(http))
    sent = await put_file(http, reserved["upload"], bytes(MAX_ASSET_BYTES + 1), "huge.png")
    assert sent.status_code == 413
    assert (await http.post(f"/assets/{reserved['asset_id']}/complete")).status_code == 400


async def test_an_earlier_output_becomes_an_asset_from_its_url(http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    output = await image_output(http, workspace_id, project_id, "a ceramic mug")
    created = await http.post("/assets", json={"source": output, "workspace_id": workspace_id})
    assert created.status_code == 201, created.text
    asset = created.json()
    assert (asset["status"], asset["uploaded_via"]) == ("ready", "url")
    served = await http.get(asset["url"])
    assert served.content == (await http.get(output)).content
    assert served.headers["content-type"] == "image/png"
    detail = (await http.get(f"/assets/{asset['asset_id']}")).json()
    assert (detail["width"], detail["height"]) == picture(served.content).size


async def test_public_image_urls_stand_in_others_fail_with_the_reason_and_a_bad_source_is_refused(
    http: httpx2.AsyncClient,
) -> None:
    """As FLORA: any public https URL is fetched (the sandbox, offline, draws a stand-in for an image's);
    private hosts, plain http and what is not a media file make a failed asset that says why."""
    workspace_id = await workspace(http)

    async def status(source: str) -> dict[str, Any]:
        made = await http.post("/assets", json={"source": source, "workspace_id": workspace_id})
        assert made.status_code == 201, made.text
        asset: dict[str, Any] = (await http.get(f"/assets/{made.json()['asset_id']}")).json()
        return asset

    public = await status("https://example.com/photo.png")
    assert public["status"] == "ready" and public["width"] == 640
    assert picture((await http.get(public["url"])).content).size == (640, 480)
    for source, reason in (
        ("https://10.0.0.8/photo.png", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://example.com/photo.png", "only https"),
        ("https://example.com/about.html", "Could not read an image"),
    ):
        failed = await status(source)
        assert failed["status"] == "failed" and reason in failed["failure_message"], source
    refused = await http.post("/assets", json={"source": "file:///etc/passwd", "workspace_id": workspace_id})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"][0]["field"] == "source"
    extra = await http.post("/assets", json={"source": "signed-url", "workspace_id": workspace_id, "x": 1})
    assert extra.status_code == 400


async def test_assets_are_listed_newest_first_searched_paged_and_private_to_their_workspace(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    workspace_id = await workspace(http)
    ids = [
        (await upload(http, workspace_id, png(), f"{name}.png"))["asset_id"]
        for name in ("red", "blue", "rust")
    ]
    first = await http.get("/assets", params={"workspace_id": workspace_id, "limit": 2})
    assert [a["asset_id"] for a in first.json()["assets"]] == ids[::-1][:2]
    cursor = first.json()["meta"]["next_cursor"]
    second = await http.get("/assets", params={"cursor": cursor})
    assert [a["asset_id"] for a in second.json()["assets"]] == [ids[0]]
    assert second.json()["meta"]["next_cursor"] is None
    found = await http.get("/assets", params={"query": "R"})
    assert {a["name"] for a in found.json()["assets"]} == {"red.png", "rust.png"}
    async with client(emulator) as other:
        assert (await other.get(f"/assets/{ids[0]}")).status_code == 404
        assert (await other.get("/assets")).json()["assets"] == []
        assert (await other.get("/assets", params={"workspace_id": workspace_id})).status_code == 403
    assert (await http.get("/assets/nope")).status_code == 400


async def test_asset_bytes_gives_the_generation_side_an_uploads_bytes_by_its_url(
    emulator: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    content = png((64, 48))
    asset = await upload(http, await workspace(http), content)
    assert asset_bytes(emulator.state, asset["url"]) == content
    assert asset_bytes(emulator.state, asset["url"].replace("127.0.0.1", "localhost")) == content
    assert asset_bytes(emulator.state, asset["url"] + "x") is None
    assert asset_bytes(emulator.state, "https://media.flora.ai/output.png") is None


async def test_an_uploaded_asset_is_the_reference_of_an_image_to_image_run(http: httpx2.AsyncClient) -> None:
    workspace_id, project_id = await project(http)
    asset = await upload(http, workspace_id, png((256, 256), (20, 120, 220)))
    models = (await http.get("/models", params={"type": "image"})).json()["models"]
    i2i = next(m["model_id"] for m in models if m["model_id"].startswith("i2i-"))
    body = {
        "type": "image",
        "prompt": "the same, as a watercolour",
        "model": i2i,
        "params": {"image_url": asset["url"]},
        "workspace_id": workspace_id,
        "project_id": project_id,
    }
    started = await http.post("/generate", json=body)
    assert started.status_code == 201, started.text
    run = await wait(http, started.json()["run_id"])
    assert run["status"] == "completed", run
