"""JSON shapes of runs as the contract gives them: the start answer, `GET /runs/{id}`, a generations item."""

from __future__ import annotations

import math
from typing import Any

from flora_mcp.sandbox._store import Progress, Run, ms

API_PREFIX = "/api/v1"


def poll_url(run: Run, origin: str) -> str:
    return f"{origin}{API_PREFIX}/runs/{run.run_id}"


def media_url(run: Run, origin: str) -> str:
    return f"{origin}/media/{run.run_id}/{run.output_file}"


def run_started(run: Run, origin: str) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "type": "generation",
        "estimated_seconds": math.ceil(run.duration),
        "charged_cost": run.model.price_usd,
        "model": {"model_id": run.model_id},
        "poll_url": poll_url(run, origin),
        "project_id": run.project_id,
    }


def _progress_fields(run: Run, progress: Progress, origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": progress.status,
        "progress": progress.progress,
        "created_at": ms(run.created),
    }
    if progress.started_at is not None:
        out["started_at"] = progress.started_at
    if progress.ended_at is not None:
        out["completed_at"] = progress.ended_at
    if progress.status == "completed":
        out["charged_cost"] = run.model.price_usd
        out["outputs"] = [
            {"output_id": run.output_id, "type": run.output_type, "url": media_url(run, origin)}
        ]
    elif progress.status == "failed":
        out["charged_cost"] = 0  # a failed run is not billed
        out["error_code"] = "provider_error"
        out["error_message"] = (
            "The provider failed to complete the generation (the prompt asked the sandbox to fail)."
        )
    return out


def run_status(run: Run, now: float, origin: str) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        **_progress_fields(run, run.progress_at(now), origin),
        "poll_url": poll_url(run, origin),
    }


def generation_item(run: Run, progress: Progress, origin: str) -> dict[str, Any]:
    return {
        "generation_id": run.run_id,
        "run_id": run.run_id,
        "workspace_id": run.workspace_id,
        "project_id": run.project_id,
        **_progress_fields(run, progress, origin),
        "model": {"model_id": run.model_id},
        "poll_url": poll_url(run, origin),
    }
