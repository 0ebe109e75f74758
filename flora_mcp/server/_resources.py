"""Each run's outputs as MCP resources, so a host can attach them: `flora://runs/{run_id}/outputs/{index}`.

`resources/read` answers with the media itself, within one size cap (the inline budget of a tool
result): an image over it comes back as a JPEG preview that fits, a video or audio clip over it as
its URL (`text/uri-list`), a text output as its words. A run or index that does not exist is the
spec's -32602 naming what does (the closest run ids, the output indexes, `list_generations`).

The SDK gives a template one MIME type; an output's own type is set on the answer by
`_app.KnownNames`, which reads it from `answer_mime` (a holder for this request).
"""

from __future__ import annotations

import base64
from contextvars import ContextVar
from typing import Any, Final

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from flora_mcp import rendering
from flora_mcp.client import FloraError, NotFoundError, RunOutput
from flora_mcp.downloads import FetchRefused, fetch_output, fetch_text
from flora_mcp.server import _follow
from flora_mcp.server._context import Ctx, account, advice, loopback_origins
from flora_mcp.server._inline import in_render_thread
from flora_mcp.server.tools.history import not_found

OUTPUT_TEMPLATE: Final = "flora://runs/{run_id}/outputs/{index}"
TEMPLATES: Final = (OUTPUT_TEMPLATE,)
# One cap for what a read returns: a tool result's inline budget (hosts struggle past about 1 MB).
MAX_RESOURCE_BYTES: Final = rendering.INLINE_BUDGET_BYTES
PREVIEW_SIDE: Final = 1568  # a preview's longest side, as large as hosts pass images to a model
_MEDIA: Final = ("image/", "video/", "audio/")

# The MIME type of this request's answer, for `_app.KnownNames` to put on the wire (see above).
answer_mime: ContextVar[list[str] | None] = ContextVar("flora_answer_mime", default=None)


def register_resources(server: MCPServer[Any]) -> None:
    server.resource(
        OUTPUT_TEMPLATE,
        name="run_output",
        title="A run's output",
        description=(
            "One output of a FLORA run (index 0 for the first): the image, video, audio or text itself, "
            f"up to {MAX_RESOURCE_BYTES // 1000} KB (a larger image as a preview, a larger clip as its URL)."
        ),
        mime_type="application/octet-stream",
    )(read_output)


def output_uri(run_id: str, index: int) -> str:
    return f"flora://runs/{run_id}/outputs/{index}"


async def read_output(run_id: str, index: str, ctx: Ctx) -> str | bytes:
    """The output's content; its MIME type through `answer_mime`."""
    if not run_id.startswith("run_"):
        raise _invalid(f"{run_id!r} is not a run id: they start with 'run_' (see list_generations).")
    acct = await account(ctx)
    try:
        [run] = await _follow.read(ctx, acct, [run_id], 0)
    except NotFoundError as exc:
        raise _invalid(await not_found(acct, [run_id], exc)) from exc
    except FloraError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=advice(exc)) from exc
    if not index.isdigit() or int(index) >= len(run.outputs):
        have = ", ".join(output_uri(run_id, i) for i in range(len(run.outputs)))
        why = f"has outputs {have}" if have else f"has no outputs ({run.status})"
        raise _invalid(f"No output {index!r} of {run_id}: it {why}.")
    return await _content(ctx, run.outputs[int(index)])


async def _content(ctx: Ctx, output: RunOutput) -> str | bytes:
    state = ctx.request_context.lifespan_context
    origins = await loopback_origins(state)
    if output.type == "text":
        _answer("text/plain")
        if not output.url.startswith(("http://", "https://")):
            return output.url  # the words themselves
        return await fetch_text(state.http, output.url, loopback_origins=origins)
    try:
        data = await fetch_output(state.http, output.url, loopback_origins=origins, expect=_MEDIA)
    except FetchRefused as exc:
        if "limit" not in str(exc):
            raise MCPError(code=INTERNAL_ERROR, message=f"Could not read {output.url}: {exc}") from exc
        data = b""  # too large even to fetch: linked below
    mime = rendering.output_mime(output)
    if data and len(data) <= MAX_RESOURCE_BYTES:
        _answer(mime)
        return data
    if output.type == "imageUrl" and data:
        preview = await in_render_thread(rendering.inline_image, data, PREVIEW_SIDE, MAX_RESOURCE_BYTES)
        _answer("image/jpeg")
        return base64.b64decode(preview.data)
    _answer("text/uri-list")
    cap = MAX_RESOURCE_BYTES // 1000
    return f"# {output.type} over the {cap} KB resource cap: download it here\n{output.url}\n"


def _answer(mime: str) -> None:
    holder = answer_mime.get()
    if holder is not None:
        holder.append(mime)


def _invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message, data={"resourceTemplates": list(TEMPLATES)})
