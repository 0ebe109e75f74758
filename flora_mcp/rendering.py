"""Turning run outputs into what a host shows: pure code, data in, MCP content out.

Inline previews share one budget per result, whatever the number of images: at most
`IMAGE_TOKEN_BUDGET` image tokens (w*h/750 each, as Claude counts them) and `INLINE_BASE64_BUDGET`
bytes of base64. More images means smaller previews (`preview_plan`); the full-size URLs stay
complete in the resource links and structured content. Pillow is imported inside the functions
that need it, so start-up does not pay for it.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from mcp.types import ContentBlock, ImageContent, ResourceLink, TextContent

from flora_mcp.client import Run, RunOutput

IMAGE_TOKEN_BUDGET = 6_000
PIXELS_PER_IMAGE_TOKEN = 750
# Hosts struggle with tool results over about 1 MB; this leaves room for the text and JSON.
INLINE_BASE64_BUDGET = 900_000
# FLORA's largest batch is 20 items; beyond that a preview would be too small to be worth its bytes.
MAX_PREVIEWS = 20
# The raw JPEG bytes whose base64 fills INLINE_BASE64_BUDGET: the default budget of one image.
INLINE_BUDGET_BYTES = INLINE_BASE64_BUDGET // 4 * 3
_SMALLEST_SIDE = 32  # below this a preview is noise: give up and only link the image
_MAX_PARAM_CHARS = 200
_MIME_BY_SUFFIX = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".txt": "text/plain",
}
_MIME_BY_TYPE = {"imageUrl": "image/*", "videoUrl": "video/*", "audioUrl": "audio/*", "text": "text/plain"}
_KEEP = "Output URLs are long-lived but not permanent: download what you need to keep."


def preview_plan(count: int, max_side: int) -> tuple[int, int]:
    """(longest side in px, JPEG bytes) for each of `count` previews so that all of them together
    stay within the image-token and base64 budgets. Sides are planned as squares, the worst case:
    a preview fits in a square of that side, so it costs at most side²/750 tokens whatever its aspect.
    Only the first `MAX_PREVIEWS` are shown (`preview_urls`), so larger counts plan for that many.
    """
    shown = max(1, min(count, MAX_PREVIEWS))
    side = min(max_side, math.isqrt(IMAGE_TOKEN_BUDGET * PIXELS_PER_IMAGE_TOKEN // shown))
    return side, INLINE_BASE64_BUDGET // shown // 4 * 3  # base64 turns each 3 bytes into 4


def preview_urls(runs: Sequence[Run]) -> list[str]:
    """The image outputs worth previewing inline, in order, once each, at most `MAX_PREVIEWS`."""
    urls = [o.url for r in runs if r.status == "completed" for o in r.outputs if o.type == "imageUrl"]
    return list(dict.fromkeys(urls))[:MAX_PREVIEWS]


def text_urls(runs: Sequence[Run]) -> list[str]:
    """The text outputs given as a URL, whose words the caller should fetch for `texts`."""
    return [
        o.url
        for r in runs
        if r.status == "completed"
        for o in r.outputs
        if o.type == "text" and _is_url(o.url)
    ]


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def params_line(params: Mapping[str, Any]) -> str:
    """`aspect_ratio=16:9, seed=42`: the params a run used, to ask for the same again."""
    shown = []
    for name, value in params.items():
        text = str(value)
        shown.append(f"{name}={text[:_MAX_PARAM_CHARS]}{'…' if len(text) > _MAX_PARAM_CHARS else ''}")
    return ", ".join(shown)


def _used(run: Run, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the caller knows it sent (`given`, e.g. from the run journal) over whatever the run
    itself reports: the API does not return params or seed today, but a newer one may."""
    used: dict[str, Any] = dict(getattr(run, "params", None) or {})
    seed = getattr(run, "seed", None)
    if seed is not None:
        used.setdefault("seed", seed)
    used.update(given or {})
    return used


def run_summary(run: Run, params_used: Mapping[str, Any] | None = None) -> str:
    """One short paragraph an agent can act on."""
    used = _used(run, params_used)
    if run.status == "completed":
        lines = [f"Run {run.run_id} completed with {len(run.outputs)} output(s):"]
        lines += [f"- {o.type}: {_output_line(o)}" for o in run.outputs]
        if used:
            lines.append(f"Params used: {params_line(used)} (pass them again to reproduce this).")
        lines.append(_KEEP)
        return "\n".join(lines)
    if run.status == "failed":
        return f"Run {run.run_id} failed: {_failure(run)}"
    return (
        f"Run {run.run_id} is {run.status} ({run.progress:.0f}%). "
        "Call get_generation_status again, with wait_seconds to wait for it."
    )


