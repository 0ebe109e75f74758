"""Output files: a PNG drawn from the prompt, and honest stand-ins for video (GIF), audio (WAV) and text.

A run with reference inputs uses them: an image-to-image output is the reference recoloured (towards a
colour the prompt names), an image-to-video clip moves over the reference, and an image- or
video-to-text answer describes what it was given. Everything is deterministic for a given model,
prompt, params (which include the seed) and references.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import struct
import textwrap
import wave
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

IMAGE_LONG_SIDE = 1536
VIDEO_LONG_SIDE = 320
AUDIO_RATE = 22050
AUDIO_MAX_SECONDS = 4  # a stand-in, not the full clip
Color = tuple[int, int, int]

# Where a model's params name the output's shape, and how: "4:3", "landscape_4_3", "ASPECT_4_3",
# "1536x1024", "1280:720" all end in two numbers.
_SHAPE_PARAMS = ("aspect_ratio", "image_size", "size", "ratio")
_SHAPE = re.compile(r"(\d+)\s*[:x_]\s*(\d+)$")
_COLOURS: dict[str, Color] = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (240, 210, 40),
    "green": (40, 170, 70),
    "teal": (30, 160, 160),
    "blue": (40, 90, 230),
    "purple": (140, 60, 200),
    "pink": (240, 110, 170),
    "brown": (130, 80, 40),
    "gold": (212, 175, 55),
    "black": (30, 30, 30),
    "white": (235, 235, 235),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
}


def render(
    kind: str,
    model_id: str,
    prompt: str,
    params: Mapping[str, Any],
    sources: Sequence[bytes] = (),
) -> tuple[bytes, str]:
    """The file for one output and its content type. CPU-bound: call it off the event loop.

    `sources` are the bytes of the run's reference inputs, in the order the model reads them.
    """
    digest = hashlib.sha256(json.dumps([model_id, prompt, params], sort_keys=True).encode())
    for source in sources:
        digest.update(hashlib.sha256(source).digest())
    rng = random.Random(digest.digest())
    ratio = shape(params)
    reference = _first_image(sources)
    if kind == "image":
        if reference is not None:
            image = _derived(reference, rng, prompt, model_id, ratio)
        else:
            image = _picture(rng, prompt, model_id, params, _dims(ratio or (1, 1), IMAGE_LONG_SIDE))
        jpeg = params.get("output_format") == "jpeg"
        out = io.BytesIO()
        image.save(
            out, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {"compress_level": 3})
        )
        return out.getvalue(), "image/jpeg" if jpeg else "image/png"
    if kind == "video":
        if reference is not None:
            return _moving(reference, prompt, ratio), "image/gif"
        return _gif(rng, prompt, _dims(ratio or (1, 1), VIDEO_LONG_SIDE)), "image/gif"
    if kind == "audio":
        return _wav(rng, min(_seconds(params), AUDIO_MAX_SECONDS)), "audio/wav"
    return _text(model_id, prompt, sources).encode(), "text/plain; charset=utf-8"


def shape(params: Mapping[str, Any]) -> tuple[int, int] | None:
    """The (width, height) ratio the params ask for, in whichever spelling the model uses."""
    for name in _SHAPE_PARAMS:
        value = params.get(name)
        match = _SHAPE.search(value) if isinstance(value, str) else None
        if match and int(match[1]) > 0 and int(match[2]) > 0:
            return int(match[1]), int(match[2])
    return None


def size(ratio: str, long_side: int) -> tuple[int, int]:
    """`4:3` at 1536 → 1536x1152; the longest side is `long_side`."""
    w, h = (int(part) for part in ratio.split(":"))
    return _dims((w, h), long_side)


def _dims(ratio: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = ratio
    return (long_side, round(long_side * h / w)) if w >= h else (round(long_side * w / h), long_side)


def _seconds(params: Mapping[str, Any]) -> float:
    value = params.get("duration", params.get("duration_seconds", 2))
    try:
        return max(0.1, float(str(value).rstrip("s")))
    except ValueError:
        return 2.0


def _first_image(sources: Sequence[bytes]) -> Image.Image | None:
    """The first reference Pillow can read (a GIF clip gives its first frame), as RGB."""
    for source in sources:
        try:
            with Image.open(io.BytesIO(source)) as opened:
                return opened.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError):
            continue
    return None


def _tint(prompt: str, rng: random.Random) -> Color:
    """The colour the prompt asks for ("the same mug in blue"), else one of the seed's."""
    words = re.findall(r"[a-z]+", prompt.lower())
    named = [_COLOURS[w] for w in words if w in _COLOURS]
    return named[-1] if named else _palette(rng)[0]


