"""The server: its identity, instructions, lifespan, and tools registered on first need.

`initialize` needs neither the tools nor the gallery, and importing the tool modules (the API
client, rendering) and building their schemas is a sixth of start-up; so a `ServerMiddleware`
(the SDK's public hook around every request) registers them before the first request other than
the handshake, and compacts `tools/list` answers on their way out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer

from flora_mcp import __version__
from flora_mcp.server._schemas import compact_schema
from flora_mcp.server._state import AppState
from flora_mcp.settings import Settings

INSTRUCTIONS: Final = """\
Generate images, video, audio and text with FLORA in four steps:
1. list_workspaces, then pick a project with list_projects or make one with create_project.
2. list_models with the type (image, video, audio or text) to choose a model_id and its params.
3. create_generation with type, prompt, workspace_id, project_id, model and params, once per output wanted.
4. get_generation_status with each run_id until completed (wait_seconds waits for you); it returns
   the outputs, images inline.
Or all four in one call: generate with the prompt, count and params.
Generations spend the workspace's credits: start each one once."""

# The handshake and liveness checks; everything else may need the tools.
_NEEDS_NOTHING: Final = frozenset({"initialize", "notifications/initialized", "ping"})


class OnFirstNeed:
    """Middleware: once `initialize` is answered, starts the embedded sandbox (if used); runs
    `register` once, before the first request that may need what it adds; and compacts the
    schemas of every `tools/list` answer (see `_schemas`)."""

    def __init__(self, state: AppState, register: Callable[[], None]) -> None:
        self._state = state
        self._register: Callable[[], None] | None = register

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "initialize":
            self._state.want_sandbox()
        if self._register is not None and ctx.method not in _NEEDS_NOTHING:
            register, self._register = self._register, None
            register()
        result = await call_next(ctx)
        if ctx.method == "tools/list" and isinstance(result, dict):  # the wire form, by the protocol's names
            for tool in result.get("tools", []):
                for key in ("inputSchema", "outputSchema"):
                    if isinstance(tool.get(key), dict):
                        tool[key] = compact_schema(tool[key])
        return result


def build_server(settings: Settings, state: AppState | None = None) -> MCPServer[AppState]:
    """The server; with `state`, every session shares that one (the HTTP transports own its life)."""
    state = state or AppState.open(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with state.running():
            yield state

    def register() -> None:
        from flora_mcp.server.tools import register_all  # lazy: see the module's docstring

        register_all(server, state)

    server = MCPServer(
        name="flora",
        title="FLORA",
        description="Generate images, video, audio and text with the FLORA API.",
        instructions=INSTRUCTIONS,
        website_url="https://flora.ai",
        version=__version__,
        lifespan=lifespan,
        log_level=settings.log_level,
        middleware=[OnFirstNeed(state, register)],
        request_state_security=state.request_state_security(),
    )
    return server
