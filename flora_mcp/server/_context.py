"""What every tool call needs from its context: the app state, the caller's account, API errors as advice."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp._constants import LOOPBACK_HOSTS
from flora_mcp.client import (
    AuthenticationError,
    FloraClient,
    FloraError,
    InsufficientCreditsError,
    NotFoundError,
    PaidPlanRequiredError,
    RateLimitError,
)
from flora_mcp.downloads import origin_of
from flora_mcp.server._account import Account
from flora_mcp.server._bearer import bearer
from flora_mcp.server._history import History
from flora_mcp.server._state import AppState
from flora_mcp.store import StoreError, account_digest, in_thread

logger = logging.getLogger(__name__)

Ctx = Context[AppState, Any]
"""A tool's context: `ctx.request_context.lifespan_context` is the server's `AppState`."""

SANDBOX_KEY = "sandbox-local"  # the sandbox accepts any non-empty key; this one is not a secret
MAX_ACCOUNTS = 1024  # bounded for a many-user HTTP server


def caller_key(ctx: Ctx) -> str | None:
    """The caller's own FLORA key, when its HTTP request brought one; None over stdio or when the
    bearer token is the server's endpoint token rather than a FLORA key."""
    if ctx.request_context.lifespan_context.settings.auth_token is not None or ctx.headers is None:
        return None
    return bearer(ctx.headers.get("authorization"))


async def account(ctx: Ctx) -> Account:
    """The FLORA account this call acts for: the caller's own key over HTTP, else the server's."""
    state = ctx.request_context.lifespan_context
    settings, key = state.settings, caller_key(ctx)
    sandbox = await state.sandbox()
    if sandbox is not None:
        base_url, key = sandbox.base_url, key or SANDBOX_KEY
    else:
        base_url = settings.base_url
        key = key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        raise ToolError("No FLORA API key: send yours as 'Authorization: Bearer <key>'.")
    digest = account_digest(key)
    found = state.accounts.get(digest)
    if found is None:
        client = FloraClient(
            api_key=key,
            base_url=base_url,
            http=state.http,
            timeout=settings.timeout,
            max_attempts=settings.max_attempts,
            retry_budget=settings.retry_budget,
        )
        found = state.accounts[digest] = Account(client, History(await state.store(), digest))
        if len(state.accounts) > MAX_ACCOUNTS:
            state.accounts.popitem(last=False)
    state.accounts.move_to_end(digest)
    return found


async def loopback_origins(state: AppState) -> tuple[str, ...]:
    """The origins whose plain-http media this server fetches: a sandbox on this machine (which, like
    FLORA, serves outputs from two and uploads from a third), and loopback origins it gave URLs on."""
    sandbox = await state.sandbox()
    if sandbox is not None:
        found = [*sandbox.media_origins, sandbox.storage_origin]
    else:
        url = httpx2.URL(state.settings.base_url)
        found = []
        if url.scheme == "http" and url.host in LOOPBACK_HOSTS:
            # Any loopback name of that port is the same emulator (it serves outputs from two).
            found = [origin_of(url.copy_with(host=host)) for host in sorted(LOOPBACK_HOSTS)]
    found += [o for o in state.media_seen if httpx2.URL(o).host in LOOPBACK_HOSTS]
    return tuple(dict.fromkeys(found))


async def media_origins(state: AppState) -> list[str]:
    """Where FLORA fetches input media from: its media hosts (settings), the origins FLORA gave media
    URLs on (`learn_media`), and a local sandbox's output origins."""
    sandbox = await state.sandbox()
    local = list(sandbox.media_origins) if sandbox is not None else list(await loopback_origins(state))
    return list(dict.fromkeys([*state.settings.media_origins, *local, *await _learned(state)]))


async def learn_media(state: AppState, urls: Iterable[str | None]) -> None:
    """Remember the origins of media URLs FLORA gave (its assets', its outputs'), for every replica
    sharing the store: FLORA fetches references from its own hosts, and does not name them all (new
    uploads live on storage it does not name: BEHAVIOUR.md)."""
    new = {origin for url in urls if url and (origin := _origin(url)) is not None} - state.media_seen
    if not new:
        return
    state.media_seen |= new
    try:
        await in_thread((await state.store()).learn_origins, new)
    except (StoreError, OSError) as exc:  # this replica still knows them
        logger.warning("Run store unavailable: media origins not shared: %s", exc)


def _origin(url: str) -> str | None:
    if not url.startswith(("https://", "http://")):
        return None
    try:
        return origin_of(url)
    except httpx2.InvalidURL:
        return None


async def _learned(state: AppState) -> set[str]:
    try:
        shared = await in_thread((await state.store()).media_origins)
    except (StoreError, OSError) as exc:
        logger.warning("Run store unavailable: media origins from this replica only: %s", exc)
        return set(state.media_seen)
    state.media_seen |= shared
    return set(state.media_seen)


def advice(exc: FloraError, not_found: str | None = None) -> str:
    """An API failure as a tool error's text: what happened and what to do next."""
    if isinstance(exc, NotFoundError):
        traced = f" (request-id {exc.request_id})" if exc.request_id else ""
        return f"{not_found}{traced}" if not_found else str(exc)
    if isinstance(exc, AuthenticationError):
        return f"{exc}. Check the FLORA API key the server was started with."
    if isinstance(exc, InsufficientCreditsError):
        return f"{exc}. Add credits to this workspace in FLORA, or use another workspace."
    if isinstance(exc, PaidPlanRequiredError):
        return f"{exc}. The FLORA API needs a paid plan: upgrade the workspace in FLORA, or use another."
    if isinstance(exc, RateLimitError):
        return f"{exc}. FLORA is rate-limiting: wait a little, then try again."
    return str(exc)


@contextmanager
def api_errors(not_found: str | None = None) -> Iterator[None]:
    """API failures become tool errors that say what to do next."""
    try:
        yield
    except FloraError as exc:
        raise ToolError(advice(exc, not_found)) from exc
