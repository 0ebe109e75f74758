"""save_outputs through MCP against the sandbox, and the whole trip: a local picture in, its edit saved."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from mcp.client import Client
from PIL import Image
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import TEST_SPEED, call_ok, error_text, start_run, wait_for_run, workspace_and_project

pytestmark = pytest.mark.anyio

REFERENCE_SIZE = (320, 200)  # unlike any shape the sandbox draws on its own


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    outbox.mkdir()
    return inbox, outbox


@pytest.fixture
async def files_mcp(folders: tuple[Path, Path]) -> AsyncIterator[Client]:
    """A server on its own embedded sandbox, as a user without a FLORA key runs it."""
    settings = Settings(
        allowed_folders=[str(f) for f in folders],
        sandbox_speed=TEST_SPEED,
        journal=str(folders[0].parent / "runs.sqlite3"),
    )
    async with Client(build_server(settings)) as client:
        yield client


async def finished_run(client: Client, prompt: str = "a red mug") -> str:
    run_id = await start_run(client, "image", prompt)
    run = (await wait_for_run(client, run_id)).structured_content
    assert run is not None and run["status"] == "completed"
    return run_id


async def test_a_local_picture_is_edited_by_an_i2i_model_and_the_edit_saved(
    files_mcp: Client, folders: tuple[Path, Path]
) -> None:
    inbox, outbox = folders
    reference = io.BytesIO()
    Image.new("RGB", REFERENCE_SIZE, (30, 120, 200)).save(reference, format="PNG")
    (inbox / "product.png").write_bytes(reference.getvalue())

    uploaded = await call_ok(files_mcp, "upload_asset", {"source": str(inbox / "product.png")})
    models = (await call_ok(files_mcp, "list_models", {"type": "image"}))["models"]
    i2i = next(m["model_id"] for m in models if m["model_id"].startswith("i2i-"))
    workspace_id, project_id = await workspace_and_project(files_mcp)
    started = await call_ok(
        files_mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "the same product as a watercolour",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": i2i,
            "params": {"image_url": uploaded["url"]},
        },
    )
    run = (await wait_for_run(files_mcp, started["run_id"])).structured_content
    assert run is not None and run["status"] == "completed", run

    saved = await call_ok(files_mcp, "save_outputs", {"run_ids": [run["run_id"]], "folder": str(outbox)})
    [path] = [Path(p) for p in saved["paths"]]
    assert path.parent == outbox.resolve()
    short_run = run["run_id"].removeprefix("run_")[-8:]  # leads back to the run
    assert path.name == f"the-same-product-as-a-watercolour_{i2i}_1_{short_run}.png"
    with Image.open(path) as edited:
        assert edited.size == REFERENCE_SIZE  # drawn from the uploaded picture, not from nothing


async def test_saving_again_keeps_the_first_file_unless_overwrite(
    files_mcp: Client, folders: tuple[Path, Path]
) -> None:
    outbox = folders[1]
    run_id = await finished_run(files_mcp)
    arguments = {"run_ids": [run_id], "folder": str(outbox / "mugs")}  # made when missing
    [first] = (await call_ok(files_mcp, "save_outputs", arguments))["paths"]
    [second] = (await call_ok(files_mcp, "save_outputs", arguments))["paths"]
    [replaced] = (await call_ok(files_mcp, "save_outputs", arguments | {"overwrite": True}))["paths"]
    assert first != second
    assert replaced == first
    assert sorted(p.name for p in (outbox / "mugs").iterdir()) == sorted(
        Path(p).name for p in (first, second)
    )


def _dotdot(outbox: Path, outside: Path) -> str:
    return f"{outbox}/../outside"


def _symlinked(outbox: Path, outside: Path) -> str:
    (outbox / "shortcut").symlink_to(outside, target_is_directory=True)
    return str(outbox / "shortcut")


def _outside(outbox: Path, outside: Path) -> str:
    return str(outside)


@pytest.mark.parametrize(
    ("make", "reason"),
    [(_dotdot, "'..'"), (_symlinked, "through a symbolic link"), (_outside, "outside the allowed folders")],
    ids=["dotdot", "symlink-outside", "outside-folder"],
)
async def test_a_folder_outside_the_allowed_ones_is_refused_and_nothing_written(
    files_mcp: Client, folders: tuple[Path, Path], make: Callable[[Path, Path], str], reason: str
) -> None:
    outbox = folders[1]
    outside = outbox.parent / "outside"
    outside.mkdir()
    run_id = await finished_run(files_mcp)
    result = await files_mcp.call_tool("save_outputs", {"run_ids": [run_id], "folder": make(outbox, outside)})
    assert result.is_error
    assert reason in error_text(result)
    assert list(outside.iterdir()) == []


async def test_a_run_that_failed_has_nothing_to_save_and_says_so(
    files_mcp: Client, folders: tuple[Path, Path]
) -> None:
    run_id = await finished_run(files_mcp)
    [output] = (await call_ok(files_mcp, "get_generation_status", {"run_id": run_id}))["outputs"]
    origin = output["url"].split("/media/")[0]
    gone = f"{origin}/uploads/asset_gone/photo.png"  # an upload that never was
    models = (await call_ok(files_mcp, "list_models", {"type": "image"}))["models"]
    i2i = next(m["model_id"] for m in models if m["model_id"].startswith("i2i-"))
    workspace_id, project_id = await workspace_and_project(files_mcp)
    started = await call_ok(  # FLORA accepts the run, then fails it: the reference cannot be read
        files_mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "an edit of nothing",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": i2i,
            "params": {"image_url": gone},
        },
    )
    run = (await wait_for_run(files_mcp, started["run_id"])).structured_content
    assert run is not None and run["status"] == "failed"
    result = await files_mcp.call_tool(
        "save_outputs", {"run_ids": [run["run_id"]], "folder": str(folders[1])}
    )
    assert result.is_error
    assert f"{run['run_id']} is failed" in error_text(result)
    assert list(folders[1].iterdir()) == []


async def test_saving_is_refused_when_the_server_is_not_on_the_users_machine(
    sandbox: RunningSandbox, api_key: str, folders: tuple[Path, Path]
) -> None:
    settings = Settings(
        api_key=SecretStr(api_key),
        base_url=sandbox.base_url,
        allowed_folders=[str(f) for f in folders],
        transport="http",
        journal="off",
    )
    async with Client(build_server(settings)) as client:
        run_id = await finished_run(client)
        result = await client.call_tool("save_outputs", {"run_ids": [run_id], "folder": str(folders[1])})
    assert result.is_error
    assert "stdio only" in error_text(result)
    assert list(folders[1].iterdir()) == []


async def test_outputs_on_either_media_origin_of_a_sandbox_at_a_base_url_are_saved(
    sandbox: RunningSandbox, api_key: str, folders: tuple[Path, Path]
) -> None:
    """The sandbox serves every other run from its second origin (127.0.0.1 and localhost), as FLORA
    serves from media.flora.ai and ik.imagekit.io: a server given its base URL must save both."""
    settings = Settings(
        api_key=SecretStr(api_key),
        base_url=sandbox.base_url,
        allowed_folders=[str(f) for f in folders],
        journal="off",
    )
    async with Client(build_server(settings)) as client:
        generated = await call_ok(client, "generate", {"prompt": "two mugs", "count": 2})
        run_ids = [run["run_id"] for run in generated["runs"]]
        saved = await call_ok(client, "save_outputs", {"run_ids": run_ids, "folder": str(folders[1])})
    assert len(saved["paths"]) == 2, saved["problems"]


async def test_saved_files_are_numbered_in_the_order_the_runs_were_given(
    files_mcp: Client, folders: tuple[Path, Path]
) -> None:
    first, second = await finished_run(files_mcp, "a red mug"), await finished_run(files_mcp, "a red mug")

    saved = await call_ok(files_mcp, "save_outputs", {"run_ids": [second, first], "folder": str(folders[1])})

    names = [Path(p).name for p in saved["paths"]]
    tails = [run_id.removeprefix("run_")[-8:] for run_id in (second, first)]
    assert [name.split("_")[-2:] for name in names] == [["1", f"{tails[0]}.png"], ["2", f"{tails[1]}.png"]]
