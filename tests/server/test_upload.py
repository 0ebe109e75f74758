"""upload_asset through MCP against the sandbox: local files under allowed folders, URLs, earlier runs."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.context import ClientRequestContext
from mcp.client.session import ListRootsFnT
from mcp.types import ListRootsResult, Root
from PIL import Image
from pydantic import FileUrl, SecretStr

from flora_mcp.sandbox import FaultRule, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import TEST_SPEED, call_ok, error_text, wait_for_run, workspace_and_project

pytestmark = pytest.mark.anyio

# The first answer to each POST under /assets is lost after FLORA has acted on it.
LOST = FaultRule(
    method="POST", path="/assets*", drop_after_processing=True, first_only_per_idempotency_key=True
)


def png(width: int = 64, height: int = 48, noisy: bool = False) -> bytes:
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noisy else None
    out = io.BytesIO()
    (image or Image.new("RGB", (width, height), (200, 40, 40))).save(out, format="PNG")
    return out.getvalue()


def asset_posts(sandbox: RunningSandbox, api_key: str) -> list[str]:
    """What this test's key asked FLORA to create: any POST under /assets is an upload."""
    return [
        r.path
        for r in sandbox.state.requests
        if r.api_key == api_key and r.method == "POST" and "/assets" in r.path
    ]


def settings_for(sandbox: RunningSandbox, api_key: str, *folders: Path, **more: Any) -> Settings:
    return Settings(
        api_key=SecretStr(api_key),
        base_url=sandbox.base_url,
        allowed_folders=[str(f) for f in folders],
        journal="off",
        **more,
    )


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
async def files_mcp(sandbox: RunningSandbox, api_key: str, allowed: Path) -> AsyncIterator[Client]:
    settings = settings_for(sandbox, api_key, allowed, upload_max_mb=0.01)  # a 10 KB cap
    async with Client(build_server(settings)) as client:
        yield client


async def test_a_png_under_an_allowed_folder_becomes_an_asset_with_its_bytes(
    files_mcp: Client, allowed: Path, sandbox: RunningSandbox, api_key: str
) -> None:
    picture = png()
    (allowed / "product.png").write_bytes(picture)
    uploaded = await call_ok(files_mcp, "upload_asset", {"source": str(allowed / "product.png")})
    assert uploaded["asset_id"].startswith("asset_")
    assert uploaded["content_type"] == "image/png"
    assert "params.image_url" in uploaded["note"]
    async with httpx2.AsyncClient() as http:
        served = await http.get(uploaded["url"])
    assert served.content == picture
    assert asset_posts(sandbox, api_key)  # the signed flow really ran
    keys = [r.idempotency_key for r in sandbox.state.requests if r.api_key == api_key and r.method == "POST"]
    assert keys and all(keys)  # every POST can be retried without making a second asset


async def test_a_file_uri_names_a_local_file_as_hosts_give_them(files_mcp: Client, allowed: Path) -> None:
    (allowed / "my photo.png").write_bytes(png())
    uploaded = await call_ok(files_mcp, "upload_asset", {"source": (allowed / "my photo.png").as_uri()})
    assert uploaded["asset_id"].startswith("asset_")


def _symlink_outside(allowed: Path, outside: Path) -> str:
    (outside / "secret.png").write_bytes(png())
    (allowed / "link.png").symlink_to(outside / "secret.png")
    return str(allowed / "link.png")


def _outside(allowed: Path, outside: Path) -> str:
    (outside / "elsewhere.png").write_bytes(png())
    return str(outside / "elsewhere.png")


def _dotdot(allowed: Path, outside: Path) -> str:
    (outside / "up.png").write_bytes(png())
    return f"{allowed}/../outside/up.png"


def _empty(allowed: Path, outside: Path) -> str:
    (allowed / "empty.png").write_bytes(b"")
    return str(allowed / "empty.png")


def _too_big(allowed: Path, outside: Path) -> str:
    (allowed / "big.png").write_bytes(png(200, 200, noisy=True))  # ~120 KB over the 10 KB cap
    return str(allowed / "big.png")


def _text_as_png(allowed: Path, outside: Path) -> str:
    (allowed / "notes.png").write_text("shopping list: milk, eggs\n")
    return str(allowed / "notes.png")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_dotdot, "'..'"),
        (_symlink_outside, "through a symbolic link"),
        (_outside, "outside the allowed folders"),
        (_empty, "empty (0 bytes)"),
        (_too_big, "byte upload limit"),
        (_text_as_png, "not an image (it looks like text)"),
    ],
    ids=["dotdot", "symlink-outside", "outside-folder", "empty", "over-cap", "text-named-png"],
)
async def test_a_refused_local_file_says_why_and_uploads_nothing(
    files_mcp: Client,
    allowed: Path,
    sandbox: RunningSandbox,
    api_key: str,
    make: Callable[[Path, Path], str],
    reason: str,
) -> None:
    outside = allowed.parent / "outside"
    outside.mkdir()
    result = await files_mcp.call_tool("upload_asset", {"source": make(allowed, outside)})
    assert result.is_error
    message = error_text(result)
    assert reason in message
    assert asset_posts(sandbox, api_key) == []


