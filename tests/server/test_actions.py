"""Actions through MCP: run on earlier outputs, doing real image work; inputs and params checked first."""

from __future__ import annotations

import io

import httpx2
import pytest
from mcp.client import Client
from mcp.types import ImageContent
from PIL import Image

from flora_mcp.sandbox import RunningSandbox
from tests.conftest import call_ok, error_text
from tests.server.test_techniques import earlier_image, jobs_of

pytestmark = pytest.mark.anyio


async def image_at(url: str) -> Image.Image:
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    response.raise_for_status()
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


async def test_an_action_changes_an_earlier_outputs_aspect_ratio(mcp: Client) -> None:
    made = await earlier_image(mcp)
    mug = made["runs"][0]["outputs"][0]["url"]
    before = await image_at(mug)
    assert before.width / before.height == pytest.approx(4 / 3, abs=0.01)

    result = await mcp.call_tool(
        "run_technique",
        {
            "technique_id": "change-image-ar",
            "inputs": {"source": mug},
            "params": {"aspect_ratio": "16:9", "fit": "crop"},
        },
    )
    assert not result.is_error, error_text(result)
    data = result.structured_content
    assert data is not None
    assert data["action_id"] == "change-image-ar" and data["quoted_cost_usd"] == 0
    assert (data["workspace_id"], data["project_id"]) == (made["workspace_id"], made["project_id"])
    [run] = data["runs"]
    assert run["status"] == "completed"
    [output] = run["outputs"]
    wide = await image_at(output["url"])
    assert wide.width / wide.height == pytest.approx(16 / 9, abs=0.01)
    assert [b for b in result.content if isinstance(b, ImageContent)]


async def test_two_outputs_are_put_side_by_side(mcp: Client) -> None:
    first, second = await earlier_image(mcp), await earlier_image(mcp)
    urls = [run["outputs"][0]["url"] for run in (*first["runs"], *second["runs"])]
    data = await call_ok(
        mcp,
        "run_technique",
        {"technique_id": "side-by-side-composite", "inputs": {"images": urls}, "params": {"gap": 10}},
    )
    composite = await image_at(data["runs"][0]["outputs"][0]["url"])
    one = await image_at(urls[0])
    assert composite.size == (2 * one.width + 10, one.height)


@pytest.mark.parametrize(
    ("inputs", "params", "named"),
    [
        ({"source": "{mug}"}, {"aspect_ratio": "5:4"}, ["params.aspect_ratio", "16:9", "1:1"]),
        ({"source": "{mug}"}, {"ratio": "16:9"}, ["'ratio'", "FLORA would ignore", "aspect_ratio:"]),
        ({"image": "{mug}"}, {}, ["'image'", "source (image)"]),
        ({"source": ["{mug}", "{mug}"]}, {}, ["inputs.source takes one image"]),
        ({"source": "https://example.com/mug.png"}, {}, ["will fetch", "upload_asset"]),
    ],
)
async def test_bad_action_inputs_or_params_are_refused_with_nothing_started(
    mcp: Client,
    sandbox: RunningSandbox,
    inputs: dict[str, str | list[str]],
    params: dict[str, str],
    named: list[str],
) -> None:
    made = await earlier_image(mcp)
    mug = made["runs"][0]["outputs"][0]["url"]
    filled = {
        k: [u.format(mug=mug) for u in v] if isinstance(v, list) else v.format(mug=mug)
        for k, v in inputs.items()
    }
    before = len(sandbox.state.requests)
    jobs = jobs_of(sandbox, made["workspace_id"])

    result = await mcp.call_tool(
        "run_technique", {"technique_id": "change-image-ar", "inputs": filled, "params": params}
    )

    assert result.is_error
    for words in named:
        assert words in error_text(result)
    assert jobs_of(sandbox, made["workspace_id"]) == jobs
    assert not [r for r in sandbox.state.requests[before:] if r.method == "POST"]


async def test_a_text_action_takes_words_as_they_are(mcp: Client) -> None:
    data = await call_ok(
        mcp,
        "run_technique",
        {
            "technique_id": "split-text",
            "inputs": {"text": "first part\n\nsecond part"},
            "params": {"split_mode": "paragraph"},
        },
    )
    [run] = data["runs"]
    assert run["status"] == "completed" and len(run["outputs"]) == 2
