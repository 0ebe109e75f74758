"""The HTTP transports' guard: who may call, and with which FLORA key."""

from __future__ import annotations

from mcp.server.mcpserver import Context


def caller_key(ctx: Context) -> str | None:
    """The caller's own FLORA key, when its HTTP request brought one; None over stdio."""
    return None
