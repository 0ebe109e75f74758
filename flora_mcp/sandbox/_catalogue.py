"""The sandbox's model catalogue, shaped like FLORA's `GET /models` answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPES = ("image", "video", "audio", "text")
SEED_MAX = 2147483647


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # string | string[] | bool | int | int? | seed | float | dict
    label: str
    description: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    options: tuple[tuple[str, str], ...] = ()  # (label, value)
    required: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.default is not None:
            out["default"] = self.default
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        out["label"] = self.label
        out["description"] = self.description
        if self.options:
            out["options"] = [{"label": label, "value": value} for label, value in self.options]
        return out


@dataclass(frozen=True)
class Model:
    model_id: str
    name: str
    type: str
    provider: str
    capabilities: tuple[str, ...]
    estimated_credits: int
    estimated_seconds: int
    params: tuple[Param, ...]
    beta: bool = False

    @property
    def price_usd(self) -> float:
        return round(self.estimated_credits * 0.01, 4)  # the sandbox's made-up rate: a cent a credit

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "name": self.name,
            "type": self.type,
            "provider": self.provider,
            "capabilities": list(self.capabilities),
            "estimated_credits": self.estimated_credits,
            "estimated_seconds": self.estimated_seconds,
            "params": [p.to_json() for p in self.params],
        }
        if self.beta:
            out["beta"] = True
        return out


def _aspect_ratio(default: str, *values: str) -> Param:
    return Param(
        "aspect_ratio",
        "string",
        "Aspect ratio",
        "Width:height of the output.",
        default=default,
        options=tuple((v, v) for v in values),
    )


_SEED = Param(
    "seed",
    "seed",
    "Seed",
    "Same seed and prompt give the same output; random when left out.",
    min=0,
    max=SEED_MAX,
)
_IMAGE_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16")

# The first model of each type is that type's default (what an omitted `model` means).
MODELS: tuple[Model, ...] = (
    Model(
        "t2i-flux-2-pro",
        "FLUX.2 [pro]",
        "image",
        "Black Forest Labs",
        ("text-to-image",),
        estimated_credits=5,
        estimated_seconds=12,
        params=(
            _aspect_ratio("1:1", *_IMAGE_RATIOS),
            _SEED,
            Param(
                "guidance",
                "float",
                "Guidance",
                "How closely the image follows the prompt.",
                default=3.5,
                min=1.5,
                max=10.0,
            ),
            Param(
                "output_format",
                "string",
                "Output format",
                "File format of the image.",
                default="png",
                options=(("PNG", "png"), ("JPEG", "jpeg")),
            ),
        ),
    ),
    Model(
        "t2i-imagen-4",
        "Imagen 4",
        "image",
        "Google",
        ("text-to-image",),
        estimated_credits=4,
        estimated_seconds=10,
        params=(_aspect_ratio("1:1", *_IMAGE_RATIOS), _SEED),
    ),
    Model(
        "t2v-veo-3",
        "Veo 3",
        "video",
        "Google",
        ("text-to-video",),
        estimated_credits=120,
        estimated_seconds=60,
        params=(
            _aspect_ratio("16:9", "16:9", "9:16", "1:1"),
            Param("duration", "int", "Duration", "Length of the clip in seconds.", default=8, min=4, max=8),
            _SEED,
        ),
    ),
    Model(
        "t2a-stable-audio-2",
        "Stable Audio 2",
        "audio",
        "Stability AI",
        ("text-to-audio",),
        estimated_credits=10,
        estimated_seconds=20,
        params=(
            Param(
                "duration", "int", "Duration", "Length of the audio in seconds.", default=10, min=1, max=47
            ),
            _SEED,
        ),
    ),
    Model(
        "llm-claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "text",
        "Anthropic",
        ("text-generation",),
        estimated_credits=1,
        estimated_seconds=6,
        params=(
            Param("max_tokens", "int", "Max tokens", "Upper bound on the answer's length.", min=1, max=8192),
            Param(
                "temperature", "float", "Temperature", "Sampling temperature.", default=1.0, min=0.0, max=1.0
            ),
        ),
    ),
)


def models_of(type_: str | None) -> list[Model]:
    return [m for m in MODELS if type_ is None or m.type == type_]
