"""Shaping results is pure: runs in, MCP content out."""

from __future__ import annotations

import base64
import io

from mcp.types import ImageContent, ResourceLink, TextContent
from PIL import Image

from flora_mcp import rendering
from flora_mcp.client import Run


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_inline_image_is_downscaled_and_within_budget() -> None:
    image = rendering.inline_image(_png(2048, 1536), max_side=1024, budget=200_000)
    data = base64.b64decode(image.data)
    assert len(data) <= 200_000
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.size == (1024, 768)


def test_completed_run_gives_summary_link_and_image() -> None:
    run = Run.model_validate(
        {
            "run_id": "run_1",
            "status": "completed",
            "progress": 100,
            "created_at": 1,
            "outputs": [{"output_id": "o1", "type": "imageUrl", "url": "https://media.flora.ai/a.png"}],
        }
    )
    image = ImageContent(type="image", data="AAAA", mimeType="image/jpeg")
    blocks = rendering.run_content(run, {"https://media.flora.ai/a.png": image})
    assert isinstance(blocks[0], TextContent) and "https://media.flora.ai/a.png" in blocks[0].text
    assert isinstance(blocks[1], ResourceLink) and blocks[1].mime_type == "image/png"
    assert blocks[2] is image


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
