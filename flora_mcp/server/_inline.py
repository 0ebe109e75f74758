"""What a result shows inline besides links: image previews within one budget, and the words of
text outputs. Fetched concurrently; an output that cannot be fetched is only linked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
from mcp.types import ImageContent

from flora_mcp import rendering
from flora_mcp.client import Run
from flora_mcp.downloads import FetchRefused, fetch_output, fetch_text
from flora_mcp.server._context import loopback_origins
from flora_mcp.server._state import RECENT_IMAGES, AppState

logger = logging.getLogger(__name__)


@dataclass
class Inline:
    images: dict[str, ImageContent] = field(default_factory=dict)  # by output URL
    texts: dict[str, str] = field(default_factory=dict)  # a text output's words, by its URL


async def inline_outputs(state: AppState, runs: Sequence[Run], *, images: bool = True) -> Inline:
    """Previews of the completed runs' images (smaller as there are more: `rendering.preview_plan`)
    and the words of their text outputs."""
    shown = Inline()
    urls, text_urls = rendering.preview_urls(runs) if images else [], rendering.text_urls(runs)
    if not urls and not text_urls:
        return shown
    origins = await loopback_origins(state)
    side, budget = rendering.preview_plan(len(urls), state.settings.inline_max_side)
    recent = state.recent_images

    async def image(url: str) -> None:
        key = (url, side, budget)
        if (cached := recent.get(key)) is not None:
            recent.move_to_end(key)
            shown.images[url] = cached
            return
        try:
            data = await fetch_output(state.http, url, loopback_origins=origins)
            preview = await anyio.to_thread.run_sync(rendering.inline_image, data, side, budget)
        except Exception as exc:  # a media host's failure must not hide the run's result
            _not_shown(url, exc)
            return
        shown.images[url] = recent[key] = preview
        if len(recent) > RECENT_IMAGES:
            recent.popitem(last=False)

    async def text(url: str) -> None:
        try:
            shown.texts[url] = await fetch_text(state.http, url, loopback_origins=origins)
        except Exception as exc:
            _not_shown(url, exc)

    async with anyio.create_task_group() as group:
        for url in urls:
            group.start_soon(image, url)
        for url in text_urls:
            group.start_soon(text, url)
    return shown


def _not_shown(url: str, exc: Exception) -> None:
    known = isinstance(exc, FetchRefused | OSError | ValueError)
    logger.info("Not inlining %s: %s", url, exc if known else type(exc).__name__)
