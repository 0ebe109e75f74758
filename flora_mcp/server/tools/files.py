"""Files in and out: a local file, a URL or an earlier output as a reference FLORA can read, and
outputs saved to a local folder.

FLORA reads reference media only from its own hosts, so anything else is uploaded as an asset
first. Local paths are read and written only over stdio, where the server runs on the user's own
machine, and only under the allowed folders (`_roots`): over HTTP a path names a file on the
client's machine, which the server cannot and must not reach.
"""

from __future__ import annotations

import functools
import itertools
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Annotated, Final
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import httpx2
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp import files
from flora_mcp.client import ConflictError, RunOutput
from flora_mcp.downloads import FetchRefused, fetch_bytes, fetch_output
from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._context import Ctx, account, api_errors, loopback_origins, media_origins
from flora_mcp.server._defaults import default_workspace
from flora_mcp.server._references import fetchable
from flora_mcp.server._roots import Allowed, allowed_folders
from flora_mcp.settings import Settings

MAX_RUNS: Final = 20  # FLORA's own batch size
_OVER_HTTP: Final = (
    "this server runs over HTTP, so local paths name files on your machine, which it cannot reach"
)
# Where an uploaded file goes in a run's params: FLORA infers references from the model id's prefix.
_PARAM_OF_KIND: Final = {"image": "image_url", "video": "video_url"}


async def upload_asset(
    source: str, ctx: Ctx, workspace_id: str | None = None
) -> Annotated[CallToolResult, results.Uploaded]:
    state = ctx.request_context.lifespan_context
    source = source.strip()
    if source.startswith("run_"):
        _checks.check_id("run_id", source)
        return _direct(await _first_output(await account(ctx), source))
    if "://" in source and not source.startswith("file:"):
        if fetchable(source, await media_origins(state)):  # what the generation tools accept
            return _direct(source)
        upload = await _fetched(ctx, source)
    else:  # a path, or a file:// URI as hosts give them
        local = files.roots_from_uris([source]) if source.startswith("file:") else []
        upload = await _local(ctx, str(local[0]) if local else source)
    acct = await account(ctx)
    with api_errors(not_found=f"Workspace {workspace_id!r} was not found: use one from list_workspaces."):
        if workspace_id is not None:
            _checks.check_id("workspace_id", workspace_id)
        where = await default_workspace(state.settings, acct, workspace_id)
        try:
            asset = await acct.client.upload_asset(where, upload.data, upload.content_type, upload.file_name)
        except ConflictError as exc:
            # FLORA answers a retried POST with 409 and no replay: the first attempt's answer was lost,
            # and the key cannot recover it. Nothing is ready twice; a new call gets a new key.
            raise ToolError(
                f"FLORA took the upload but its answer was lost ({exc.code}); call upload_asset again."
            ) from exc
    if asset.url is None or asset.status != "ready":
        raise ToolError(f"FLORA is still processing asset {asset.asset_id} ({asset.status}); try again soon.")
    param = _PARAM_OF_KIND.get(upload.content_type.split("/")[0], "the model's reference param")
    note = f"Uploaded. Use url as params.{param} of an i2i-/i2v- model."
    data = {"asset_id": asset.asset_id, "url": asset.url, "content_type": upload.content_type, "note": note}
    return results.structured(data)


