"""Turning run outputs into what a host shows: pure code, data in, MCP content out.

Inline previews share one budget per result, whatever the number of images: at most
`IMAGE_TOKEN_BUDGET` image tokens (w*h/750 each, as Claude counts them) and `INLINE_BASE64_BUDGET`
bytes of base64. More images means smaller previews (`preview_plan`); the full-size URLs stay
complete in the resource links and structured content.

Video and audio are shown too, so a user sees and hears them in any host: a video's first frame
as its poster (an image preview like any other: Pillow reads GIF and WebP clips, PyAV, when
installed, MP4, WebM and QuickTime), an audio clip's duration, and the clip itself as an MCP audio
block when it is small (`AUDIO_INLINE_BYTES`, within the same base64 budget). Pillow, PyAV and
mutagen are imported inside the functions that need them, so start-up does not pay for them.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.types import AudioContent, ContentBlock, ImageContent, ResourceLink, TextContent

from flora_mcp._constants import BATCH_LIMIT
from flora_mcp.client import Run, RunOutput

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

IMAGE_TOKEN_BUDGET = 6_000
PIXELS_PER_IMAGE_TOKEN = 750
# Hosts struggle with tool results over about 1 MB; this leaves room for the text and JSON.
INLINE_BASE64_BUDGET = 900_000
# At most one of FLORA's batches: beyond that a preview would be too small to be worth its bytes.
MAX_PREVIEWS = BATCH_LIMIT
# The raw JPEG bytes whose base64 fills INLINE_BASE64_BUDGET: the default budget of one image.
INLINE_BUDGET_BYTES = INLINE_BASE64_BUDGET // 4 * 3
# An audio output is inlined (an MCP audio block) up to this size (about 15 s of MP3, 6 s of 22 kHz
# WAV), so that one clip takes at most half the base64 budget and pictures keep the rest.
AUDIO_INLINE_BYTES = 300_000
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
_POSITIONAL_ID = re.compile(r"output_\d+")


@dataclass(frozen=True)
class Media:
    """What fetching a video or audio output showed: its poster frame (video) or the clip itself
    (small audio), and its length. Keyed by output URL next to image previews (`Preview`)."""

    block: ImageContent | AudioContent | None = None
    duration: float | None = None  # seconds


Preview = ImageContent | Media
"""What a result shows inline for one output URL: an image preview, or what a video or audio gave."""


def preview_plan(count: int, max_side: int, reserved: int = 0) -> tuple[int, int]:
    """(longest side in px, JPEG bytes) for each of `count` previews so that all of them together
    stay within the image-token and base64 budgets. Sides are planned as squares, the worst case:
    a preview fits in a square of that side, so it costs at most side²/750 tokens whatever its aspect.
    Only the first `MAX_PREVIEWS` are shown (`preview_urls`), so larger counts plan for that many.
    `reserved` base64 bytes are left for other blocks (audio clips: `audio_reserve`).
    """
    shown = max(1, min(count, MAX_PREVIEWS))
    side = min(max_side, math.isqrt(IMAGE_TOKEN_BUDGET * PIXELS_PER_IMAGE_TOKEN // shown))
    left = max(0, INLINE_BASE64_BUDGET - reserved)
    return side, left // shown // 4 * 3  # base64 turns each 3 bytes into 4


def audio_reserve(clips: int) -> int:
    """Base64 bytes to leave for `clips` small audio clips: at most half the budget, so pictures
    keep the other half (a clip that then does not fit is linked, with its duration)."""
    return min(clips * math.ceil(AUDIO_INLINE_BYTES / 3) * 4, INLINE_BASE64_BUDGET // 2)


def preview_urls(runs: Sequence[Run]) -> list[str]:
    """The image and video outputs worth a picture inline (a video's is its poster frame), in
    order, once each, at most `MAX_PREVIEWS`."""
    urls = [
        o.url
        for r in runs
        if r.status == "completed"
        for o in r.outputs
        if o.type in ("imageUrl", "videoUrl") and _is_url(o.url)
    ]
    return list(dict.fromkeys(urls))[:MAX_PREVIEWS]


def audio_urls(runs: Sequence[Run]) -> list[str]:
    """The audio outputs, whose duration (and, when small, the clip) a result shows."""
    urls = [o.url for r in runs if r.status == "completed" for o in r.outputs if o.type == "audioUrl"]
    return list(dict.fromkeys(u for u in urls if _is_url(u)))[:MAX_PREVIEWS]


def labelled(run: Run, names: Sequence[str]) -> Run:
    """The run with its outputs named as its technique or action names them (`square`,
    `landscape`…) instead of FLORA's positional `output_1…`, when the two lists line up."""
    if len(names) != len(run.outputs) or not all(_POSITIONAL_ID.fullmatch(o.output_id) for o in run.outputs):
        return run
    named = [o.model_copy(update={"output_id": name}) for o, name in zip(run.outputs, names, strict=True)]
    return run.model_copy(update={"outputs": named})


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


def run_summary(
    run: Run, params_used: Mapping[str, Any] | None = None, media: Mapping[str, Preview] | None = None
) -> str:
    """One short paragraph an agent can act on."""
    used = _used(run, params_used)
    if run.status == "completed":
        lines = [f"Run {run.run_id} completed with {len(run.outputs)} output(s):"]
        lines += [f"- {_named(o)}: {_output_line(o, media)}" for o in run.outputs]
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
    media: Mapping[str, Preview] | None = None,
) -> str:
    """One line per run, then what to do about any still going; `notes` go first.
    `params_used` maps a run id to the params (seed included) it was started with."""
    done = sum(1 for r in runs if r.status == "completed")
    lines = [*notes, f"{done} of {len(runs)} run(s) completed:"] if runs else list(notes)
    for run in runs:
        if run.status == "completed":
            lines += [f"- {run.run_id}: {_named(o)} {_output_line(o, media)}" for o in run.outputs]
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


