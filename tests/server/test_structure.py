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


def _module_of(path: Path, root: Path = PACKAGE.parent) -> str:
    """A file's dotted module name: a package's `__init__.py` is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """The flora_mcp modules importing this file runs, at any depth of the file (lazy imports count
    too): each module named, and the packages above it whose `__init__` the import runs first."""
    importer = _module_of(path, root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from .x import y` in package p is `from p.x import y`
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            submodules = {f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}", root)}
            # `from pkg import module` needs only that module; `from pkg import name`, pkg itself.
            named |= submodules if len(submodules) == len(node.names) else {base, *submodules}
        elif isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
    # Importing a.b.c runs a and a.b first, unless they are the importer's own packages (run already).
    own = _ancestors(importer) | {importer}
    found = named | {p for m in named for p in _ancestors(m) if p not in own}
    return {m for m in found if m == "flora_mcp" or m.startswith("flora_mcp.")}


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _is_module(name: str, root: Path = PACKAGE.parent) -> bool:
    path = root.joinpath(*name.split("."))
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


def _import_graph(package: Path, root: Path = PACKAGE.parent) -> dict[str, set[str]]:
    """Every module of `package` (its `__init__` files included) → the modules of it that it imports."""
    modules = {_module_of(p, root): p for p in package.rglob("*.py")}
    return {
        name: {m for m in _imports(path, root) if m in modules} - {name} for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (its modules, the first repeated at the end), or None."""

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    return next((c for name in sorted(graph) if (c := cycle_from(name))), None)


def test_the_server_package_has_no_import_cycle() -> None:
    """Following imports from any server module, `__init__` files included (`tools/__init__` holds
    the tool table), never leads back to it."""
    graph = _import_graph(PACKAGE / "server")
    assert "flora_mcp.server.tools" in graph and "flora_mcp.server" in graph
    assert "flora_mcp.server.tools.models" in graph["flora_mcp.server.tools"]
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle: {cycle}"


def test_the_cycle_check_sees_cycles_through_init_files_and_lazy_imports(tmp_path: Path) -> None:
    """The check can fail: on a package whose `__init__` imports a module that, in a function, reads
    a name from the package, or imports another of its submodules (which runs the `__init__` first).
    `from pkg import submodule` in a module of pkg is no cycle: pkg's `__init__` has run already."""
    pkg = tmp_path / "flora_mcp" / "server"
    (pkg / "tools").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_a.py").write_text("from flora_mcp.server import _b\n")  # the package runs already
    (pkg / "_b.py").write_text("import flora_mcp.client\n")
    (pkg / "tools" / "__init__.py").write_text("from flora_mcp.server.tools.one import run\n")
    (pkg / "tools" / "one.py").write_text("from flora_mcp.server import _a\n")
    graph = _import_graph(pkg, tmp_path)
    assert graph == {
        "flora_mcp.server": set(),
        "flora_mcp.server._a": {"flora_mcp.server._b"},
        "flora_mcp.server._b": set(),
        "flora_mcp.server.tools": {"flora_mcp.server.tools.one"},
        "flora_mcp.server.tools.one": {"flora_mcp.server._a"},
    }
    assert _cycle(graph) is None
    (pkg / "_b.py").write_text("def later():\n    from flora_mcp.server.tools import TABLE\n")
    cycle = _cycle(_import_graph(pkg, tmp_path))
    assert cycle is not None and "flora_mcp.server.tools" in cycle and cycle[0] == cycle[-1]
    (pkg / "_b.py").write_text("from flora_mcp.server.tools import one\n")  # runs tools/__init__ first
    graph = _import_graph(pkg, tmp_path)
    assert graph["flora_mcp.server._b"] == {"flora_mcp.server.tools", "flora_mcp.server.tools.one"}
    assert _cycle(graph) is not None


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
