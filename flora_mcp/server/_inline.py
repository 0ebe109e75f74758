"""What a result shows inline besides links: image previews and video poster frames within one
budget, audio clips with their duration, and the words of text outputs. Fetched concurrently; an
output that cannot be fetched is only linked."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from mcp.types import ImageContent

from flora_mcp import rendering
from flora_mcp.client import Action, Run
from flora_mcp.downloads import FetchRefused, fetch_output, fetch_text
from flora_mcp.server._context import loopback_origins
from flora_mcp.server._state import RECENT_IMAGES, AppState

T = TypeVar("T")

# Decoding and re-encoding images is CPU-bound: more threads than cores only decode more images at
# once, ~20 MB of buffers each, which each thread's malloc arena then keeps (anyio's default pool is
# 40 threads: resident memory under load was 2.5x what 2 threads give).
RENDER_THREADS = 2
_RENDER_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("flora_render_limiter")  # one per event loop


async def in_render_thread(func: Callable[..., T], *args: object) -> T:
    """Pillow and media work off the event loop, at most `RENDER_THREADS` at a time."""
    try:
        limiter = _RENDER_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(RENDER_THREADS)
        _RENDER_LIMITER.set(limiter)
    return await anyio.to_thread.run_sync(func, *args, limiter=limiter)


logger = logging.getLogger(__name__)

# A video's poster is cached with the image previews; its length here, by URL (a float each).
_DURATIONS: OrderedDict[str, float | None] = OrderedDict()
_VISUAL: Final = ("image/", "video/")  # a sandbox clip is a GIF, FLORA's an MP4


@dataclass
class Inline:
    # By output URL: image previews, and what a video (poster, length) or audio (clip, length) gave.
    images: dict[str, rendering.Preview] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # a text output's words, by its URL


async def inline_outputs(state: AppState, runs: Sequence[Run], *, images: bool = True) -> Inline:
    """Previews of the completed runs' images and videos (smaller as there are more:
    `rendering.preview_plan`), their audio, and the words of their text outputs."""
    shown = Inline()
    urls = rendering.preview_urls(runs) if images else []
    audio_urls = rendering.audio_urls(runs) if images else []
    text_urls = rendering.text_urls(runs)
    if not urls and not text_urls and not audio_urls:
        return shown
    videos = {o.url for r in runs for o in r.outputs if o.type == "videoUrl"}
    origins = await loopback_origins(state)
    # Small audio clips ride in the same base64 budget: the pictures leave them room.
    reserved = rendering.audio_reserve(len(audio_urls))
    side, budget = rendering.preview_plan(len(urls), state.settings.inline_max_side, reserved)
    recent = state.recent_images

    async def image(url: str) -> None:
        key = (url, side, budget)
        if (cached := recent.get(key)) is not None:
            recent.move_to_end(key)
            shown.images[url] = _as_shown(url, cached, url in videos)
            return
        try:
            data = await fetch_output(state.http, url, loopback_origins=origins, expect=_VISUAL)
            preview = await in_render_thread(rendering.inline_image, data, side, budget)
            if url in videos:
                _remember(url, await in_render_thread(rendering.duration, data))
        except Exception as exc:  # a media host's failure must not hide the run's result
            _not_shown(url, exc)
            if url in videos and url in _DURATIONS:
                shown.images[url] = rendering.Media(None, _DURATIONS[url])
            return
        recent[key] = preview
        shown.images[url] = _as_shown(url, preview, url in videos)
        if len(recent) > RECENT_IMAGES:
            recent.popitem(last=False)

    async def audio(url: str) -> None:
        try:
            data = await fetch_output(state.http, url, loopback_origins=origins, expect="audio/")
            length = await in_render_thread(rendering.duration, data)
        except Exception as exc:
            _not_shown(url, exc)
            return
        mime = next(rendering.output_mime(o) for r in runs for o in r.outputs if o.url == url)
        clip = rendering.audio_block(data, mime if mime.startswith("audio/") else "audio/mpeg")
        shown.images[url] = rendering.Media(clip, length)

    async def text(url: str) -> None:
        try:
            shown.texts[url] = await fetch_text(state.http, url, loopback_origins=origins)
        except Exception as exc:
            _not_shown(url, exc)

    async with anyio.create_task_group() as group:
        for url in urls:
            group.start_soon(image, url)
        for url in audio_urls:
            group.start_soon(audio, url)
        for url in text_urls:
            group.start_soon(text, url)
    return shown


def _as_shown(url: str, preview: ImageContent, is_video: bool) -> rendering.Preview:
    return rendering.Media(preview, _DURATIONS.get(url)) if is_video else preview


def _remember(url: str, length: float | None) -> None:
    _DURATIONS[url] = length
    _DURATIONS.move_to_end(url)
    if len(_DURATIONS) > RECENT_IMAGES * 4:
        _DURATIONS.popitem(last=False)


def _not_shown(url: str, exc: Exception) -> None:
    known = isinstance(exc, FetchRefused | OSError | ValueError)
    logger.info("Not inlining %s: %s", url, exc if known else type(exc).__name__)


async def crop_note(
    state: AppState, action: Action, inputs: Sequence[Any], params: Mapping[str, Any]
) -> str | None:
    """What an aspect-ratio change by cropping cuts of the picture, and how to keep all of it, for
    an action that crops or pads to a ratio (an `aspect_ratio` param and a `fit` with `pad`)."""
    declared = {p.key: p for p in action.params}
    fit, ratio = declared.get("fit"), declared.get("aspect_ratio")
    if fit is None or ratio is None or "pad" not in [v.value for v in fit.available_values or []]:
        return None
    chosen_fit = params.get("fit", fit.default_value)
    target = rendering.ratio_of(str(params.get("aspect_ratio", ratio.default_value or "")))
    url = next((i.url for i in inputs if getattr(i, "url", None)), None)
    if chosen_fit != "crop" or target is None or url is None:
        return None
    try:
        data = await fetch_output(state.http, url, loopback_origins=await loopback_origins(state))
        size = await in_render_thread(rendering.image_size, data)
    except Exception as exc:  # a note, not the answer
        _not_shown(url, exc)
        return None
    return rendering.crop_note(size, target, str(params.get("aspect_ratio", ratio.default_value)))
