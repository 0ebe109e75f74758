"""Starting a generation for an account: exactly once (`_starting`), journaled, and registered for
waiting."""

from __future__ import annotations

from flora_mcp.client import GenerationRequest, RunStarted
from flora_mcp.server._account import Account
from flora_mcp.server._starting import start_generation


async def start_recorded(acct: Account, request: GenerationRequest) -> RunStarted:
    started = await start_generation(acct.client, acct.history, request)
    acct.runs.add(started.run_id, project_id=request.project_id, estimated_seconds=started.estimated_seconds)
    return started
