"""FLORA's model families: what a model id's prefix (`t2i-`, `i2v-`…) says about the model.

Models do not declare what they make or which references they take; the id's prefix implies both
(BEHAVIOUR.md). This table is the one place those facts are written: `_references` (reference
params, text-to-X prefixes, the type a prefix makes), `tools.models` (what a model is for) and
`_checks` (a family named where a type belongs) derive their views from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flora_mcp.client import GenerationType


@dataclass(frozen=True)
class Family:
    prefix: str  # how the family's model ids start, dash included
    makes: GenerationType
    what_for: str  # what it turns into what, as list_models shows it
    references: tuple[str, ...] = ()  # the reference params its models need (_references.REFERENCE_PARAMS)
    text_to: bool = False  # a text-to-X family: chosen when no model is asked for


FAMILIES: Final = (
    Family("t2i-", "image", "text→image", text_to=True),
    Family("i2i-", "image", "image→image", ("image_url",)),
    Family("t2v-", "video", "text→video", text_to=True),
    Family("i2v-", "video", "image→video", ("image_url",)),
    Family("iv2v-", "video", "image+video→video", ("image_url", "video_url")),
    Family("v2v-", "video", "video→video (source from a canvas edge only)"),
    Family("r2v-", "video", "references→video"),
    Family("t2a-", "audio", "text→audio", text_to=True),
    Family("tts-", "audio", "text→speech", text_to=True),
    Family("t2t-", "text", "text→text", text_to=True),
    Family("i2t-", "text", "image→text", ("image_urls",)),
    Family("v2t-", "text", "video→text", ("video_urls",)),
)
# Words agents confuse with generation types that are not FLORA prefixes (matched at the start).
CONFUSED_WITH_TYPES: Final = ("llm", "text-to-", "image-to-")
