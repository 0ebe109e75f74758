"""The MCP surface: the server, its instructions and its tools."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, InputRequiredResult, Tool
from mcp.types import Resource as MCPResource

from flora_mcp import __version__
from flora_mcp.server._http import serve_http
from flora_mcp.server._schemas import compact_schema
from flora_mcp.server._state import AppState, app_state
from flora_mcp.settings import Settings

__all__ = ["INSTRUCTIONS", "AppState", "build_server", "serve_http"]

INSTRUCTIONS = """\
Generate images, video, audio and text with FLORA in four steps:
1. list_workspaces, then pick a project with list_projects or make one with create_project.
2. list_models with the type (image, video, audio or text) to choose a model_id and its params.
3. create_generation with type, prompt, workspace_id, project_id, model and params, once per output wanted.
4. get_generation_status with each run_id until completed (wait_seconds waits for you); it returns
   the outputs, images inline.
Or all four in one call: generate with the prompt, count and params.
Generations spend the workspace's credits: start each one once."""


class FloraServer(MCPServer[AppState]):
    """The SDK's server, with tools and the gallery registered on first need rather than at start:
    `initialize` needs neither, and building their schemas is a tenth of start-up."""

    def __init__(self, *args: Any, register: Callable[[FloraServer], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._register: Callable[[FloraServer], None] | None = register

    def _ready(self) -> None:
        if self._register is not None:
            register, self._register = self._register, None
            register(self)

    async def list_tools(self) -> list[Tool]:
        self._ready()
        return [
            tool.model_copy(
                update={
                    "input_schema": compact_schema(tool.input_schema),
                    "output_schema": tool.output_schema and compact_schema(tool.output_schema),
                }
            )
            for tool in await super().list_tools()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        self._ready()
        return await super().call_tool(name, arguments, context)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        self._ready()
        return super()._tool_input_schema(name)

    async def list_resources(self) -> list[MCPResource]:
        self._ready()
        return await super().list_resources()

    async def read_resource(self, uri: Any, context: Context[AppState, Any] | None = None) -> Any:
        self._ready()
        return await super().read_resource(uri, context)


def build_server(settings: Settings, state: AppState | None = None) -> FloraServer:
    """The server; with `state`, every session shares it (the HTTP transports own its life)."""

    live: list[AppState] = [state] if state is not None else []

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        if state is not None:
            yield state
            return
        async with app_state(settings) as own:
            live.append(own)
            try:
                yield own
            finally:
                live.remove(own)

    async def media_origins() -> list[str]:
        """Where output URLs point: FLORA's media hosts, and a local sandbox's origin."""
        loopback = await live[-1].loopback_origin() if live else None
        return [*settings.media_origins, *([loopback] if loopback else [])]

    def register_all(server: FloraServer) -> None:
        from flora_mcp.server._tools import register  # lazy: see FloraServer
        from flora_mcp.ui import register_gallery

        register(server)
        register_gallery(server, media_origins)

    server = FloraServer(
        name="flora",
        title="FLORA",
        description="Generate images, video, audio and text with the FLORA API.",
        instructions=INSTRUCTIONS,
        website_url="https://flora.ai",
        version=__version__,
        lifespan=lifespan,
        log_level=settings.log_level,
        register=register_all,
    )
    return server
