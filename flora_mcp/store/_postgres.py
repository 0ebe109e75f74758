"""The store on PostgreSQL: one journal, one set of leases and claims for every replica.

psycopg 3 with its connection pool (both by the psycopg maintainers): blocking calls like the SQLite
store's, so one interface serves both, run in worker threads by `in_thread`. Imported only when
`FLORA_DATABASE_URL` is set.

- The schema is versioned in `flora_schema` and created or upgraded at open, under an advisory lock
  so that replicas starting together do not race; an upgrade runs in one transaction.
- Connections are checked when taken from the pool, so a database that went away and came back is
  used again without a restart; while it is away, every call raises `StoreUnavailable` at once
  (bounded by `connect_timeout`), which the server turns into "nothing started".
- The URL's password never reaches a message: errors name the host, port and database only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
import psycopg_pool

from flora_mcp.store._rows import DEFAULT_MAX_ENTRIES
from flora_mcp.store._sql import SCHEMA_VERSION, Execute, RunStore, StoreError, StoreUnavailable

CONNECT_TIMEOUT_SECONDS = 5
POOL_MAX = 8
_MIGRATION_LOCK = 0x464C4F5241  # "FLORA": one replica migrates at a time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id BIGSERIAL PRIMARY KEY,
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
    quote_usd DOUBLE PRECISION,
    started_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    cost_usd DOUBLE PRECISION,
    outputs TEXT NOT NULL DEFAULT '[]',
    seed BIGINT,
    error TEXT,
    saved_paths TEXT NOT NULL DEFAULT '[]',
    settled_at DOUBLE PRECISION,
    truncated INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_local_id ON runs (account, local_id);
CREATE UNIQUE INDEX IF NOT EXISTS runs_run_id ON runs (account, run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_recent ON runs (account, started_at, id);
CREATE TABLE IF NOT EXISTS leases (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE TABLE IF NOT EXISTS claims (
    run_id TEXT PRIMARY KEY,
    local_id TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media_origins (
    origin TEXT PRIMARY KEY,
    seen_at DOUBLE PRECISION NOT NULL
)
"""


class PostgresStore(RunStore):
    """The store on a PostgreSQL database, through a connection pool. Open with `open`."""

    placeholder: ClassVar[str] = "%s"
    now_sql: ClassVar[str] = "EXTRACT(EPOCH FROM clock_timestamp())::double precision"

    def __init__(self, pool: psycopg_pool.ConnectionPool[Any], where: str, max_entries: int) -> None:
        super().__init__(max_entries)
        self._pool = pool
        self.where = where

    @classmethod
    def open(cls, url: str, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> PostgresStore:
        """Connect, then create or upgrade the schema; `StoreError` naming the database if it fails."""
        where = describe(url)
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            check=psycopg_pool.ConnectionPool.check_connection,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            name="flora-mcp",
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 2)
            store = cls(pool, where, max_entries)
            store._prepare()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            pool.close()
            raise StoreError(f"cannot use the database at {where}: {_reason(exc)}") from None
        except StoreError:
            pool.close()
            raise
        return store

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _transaction(self) -> Iterator[Execute]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn.execute
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise StoreUnavailable(f"the database at {self.where} is unreachable: {_reason(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"the database at {self.where} failed: {_reason(exc)}") from None

    def _prepare(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS flora_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM flora_schema").fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database at {self.where} was written by a newer flora-mcp (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade every replica"
                )
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)  # CREATE … IF NOT EXISTS: an upgrade adds, never drops
            if row is None:
                conn.execute("INSERT INTO flora_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE flora_schema SET version = %s", (SCHEMA_VERSION,))


def describe(url: str) -> str:
    """'host:port/dbname' of a libpq URL or DSN, never its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured FLORA_DATABASE_URL (not a valid PostgreSQL URL)"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def _reason(exc: BaseException) -> str:
    # libpq's messages name host and port, never the password; keep the first line only.
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
