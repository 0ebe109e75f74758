"""What tool calls made with one FLORA key share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio

from flora_mcp.client import FloraClient, FloraError, GenerationType, Model
from flora_mcp.server._history import History
from flora_mcp.server.waiting import StartedRuns

MODELS_TTL_SECONDS = 300.0


@dataclass
class ModelCache:
    """`GET /models` per type, kept briefly: validating each generation should not cost a request."""

    client: FloraClient
    ttl: float = MODELS_TTL_SECONDS
    _entries: dict[GenerationType | None, tuple[float, list[Model]]] = field(default_factory=dict)

    async def get(self, type_: GenerationType | None) -> list[Model]:
        now = time.monotonic()
        entry = self._entries.get(type_)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        models = await self.client.list_models(type_)
        self._entries[type_] = (now, models)
        return models


@dataclass
class Account:
    """What tool calls made with one FLORA key share: its client, its model catalogue, the runs
    it started (for waiting), a lock so concurrent calls do not create a project twice, and its page
    of the run store (journal, and what makes its starts exactly-once)."""

    client: FloraClient
    history: History
    models: ModelCache = field(init=False)
    runs: StartedRuns = field(default_factory=StartedRuns)
    project_lock: anyio.Lock = field(default_factory=anyio.Lock)
    _canvas_urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.models = ModelCache(self.client)

    async def canvas_url(self, project_id: str) -> str | None:
        """Where the user opens a project in FLORA; read once per project, None if unreadable
        (a link is a courtesy: it must not fail the result it decorates)."""
        if project_id not in self._canvas_urls:
            try:
                self._canvas_urls[project_id] = (await self.client.get_canvas(project_id)).canvas_url
            except FloraError:
                return None
        return self._canvas_urls[project_id]
