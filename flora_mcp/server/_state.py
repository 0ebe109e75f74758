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
    from flora_mcp.journal import RunJournal
    from flora_mcp.sandbox import RunningSandbox
    from flora_mcp.server._account import Account

logger = logging.getLogger(__name__)

# Agents ask for a finished run more than once (status after generate, a second look): its
# outputs do not change, so the last few renderings are kept rather than fetched and re-encoded.
RECENT_IMAGES = 32  # at most ~600 KB each


class AppState:
    """Shared by every tool call and session. No I/O until `running()` or first use; imports
    nothing of the client, which `initialize` does not need."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.recent_images: OrderedDict[tuple[str, int, int], ImageContent] = OrderedDict()
        self._http: httpx2.AsyncClient | None = None
        self._sandbox: RunningSandbox | None = None
        self._sandbox_ready: anyio.Event | None = None
        self._sandbox_wanted: anyio.Event | None = None
        # Per FLORA key (see `_context.account`), by digest so no key is held as a dict key.
        self.accounts: OrderedDict[str, Account] = OrderedDict()
        self._users = 0
        self._journal: RunJournal | None = None
        self._journal_lock: anyio.Lock | None = None

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

    async def journal(self) -> RunJournal | None:
        """The local run journal, opened on first use; None when off or unusable (said once in the log)."""
        if self.settings.journal == "off":
            return None
        if self._journal_lock is None:
            self._journal_lock = anyio.Lock()
        async with self._journal_lock:
            if self._journal is None:
                # Lazy: sqlite3 and the journal are not needed to answer `initialize`.
                from flora_mcp.journal import JournalError, RunJournal, default_journal_path, in_thread

                path = default_journal_path() if self.settings.journal == "auto" else self.settings.journal
                try:
                    self._journal = await in_thread(RunJournal.open, path)
                except (JournalError, OSError) as exc:
                    logger.warning("Run journal at %s unusable, going on without it: %s", path, exc)
                    self.settings = self.settings.model_copy(update={"journal": "off"})
            return self._journal

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
        if self._journal is not None:
            journal, self._journal = self._journal, None
            journal.close()