async def test_a_folder_outside_names_the_allowed_ones_and_where_they_come_from(
    files_mcp: Client, allowed: Path, tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(png())
    result = await files_mcp.call_tool("upload_asset", {"source": str(tmp_path / "photo.png")})
    assert result.is_error
    assert str(allowed) in error_text(result)
    assert "FLORA_ALLOWED_FOLDERS" in error_text(result)


def roots_of(folder: Path) -> ListRootsFnT:
    async def answer(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=FileUrl(folder.as_uri()), name="project")])

    return answer


async def test_the_clients_roots_replace_the_configured_folders(
    sandbox: RunningSandbox, api_key: str, tmp_path: Path
) -> None:
    configured, rooted = tmp_path / "configured", tmp_path / "rooted"
    for folder in (configured, rooted):
        folder.mkdir()
        (folder / "pic.png").write_bytes(png())
    server = build_server(settings_for(sandbox, api_key, configured))
    # Roots reach a server only on a 2025-era session, which can send it requests.
    async with Client(server, mode="legacy", list_roots_callback=roots_of(rooted)) as client:
        uploaded = await call_ok(client, "upload_asset", {"source": str(rooted / "pic.png")})
        refused = await client.call_tool("upload_asset", {"source": str(configured / "pic.png")})
    assert uploaded["asset_id"].startswith("asset_")
    assert refused.is_error
    assert "the MCP client's roots" in error_text(refused)


async def test_a_connection_without_a_back_channel_falls_back_to_the_configured_folders(
    sandbox: RunningSandbox, api_key: str, allowed: Path, tmp_path: Path
) -> None:
    (allowed / "pic.png").write_bytes(png())
    server = build_server(settings_for(sandbox, api_key, allowed))
    # The default (2026-07-28) connection: the client offers roots, the server cannot ask for them.
    async with Client(server, list_roots_callback=roots_of(tmp_path / "elsewhere")) as client:
        uploaded = await call_ok(client, "upload_asset", {"source": str(allowed / "pic.png")})
    assert uploaded["asset_id"].startswith("asset_")


async def test_earlier_outputs_are_used_as_is_without_an_upload(allowed: Path) -> None:
    # The server's own embedded sandbox, as a user without a key runs it: its outputs come from
    # two origins (as FLORA's do), and a run of each is checked.
    settings = Settings(allowed_folders=[str(allowed)], sandbox_speed=TEST_SPEED, journal="off")
    async with Client(build_server(settings)) as client:
        generated = await call_ok(client, "generate", {"prompt": "a teapot", "count": 2})
        for run in generated["runs"]:
            by_run = await call_ok(client, "upload_asset", {"source": run["run_id"]})
            by_url = await call_ok(client, "upload_asset", {"source": run["outputs"][0]["url"]})
            for answer in (by_run, by_url):
                assert answer["asset_id"] is None
                assert answer["url"] == run["outputs"][0]["url"]
                assert "nothing was uploaded" in answer["note"]


async def test_a_run_without_outputs_has_nothing_to_use(files_mcp: Client, sandbox: RunningSandbox) -> None:
    workspace_id, project_id = await workspace_and_project(files_mcp)
    models = (await call_ok(files_mcp, "list_models", {"type": "image"}))["models"]
    gone = f"{sandbox.media_origins[0]}/uploads/asset_gone/photo.png"  # FLORA takes the run, then fails it
    arguments = {
        "type": "image",
        "prompt": "an edit of nothing",
        "workspace_id": workspace_id,
        "project_id": project_id,
        "model": next(m["model_id"] for m in models if m["model_id"].startswith("i2i-")),
        "params": {"image_url": gone},
    }
    run_id = (await call_ok(files_mcp, "create_generation", arguments))["run_id"]
    await wait_for_run(files_mcp, run_id)
    result = await files_mcp.call_tool("upload_asset", {"source": run_id})
    assert result.is_error
    assert f"Run {run_id} is failed with no output" in error_text(result)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/photo.png", "only https"),
        ("https://10.1.2.3/photo.png", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://[::1]/photo.png", "not a public host"),
        ("https://localhost/photo.png", "not a public host"),
        ("https://printer.local/photo.png", "not a public host"),
    ],
)
async def test_a_url_flora_would_not_fetch_is_refused_before_asking_it(
    files_mcp: Client, sandbox: RunningSandbox, api_key: str, url: str, reason: str
) -> None:
    result = await files_mcp.call_tool("upload_asset", {"source": url})
    assert result.is_error
    assert reason in error_text(result)
    assert asset_posts(sandbox, api_key) == []


