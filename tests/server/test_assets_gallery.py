"""Media from any host FLORA serves: in real Chromium, an output whose origin the gallery's CSP does not
name (new uploads live on storage FLORA does not name) shows the preview the server sent with it, or a
link, never a broken frame. Uses the host page and fixtures of tests/ui/test_gallery_browser.py."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import Browser

from tests.ui.test_gallery_browser import WAIT_MS, browser, chromium, gallery_for, hosted

pytestmark = pytest.mark.anyio
__all__ = ["browser", "chromium"]  # fixtures, used by name

UNNAMED_HOST = "https://storage.googleapis.com/flora-uploads"  # not among the gallery's media origins


def preview_block() -> dict[str, Any]:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (20, 160, 90)).save(out, format="JPEG")
    return {"type": "image", "data": base64.b64encode(out.getvalue()).decode(), "mimeType": "image/jpeg"}


def link_block(run_id: str, url: str) -> dict[str, Any]:
    description = f"imageUrl output of {run_id}"
    return {
        "type": "resource_link",
        "name": f"{run_id}/output_1",
        "uri": url,
        "mimeType": "image/png",
        "description": description,
    }


async def test_an_output_the_csp_blocks_shows_the_servers_preview_or_a_link(browser: Browser) -> None:
    shown_url, linked_url = f"{UNNAMED_HOST}/a.png", f"{UNNAMED_HOST}/b.png"
    runs = [
        {
            "run_id": run_id,
            "status": "completed",
            "progress": 100,
            "outputs": [{"output_id": "output_1", "type": "imageUrl", "url": url}],
        }
        for run_id, url in (("run_a", shown_url), ("run_b", linked_url))
    ]
    content = [
        {"type": "text", "text": "done"},
        link_block("run_a", shown_url),
        preview_block(),
        link_block("run_b", linked_url),
    ]
    result = {"content": content, "structuredContent": {"runs": runs}}
    gallery = await gallery_for(["https://media.flora.ai"])
    async with hosted(browser, gallery, {"prompt": "a mug"}, result) as shown:
        await shown.view.wait_for_selector(
            "[data-run-id='run_a'] [data-fallback='preview'] img", timeout=WAIT_MS
        )
        await shown.view.wait_for_function(
            "() => [...document.images].some((i) => i.src.startsWith('data:') && i.naturalWidth === 48)",
            timeout=WAIT_MS,
        )
        href = await shown.view.get_attribute("[data-run-id='run_a'] [data-fallback='preview']", "href")
        assert href == shown_url  # the preview still opens the full file
        link = await shown.view.wait_for_selector(
            "[data-run-id='run_b'] [data-fallback='link'] a", timeout=WAIT_MS
        )
        assert link is not None and await link.get_attribute("href") == linked_url
