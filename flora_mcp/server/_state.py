"""What the server holds for its lifetime: settings, one HTTP pool, the sandbox, and an account
(API client and caches) per FLORA key."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx2
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.settings import Settings

if TYPE_CHECKING:
    from flora_mcp.sandbox import RunningSandbox
    from flora_mcp.server._account import Account

logger = logging.getLogger(__name__)

SANDBOX_KEY = "sandbox-local"  # the sandbox accepts any non-empty key; this one is not a secret
MAX_ACCOUNTS = 1024


class AppState:
    """Shared by every tool call. The sandbox, when used, starts in a thread alongside `initialize`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: httpx2.AsyncClient | None = None
        self._sandbox: Future[RunningSandbox] | None = None
        # Keyed by a digest, so no key is held as a dict key; bounded for a many-user HTTP server.
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        if settings.uses_sandbox:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flora-sandbox")
            self._sandbox = executor.submit(_start_sandbox, settings.sandbox_speed)
            executor.shutdown(wait=False)

    @property
    def http(self) -> httpx2.AsyncClient:
        """One pool for the server's life, made on first use: building its TLS context costs
        tens of milliseconds that `initialize` should not wait for."""
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=self.settings.timeout)
        return self._http

    async def account(self, caller_key: str | None = None) -> Account:
        """The account for a caller's own FLORA key (HTTP transports), else the server's."""
        key: str | None
        if self._sandbox is not None:
            base_url, key = (await asyncio.wrap_future(self._sandbox)).base_url, caller_key or SANDBOX_KEY
        else:
            base_url = self.settings.base_url
            key = caller_key or (self.settings.api_key.get_secret_value() if self.settings.api_key else None)
        if not key:
            raise ToolError("No FLORA API key: send yours as 'Authorization: Bearer <key>'.")
        digest = hashlib.sha256(key.encode()).hexdigest()
        account = self._accounts.get(digest)
        if account is None:
            # Lazy: the client and its models are not needed until the first tool call.
            from flora_mcp.client import FloraClient
            from flora_mcp.server._account import Account, ModelCache

            client = FloraClient(
                api_key=key,
                base_url=base_url,
                http=self.http,
                timeout=self.settings.timeout,
                max_attempts=self.settings.max_attempts,
                retry_budget=self.settings.retry_budget,
            )
            account = self._accounts[digest] = Account(client, ModelCache(client))
            if len(self._accounts) > MAX_ACCOUNTS:
                self._accounts.popitem(last=False)
        self._accounts.move_to_end(digest)
        return account

    async def loopback_origin(self) -> str | None:
        """The one origin whose plain-http outputs are fetched: a sandbox on this machine."""
        if self._sandbox is not None:
            return (await asyncio.wrap_future(self._sandbox)).origin
        url = httpx2.URL(self.settings.base_url)
        if url.scheme == "http" and url.host in ("127.0.0.1", "localhost", "::1"):
            from flora_mcp.downloads import origin_of  # lazy: not needed to start

            return origin_of(url)
        return None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._sandbox is not None:
            sandbox = await asyncio.wrap_future(self._sandbox)
            await asyncio.to_thread(sandbox.stop)


def _start_sandbox(speed: float) -> RunningSandbox:
    from flora_mcp.sandbox import start_sandbox

    sandbox = start_sandbox(speed=speed)
    logger.warning("No FLORA_API_KEY set: using the embedded FLORA sandbox at %s", sandbox.base_url)
    return sandbox


@asynccontextmanager
async def app_state(settings: Settings) -> AsyncIterator[AppState]:
    state = AppState(settings)
    try:
        yield state
    finally:
        await state.aclose()
