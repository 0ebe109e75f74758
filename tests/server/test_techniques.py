"""Techniques through MCP: found, read, run on an earlier output and shown inline; bad inputs refused
before anything starts."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import ImageContent, TextContent
from PIL import Image
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, IdempotencyMode, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from flora_mcp.ui import tool_meta
from tests.conftest import TEST_SPEED, call_ok, error_text

pytestmark = pytest.mark.anyio


async def earlier_image(mcp: Client) -> dict[str, Any]:
    """One completed 4:3 image run made with `generate`: its result."""
    result = await call_ok(mcp, "generate", {"prompt": "a ceramic mug", "params": {"aspect_ratio": "4:3"}})
    assert result["runs"][0]["status"] == "completed"
    return result


def jobs_of(sandbox: RunningSandbox, workspace_id: str) -> int:
    return sum(1 for job in list(sandbox.state.jobs.values()) if job.workspace_id == workspace_id)


async def test_a_technique_is_found_read_and_run_on_an_earlier_output_with_previews_inline(
    mcp: Client,
) -> None:
    made = await earlier_image(mcp)
    mug = made["runs"][0]["outputs"][0]["url"]

    found = await call_ok(mcp, "list_techniques", {"query": "product"})
    [shot] = [t for t in found["techniques"] if t["name"] == "Product Shot"]
    assert shot["run_cost_usd"] == 0.12 and shot["description"]

    [definition] = (await call_ok(mcp, "list_techniques", {"technique_id": shot["technique_id"]}))[
        "techniques"
    ]
    assert {(i["id"], i["type"]) for i in definition["inputs"]} == {
        ("product", "imageUrl"),
        ("setting", "text"),
    }
    assert [o["specified_aspect_ratio"] for o in definition["outputs"]] == ["1:1", "16:9", "9:16"]

    updates: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(progress)

    result = await mcp.call_tool(
        "run_technique",
        {"technique_id": shot["technique_id"], "inputs": {"product": mug, "setting": "marble counter"}},
        progress_callback=on_progress,
    )
    assert not result.is_error, error_text(result)
    data = result.structured_content
    assert data is not None
    assert data["technique_id"] == shot["technique_id"] and data["quoted_cost_usd"] == 0.12
    assert data["workspace_id"] == made["workspace_id"]
    [run] = data["runs"]
    assert run["run_id"].startswith("run_") and run["status"] == "completed"
    assert [o["type"] for o in run["outputs"]] == ["imageUrl"] * 3
    previews = [b for b in result.content if isinstance(b, ImageContent)]
    ratios = []
    for preview in previews:
        with Image.open(io.BytesIO(base64.b64decode(preview.data))) as shown:
            ratios.append(round(shown.width / shown.height, 2))
    assert ratios == [1.0, 1.78, 0.56]
    assert updates and updates[-1] == 100


async def test_run_technique_results_are_shown_in_the_gallery(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert tools["run_technique"].meta == tool_meta()
    assert tools["run_technique"].annotations is not None
    assert tools["run_technique"].annotations.read_only_hint is False


async def test_a_text_technique_shows_its_words(mcp: Client) -> None:
    result = await mcp.call_tool(
        "run_technique",
        {"technique_id": "tech_tagline-writer", "inputs": {"brief": "a travel mug for cyclists"}},
    )
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    assert result.structured_content["runs"][0]["status"] == "completed"
    assert "cyclists" in " ".join(b.text for b in result.content if isinstance(b, TextContent))


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"photo": "{mug}"}, ["'photo'", "product (an image URL)", "setting (a text, optional)"]),
        ({"setting": "marble"}, ["needs inputs product"]),
        ({"product": "https://example.com/mug.png"}, ["will fetch", "upload_asset"]),
        ({"product": "{video}"}, ["looks like video", "an image URL"]),
        ({"product": ""}, ["inputs.product must be an image URL"]),
    ],
)
async def test_a_bad_technique_input_is_refused_with_nothing_started(
    mcp: Client, sandbox: RunningSandbox, inputs: dict[str, str], named: list[str]
) -> None:
    made = await earlier_image(mcp)
    mug = made["runs"][0]["outputs"][0]["url"]
    video = mug.rsplit(".", 1)[0] + ".mp4"
    filled = {k: v.format(mug=mug, video=video) for k, v in inputs.items()}
    before = len(sandbox.state.requests)
    jobs = jobs_of(sandbox, made["workspace_id"])

    result = await mcp.call_tool("run_technique", {"technique_id": "tech_product-shot", "inputs": filled})

    assert result.is_error
    for words in named:
        assert words in error_text(result)
    assert jobs_of(sandbox, made["workspace_id"]) == jobs
    assert not [r for r in sandbox.state.requests[before:] if r.method == "POST"]


async def test_an_unknown_technique_is_refused_pointing_to_the_list(mcp: Client) -> None:
    result = await mcp.call_tool("run_technique", {"technique_id": "tech_nope", "inputs": {}})
    assert result.is_error
    assert "list_techniques" in error_text(result)


async def test_the_list_has_the_actions_with_their_inputs_params_and_costs(mcp: Client) -> None:
    listed = await call_ok(mcp, "list_techniques", {"query": "aspect"})
    [change] = listed["actions"]
    assert change["action_id"] == "change-image-ar" and change["cost_usd"] == 0
    assert "16:9" in change["params"]["aspect_ratio"]
    assert list(change["inputs"].values()) == ["image"]
    [whole] = (await call_ok(mcp, "list_techniques", {"technique_id": "change-image-ar"}))["actions"]
    assert whole["params"][0]["key"]


@pytest.mark.parametrize("mode", ["replay", "conflict"])
async def test_a_run_whose_answer_is_lost_is_started_once(mode: IdempotencyMode, api_key: str) -> None:
    lose_first_answer = FaultRule(
        method="POST", path="/runs/technique", drop_after_processing=True, first_only_per_idempotency_key=True
    )
    with start_sandbox(speed=TEST_SPEED, idempotency=mode) as lossy:
        async with Client(
            build_server(Settings(api_key=SecretStr(api_key), base_url=lossy.base_url))
        ) as client:
            lossy.state.faults.add(lose_first_answer)
            result = await client.call_tool(
                "run_technique", {"technique_id": "tech_tagline-writer", "inputs": {"brief": "mugs"}}
            )
        [job] = lossy.state.jobs.values()
        assert any(r.dropped for r in lossy.state.requests)  # the answer really was lost
    if mode == "replay":  # FLORA's documented way: the retry gets the first answer again
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        assert result.structured_content["runs"][0]["run_id"] == job.run_id
    else:  # FLORA's measured way: 409 to the retry, and the run id is gone with the answer
        assert result.is_error and "not started twice" in error_text(result)
