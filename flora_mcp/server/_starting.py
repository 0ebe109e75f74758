"""Starting a paid run: exactly once, and never losing the id of a run that did start.

The client retries a POST with the same Idempotency-Key, so a lost response is answered
either with a replay of the original (nothing to do) or, as FLORA's SDK documents, with
409 `idempotency_duplicate`. Then the run exists but its id was lost with the response:
once the project's other starts have had their answers, it is found again in the project's
history — the oldest run created since the request was sent that this server has not handed
out — instead of being started twice or hidden behind an error.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import ConflictError, FloraClient, Generation, GenerationRequest, RunStarted

logger = logging.getLogger(__name__)

CLOCK_SKEW_MS = 120_000  # FLORA's clock against ours, when matching creation times
FIND_ATTEMPTS = 5
FIND_INTERVAL_SECONDS = 0.5
SETTLE_SECONDS = 30.0


class RunClaims:
    """Run ids this process has returned to a caller, so a recovery never hands one out twice,
    and the starts still waiting for an answer, per project. Bounded: a recovery only looks at
    runs from the last few minutes."""

    def __init__(self, limit: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self.in_flight: Counter[str] = Counter()

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ids

    def add(self, run_id: str) -> None:
        self._ids[run_id] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    async def settled(self, project_id: str) -> None:
        """Until no other start in the project awaits its answer (bounded): one that is about to
        succeed would otherwise leave its run unclaimed for a recovery to take."""
        with anyio.move_on_after(SETTLE_SECONDS):
            while self.in_flight[project_id]:  # noqa: ASYNC110 - a counter, shared by the account's sessions
                await anyio.sleep(0.05)


async def start_generation(client: FloraClient, claims: RunClaims, request: GenerationRequest) -> RunStarted:
    """Start one run for `client`'s account; `claims` is that account's record of runs handed out."""
    sent_at_ms = time.time() * 1000
    try:
        started = await _counted_start(client, claims, request)
    except ConflictError as exc:
        if exc.code != "idempotency_duplicate":
            raise
        logger.warning("A generation response was lost and its retry refused as a duplicate; finding the run")
        await claims.settled(request.project_id)
        started = await _find_started(client, claims, request, since_ms=sent_at_ms - CLOCK_SKEW_MS)
    claims.add(started.run_id)  # no await since the answer arrived: no recovery saw it unclaimed
    return started


async def _counted_start(client: FloraClient, claims: RunClaims, request: GenerationRequest) -> RunStarted:
    claims.in_flight[request.project_id] += 1
    try:
        return await client.generate(request)
    finally:
        claims.in_flight[request.project_id] -= 1


async def _find_started(
    client: FloraClient, claims: RunClaims, request: GenerationRequest, since_ms: float
) -> RunStarted:
    for attempt in range(FIND_ATTEMPTS):
        page = await client.list_generations(
            workspace_id=request.workspace_id, project_id=request.project_id, limit=50
        )
        candidates = [g for g in page.items if g.run_id not in claims and _could_be(g, request, since_ms)]
        if candidates:
            # The oldest: starts begun after ours made newer runs, and every earlier start has
            # settled. Claimed before the next await, so no concurrent recovery picks it too.
            found = min(candidates, key=lambda g: g.created_at)
            claims.add(found.run_id)
            return RunStarted(
                run_id=found.run_id,
                type="generation",
                estimated_seconds=None,
                charged_cost=found.charged_cost or 0.0,
                model=found.model,
                poll_url=found.poll_url,
                project_id=found.project_id,
            )
        if attempt + 1 < FIND_ATTEMPTS:
            await anyio.sleep(FIND_INTERVAL_SECONDS)  # the history may lag the run by a moment
    raise ToolError(
        "FLORA says this generation was already started (idempotency_duplicate), but its run is not in "
        f"project {request.project_id}'s history yet. It is not lost: call list_generations with that "
        "project_id in a moment to find it. Do not start it again."
    )


def _could_be(generation: Generation, request: GenerationRequest, since_ms: float) -> bool:
    if generation.created_at < since_ms:
        return False
    model_id = generation.model.model_id if generation.model else None
    return request.model is None or model_id in (None, request.model)
