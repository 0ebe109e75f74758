"""Starting runs for an account: a generation exactly once (`_starting`), journaled, and registered
for waiting; several starts at the pace FLORA advises, none hiding another's failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import FloraError, GenerationRequest, RunStarted
from flora_mcp.server._account import Account
from flora_mcp.server._context import advice
from flora_mcp.server._starting import start_generation

MAX_STARTING: Final = 2  # FLORA advises about 2 concurrent starts per workspace (Krea drops more)

Start = Callable[[], Awaitable[RunStarted]]


async def start_recorded(acct: Account, request: GenerationRequest) -> RunStarted:
    started = await start_generation(acct.client, acct.history, request)
    acct.runs.add(started.run_id, project_id=request.project_id, estimated_seconds=started.estimated_seconds)
    return started


async def start_each(starts: Sequence[Start]) -> tuple[list[RunStarted], list[str]]:
    """Run each start, `MAX_STARTING` at a time; the runs that started, in the order given, and why
    any did not (a failure never hides the runs that did start: each one spends)."""
    started: list[RunStarted | None] = [None] * len(starts)
    failures: list[str] = []
    pace = anyio.CapacityLimiter(MAX_STARTING)

    async def one(index: int) -> None:
        try:
            async with pace:
                started[index] = await starts[index]()
        except FloraError as exc:
            failures.append(advice(exc))
        except ToolError as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as group:
        for index in range(len(starts)):
            group.start_soon(one, index)
    return [run for run in started if run is not None], failures
