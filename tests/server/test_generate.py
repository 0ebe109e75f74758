"""`generate`: the seed task in one call, defaults filled in, refusals before any credit is spent."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import ImageContent, ResourceLink
from PIL import Image

from flora_mcp import rendering
from flora_mcp.client import Run
from flora_mcp.sandbox import RunningSandbox, parse_faults
from flora_mcp.sandbox._catalogue import DEFAULT_MODELS, MODELS
from tests.conftest import call_ok, error_text

pytestmark = pytest.mark.anyio

SEED_PROMPT = "a cinematic product photo of a ceramic mug on a sunlit table"


async def test_the_seed_task_is_one_call_with_three_4x3_images_inline(mcp: Client) -> None:
    updates: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(progress)

    result = await mcp.call_tool(
        "generate",
        {"prompt": SEED_PROMPT, "count": 3, "params": {"aspect_ratio": "4:3"}},
        progress_callback=on_progress,
    )
    assert not result.is_error, error_text(result)
    data = result.structured_content
    assert data is not None
    assert data["prompt"] == SEED_PROMPT and data["params"] == {"aspect_ratio": "4:3"}
    assert data["workspace_id"].startswith("ws_") and data["project_id"].startswith("prj_")
    runs = data["runs"]
    assert len(runs) == 3 and len({r["run_id"] for r in runs}) == 3
    assert all(r["status"] == "completed" and r["outputs"][0]["type"] == "imageUrl" for r in runs)

    images = [b for b in result.content if isinstance(b, ImageContent)]
    links = [b for b in result.content if isinstance(b, ResourceLink)]
    assert len(images) == 3 and len(links) == 3
    for image in images:
        with Image.open(io.BytesIO(base64.b64decode(image.data))) as shown:
            assert abs(shown.width / shown.height - 4 / 3) < 0.01
    size = len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))
    assert size < 1_000_000
    assert updates and updates[-1] == 100

    projects = await call_ok(mcp, "list_projects", {"workspace_id": data["workspace_id"]})
    assert [p["name"] for p in projects["projects"]] == ["Quick generations"]


async def test_two_calls_reuse_the_default_project(mcp: Client) -> None:
    first = await call_ok(mcp, "generate", {"prompt": "a mug", "type": "text"})
    second = await call_ok(mcp, "generate", {"prompt": "a cup", "type": "text"})
    assert first["project_id"] == second["project_id"]
    projects = await call_ok(mcp, "list_projects", {"workspace_id": first["workspace_id"]})
    assert len(projects["projects"]) == 1


async def test_a_given_project_is_used_and_its_workspace_found(mcp: Client) -> None:
    workspace_id = (await call_ok(mcp, "list_workspaces"))["workspaces"][0]["workspace_id"]
    project = await call_ok(mcp, "create_project", {"workspace_id": workspace_id, "name": "Mugs"})
    result = await call_ok(
        mcp, "generate", {"prompt": "a mug", "project_id": project["project_id"], "model": "t2i-imagen-4"}
    )
    assert (result["workspace_id"], result["project_id"]) == (workspace_id, project["project_id"])
    assert result["model"] == "t2i-imagen-4"


async def test_with_only_a_prompt_the_workspace_default_runs_not_the_first_listed(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    result = await call_ok(mcp, "generate", {"prompt": "a mug"})
    run = sandbox.state.runs[result["runs"][0]["run_id"]]
    assert run.model_id == DEFAULT_MODELS["image"]  # what FLORA runs when `model` is left out
    first = (await call_ok(mcp, "list_models", {"type": "image"}))["models"][0]["model_id"]
    assert run.model_id != first
    assert result["model"] == run.model_id  # named from FLORA's start answer


async def test_with_params_and_no_model_the_cheapest_text_to_image_model_taking_them_runs_and_is_named(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    result = await call_ok(mcp, "generate", {"prompt": "a mug", "params": {"aspect_ratio": "4:3"}})
    run = sandbox.state.runs[result["runs"][0]["run_id"]]
    assert run.model_id == result["model"] and run.model_id.startswith("t2i-")
    assert any(run.model_id in note and "cheapest text-to-image" in note for note in result["notes"])
    takers = [
        m
        for m in MODELS
        if m.model_id.startswith("t2i-")
        and (p := m.param("aspect_ratio"))
        and "4:3" in dict(p.options).values()
    ]
    assert len(takers) > 1 and run.model.estimated_credits == min(m.estimated_credits for m in takers)


@pytest.mark.parametrize(
    ("arguments", "fix"),
    [
        ({"count": 9}, "8"),
        ({"count": 0}, "1"),
        ({"type": "t2i"}, "image, video, audio, text"),
        ({"params": {"aspect_ratio": "5:1"}}, "aspect_ratio"),
        ({"params": {"colour": "blue"}}, "colour"),
        ({"params": {"num_outputs": 3}}, "one output per run"),
        ({"params": {"image_url": "https://example.com/mug.png"}}, "upload_asset"),
        ({"model": "dall-e"}, DEFAULT_MODELS["image"]),
        ({"prompt": "  "}, "describe what to generate"),
        ({"project_id": "project-1"}, "prj_"),
        ({"wait_seconds": 120}, "50"),
    ],
)
async def test_bad_requests_are_refused_with_the_fix_and_start_nothing(
    mcp: Client, sandbox: RunningSandbox, arguments: dict[str, Any], fix: str
) -> None:
    before = sandbox.state.runs_started()
    result = await mcp.call_tool("generate", {"prompt": "a mug", **arguments})
    assert result.is_error
    assert fix in error_text(result)
    assert sandbox.state.runs_started() == before


async def test_a_failed_run_is_reported_with_its_reason(mcp: Client) -> None:
    result = await mcp.call_tool("generate", {"prompt": "a mug [sandbox:fail]", "count": 2})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    assert [r["status"] for r in result.structured_content["runs"]] == ["failed", "failed"]
    assert "failed" in error_text(result)


async def test_runs_still_going_when_the_wait_ends_are_returned_with_how_to_follow_them(
    mcp: Client,
) -> None:
    result = await mcp.call_tool(
        "generate", {"prompt": "waves", "type": "video", "count": 2, "wait_seconds": 0}
    )
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    runs = result.structured_content["runs"]
    assert all(r["status"] in ("pending", "running") for r in runs)
    text = error_text(result)
    assert "get_generation_status" in text
    assert all(r["run_id"] in text for r in runs)


def _run(run_id: str, status: str, **extra: Any) -> Run:
    return Run.model_validate({"run_id": run_id, "status": status, "progress": 0, "created_at": 1, **extra})


def test_summary_of_several_runs_names_outputs_failures_and_what_to_follow() -> None:
    runs = [
        _run(
            "run_a", "completed", outputs=[{"output_id": "o", "type": "imageUrl", "url": "https://x/a.png"}]
        ),
        _run("run_b", "failed", error_message="provider down"),
        _run("run_c", "running"),
    ]
    text = rendering.generation_summary(runs, ["1 of 4 runs did not start: no credits"])
    assert text.startswith("1 of 4 runs did not start")
    assert "https://x/a.png" in text and "provider down" in text
    assert "get_generation_status with wait_seconds for run_c." in text


def test_a_small_inline_budget_shrinks_the_picture_until_it_fits() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((1600, 1200), 120).convert("RGB").save(buffer, format="PNG")
    image = rendering.inline_image(buffer.getvalue(), max_side=1024, budget=40_000)
    data = base64.b64decode(image.data)
    assert len(data) <= 40_000
    with Image.open(io.BytesIO(data)) as shown:
        assert max(shown.size) < 1024 and abs(shown.width / shown.height - 4 / 3) < 0.01


async def test_runs_are_started_two_at_a_time_as_flora_advises(mcp: Client, sandbox: RunningSandbox) -> None:
    sandbox.state.faults.add(*parse_faults("POST /generate latency=0.5 times=4"))
    began = time.monotonic()
    result = await call_ok(mcp, "generate", {"prompt": "four mugs", "count": 4, "wait_seconds": 0})
    assert len(result["runs"]) == 4
    assert time.monotonic() - began >= 1.0  # two rounds of two half-second starts, not one of four
