"""One account's page of the run store: what FLORA's history does not keep.

FLORA's `GET /generations` has no prompt, type or params, and an answer lost in a crash loses a
paid run's id. So every run this server starts is written down: an intent before the POST (which
must succeed, or nothing is started), the run once its id is known, its end when seen; all of it
is merged into history. Reads and the writes after a start are a convenience: a store that fails
then is logged and the answer still goes back, with FLORA's own data.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import APIStatusError, ConflictError, GenerationRequest, Run, RunStarted
from flora_mcp.server._references import REFERENCE_PARAMS
from flora_mcp.store import JournalEntry, RunKind, RunStore, StoreError, in_thread

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 4096
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Record:
    """What the journal keeps of a start: the request, in FLORA's terms."""

    kind: RunKind
    type: str | None
    prompt: str | None
    model: str | None
    params: Mapping[str, Any]
    workspace_id: str | None
    project_id: str | None

    @classmethod
    def of(cls, request: GenerationRequest) -> Record:
        return cls(
            "generation",
            request.type,
            request.prompt,
            request.model,
            request.params or {},
            request.workspace_id,
            request.project_id,
        )

    def columns(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": self.type,
            "prompt": self.prompt,
            "model": self.model,
            "params": self.params,
            "references": references_of(self.params),
            "workspace_id": self.workspace_id,
            "project_id": self.project_id,
        }


def refused(exc: Exception) -> ToolError:
    """Why a paid start is refused when the store cannot record it."""
    return ToolError(
        f"Nothing was started or spent: the run store cannot record this start ({exc}). Without it a "
        "lost answer could not be matched to its run. Reading runs still works; try again once it is back."
    )


@dataclass
class History:
    store: RunStore
    account: str  # the store's digest of the key, never the key
    # Runs whose end (and cost, once settled) is written: reading a finished run again writes nothing.
    _written: OrderedDict[tuple[str, bool], None] = field(default_factory=OrderedDict)

    async def intent(self, local_id: str, record: Record) -> None:
        """Written just before the POST; raises (nothing started) when the store cannot take it."""
        try:
            await in_thread(
                self.store.record_intent, self.account, local_id, **record.columns(), started_at=time.time()
            )
        except (StoreError, OSError) as exc:
            raise refused(exc) from exc

    async def started(self, local_id: str, record: Record, started: RunStarted) -> None:
        """The run its start created, claimed for it (no recovery can hand it to another start)."""
        model = started.model.model_id if started.model and started.model.model_id else record.model
        columns = record.columns() | {"model": model}
        await self._quietly(
            self.store.record_start,
            self.account,
            started.run_id,
            local_id=local_id,
            **columns,
            quote_usd=started.quoted_cost,
            started_at=time.time(),
        )

    async def not_started(self, local_id: str, exc: Exception) -> None:
        """Forget the intent only when FLORA surely started nothing (a 4xx other than a duplicate)."""
        definite = (
            isinstance(exc, APIStatusError) and exc.status_code < 500 and not isinstance(exc, ConflictError)
        )
        if definite:
            await self._quietly(self.store.drop_intent, self.account, local_id)

    async def skipped(self, local_id: str) -> None:
        """Forget the intent of a canvas node FLORA skipped: it started nothing."""
        await self._quietly(self.store.drop_intent, self.account, local_id)

    async def unresolved(self, local_id: str, why: str) -> None:
        """An intent whose run could not be told apart: say why on it, for list_generations."""
        await self._quietly(self.store.note_intent, self.account, local_id, why)

    async def settle(self, runs: Iterable[Run]) -> None:
        """Runs seen ending: their outcome, and the cost once FLORA has settled it."""
        for run in runs:
            seen = (run.run_id, run.charged_cost is not None)
            if run.status in ("completed", "failed") and seen not in self._written:
                self._written[seen] = None
                if len(self._written) > MAX_REMEMBERED:
                    self._written.popitem(last=False)
                outputs = [o.model_dump(mode="json") for o in run.outputs]
                await self._quietly(
                    self.store.settle,
                    self.account,
                    run.run_id,
                    status=run.status,
                    cost_usd=run.charged_cost,
                    outputs=outputs,
                    seed=None,
                    error=run.error_message,
                )

    async def saved(self, run_id: str, paths: Sequence[str]) -> None:
        await self._quietly(self.store.add_saved_paths, self.account, run_id, paths)

    async def entries(self, run_ids: Iterable[str]) -> dict[str, JournalEntry]:
        return await self._quietly(self.store.get, self.account, list(run_ids)) or {}

    async def recent(
        self, *, workspace_id: str | None, project_id: str | None, limit: int
    ) -> list[JournalEntry]:
        found = await self._quietly(
            self.store.recent, self.account, workspace_id=workspace_id, project_id=project_id, limit=limit
        )
        return found or []

    async def unconfirmed(self, *, older_than: float) -> list[JournalEntry]:
        """Intents never followed by a run id, older than a start takes: cut off by a crash."""
        cutoff = time.time() - older_than
        found = await self._quietly(self.store.pending_intents, self.account) or []
        return [e for e in found if e.started_at < cutoff]

    @staticmethod
    async def _quietly(method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
        # After a start, or on a read, the store is a convenience: a full disk or a database that went
        # away must not fail a paid run's answer or hide FLORA's own data.
        try:
            return await in_thread(method, *args, **kwargs)
        except (StoreError, OSError, ValueError) as exc:
            logger.warning("Run store unavailable: %s", exc)
            return None


def references_of(params: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name in REFERENCE_PARAMS:
        value = params.get(name)
        found += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    return found


def journal_fields(entry: JournalEntry) -> dict[str, Any]:
    """What the journal adds to a run FLORA describes: the request that made it."""
    fields: dict[str, Any] = {"prompt": entry.prompt, "type": entry.type, "model": entry.model}
    if entry.params:
        fields["params"] = entry.params
    if entry.saved_paths:
        fields["saved_paths"] = entry.saved_paths
    if entry.quote_usd is not None:
        fields["quoted_cost_usd"] = entry.quote_usd
    return {k: v for k, v in fields.items() if v is not None}
