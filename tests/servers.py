"""Real server processes for transport tests: spawn `flora-mcp`, wait for its URL, stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.conftest import TEST_SPEED

READY = "flora-mcp: serving MCP over "


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    return env | {"FLORA_SANDBOX_SPEED": str(TEST_SPEED)} | extra


@contextmanager
def flora_server(*args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """`flora-mcp <args> --port 0`, yielding once it has announced the URL it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flora_mcp", *args, "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else server_env(),
    )
    assert process.stderr is not None
    lines: list[str] = []
    url = ""
    for line in process.stderr:  # ends at EOF if the server exits before announcing
        lines.append(line)
        if line.startswith(READY):
            url = line.split(" at ", 1)[1].strip()
            break
    # Keep draining stderr so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True).start()
    try:
        assert url, "server did not start:\n" + "".join(lines)
        yield ServerProcess(url=url, process=process, stderr=lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
