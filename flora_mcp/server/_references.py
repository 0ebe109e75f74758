"""Reference inputs (an image or video a run starts from), as FLORA takes them: by model prefix.

Models do not declare these in their `params`; the id's prefix implies them (BEHAVIOUR.md), as
`_families.FAMILIES` writes down: e.g. `image_url` (one URL) for `i2i-`, `image_urls` (a list) for
`i2t-`. FLORA accepts the wrong form, a reference on a model that takes none, or a URL it will not
fetch, and bills the run anyway; so these are refused here, before spending, with the form that
would work. Pure functions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final, get_args
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import GenerationType
from flora_mcp.server._families import FAMILIES

ONE: Final = "one URL string"
MANY: Final = "a list of URL strings"
REFERENCE_PARAMS: Final = {"image_url": ONE, "video_url": ONE, "image_urls": MANY, "video_urls": MANY}

# Prefix → the reference params its models need. Prefixes not listed take none.
FORMS: Final[Mapping[str, tuple[str, ...]]] = {f.prefix: f.references for f in FAMILIES if f.references}
# What each type's text-to-X models start with: with no model asked for, only these are chosen.
TEXT_TO: Final[Mapping[str, tuple[str, ...]]] = {
    type_: tuple(f.prefix for f in FAMILIES if f.text_to and f.makes == type_)
    for type_ in get_args(GenerationType)
}
# What each prefix makes, for telling runs apart when only their model id is known.
TYPE_OF_PREFIX: Final[Mapping[str, str]] = {f.prefix: f.makes for f in FAMILIES}
HOW_TO_GET_ONE: Final = (
    "FLORA fetches references only from its own media hosts: pass the url of an earlier run's "
    "output (get_generation_status), or upload the file or URL first with upload_asset and pass "
    "its url."
)


def prefix_of(model_id: str) -> str:
    head, dash, _ = model_id.partition("-")
    return head + dash if dash else ""


def forms_of(model_id: str) -> tuple[str, ...]:
    return FORMS.get(prefix_of(model_id), ())


def given_references(params: Mapping[str, Any]) -> set[str]:
    return {name for name in params if name in REFERENCE_PARAMS}


def is_text_to(model_id: str, type_: GenerationType) -> bool:
    return model_id.startswith(TEXT_TO[type_])


def takes(model_id: str, names: Collection[str]) -> bool:
    """Whether the model takes exactly these reference params (none for a text-to-X model)."""
    return set(forms_of(model_id)) == set(names)


def check_references(model_id: str, params: Mapping[str, Any], media_origins: Sequence[str]) -> None:
    """Refuse, before spending, references this model would ignore or could not fetch."""
    needed, given = forms_of(model_id), given_references(params)
    if prefix_of(model_id) == "v2v-" and given:
        raise ToolError(
            f"model {model_id!r} takes its source video only from a canvas edge in FLORA, not as a URL: "
            "use an iv2v- model with params.video_url, or connect the nodes in the project's canvas."
        )
    if given and not needed:
        raise ToolError(
            f"model {model_id!r} takes no reference ({', '.join(sorted(given))} would be ignored, "
            "and the run billed). "
            "To start from an image use an i2i- (image) or i2v- (video) model from list_models; to "
            "describe one, an i2t- model with params.image_urls."
        )
    for name in given - set(needed):
        right = next(n for n in needed if n.startswith(name.split("_")[0]))  # image_url ↔ image_urls
        raise ToolError(
            f"model {model_id!r} takes params.{right} ({REFERENCE_PARAMS[right]}), not params.{name}: "
            f"FLORA would ignore {name} and bill the run."
        )
    missing = [n for n in needed if n not in given]
    if missing:
        wanted = ", ".join(f"params.{n} ({REFERENCE_PARAMS[n]})" for n in missing)
        raise ToolError(f"model {model_id!r} needs {wanted}. {HOW_TO_GET_ONE}")
    for name in needed:
        for url in _urls(name, params[name]):
            if not fetchable(url, media_origins):
                raise ToolError(f"params.{name} {url!r} is not a URL FLORA will fetch. {HOW_TO_GET_ONE}")


def _urls(name: str, value: Any) -> list[str]:
    if REFERENCE_PARAMS[name] == ONE:
        if not isinstance(value, str):
            raise ToolError(f"params.{name} must be {ONE}, e.g. an output url of an earlier run.")
        return [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ToolError(f"params.{name} must be {MANY} (at least one).")
    return value


def fetchable(url: str, media_origins: Sequence[str]) -> bool:
    """Whether `url` is on one of FLORA's media origins (patterns like `https://*.flora.ai`) or a
    local sandbox's."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    return any(fnmatch.fnmatchcase(origin, pattern) for pattern in media_origins)
