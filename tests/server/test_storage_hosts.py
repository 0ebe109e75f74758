"""FLORA serves new uploads from storage whose host it does not name (BEHAVIOUR.md, SDK 0.11), so no
list of media hosts can say which references FLORA will fetch. The sandbox serves uploads from a
third origin it does not announce; an upload's URL is accepted as a reference because FLORA gave it,
by every server sharing the store, and refused (nothing spent) by one that never saw it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import call_ok, error_text
from tests.server.test_upload import png

pytestmark = pytest.mark.anyio


def settings_for(sandbox: RunningSandbox, key: str, journal: Path, folder: Path) -> Settings:
    return Settings(
        api_key=SecretStr(key), base_url=sandbox.base_url, journal=str(journal), allowed_folders=[str(folder)]
    )


async def test_an_uploads_url_on_an_unnamed_host_is_a_reference_on_every_replica(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    (tmp_path / "mug.png").write_bytes(png())
    key, shared = f"storage-{uuid.uuid4().hex}", tmp_path / "shared.sqlite3"
    async with Client(build_server(settings_for(sandbox, key, shared, tmp_path))) as first:
        uploaded = await call_ok(first, "upload_asset", {"source": str(tmp_path / "mug.png")})
        models = (await call_ok(first, "list_models", {"type": "image"}))["models"]
    model = next(m["model_id"] for m in models if m["model_id"].startswith("i2i-"))
    asking = {"prompt": "the mug on marble", "model": model, "params": {"image_url": uploaded["url"]}}
    async with Client(build_server(settings_for(sandbox, key, shared, tmp_path))) as replica:
        made = await call_ok(replica, "generate", asking)
    async with Client(build_server(settings_for(sandbox, key, tmp_path / "own.sqlite3", tmp_path))) as other:
        before = len(sandbox.state.runs)
        refused = await other.call_tool("generate", asking)

    assert uploaded["url"].startswith(sandbox.storage_origin + "/")
    assert sandbox.storage_origin not in sandbox.media_origins  # not announced: learned from FLORA
    assert made["runs"][0]["status"] == "completed"
    assert refused.is_error and "upload_asset" in error_text(refused)
    assert len(sandbox.state.runs) == before
