"""Which local folders a tool call may read from and write to: the client's roots, else a setting.

Roots are optional and era-dependent: a 2025-era stateful session can be asked for them, while a
2026-07-28 connection or stateless HTTP has no back channel (`NoBackChannelError`) and many clients
declare none. Whenever they cannot be had, the configured `allowed_folders` apply.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from flora_mcp.files import roots_from_uris
from flora_mcp.server._context import Ctx
from flora_mcp.settings import env_name

logger = logging.getLogger(__name__)

ROOTS_TIMEOUT: Final = 5.0  # a client that declares roots but never answers must not hang the call


@dataclass(frozen=True)
class Allowed:
    folders: list[Path]
    source: str  # named in refusals, so the user knows what to change


async def allowed_folders(ctx: Ctx) -> Allowed:
    """The client's roots when it offers any, else the configured folders."""
    roots = await _client_roots(ctx)
    if roots:
        return Allowed(roots, "the MCP client's roots")
    configured = ctx.request_context.lifespan_context.settings.allowed_folders
    return Allowed([Path(f) for f in configured], f"the setting {env_name('allowed_folders')}")


async def _client_roots(ctx: Ctx) -> list[Path]:
    session = ctx.request_context.session
    capabilities = session.client_capabilities
    if capabilities is None or capabilities.roots is None or not session.can_send_request:
        return []
    try:
        with anyio.fail_after(ROOTS_TIMEOUT), warnings.catch_warnings():
            # Deprecated in 2026-07-28, still the only way on the 2025-era sessions that offer roots.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            result = await session.list_roots()
    except (MCPError, TimeoutError) as exc:  # NoBackChannelError is an MCPError
        logger.info("Could not read the client's roots (%s); using the configured folders", exc)
        return []
    # An empty list (or only non-file roots) reads as "none offered": many hosts declare the
    # capability and send nothing, and refusing every path there would make the tools useless.
    return roots_from_uris([str(root.uri) for root in result.roots])
