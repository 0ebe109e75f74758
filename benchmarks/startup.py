"""Start-up cost of `flora-mcp` over stdio, next to a bare one-tool server on the same SDK.

    python benchmarks/startup.py [--runs 15]

Prints the median time from spawning each server to its `initialize` result, and the byte
size of flora-mcp's `tools/list` answer. Targets: flora-mcp ≤ 1.0x the bare server;
tools/list ≤ 12 KB. Processes are spawned in turn so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

BARE_SERVER = """\
from mcp.server.mcpserver import MCPServer

server = MCPServer("bare")


@server.tool()
def echo(text: str) -> str:
    return text


server.run("stdio")
"""
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "startup-benchmark", "version": "1"},
    },
}


def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _answer(stream: IO[bytes], request_id: int) -> bytes:
    while line := stream.readline():
        if json.loads(line).get("id") == request_id:
            return line
    raise RuntimeError("the server closed stdout before answering")


def time_to_initialize(
    command: list[str], env: dict[str, str], list_tools: bool = False
) -> tuple[float, int]:
    """Seconds from spawn to the initialize result, and the tools/list answer size if asked."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        _send(process.stdin, INITIALIZE)
        _answer(process.stdout, 1)
        elapsed = time.perf_counter() - started
        size = 0
        if list_tools:
            _send(process.stdin, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            _send(process.stdin, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            result = json.loads(_answer(process.stdout, 2))["result"]
            size = len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())
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
            "bare one-tool MCPServer": ([sys.executable, str(bare_path)], base_env),
            "flora-mcp (FLORA_API_KEY set)": (flora, keyed),
            "flora-mcp (no key: sandbox)": (flora, base_env),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for command, env in cases.values():  # warm the file cache once
            time_to_initialize(command, env)
        for _ in range(runs):
            for name, (command, env) in cases.items():
                times[name].append(time_to_initialize(command, env)[0])
        tools_list_bytes = time_to_initialize(flora, keyed, list_tools=True)[1]

    bare = statistics.median(times["bare one-tool MCPServer"])
    print(f"spawn -> initialize result, median of {runs} runs:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:32s} {median * 1000:7.1f} ms   {median / bare:4.2f}x bare")
    print(f"tools/list result: {tools_list_bytes} bytes ({tools_list_bytes / 1024:.2f} KB; target <= 12 KB)")


if __name__ == "__main__":
    main()
