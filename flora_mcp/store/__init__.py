"""The run store: the journal of every run this server starts, and what makes a start safe.

FLORA's history (`GET /generations`) has run ids, models and costs but no prompt, type or params,
and a run started just before a crash is paid for yet unknown to the next server. The store keeps
what FLORA does not (an *intent* before each POST, the run once its id is known, its outcome), and
coordinates starts (leases, claims, the request-state secret) for every process that shares it:

    RunStore (the operations the server needs, in the SQL both databases speak)
    ├── SqliteStore    one file on one machine: the embedded default, nothing to set up
    └── PostgresStore  FLORA_DATABASE_URL: one database for many replicas

Each supplies its own connections and schema; the queries are written once. Plain data in and out,
so it is tested alone and knows nothing of the client or the server. Rows are scoped by an account
digest (`account_digest`), never the key itself; each account keeps at most `max_entries` rows, and
every free-text or JSON field is capped, so a row stays a few KB.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from flora_mcp.store._rows import (
    DEFAULT_MAX_ENTRIES,
    INTENT,
    MAX_ERROR_CHARS,
    MAX_FIELD_CHARS,
    MAX_OUTPUTS_BYTES,
    MAX_PARAMS_BYTES,
    MAX_PROMPT_CHARS,
    MAX_REFERENCES_BYTES,
    MAX_SAVED_PATHS_BYTES,
    RUN_KINDS,
    JournalEntry,
    RunKind,
    account_digest,
    default_journal_path,
)
from flora_mcp.store._sql import SCHEMA_VERSION, RunStore, StoreError, StoreUnavailable
from flora_mcp.store._sqlite import MEMORY, SqliteStore

P = ParamSpec("P")
R = TypeVar("R")

_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("flora_store_limiter")  # one per event loop
# Store calls are short; a few threads keep both databases busy. anyio's default (40 threads) would
# let each thread grow its own malloc arena for no gain.
WORKER_THREADS = 4


def open_postgres(url: str, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> RunStore:
    """The shared store at a `postgresql://` URL; imports psycopg only now."""
    try:
        from flora_mcp.store._postgres import PostgresStore
    except ImportError as exc:
        raise StoreError(
            f"FLORA_DATABASE_URL needs the PostgreSQL driver ({exc.name} is missing): "
            "pip install 'flora-mcp[postgres]'"
        ) from None

    return PostgresStore.open(url, max_entries=max_entries)


async def in_thread(method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a store method from async code, in a worker thread so the loop never waits on the disk
    or the network. Not cancelled half-way: `to_thread.run_sync` does not abandon its thread, so a
    write that has begun finishes (and is durable) even if the awaiting task is cancelled."""
    try:
        limiter = _LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(WORKER_THREADS)
        _LIMITER.set(limiter)
    return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs), limiter=limiter)


__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "INTENT",
    "MAX_ERROR_CHARS",
    "MAX_FIELD_CHARS",
    "MAX_OUTPUTS_BYTES",
    "MAX_PARAMS_BYTES",
    "MAX_PROMPT_CHARS",
    "MAX_REFERENCES_BYTES",
    "MAX_SAVED_PATHS_BYTES",
    "MEMORY",
    "RUN_KINDS",
    "SCHEMA_VERSION",
    "JournalEntry",
    "RunKind",
    "RunStore",
    "SqliteStore",
    "StoreError",
    "StoreUnavailable",
    "account_digest",
    "default_journal_path",
    "in_thread",
    "open_postgres",
]
