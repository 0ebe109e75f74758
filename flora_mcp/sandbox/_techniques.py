"""The sandbox's techniques: FLORA's reusable workflows, shaped like `GET /techniques`, with real outputs.

- `product-shot` takes a product photo (and an optional setting) and frames it three ways: square,
  landscape and portrait PNGs built from the photo's own pixels and colors.
- `poster` sets a headline over a picture, 3:4.
- `tagline-writer` takes a brief and writes three taglines (a text output).

Inputs carry SDK 0.11's flags: `optional` (product-shot's setting) and `allow_multiple` (the
poster's headline: one run per value). A definition without `optional` marks an optional input by
starting its description with "Optional", as older ones did. The sandbox refuses a run that lacks
a required input, and takes one value per input: how several travel is not documented.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from flora_mcp.sandbox._errors import FieldError
from flora_mcp.sandbox._jobs import Loaded, Made, WorkFailed

LONG_SIDE = 1024
_MEDIA_TYPES = ("imageUrl", "videoUrl", "audioUrl", "documentUrl")


@dataclass(frozen=True)
class Port:
    """One input or output of a technique."""

    id: str
    name: str
    type: str  # imageUrl | videoUrl | audioUrl | text | documentUrl
    description: str
    aspect_ratio: str | None = None
    duration: float | None = None
    optional: bool | None = None  # None: not said (then a description starting "Optional" says it)
    allow_multiple: bool = False

    @property
    def required(self) -> bool:
        return not self.optional if self.optional is not None else not self.description.startswith("Optional")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "description": self.description,
        }
        if self.aspect_ratio is not None:
            out["specified_aspect_ratio"] = self.aspect_ratio
        if self.duration is not None:
            out["specified_duration"] = self.duration
        if self.optional is not None:
            out["optional"] = self.optional
        if self.allow_multiple:
            out["allow_multiple"] = True
        return out


Make = Callable[[Mapping[str, Loaded]], list[Made]]


@dataclass(frozen=True)
class Technique:
    slug: str
    name: str
    description: str
    run_cost: float  # USD per run
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    make: Make = field(repr=False)
    estimated_seconds: int = 20

    @property
    def technique_id(self) -> str:
        return f"tech_{self.slug}"

    def to_json(self) -> dict[str, Any]:
        return {
            "technique_id": self.technique_id,
            "name": self.name,
            "description": self.description,
            "run_cost": self.run_cost,
            "inputs": [p.to_json() for p in self.inputs],
            "outputs": [p.to_json() for p in self.outputs],
        }

    def check(self, given: Mapping[str, tuple[str | None, Any]], where: str) -> list[FieldError]:
        """`given` maps an input id to (the type the caller named or None, the value)."""
        errors: list[FieldError] = []
        ports = {p.id: p for p in self.inputs}
        ids = ", ".join(f"{p.id} ({p.type})" for p in self.inputs)
        for input_id, (type_, value) in given.items():
            port = ports.get(input_id)
            if port is None:
                errors.append((f"{where}.{input_id}", f"Unknown input of '{self.slug}'. Inputs: {ids}"))
            elif type_ is not None and type_ != port.type:
                errors.append((f"{where}.{input_id}", f"Expected type {port.type}, received {type_}"))
            elif not isinstance(value, str) or not value.strip():
                errors.append((f"{where}.{input_id}", "Expected a non-empty string"))
            elif port.type in _MEDIA_TYPES and urlsplit(value).scheme not in ("http", "https"):
                errors.append((f"{where}.{input_id}", f"Expected an http(s) URL for a {port.type} input"))
        for port in self.inputs:
            if port.required and port.id not in given:
                errors.append((f"{where}.{port.id}", f"Required: {port.name} ({port.type})"))
        return errors


def _open(loaded: Loaded | None) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(loaded.content or b"" if loaded else b""))
        image.load()
    except (OSError, ValueError) as exc:
        raise WorkFailed(f"The image input could not be decoded: {exc}") from None
    return image.convert("RGBA")


def _dims(ratio: str) -> tuple[int, int]:
    w, h = (int(part) for part in ratio.split(":"))
    return (LONG_SIDE, round(LONG_SIDE * h / w)) if w >= h else (round(LONG_SIDE * w / h), LONG_SIDE)


def _shade(color: tuple[int, ...], factor: float) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, int(c * factor))) for c in color[:3])
    return r, g, b


def _frame(product: Image.Image, ratio: str, setting: str) -> Made:
    """The product on a backdrop of its own mean color, with a soft shadow, a frame and a caption."""
    w, h = _dims(ratio)
    mean = product.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(mean, tuple)
    top, bottom = _shade(mean, 1.35), _shade(mean, 0.55)
    mask = Image.linear_gradient("L").resize((w, h))
    scene = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask).convert(
        "RGBA"
    )
    fitted = ImageOps.contain(product, (int(w * 0.62), int(h * 0.62)), Image.Resampling.LANCZOS)
    x, y = (w - fitted.width) // 2, int(h * 0.46 - fitted.height / 2)
    shadow = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    floor = y + fitted.height
    ImageDraw.Draw(shadow).ellipse(
        (x, floor - fitted.height * 0.06, x + fitted.width, floor + fitted.height * 0.06), fill=(0, 0, 0, 110)
    )
    scene = Image.alpha_composite(scene, shadow.filter(ImageFilter.GaussianBlur(min(w, h) // 60)))
    scene.alpha_composite(fitted, (x, y))
    draw = ImageDraw.Draw(scene)
    inset, line = min(w, h) // 28, max(2, min(w, h) // 200)
    draw.rectangle((inset, inset, w - inset, h - inset), outline=(255, 255, 255, 230), width=line)
    caption = textwrap.shorten(setting, 60) if setting else "Product shot"
    font = ImageFont.load_default(size=max(14, min(w, h) // 30))
    draw.text((2 * inset, h - 2 * inset - min(w, h) // 30), caption, font=font, fill=(255, 255, 255, 240))
    out = io.BytesIO()
    scene.convert("RGB").save(out, format="PNG", compress_level=3)
    return Made("imageUrl", "png", out.getvalue(), "image/png")


def product_shot(inputs: Mapping[str, Loaded]) -> list[Made]:
    product = _open(inputs.get("product"))
    setting = inputs["setting"].text or "" if "setting" in inputs else ""
    return [_frame(product, ratio, setting) for ratio in ("1:1", "16:9", "9:16")]


def poster(inputs: Mapping[str, Loaded]) -> list[Made]:
    """The picture filling a 3:4 frame, darkened at the foot under the headline."""
    w, h = _dims("3:4")
    scene = ImageOps.fit(_open(inputs.get("picture")), (w, h), Image.Resampling.LANCZOS)
    shade = Image.linear_gradient("L").resize((w, h)).point(lambda v: max(0, v - 110) * 2)
    scene = Image.composite(Image.new("RGBA", (w, h), (0, 0, 0, 255)), scene, shade)
    draw = ImageDraw.Draw(scene)
    font = ImageFont.load_default(size=w // 14)
    lines = textwrap.wrap(inputs["headline"].text or "", width=18)[:3]
    for i, line in enumerate(lines):
        y = h - (len(lines) - i) * (w // 12) - w // 16
        draw.text((w // 16, y), line, font=font, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    scene.convert("RGB").save(out, format="PNG", compress_level=3)
    return [Made("imageUrl", "png", out.getvalue(), "image/png")]


def tagline_writer(inputs: Mapping[str, Loaded]) -> list[Made]:
    brief = " ".join((inputs["brief"].text or "").split())
    words = sorted({w.strip(".,;:!?\"'()").lower() for w in brief.split()}, key=lambda w: (-len(w), w))
    key = [w for w in words if w][:3] or ["it"]
    pick = hashlib.sha256(brief.encode()).digest()[0] % 3
    lines = [
        f"{key[0].capitalize()}, made for every day.",
        f"Less noise. More {key[min(1, len(key) - 1)]}.",
        f"The {key[min(2, len(key) - 1)]} you will reach for first.",
    ]
    lines = lines[pick:] + lines[:pick]
    text = f"[FLORA sandbox · tagline-writer]\nBrief: {brief}\n\n" + "\n".join(lines) + "\n"
    return [Made("text", "txt", text.encode(), "text/plain; charset=utf-8")]


TECHNIQUES: tuple[Technique, ...] = (
    Technique(
        "product-shot",
        "Product Shot",
        "Frame a product photo as three studio shots: square, landscape and portrait.",
        0.12,
        (
            Port("product", "Product photo", "imageUrl", "The product on a plain background."),
            Port("setting", "Setting", "text", "The scene or mood: 'marble counter'.", optional=True),
        ),
        (
            Port("square", "Square shot", "imageUrl", "The product framed 1:1.", aspect_ratio="1:1"),
            Port("landscape", "Landscape shot", "imageUrl", "The product framed 16:9.", aspect_ratio="16:9"),
            Port("portrait", "Portrait shot", "imageUrl", "The product framed 9:16.", aspect_ratio="9:16"),
        ),
        product_shot,
    ),
    Technique(
        "poster",
        "Poster",
        "Turn a picture and a headline into a 3:4 poster.",
        0.04,
        (
            Port("picture", "Picture", "imageUrl", "The picture that fills the poster."),
            Port("headline", "Headline", "text", "A few words, set large at the foot.", allow_multiple=True),
        ),
        (Port("poster", "Poster", "imageUrl", "The poster, 3:4.", aspect_ratio="3:4"),),
        poster,
        estimated_seconds=10,
    ),
    Technique(
        "tagline-writer",
        "Tagline Writer",
        "Write three short taglines from a product brief.",
        0.01,
        (Port("brief", "Brief", "text", "What the product is and who it is for."),),
        (Port("taglines", "Taglines", "text", "Three taglines, one a line."),),
        tagline_writer,
        estimated_seconds=6,
    ),
)


def find_technique(key: str) -> Technique | None:
    """By technique_id (`tech_product-shot`) or by slug (`product-shot`)."""
    return next((t for t in TECHNIQUES if key in (t.technique_id, t.slug)), None)
