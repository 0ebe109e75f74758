"""Completions for the prompts' arguments and the output template's variables (`completion/complete`).

What a user types into a prompt's form, completed from this key's own FLORA data: model ids of
the right kind (`i2i-` for prompts that start from a picture), projects, techniques, recent run
ids (the journal's, then FLORA's newest), and a run's output indexes. A failing read completes
nothing rather than failing the host's form.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from flora_mcp.client import FloraError
from flora_mcp.server._account import Account
from flora_mcp.server._context import account
from flora_mcp.server._defaults import default_workspace
from flora_mcp.server._prompts import SOCIAL_FORMATS
from flora_mcp.server._references import FORMS, prefix_of
from flora_mcp.server._state import AppState

logger = logging.getLogger(__name__)

MAX_VALUES: Final = 100  # the spec's limit per answer
RECENT_RUNS: Final = 50
# The models a prompt's `model` argument wants: ones that take the picture it starts from, or any.
_STARTS_FROM_A_PICTURE: Final = frozenset({"product_shots", "variations", "social_formats"})
_FIXED: Final = {
    "count": [str(n) for n in range(1, 9)],
    "formats": [SOCIAL_FORMATS, "1:1, 9:16", "4:5, 1:1", "16:9, 9:16"],
    "type": ["image", "video", "audio", "text"],
}


async def complete(
    server: MCPServer[AppState],
    request: ServerRequestContext[AppState, Any] | None,
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    """The completion for the request being handled (`request`: the SDK hands a completion handler
    no context, so `_app` passes the one its middleware saw)."""
    if request is None:
        return Completion(values=[])
    acct = await account(Context(request_context=request, mcp_server=server))
    return await complete_for(acct, request.lifespan_context, ref, argument, context)


async def complete_for(
    acct: Account,
    state: AppState,
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    given = dict(context.arguments or {}) if context is not None else {}
    name, typed = argument.name, argument.value
    source = _source(ref, name)
    try:
        values = await source(acct, state, given) if source is not None else _FIXED.get(name, [])
    except FloraError as exc:  # a form's hint must not fail: complete nothing, and say why in the log
        logger.info("No completion for %s: %s", name, exc)
        values = []
    return _answer(values, typed)


Source = Callable[[Account, AppState, dict[str, str]], Awaitable[list[str]]]


def _source(ref: PromptReference | ResourceTemplateReference, name: str) -> Source | None:
    if isinstance(ref, ResourceTemplateReference):
        return {"run_id": _run_ids, "index": _output_indexes}.get(name)
    if name == "model":
        return _image_models if ref.name in _STARTS_FROM_A_PICTURE else _text_to_image_models
    return {
        "project_id": _projects,
        "technique": _techniques,
        "run_id": _run_ids,
        "photo": _run_ids,
    }.get(name)


def _answer(values: Iterable[str], typed: str) -> Completion:
    """The values that start with what was typed (or contain it, when none starts with it)."""
    unique = list(dict.fromkeys(values))
    low = typed.casefold()
    found = [v for v in unique if v.casefold().startswith(low)] or [v for v in unique if low in v.casefold()]
    return Completion(values=found[:MAX_VALUES], total=len(found), has_more=len(found) > MAX_VALUES)


async def _image_models(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    models = await acct.models.get("image")
    return [m.model_id for m in models if "image_url" in FORMS.get(prefix_of(m.model_id), ())]


async def _text_to_image_models(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    models = await acct.models.get("image")
    return [m.model_id for m in models if prefix_of(m.model_id) == "t2i-"] or [m.model_id for m in models]


async def _projects(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    workspace_id = await default_workspace(state.settings, acct, given.get("workspace_id") or None)
    page = await acct.client.list_projects(workspace_id, limit=MAX_VALUES)
    return [p.project_id for p in page.items]


async def _techniques(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    page = await acct.client.list_techniques(limit=MAX_VALUES)
    return [t.technique_id for t in page.items]


async def _run_ids(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    """This key's recent runs: the journal's (this server's starts), then FLORA's newest."""
    entries = await acct.history.recent(workspace_id=None, project_id=None, limit=RECENT_RUNS)
    ids = [e.run_id for e in entries if e.run_id]
    page = await acct.client.list_generations(limit=RECENT_RUNS)
    return ids + [g.run_id for g in page.items if g.status == "completed"]


async def _output_indexes(acct: Account, state: AppState, given: dict[str, str]) -> list[str]:
    run_id = given.get("run_id", "")
    if not run_id.startswith("run_"):
        return ["0"]
    run = await acct.client.get_run(run_id)
    return [str(i) for i in range(len(run.outputs))]