PUBLIC = "https://93.184.215.14/refs/linen.png"  # a public address: FLORA fetches it, the sandbox draws one


def asset_bodies(sandbox: RunningSandbox, api_key: str) -> list[Any]:
    return [
        a
        for a in sandbox.state.assets.values()
        if a.workspace_id == sandbox.state.workspace_for(api_key).workspace_id
    ]


async def test_a_public_url_goes_to_flora_as_the_source_in_one_call(
    files_mcp: Client, sandbox: RunningSandbox, api_key: str
) -> None:
    uploaded = await call_ok(files_mcp, "upload_asset", {"source": PUBLIC})
    assert uploaded["asset_id"].startswith("asset_") and uploaded["content_type"] == "image/png"
    assert asset_posts(sandbox, api_key) == ["/api/v1/assets"]  # no signed upload, no bytes from us
    [asset] = asset_bodies(sandbox, api_key)
    assert asset.uploaded_via == "url"


async def test_a_url_flora_refuses_is_reported_with_its_reason(files_mcp: Client) -> None:
    result = await files_mcp.call_tool("upload_asset", {"source": "https://93.184.215.14/about.html"})
    assert result.is_error
    assert "FLORA could not make an asset of https://93.184.215.14/about.html" in error_text(result)
    assert "Could not read an image" in error_text(result)


async def test_a_small_file_goes_in_one_multipart_call_and_a_large_one_by_signed_upload(
    sandbox: RunningSandbox, api_key: str, allowed: Path
) -> None:
    (allowed / "small.png").write_bytes(png())
    big = png(1400, 1400, noisy=True)
    assert len(big) > 4 * 1024 * 1024
    (allowed / "big.png").write_bytes(big)
    async with Client(build_server(settings_for(sandbox, api_key, allowed))) as client:
        small = await call_ok(client, "upload_asset", {"source": str(allowed / "small.png")})
        large = await call_ok(client, "upload_asset", {"source": str(allowed / "big.png")})
    via = {a.asset_id: a.uploaded_via for a in asset_bodies(sandbox, api_key)}
    assert via == {small["asset_id"]: "direct", large["asset_id"]: "signed_url"}
    assert asset_posts(sandbox, api_key)[0] == "/api/v1/assets"


async def test_project_id_puts_the_asset_on_that_canvas(files_mcp: Client, allowed: Path) -> None:
    _, project_id = await workspace_and_project(files_mcp)
    (allowed / "ref.png").write_bytes(png())
    for source in (str(allowed / "ref.png"), PUBLIC):
        uploaded = await call_ok(files_mcp, "upload_asset", {"source": source, "project_id": project_id})
        assert uploaded["project_id"] == project_id and "canvas" in uploaded["note"]
    canvas = await call_ok(files_mcp, "get_canvas", {"project_id": project_id})
    assert [n["type"] for n in canvas["nodes"]] == ["static_image", "static_image"]


async def test_a_local_path_is_refused_when_the_server_is_not_on_the_users_machine(
    sandbox: RunningSandbox, api_key: str, allowed: Path
) -> None:
    (allowed / "pic.png").write_bytes(png())
    settings = settings_for(sandbox, api_key, allowed, transport="http")
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("upload_asset", {"source": str(allowed / "pic.png")})
    assert result.is_error
    assert "runs over HTTP" in error_text(result)
    assert asset_posts(sandbox, api_key) == []


async def test_an_upload_whose_answer_was_lost_is_retried_into_one_asset(allowed: Path, api_key: str) -> None:
    (allowed / "pic.png").write_bytes(png())
    with start_sandbox(speed=TEST_SPEED, faults=[LOST], idempotency="replay") as faulty:
        async with Client(build_server(settings_for(faulty, api_key, allowed))) as client:
            uploaded = await call_ok(client, "upload_asset", {"source": str(allowed / "pic.png")})
        assert list(faulty.state.assets) == [uploaded["asset_id"]]
        assert any(r.dropped for r in faulty.state.requests)  # the fault really happened


async def test_a_lost_upload_answer_refused_as_a_duplicate_finds_the_asset_it_made(
    allowed: Path, api_key: str
) -> None:
    """FLORA's measured way: a repeated Idempotency-Key gets 409 with no replay of the first answer."""
    (allowed / "pic.png").write_bytes(png())
    with start_sandbox(speed=TEST_SPEED, faults=[LOST], idempotency="conflict") as faulty:
        async with Client(build_server(settings_for(faulty, api_key, allowed))) as client:
            first = await call_ok(client, "upload_asset", {"source": str(allowed / "pic.png")})
        ready = [a.asset_id for a in faulty.state.assets.values() if a.status == "ready"]
        assert ready == [first["asset_id"]]  # found again, not uploaded a second time
        assert any(r.status == 409 for r in faulty.state.requests)
