"""A technique's inputs, checked against its definition before anything is spent, and split into
one run per value where FLORA says so. Pure functions over the client's models.

FLORA's definitions (SDK 0.11) mark an input `optional` (may be left out), `allow_multiple`
(several values, one run per value) or `accepts_element` (an element id in place of a file's URL).
Older definitions without the flags say "Optional…" at the start of the description, which is
still read when the flag is absent. How several values travel on one request is not documented,
so each value gets a run of its own, sent as FLORA documents a single one.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp._constants import BATCH_LIMIT
from flora_mcp.client import Technique, TechniqueSlot
from flora_mcp.server._references import HOW_TO_GET_ONE, fetchable

MEDIA_KINDS: Final = {"imageUrl": "image", "videoUrl": "video", "audioUrl": "audio", "documentUrl": "file"}
MAX_RUNS: Final = BATCH_LIMIT  # values of one allow_multiple input in one call


def optional(slot: TechniqueSlot) -> bool:
    if slot.optional is not None:
        return slot.optional
    return (slot.description or "").lstrip().lower().startswith("optional")


def runs_of(technique: Technique, inputs: Mapping[str, Any], origins: Sequence[str]) -> list[dict[str, str]]:
    """The inputs of each run `inputs` asks for (one, or one per value of an allow_multiple input),
    refused before spending when the technique does not take them, lacks one, or could not read it."""
    slots = {slot.id: slot for slot in technique.inputs}
    name, takes = f"technique {technique.technique_id!r}", accepted(technique)
    unknown = [key for key in inputs if key not in slots]
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise ToolError(f"inputs {listed} are not inputs of {name}. Its inputs: {takes}.")
    missing = [s.id for s in technique.inputs if s.id not in inputs and not optional(s)]
    if missing:
        raise ToolError(f"{name} needs inputs {', '.join(missing)}. Its inputs: {takes}.")
    several = {key: value for key, value in inputs.items() if isinstance(value, list)}
    for key in several:
        if not slots[key].allow_multiple:
            raise ToolError(f"inputs.{key} takes one value, {_what(slots[key])}, not a list.")
    if len(several) > 1:
        raise ToolError(
            f"inputs {', '.join(several)} each have several values: give several for one input per call "
            "(one run per value)."
        )
    for key, value in inputs.items():
        for one in value if isinstance(value, list) else [value]:
            _check_value(f"inputs.{key}", one, slots[key], origins)
    if not several:
        return [dict(inputs)]
    [(key, values)] = several.items()
    if not 1 <= len(values) <= MAX_RUNS:
        raise ToolError(f"inputs.{key} has {len(values)} values: give 1 to {MAX_RUNS} (one run each).")
    return [{**inputs, key: value} for value in values]


def accepted(technique: Technique) -> str:
    """'product (an image URL); setting (a text, optional)': what each input takes."""
    return "; ".join(f"{s.id} ({_what(s)}{_flags(s)})" for s in technique.inputs)


def _flags(slot: TechniqueSlot) -> str:
    flags = [", optional" if optional(slot) else ""]
    flags += [", or a list: one run each" if slot.allow_multiple else ""]
    flags += [", or an element id" if slot.accepts_element else ""]
    return "".join(flags)


def _what(slot: TechniqueSlot) -> str:
    if slot.type not in MEDIA_KINDS:
        return "a text" if slot.type == "text" else f"a {slot.type}"
    kind = MEDIA_KINDS[slot.type]
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} URL"


def _check_value(where: str, value: Any, slot: TechniqueSlot, origins: Sequence[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{where} must be {_what(slot)}: a non-empty string.")
    if slot.type not in MEDIA_KINDS:
        return
    if slot.accepts_element and not value.startswith(("http://", "https://")):
        if any(c.isspace() for c in value):
            raise ToolError(f"{where} {value!r} is neither {_what(slot)} nor an element id.")
        return  # an element id: FLORA looks it up
    if not fetchable(value, origins):
        raise ToolError(f"{where} {value!r} is not {_what(slot)} FLORA will fetch. {HOW_TO_GET_ONE}")
    expected = MEDIA_KINDS[slot.type]
    guessed = (mimetypes.guess_type(urlsplit(value).path)[0] or "").split("/")[0]
    if (
        guessed in ("image", "video", "audio")
        and expected in ("image", "video", "audio")
        and guessed != expected
    ):
        raise ToolError(f"{where} looks like {guessed}, but {slot.id} takes {_what(slot)}.")
