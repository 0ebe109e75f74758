"""Shaping results is pure: runs in, MCP content out, inline previews within one budget per result."""

from __future__ import annotations

import base64
import io
from functools import cache
from typing import Any

import pytest
from mcp.types import ContentBlock, ImageContent, ResourceLink, TextContent
from PIL import Image

from flora_mcp import rendering
from flora_mcp.client import Run


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def _photo() -> bytes:
    """A 1536x1152 output, FLORA's common 4:3 size; noise is the worst case for JPEG size."""
    return _png(1536, 1152)


def _run(run_id: str, outputs: list[dict[str, str]], **fields: Any) -> Run:
    return Run.model_validate(
        {
            "run_id": run_id,
            "status": "completed",
            "progress": 100,
            "created_at": 1,
            "outputs": outputs,
            **fields,
        }
    )


def _image_run(run_id: str, count: int) -> Run:
    outputs = [
        {"output_id": f"o{i}", "type": "imageUrl", "url": f"https://media.flora.ai/{run_id}/{i}.png"}
        for i in range(count)
    ]
    return _run(run_id, outputs)


def _size(image: ImageContent) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(image.data))) as shown:
        return shown.size


def _images(blocks: list[ContentBlock]) -> list[ImageContent]:
    return [b for b in blocks if isinstance(b, ImageContent)]


def test_inline_image_is_downscaled_and_within_budget() -> None:
    image = rendering.inline_image(_png(2048, 1536), max_side=1024, budget=200_000)
    assert len(base64.b64decode(image.data)) <= 200_000
    assert _size(image) == (1024, 768)


def test_inline_image_gives_up_rather_than_break_its_budget() -> None:
    with pytest.raises(ValueError, match="no preview fits"):
        rendering.inline_image(_png(256, 256), max_side=256, budget=100)


@pytest.mark.parametrize(("count", "side"), [(1, 1024), (4, 1024), (8, 750), (12, 612), (20, 474), (50, 474)])
def test_previews_shrink_as_their_number_grows(count: int, side: int) -> None:
    planned_side, per_image = rendering.preview_plan(count, max_side=1024)
    shown = min(count, rendering.MAX_PREVIEWS)
    assert planned_side == side
    assert shown * planned_side**2 / 750 <= rendering.IMAGE_TOKEN_BUDGET
    assert shown * (per_image // 3 * 4) <= rendering.INLINE_BASE64_BUDGET


@pytest.mark.parametrize("count", [1, 4, 8, 12])
def test_a_result_of_real_images_stays_within_the_token_and_byte_budget(count: int) -> None:
    runs = [_image_run(f"run_{i}", 1) for i in range(count)]
    urls = rendering.preview_urls(runs)
    side, per_image = rendering.preview_plan(len(urls), max_side=1024)
    # Every output is the same picture, so one rendering stands for all of them.
    preview = rendering.inline_image(_photo(), side, per_image)
    blocks = rendering.generation_content(runs, dict.fromkeys(urls, preview))
    images = _images(blocks)
    assert len(images) == count  # the budget was planned, so the guard drops none
    tokens = sum(w * h / 750 for w, h in map(_size, images))
    assert tokens <= rendering.IMAGE_TOKEN_BUDGET
    assert sum(len(i.data) for i in images) <= rendering.INLINE_BASE64_BUDGET
    links = [b for b in blocks if isinstance(b, ResourceLink)]
    assert [str(link.uri) for link in links] == urls  # full-size URLs stay complete
    if count == 1:
        assert _size(images[0]) == (1024, 768)


def test_previews_made_for_fewer_images_are_dropped_past_the_budget_but_stay_linked() -> None:
    big = rendering.inline_image(_photo(), 1024, rendering.INLINE_BUDGET_BYTES)  # a plan for one image
    run = _image_run("run_many", 6)
    blocks = rendering.run_content(run, {o.url: big for o in run.outputs})
    images = _images(blocks)
    assert 1 <= len(images) < 6
    assert sum(w * h / 750 for w, h in map(_size, images)) <= rendering.IMAGE_TOKEN_BUDGET
    assert len([b for b in blocks if isinstance(b, ResourceLink)]) == 6


def test_only_the_first_twenty_distinct_images_are_previewed() -> None:
    runs = [_image_run("run_a", 15), _image_run("run_b", 15), _image_run("run_a", 15)]
    urls = rendering.preview_urls(runs)
    assert len(urls) == rendering.MAX_PREVIEWS and len(set(urls)) == len(urls)
    assert urls[0] == "https://media.flora.ai/run_a/0.png"


def test_completed_run_gives_summary_link_and_image() -> None:
    run = _run("run_1", [{"output_id": "o1", "type": "imageUrl", "url": "https://media.flora.ai/a.png"}])
    image = rendering.inline_image(_png(64, 64), 64)
    blocks = rendering.run_content(run, {"https://media.flora.ai/a.png": image})
    assert isinstance(blocks[0], TextContent) and "https://media.flora.ai/a.png" in blocks[0].text
    assert isinstance(blocks[1], ResourceLink) and blocks[1].mime_type == "image/png"
    assert blocks[2] is image


def test_the_words_of_a_text_output_are_text_content() -> None:
    url = "https://media.flora.ai/run_t/output.txt"
    run = _run("run_t", [{"output_id": "o1", "type": "text", "url": url}])
    assert rendering.text_urls([run]) == [url]
    blocks = rendering.run_content(run, {}, texts={url: "Sip slow.\nStay warm."})
    words = [b.text for b in blocks[1:] if isinstance(b, TextContent)]
    assert words == ["Text output o1 of run_t:\n\nSip slow.\nStay warm."]
    assert any(isinstance(b, ResourceLink) and str(b.uri) == url for b in blocks)


def test_a_text_output_given_inline_is_shown_once_as_text() -> None:
    run = _run("run_i", [{"output_id": "o1", "type": "text", "url": "Sip slow. Stay warm."}])
    blocks = rendering.generation_content([run], {})
    assert isinstance(blocks[0], TextContent) and "Sip slow" not in blocks[0].text
    assert [b.text for b in blocks[1:] if isinstance(b, TextContent)] == [
        "Text output o1 of run_i:\n\nSip slow. Stay warm."
    ]
    assert rendering.text_urls([run]) == []


def test_params_and_seed_used_are_shown_when_known() -> None:
    run = _run("run_p", [{"output_id": "o1", "type": "imageUrl", "url": "https://media.flora.ai/p.png"}])
    used = {"aspect_ratio": "16:9", "seed": 42}
    assert "Params used: aspect_ratio=16:9, seed=42" in rendering.run_summary(run, used)
    summary = rendering.generation_summary([run], params_used={"run_p": used})
    assert "params used: aspect_ratio=16:9, seed=42" in summary
    assert "params used" not in rendering.generation_summary([run]).lower()


def test_pending_and_failed_runs_say_what_to_do() -> None:
    pending = Run.model_validate({"run_id": "run_2", "status": "running", "progress": 40, "created_at": 1})
    assert "40%" in rendering.run_summary(pending) and "again" in rendering.run_summary(pending)
    failed = Run.model_validate(
        {
            "run_id": "run_3",
            "status": "failed",
            "progress": 0,
            "created_at": 1,
            "error_message": "provider down",
        }
    )
    assert "provider down" in rendering.run_summary(failed)
