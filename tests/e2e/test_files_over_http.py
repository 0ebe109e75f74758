"""Files over streamable HTTP, in a real server process: the server is not on the user's machine, so
local paths are refused with the reason, and URLs still work."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from mcp.client import Client
from PIL import Image

from tests.conftest import call_ok, error_text, wait_for_run, workspace_and_project
from tests.servers import flora_server, server_env

pytestmark = pytest.mark.anyio


async def test_over_http_paths_are_refused_with_the_reason_and_urls_work(tmp_path: Path) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 160, 90)).save(picture, format="PNG")
    (tmp_path / "photo.png").write_bytes(picture.getvalue())
    env = server_env(FLORA_ALLOWED_FOLDERS=str(tmp_path))  # allowed, and still not readable over HTTP
    with flora_server("--transport", "http", env=env) as server:
        async with Client(server.url) as mcp:
            by_path = await mcp.call_tool("upload_asset", {"source": str(tmp_path / "photo.png")})
            generated = await call_ok(mcp, "generate", {"prompt": "a green vase"})
            [run] = generated["runs"]
            saved = await mcp.call_tool("save_outputs", {"run_ids": [run["run_id"]], "folder": str(tmp_path)})

            by_url = await call_ok(mcp, "upload_asset", {"source": run["outputs"][0]["url"]})
            models = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
            workspace_id, project_id = await workspace_and_project(mcp)
            edit = {
                "type": "image",
                "prompt": "the same vase in blue",
                "workspace_id": workspace_id,
                "project_id": project_id,
                "model": next(m["model_id"] for m in models if m["model_id"].startswith("i2i-")),
                "params": {"image_url": by_url["url"]},
            }
            started = await call_ok(mcp, "create_generation", edit)
            edited = (await wait_for_run(mcp, started["run_id"])).structured_content

    assert by_path.is_error
    assert "runs over HTTP" in error_text(by_path)
    assert "https URL" in error_text(by_path)  # what to give instead
    assert saved.is_error
    assert "stdio only" in error_text(saved)
    assert os.listdir(tmp_path) == ["photo.png"]  # nothing written
    assert by_url["url"] == run["outputs"][0]["url"]
    assert edited is not None and edited["status"] == "completed", edited
