"""What the server process holds for its life: settings, one HTTP pool, the embedded sandbox,
recent inline renderings, and an account (API client and per-key caches) per FLORA key.

Started and stopped by the server's lifespan (`running`); every session shares one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx2
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent

from flora_mcp.settings import Settings

if TYPE_CHECKING:
    from mcp.server.request_state import RequestStateSecurity

    from flora_mcp.sandbox import RunningSandbox
    from flora_mcp.server._account import Account
    from flora_mcp.store import RunStore

logger = logging.getLogger(__name__)

# Agents ask for a finished run more than once (status after generate, a second look): its
# outputs do not change, so the last few renderings are kept rather than fetched and re-encoded.
RECENT_IMAGES = 32  # at most ~600 KB each


class AppState:
    """Shared by every tool call and session. No I/O until `running()` or first use; imports
    nothing of the client, which `initialize` does not need."""

    def __init__(self, settings: Settings, store: RunStore | None = None) -> None:
        self.settings = settings
        self.recent_images: OrderedDict[tuple[str, int, int], ImageContent] = OrderedDict()
        self.media_seen: set[str] = set()  # origins FLORA gave media URLs on (`_context.learn_media`)
        self._http: httpx2.AsyncClient | None = None
        self._sandbox: RunningSandbox | None = None
        self._sandbox_ready: anyio.Event | None = None
        self._sandbox_wanted: anyio.Event | None = None
        # Per FLORA key (see `_context.account`), by digest so no key is held as a dict key.
        self.accounts: OrderedDict[str, Account] = OrderedDict()
        self._users = 0
        self._store: RunStore | None = store
        self._store_lock: anyio.Lock | None = None

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        """The state, with the shared database already open when one is configured: a server that
        cannot reach it must not start (`StoreError`, naming the database but not its password)."""
        if settings.database_url is None:
            return cls(settings)
        from flora_mcp.store import open_postgres  # lazy: psycopg only when a database is configured

        return cls(settings, open_postgres(settings.database_url.get_secret_value()))

    def request_state_security(self) -> RequestStateSecurity | None:
        """With a shared database, every replica seals and opens the state of a multi-round-trip call
        (a consent question answered on another replica) with one key kept there; else the SDK's
        per-process key."""
        if self.settings.database_url is None or self._store is None:
            return None
        import secrets

        from mcp.server.request_state import RequestStateSecurity

        key = self._store.secret("request_state_key", secrets.token_urlsafe(32))
        return RequestStateSecurity(keys=[key])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[AppState]:
        """The lifespan: the sandbox starts in a worker thread once wanted (`want_sandbox`: after
        the handshake, so `initialize` does not share the cores with it); the pool and sandbox close
        when the last user (session, HTTP server) leaves."""
        self._users += 1
        try:
            async with anyio.create_task_group() as group:
                if self._users == 1 and self.settings.uses_sandbox:
                    self._sandbox_ready, self._sandbox_wanted = anyio.Event(), anyio.Event()
                    logger.warning("No FLORA_API_KEY set: the embedded FLORA sandbox stands in for FLORA")
                    group.start_soon(self._start_sandbox)
                try:
                    yield self
                finally:
                    group.cancel_scope.cancel()  # a sandbox never wanted is never started
        finally:
            self._users -= 1
            if self._users == 0:
                with anyio.CancelScope(shield=True):
                    await self._close()

    @property
    def http(self) -> httpx2.AsyncClient:
        """One pool for the server's life, made on first use: building its TLS context costs
        tens of milliseconds that `initialize` should not wait for."""
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=self.settings.timeout)
        return self._http

    def want_sandbox(self) -> None:
        """Start the embedded sandbox now, if it is used and not started yet."""
        if self._sandbox_wanted is not None:
            self._sandbox_wanted.set()

    async def sandbox(self) -> RunningSandbox | None:
        """The embedded sandbox once it is up, or None when a real FLORA is used."""
        if self._sandbox_ready is None:
            return None
        self.want_sandbox()
        await self._sandbox_ready.wait()
        if self._sandbox is None:
            raise ToolError("The embedded FLORA sandbox failed to start; see the server's log.")
        return self._sandbox

    async def store(self) -> RunStore:
        """The run store, opened on first use: the shared database (`StoreError` if unreachable), else
        the SQLite journal (in memory when the journal is off or its file unusable, said in the log)."""
        if self._store_lock is None:
            self._store_lock = anyio.Lock()
        async with self._store_lock:
            if self._store is None and self.settings.database_url is not None:
                from flora_mcp.store import in_thread, open_postgres

                self._store = await in_thread(open_postgres, self.settings.database_url.get_secret_value())
            if self._store is None:
                # Lazy: the journal is not needed to answer `initialize`.
                from flora_mcp.store import MEMORY, SqliteStore, StoreError, default_journal_path, in_thread

                journal = self.settings.journal
                path = (
                    MEMORY if journal == "off" else default_journal_path() if journal == "auto" else journal
                )
                try:
                    self._store = await in_thread(SqliteStore.open, path)
                except (StoreError, OSError) as exc:
                    logger.warning("Run journal at %s unusable, keeping runs in memory only: %s", path, exc)
                    self._store = await in_thread(SqliteStore.open, MEMORY)
            return self._store

    async def _start_sandbox(self) -> None:
        ready, wanted = self._sandbox_ready, self._sandbox_wanted
        assert ready is not None and wanted is not None
        try:
            await wanted.wait()
            # Lazy: the sandbox's server stack (uvicorn, Pillow) is only for runs without a key.
            from flora_mcp.sandbox import start_sandbox

            with anyio.CancelScope(shield=True):  # a start under way finishes, so `_close` can stop it
                sandbox = await anyio.to_thread.run_sync(
                    lambda: start_sandbox(speed=self.settings.sandbox_speed)
                )
            self._sandbox = sandbox
            logger.warning("The embedded FLORA sandbox serves at %s", sandbox.base_url)
        except Exception:
            logger.exception("The embedded FLORA sandbox failed to start")
        finally:
            ready.set()  # also when cancelled: nobody waits for a sandbox that will not come

    async def _close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await anyio.to_thread.run_sync(sandbox.stop)
        self._sandbox_ready = self._sandbox_wanted = None
        self.accounts.clear()
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
