"""Files in and out: a local file, a URL or an earlier output as a reference FLORA can read, and
outputs saved to a local folder.

FLORA reads reference media only from its own hosts, so anything else becomes an asset first, in
one call where FLORA allows it: a public https URL is passed to FLORA, which fetches it (private,
loopback and link-local hosts are refused here first); a local file of up to 4 MB goes as multipart;
a larger one through the signed upload. `project_id` also puts the asset on that canvas.

Local paths are read and written only over stdio, where the server runs on the user's own machine,
and only under the allowed folders (`_roots`): over HTTP a path names a file on the client's
machine, which the server cannot and must not reach.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import mimetypes
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import anyio.to_thread
import httpx2
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp import files
from flora_mcp._constants import BATCH_LIMIT, LOOPBACK_HOSTS
from flora_mcp.client import DIRECT_UPLOAD_MAX_BYTES, Asset, AssetFailedError, ConflictError, RunOutput
from flora_mcp.downloads import FetchRefused, fetch_output, origin_of
from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._context import Ctx, account, api_errors, learn_media, loopback_origins, media_origins
from flora_mcp.server._defaults import default_workspace
from flora_mcp.server._references import fetchable
from flora_mcp.server._roots import Allowed, allowed_folders
from flora_mcp.settings import Settings

MAX_RUNS: Final = BATCH_LIMIT  # a batch's runs saved in one call
RECOVER_LOOKBACK: Final = 10  # newest assets of that name searched for an upload whose answer was lost
_OVER_HTTP: Final = (
    "this server runs over HTTP, so local paths name files on your machine, which it cannot reach"
)
# Where an uploaded file goes in a run's params: FLORA infers references from the model id's prefix.
_PARAM_OF_KIND: Final = {"image": "image_url", "video": "video_url"}


async def upload_asset(
    source: str, ctx: Ctx, workspace_id: str | None = None, project_id: str | None = None
) -> Annotated[CallToolResult, results.Uploaded]:
    state = ctx.request_context.lifespan_context
    source = source.strip()
    for name, value in (("workspace_id", workspace_id), ("project_id", project_id)):
        if value is not None:
            _checks.check_id(name, value)
    if source.startswith("run_"):
        _checks.check_id("run_id", source)
        output = await _first_output(await account(ctx), source)
        await learn_media(state, [output])
        return _direct(output)
    by_url = "://" in source and not source.startswith("file:")
    upload: files.Upload | None = None
    if by_url:
        if fetchable(source, await media_origins(state)) and project_id is None:
            return _direct(source)  # what the generation tools accept as it is
        try:
            await check_public(source, await loopback_origins(state))
        except FetchRefused as exc:
            raise ToolError(f"Refused {source}: {exc}.") from exc
    else:  # a path, or a file:// URI as hosts give them
        local = files.roots_from_uris([source]) if source.startswith("file:") else []
        upload = await _local(ctx, str(local[0]) if local else source)
    acct = await account(ctx)
    with api_errors(
        not_found="Workspace or project not found: use ids from list_workspaces and list_projects."
    ):
        where = await default_workspace(state.settings, acct, workspace_id, project_id)
        try:
            asset = await _send(acct, where, source if upload is None else upload, project_id)
        except AssetFailedError as exc:
            why = exc.failure_message or "no reason given"
            raise ToolError(f"FLORA could not make an asset of {source}: {why}.") from exc
        except ConflictError as exc:
            # FLORA answers a retried POST with 409 and no replay: the first attempt's answer was lost,
            # and the key cannot recover it. Nothing is ready twice; a new call gets a new key.
            raise ToolError(
                f"FLORA took the upload but its answer was lost ({exc.code}); call upload_asset again."
            ) from exc
    if asset.url is None or asset.status != "ready":
        raise ToolError(f"FLORA is still processing asset {asset.asset_id} ({asset.status}); try again soon.")
    await learn_media(state, [asset.url])  # FLORA's storage host, which it does not name
    content_type = upload.content_type if upload else asset.content_type
    param = _PARAM_OF_KIND.get(content_type.split("/")[0], "the model's reference param")
    note = f"Uploaded. Use url as params.{param} of an i2i-/i2v- model, or as content_url on a canvas."
    data: dict[str, Any] = {"asset_id": asset.asset_id, "url": asset.url, "content_type": content_type}
    if project_id is not None:
        data["project_id"] = project_id
        note += " It is on the project's canvas too (get_canvas)."
    return results.structured(data | {"note": note})


async def _send(
    acct: Account, workspace_id: str, source: str | files.Upload, project_id: str | None
) -> Asset:
    """One call where FLORA allows it: a URL it fetches itself, a small file's bytes as multipart;
    a larger file through the signed upload."""
    client = acct.client
    if isinstance(source, str):
        return await client.create_asset_from_url(workspace_id, source, project_id=project_id)
    if len(source.data) > DIRECT_UPLOAD_MAX_BYTES:
        return await client.upload_asset(
            workspace_id, source.data, source.content_type, source.file_name, project_id=project_id
        )
    try:
        return await client.upload_asset_direct(
            workspace_id, source.data, source.content_type, source.file_name, project_id=project_id
        )
    except ConflictError:
        # The bytes arrived and the answer was lost (a retry got 409, no replay): the asset exists and
        # is ready. Found by name and size among the newest, it is not uploaded a second time.
        page = await client.list_assets(workspace_id, query=source.file_name, limit=RECOVER_LOOKBACK)
        for asset in page.items:
            if asset.uploaded_via == "direct" and asset.size_bytes == len(source.data):
                return asset
        raise


async def check_public(url: str, loopback_origins: Sequence[str]) -> None:
    """Refuse, before FLORA is asked, a URL it would not fetch: not https, or a private, loopback or
    link-local host (FLORA refuses these too, after a round trip). A local sandbox's own origins pass.
    A name that does not resolve here is left to FLORA, which fetches from its own network."""
    parsed = httpx2.URL(url)
    if origin_of(parsed) in loopback_origins:
        return
    if parsed.scheme != "https":
        raise FetchRefused(f"only https URLs are fetched by FLORA, not {parsed.scheme or 'relative'} ones")
    host = parsed.host.lower()
    if host in LOOPBACK_HOSTS or host.endswith((".localhost", ".local", ".internal")):
        raise FetchRefused(f"{host} is not a public host: FLORA fetches only public https URLs")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await anyio.getaddrinfo(host, parsed.port or 443, type=socket.SOCK_STREAM)
        except OSError:
            return
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise FetchRefused(
                f"{host} is a private, loopback or link-local address ({address}): FLORA fetches only public "
                "https URLs. Give a local path of the file instead"
            )


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
