"""The store's operations, written once in the SQL both databases speak.

A subclass supplies a transaction (`_transaction`), the clock expression and the schema; every
query here runs unchanged on SQLite and PostgreSQL (`?` placeholders become `%s` for psycopg).

What the database makes atomic, so that nothing here needs a lock of its own across replicas:
- a start's *lease* (one row per scope and subject, taken only when free or expired, renewed
  while held): at most one unanswered start per project and model at any moment;
- a run's *claim* (the run id as primary key): a run is handed to one start, ever;
- a *secret* (inserted once, read by all): the key that seals request state for every replica.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol, Self

from flora_mcp.store._rows import (
    COLUMNS,
    INTENT,
    MAX_ERROR_CHARS,
    MAX_FIELD_CHARS,
    MAX_OUTPUTS_BYTES,
    MAX_SAVED_PATHS_BYTES,
    RUN_COLUMNS,
    JournalEntry,
    RunFields,
    RunKind,
    cap_text,
    capped_list,
    check_account,
    dumps,
    entry_of,
)

SCHEMA_VERSION = 3  # 3: media_origins
_CHUNK = 500  # ids per IN (...) list: well under either database's limit on bound parameters


class StoreError(Exception):
    """The store cannot be opened or used."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (it may come back)."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


Execute = Callable[..., Cursor]
"""`execute(sql, args=())` inside one transaction."""


