"""The local run journal: every run this server starts, kept in one SQLite file.

FLORA's history (`GET /generations`) has run ids, models and costs but no prompt, type or
params, and a run started just before a crash is paid for yet unknown to the next server.
The journal keeps what FLORA does not: written before a tool call returns (and an *intent*
before the POST itself), read back to fill in history after a restart.

Plain data in and out, so it is tested alone and knows nothing of the client or the server.

Choices, and why:
- WAL with `synchronous=FULL`: with NORMAL, a WAL commit survives the process being killed
  but not a power cut or an OS crash, and a lost row can be a paid run nobody can find.
  FULL costs one fsync per commit, and a run makes only two or three writes.
- One connection per journal behind a lock (`check_same_thread=False`), and a busy timeout
  for other processes on the same file (two hosts each starting a server).
- Rows are scoped by an account digest (`account_digest`), never the key itself.
- Bounded: at most `max_entries` rows per account (oldest pruned in the same transaction
  as an insert), and every free-text or JSON field capped, so a row stays a few KB.
- The methods take well under a millisecond plus one fsync; async callers run them in a
  worker thread (`in_thread`) so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
R = TypeVar("R")

RunKind = Literal["generation", "technique", "action"]
RUN_KINDS: frozenset[str] = frozenset({"generation", "technique", "action"})
INTENT = "intent"
"""`JournalEntry.status` of an intent: the POST was (about to be) sent, its answer never recorded."""

DEFAULT_MAX_ENTRIES = 5000
MAX_PROMPT_CHARS = 4000
MAX_PARAMS_BYTES = 8 * 1024
MAX_REFERENCES_BYTES = 4 * 1024
MAX_OUTPUTS_BYTES = 8 * 1024
MAX_SAVED_PATHS_BYTES = 4 * 1024
MAX_ERROR_CHARS = 1000
MAX_FIELD_CHARS = 200
"""Ids, model names, types and statuses: short by nature; capped so a bad caller cannot bloat a row."""

APP_FOLDER = "flora-mcp"
FILE_NAME = "runs.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 5.0
_GET_CHUNK = 500  # well under SQLite's limit on bound parameters per statement
_ACCOUNT_NAMESPACE = b"flora-mcp run journal account v1"
_TRUNCATION_MARK = "…"
_ACCOUNT_SHAPE = re.compile(r"[0-9a-f]{64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    local_id TEXT NOT NULL,
    run_id TEXT,
    kind TEXT NOT NULL,
    run_type TEXT,
    prompt TEXT,
    model TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    refs TEXT NOT NULL DEFAULT '[]',
    workspace_id TEXT,
    project_id TEXT,
    quote_usd REAL,
    started_at REAL NOT NULL,
    status TEXT NOT NULL,
    cost_usd REAL,
    outputs TEXT NOT NULL DEFAULT '[]',
    seed INTEGER,
    error TEXT,
    saved_paths TEXT NOT NULL DEFAULT '[]',
    settled_at REAL,
    truncated INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_local_id ON runs (account, local_id);
CREATE UNIQUE INDEX IF NOT EXISTS runs_run_id ON runs (account, run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_recent ON runs (account, started_at, id);
"""


class JournalError(Exception):
    """The journal file cannot be opened or used; the server should carry on without it."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One run (or intent) as the journal remembers it."""

    local_id: str
    run_id: str | None
    kind: str
    type: str | None
    prompt: str | None
    model: str | None
    params: dict[str, Any]
    references: list[str]
    workspace_id: str | None
    project_id: str | None
    quote_usd: float | None
    started_at: float
    status: str
    """`intent` until the run id is known, then FLORA's last status seen (pending … failed)."""
    cost_usd: float | None
    outputs: list[dict[str, Any]]
    seed: int | None
    error: str | None
    saved_paths: list[str]
    settled_at: float | None
    truncated: bool
    """A prompt, params, references or outputs were cut to fit the size caps."""


def account_digest(key: str) -> str:
    """The journal's name for an API key: an HMAC-SHA256 under a fixed namespace.

    Not a bare `sha256(key)`, so the journal cannot be matched against another system's
    hashes of the same key; keys are long random strings, so guessing back is hopeless.
    """
    return hmac.new(_ACCOUNT_NAMESPACE, key.encode(), hashlib.sha256).hexdigest()


