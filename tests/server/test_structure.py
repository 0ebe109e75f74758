"""The shape the code keeps as it grows: what start-up imports, and which way imports point."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.server import build_server
from flora_mcp.settings import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "flora_mcp"

# What start-up must not pay for; each is imported where it is first needed. (uvicorn, the HTTP
# server stack, is imported by the SDK's own MCPServer, so the bare-server comparison covers it.)
NOT_AT_START = ("PIL", "flora_mcp.sandbox")
# Beyond a bare server, start-up may load only our own code, the SDK's MCP Apps types (the gallery
# view that tools/list names) and sqlite3 (the run journal's, once tools are listed).
ALSO_ALLOWED = ("flora_mcp", "mcp.server.apps", "sqlite3", "_sqlite3")

_PROBE = """
import sys, anyio
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

def bare():
    server = MCPServer("bare")

    @server.tool()
    def echo(text: str) -> str:
        return text

    return server

def ours():
    from flora_mcp.server import build_server
    from flora_mcp.settings import Settings

    settings = Settings(api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1")
    return build_server(settings, cache_tools_list={cache})

async def main():
    async with Client({which}(), mode="{mode}") as client:
        if {list_tools}:
            assert (await client.list_tools()).tools
anyio.run(main)
print(" ".join(sorted(sys.modules)))
"""
# The handshakes: "legacy" is 2025-11-25's `initialize`, "auto" the 2026-07-28 `server/discover`.
ERAS = ("legacy", "auto")
# Registered on first need, after the handshake: what the handshake must not import.
ON_FIRST_NEED = (
    "flora_mcp.server.tools",
    "flora_mcp.server._prompts",
    "flora_mcp.server._resources",
    "flora_mcp.server._completions",
    "flora_mcp.client",
)


def _loaded(which: str, mode: str, list_tools: bool = True, cache: bool = False) -> set[str]:
    """The modules loaded after the handshake (and a `tools/list`); `cache`: with a saved answer."""
    script = _PROBE.format(which=which, mode=mode, list_tools=list_tools, cache=cache)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("mode", ERAS)
def test_the_handshake_and_tools_list_load_nothing_a_bare_server_does_not_but_our_own_code(mode: str) -> None:
    """The cold path: no saved tools/list answer, so the tools are registered."""
    ours, bare = _loaded("ours", mode), _loaded("bare", mode)
    assert "flora_mcp.server.tools" in ours  # the probe did reach the tools
    assert not [m for m in ours for lazy in NOT_AT_START if m == lazy or m.startswith(lazy + ".")]
    foreign = sorted(m for m in ours - bare if not m.startswith(ALSO_ALLOWED))
    assert not foreign, f"start-up now imports {foreign[:10]}"


@pytest.mark.parametrize("mode", ERAS)
def test_the_handshake_alone_registers_no_tools_prompts_or_resources(mode: str) -> None:
    """Tools, prompts, the output resources and completions' code are registered on first need
    (`_app.OnFirstNeed`), in both eras: the handshake pays only for the server itself."""
    loaded = _loaded("ours", mode, list_tools=False)
    assert "flora_mcp.server._app" in loaded  # the probe did build the server
    early = sorted(m for m in loaded for lazy in ON_FIRST_NEED if m == lazy or m.startswith(lazy + "."))
    assert not early, f"the handshake now imports {early[:10]}"


@pytest.mark.parametrize("mode", ERAS)
def test_a_saved_tools_list_answer_serves_the_next_start_without_registering_the_tools(mode: str) -> None:
    """The warm path (`_tools_cache`): the second start answers tools/list from the first one's answer."""
    _loaded("ours", mode, cache=True)  # saves the answer, if this code's is not saved yet
    loaded = _loaded("ours", mode, cache=True)
    early = sorted(m for m in loaded for lazy in ON_FIRST_NEED if m == lazy or m.startswith(lazy + "."))
    assert not early, f"a saved tools/list answer still imports {early[:10]}"


@pytest.mark.anyio
async def test_the_saved_answer_is_the_live_one_and_calls_still_register_the_tools() -> None:
    settings = Settings(api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1")
    async with Client(build_server(settings, cache_tools_list=False)) as client:
        live = [
            t.model_dump(mode="json", by_alias=True, exclude_none=True)
            for t in (await client.list_tools()).tools
        ]
    for mode in ERAS:
        for _ in range(2):  # the first start saves the answer, the second serves it
            async with Client(build_server(settings), mode=mode) as client:
                listed = (await client.list_tools()).tools
                assert [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed] == live
                templates = (await client.list_resource_templates()).resource_templates
                assert templates  # a request after a served answer registers what it needs
                bad = await client.call_tool("list_models", {"type": "t2i"})
                assert bad.is_error and "model family" in str(bad.content)


def _imports(path: Path) -> set[str]:
    """The flora_mcp modules a file imports, at any depth of the file (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            # `from package import module` imports that module (and the package's __init__ first).
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_module(f"{node.module}.{alias.name}")
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("flora_mcp")}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _part_imports(part: str) -> set[str]:
    root = PACKAGE / part
    files = root.rglob("*.py") if root.is_dir() else [root.with_suffix(".py")]
    return {m for f in files for m in _imports(f)}


@pytest.mark.parametrize(
    ("part", "forbidden"),
    [
        ("client", ("flora_mcp.server", "flora_mcp.rendering", "flora_mcp.sandbox", "flora_mcp.ui")),
        ("sandbox", ("flora_mcp.client", "flora_mcp.server", "flora_mcp.rendering", "flora_mcp.downloads")),
        ("rendering", ("flora_mcp.server", "flora_mcp.sandbox")),
        ("downloads", ("flora_mcp.server", "flora_mcp.sandbox")),
        ("store", ("flora_mcp.server", "flora_mcp.sandbox", "flora_mcp.client")),
        ("ui", ("flora_mcp.server", "flora_mcp.sandbox", "flora_mcp.client")),
    ],
)
def test_imports_only_point_down(part: str, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(m for m in _part_imports(part) if m.startswith(forbidden))
    assert not wrong, f"{part} imports {wrong}"


def test_the_server_package_has_no_import_cycle() -> None:
    """Following imports from any server module never leads back to it (package __init__ files,
    which only re-export, are left out: importing a submodule runs them first anyway)."""
    modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts): p
        for p in (PACKAGE / "server").rglob("*.py")
        if p.name != "__init__.py"
    }
    graph = {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for name in graph if (c := cycle_from(name))]
    assert not cycles, cycles[0]


TOOLS_LIST_BUDGET = 14 * 1024  # bytes of compact JSON: every host reads it into every turn


@pytest.mark.anyio
async def test_tools_list_fits_its_budget_with_compacted_schemas() -> None:
    """Also pins the SDK seam the compaction relies on: a middleware seeing tools/list's wire form."""
    server = build_server(Settings(api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1"))
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    wire = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    size = len(json.dumps({"tools": wire}, separators=(",", ":"), ensure_ascii=False).encode())
    print(f"tools/list: {size} bytes for {len(tools)} tools")
    assert size <= TOOLS_LIST_BUDGET
    assert '"title":"' not in json.dumps([t["inputSchema"] for t in wire], separators=(",", ":"))