def generation_summary(
    runs: Sequence[Run],
    notes: Sequence[str] = (),
    params_used: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """One line per run, then what to do about any still going; `notes` go first.
    `params_used` maps a run id to the params (seed included) it was started with."""
    done = sum(1 for r in runs if r.status == "completed")
    lines = [*notes, f"{done} of {len(runs)} run(s) completed:"]
    for run in runs:
        if run.status == "completed":
            lines += [f"- {run.run_id}: {o.type} {_output_line(o)}" for o in run.outputs]
            used = _used(run, (params_used or {}).get(run.run_id))
            if used:
                lines.append(f"  params used: {params_line(used)}")
        elif run.status == "failed":
            lines.append(f"- {run.run_id} failed: {_failure(run)}")
        else:
            lines.append(f"- {run.run_id}: {run.status} ({run.progress:.0f}%)")
    going = [r.run_id for r in runs if r.status in ("pending", "running")]
    if going:
        lines.append(f"Still going: call get_generation_status with wait_seconds for {', '.join(going)}.")
    if done:
        lines.append(_KEEP)
    return "\n".join(lines)


def _output_line(output: RunOutput) -> str:
    # A text output may carry its words instead of a URL: they get a block of their own.
    return output.url if output.type != "text" or _is_url(output.url) else "(the text is below)"


def _failure(run: Run) -> str:
    return run.error_message or run.error_code or "no reason given"


def output_mime(output: RunOutput) -> str:
    suffix = PurePosixPath(urlsplit(output.url).path).suffix.lower()
    return _MIME_BY_SUFFIX.get(suffix, _MIME_BY_TYPE.get(output.type, "application/octet-stream"))


def run_content(
    run: Run,
    inline_images: Mapping[str, ImageContent],
    texts: Mapping[str, str] | None = None,
    params_used: Mapping[str, Any] | None = None,
) -> list[ContentBlock]:
    """Text summary, then per output a resource_link, its inline preview, and its words (`texts`
    maps a text output's URL to the text fetched from it)."""
    summary = TextContent(type="text", text=run_summary(run, params_used))
    return [summary, *output_blocks(run, inline_images, texts)]


def generation_content(
    runs: Sequence[Run],
    inline_images: Mapping[str, ImageContent],
    notes: Sequence[str] = (),
    texts: Mapping[str, str] | None = None,
    params_used: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ContentBlock]:
    """`run_content` for several runs of one request: one summary, then each run's outputs, all
    the previews within one budget."""
    blocks: list[ContentBlock] = [TextContent(type="text", text=generation_summary(runs, notes, params_used))]
    budget = _Budget()
    for run in runs:
        blocks += _output_blocks(run, inline_images, texts or {}, budget)
    return blocks


def output_blocks(
    run: Run, inline_images: Mapping[str, ImageContent], texts: Mapping[str, str] | None = None
) -> list[ContentBlock]:
    return _output_blocks(run, inline_images, texts or {}, _Budget())


def _output_blocks(
    run: Run, inline_images: Mapping[str, ImageContent], texts: Mapping[str, str], budget: _Budget
) -> list[ContentBlock]:
    blocks: list[ContentBlock] = []
    for output in run.outputs:
        if output.type == "text" and not _is_url(output.url):
            blocks.append(_text_block(run, output, output.url))
            continue
        blocks.append(
            ResourceLink(
                type="resource_link",
                name=f"{run.run_id}/{output.output_id}",
                uri=output.url,
                mimeType=output_mime(output),
                description=f"{output.type} output of {run.run_id}",
            )
        )
        image = inline_images.get(output.url)
        if image is not None and budget.admit(image):
            blocks.append(image)
        words = texts.get(output.url)
        if words is not None:
            blocks.append(_text_block(run, output, words))
    return blocks


def _text_block(run: Run, output: RunOutput, words: str) -> TextContent:
    return TextContent(type="text", text=f"Text output {output.output_id} of {run.run_id}:\n\n{words}")


class _Budget:
    """The previews already in one result; refuses one that would take it over either budget,
    whatever the caller passed in (a cached preview may have been made for fewer images)."""

    def __init__(self) -> None:
        self.tokens = 0.0
        self.base64_bytes = 0
        self.count = 0

    def admit(self, image: ImageContent) -> bool:
        tokens = image_tokens(image)
        if (
            self.count >= MAX_PREVIEWS
            or self.tokens + tokens > IMAGE_TOKEN_BUDGET
            or self.base64_bytes + len(image.data) > INLINE_BASE64_BUDGET
        ):
            return False
        self.tokens += tokens
        self.base64_bytes += len(image.data)
        self.count += 1
        return True


def image_tokens(image: ImageContent) -> float:
    """What an image block costs the model: width * height / 750. An undecodable one counts as
    over budget, since it cannot be measured."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(base64.b64decode(image.data))) as shown:
            width, height = shown.size
    except (UnidentifiedImageError, ValueError, OSError):
        return math.inf
    return width * height / PIXELS_PER_IMAGE_TOKEN


def inline_image(data: bytes, max_side: int, budget: int = INLINE_BUDGET_BYTES) -> ImageContent:
    """A JPEG preview no larger than `max_side` on its longest side and at most `budget` bytes
    (before base64), for a plan from `preview_plan`. Quality steps down first, then the side;
    ValueError if even a tiny preview does not fit."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as original:
        original.seek(0)  # the first frame of an animation
        image = original.convert("RGB")
    while max_side >= _SMALLEST_SIDE:
        image.thumbnail((max_side, max_side))
        for quality in (85, 75, 60, 45):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            encoded = buffer.getvalue()
            if len(encoded) <= budget:
                return ImageContent(
                    type="image", data=base64.b64encode(encoded).decode(), mimeType="image/jpeg"
                )
        max_side = max(image.size) * 3 // 4  # from the real size: a small image shrinks at once
    raise ValueError(f"no preview fits in {budget} bytes")