def default_journal_path(
    environ: Mapping[str, str] | None = None, *, platform: str | None = None, home: Path | None = None
) -> Path:
    """Where the journal lives unless settings say otherwise: the user's data folder.

    Linux and others: `$XDG_DATA_HOME` (only if absolute, as the XDG spec says) else
    `~/.local/share`; macOS: `~/Library/Application Support`; Windows: `%LOCALAPPDATA%`.
    Settings pass their environment; the default `os.environ` is for callers without one.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform == "win32":
        local = environ.get("LOCALAPPDATA", "")
        base = Path(local) if local else home / "AppData" / "Local"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / APP_FOLDER / FILE_NAME


class RunJournal:
    """The journal over one SQLite file; safe to share between threads. Open with `open`."""

    def __init__(self, connection: sqlite3.Connection, path: Path, max_entries: int) -> None:
        self._db: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self.path = path
        self.max_entries = max_entries

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_entries: int = DEFAULT_MAX_ENTRIES) -> RunJournal:
        """Open (creating folders and a 0600 file as needed) the journal at `path`."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created here with 0600 rather than by sqlite3 (which honours the umask, often 0644);
            # SQLite gives its -wal and -shm files the same mode as the database file.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            if os.name == "posix":
                os.chmod(path, 0o600)
            db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the run journal at {path}: {exc}") from exc
        try:
            _prepare(db)
        except (sqlite3.Error, JournalError) as exc:
            db.close()
            if isinstance(exc, JournalError):
                raise
            raise JournalError(f"cannot use the run journal at {path}: {exc}") from exc
        return cls(db, path, max_entries)

    def close(self) -> None:
        """Close the file; later calls raise `JournalError`. Closing twice is harmless."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> RunJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Writes -----------------------------------------------------------------------------

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

        If the answer never arrives (crash, lost connection), `pending_intents` lists it, so the
        server can look for the run in FLORA's history. Calling it again for the same
        `local_id` (a retried POST) updates the row.
        """
        fields = _run_fields(
            kind, type, prompt, model, params, references, workspace_id, project_id, quote_usd, started_at
        )
        with self._write(account) as db:
            row = db.execute(
                "SELECT id FROM runs WHERE account = ? AND local_id = ?", (account, local_id)
            ).fetchone()
            if row is None:
                _insert(db, account, local_id, None, INTENT, fields)
                self._prune(db, account)
            else:
                _update(db, row[0], fields)

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
        """Write a started run once FLORA gave its id; call before the tool returns.

        With the `local_id` of an earlier `record_intent`, that intent becomes this run. A run
        already journaled under `run_id` is updated, not duplicated.
        """
        fields = _run_fields(
            kind, type, prompt, model, params, references, workspace_id, project_id, quote_usd, started_at
        )
        with self._write(account) as db:
            by_run = db.execute(
                "SELECT id, local_id FROM runs WHERE account = ? AND run_id = ?", (account, run_id)
            ).fetchone()
            by_local = (
                None
                if local_id is None
                else db.execute(
                    "SELECT id, run_id FROM runs WHERE account = ? AND local_id = ?", (account, local_id)
                ).fetchone()
            )
            # Only an intent (no run id yet) is taken over; a local id already bound to another
            # run is left alone and this run gets a fresh one.
            intent = by_local[0] if by_local is not None and by_local[1] is None else None
            if by_run is not None:
                if intent is not None:
                    # The intent was reconciled after the run was journaled some other way: one row.
                    db.execute("DELETE FROM runs WHERE id = ?", (intent,))
                    db.execute("UPDATE runs SET local_id = ? WHERE id = ?", (local_id, by_run[0]))
                _update(db, by_run[0], fields)
            elif intent is not None:
                _update(db, intent, fields)
                db.execute(
                    "UPDATE runs SET run_id = ?, status = ? WHERE id = ?",
                    (run_id, status[:MAX_FIELD_CHARS], intent),
                )
            else:
                fresh = local_id if local_id is not None and by_local is None else uuid.uuid4().hex
                _insert(db, account, fresh, run_id, status[:MAX_FIELD_CHARS], fields)
                self._prune(db, account)

    def drop_intent(self, account: str, local_id: str) -> bool:
        """Forget an intent whose POST was answered with an error (nothing started, nothing billed)."""
        with self._write(account) as db:
            cursor = db.execute(
                "DELETE FROM runs WHERE account = ? AND local_id = ? AND run_id IS NULL", (account, local_id)
            )
            return cursor.rowcount > 0

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
        outputs_json, cut = _capped_list(outputs, MAX_OUTPUTS_BYTES)
        with self._write(account) as db:
            cursor = db.execute(
                """UPDATE runs SET status = ?, cost_usd = COALESCE(?, cost_usd),
                       outputs = CASE WHEN ? = '[]' THEN outputs ELSE ? END,
                       seed = COALESCE(?, seed), error = COALESCE(?, error), settled_at = ?,
                       truncated = truncated OR ?
                   WHERE account = ? AND run_id = ?""",
                (
                    status[:MAX_FIELD_CHARS],
                    cost_usd,
                    outputs_json,
                    outputs_json,
                    seed,
                    _cap_text(error, MAX_ERROR_CHARS)[0],
                    time.time() if settled_at is None else settled_at,
                    cut,
                    account,
                    run_id,
                ),
            )
            return cursor.rowcount > 0

    def add_saved_paths(self, account: str, run_id: str, paths: Iterable[str]) -> bool:
        """Remember where a run's outputs were saved (kept once each, newest last, capped)."""
        new = list(dict.fromkeys(paths))
        with self._write(account) as db:
            row = db.execute(
                "SELECT id, saved_paths FROM runs WHERE account = ? AND run_id = ?", (account, run_id)
            ).fetchone()
            if row is None:
                return False
            known: list[str] = json.loads(row[1])
            merged = [p for p in known if p not in set(new)] + new
            # Oldest dropped first when the cap is reached: the latest saves are the ones to find.
            while merged and len(_dumps(merged).encode()) > MAX_SAVED_PATHS_BYTES:
                merged.pop(0)
            db.execute("UPDATE runs SET saved_paths = ? WHERE id = ?", (_dumps(merged), row[0]))
            return True

    # Reads ------------------------------------------------------------------------------

    def get(self, account: str, run_ids: Iterable[str]) -> dict[str, JournalEntry]:
        """The journaled runs among `run_ids`, by run id; unknown ids are simply absent."""
        wanted = list(dict.fromkeys(run_ids))
        found: dict[str, JournalEntry] = {}
        with self._read(account) as db:
            for start in range(0, len(wanted), _GET_CHUNK):
                chunk = wanted[start : start + _GET_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM runs WHERE account = ? AND run_id IN ({marks})",  # noqa: S608
                    (account, *chunk),
                )
                for row in rows:
                    entry = _entry(row)
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
            f"SELECT {_COLUMNS} FROM runs WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        with self._read(account) as db:
            return [_entry(row) for row in db.execute(sql, args)]

    def pending_intents(self, account: str) -> list[JournalEntry]:
        """Intents with no run id yet, oldest first: POSTs whose answer this server never recorded."""
        with self._read(account) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE account = ? AND run_id IS NULL "  # noqa: S608
                "ORDER BY started_at, id",
                (account,),
            )
            return [_entry(row) for row in rows]

    # Plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _read(self, account: str) -> Iterator[sqlite3.Connection]:
        _check_account(account)
        with self._lock:
            if self._db is None:
                raise JournalError("the run journal is closed")
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise JournalError(f"run journal read failed: {exc}") from exc

    @contextmanager
    def _write(self, account: str) -> Iterator[sqlite3.Connection]:
        """One transaction, committed (and fsynced) before returning; IMMEDIATE so that another
        process's writer makes this one wait (busy timeout) rather than fail mid-transaction."""
        _check_account(account)
        with self._lock:
            db = self._db
            if db is None:
                raise JournalError("the run journal is closed")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                finally:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise JournalError(f"run journal write failed: {exc}") from exc

    def _prune(self, db: sqlite3.Connection, account: str) -> None:
        db.execute(
            """DELETE FROM runs WHERE id IN (
                   SELECT id FROM runs WHERE account = ?
                   ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?)""",
            (account, self.max_entries),
        )