def _named(output: RunOutput) -> str:
    """`imageUrl`, or `imageUrl square` for an output its technique names."""
    return output.type if _POSITIONAL_ID.fullmatch(output.output_id) else f"{output.type} {output.output_id}"


def _output_line(output: RunOutput, media: Mapping[str, Preview] | None = None) -> str:
    # A text output may carry its words instead of a URL: they get a block of their own.
    if output.type == "text" and not _is_url(output.url):
        return "(the text is below)"
    shown = (media or {}).get(output.url)
    if not isinstance(shown, Media):
        return output.url
    about = [f"{shown.duration:.1f} s"] if shown.duration is not None else []
    if isinstance(shown.block, ImageContent):
        about.append("first frame below")
    elif isinstance(shown.block, AudioContent):
        about.append("playable below")
    return f"{output.url} ({', '.join(about)})" if about else output.url


def _failure(run: Run) -> str:
    return run.error_message or run.error_code or "no reason given"


def output_mime(output: RunOutput) -> str:
    suffix = PurePosixPath(urlsplit(output.url).path).suffix.lower()
    return _MIME_BY_SUFFIX.get(suffix, _MIME_BY_TYPE.get(output.type, "application/octet-stream"))


def run_content(
    run: Run,
    inline_images: Mapping[str, Preview],
    texts: Mapping[str, str] | None = None,
    params_used: Mapping[str, Any] | None = None,
) -> list[ContentBlock]:
    """Text summary, then per output a resource_link, its inline preview (a video's poster frame,
    a small audio clip), and its words (`texts` maps a text output's URL to the text fetched from it)."""
    summary = TextContent(type="text", text=run_summary(run, params_used, inline_images))
    return [summary, *output_blocks(run, inline_images, texts)]


def generation_content(
    runs: Sequence[Run],
    inline_images: Mapping[str, Preview],
    notes: Sequence[str] = (),
    texts: Mapping[str, str] | None = None,
    params_used: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ContentBlock]:
    """`run_content` for several runs of one request: one summary, then each run's outputs, all
    the previews within one budget."""
    summary = generation_summary(runs, notes, params_used, inline_images)
    blocks: list[ContentBlock] = [TextContent(type="text", text=summary)]
    budget = _Budget()
    for run in runs:
        blocks += _output_blocks(run, inline_images, texts or {}, budget)
    return blocks


def output_blocks(
    run: Run, inline_images: Mapping[str, Preview], texts: Mapping[str, str] | None = None
) -> list[ContentBlock]:
    return _output_blocks(run, inline_images, texts or {}, _Budget())


