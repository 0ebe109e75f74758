"""The store in one SQLite file: the embedded default, for one machine and nothing to set up.

Choices, and why:
- WAL with `synchronous=FULL`: with NORMAL, a WAL commit survives the process being killed but not a
  power cut or an OS crash, and a lost row can be a paid run nobody can find. FULL costs one fsync
  per commit, and a run makes only a few writes.
- One connection behind a lock (`check_same_thread=False`), and a busy timeout for other processes
  on the same file (two hosts each starting a server); `BEGIN IMMEDIATE` so that another process's
  writer makes this one wait rather than fail mid-transaction.
- The file is created 0600 in a 0700 folder: it holds prompts.
- `:memory:` (the journal set to off) keeps the same coordination for this process alone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from flora_mcp.store._rows import DEFAULT_MAX_ENTRIES
from flora_mcp.store._sql import SCHEMA_VERSION, Execute, RunStore, StoreError

BUSY_TIMEOUT_SECONDS = 5.0
MEMORY = ":memory:"

_RUNS = """
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
# Version 2: what makes a start safe lives beside the journal. Existing runs become claims.
_COORDINATION = """
CREATE TABLE IF NOT EXISTS leases (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE TABLE IF NOT EXISTS claims (
    run_id TEXT PRIMARY KEY,
    local_id TEXT NOT NULL,
    claimed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media_origins (
    origin TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
INSERT INTO claims (run_id, local_id, claimed_at)
    SELECT run_id, local_id, started_at FROM runs WHERE run_id IS NOT NULL
    ON CONFLICT DO NOTHING;
"""


class SqliteStore(RunStore):
    """The store over one SQLite file (or memory). Open with `open`."""

    now_sql: ClassVar[str] = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, connection: sqlite3.Connection, path: Path | None, max_entries: int) -> None:
        super().__init__(max_entries)
        self._db: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_entries: int = DEFAULT_MAX_ENTRIES) -> SqliteStore:
        """Open (creating folders and a 0600 file as needed) the store at `path`, or in memory."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        in_memory = str(path) == MEMORY
        file = None if in_memory else Path(path).expanduser()
        try:
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # Created here with 0600 rather than by sqlite3 (which honours the umask, often 0644);
                # SQLite gives its -wal and -shm files the same mode as the database file.
                os.close(os.open(file, os.O_RDWR | os.O_CREAT, 0o600))
                if os.name == "posix":
                    os.chmod(file, 0o600)
            db = sqlite3.connect(
                MEMORY if file is None else file,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the run journal at {path}: {exc}") from exc
        try:
            _prepare(db, in_memory)
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"cannot use the run journal at {path}: {exc}") from exc
        except StoreError:
            db.close()
            raise
        return cls(db, file, max_entries)

    def close(self) -> None:
        """Close the file; later calls raise `StoreError`. Closing twice is harmless."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _transaction(self) -> Iterator[Execute]:
        """One transaction, committed (and fsynced) before returning."""
        with self._lock:
            db = self._db
            if db is None:
                raise StoreError("the run journal is closed")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db.execute
                    db.execute("COMMIT")
                finally:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise StoreError(f"run journal failed: {exc}") from exc


def _prepare(db: sqlite3.Connection, in_memory: bool) -> None:
    version: Any = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the run journal was written by a newer flora-mcp (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade, or point the journal setting at another file"
        )
    if not in_memory:
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise StoreError("the run journal's file system does not support SQLite's WAL mode")
        db.execute("PRAGMA synchronous = FULL")
    # One transaction: an upgrade either happens whole or not at all, and never loses a row.
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in (_RUNS + _COORDINATION).split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