class RunStore:
    """The run journal and the start coordination on one database. Thread-safe; blocking calls
    (async code goes through `in_thread`)."""

    placeholder: ClassVar[str] = "?"
    now_sql: ClassVar[str]
    """The database's clock in epoch seconds: every replica's leases expire by one clock."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries

    def _transaction(self) -> AbstractContextManager[Execute]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    # Journal writes -----------------------------------------------------------------------

    def record_intent(
        self,
        account: str,
        local_id: str,
        *,
        kind: RunKind,
        type: str | None,
        prompt: str | None,
        model: str | None,
        params: Mapping[str, Any],
        references: Iterable[str] = (),
        workspace_id: str | None,
        project_id: str | None,
        quote_usd: float | None = None,
        started_at: float,
    ) -> None:
        """Write, just before the POST, what is about to be started (`local_id`: its idempotency key).

        If the answer never arrives (crash, lost connection), `pending_intents` lists it. Calling it
        again for the same `local_id` (a retried POST) updates the row.
        """
        fields = RunFields(
            kind, type, prompt, model, params, references, workspace_id, project_id, quote_usd, started_at
        ).capped()
        check_account(account)
        with self._transaction() as run:
            row = run(
                self._sql("SELECT id FROM runs WHERE account = ? AND local_id = ?"), (account, local_id)
            )
            found = row.fetchone()
            if found is None:
                self._insert(run, account, local_id, None, INTENT, fields)
                self._prune(run, account)
            else:
                self._update(run, found[0], fields)

    def record_start(
        self,
        account: str,
        run_id: str,
        *,
        local_id: str | None = None,
        kind: RunKind,
        type: str | None,
        prompt: str | None,
        model: str | None,
        params: Mapping[str, Any],
        references: Iterable[str] = (),
        workspace_id: str | None,
        project_id: str | None,
        quote_usd: float | None,
        started_at: float,
        status: str = "pending",
    ) -> None:
        """Write a started run once FLORA gave its id, and claim the run for this start.

        With the `local_id` of an earlier `record_intent`, that intent becomes this run. A run
        already journaled under `run_id` is updated, not duplicated.
        """
        fields = RunFields(
            kind, type, prompt, model, params, references, workspace_id, project_id, quote_usd, started_at
        ).capped()
        check_account(account)
        sql = self._sql
        with self._transaction() as run:
            by_run = run(
                sql("SELECT id, local_id FROM runs WHERE account = ? AND run_id = ?"), (account, run_id)
            ).fetchone()
            by_local = (
                None
                if local_id is None
                else run(
                    sql("SELECT id, run_id FROM runs WHERE account = ? AND local_id = ?"), (account, local_id)
                ).fetchone()
            )
            # Only an intent (no run id yet) is taken over; a local id already bound to another
            # run is left alone and this run gets a fresh one.
            intent = by_local[0] if by_local is not None and by_local[1] is None else None
            if by_run is not None:
                if intent is not None:
                    # The intent was reconciled after the run was journaled some other way: one row.
                    run(sql("DELETE FROM runs WHERE id = ?"), (intent,))
                    run(sql("UPDATE runs SET local_id = ? WHERE id = ?"), (local_id, by_run[0]))
                self._update(run, by_run[0], fields)
            elif intent is not None:
                self._update(run, intent, fields)
                run(
                    sql("UPDATE runs SET run_id = ?, status = ? WHERE id = ?"),
                    (run_id, status[:MAX_FIELD_CHARS], intent),
                )
            else:
                fresh = local_id if local_id is not None and by_local is None else uuid.uuid4().hex
                self._insert(run, account, fresh, run_id, status[:MAX_FIELD_CHARS], fields)
                self._prune(run, account)
            self._claim(run, run_id, local_id or "")

    def drop_intent(self, account: str, local_id: str) -> bool:
        """Forget an intent whose POST was answered with an error (nothing started, nothing billed)."""
        check_account(account)
        with self._transaction() as run:
            cursor = run(
                self._sql("DELETE FROM runs WHERE account = ? AND local_id = ? AND run_id IS NULL"),
                (account, local_id),
            )
            return cursor.rowcount > 0

    def note_intent(self, account: str, local_id: str, error: str) -> None:
        """Say on an intent why its run is not known (e.g. the candidates FLORA's history left open)."""
        check_account(account)
        with self._transaction() as run:
            run(
                self._sql("UPDATE runs SET error = ? WHERE account = ? AND local_id = ? AND run_id IS NULL"),
                (cap_text(error, MAX_ERROR_CHARS)[0], account, local_id),
            )

    def settle(
        self,
        account: str,
        run_id: str,
        *,
        status: str,
        cost_usd: float | None,
        outputs: list[dict[str, Any]],
        seed: int | None,
        error: str | None = None,
        settled_at: float | None = None,
    ) -> bool:
        """Record what a run came to. False when the run is not in the journal (started elsewhere).

        May be called again as FLORA's cost settles: a `None` cost, seed or error and an empty
        `outputs` keep what was recorded before.
        """
        check_account(account)
        outputs_json, cut = capped_list(outputs, MAX_OUTPUTS_BYTES)
        with self._transaction() as run:
            cursor = run(
                self._sql(
                    """UPDATE runs SET status = ?, cost_usd = COALESCE(?, cost_usd),
                       outputs = CASE WHEN ? = '[]' THEN outputs ELSE ? END,
                       seed = COALESCE(?, seed), error = COALESCE(?, error), settled_at = ?,
                       truncated = CASE WHEN ? = 1 THEN 1 ELSE truncated END
                   WHERE account = ? AND run_id = ?"""
                ),
                (
                    status[:MAX_FIELD_CHARS],
                    cost_usd,
                    outputs_json,
                    outputs_json,
                    seed,
                    cap_text(error, MAX_ERROR_CHARS)[0],
                    time.time() if settled_at is None else settled_at,
                    int(cut),
                    account,
                    run_id,
                ),
            )
            return cursor.rowcount > 0

    def add_saved_paths(self, account: str, run_id: str, paths: Iterable[str]) -> bool:
        """Remember where a run's outputs were saved (kept once each, newest last, capped)."""
        check_account(account)
        new = list(dict.fromkeys(paths))
        with self._transaction() as run:
            row = run(
                self._sql("SELECT id, saved_paths FROM runs WHERE account = ? AND run_id = ?"),
                (account, run_id),
            ).fetchone()
            if row is None:
                return False
            known: list[str] = json.loads(row[1])
            merged = [p for p in known if p not in set(new)] + new
            # Oldest dropped first when the cap is reached: the latest saves are the ones to find.
            while merged and len(dumps(merged).encode()) > MAX_SAVED_PATHS_BYTES:
                merged.pop(0)
            run(self._sql("UPDATE runs SET saved_paths = ? WHERE id = ?"), (dumps(merged), row[0]))
            return True

    # Journal reads ------------------------------------------------------------------------

    def get(self, account: str, run_ids: Iterable[str]) -> dict[str, JournalEntry]:
        """The journaled runs among `run_ids`, by run id; unknown ids are simply absent."""
        check_account(account)
        found: dict[str, JournalEntry] = {}
        with self._transaction() as run:
            for chunk in _chunks(run_ids):
                marks = ",".join("?" * len(chunk))
                rows = run(
                    self._sql(f"SELECT {COLUMNS} FROM runs WHERE account = ? AND run_id IN ({marks})"),  # noqa: S608
                    (account, *chunk),
                ).fetchall()
                for row in rows:
                    entry = entry_of(row)
                    found[entry.run_id or ""] = entry
        return found

    def recent(
        self,
        account: str,
        *,
        workspace_id: str | None = None,
        project_id: str | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[JournalEntry]:
        """Runs and intents newest first, optionally in one workspace or project, started before `before`."""
        check_account(account)
        where = ["account = ?"]
        args: list[Any] = [account]
        for column, value in (("workspace_id", workspace_id), ("project_id", project_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if before is not None:
            where.append("started_at < ?")
            args.append(before)
        args.append(max(0, min(limit, self.max_entries)))
        sql = (
            f"SELECT {COLUMNS} FROM runs WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        with self._transaction() as run:
            return [entry_of(row) for row in run(self._sql(sql), args).fetchall()]

    def pending_intents(self, account: str) -> list[JournalEntry]:
        """Intents with no run id yet, oldest first: POSTs whose answer this server never recorded."""
        check_account(account)
        with self._transaction() as run:
            rows = run(
                self._sql(
                    f"SELECT {COLUMNS} FROM runs WHERE account = ? AND run_id IS NULL "  # noqa: S608
                    "ORDER BY started_at, id"
                ),
                (account,),
            ).fetchall()
            return [entry_of(row) for row in rows]

    # Start coordination -------------------------------------------------------------------

    def acquire_lease(self, scope: str, subject: str, holder: str, ttl: float) -> bool:
        """Take the lease on (`scope`, `subject`) for `ttl` seconds if it is free, expired or ours."""
        with self._transaction() as run:
            cursor = run(
                self._sql(
                    "INSERT INTO leases (scope, subject, holder, expires_at) "  # noqa: S608 - now_sql is ours
                    f"""VALUES (?, ?, ?, {self.now_sql} + ?)
                    ON CONFLICT (scope, subject) DO UPDATE
                        SET holder = excluded.holder, expires_at = excluded.expires_at
                        WHERE leases.expires_at < {self.now_sql} OR leases.holder = excluded.holder"""
                ),
                (scope, subject, holder, ttl),
            )
            return cursor.rowcount > 0

    def renew_lease(self, scope: str, subject: str, holder: str, ttl: float) -> bool:
        """Extend a lease still held; False if it was lost (expired and taken)."""
        with self._transaction() as run:
            cursor = run(
                self._sql(
                    f"UPDATE leases SET expires_at = {self.now_sql} + ? "  # noqa: S608 - now_sql is ours
                    "WHERE scope = ? AND subject = ? AND holder = ?"
                ),
                (ttl, scope, subject, holder),
            )
            return cursor.rowcount > 0

    def release_lease(self, scope: str, subject: str, holder: str) -> None:
        with self._transaction() as run:
            run(
                self._sql("DELETE FROM leases WHERE scope = ? AND subject = ? AND holder = ?"),
                (scope, subject, holder),
            )

    def leases(self, scope: str) -> dict[str, str]:
        """The unexpired leases in `scope`: subject -> holder."""
        with self._transaction() as run:
            rows = run(
                self._sql(
                    f"SELECT subject, holder FROM leases WHERE scope = ? AND expires_at >= {self.now_sql}"  # noqa: S608
                ),
                (scope,),
            ).fetchall()
            return {subject: holder for subject, holder in rows}

    def claim(self, run_id: str, local_id: str) -> bool:
        """Hand `run_id` to the start `local_id`: True for the first claim, ever; False if taken."""
        with self._transaction() as run:
            return self._claim(run, run_id, local_id)

    def claimed(self, run_ids: Iterable[str]) -> dict[str, str]:
        """The claimed runs among `run_ids`: run id -> the start (local id) it was handed to."""
        found: dict[str, str] = {}
        with self._transaction() as run:
            for chunk in _chunks(run_ids):
                marks = ",".join("?" * len(chunk))
                rows = run(
                    self._sql(f"SELECT run_id, local_id FROM claims WHERE run_id IN ({marks})"),  # noqa: S608
                    chunk,
                ).fetchall()
                found.update({run_id: local_id for run_id, local_id in rows})
        return found

    def learn_origins(self, origins: Iterable[str]) -> None:
        """Remember origins FLORA gave media URLs on (its assets' and outputs' hosts), for every replica."""
        with self._transaction() as run:
            for origin in sorted(set(origins)):
                run(
                    self._sql(
                        "INSERT INTO media_origins (origin, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
                    ),
                    (origin[:MAX_FIELD_CHARS], time.time()),
                )

    def media_origins(self) -> set[str]:
        """The origins `learn_origins` remembered."""
        with self._transaction() as run:
            return {row[0] for row in run(self._sql("SELECT origin FROM media_origins"), ()).fetchall()}

    def secret(self, name: str, candidate: str) -> str:
        """The secret `name`: `candidate` if none was stored yet, else the one every replica uses."""
        with self._transaction() as run:
            run(
                self._sql("INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (name, candidate),
            )
            return str(run(self._sql("SELECT value FROM secrets WHERE name = ?"), (name,)).fetchone()[0])

    # Plumbing ---------------------------------------------------------------------------

    def _claim(self, run: Execute, run_id: str, local_id: str) -> bool:
        cursor = run(
            self._sql(
                "INSERT INTO claims (run_id, local_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
            ),
            (run_id, local_id, time.time()),
        )
        return cursor.rowcount > 0

    def _insert(
        self,
        run: Execute,
        account: str,
        local_id: str,
        run_id: str | None,
        status: str,
        fields: tuple[dict[str, Any], bool],
    ) -> None:
        values, cut = fields
        run(
            self._sql(
                f"INSERT INTO runs (account, local_id, run_id, status, truncated, {', '.join(RUN_COLUMNS)}) "  # noqa: S608
                f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(RUN_COLUMNS))})"
            ),
            (account, local_id, run_id, status, int(cut), *(values[c] for c in RUN_COLUMNS)),
        )

    def _update(self, run: Execute, row_id: int, fields: tuple[dict[str, Any], bool]) -> None:
        values, cut = fields
        assignments = ", ".join(f"{c} = ?" for c in RUN_COLUMNS)
        run(
            self._sql(f"UPDATE runs SET {assignments}, truncated = ? WHERE id = ?"),  # noqa: S608
            (*(values[c] for c in RUN_COLUMNS), int(cut), row_id),
        )

    def _prune(self, run: Execute, account: str) -> None:
        """Keep the newest `max_entries` rows of the account: everything older than the last kept goes."""
        last_kept = run(
            self._sql(
                "SELECT started_at, id FROM runs WHERE account = ? ORDER BY started_at DESC, id DESC "
                "LIMIT 1 OFFSET ?"
            ),
            (account, self.max_entries - 1),
        ).fetchone()
        if last_kept is not None:
            started_at, row_id = last_kept
            run(
                self._sql(
                    "DELETE FROM runs WHERE account = ? AND (started_at < ? OR (started_at = ? AND id < ?))"
                ),
                (account, started_at, started_at, row_id),
            )


def _chunks(ids: Iterable[str]) -> Iterator[Sequence[str]]:
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]
