"""JSON shapes of runs as the contract gives them: the start answer, `GET /runs/{id}`, a generations item."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from flora_mcp.sandbox._store import Progress, Run, ms

API_PREFIX = "/api/v1"


def poll_url(run: Run, origin: str) -> str:
    return f"{origin}{API_PREFIX}/runs/{run.run_id}"


def alternate_origin(origin: str) -> str:
    """The same loopback server under its other name (127.0.0.1 <-> localhost); else the origin itself.

    FLORA serves outputs from more than one host (media.flora.ai, ik.imagekit.io): clients must too.
    """
    parts = urlsplit(origin)
    other = {"127.0.0.1": "localhost", "::1": "localhost", "localhost": "127.0.0.1"}.get(parts.hostname or "")
    if other is None or parts.port is None:
        return origin
    return f"{parts.scheme}://{other}:{parts.port}"


def flora_origins(home: str, storage: str | None) -> tuple[str, ...]:
    """The origins FLORA reads input media from: its output hosts (both names of the origin called)
    and the storage its uploads are served from."""
    return tuple(o for o in (home, alternate_origin(home), storage) if o)


def media_url(run: Run, origin: str) -> str:
    host = alternate_origin(origin) if run.alternate_media else origin
    return f"{host}/media/{run.run_id}/{run.output_file}"


def run_started(run: Run, origin: str) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "type": "generation",
        "estimated_seconds": math.ceil(run.estimate),
        "charged_cost": run.quote_usd,  # a quote: the run's own charged_cost settles later, and differs
        "model": {"model_id": run.model_id},
        "poll_url": poll_url(run, origin),
        "project_id": run.project_id,
    }


def _progress_fields(run: Run, progress: Progress, now: float, origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": progress.status,
        "progress": progress.progress,
        "created_at": ms(run.created),
    }
    if progress.started_at is not None:
        out["started_at"] = progress.started_at
    if progress.ended_at is not None:
        out["completed_at"] = progress.ended_at
    cost = run.cost_at(now)
    if cost is not None:
        out["charged_cost"] = cost  # absent until it settles, a little after the end
    if progress.status == "completed":
        out["outputs"] = [
            {"output_id": run.output_id, "type": run.output_type, "url": media_url(run, origin)}
        ]
    elif progress.status == "failed" and run.failure is not None:
        out["error_code"], out["error_message"] = run.failure
    return out


def run_status(run: Run, now: float, origin: str) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        **_progress_fields(run, run.progress_at(now), now, origin),
        "poll_url": poll_url(run, origin),
    }


def generation_item(run: Run, progress: Progress, now: float, origin: str) -> dict[str, Any]:
    return {
        "generation_id": run.run_id,
        "run_id": run.run_id,
        "workspace_id": run.workspace_id,
        "project_id": run.project_id,
        **_progress_fields(run, progress, now, origin),
        "model": {"model_id": run.model_id},
        "poll_url": poll_url(run, origin),
    }