async def in_thread(method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a `RunJournal` method from async code, in a worker thread so the loop never waits on
    the disk. Not cancelled half-way: `to_thread.run_sync` does not abandon its thread, so a write
    that has begun finishes (and is durable) even if the awaiting task is cancelled."""
    return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))


# Rows -------------------------------------------------------------------------------------

_COLUMNS = (
    "local_id, run_id, kind, run_type, prompt, model, params, refs, workspace_id, project_id, "
    "quote_usd, started_at, status, cost_usd, outputs, seed, error, saved_paths, settled_at, truncated"
)
_RUN_COLUMNS = (
    "kind",
    "run_type",
    "prompt",
    "model",
    "params",
    "refs",
    "workspace_id",
    "project_id",
    "quote_usd",
    "started_at",
)


def _check_account(account: str) -> None:
    # The promise is that no key is ever stored: refuse anything that is not a digest.
    if _ACCOUNT_SHAPE.fullmatch(account) is None:
        raise ValueError("account must be a digest from account_digest(key), never the key itself")


def _prepare(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the run journal was written by a newer flora-mcp (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade, or point the journal setting at another file"
        )
    if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise JournalError("the run journal's file system does not support SQLite's WAL mode")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(_SCHEMA)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _run_fields(
    kind: str,
    type: str | None,
    prompt: str | None,
    model: str | None,
    params: Mapping[str, Any],
    references: Iterable[str],
    workspace_id: str | None,
    project_id: str | None,
    quote_usd: float | None,
    started_at: float,
) -> tuple[dict[str, Any], bool]:
    """The columns a run shares with its intent, capped; and whether anything was cut."""
    if kind not in RUN_KINDS:
        raise ValueError(f"kind must be one of {sorted(RUN_KINDS)}, not {kind!r}")
    prompt_text, prompt_cut = _cap_text(prompt, MAX_PROMPT_CHARS)
    params_json, params_cut = _capped_params(params)
    refs_json, refs_cut = _capped_list(references, MAX_REFERENCES_BYTES)
    values = {
        "kind": kind,
        "run_type": _short(type),
        "prompt": prompt_text,
        "model": _short(model),
        "params": params_json,
        "refs": refs_json,
        "workspace_id": _short(workspace_id),
        "project_id": _short(project_id),
        "quote_usd": quote_usd,
        "started_at": started_at,
    }
    return values, prompt_cut or params_cut or refs_cut


def _insert(
    db: sqlite3.Connection,
    account: str,
    local_id: str,
    run_id: str | None,
    status: str,
    fields: tuple[dict[str, Any], bool],
) -> None:
    values, cut = fields
    db.execute(
        f"INSERT INTO runs (account, local_id, run_id, status, truncated, {', '.join(_RUN_COLUMNS)}) "  # noqa: S608
        f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(_RUN_COLUMNS))})",
        (account, local_id, run_id, status, cut, *(values[c] for c in _RUN_COLUMNS)),
    )


def _update(db: sqlite3.Connection, row_id: int, fields: tuple[dict[str, Any], bool]) -> None:
    values, cut = fields
    assignments = ", ".join(f"{c} = ?" for c in _RUN_COLUMNS)
    db.execute(
        f"UPDATE runs SET {assignments}, truncated = ? WHERE id = ?",  # noqa: S608
        (*(values[c] for c in _RUN_COLUMNS), cut, row_id),
    )


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    (local_id, run_id, kind, run_type, prompt, model, params, refs, workspace_id, project_id) = row[:10]
    (quote_usd, started_at, status, cost_usd, outputs, seed, error, saved_paths, settled_at) = row[10:19]
    return JournalEntry(
        local_id=local_id,
        run_id=run_id,
        kind=kind,
        type=run_type,
        prompt=prompt,
        model=model,
        params=json.loads(params),
        references=json.loads(refs),
        workspace_id=workspace_id,
        project_id=project_id,
        quote_usd=quote_usd,
        started_at=started_at,
        status=status,
        cost_usd=cost_usd,
        outputs=json.loads(outputs),
        seed=seed,
        error=error,
        saved_paths=json.loads(saved_paths),
        settled_at=settled_at,
        truncated=bool(row[19]),
    )


# Caps -------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    # default=str: params come from tool arguments and are JSON already; anything odd is kept as text.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _cap_text(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK, True


def _short(text: str | None) -> str | None:
    return _cap_text(text, MAX_FIELD_CHARS)[0]


def _capped_params(params: Mapping[str, Any]) -> tuple[str, bool]:
    """Params as JSON within `MAX_PARAMS_BYTES`: the largest values are replaced by a note
    until it fits, so the small ones (aspect ratio, seed, …) that reproduce a run survive."""
    kept = dict(params)
    text = _dumps(kept)
    if len(text.encode()) <= MAX_PARAMS_BYTES:
        return text, False
    by_size = sorted(kept, key=lambda name: len(_dumps(kept[name]).encode()), reverse=True)
    for name in by_size:
        kept[name] = f"{_TRUNCATION_MARK} ({len(_dumps(kept[name]).encode())} bytes, not journaled)"
        text = _dumps(kept)
        if len(text.encode()) <= MAX_PARAMS_BYTES:
            return text, True
    return "{}", True


def _capped_list(items: Iterable[Any], limit: int) -> tuple[str, bool]:
    """A JSON list of as many leading `items` as fit in `limit` bytes."""
    kept: list[Any] = []
    size = 2
    for item in items:
        size += len(_dumps(item).encode()) + (1 if kept else 0)
        if size > limit:
            return _dumps(kept), True
        kept.append(item)
    return _dumps(kept), False
