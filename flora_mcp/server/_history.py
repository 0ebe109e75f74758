"""One account's view of the local run journal: what FLORA's history does not keep.

FLORA's `GET /generations` has no prompt, type or params, and an answer lost in a crash loses a
paid run's id. So every run this server starts is written down before the call returns (an
intent before the POST, the run once its id is known), settled when it is seen ending, and merged
into history. With the journal off (setting `journal=off`) every method does nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flora_mcp.client import APIStatusError, ConflictError, GenerationRequest, Run, RunStarted
from flora_mcp.journal import JournalEntry, JournalError, RunJournal, RunKind, in_thread
from flora_mcp.server._references import REFERENCE_PARAMS

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 4096


@dataclass
class History:
    journal: RunJournal | None
    account: str  # the journal's digest of the key, never the key
    # Runs whose end (and cost, once settled) is written: reading a finished run again writes nothing.
    _written: OrderedDict[tuple[str, bool], None] = field(default_factory=OrderedDict)

    async def intent(self, request: GenerationRequest, kind: RunKind = "generation") -> str:
        """Written just before the POST: if the answer is lost in a crash, the intent remains."""
        local_id = uuid.uuid4().hex
        await self._write(
            "record_intent",
            local_id,
            kind=kind,
            type=request.type,
            prompt=request.prompt,
            model=request.model,
            params=request.params or {},
            references=references_of(request.params or {}),
            workspace_id=request.workspace_id,
            project_id=request.project_id,
            started_at=time.time(),
        )
        return local_id

    async def started(self, local_id: str, request: GenerationRequest, started: RunStarted) -> None:
        await self._write(
            "record_start",
            started.run_id,
            local_id=local_id,
            kind="generation",
            type=request.type,
            prompt=request.prompt,
            model=started.model.model_id if started.model and started.model.model_id else request.model,
            params=request.params or {},
            references=references_of(request.params or {}),
            workspace_id=request.workspace_id,
            project_id=request.project_id,
            quote_usd=started.quoted_cost,
            started_at=time.time(),
        )

    async def not_started(self, local_id: str, exc: Exception) -> None:
        """Forget the intent only when FLORA surely started nothing (a 4xx other than a duplicate)."""
        definite = (
            isinstance(exc, APIStatusError) and exc.status_code < 500 and not isinstance(exc, ConflictError)
        )
        if definite and self.journal is not None:
            await self._call(self.journal.drop_intent, self.account, local_id)

    async def settle(self, runs: Iterable[Run]) -> None:
        """Runs seen ending: their outcome, and the cost once FLORA has settled it."""
        for run in runs:
            seen = (run.run_id, run.charged_cost is not None)
            if run.status in ("completed", "failed") and seen not in self._written:
                self._written[seen] = None
                if len(self._written) > MAX_REMEMBERED:
                    self._written.popitem(last=False)
                outputs = [o.model_dump(mode="json") for o in run.outputs]
                await self._write(
                    "settle",
                    run.run_id,
                    status=run.status,
                    cost_usd=run.charged_cost,
                    outputs=outputs,
                    seed=None,
                    error=run.error_message,
                )

    async def saved(self, run_id: str, paths: Sequence[str]) -> None:
        await self._write("add_saved_paths", run_id, paths)

    async def entries(self, run_ids: Iterable[str]) -> dict[str, JournalEntry]:
        if self.journal is None:
            return {}
        found = await self._call(self.journal.get, self.account, list(run_ids))
        return found or {}

    async def recent(
        self, *, workspace_id: str | None, project_id: str | None, limit: int
    ) -> list[JournalEntry]:
        if self.journal is None:
            return []
        found = await self._call(
            self.journal.recent, self.account, workspace_id=workspace_id, project_id=project_id, limit=limit
        )
        return found or []

    async def unconfirmed(self, *, older_than: float) -> list[JournalEntry]:
        """Intents never followed by a run id, older than a start takes: cut off by a crash."""
        if self.journal is None:
            return []
        cutoff = time.time() - older_than
        found = await self._call(self.journal.pending_intents, self.account) or []
        return [e for e in found if e.started_at < cutoff]

    async def _write(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.journal is not None:
            await self._call(getattr(self.journal, method), self.account, *args, **kwargs)

    @staticmethod
    async def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
        # The journal is a convenience: a full disk or a locked file must not fail a paid run's answer.
        try:
            return await in_thread(method, *args, **kwargs)
        except (JournalError, OSError, ValueError) as exc:
            logger.warning("Run journal unavailable: %s", exc)
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
