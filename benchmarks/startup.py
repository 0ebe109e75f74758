"""Start-up cost of `flora-mcp` over stdio, next to a bare one-tool server on the same SDK.

    python benchmarks/startup.py [--runs 15]

"Tools usable": the median time from spawning each server to its answer to the first
`tools/list`, after the handshake of each protocol era (2025-11-25 `initialize` and
`notifications/initialized`; 2026-07-28 `server/discover`, whose requests carry the version in
`_meta`). Also prints the byte size of flora-mcp's compact `tools/list` answer. Targets: flora-mcp
≤ 1.1x the bare server in both eras; tools/list ≤ 14 KB. Processes are spawned in turn so all see
the same machine load.

flora-mcp serves `tools/list` from the answer its previous start saved (`server/_tools_cache.py`,
next to the package's bytecode, keyed by the code, SDK, settings and era); "first start" rows
delete that answer before each spawn, as after an install or upgrade.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from flora_mcp.server._tools_cache import FOLDER, PREFIX

BARE_SERVER = """\
from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(text: str) -> str:
    return text


server.run("stdio")
"""
CLIENT = {"name": "startup-benchmark", "version": "1"}
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": CLIENT,
    "io.modelcontextprotocol/clientCapabilities": {},
}
# Each era's messages up to the first tools/list: (message, whether to wait for its answer).
ERAS: dict[str, list[tuple[dict[str, Any], bool]]] = {
    "2025-11-25 initialize": [
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT},
            },
            True,
        ),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, False),
        ({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, True),
    ],
    "2026-07-28 server/discover": [
        ({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": MODERN_META}}, True),
        ({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": MODERN_META}}, True),
    ],
}


def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _answer(stream: IO[bytes], request_id: int) -> dict[str, Any]:
    while line := stream.readline():
        message: dict[str, Any] = json.loads(line)
        if message.get("id") == request_id:
            if "error" in message:
                raise RuntimeError(f"the server answered an error: {message['error']}")
            return message
    raise RuntimeError("the server closed stdout before answering")


def time_to_tools(
    command: list[str], env: dict[str, str], era: str, first: bool = False
) -> tuple[float, int]:
    """Seconds from spawn to the first tools/list answer after `era`'s handshake, and its size;
    `first`: with no saved tools/list answer (the others are put back afterwards)."""
    if not first:
        return _time_to_tools(command, env, era)
    with tempfile.TemporaryDirectory() as aside:
        saved = list(FOLDER.glob(f"{PREFIX}*.json"))
        for path in saved:
            shutil.move(path, Path(aside) / path.name)
        try:
            return _time_to_tools(command, env, era)
        finally:
            for path in FOLDER.glob(f"{PREFIX}*.json"):
                path.unlink(missing_ok=True)
            for path in saved:
                shutil.move(Path(aside) / path.name, path)


def _time_to_tools(command: list[str], env: dict[str, str], era: str) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        answer: dict[str, Any] = {}
        for message, wait in ERAS[era]:
            _send(process.stdin, message)
            if wait:
                answer = _answer(process.stdout, message["id"])
        elapsed = time.perf_counter() - started
        size = len(json.dumps(answer["result"], separators=(",", ":"), ensure_ascii=False).encode())
        return elapsed, size
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    # With a key nothing is contacted at start, so an unroutable base URL measures start-up alone.
    keyed = base_env | {"FLORA_API_KEY": "benchmark-key", "FLORA_BASE_URL": "http://127.0.0.1:9/api/v1"}
    flora = [sys.executable, "-m", "flora_mcp"]
    with tempfile.TemporaryDirectory() as tmp:
        bare_path = Path(tmp) / "bare_server.py"
        bare_path.write_text(BARE_SERVER)
        cases = {
            "bare one-tool MCPServer": ([sys.executable, str(bare_path)], base_env, False),
            "flora-mcp (FLORA_API_KEY set)": (flora, keyed, False),
            "flora-mcp (no key: sandbox)": (flora, base_env, False),
            "flora-mcp (key, first start)": (flora, keyed, True),
        }
        times: dict[tuple[str, str], list[float]] = {(era, name): [] for era in ERAS for name in cases}
        for era in ERAS:  # warm the file cache once (and save each era's tools/list answer)
            for command, env, _ in cases.values():
                time_to_tools(command, env, era)
        for _ in range(runs):
            for era in ERAS:
                for name, (command, env, first) in cases.items():
                    times[era, name].append(time_to_tools(command, env, era, first)[0])
        tools_list_bytes = time_to_tools(flora, keyed, "2025-11-25 initialize")[1]

    print(f"spawn -> first tools/list answered, median of {runs} runs:")
    for era in ERAS:
        bare = statistics.median(times[era, "bare one-tool MCPServer"])
        print(f"  {era}:")
        for name in cases:
            median = statistics.median(times[era, name])
            print(f"    {name:32s} {median * 1000:7.1f} ms   {median / bare:4.2f}x bare")
    print(f"tools/list result: {tools_list_bytes} bytes ({tools_list_bytes / 1024:.2f} KB; target <= 14 KB)")


if __name__ == "__main__":
    main()
