"""Starting a paid run: exactly once, and never losing the id of a run that did start.

The client retries a POST with the same Idempotency-Key, so a lost response is answered
either with a replay of the original (nothing to do) or, as FLORA's SDK documents, with
409 `idempotency_duplicate`. Then the run exists but its id was lost with the response:
it is found again in the project's history — the newest runs created since the request
was sent, minus those this server already handed out — instead of being started twice
or hidden behind an error.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import ConflictError, FloraClient, Generation, GenerationRequest, RunStarted

logger = logging.getLogger(__name__)

CLOCK_SKEW_MS = 120_000  # FLORA's clock against ours, when matching creation times
FIND_ATTEMPTS = 5
FIND_INTERVAL_SECONDS = 0.5


class RunClaims:
    """Run ids this process has returned to a caller, so a recovery never hands one out twice.
    Bounded: a recovery only looks at runs from the last few minutes."""

    def __init__(self, limit: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ids

    def add(self, run_id: str) -> None:
        self._ids[run_id] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)


CLAIMS = RunClaims()


async def start_generation(client: FloraClient, request: GenerationRequest) -> RunStarted:
    sent_at_ms = time.time() * 1000
    try:
        started = await client.generate(request)
    except ConflictError as exc:
        if exc.code != "idempotency_duplicate":
            raise
        logger.warning(
            "A generation's response was lost and FLORA refused the retry as a duplicate; finding it"
        )
        started = await _find_started(client, request, since_ms=sent_at_ms - CLOCK_SKEW_MS)
    CLAIMS.add(started.run_id)
    return started


async def _find_started(client: FloraClient, request: GenerationRequest, since_ms: float) -> RunStarted:
    for attempt in range(FIND_ATTEMPTS):
        page = await client.list_generations(
            workspace_id=request.workspace_id, project_id=request.project_id, limit=50
        )
        candidates = [g for g in page.items if _could_be(g, request, since_ms)]
        if candidates:
            # Claimed before the next await, so a concurrent recovery cannot pick the same run.
            found = min(candidates, key=lambda g: g.created_at)
            CLAIMS.add(found.run_id)
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
    if generation.run_id in CLAIMS or generation.created_at < since_ms:
        return False
    model_id = generation.model.model_id if generation.model else None
    return request.model is None or model_id in (None, request.model)
