"""Starting a paid run exactly once, and never losing the id of a run that did start.

The argument, case by case (each case has its test):

1. The answer arrives: the run is returned and its id claimed (`RunClaims`), so no recovery
   below can hand it out again. (tests/server/test_exactly_once.py)
2. The request fails before FLORA acts (connection refused, 429, 5xx): the client retries it
   with the SAME Idempotency-Key, within a bound of attempts and time; FLORA releases the key of
   a failed request, so the retry starts the run once. (tests/client/test_retries.py:
   test_every_attempt_of_a_post_sends_the_same_idempotency_key_and_body and
   test_a_5xx_on_generate_keeps_its_key_and_finally_names_the_likely_cause)
3. FLORA acts but the answer is lost (dropped connection, timeout): the retry, same key, is
   answered 409 `idempotency_duplicate` without the first answer (FLORA's measured behaviour; a
   replay, as its docs describe, is case 1). The run exists, its id does not: once the project's
   other starts in this process have their answers (`RunClaims.settled`, bounded), the run is the
   oldest in the project's history created since the request was sent that this process has not
   handed out. Claimed before the next await, so concurrent recoveries never pick the same run.
   (tests/sandbox/test_faults.py:
   test_in_conflict_mode_a_dropped_generate_raises_conflict_and_the_run_exists;
   tests/server/test_exactly_once.py: test_n_starts_under_faults_are_n_runs_and_n_distinct_ids,
   with every first answer dropped, in both replay and conflict mode)
4. A 2xx answer without a usable `run_id` (FLORA drifting): not retried (the run exists), and
   recovered from history as in case 3. (tests/client/test_retries.py:
   test_a_start_answer_without_run_id_is_not_retried)
5. The run is not in the history yet after a few looks: the error says it was started and is not
   lost, and tells the agent to look in list_generations instead of starting it again.

Claims are per account (one FLORA key), so two keys sharing a project never take each other's runs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import (
    ConflictError,
    FloraClient,
    Generation,
    GenerationRequest,
    RunIdMissingError,
    RunStarted,
)
from flora_mcp.server._references import TYPE_OF_PREFIX, prefix_of

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
    except (ConflictError, RunIdMissingError) as exc:
        if isinstance(exc, ConflictError) and exc.code != "idempotency_duplicate":
            raise
        logger.warning("A generation started but its answer was lost or had no run_id; finding the run")
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
                charged_cost=None,  # no quote survived; the run's own cost settles later
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
    """Whether a run in the history may be the one this request started: created since, and of the
    model asked for, or at least of the type asked for when the workspace default ran."""
    if generation.created_at < since_ms:
        return False
    model_id = generation.model.model_id if generation.model else None
    if model_id is None:
        return True
    if request.model is not None:
        return model_id == request.model
    made = TYPE_OF_PREFIX.get(prefix_of(model_id))
    return made in (None, request.type)
