"""What every tool call needs from its context: the app state, the caller's account, API errors as advice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import (
    AuthenticationError,
    FloraError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
)
from flora_mcp.server._account import Account
from flora_mcp.server._http import caller_key
from flora_mcp.server._state import AppState


def app_state(ctx: Context) -> AppState:
    state = ctx.request_context.lifespan_context
    assert isinstance(state, AppState)
    return state


async def account(ctx: Context) -> Account:
    """The FLORA account this call acts for: the caller's own key over HTTP, else the server's."""
    return await app_state(ctx).account(caller_key(ctx))


def advice(exc: FloraError, not_found: str | None = None) -> str:
    """An API failure as a tool error's text: what happened and what to do next."""
    if isinstance(exc, NotFoundError):
        return not_found or str(exc)
    if isinstance(exc, AuthenticationError):
        return f"{exc}. Check the FLORA API key the server was started with."
    if isinstance(exc, InsufficientCreditsError):
        return f"{exc}. Add credits to this workspace in FLORA, or use another workspace."
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
