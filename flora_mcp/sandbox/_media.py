"""Output files: a PNG drawn from the prompt, and honest stand-ins for video (GIF), audio (WAV) and text.

Everything is deterministic for a given model, prompt and params (which include the seed).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import struct
import textwrap
import wave
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageDraw, ImageFont

IMAGE_LONG_SIDE = 1536
VIDEO_LONG_SIDE = 320
AUDIO_RATE = 22050
AUDIO_MAX_SECONDS = 4  # a stand-in, not the full clip
Color = tuple[int, int, int]


def render(kind: str, model_id: str, prompt: str, params: Mapping[str, Any]) -> tuple[bytes, str]:
    """The file for one output and its content type. CPU-bound: call it off the event loop."""
    rng = random.Random(
        hashlib.sha256(json.dumps([model_id, prompt, params], sort_keys=True).encode()).digest()
    )
    ratio = str(params.get("aspect_ratio", "1:1"))
    if kind == "image":
        image = _picture(rng, prompt, model_id, params, size(ratio, IMAGE_LONG_SIDE))
        jpeg = params.get("output_format") == "jpeg"
        out = io.BytesIO()
        image.save(
            out, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {"compress_level": 3})
        )
        return out.getvalue(), "image/jpeg" if jpeg else "image/png"
    if kind == "video":
        return _gif(rng, prompt, size(ratio, VIDEO_LONG_SIDE)), "image/gif"
    if kind == "audio":
        return _wav(rng, min(float(params.get("duration", 2)), AUDIO_MAX_SECONDS)), "audio/wav"
    return _text(model_id, prompt).encode(), "text/plain; charset=utf-8"


def size(ratio: str, long_side: int) -> tuple[int, int]:
    """`4:3` at 1536 → 1536x1152; the longest side is `long_side`."""
    w, h = (int(part) for part in ratio.split(":"))
    return (long_side, round(long_side * h / w)) if w >= h else (round(long_side * w / h), long_side)


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


def _text(model_id: str, prompt: str) -> str:
    return (
        f"[FLORA sandbox · {model_id}]\n\n"
        f"A response to: {prompt}\n\n"
        "This text stands in for a language model's answer; the sandbox does not call a real model.\n"
    )