def _derived(
    reference: Image.Image, rng: random.Random, prompt: str, model_id: str, ratio: tuple[int, int] | None
) -> Image.Image:
    """The reference, reshaped only when a ratio was asked for, recoloured towards the prompt's colour."""
    base = reference
    if ratio is not None:  # the largest crop of that shape, centred, as an editing model would frame it
        w, h = base.size
        rw, rh = ratio
        base = ImageOps.fit(base, (round(h * rw / rh), h) if w * rh > h * rw else (w, round(w * rh / rw)))
    if max(base.size) > IMAGE_LONG_SIDE:
        base = base.resize(_dims(base.size, IMAGE_LONG_SIDE))
    tint = _tint(prompt, rng)
    dark = tuple(c // 4 for c in tint)
    light = tuple(min(255, c + (255 - c) * 3 // 4) for c in tint)
    colourised = ImageOps.colorize(ImageOps.grayscale(base), black=dark, white=light, mid=tint)
    image = Image.blend(base, colourised, 0.65)
    draw = ImageDraw.Draw(image)
    unit = min(image.size)
    label = f"FLORA sandbox · {model_id} · from the reference"
    draw.text((unit // 40, unit // 40), label, font=_font(max(12, unit // 44)), fill=(255, 255, 255))
    return image


def _moving(reference: Image.Image, prompt: str, ratio: tuple[int, int] | None, frames: int = 8) -> bytes:
    """A slow push-in over the reference: a clip that visibly starts from the given image."""
    dims = _dims(ratio or reference.size, VIDEO_LONG_SIDE)
    first = ImageOps.fit(reference, dims)
    w, h = first.size
    font = _font(max(10, min(w, h) // 16))
    images = []
    for i in range(frames):
        zoom = 1 + 0.25 * i / (frames - 1)
        cw, ch = round(w / zoom), round(h / zoom)
        frame = first.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2)).resize(dims)
        ImageDraw.Draw(frame).text((6, h - min(w, h) // 12), textwrap.shorten(prompt, 40), font=font)
        images.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=125, loop=0)
    return out.getvalue()


def _palette(rng: random.Random) -> tuple[Color, Color, Color]:
    def pick() -> Color:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    return pick(), pick(), pick()


def _gradient(top: Color, bottom: Color, dims: tuple[int, int]) -> Image.Image:
    mask = Image.linear_gradient("L").resize(dims)
    return Image.composite(Image.new("RGB", dims, bottom), Image.new("RGB", dims, top), mask)


def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=px)


def _picture(
    rng: random.Random, prompt: str, model_id: str, params: Mapping[str, Any], dims: tuple[int, int]
) -> Image.Image:
    w, h = dims
    top, bottom, accent = _palette(rng)
    image = _gradient(top, bottom, dims).convert("RGBA")
    layer = Image.new("RGBA", dims, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    unit = min(w, h)
    sun_x, sun_y, sun_r = (
        rng.uniform(0.15, 0.85) * w,
        rng.uniform(0.1, 0.4) * h,
        unit * rng.uniform(0.08, 0.16),
    )
    draw.ellipse((sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r), fill=(*accent, 220))
    for _ in range(rng.randint(5, 9)):  # soft shapes, so each seed looks different
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), unit * rng.uniform(0.04, 0.2)
        color = (*_palette(rng)[0], rng.randint(60, 140))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
        else:
            draw.rounded_rectangle((x - r, y - r / 2, x + r, y + r / 2), radius=r / 4, fill=color)
    draw.rectangle((0, h * 0.72, w, h), fill=(*bottom, 90))  # a horizon, a table, a floor

    margin, font_px = unit // 20, max(18, unit // 22)
    font = _font(font_px)
    lines = textwrap.wrap(prompt, width=max(10, int((w - 4 * margin) / (font_px * 0.55))))[:6]
    line_h = int(font_px * 1.3)
    box_top = h - margin - 2 * margin // 2 - line_h * len(lines)
    draw.rounded_rectangle((margin, box_top, w - margin, h - margin), radius=margin // 2, fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text(
            (2 * margin, box_top + margin // 2 + i * line_h), line, font=font, fill=(255, 255, 255, 255)
        )
    seed = params.get("seed", "-")
    label = f"FLORA sandbox · {model_id} · seed {seed}"
    draw.text((margin, margin), label, font=_font(max(12, font_px // 2)), fill=(255, 255, 255, 200))
    return Image.alpha_composite(image, layer).convert("RGB")


def _gif(rng: random.Random, prompt: str, dims: tuple[int, int], frames: int = 8) -> bytes:
    w, h = dims
    top, bottom, accent = _palette(rng)
    background = _gradient(top, bottom, dims)
    font = _font(max(10, min(w, h) // 16))
    r = min(w, h) * 0.12
    images = []
    for i in range(frames):
        frame = background.copy()
        draw = ImageDraw.Draw(frame)
        x = r + (w - 2 * r) * i / (frames - 1)
        y = h * 0.45 + math.sin(i / frames * 2 * math.pi) * h * 0.15
        draw.ellipse((x - r, y - r, x + r, y + r), fill=accent)
        draw.text((6, h - min(w, h) // 12), textwrap.shorten(prompt, 40), font=font, fill=(255, 255, 255))
        images.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=125, loop=0)
    return out.getvalue()


def _wav(rng: random.Random, seconds: float) -> bytes:
    """A few notes of a pentatonic scale chosen by the prompt, each with a short fade to avoid clicks."""
    notes = [220.0 * 2 ** (rng.choice((0, 2, 4, 7, 9, 12, 14, 16)) / 12) for _ in range(4)]
    total = int(AUDIO_RATE * seconds)
    per_note = max(1, total // len(notes))
    fade = min(per_note // 2, AUDIO_RATE // 50)
    samples = bytearray()
    for n in range(total):
        i = n % per_note
        envelope = min(1.0, i / fade if fade else 1.0, (per_note - i) / fade if fade else 1.0)
        value = (
            0.3
            * envelope
            * math.sin(2 * math.pi * notes[min(n // per_note, len(notes) - 1)] * n / AUDIO_RATE)
        )
        samples += struct.pack("<h", int(value * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(AUDIO_RATE)
        wav.writeframes(bytes(samples))
    return out.getvalue()


def _text(model_id: str, prompt: str, sources: Sequence[bytes] = ()) -> str:
    seen = "".join(f"Input {i}: {_describe(source)}\n" for i, source in enumerate(sources, 1))
    return (
        f"[FLORA sandbox · {model_id}]\n\n"
        f"A response to: {prompt}\n\n"
        + (f"{seen}\n" if seen else "")
        + "This text stands in for a language model's answer; the sandbox does not call a real model.\n"
    )


def _describe(source: bytes) -> str:
    """What a vision model would at least see: the kind, the size and the main colour."""
    try:
        with Image.open(io.BytesIO(source)) as opened:
            frames = getattr(opened, "n_frames", 1)
            kind = f"a {frames}-frame clip" if frames > 1 else f"a {opened.format} image"
            r, g, b = opened.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
            return f"{kind}, {opened.width}x{opened.height}, mostly {_colour_name((r, g, b))}"
    except (UnidentifiedImageError, OSError, ValueError):
        return f"a {len(source)}-byte file"


def _colour_name(colour: Color) -> str:
    return min(
        _COLOURS, key=lambda name: sum((a - b) ** 2 for a, b in zip(_COLOURS[name], colour, strict=True))
    )
