"""Turning run outputs into what a host shows: pure code, data in, MCP content out.

Pillow is imported inside the function that needs it, so start-up does not pay for it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from mcp.types import ContentBlock, ImageContent, ResourceLink, TextContent

from flora_mcp.client import Run, RunOutput

# Hosts struggle with tool results over about 1 MB; base64 adds a third.
INLINE_BUDGET_BYTES = 600_000
_MIN_SIDE = 256
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


def run_summary(run: Run) -> str:
    """One short paragraph an agent can act on."""
    if run.status == "completed":
        lines = [f"Run {run.run_id} completed with {len(run.outputs)} output(s):"]
        lines += [f"- {o.type}: {o.url}" for o in run.outputs]
        lines.append("Output URLs are long-lived but not permanent: download what you need to keep.")
        return "\n".join(lines)
    if run.status == "failed":
        return f"Run {run.run_id} failed: {_failure(run)}"
    return (
        f"Run {run.run_id} is {run.status} ({run.progress:.0f}%). "
        "Call get_generation_status again, with wait_seconds to wait for it."
    )


def generation_summary(runs: Sequence[Run], notes: Sequence[str] = ()) -> str:
    """One line per run, then what to do about any still going; `notes` go first."""
    done = sum(1 for r in runs if r.status == "completed")
    lines = [*notes, f"{done} of {len(runs)} run(s) completed:"]
    for run in runs:
        if run.status == "completed":
            lines += [f"- {run.run_id}: {o.type} {o.url}" for o in run.outputs]
        elif run.status == "failed":
            lines.append(f"- {run.run_id} failed: {_failure(run)}")
        else:
            lines.append(f"- {run.run_id}: {run.status} ({run.progress:.0f}%)")
    going = [r.run_id for r in runs if r.status in ("pending", "running")]
    if going:
        lines.append(f"Still going: call get_generation_status with wait_seconds for {', '.join(going)}.")
    if done:
        lines.append("Output URLs are long-lived but not permanent: download what you need to keep.")
    return "\n".join(lines)


def _failure(run: Run) -> str:
    return run.error_message or run.error_code or "no reason given"


def output_mime(output: RunOutput) -> str:
    suffix = PurePosixPath(urlsplit(output.url).path).suffix.lower()
    return _MIME_BY_SUFFIX.get(suffix, _MIME_BY_TYPE.get(output.type, "application/octet-stream"))


def run_content(run: Run, inline_images: Mapping[str, ImageContent]) -> list[ContentBlock]:
    """Text summary, a resource_link per output URL, and the inline images fetched for it."""
    return [TextContent(type="text", text=run_summary(run)), *output_blocks(run, inline_images)]


def generation_content(
    runs: Sequence[Run], inline_images: Mapping[str, ImageContent], notes: Sequence[str] = ()
) -> list[ContentBlock]:
    """`run_content` for several runs of one request: one summary, then each run's outputs."""
    blocks: list[ContentBlock] = [TextContent(type="text", text=generation_summary(runs, notes))]
    for run in runs:
        blocks += output_blocks(run, inline_images)
    return blocks


def output_blocks(run: Run, inline_images: Mapping[str, ImageContent]) -> list[ContentBlock]:
    blocks: list[ContentBlock] = []
    for output in run.outputs:
        if output.type == "text" and not output.url.startswith(("http://", "https://")):
            continue  # the SDK allows text content in place of a URL: the summary already shows it
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
        if image is not None:
            blocks.append(image)
    return blocks


def inline_image(data: bytes, max_side: int, budget: int = INLINE_BUDGET_BYTES) -> ImageContent:
    """Downscale to `max_side` and re-encode as JPEG, stepping quality down until under `budget`."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as original:
        original.seek(0)  # the first frame of an animation
        image = original.convert("RGB")
    encoded = b""
    while True:  # a small budget (many images in one result) shrinks the picture, not only its quality
        image.thumbnail((max_side, max_side))
        for quality in (85, 75, 60, 45):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            encoded = buffer.getvalue()
            if len(encoded) <= budget:
                break
        if len(encoded) <= budget or max_side <= _MIN_SIDE:
            break
        max_side = max(_MIN_SIDE, max_side * 3 // 4)
    return ImageContent(type="image", data=base64.b64encode(encoded).decode(), mimeType="image/jpeg")


def inline_budget_per_image(outputs: Sequence[RunOutput]) -> int:
    images = sum(1 for o in outputs if o.type == "imageUrl") or 1
    return INLINE_BUDGET_BYTES // images
