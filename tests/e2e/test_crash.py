"""A crash loses no paid run: kill the server (SIGKILL) while `generate` waits, start it again,
and history still lists the run with its prompt, and its status can be read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from flora_mcp.sandbox import RunningSandbox, start_sandbox
from flora_mcp.store import SqliteStore, account_digest
from tests.conftest import call_ok
from tests.servers import server_env

pytestmark = pytest.mark.anyio

PROMPT = "a slow pan across a ceramic mug"


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[RunningSandbox]:
    """Runs that take their whole estimate (tens of seconds): the kill comes while one is going."""
    running = start_sandbox(speed=1.0)
    running.state.duration_factors = (1.0, 1.0)
    try:
        yield running
    finally:
        running.stop()


def _send(stdin: IO[str], message: dict[str, Any]) -> None:
    stdin.write(json.dumps(message) + "\n")
    stdin.flush()


def _journaled_run(journal_path: Path, key: str) -> str | None:
    if not journal_path.exists():
        return None
    with SqliteStore.open(journal_path) as journal:
        found = [e.run_id for e in journal.recent(account_digest(key), limit=5) if e.run_id]
    return found[0] if found else None


def _start_generate_then_kill(env: dict[str, str], journal_path: Path, key: str) -> str:
    """A host speaking raw JSON-RPC over stdio calls `generate`; once the run is journaled (so
    FLORA has started it), the server is killed mid-call. The run's id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flora_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdin is not None
    try:
        hello = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        _send(process.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
        _send(process.stdin, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"name": "generate", "arguments": {"prompt": PROMPT, "type": "video", "wait_seconds": 50}}
        _send(process.stdin, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
        deadline = time.monotonic() + 30
        while (run_id := _journaled_run(journal_path, key)) is None:
            assert time.monotonic() < deadline, "the run was never journaled"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return run_id
    finally:
        if process.poll() is None:
            process.kill()


async def test_a_run_started_just_before_a_sigkill_is_in_history_after_a_restart(
    slow_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    key = f"crash-{uuid.uuid4().hex}"
    journal_path = tmp_path / "runs.sqlite3"
    env = server_env(FLORA_API_KEY=key, FLORA_BASE_URL=slow_sandbox.base_url, FLORA_JOURNAL=str(journal_path))

    run_id = await anyio.to_thread.run_sync(_start_generate_then_kill, env, journal_path, key)
    assert slow_sandbox.state.runs[run_id].prompt == PROMPT  # started on FLORA, still going

    params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=env)
    async with Client(params) as mcp:
        history = await call_ok(mcp, "list_generations", {})
        [item] = [g for g in history["generations"] if g["run_id"] == run_id]
        assert item["prompt"] == PROMPT and item["type"] == "video"
        status = await call_ok(mcp, "get_generation_status", {"run_id": run_id})
        assert status["status"] in ("pending", "running") and status["prompt"] == PROMPT
