"""The server: its identity, instructions, lifespan, and tools registered on first need.

The handshake (`initialize`, or `server/discover` on 2026-07-28) needs neither the tools, the
prompts, the output resources nor the gallery, and importing their modules (the API client,
rendering) and building their schemas is a sixth of start-up; so a `ServerMiddleware` (the SDK's
public hook around every request) registers each of them before the first request that needs it
(`tools/list` pays for the tools alone), and compacts `tools/list` answers on their way out.
Only the completion handler is registered at once (a stub that imports `_completions` on first
use), so the handshake advertises it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Final

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import Completion
from mcp_types import INVALID_PARAMS

from flora_mcp import __version__
from flora_mcp.server._schemas import compact_schema
from flora_mcp.server._state import AppState
from flora_mcp.server._tools_cache import ToolsListCache
from flora_mcp.settings import Settings

INSTRUCTIONS: Final = """\
Generate images, video, audio and text with FLORA in four steps:
1. list_workspaces, then pick a project with list_projects or make one with create_project.
2. list_models with the type (image, video, audio or text) to choose a model_id and its params.
3. create_generation with type, prompt, workspace_id, project_id, model and params (several outputs:
   generate's count, or generate_batch for mixed ones).
4. get_generation_status with each run_id until completed (wait_seconds waits for you); it returns
   the outputs, images inline.
Or all four in one call: generate with the prompt, count and params.
Generations spend the workspace's credits: start each one once."""

# The handshakes of both protocol eras and liveness checks; everything else may need the tools.
_HANDSHAKES: Final = frozenset({"initialize", "server/discover"})
_NEEDS_NOTHING: Final = _HANDSHAKES | {"notifications/initialized", "ping"}
# Lists never reach FLORA, and a host waits for them to show the tools: they do not start the
# embedded sandbox (its imports, in a thread, would slow their answers several-fold).
_LISTS: Final = frozenset({"tools/list", "prompts/list", "resources/list", "resources/templates/list"})

# What each kind of request needs registered first (anything else: the tools). The gallery's ui://
# resource comes with the tools; completions need nothing registered (`_completions` reads FLORA).
_FAMILIES: Final = {"prompts/": ("prompts",), "resources/": ("tools", "resources"), "completion/": ()}

# The request being handled, for the one handler the SDK gives no context (completions).
REQUEST: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar("flora_request", default=None)


class OnFirstNeed:
    """Middleware: starts the embedded sandbox (if used) on the first request other than the handshake
    and the lists a host reads to show the tools (whose answers its imports would slow); runs each
    family's registration (tools, prompts, resources: `register`) once, before the first request
    that may need it; and compacts the schemas of every `tools/list` answer (see
    `_schemas`), saving the answer for the next start (`_tools_cache`)."""

    def __init__(
        self,
        state: AppState,
        register: Mapping[str, Callable[[], None]],
        cache: ToolsListCache | None = None,
    ) -> None:
        self._state = state
        self._register = dict(register)
        self._cache = cache

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in _NEEDS_NOTHING | _LISTS:
            self._state.want_sandbox()
        # Before the tools are registered, a saved answer of the same code and settings serves.
        cache = self._cache if ctx.method == "tools/list" and "tools" in self._register else None
        key = cache.key(ctx.protocol_version) if cache is not None else None
        saved = cache.load(key) if cache is not None and key is not None else None
        if self._register and ctx.method not in _NEEDS_NOTHING and saved is None:
            needs = next((f for prefix, f in _FAMILIES.items() if ctx.method.startswith(prefix)), ("tools",))
            for family in needs:
                if (register := self._register.pop(family, None)) is not None:
                    register()
        token = REQUEST.set(ctx)
        try:
            result = await call_next(ctx)
        finally:
            REQUEST.reset(token)
        if ctx.method == "tools/list" and isinstance(result, dict):  # the wire form, by the protocol's names
            if saved is not None:
                result["tools"] = saved  # the SDK's own envelope around them
                return result
            for tool in result.get("tools", []):
                for name in ("inputSchema", "outputSchema"):
                    if isinstance(tool.get(name), dict):
                        tool[name] = compact_schema(tool[name])
            if cache is not None and key is not None:
                cache.save(key, result.get("tools", []))
        return result


class KnownNames:
    """Middleware: a prompt or resource that does not exist, or a prompt's missing argument, gets the
    spec's -32602 naming what exists (the SDK alone answers an unknown prompt -32603 with a logged
    traceback); a read output's answer carries the output's own MIME type (`_resources`)."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "prompts/get":
            await self._check_prompt(ctx.params or {})
        if ctx.method != "resources/read":
            return await call_next(ctx)
        from flora_mcp.server._resources import answer_mime  # registered by now: no import cost

        mime: list[str] = []
        token = answer_mime.set(mime)
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            if exc.code == INVALID_PARAMS and exc.message.startswith("Unknown resource"):
                templates = [t.uri_template for t in await self._server.list_resource_templates()]
                message = f"{exc.message}. Resources are read through: {', '.join(templates)}."
                raise MCPError(INVALID_PARAMS, message, {"resourceTemplates": templates}) from exc
            raise
        finally:
            answer_mime.reset(token)
        if mime and isinstance(result, dict):  # the wire form, by the protocol's names
            for content in result.get("contents", []):
                content["mimeType"] = mime[-1]
        return result

    async def _check_prompt(self, params: Mapping[str, Any]) -> None:
        prompts = {p.name: p for p in await self._server.list_prompts()}
        name = params.get("name")
        if name not in prompts:
            raise MCPError(
                INVALID_PARAMS,
                f"Unknown prompt {name!r}. The prompts are: {', '.join(prompts)}.",
                {"prompts": list(prompts)},
            )
        given = params.get("arguments") or {}
        missing = [a.name for a in prompts[name].arguments or [] if a.required and a.name not in given]
        if missing:
            raise MCPError(INVALID_PARAMS, f"Prompt {name!r} needs the arguments: {', '.join(missing)}.")


def build_server(
    settings: Settings, state: AppState | None = None, *, cache_tools_list: bool = True
) -> MCPServer[AppState]:
    """The server; with `state`, every session shares that one (the HTTP transports own its life).
    `cache_tools_list`: serve a saved `tools/list` answer while the code is the same (`_tools_cache`)."""
    state = state or AppState.open(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with state.running():
            yield state

    # lazy, each on its first need: see the module's docstring
    def tools() -> None:
        from flora_mcp.server.tools import register_all

        register_all(server, state)

    def prompts() -> None:
        from flora_mcp.server._prompts import register_prompts

        register_prompts(server)

    def resources() -> None:
        from flora_mcp.server._resources import register_resources

        register_resources(server)

    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        from flora_mcp.server._completions import complete as answer  # lazy, as register

        return await answer(server, REQUEST.get(), ref, argument, context)

    server = MCPServer(
        name="flora",
        title="FLORA",
        description="Generate images, video, audio and text with the FLORA API.",
        instructions=INSTRUCTIONS,
        website_url="https://flora.ai",
        version=__version__,
        lifespan=lifespan,
        log_level=settings.log_level,
        middleware=[
            OnFirstNeed(
                state,
                {"tools": tools, "prompts": prompts, "resources": resources},
                ToolsListCache(settings) if cache_tools_list else None,
            )
        ],
        request_state_security=state.request_state_security(),
    )
    server.middleware.append(KnownNames(server))  # inside OnFirstNeed: sees what it registered
    # At build time, so the handshake advertises completions; the stub imports on first use.
    server.completion()(complete)  # type: ignore[no-untyped-call]
    return server
