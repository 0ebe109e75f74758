"""The real command over real stdio, as a desktop host spawns it, with no key: the embedded sandbox."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from PIL import Image

from tests.conftest import TEST_SPEED, four_steps
from tests.servers import server_env

pytestmark = pytest.mark.anyio


async def test_stdio_server_without_key_runs_the_four_steps_on_its_sandbox() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=server_env())
    async with Client(params) as mcp:
        run = await four_steps(mcp, aspect_ratio="16:9")
        [output] = run["outputs"]
        async with httpx2.AsyncClient() as http:
            response = await http.get(output["url"])  # served by the server's own sandbox
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.format == "PNG"
            assert image.width * 9 == image.height * 16


def test_sandbox_command_prints_its_base_url_first_and_serves_it() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flora_mcp", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(),
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
        answer = httpx2.get(f"{base_url}/workspaces", headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 200
        assert answer.json()["workspaces"][0]["workspace_id"].startswith("ws_")
        assert httpx2.get(f"{base_url}/workspaces").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_server_says_on_stderr_that_it_uses_the_sandbox() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "flora_mcp"],
        input="",
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=60,
        check=False,
    )
    assert "sandbox" in process.stderr.lower()
    assert process.stdout == ""


def test_help_documents_options_and_environment() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "flora_mcp", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("FLORA_API_KEY", "FLORA_BASE_URL", "FLORA_SANDBOX_SPEED", "--base-url", "sandbox", "demo"):
        assert name in help_text
    sandbox_help = subprocess.run(
        [sys.executable, "-m", "flora_mcp", "sandbox", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--host" in sandbox_help and "--port" in sandbox_help


def test_demo_saves_three_4x3_png_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-m", "flora_mcp", "--sandbox-speed", str(TEST_SPEED), "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env=server_env(FLORA_API_KEY="must-not-be-used"),
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    files = sorted(out.glob("*.png"))
    assert len(files) == 3
    for path in files:
        assert str(path) in process.stdout
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            assert image.format == "PNG"
            assert image.width * 3 == image.height * 4
