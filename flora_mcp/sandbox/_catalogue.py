"""The sandbox's model catalogue, shaped like FLORA's `GET /models` answer on a real workspace.

What it copies from the real service (see docs/sandbox-behaviour.md): 50+ models of every type in
one unpaged list, ids whose prefix names the modality (`t2i-`, `i2i-`, `i2v-`, ...), image prices
about 200x apart, option values that differ per model (`1:1`, `square_1_1`, `ASPECT_1_1`,
`1024x1024`), values that are strings, and a workspace default per type that is cheap and is not
the first entry of its type. Reference inputs are not params: the prefix implies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

TYPES = ("image", "video", "audio", "text")
SEED_MAX = 2147483647
CREDIT_USD: Final = 0.0025  # what one of `estimated_credits` is worth here: not a dollar

# The workspace default of each type: what an omitted `model` on POST /generate runs. Tests may read
# it; the client and the server must not (they cannot know a real workspace's default).
DEFAULT_MODELS: Final = {
    "image": "t2i-nano-banana",
    "video": "t2v-seedance-1-lite",
    "audio": "t2a-elevenlabs-sound-effects",
    "text": "t2t-gemini-2-5-flash",
}

_TYPE_OF_PREFIX: Final = {
    "t2i": "image",
    "i2i": "image",
    "t2v": "video",
    "i2v": "video",
    "iv2v": "video",
    "v2v": "video",
    "r2v": "video",
    "t2a": "audio",
    "tts": "audio",
    "t2t": "text",
    "i2t": "text",
    "v2t": "text",
}
_CAPABILITY: Final = {
    "t2i": "text-to-image",
    "i2i": "image-to-image",
    "t2v": "text-to-video",
    "i2v": "image-to-video",
    "iv2v": "image-and-video-to-video",
    "v2v": "video-to-video",
    "r2v": "reference-to-video",
    "t2a": "text-to-audio",
    "tts": "text-to-speech",
    "t2t": "text-generation",
    "i2t": "image-to-text",
    "v2t": "video-to-text",
}
# Reference inputs by prefix, as FLORA reads them from `params`: a URL string or an array of URLs.
REFERENCES: Final[dict[str, tuple[str, ...]]] = {
    "i2i": ("image_url",),
    "i2v": ("image_url",),
    "iv2v": ("image_url", "video_url"),
    "i2t": ("image_urls",),
    "v2t": ("video_urls",),
}
CANVAS_SOURCED: Final = ("v2v", "r2v")  # their source comes through a canvas edge, never a URL


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # string | string[] | bool | int | int? | seed | float | dict
    label: str
    description: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    options: tuple[tuple[str, str], ...] = ()  # (label, value); values are strings
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
    provider: str
    price_usd: float  # what a run settles at; the start answer quotes something else
    estimated_seconds: int
    params: tuple[Param, ...]
    beta: bool = False

    @property
    def prefix(self) -> str:
        return self.model_id.split("-", 1)[0]

    @property
    def type(self) -> str:
        return _TYPE_OF_PREFIX[self.prefix]

    @property
    def references(self) -> tuple[str, ...]:
        """The `params` names this model reads reference URLs from (all of them required)."""
        return REFERENCES.get(self.prefix, ())

    @property
    def canvas_sourced(self) -> bool:
        return self.prefix in CANVAS_SOURCED

    @property
    def estimated_credits(self) -> int:
        return max(1, math.ceil(self.price_usd / CREDIT_USD))

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "name": self.name,
            "type": self.type,
            "provider": self.provider,
            "capabilities": [_CAPABILITY[self.prefix]],
            "estimated_credits": self.estimated_credits,
            "estimated_seconds": self.estimated_seconds,
            "params": [p.to_json() for p in self.params],
        }
        if self.beta:
            out["beta"] = True
        return out


# Param builders. Each provider spells the same aspect ratio its own way; the sandbox keeps that.


def _colon(ratio: str) -> tuple[str, str]:
    return ratio, ratio


def _named(ratio: str) -> tuple[str, str]:
    w, h = ratio.split(":")
    shape = "square" if w == h else ("landscape" if int(w) > int(h) else "portrait")
    return f"{shape.title()} {ratio}", f"{shape}_{w}_{h}"


def _ideogram(ratio: str) -> tuple[str, str]:
    w, h = ratio.split(":")
    return ratio, f"ASPECT_{w}_{h}"


def _ratios(name: str, spell: Any, default: str | None, *ratios: str) -> Param:
    options = tuple(spell(r) for r in ratios)
    default_value = next(v for label, v in options if label.endswith(default)) if default else None
    return Param(name, "string", "Aspect ratio", "Shape of the output.", default_value, options=options)


def _choice(name: str, label: str, default: str | None, *values: str, description: str = "") -> Param:
    return Param(
        name, "string", label, description or label + ".", default, options=tuple((v, v) for v in values)
    )


def _int(name: str, label: str, default: int | None, low: int, high: int) -> Param:
    return Param(name, "int", label, label + ".", default, min=low, max=high)


def _float(name: str, label: str, default: float | None, low: float, high: float) -> Param:
    return Param(name, "float", label, label + ".", default, min=low, max=high)


def _bool(name: str, label: str, default: bool) -> Param:
    return Param(name, "bool", label, label + ".", default)


def _text(name: str, label: str) -> Param:
    return Param(name, "string", label, label + ".")


SEED = Param(
    "seed",
    "seed",
    "Seed",
    "Same seed and prompt give the same output; random when left out.",
    min=0,
    max=SEED_MAX,
)
_COMMON = ("1:1", "4:3", "3:4", "16:9", "9:16")
_WIDE = (*_COMMON, "3:2", "2:3", "21:9")
_FORMAT = _choice("output_format", "Output format", "png", "png", "jpeg")
_NEGATIVE = _text("negative_prompt", "What to keep out of the output")
_VIDEO_RATIOS = ("16:9", "9:16", "1:1")
_SECONDS_5_10 = _choice("duration", "Duration (seconds)", "5", "5", "10")
_PIXELS = (("Square", "1024x1024"), ("Landscape", "1536x1024"), ("Portrait", "1024x1536"))
_VOICES = _choice("voice", "Voice", "Rachel", "Rachel", "Adam", "Bella", "Antoni")


def _m(model_id: str, name: str, provider: str, price: float, seconds: int, *params: Param) -> Model:
    return Model(model_id, name, provider, price, seconds, params)


# The order is FLORA's kind of order: not by type, not by price, and no default comes first.
MODELS: tuple[Model, ...] = (
    _m(
        "i2i-flux-kontext-max",
        "FLUX.1 Kontext [max]",
        "Black Forest Labs",
        0.08,
        14,
        _ratios("aspect_ratio", _colon, None, *_WIDE),
        SEED,
        _float("guidance_scale", "Guidance", 3.5, 1, 20),
    ),
    _m(
        "t2i-gpt-image-1-hd",
        "GPT Image 1 (high, HD)",
        "OpenAI",
        0.873,
        45,
        Param("size", "string", "Size", "Pixel size of the output.", "1024x1024", options=_PIXELS),
        _choice("quality", "Quality", "high", "low", "medium", "high"),
        _choice("background", "Background", "auto", "auto", "transparent", "opaque"),
    ),
    _m(
        "t2v-veo-3",
        "Veo 3",
        "Google",
        3.2,
        60,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _int("duration", "Duration (seconds)", 8, 4, 8),
        _bool("generate_audio", "Generate audio", True),
        SEED,
    ),
    _m(
        "t2i-flux-2-pro",
        "FLUX.2 [pro]",
        "Black Forest Labs",
        0.045,
        12,
        _ratios("aspect_ratio", _colon, "1:1", *_COMMON),
        SEED,
        _float("guidance", "Guidance", 3.5, 1.5, 10.0),
        _FORMAT,
    ),
    _m(
        "t2t-claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "Anthropic",
        0.012,
        8,
        _int("max_tokens", "Max tokens", None, 1, 8192),
        _float("temperature", "Temperature", 1.0, 0.0, 1.0),
    ),
    _m(
        "i2v-kling-2-1",
        "Kling 2.1 (image to video)",
        "Kuaishou",
        0.49,
        90,
        _SECONDS_5_10,
        _NEGATIVE,
        _float("cfg_scale", "Guidance", 0.5, 0, 1),
    ),
    _m(
        "t2i-flux-schnell",
        "FLUX.1 [schnell]",
        "Black Forest Labs",
        0.004,
        3,
        _ratios("image_size", _named, "1:1", *_COMMON),
        _int("num_inference_steps", "Steps", 4, 1, 12),
        SEED,
    ),
    _m(
        "t2a-stable-audio-2",
        "Stable Audio 2",
        "Stability AI",
        0.2,
        20,
        _int("duration", "Duration (seconds)", 10, 1, 47),
        SEED,
    ),
    _m(
        "i2i-nano-banana-edit",
        "Nano Banana (edit)",
        "Google",
        0.039,
        10,
        _ratios("aspect_ratio", _colon, None, *_WIDE),
        _FORMAT,
    ),
    _m(
        "t2i-imagen-4", "Imagen 4", "Google", 0.04, 10, _ratios("aspect_ratio", _colon, "1:1", *_COMMON), SEED
    ),
    _m(
        "t2v-kling-2-1-master",
        "Kling 2.1 Master",
        "Kuaishou",
        1.4,
        120,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _SECONDS_5_10,
        _NEGATIVE,
        _float("cfg_scale", "Guidance", 0.5, 0, 1),
    ),
    _m(
        "t2i-ideogram-v3",
        "Ideogram 3.0",
        "Ideogram",
        0.08,
        14,
        _ratios("aspect_ratio", _ideogram, "1:1", *_WIDE),
        _choice("rendering_speed", "Rendering speed", "BALANCED", "TURBO", "BALANCED", "QUALITY"),
        _choice("style_type", "Style", "AUTO", "AUTO", "GENERAL", "REALISTIC", "DESIGN"),
        SEED,
    ),
    _m(
        "v2t-gemini-2-5-pro-video",
        "Gemini 2.5 Pro (video understanding)",
        "Google",
        0.03,
        20,
        _int("max_tokens", "Max tokens", 2048, 1, 8192),
    ),
    _m(
        "i2i-flux-kontext-pro",
        "FLUX.1 Kontext [pro]",
        "Black Forest Labs",
        0.04,
        12,
        _ratios("aspect_ratio", _colon, None, *_WIDE),
        SEED,
        _float("guidance_scale", "Guidance", 3.5, 1, 20),
    ),
    _m(
        "tts-elevenlabs-v3",
        "Eleven v3 (speech)",
        "ElevenLabs",
        0.1,
        12,
        _VOICES,
        _float("stability", "Stability", 0.5, 0, 1),
    ),
    _m(
        "t2i-recraft-v3",
        "Recraft V3",
        "Recraft",
        0.04,
        10,
        _ratios("image_size", _named, "1:1", *_COMMON),
        _choice(
            "style",
            "Style",
            "realistic_image",
            "realistic_image",
            "digital_illustration",
            "vector_illustration",
        ),
    ),
    _m(
        "t2v-seedance-1-pro",
        "Seedance 1.0 Pro",
        "ByteDance",
        0.62,
        80,
        _ratios("aspect_ratio", _colon, "16:9", *_WIDE),
        _SECONDS_5_10,
        _choice("resolution", "Resolution", "1080p", "480p", "720p", "1080p"),
        SEED,
    ),
    _m(
        "t2i-nano-banana",
        "Nano Banana",
        "Google",
        0.039,
        8,
        _ratios("aspect_ratio", _colon, "1:1", *_WIDE),
        _FORMAT,
    ),
    _m(
        "i2t-florence-2-caption",
        "Florence-2 (caption)",
        "Microsoft",
        0.001,
        4,
        _choice("detail", "Detail", "detailed", "brief", "detailed", "more_detailed"),
    ),
    _m(
        "iv2v-wan-2-2-animate",
        "Wan 2.2 Animate",
        "Alibaba",
        0.4,
        90,
        _choice("resolution", "Resolution", "720p", "480p", "580p", "720p"),
        SEED,
    ),
    _m(
        "t2i-seedream-4",
        "Seedream 4.0",
        "ByteDance",
        0.03,
        12,
        _ratios("aspect_ratio", _colon, "1:1", *_WIDE),
        SEED,
    ),
    _m(
        "t2v-hailuo-02",
        "Hailuo 02",
        "MiniMax",
        0.27,
        90,
        _choice("duration", "Duration (seconds)", "6", "6", "10"),
        _choice("resolution", "Resolution", "768P", "768P", "1080P"),
        _bool("prompt_optimizer", "Optimise prompt", True),
    ),
    _m(
        "t2t-gpt-5",
        "GPT-5",
        "OpenAI",
        0.01,
        12,
        _choice("reasoning_effort", "Reasoning effort", "medium", "minimal", "low", "medium", "high"),
    ),
    _m(
        "i2i-seededit-3",
        "SeedEdit 3.0",
        "ByteDance",
        0.03,
        10,
        _float("guidance_scale", "Guidance", 0.5, 0, 1),
        SEED,
    ),
    _m(
        "t2i-imagen-4-ultra",
        "Imagen 4 Ultra",
        "Google",
        0.06,
        16,
        _ratios("aspect_ratio", _colon, "1:1", *_COMMON),
        SEED,
    ),
    _m(
        "r2v-vidu-q1-reference",
        "Vidu Q1 (reference to video)",
        "Vidu",
        0.4,
        70,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        SEED,
    ),
    _m("t2a-lyria-2", "Lyria 2", "Google", 0.1, 30, _NEGATIVE, SEED),
    _m(
        "t2i-flux-1-1-pro-ultra",
        "FLUX1.1 [pro] ultra",
        "Black Forest Labs",
        0.06,
        15,
        _ratios("aspect_ratio", _colon, "16:9", *_WIDE),
        _bool("raw", "Raw look", False),
        SEED,
    ),
    _m(
        "t2v-seedance-1-lite",
        "Seedance 1.0 Lite",
        "ByteDance",
        0.18,
        40,
        _ratios("aspect_ratio", _colon, "16:9", *_WIDE),
        _SECONDS_5_10,
        _choice("resolution", "Resolution", "720p", "480p", "720p"),
        SEED,
    ),
    _m(
        "i2i-gpt-image-1-edit",
        "GPT Image 1 (edit)",
        "OpenAI",
        0.167,
        40,
        Param(
            "size",
            "string",
            "Size",
            "Pixel size of the output.",
            "auto",
            options=(("Auto", "auto"), *_PIXELS),
        ),
    ),
    _m(
        "t2t-gemini-2-5-pro",
        "Gemini 2.5 Pro",
        "Google",
        0.01,
        14,
        _float("temperature", "Temperature", 1.0, 0, 2),
    ),
    _m(
        "i2v-runway-gen4-turbo",
        "Runway Gen-4 Turbo",
        "Runway",
        0.25,
        45,
        _choice("ratio", "Ratio", "1280:720", "1280:720", "720:1280", "960:960"),
        _choice("duration", "Duration (seconds)", "10", "5", "10"),
        SEED,
    ),
    _m(
        "t2i-gpt-image-1-mini",
        "GPT Image 1 Mini",
        "OpenAI",
        0.011,
        20,
        Param("size", "string", "Size", "Pixel size of the output.", "1024x1024", options=_PIXELS),
    ),
    _m(
        "tts-minimax-speech-02-hd",
        "MiniMax Speech-02 HD",
        "MiniMax",
        0.05,
        10,
        _choice("voice_id", "Voice", "Wise_Woman", "Wise_Woman", "Deep_Voice_Man", "Calm_Woman"),
        _float("speed", "Speed", 1.0, 0.5, 2.0),
    ),
    _m(
        "t2v-wan-2-2",
        "Wan 2.2",
        "Alibaba",
        0.2,
        70,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _choice("resolution", "Resolution", "720p", "480p", "720p"),
        SEED,
    ),
    _m(
        "i2i-topaz-upscale",
        "Topaz Upscale",
        "Topaz Labs",
        0.08,
        20,
        _choice("upscale_factor", "Upscale factor", "2", "2", "4"),
    ),
    _m(
        "t2t-gemini-2-5-flash",
        "Gemini 2.5 Flash",
        "Google",
        0.001,
        5,
        _float("temperature", "Temperature", 1.0, 0, 2),
        _int("max_tokens", "Max tokens", None, 1, 8192),
    ),
    _m(
        "t2i-qwen-image",
        "Qwen-Image",
        "Alibaba",
        0.02,
        10,
        _ratios("image_size", _named, "1:1", *_COMMON),
        _NEGATIVE,
        SEED,
    ),
    _m(
        "v2v-luma-modify-video",
        "Luma Modify Video",
        "Luma AI",
        1.2,
        120,
        _choice("mode", "Mode", "flex_1", "adhere_1", "flex_1", "reimagine_1"),
    ),
    _m(
        "i2v-veo-3",
        "Veo 3 (image to video)",
        "Google",
        3.2,
        70,
        _bool("generate_audio", "Generate audio", True),
        SEED,
    ),
    _m(
        "t2a-elevenlabs-sound-effects",
        "ElevenLabs Sound Effects",
        "ElevenLabs",
        0.02,
        6,
        _float("duration_seconds", "Duration (seconds)", 5.0, 0.5, 22.0),
        _float("prompt_influence", "Prompt influence", 0.3, 0, 1),
    ),
    _m(
        "t2i-hidream-i1-fast",
        "HiDream-I1 Fast",
        "HiDream",
        0.01,
        6,
        _ratios("aspect_ratio", _colon, "1:1", *_COMMON),
        SEED,
    ),
    _m(
        "i2t-gemini-2-5-flash-vision",
        "Gemini 2.5 Flash (image understanding)",
        "Google",
        0.002,
        6,
        _int("max_tokens", "Max tokens", 1024, 1, 8192),
    ),
    _m(
        "t2v-sora-2",
        "Sora 2",
        "OpenAI",
        0.8,
        150,
        Param(
            "size",
            "string",
            "Size",
            "Pixel size of the clip.",
            "1280x720",
            options=(("Landscape", "1280x720"), ("Portrait", "720x1280")),
        ),
        _choice("seconds", "Duration (seconds)", "4", "4", "8", "12"),
    ),
    _m("i2i-qwen-image-edit", "Qwen-Image Edit", "Alibaba", 0.03, 12, _NEGATIVE, SEED),
    _m(
        "t2i-stable-diffusion-3-5-large",
        "Stable Diffusion 3.5 Large",
        "Stability AI",
        0.065,
        10,
        _ratios("aspect_ratio", _colon, "1:1", *_WIDE),
        _NEGATIVE,
        _float("cfg", "Guidance", 4.5, 1, 10),
        SEED,
    ),
    _m(
        "tts-gpt-4o-mini-tts",
        "GPT-4o mini TTS",
        "OpenAI",
        0.015,
        6,
        _choice("voice", "Voice", "alloy", "alloy", "ash", "coral", "sage"),
        _text("instructions", "Delivery"),
    ),
    _m("i2v-seedance-1-pro", "Seedance 1.0 Pro (image to video)", "ByteDance", 0.62, 80, _SECONDS_5_10, SEED),
    _m(
        "t2v-luma-ray-2",
        "Ray2",
        "Luma AI",
        0.5,
        60,
        _ratios("aspect_ratio", _colon, "16:9", *_WIDE),
        _choice("duration", "Duration", "5s", "5s", "9s"),
        _bool("loop", "Loop", False),
    ),
    _m("t2i-luma-photon", "Photon", "Luma AI", 0.019, 8, _ratios("aspect_ratio", _colon, "16:9", *_WIDE)),
    _m(
        "i2t-gpt-5-vision",
        "GPT-5 (image understanding)",
        "OpenAI",
        0.01,
        12,
        _choice("detail", "Detail", "auto", "low", "high", "auto"),
    ),
    _m("t2a-minimax-music-1-5", "MiniMax Music 1.5", "MiniMax", 0.035, 40, _text("lyrics", "Lyrics")),
    _m("i2i-bria-remove-background", "Bria Remove Background", "Bria", 0.018, 5),
    _m(
        "t2v-kling-2-5-turbo-pro",
        "Kling 2.5 Turbo Pro",
        "Kuaishou",
        0.35,
        60,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _SECONDS_5_10,
        _NEGATIVE,
    ),
    _m(
        "t2t-gpt-5-mini",
        "GPT-5 mini",
        "OpenAI",
        0.002,
        8,
        _choice("reasoning_effort", "Reasoning effort", "low", "minimal", "low", "medium", "high"),
    ),
    _m(
        "iv2v-runway-aleph",
        "Runway Aleph",
        "Runway",
        0.75,
        100,
        _choice("ratio", "Ratio", "1280:720", "1280:720", "720:1280"),
        SEED,
    ),
    _m(
        "t2i-flux-2-flex",
        "FLUX.2 [flex]",
        "Black Forest Labs",
        0.06,
        20,
        _ratios("image_size", _named, "1:1", *_COMMON),
        _int("steps", "Steps", 28, 1, 50),
        _float("guidance", "Guidance", 4.5, 1.5, 10),
        SEED,
    ),
    _m("tts-elevenlabs-multilingual-v2", "Eleven Multilingual v2", "ElevenLabs", 0.05, 10, _VOICES),
    _m(
        "i2v-hailuo-02",
        "Hailuo 02 (image to video)",
        "MiniMax",
        0.27,
        90,
        _choice("duration", "Duration (seconds)", "6", "6", "10"),
        _bool("prompt_optimizer", "Optimise prompt", True),
    ),
    _m(
        "v2t-twelvelabs-pegasus",
        "Pegasus 1.2",
        "Twelve Labs",
        0.02,
        25,
        _float("temperature", "Temperature", 0.2, 0, 1),
    ),
    _m(
        "i2i-ideogram-v3-remix",
        "Ideogram 3.0 Remix",
        "Ideogram",
        0.08,
        14,
        _int("image_weight", "Image weight", 50, 1, 100),
        _ratios("aspect_ratio", _ideogram, None, *_WIDE),
    ),
    _m(
        "t2v-pixverse-v5",
        "PixVerse V5",
        "PixVerse",
        0.3,
        45,
        _ratios("aspect_ratio", _colon, "16:9", *_WIDE),
        _choice("duration", "Duration (seconds)", "5", "5", "8"),
    ),
    _m(
        "v2v-topaz-video-upscale",
        "Topaz Video Upscale",
        "Topaz Labs",
        0.8,
        120,
        _choice("upscale_factor", "Upscale factor", "2", "2", "4"),
    ),
    _m(
        "i2v-wan-2-2",
        "Wan 2.2 (image to video)",
        "Alibaba",
        0.2,
        70,
        _choice("resolution", "Resolution", "720p", "480p", "720p"),
        SEED,
    ),
    _m(
        "r2v-kling-1-6-elements",
        "Kling 1.6 Elements",
        "Kuaishou",
        0.56,
        110,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _SECONDS_5_10,
    ),
    _m(
        "t2v-veo-3-fast",
        "Veo 3 Fast",
        "Google",
        1.2,
        40,
        _ratios("aspect_ratio", _colon, "16:9", *_VIDEO_RATIOS),
        _bool("generate_audio", "Generate audio", True),
        SEED,
    ),
)

_BY_ID: Final = {m.model_id: m for m in MODELS}


def models_of(type_: str | None) -> list[Model]:
    """The list as `GET /models` gives it, in its (undocumented) order."""
    return [m for m in MODELS if type_ is None or m.type == type_]


def find_model(model_id: str) -> Model | None:
    return _BY_ID.get(model_id)


def default_model(type_: str) -> Model:
    return _BY_ID[DEFAULT_MODELS[type_]]