def _output_blocks(
    run: Run, inline_images: Mapping[str, Preview], texts: Mapping[str, str], budget: _Budget
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
                description=f"{_named(output)} output of {run.run_id}",
            )
        )
        shown = inline_images.get(output.url)
        block = shown.block if isinstance(shown, Media) else shown
        if block is not None and budget.admit(block):
            blocks.append(block)
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

    def admit(self, block: ImageContent | AudioContent) -> bool:
        tokens = image_tokens(block) if isinstance(block, ImageContent) else 0.0
        if (
            self.count >= MAX_PREVIEWS
            or self.tokens + tokens > IMAGE_TOKEN_BUDGET
            or self.base64_bytes + len(block.data) > INLINE_BASE64_BUDGET
        ):
            return False
        self.tokens += tokens
        self.base64_bytes += len(block.data)
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
    image = first_frame(data)
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


def first_frame(data: bytes) -> PILImage:
    """The picture in `data` as RGB: an image, or the first frame of a clip (a video's poster).
    Pillow reads images and GIF/WebP clips; MP4, WebM and QuickTime need PyAV (`pip install
    flora-mcp[video]`). ValueError when neither can read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as original:
            original.seek(0)  # the first frame of an animation
            return original.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        pillow_error = exc
    try:
        import av
    except ImportError:
        raise ValueError(
            f"not an image Pillow reads ({pillow_error}), and PyAV is not installed to read video"
        ) from None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            for frame in container.decode(video=0):
                image: PILImage = frame.to_image()  # type: ignore[no-untyped-call]
                return image
    except (av.FFmpegError, IndexError, ValueError) as exc:  # IndexError: no video stream
        raise ValueError(f"no frame could be decoded ({exc})") from None
    raise ValueError("the clip has no frames")


def duration(data: bytes) -> float | None:
    """How long a clip lasts, in seconds, or None when it cannot be told: a GIF's frame times
    (Pillow), an audio or MP4 file's header (mutagen), else the container (PyAV, when installed)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as clip:
            frames = getattr(clip, "n_frames", 1)
            if frames > 1:
                total = 0
                for index in range(frames):
                    clip.seek(index)
                    total += int(clip.info.get("duration", 0))
                return total / 1000 if total else None
            return None  # a still image
    except (UnidentifiedImageError, OSError, ValueError):
        pass
    import mutagen

    try:
        found = mutagen.File(io.BytesIO(data))
    except mutagen.MutagenError:
        found = None
    length = getattr(getattr(found, "info", None), "length", None)
    if isinstance(length, int | float) and length > 0:
        return float(length)
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            return container.duration / 1_000_000 if container.duration else None
    except (av.FFmpegError, ValueError):
        return None


def audio_block(data: bytes, mime_type: str, max_bytes: int = AUDIO_INLINE_BYTES) -> AudioContent | None:
    """The clip as an MCP audio block, when it is small enough to travel inside a result."""
    if len(data) > max_bytes or not mime_type.startswith("audio/"):
        return None
    return AudioContent(type="audio", data=base64.b64encode(data).decode(), mimeType=mime_type)


def ratio_of(text: str) -> tuple[int, int] | None:
    """`16:9` (or `16x9`, `16_9`) as (16, 9); None when it names no ratio."""
    match = re.fullmatch(r"\s*(\d+)\s*[:x_/]\s*(\d+)\s*", text)
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        return None
    return int(match[1]), int(match[2])


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image or a clip's first frame, from its header where Pillow can."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            return opened.size
    except (UnidentifiedImageError, OSError):
        return first_frame(data).size


def crop_note(size: tuple[int, int], target: tuple[int, int], label: str) -> str | None:
    """'Cropping 1536x1536 to 16:9 cuts 44% of the picture (keeps 1536x864) …': what a crop to a
    ratio loses, and the padding mode that keeps everything. None when the shape already fits."""
    width, height = size
    if width <= 0 or height <= 0:
        return None
    have, want = width / height, target[0] / target[1]
    kept = min(have, want) / max(have, want)
    if kept > 0.995:
        return None
    kept_size = (width, round(width / want)) if have < want else (round(height * want), height)
    return (
        f"Cropping {width}x{height} to {label} cuts {1 - kept:.0%} of the picture (keeps "
        f"{kept_size[0]}x{kept_size[1]}, centred). To keep all of it, run the same action with "
        'params.fit="pad" (padding filled as its pad params say).'
    )
