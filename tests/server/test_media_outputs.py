"""Outputs a user can see and hear in any host, through MCP against the sandbox: a video's poster
frame inline, audio with its duration and as an audio block, technique outputs by their names, a
crop that says what it cuts, and technique searches that match any word."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence

import pytest
from mcp.client import Client
from mcp.types import AudioContent, ImageContent, TextContent
from PIL import Image

from flora_mcp import rendering
from tests.conftest import call_ok, error_text, start_run, wait_for_run
from tests.server.test_techniques import earlier_image

pytestmark = pytest.mark.anyio


def _text(content: Sequence[object]) -> str:
    return "\n".join(b.text for b in content if isinstance(b, TextContent))


async def test_a_video_result_carries_its_poster_frame_inline_and_its_length(mcp: Client) -> None:
    run_id = await start_run(mcp, "video", "waves rolling onto a beach")

    result = await wait_for_run(mcp, run_id)

    assert result.structured_content is not None and result.structured_content["status"] == "completed"
    [output] = result.structured_content["outputs"]
    assert output["type"] == "videoUrl"
    [poster] = [b for b in result.content if isinstance(b, ImageContent)]
    with Image.open(io.BytesIO(base64.b64decode(poster.data))) as shown:
        assert shown.width * shown.height / 750 <= rendering.IMAGE_TOKEN_BUDGET
    assert len(poster.data) <= rendering.INLINE_BASE64_BUDGET
    assert re.search(re.escape(output["url"]) + r" \(\d+\.\d s, first frame below\)", _text(result.content))


async def test_an_audio_result_says_how_long_it_is_and_plays_inline_when_small(mcp: Client) -> None:
    run_id = await start_run(mcp, "audio", "a short jingle")

    result = await wait_for_run(mcp, run_id)

    [clip] = [b for b in result.content if isinstance(b, AudioContent)]
    assert clip.mime_type.startswith("audio/") and base64.b64decode(clip.data)[:4] == b"RIFF"
    assert re.search(r"\(\d+\.\d s, playable below\)", _text(result.content))


async def test_technique_outputs_are_named_square_landscape_and_portrait(mcp: Client) -> None:
    mug = (await earlier_image(mcp))["runs"][0]["outputs"][0]["url"]

    result = await mcp.call_tool(
        "run_technique", {"technique_id": "tech_product-shot", "inputs": {"product": mug}}
    )

    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    [run] = result.structured_content["runs"]
    assert [o["output_id"] for o in run["outputs"]] == ["square", "landscape", "portrait"]
    assert "imageUrl landscape" in _text(result.content)


async def test_a_crop_to_another_ratio_says_how_much_it_cuts_and_offers_padding(mcp: Client) -> None:
    mug = (await earlier_image(mcp))["runs"][0]["outputs"][0]["url"]  # 4:3

    cropped = await call_ok(
        mcp,
        "run_technique",
        {"technique_id": "change-image-ar", "inputs": {"source": mug}, "params": {"aspect_ratio": "16:9"}},
    )
    padded = await call_ok(
        mcp,
        "run_technique",
        {
            "technique_id": "change-image-ar",
            "inputs": {"source": mug},
            "params": {"aspect_ratio": "16:9", "fit": "pad"},
        },
    )

    [note] = cropped["notes"]
    assert "cuts 25% of the picture" in note and 'fit="pad"' in note
    assert "notes" not in padded


async def test_technique_searches_match_any_word_and_say_how_many_exist_when_none_does(mcp: Client) -> None:
    found = await call_ok(mcp, "list_techniques", {"query": "studio shots for my mug"})
    assert [t["technique_id"] for t in found["techniques"]][:1] == ["tech_product-shot"]
    actions = await call_ok(mcp, "list_techniques", {"query": "crop rotate"})
    assert {"change-image-ar", "rotate-image"} <= {a["action_id"] for a in actions["actions"]}

    nothing = await call_ok(mcp, "list_techniques", {"query": "zzyzx qwerty"})

    assert nothing["techniques"] == [] and nothing["actions"] == []
    everything = await call_ok(mcp, "list_techniques")
    counts = f"{len(everything['techniques'])} techniques and {len(everything['actions'])} actions exist"
    assert counts in nothing["note"]