async def save_outputs(
    run_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_RUNS)],
    folder: str,
    ctx: Ctx,
    overwrite: bool = False,
) -> Annotated[CallToolResult, results.Saved]:
    state = ctx.request_context.lifespan_context
    if state.settings.transport != "stdio":
        raise ToolError(
            f"save_outputs works over stdio only: {_OVER_HTTP}. Download the output URLs instead."
        )
    for run_id in run_ids:
        _checks.check_id("run_id", run_id)
    allowed = await allowed_folders(ctx)
    with _refusals(allowed):
        target = await anyio.to_thread.run_sync(
            lambda: files.resolve_allowed(folder, allowed.folders, must_exist=False)
        )
    acct = await account(ctx)
    origins = await loopback_origins(state)
    unique = list(dict.fromkeys(run_ids))
    known = await acct.history.entries(unique)  # prompts and models: FLORA's run has neither
    paths: list[str] = []
    problems: list[str] = []
    numbers = itertools.count(1)  # files are numbered in the order given, across runs
    for run_id in unique:
        with api_errors(not_found=f"Run {run_id!r} was not found."):
            run = await acct.client.get_run(run_id)
        if run.status != "completed" or not run.outputs:
            problems.append(f"{run_id} is {run.status} with no outputs to save")
            continue
        entry = known.get(run_id)
        prompt, model = (entry.prompt, entry.model) if entry else (None, None)
        saved: list[str] = []
        for index, output in enumerate(run.outputs, 1):
            try:
                content, ext = await _content(state.http, output, origins)
            except FetchRefused as exc:
                problems.append(f"{run_id} output {index}: {exc}")
                continue
            name = files.output_file_name(prompt or "", model, next(numbers), run_id, ext)
            with _refusals(allowed):
                save = functools.partial(files.save_bytes, target, name, content, overwrite=overwrite)
                saved.append(str(await anyio.to_thread.run_sync(save)))
        await acct.history.saved(run_id, saved)
        paths += saved
    if not paths:
        raise ToolError("Nothing was saved: " + "; ".join(problems) + ".")
    return results.structured({"folder": str(target), "paths": paths, "problems": problems})


@contextmanager
def _refusals(allowed: Allowed | None = None) -> Iterator[None]:
    """A refused file or URL becomes a tool error that says which folders are allowed, and why."""
    try:
        yield
    except files.FileRefused as exc:
        where = f" (allowed folders come from {allowed.source})" if allowed else ""
        raise ToolError(f"{exc}{where}") from exc
    except FetchRefused as exc:
        raise ToolError(f"Could not fetch the file: {exc}.") from exc


def _direct(url: str) -> CallToolResult:
    note = "FLORA's own URL: use it as is (e.g. params.image_url); nothing was uploaded."
    return results.structured({"asset_id": None, "url": url, "note": note})


async def _first_output(acct: Account, run_id: str) -> str:
    with api_errors(not_found=f"Run {run_id!r} was not found."):
        run = await acct.client.get_run(run_id)
    if run.status in ("pending", "running"):
        raise ToolError(f"Run {run_id} is {run.status}: wait for it with get_generation_status.")
    if not run.outputs:
        raise ToolError(f"Run {run_id} is {run.status} with no output to use.")
    return run.outputs[0].url


async def _fetched(ctx: Ctx, url: str) -> files.Upload:
    state = ctx.request_context.lifespan_context
    with _refusals():
        data = await fetch_bytes(
            state.http,
            url,
            loopback_origins=await loopback_origins(state),
            max_bytes=_max_bytes(state.settings),
        )
        content_type = files.media_type_of(data, url)
    name = files.safe_name(unquote(PurePosixPath(urlsplit(url).path).name), default="upload")
    return files.Upload(data, content_type, name)


async def _local(ctx: Ctx, path: str) -> files.Upload:
    settings = ctx.request_context.lifespan_context.settings
    if settings.transport != "stdio":
        raise ToolError(f"Refused {path!r}: {_OVER_HTTP}. Give an https URL of the file instead.")
    allowed = await allowed_folders(ctx)
    with _refusals(allowed):
        return await anyio.to_thread.run_sync(
            lambda: files.read_upload(path, allowed.folders, _max_bytes(settings))
        )


def _max_bytes(settings: Settings) -> int:
    return int(settings.upload_max_mb * 1_000_000)


async def _content(
    http: httpx2.AsyncClient, output: RunOutput, origins: tuple[str, ...]
) -> tuple[bytes, str]:
    """An output's bytes and file extension. A text output's `url` may be the text itself."""
    if "://" not in output.url:
        return output.url.encode(), "txt"
    data = await fetch_output(http, output.url, loopback_origins=origins, expect="")
    suffix = PurePosixPath(urlsplit(output.url).path).suffix.lstrip(".").lower()
    if suffix.isalnum() and len(suffix) <= 5:
        return data, suffix
    sniffed = files.sniff_media(data)
    guessed = mimetypes.guess_extension(sniffed) if sniffed else None
    return data, (guessed or (".txt" if output.type == "text" else ".bin")).lstrip(".")
