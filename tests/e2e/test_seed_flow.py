"""The seed task through an in-memory MCP session against the sandbox over real HTTP."""

from __future__ import annotations

import base64
import io
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.types import ImageContent, ResourceLink
from PIL import Image

from flora_mcp import downloads
from flora_mcp.server import _inline
from tests.conftest import call_ok, start_run, text_to_image_model, wait_for_run, workspace_and_project

pytestmark = pytest.mark.anyio


async def test_four_steps_give_three_completed_4x3_images_shown_inline(mcp: Client) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    models = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
    assert all(m["for"].endswith("→image") for m in models)
    model = await text_to_image_model(mcp, "4:3")

    run_ids = []
    for shot in ("close-up", "wide", "overhead"):
        started = await call_ok(
            mcp,
            "create_generation",
            {
                "type": "image",
                "prompt": f"a cinematic product photo of a ceramic mug on a sunlit table, {shot}",
                "workspace_id": workspace_id,
                "project_id": project_id,
                "model": model["model_id"],
                "params": {"aspect_ratio": model["aspect_ratio_value"]},
            },
        )
        run_ids.append(started["run_id"])
    assert len(set(run_ids)) == 3

    async with httpx2.AsyncClient() as http:
        for run_id in run_ids:
            result = await wait_for_run(mcp, run_id)
            run = result.structured_content
            assert run is not None
            assert run["status"] == "completed", run
            assert run["progress"] == 100
            [output] = run["outputs"]
            assert output["type"] == "imageUrl"

            response = await http.get(output["url"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(response.content)) as full:
                assert full.format == "PNG"
                assert full.width * 3 == full.height * 4

            links = [b for b in result.content if isinstance(b, ResourceLink)]
            assert [str(link.uri) for link in links] == [output["url"]]
            [inline] = [b for b in result.content if isinstance(b, ImageContent)]
            with Image.open(io.BytesIO(base64.b64decode(inline.data))) as shown:
                assert max(shown.size) <= 1024
                assert abs(shown.width / shown.height - 4 / 3) < 0.01


async def test_status_of_a_running_generation_reports_progress_and_no_outputs(mcp: Client) -> None:
    run_id = await start_run(mcp, "video", "waves")
    status = await call_ok(mcp, "get_generation_status", {"run_id": run_id})
    assert status["status"] in ("pending", "running", "completed")
    assert 0 <= status["progress"] <= 100


async def test_video_audio_and_text_runs_complete_with_linked_outputs_and_only_a_poster_image(
    mcp: Client,
) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    expected = {"video": "videoUrl", "audio": "audioUrl", "text": "text"}
    for type_, output_type in expected.items():
        started = await call_ok(
            mcp,
            "create_generation",
            {
                "type": type_,
                "prompt": "a sunlit kitchen",
                "workspace_id": workspace_id,
                "project_id": project_id,
            },
        )
        result = await wait_for_run(mcp, started["run_id"])
        assert result.structured_content is not None
        assert [o["type"] for o in result.structured_content["outputs"]] == [output_type]
        # A video shows its first frame (tests/server/test_media_outputs.py); audio and text no picture.
        assert bool([b for b in result.content if isinstance(b, ImageContent)]) == (type_ == "video")


async def test_failed_run_says_why(mcp: Client) -> None:
    run_id = await start_run(mcp, "image", "a mug [sandbox:fail]")
    result = await wait_for_run(mcp, run_id)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "failed"
    assert "failed" in result.content[0].text  # type: ignore[union-attr]


async def test_list_generations_finds_runs_newest_first(mcp: Client) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    run_ids = []
    for i in range(3):
        started = await call_ok(
            mcp,
            "create_generation",
            {"type": "text", "prompt": f"line {i}", "workspace_id": workspace_id, "project_id": project_id},
        )
        run_ids.append(started["run_id"])
        await anyio.sleep(0.01)  # distinct creation times, so "newest first" is observable
    listed = await call_ok(mcp, "list_generations", {"workspace_id": workspace_id, "limit": 10})
    assert [g["run_id"] for g in listed["generations"]] == list(reversed(run_ids))
    only_project = await call_ok(mcp, "list_generations", {"project_id": project_id, "limit": 2})
    assert len(only_project["generations"]) == 2
    assert only_project["next_cursor"]


async def test_projects_are_listed_filtered_and_paged(mcp: Client) -> None:
    workspace_id, _ = await workspace_and_project(mcp, "Spring campaign")
    for name in ("Autumn campaign", "Mug shots"):
        await call_ok(mcp, "create_project", {"workspace_id": workspace_id, "name": name})
    found = await call_ok(mcp, "list_projects", {"workspace_id": workspace_id, "query": "campaign"})
    assert sorted(p["name"] for p in found["projects"]) == ["Autumn campaign", "Spring campaign"]
    first = await call_ok(mcp, "list_projects", {"workspace_id": workspace_id, "limit": 2})
    assert len(first["projects"]) == 2 and first["next_cursor"]
    rest = await call_ok(
        mcp, "list_projects", {"workspace_id": workspace_id, "limit": 2, "cursor": first["next_cursor"]}
    )
    assert len(rest["projects"]) == 1 and rest["next_cursor"] is None


async def test_a_finished_runs_images_are_fetched_once_for_repeated_status_calls(
    mcp: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    real_fetch = downloads.fetch_output

    async def counting_fetch(http: httpx2.AsyncClient, url: str, **kwargs: Any) -> bytes:
        fetched.append(url)
        return await real_fetch(http, url, **kwargs)

    monkeypatch.setattr(_inline, "fetch_output", counting_fetch)
    run_id = await start_run(mcp, "image", "a mug")
    first = await wait_for_run(mcp, run_id)
    again = await mcp.call_tool("get_generation_status", {"run_id": run_id})
    assert len(fetched) == 1
    assert [b for b in again.content if isinstance(b, ImageContent)] == [
        b for b in first.content if isinstance(b, ImageContent)
    ]
