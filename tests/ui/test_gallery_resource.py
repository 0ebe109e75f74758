"""The gallery view as a host sees it over MCP: listed, readable, and declaring only its media origins."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextResourceContents

from flora_mcp.ui import GALLERY_URI, register_gallery, tool_meta

pytestmark = pytest.mark.anyio

APP_MIME = "text/html;profile=mcp-app"
ORIGINS = ["https://media.flora.ai", "http://127.0.0.1:43210"]


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
