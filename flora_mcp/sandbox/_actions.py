"""The sandbox's released actions: free, deterministic transforms that do real work with Pillow.

Ids, params and slots follow FLORA's own (the contract's `action_id` enum, the SDK's param types):
`change-image-ar` (crop or pad to a ratio), `rotate-image`, `flip-image`, `side-by-side-composite`,
`split-text` and `find-and-replace-text`. The contract's enum has no image-resize slug (only
`resize-video`), so the sandbox offers none either.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageFilter, ImageOps

from flora_mcp.sandbox._errors import FieldError
from flora_mcp.sandbox._jobs import Loaded, Made, WorkFailed

RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Slot:
    name: str
    type: str
    dynamic: bool = False
    least: int = 1  # how many inputs of this type it needs
    most: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "dynamic": self.dynamic}


@dataclass(frozen=True)
class ActionParam:
    key: str
    type: str  # select | number | boolean | color | text
    label: str
    tooltip: str
    default: Any
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "type": self.type,
            "label": self.label,
            "info_tooltip": self.tooltip,
            "default_value": self.default,
        }
        if self.values:
            out["available_values"] = [{"value": v, "label": v} for v in self.values]
        for name, value in (
            ("min_number_value", self.low),
            ("max_number_value", self.high),
            ("number_step", self.step),
        ):
            if value is not None:
                out[name] = value
        return out

    def problem(self, value: Any) -> str | None:
        if self.type == "select":
            ok = isinstance(value, str) and value in self.values
            return None if ok else f"Expected one of: {', '.join(self.values)}"
        if self.type == "boolean":
            return None if isinstance(value, bool) else "Expected a boolean"
        if self.type == "color":
            ok = isinstance(value, str) and _COLOR.fullmatch(value) is not None
            return None if ok else "Expected a color as #rrggbb"
        if self.type == "text":
            return None if isinstance(value, str) else "Expected a string"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "Expected a number"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"Must be between {self.low:g} and {self.high:g}"
        return None


Work = Callable[[list[Loaded], Mapping[str, Any]], list[Made]]


@dataclass(frozen=True)
class Action:
    action_id: str
    name: str
    description: str
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    params: tuple[ActionParam, ...]
    work: Work = field(repr=False)
    language: str = "python"
    charged_cost: float = 0.0  # the released prebuilt actions are free
    estimated_seconds: int = 3

    def to_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "name": self.name,
            "description": self.description,
            "language": self.language,
            "charged_cost": self.charged_cost,
            "inputs": [s.to_json() for s in self.inputs],
            "outputs": [s.to_json() for s in self.outputs],
            "params": [p.to_json() for p in self.params],
        }

    def check(self, inputs: list[dict[str, Any]], params: Mapping[str, Any]) -> list[FieldError]:
        """Inputs against the slots, params against their declarations; unknown param keys are ignored."""
        errors: list[FieldError] = []
        for slot in self.inputs:
            count = sum(1 for item in inputs if item.get("type") == slot.type)
            if not slot.least <= count <= slot.most:
                wanted = str(slot.least) if slot.least == slot.most else f"{slot.least} to {slot.most}"
                errors.append(
                    ("inputs", f"'{self.action_id}' takes {wanted} {slot.type} input(s), got {count}")
                )
        types = {s.type for s in self.inputs}
        for i, item in enumerate(inputs):
            if item.get("type") not in types:
                errors.append((f"inputs[{i}].type", f"'{self.action_id}' takes no {item.get('type')} input"))
            elif item["type"] == "text" and "text" not in item and "url" not in item:
                errors.append((f"inputs[{i}]", "A text input needs 'text' or 'url'"))
            elif item["type"] != "text" and "url" not in item:
                errors.append((f"inputs[{i}].url", f"A {item['type']} input needs 'url'"))
        for param in self.params:
            if param.key in params and (problem := param.problem(params[param.key])) is not None:
                errors.append((f"params.{param.key}", problem))
        return errors

    def resolved(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {p.key: params.get(p.key, p.default) for p in self.params}


def _open(loaded: Loaded) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(loaded.content or b""))
        image.load()
    except (OSError, ValueError) as exc:
        raise WorkFailed(f"An image input could not be decoded: {exc}") from None
    return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")


def _png(image: Image.Image) -> Made:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return Made("imageUrl", "png", out.getvalue(), "image/png")


def _text(value: str) -> Made:
    return Made("text", "txt", value.encode(), "text/plain; charset=utf-8")


def _ratio(value: str) -> float:
    w, h = (int(part) for part in value.split(":"))
    return w / h


def change_ar(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    image = _open(inputs[0])
    target, (w, h) = _ratio(params["aspect_ratio"]), image.size
    if params["fit"] == "crop":
        size = (round(h * target), h) if w / h > target else (w, round(w / target))
        result = ImageOps.fit(image, size, method=Image.Resampling.LANCZOS)
    else:
        size = (w, round(w / target)) if w / h > target else (round(h * target), h)
        if params["background_mode"] == "blur":
            background = ImageOps.fit(image, size).filter(ImageFilter.GaussianBlur(params["blur_amount"]))
        else:
            background = Image.new(image.mode, size, params["pad_color"])
        background.paste(image, ((size[0] - w) // 2, (size[1] - h) // 2))
        result = background
    return [_png(result)]


def rotate(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    image = _open(inputs[0]).convert("RGBA")
    fill = (0, 0, 0, 0) if params["transparent"] else params["background"]
    turned = image.rotate(
        -float(params["angle"]), Image.Resampling.BICUBIC, expand=params["expand"], fillcolor=fill
    )
    return [_png(turned)]


def flip(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    image = _open(inputs[0])
    if params["direction"] in ("horizontal", "both"):
        image = ImageOps.mirror(image)
    if params["direction"] in ("vertical", "both"):
        image = ImageOps.flip(image)
    return [_png(image)]


def side_by_side(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    images = [_open(item).convert("RGB") for item in inputs]
    layout = params["layout"]
    if layout == "auto":
        layout = "grid-2x2" if len(images) == 4 else f"horizontal-{len(images)}"
    if layout == "grid-2x2" and len(images) != 4:
        raise WorkFailed("The grid-2x2 layout takes 4 images.")
    vertical = layout.startswith("vertical")
    gap = int(params["gap"])
    if layout == "grid-2x2":
        cell = min(min(i.size) for i in images)
        tiles = [ImageOps.fit(i, (cell, cell)) for i in images]
        canvas = Image.new("RGB", (2 * cell + gap, 2 * cell + gap), params["background"])
        for n, tile in enumerate(tiles):
            canvas.paste(tile, ((n % 2) * (cell + gap), (n // 2) * (cell + gap)))
        return [_png(canvas)]
    sides = [i.size[0] if vertical else i.size[1] for i in images]
    common = min(sides) if params["normalize"] == "match-shortest" else max(sides)
    scaled = [
        i.resize(
            (common, round(i.size[1] * common / i.size[0]))
            if vertical
            else (round(i.size[0] * common / i.size[1]), common)
        )
        for i in images
    ]
    if vertical:
        size = (common, sum(i.size[1] for i in scaled) + gap * (len(scaled) - 1))
    else:
        size = (sum(i.size[0] for i in scaled) + gap * (len(scaled) - 1), common)
    canvas = Image.new("RGB", size, params["background"])
    offset = 0
    for image in scaled:
        canvas.paste(image, (0, offset) if vertical else (offset, 0))
        offset += (image.size[1] if vertical else image.size[0]) + gap
    return [_png(canvas)]


def split_text(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    text = inputs[0].text or ""
    mode = params["split_mode"]
    if mode == "paragraph":
        parts = re.split(r"\n\s*\n", text)
    elif mode == "lines":
        lines, every = text.splitlines(), int(params["lines_per_part"])
        parts = ["\n".join(lines[i : i + every]) for i in range(0, len(lines), every)]
    elif mode == "charCount":
        every = int(params["chars_per_part"])
        parts = [text[i : i + every] for i in range(0, len(text), every)]
    else:
        parts = text.split(params["separator"].replace("\\n", "\n") or "\n")
    if params["trim_parts"]:
        parts = [p.strip() for p in parts]
    if params["skip_empty"]:
        parts = [p for p in parts if p]
    return [_text(p) for p in parts[: int(params["max_parts"])]] or [_text("")]


def find_and_replace(inputs: list[Loaded], params: Mapping[str, Any]) -> list[Made]:
    text, find = inputs[0].text or "", params["find"]
    if not find:
        return [_text(text)]
    pattern = re.escape(find)
    if params["whole_word"]:
        pattern = rf"\b{pattern}\b"
    flags = 0 if params["case_sensitive"] else re.IGNORECASE
    replaced = re.sub(
        pattern, lambda _: params["replace"], text, count=0 if params["replace_all"] else 1, flags=flags
    )
    return [_text(replaced)]


_SOURCE = (Slot("source", "image"),)
_TEXT_IN = (Slot("text", "text"),)

ACTIONS: dict[str, Action] = {
    a.action_id: a
    for a in (
        Action(
            "change-image-ar",
            "Pad / Crop Image to AR",
            "Change an image's aspect ratio by cropping it or padding it.",
            _SOURCE,
            (Slot("output", "image"),),
            (
                ActionParam(
                    "aspect_ratio", "select", "Aspect ratio", "The ratio of the result.", "1:1", RATIOS
                ),
                ActionParam(
                    "fit", "select", "Fit", "Crop the image, or pad around it.", "crop", ("crop", "pad")
                ),
                ActionParam(
                    "background_mode",
                    "select",
                    "Padding",
                    "What fills the padding.",
                    "solid",
                    ("solid", "blur"),
                ),
                ActionParam(
                    "blur_amount", "number", "Blur", "Blur of a blurred padding.", 24, low=0, high=100, step=1
                ),
                ActionParam("pad_color", "color", "Pad color", "Color of a solid padding.", "#000000"),
            ),
            change_ar,
        ),
        Action(
            "rotate-image",
            "Rotate Image",
            "Rotate an image clockwise by an angle.",
            _SOURCE,
            (Slot("result", "image"),),
            (
                ActionParam(
                    "angle", "number", "Angle", "Degrees, clockwise.", 90, low=-360, high=360, step=1
                ),
                ActionParam("expand", "boolean", "Expand", "Grow the canvas to keep the corners.", True),
                ActionParam("background", "color", "Background", "Fill of the uncovered corners.", "#000000"),
                ActionParam("transparent", "boolean", "Transparent", "Leave the corners transparent.", False),
            ),
            rotate,
        ),
        Action(
            "flip-image",
            "Flip Image",
            "Mirror an image horizontally, vertically or both.",
            _SOURCE,
            (Slot("result", "image"),),
            (
                ActionParam(
                    "direction",
                    "select",
                    "Direction",
                    "Which way to flip.",
                    "horizontal",
                    ("horizontal", "vertical", "both"),
                ),
            ),
            flip,
        ),
        Action(
            "side-by-side-composite",
            "Side by Side",
            "Put 2 to 4 images next to each other, in a row, a column or a 2x2 grid.",
            (Slot("images", "image", dynamic=True, least=2, most=4),),
            (Slot("composite", "image"),),
            (
                ActionParam(
                    "layout",
                    "select",
                    "Layout",
                    "How the images are placed.",
                    "auto",
                    ("auto", "horizontal-2", "horizontal-3", "vertical-2", "vertical-3", "grid-2x2"),
                ),
                ActionParam("gap", "number", "Gap", "Pixels between the images.", 0, low=0, high=200, step=1),
                ActionParam("background", "color", "Background", "Color of the gaps.", "#ffffff"),
                ActionParam(
                    "normalize",
                    "select",
                    "Normalize",
                    "Scale the images to the shortest or the largest.",
                    "match-shortest",
                    ("match-shortest", "match-largest"),
                ),
            ),
            side_by_side,
        ),
        Action(
            "split-text",
            "Split Text",
            "Split a text into parts: by separator, paragraph, lines or characters; one output per part.",
            _TEXT_IN,
            (Slot("parts", "text", dynamic=True),),
            (
                ActionParam(
                    "split_mode",
                    "select",
                    "Split by",
                    "How to split.",
                    "paragraph",
                    ("separator", "paragraph", "lines", "charCount"),
                ),
                ActionParam("separator", "text", "Separator", "Used by the separator mode.", "\\n"),
                ActionParam(
                    "lines_per_part", "number", "Lines", "Lines per part.", 1, low=1, high=1000, step=1
                ),
                ActionParam(
                    "chars_per_part",
                    "number",
                    "Characters",
                    "Characters per part.",
                    500,
                    low=1,
                    high=100000,
                    step=1,
                ),
                ActionParam(
                    "max_parts",
                    "number",
                    "Max parts",
                    "At most this many parts.",
                    20,
                    low=1,
                    high=100,
                    step=1,
                ),
                ActionParam("trim_parts", "boolean", "Trim", "Trim spaces around each part.", True),
                ActionParam("skip_empty", "boolean", "Skip empty", "Leave out empty parts.", True),
            ),
            split_text,
            estimated_seconds=1,
        ),
        Action(
            "find-and-replace-text",
            "Find and Replace",
            "Replace words or phrases in a text.",
            _TEXT_IN,
            (Slot("text", "text"),),
            (
                ActionParam("find", "text", "Find", "The text to find.", ""),
                ActionParam("replace", "text", "Replace", "What replaces it.", ""),
                ActionParam("case_sensitive", "boolean", "Case sensitive", "Match case.", False),
                ActionParam("whole_word", "boolean", "Whole word", "Match whole words only.", False),
                ActionParam(
                    "replace_all", "boolean", "Replace all", "Every match, not only the first.", True
                ),
            ),
            find_and_replace,
            estimated_seconds=1,
        ),
    )
}
