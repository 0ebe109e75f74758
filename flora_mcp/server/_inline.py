"""Fetching image outputs and shrinking them into inline image blocks, all within one size budget."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from mcp.types import ImageContent

from flora_mcp import rendering
from flora_mcp.client import Run
from flora_mcp.downloads import FetchRefused, fetch_output
from flora_mcp.server._state import AppState

logger = logging.getLogger(__name__)

# Agents ask for a finished run more than once (status after generate, a second look): its
# outputs do not change, so the last few renderings are kept rather than fetched and re-encoded.
RECENT_IMAGES = 32  # at most ~600 KB each
_RECENT: OrderedDict[tuple[str, int, int], ImageContent] = OrderedDict()


async def inline_images(state: AppState, runs: Sequence[Run]) -> dict[str, ImageContent]:
    """Each image output of the completed runs, by URL; the budget is split across all of them,
    so one result stays under the size hosts handle. One that cannot be fetched is only linked."""
    outputs = [o for run in runs if run.status == "completed" for o in run.outputs]
    urls = [o.url for o in outputs if o.type == "imageUrl"]
    if not urls:
        return {}
    budget = rendering.inline_budget_per_image(outputs)
    origin = await state.loopback_origin()

    async def one(url: str) -> tuple[str, ImageContent | None]:
        key = (url, state.settings.inline_max_side, budget)
        if (cached := _RECENT.get(key)) is not None:
            _RECENT.move_to_end(key)
            return url, cached
        try:
            data = await fetch_output(state.http, url, loopback_origin=origin)
            image = await asyncio.to_thread(
                rendering.inline_image, data, state.settings.inline_max_side, budget
            )
        except (FetchRefused, OSError, ValueError) as exc:
            logger.info("Not inlining %s: %s", url, exc)
            return url, None
        except Exception as exc:  # a media host's failure must not hide the run's result
            logger.info("Not inlining %s: %s", url, type(exc).__name__)
            return url, None
        _RECENT[key] = image
        if len(_RECENT) > RECENT_IMAGES:
            _RECENT.popitem(last=False)
        return url, image

    pairs = await asyncio.gather(*(one(url) for url in urls))
    return {url: image for url, image in pairs if image is not None}
