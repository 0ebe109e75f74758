"""Starting a generation for an account: exactly once (`_starting`), written to the run journal
before the answer goes back (`_history`), and registered for waiting."""

from __future__ import annotations

from flora_mcp.client import FloraError, GenerationRequest, RunStarted
from flora_mcp.server._account import Account
from flora_mcp.server._starting import start_generation


async def start_recorded(acct: Account, request: GenerationRequest) -> RunStarted:
    local_id = await acct.history.intent(request)
    try:
        started = await start_generation(acct.client, acct.claims, request)
    except FloraError as exc:
        await acct.history.not_started(local_id, exc)
        raise
    await acct.history.started(local_id, request, started)
    acct.runs.add(started.run_id, project_id=request.project_id, estimated_seconds=started.estimated_seconds)
    return started
