"""Technique and action runs ("jobs"): their outputs are made when they start, and shown as time passes.

A job moves pending → running → completed like a generation run (status derived from the clock), or
fails part-way when its inputs could not be loaded or a text input asks it to. It is followed through
`GET /runs/{id}` (and a technique run through `GET /techniques/{id}/runs/{runId}` too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from flora_mcp.sandbox._assets import OUTPUT_FILES
from flora_mcp.sandbox._store import Progress, ms
from flora_mcp.sandbox._views import API_PREFIX

_PENDING_SHARE = 0.1
_FAIL_AT_SHARE = 0.6
Kind = Literal["technique", "action"]


class WorkFailed(Exception):
    """A technique or an action could not work on its inputs; the message is the run's `error_message`."""


@dataclass(frozen=True)
class Loaded:
    """An input with its content: `content` for media, `text` for text."""

    type: str
    content: bytes | None = None
    text: str | None = None


@dataclass(frozen=True)
class Output:
    output_id: str
    type: str  # imageUrl | videoUrl | audioUrl | text | documentUrl
    file: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Made:
    """One file a technique or an action makes, before it has an id."""

    type: str
    extension: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Job:
    run_id: str
    kind: Kind
    workspace_id: str
    project_id: str | None
    subject_id: str  # the technique_id or the action_id
    subject_name: str
    cost: float  # USD; billed when it completes
    created: float
    duration: float
    inputs: tuple[str, ...]  # the URLs it read, for the canvas's edges
    outputs: tuple[Output, ...]
    failure: tuple[str, str] | None  # (error_code, error_message) when it fails
    seq: int

    def output(self, file: str) -> Output | None:
        return next((o for o in self.outputs if o.file == file), None)

    def progress_at(self, now: float) -> Progress:
        """A failed job reports progress 100 and a completed_at, as FLORA's do."""
        elapsed = now - self.created
        started = self.created + self.duration * _PENDING_SHARE
        end = self.duration * (_FAIL_AT_SHARE if self.failure else 1.0)
        if elapsed >= end:
            status = "failed" if self.failure else "completed"
            return Progress(status, 100, ms(min(started, self.created + end)), ms(self.created + end))
        if now < started:
            return Progress("pending", 0, None, None)
        share = (elapsed - self.duration * _PENDING_SHARE) / (end - self.duration * _PENDING_SHARE)
        return Progress("running", min(99, int(100 * share)), ms(started), None)


def outputs_of(made: list[Made]) -> tuple[Output, ...]:
    return tuple(
        Output(f"output_{i}", m.type, f"output_{i}.{m.extension}", m.content, m.content_type)
        for i, m in enumerate(made, start=1)
    )


def poll_url(job: Job, origin: str) -> str:
    return f"{origin}{API_PREFIX}/runs/{job.run_id}"


def output_url(job: Job, output: Output, origin: str) -> str:
    return f"{origin}{OUTPUT_FILES}/{job.run_id}/{output.file}"


def started_json(job: Job, origin: str) -> dict[str, Any]:
    """The answer of `POST /runs/technique` and `POST /runs/action`."""
    subject: dict[str, Any] = (
        {"technique": {"technique_id": job.subject_id, "name": job.subject_name}}
        if job.kind == "technique"
        else {"action": {"action_id": job.subject_id}}
    )
    return {
        "run_id": job.run_id,
        "type": job.kind,
        "estimated_seconds": math.ceil(job.duration),
        "charged_cost": job.cost,
        **subject,
        "poll_url": poll_url(job, origin),
        "project_id": job.project_id,
    }


def status_json(job: Job, now: float, origin: str) -> dict[str, Any]:
    """`GET /runs/{id}`, `GET /techniques/{id}/runs/{runId}` and the nested start's answer."""
    progress = job.progress_at(now)
    out: dict[str, Any] = {
        "run_id": job.run_id,
        "status": progress.status,
        "progress": progress.progress,
        "created_at": ms(job.created),
    }
    if progress.started_at is not None:
        out["started_at"] = progress.started_at
    if progress.ended_at is not None:
        out["completed_at"] = progress.ended_at
    if progress.status == "completed":
        out["charged_cost"] = job.cost
        out["outputs"] = [
            {"output_id": o.output_id, "type": o.type, "url": output_url(job, o, origin)} for o in job.outputs
        ]
    elif progress.status == "failed" and job.failure is not None:
        out["charged_cost"] = 0
        out["error_code"], out["error_message"] = job.failure
    out["poll_url"] = poll_url(job, origin)
    return out
