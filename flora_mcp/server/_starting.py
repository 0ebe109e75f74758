"""Starting a paid run exactly once, and handing each caller the run its own request created.

FLORA's history (`GET /generations`) has no prompt: a run is known there only by its project, model,
status and creation time. So a start must be matched to its run by those alone, whatever the
concurrency, restarts or replicas. The argument, case by case (each case has its test, in
tests/server/test_exactly_once.py unless named):

1. The answer arrives: the run is journaled and *claimed* for this start in one transaction
   (`claims`, keyed by run id: a run is handed to one start, ever), before anything else can look.
   (test_concurrent_starts_each_get_the_run_of_their_own_prompt)
2. The request fails before FLORA acts (connection refused, 429, 5xx): the client retries it with
   the SAME Idempotency-Key (this start's journal id); FLORA releases the key of a failed request,
   so the retry starts the run once. (tests/client/test_retries.py:
   test_every_attempt_of_a_post_sends_the_same_idempotency_key_and_body)
3. FLORA acts but the answer is lost, and the retry is answered 409 `idempotency_duplicate` with no
   replay (FLORA's measured behaviour; a replay is case 1). Every generation start holds a *lease*
   on (project, model) in the shared store from before its POST until its run is claimed, so at
   that moment no other start of that model in that project, in any process sharing the store, is
   unanswered. Its run is then the one unclaimed run of that model in the project created between
   the POST and now, both read on FLORA's clock (`FloraClock`, measured from FLORA's `Date`
   headers, never a fixed skew). It is claimed atomically before the lease is released.
   (test_concurrent_starts_each_get_the_run_of_their_own_prompt with every first answer lost;
   tests/e2e/test_replicas.py: test_lost_answers_over_two_replicas_each_get_their_own_run)
4. Restarts and older runs: an earlier run was claimed when it was answered or recovered (the store
   persists), and was created before this start's window; neither way can it be handed out again.
   (test_after_a_restart_a_lost_answer_never_gets_an_earlier_run)
5. FLORA's clock differs from ours: the window is translated by the measured offset.
   (test_a_skewed_flora_clock_still_matches_the_lost_answer)
6. FLORA's data cannot decide: another unclaimed run could be ours (started in FLORA's app or by
   another tool in the window; or a start with the workspace's default model beside one naming a
   model, whose leases differ). Then nothing is guessed: the start waits a moment for the other to
   be claimed, and if two remain the error lists the candidates, and the journal's intent says so.
   (test_a_foreign_run_in_the_window_is_listed_not_guessed)
7. The run is not in the history after a few looks: the error says it was started and is not lost,
   and tells the agent to look in list_generations instead of starting it again; the intent stays
   in the journal (`unconfirmed_starts`). (test_a_run_missing_from_history_is_reported_not_restarted)
8. A 2xx answer without a usable `run_id` (FLORA drifting): not retried (the run exists), then as
   case 3. (tests/client/test_retries.py: test_a_start_answer_without_run_id_is_not_retried)
9. Technique and action runs take the same path (intent, one key, claim, journal); the contract
   lists no runs to recover them from, so a lost answer says the run may exist and keeps the intent.
   (test_a_lost_technique_answer_says_the_run_may_exist)
10. The store cannot record the intent (database down, disk full): nothing is sent, nothing spent.
    (test_a_store_that_cannot_record_refuses_to_start; tests/e2e/test_replicas.py:
    test_a_database_that_goes_away_refuses_starts_and_keeps_reads)
11. A process dies holding a lease: leases are renewed while held and expire `LEASE_TTL` after the
    last renewal, so the others wait at most that long. (tests/e2e/test_replicas.py:
    test_a_killed_replicas_run_is_listed_with_its_prompt_by_the_other)
12. Canvas node runs: one POST starts many runs (`start_nodes`). Each node's intent is written
    before it (none written: nothing sent), the POST carries one key, and each started run is
    journaled and claimed (`record_start`) against its node's intent, FLORA answering one entry
    per node in the order asked; a skipped node's intent is dropped. The project's any-model lease
    is held meanwhile, so a generation start whose answer is lost at that moment lists the
    candidates (case 6) rather than take a node's run. A lost answer keeps the intents, noted: a
    node's run cannot be told apart by model and time from its neighbours'.
    (tests/server/test_canvas_board.py: test_node_runs_are_journaled_before_the_post_and_claimed)
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import (
    ConflictError,
    FloraClient,
    FloraError,
    Generation,
    GenerationRequest,
    NodeRun,
    NodeRuns,
    RunIdMissingError,
    RunStarted,
)
from flora_mcp.server._history import History, Record, refused
from flora_mcp.server._references import TYPE_OF_PREFIX, prefix_of
from flora_mcp.store import RunStore, StoreError, in_thread

logger = logging.getLogger(__name__)

LEASE_TTL = 20.0  # seconds a lease outlives its holder's last renewal
RENEW_EVERY = 5.0
LEASE_WAIT = 180.0  # the longest a start waits for another of the same model in the project
FIND_ATTEMPTS = 6
FIND_INTERVAL_SECONDS = 0.5
MARGIN_SECONDS = 1.0  # FLORA's `created_at` and its `Date` may come from different machines
ANY_MODEL = "*"  # the lease subject of a start with the workspace's default model


@dataclass(frozen=True)
class Lease:
    """At most one unanswered start per `scope` and `subject` at a time."""

    scope: str
    subject: str


NodePost = Callable[[str], Awaitable[NodeRuns]]
"""Sends a canvas run with the given Idempotency-Key."""
Post = Callable[[str], Awaitable[RunStarted]]
"""Sends the start with the given Idempotency-Key."""
Find = Callable[[str, float], Awaitable[RunStarted]]
"""Finds the run of a lost answer: (this start's id, local time the POST was sent)."""


async def start_generation(client: FloraClient, history: History, request: GenerationRequest) -> RunStarted:
    lease = Lease(f"generation:{request.project_id}", request.model or ANY_MODEL)

    async def find(local_id: str, sent_at: float) -> RunStarted:
        return await _find_generation(client, history, request, lease, local_id, sent_at)

    return await start_once(
        history,
        Record.of(request),
        lambda key: client.generate(request, idempotency_key=key),
        find=find,
        lease=lease,
    )


async def start_once(
    history: History, record: Record, post: Post, *, find: Find | None = None, lease: Lease | None = None
) -> RunStarted:
    """Start one paid run: intent, POST once (one key), claim and journal; recover a lost answer by
    `find` (under `lease`), or say the run may exist when there is no way to find it."""
    local_id = uuid.uuid4().hex
    async with _holding(history.store, lease, local_id):
        await history.intent(local_id, record)
        sent_at = time.time()
        try:
            started = await post(local_id)
        except (ConflictError, RunIdMissingError) as exc:
            if isinstance(exc, ConflictError) and exc.code != "idempotency_duplicate":
                await history.not_started(local_id, exc)
                raise
            logger.warning("A %s started but its answer was lost or had no run_id", record.kind)
            if find is None:
                why = f"its answer was lost and FLORA lists no {record.kind} runs to find it in"
                await history.unresolved(local_id, why)
                raise ToolError(_may_exist(record.kind, why)) from exc
            started = await find(local_id, sent_at)
        except FloraError as exc:
            await history.not_started(local_id, exc)
            raise
        await history.started(local_id, record, started)
    return started


async def start_nodes(
    history: History, project_id: str, intents: Mapping[str, Record], post: NodePost
) -> tuple[NodeRuns, dict[str, RunStarted]]:
    """Case 12: run canvas nodes (`intents`: what each requested node id would start) once; FLORA's
    answer, and the started runs by requested node id (matched in order, as FLORA answers)."""
    key = uuid.uuid4().hex
    local_ids = {node_id: f"{key}-{index}" for index, node_id in enumerate(intents)}
    async with _holding(history.store, Lease(f"generation:{project_id}", ANY_MODEL), key):
        for node_id, record in intents.items():
            await history.intent(local_ids[node_id], record)
        try:
            answer = await post(key)
        except FloraError as exc:
            for local_id in local_ids.values():
                if isinstance(exc, ConflictError) and exc.code == "idempotency_duplicate":
                    await history.unresolved(local_id, "a canvas run whose answer was lost")
                else:
                    await history.not_started(local_id, exc)
            raise
        started: dict[str, RunStarted] = {}
        for node_id, entry in zip(intents, answer.runs, strict=False):
            if entry.status == "started" and entry.run_id:
                started[node_id] = _node_started(entry, project_id)
                await history.started(local_ids[node_id], intents[node_id], started[node_id])
            else:
                await history.skipped(local_ids[node_id])
    return answer, started


def _node_started(entry: NodeRun, project_id: str) -> RunStarted:
    seconds = math.ceil(entry.estimated_seconds) if entry.estimated_seconds is not None else None
    return RunStarted(
        run_id=entry.run_id or "",
        type=entry.type or "generation",
        estimated_seconds=seconds,
        charged_cost=entry.charged_cost,
        model=entry.model,
        poll_url=entry.poll_url,
        project_id=project_id,
    )


@asynccontextmanager
async def _holding(store: RunStore, lease: Lease | None, holder: str) -> AsyncIterator[None]:
    """Hold `lease` (waiting for it, renewing it) for the body; nothing when there is none."""
    if lease is None:
        yield
        return
    try:
        with anyio.fail_after(LEASE_WAIT):
            delay = 0.02
            while not await in_thread(store.acquire_lease, lease.scope, lease.subject, holder, LEASE_TTL):
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)
    except TimeoutError:
        raise ToolError(
            f"Nothing was started: another start of {lease.subject} in this project has waited for "
            f"FLORA's answer for over {LEASE_WAIT:.0f} s. Try again in a minute."
        ) from None
    except StoreError as exc:
        raise refused(exc) from exc
    failure: BaseException | None = None
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_renew, store, lease, holder)
            try:
                yield
            except BaseException as exc:  # raised outside the group, so not as an ExceptionGroup
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await in_thread(store.release_lease, lease.scope, lease.subject, holder)
            except StoreError as exc:  # it expires by itself
                logger.warning("Could not release a start lease: %s", exc)


