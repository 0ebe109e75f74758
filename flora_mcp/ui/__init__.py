"""Results shown inline in the chat: an MCP Apps gallery view for generation results.

A tool declares the view with `meta=tool_meta()`; a host that speaks MCP Apps then reads
`GALLERY_URI` (one self-contained HTML document, no network needed to run it), renders it in a
sandboxed iframe and posts it the tool's result. Hosts without MCP Apps ignore both.

Import is cheap on purpose (start-up is benchmarked): the HTML is read on the first
`resources/read`, and only names the server already imports are pulled in here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final

from mcp.server.apps import APP_MIME_TYPE, ResourceCsp
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import Resource
from pydantic import PrivateAttr

__all__ = ["GALLERY_URI", "MediaOrigins", "gallery_html", "register_gallery", "tool_meta"]

GALLERY_URI: Final = "ui://flora/gallery.html"

MediaOrigins = Callable[[], Awaitable[list[str]]]

# A CSP host-source (CSP3 §2.3.1): [scheme://] a host of dot-separated labels (optionally `*.`-led)
# [:port] [/path]. IP literals in brackets are none: Chromium drops `http://[::1]:8000` with an error.
_HOST_SOURCE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(?:[0-9]+|\*))?(?:/[^\s;,]*)?",
    re.I,
)


def tool_meta() -> dict[str, Any]:
    """The `_meta` for `@server.tool(meta=...)` that makes a host render the tool's results in the gallery.

    Only the current nested key: the spec's deprecated flat `ui/resourceUri` would cost every
    turn's tool list bytes for hosts that predate the MCP Apps spec's first release."""
    return {"ui": {"resourceUri": GALLERY_URI}}


@functools.cache
def gallery_html() -> str:
    """The view: one HTML document with its script and styles inline (hosts load nothing else)."""
    return resources.files(__package__).joinpath("gallery.html").read_text(encoding="utf-8")


def _ui_meta(origins: list[str] | None) -> dict[str, Any]:
    ui: dict[str, Any] = {"prefersBorder": True}
    if origins is not None:
        # img/video/audio load from resource domains; fetching a text output needs connect.
        csp = ResourceCsp(resource_domains=origins, connect_domains=origins)
        ui["csp"] = csp.model_dump(by_alias=True, exclude_none=True)
    return {"ui": ui}


class _GalleryResource(Resource):
    _media_origins: MediaOrigins = PrivateAttr()

    async def read(self) -> str:
        # The sandbox's port is only known at run time, so the CSP is computed per read. MCPServer
        # serves `self.meta` with the content it reads just after `read()` returns; the spec has the
        # read content's `_meta.ui` take precedence over the listing's, which then shows the last one.
        origins = [o for o in dict.fromkeys(await self._media_origins()) if _HOST_SOURCE.fullmatch(o)]
        self.meta = _ui_meta(origins)
        return gallery_html()


def register_gallery(server: MCPServer[Any], media_origins: MediaOrigins) -> None:
    """Serve the gallery at `GALLERY_URI`; `media_origins()` names the origins output URLs load from.

    Those origins (FLORA's media hosts, the sandbox's loopback origins) are all the view may reach:
    hosts build the iframe's Content-Security-Policy from them and allow nothing undeclared. Origins
    a CSP cannot name (an IPv6 literal such as `http://[::1]:8000`) are left out.
    """
    resource = _GalleryResource(
        uri=GALLERY_URI,
        name="flora-gallery",
        title="FLORA results",
        description="Shows generation results (images, video, audio, text, progress) inline.",
        mime_type=APP_MIME_TYPE,
        meta=_ui_meta(None),
    )
    resource._media_origins = media_origins
    server.add_resource(resource)
