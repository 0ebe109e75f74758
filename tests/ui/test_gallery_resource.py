"""The gallery view as a host sees it over MCP: listed, readable, and declaring only its media origins."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextResourceContents

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from flora_mcp.ui import GALLERY_URI, register_gallery, tool_meta
from tests.conftest import call_ok

pytestmark = pytest.mark.anyio

APP_MIME = "text/html;profile=mcp-app"
ORIGINS = ["https://media.flora.ai", "http://127.0.0.1:43210"]
# Where FLORA serves outputs (BEHAVIOUR: media.flora.ai mostly, some on ik.imagekit.io).
FLORA_MEDIA_HOSTS = {"https://media.flora.ai", "https://*.flora.ai", "https://ik.imagekit.io"}


@pytest.fixture
def origins() -> list[str]:
    """What the server would report now; a test may change it, as a restarted sandbox's port changes."""
    return [*ORIGINS, ORIGINS[0]]  # with a duplicate, as a careless caller might pass


@pytest.fixture
async def client(origins: list[str]) -> AsyncIterator[Client]:
    server: MCPServer[Any] = MCPServer(name="gallery-test")

    async def media_origins() -> list[str]:
        return list(origins)

    register_gallery(server, media_origins)

    @server.tool(meta=tool_meta())
    def show() -> str:
        return "shown"

    async with Client(server) as connected:
        yield connected


async def read_gallery(client: Client) -> TextResourceContents:
    result = await client.read_resource(GALLERY_URI)
    assert len(result.contents) == 1
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents)
    return contents


async def test_gallery_is_listed_as_an_mcp_app(client: Client) -> None:
    listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert GALLERY_URI in listed
    assert listed[GALLERY_URI].mime_type == APP_MIME


async def test_reading_gallery_declares_exactly_the_media_origins_in_its_csp(client: Client) -> None:
    contents = await read_gallery(client)
    assert str(contents.uri) == GALLERY_URI
    assert contents.mime_type == APP_MIME
    assert contents.text.lstrip().lower().startswith("<!doctype html>")
    assert contents.meta is not None
    assert contents.meta["ui"]["csp"] == {"connectDomains": ORIGINS, "resourceDomains": ORIGINS}


async def test_csp_follows_the_origins_at_each_read(client: Client, origins: list[str]) -> None:
    await read_gallery(client)
    origins[:] = ["http://127.0.0.1:50001"]
    meta = (await read_gallery(client)).meta
    assert meta is not None
    assert meta["ui"]["csp"] == {"connectDomains": origins, "resourceDomains": origins}


async def test_csp_leaves_out_origins_a_csp_cannot_name(client: Client, origins: list[str]) -> None:
    # Browsers drop an IP-literal source with an error (`[::1]` is no CSP host-source); the others stand.
    origins[:] = ["http://[::1]:43210", "http://localhost:43210", "https://*.flora.ai", "not an origin"]
    meta = (await read_gallery(client)).meta
    assert meta is not None
    expected = ["http://localhost:43210", "https://*.flora.ai"]
    assert meta["ui"]["csp"] == {"connectDomains": expected, "resourceDomains": expected}


async def test_servers_gallery_csp_lists_floras_media_hosts_and_both_sandbox_origins(
    sandbox: RunningSandbox, mcp: Client
) -> None:
    meta = (await read_gallery(mcp)).meta
    assert meta is not None
    csp = meta["ui"]["csp"]
    assert len(sandbox.media_origins) == 2  # the sandbox serves outputs from two origins, as FLORA does
    for directive in ("resourceDomains", "connectDomains"):
        assert FLORA_MEDIA_HOSTS | set(sandbox.media_origins) <= set(csp[directive]), directive


async def test_servers_gallery_csp_admits_outputs_from_both_origins_of_its_embedded_sandbox() -> None:
    settings = Settings(sandbox_speed=0.01, journal="off")
    assert settings.uses_sandbox
    async with Client(build_server(settings)) as embedded:
        made = await call_ok(embedded, "generate", {"prompt": "Two pebbles", "type": "image", "count": 2})
        meta = (await read_gallery(embedded)).meta
    assert meta is not None
    urls = [output["url"] for run in made["runs"] for output in run["outputs"]]
    origins = {f"{part.scheme}://{part.netloc}" for part in map(urlsplit, urls)}
    assert len(origins) == 2, urls  # consecutive runs are served from the sandbox's two origins
    for directive in ("resourceDomains", "connectDomains"):
        assert FLORA_MEDIA_HOSTS | origins <= set(meta["ui"]["csp"][directive]), directive


async def test_gallery_html_loads_nothing_from_the_network(client: Client) -> None:
    html = (await read_gallery(client)).text
    sources = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.IGNORECASE)
    imports = re.findall(r"""@import\s+(?:url\()?["']?([^"')\s;]+)""", html, flags=re.IGNORECASE)
    assert not [s for s in sources + imports if re.match(r"(?:https?:)?//", s)]
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\brel\s*=\s*[\"']?stylesheet", html, flags=re.IGNORECASE)


async def test_tool_meta_points_hosts_at_the_gallery(client: Client) -> None:
    (tool,) = (await client.list_tools()).tools
    assert tool.meta is not None
    assert tool.meta == {"ui": {"resourceUri": GALLERY_URI}}