async def _renew(store: RunStore, lease: Lease, holder: str) -> None:
    while True:
        await anyio.sleep(RENEW_EVERY)
        try:
            await in_thread(store.renew_lease, lease.scope, lease.subject, holder, LEASE_TTL)
        except StoreError as exc:
            logger.warning("Could not renew a start lease: %s", exc)


async def _find_generation(
    client: FloraClient,
    history: History,
    request: GenerationRequest,
    lease: Lease,
    local_id: str,
    sent_at: float,
) -> RunStarted:
    """Case 3: the one unclaimed run of this model created since the POST, by FLORA's clock."""
    store = history.store
    free: list[Generation] = []
    for attempt in range(FIND_ATTEMPTS):
        if attempt:
            await anyio.sleep(FIND_INTERVAL_SECONDS)  # the history may lag, another start may claim
        page = await client.list_generations(
            workspace_id=request.workspace_id, project_id=request.project_id, limit=50
        )
        low = (client.clock.flora_range(sent_at)[0] - MARGIN_SECONDS) * 1000
        high = (client.clock.now_range()[1] + MARGIN_SECONDS) * 1000
        window = [g for g in page.items if low <= g.created_at <= high and _could_be(g, request)]
        try:
            taken = await in_thread(store.claimed, [g.run_id for g in window])
            others = await in_thread(store.leases, lease.scope)
        except StoreError as exc:
            raise ToolError(_may_exist("generation", f"the run store is unreachable ({exc})")) from exc
        free = [g for g in window if g.run_id not in taken]
        overlapping = [
            subject
            for subject, holder in others.items()
            if holder != local_id and ANY_MODEL in (subject, lease.subject)
        ]
        if len(free) == 1 and not overlapping:
            found = free[0]
            if await in_thread(store.claim, found.run_id, local_id):
                return RunStarted(
                    run_id=found.run_id,
                    type="generation",
                    estimated_seconds=None,
                    charged_cost=None,  # no quote survived; the run's own cost settles later
                    model=found.model,
                    poll_url=found.poll_url,
                    project_id=found.project_id,
                )
    if free:
        listed = ", ".join(f"{g.run_id} (created {_clock(g.created_at)})" for g in free)
        why = f"FLORA's history cannot tell which run is its own; the candidates: {listed}"
        await history.unresolved(local_id, why)
        raise ToolError(
            f"This generation was started once (FLORA answered idempotency_duplicate), but its answer was "
            f"lost and {why}. Other runs of {request.model or 'the default model'} began in project "
            f"{request.project_id} at the same moment (in FLORA's app, another tool, or a start with the "
            "workspace's default model). Do not start it again; check these with get_generation_status."
        )
    raise ToolError(_may_exist("generation", "its run is not in the project's history yet"))


def _may_exist(kind: str, why: str) -> str:
    return (
        f"This {kind} was sent once and FLORA may have started it, but {why}. It was not started twice. "
        "Do not start it again: look for it with list_generations in a moment (unconfirmed_starts)."
    )


def _clock(created_at_ms: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(created_at_ms / 1000)) + " UTC"


def _could_be(generation: Generation, request: GenerationRequest) -> bool:
    """Whether a run may be the one this request started: of the model asked for, or at least of
    the type asked for when the workspace default ran."""
    model_id = generation.model.model_id if generation.model else None
    if model_id is None:
        return True
    if request.model is not None:
        return model_id == request.model
    made = TYPE_OF_PREFIX.get(prefix_of(model_id))
    return made in (None, request.type)
