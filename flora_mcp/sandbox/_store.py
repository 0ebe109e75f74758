"""In-memory state: a workspace per key, projects, runs (status derived from time), idempotency, requests."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from flora_mcp.sandbox._catalogue import SEED_MAX, Model
from flora_mcp.sandbox._faults import FaultRule, FaultSet

FAIL_MARKER = "[sandbox:fail]"
IDEMPOTENCY_TTL_SECONDS = 2 * 60 * 60  # the contract: duplicates are detected within two hours
_PENDING_SHARE = 0.1  # the first tenth of a run is queued
_FAIL_AT_SHARE = 0.6  # a run asked to fail does so part-way through

OUTPUT_KINDS = {"image": ("imageUrl", "png"), "video": ("videoUrl", "gif"), "audio": ("audioUrl", "wav")}
OUTPUT_KINDS["text"] = ("text", "txt")

# "replay": the same key and body get the first answer again; "conflict": a repeated key is always
# refused with 409 idempotency_duplicate, as the contract allows within two hours.
IdempotencyMode = Literal["replay", "conflict"]


def ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    api_key: str | None = field(repr=False)  # the bearer value as received
    idempotency_key: str | None
    status: int
    dropped: bool = False  # processed, but the connection was closed before this answer was sent


@dataclass(frozen=True)
class Workspace:
    workspace_id: str
    name: str
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "name": self.name,
            "created_at": self.created_at,
            "role": "owner",
        }


@dataclass
class Project:
    project_id: str
    workspace_id: str
    name: str
    created_at: int
    last_modified: int
    seq: int  # breaks ties between projects touched in the same millisecond

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "name": self.name,
            "workspace_id": self.workspace_id,
            "origin": "api",
            "last_modified": self.last_modified,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Progress:
    status: str
    progress: int
    started_at: int | None
    ended_at: int | None


@dataclass(frozen=True)
class Run:
    run_id: str
    api_key: str = field(repr=False)
    workspace_id: str
    project_id: str
    type: str
    model: Model = field(repr=False)
    prompt: str
    params: dict[str, Any]  # as sent
    resolved_params: dict[str, Any]  # with the model's defaults and the seed used
    created: float  # epoch seconds
    duration: float  # seconds from created to the end
    seq: int

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def fails(self) -> bool:
        return FAIL_MARKER in self.prompt

    @property
    def output_type(self) -> str:
        return OUTPUT_KINDS[self.type][0]

    @property
    def output_id(self) -> str:
        return "output_1"  # one output per run

    @property
    def output_file(self) -> str:
        ext = OUTPUT_KINDS[self.type][1]
        if self.type == "image" and self.resolved_params.get("output_format") == "jpeg":
            ext = "jpg"
        return f"{self.output_id}.{ext}"

    def progress_at(self, now: float) -> Progress:
        """pending → running (progress rising) → completed, or failed part-way when the prompt asks."""
        elapsed = now - self.created
        end = self.duration * (_FAIL_AT_SHARE if self.fails else 1.0)
        started = self.created + self.duration * _PENDING_SHARE
        if elapsed >= end:
            final = 100 if not self.fails else self._percent(end)
            return Progress(
                "failed" if self.fails else "completed", final, ms(started), ms(self.created + end)
            )
        if now < started:
            return Progress("pending", 0, None, None)
        return Progress("running", min(99, self._percent(elapsed)), ms(started), None)

    def _percent(self, elapsed: float) -> int:
        running = self.duration * (1 - _PENDING_SHARE)
        return int(100 * (elapsed - self.duration * _PENDING_SHARE) / running) if running > 0 else 100


@dataclass(frozen=True)
class Replay:
    fingerprint: str
    status: int
    body: Any
    created: float


class SandboxState:
    """Everything the sandbox knows. Mutated only on the server's event loop; tests read it from outside."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        faults: Iterable[FaultRule] = (),
        idempotency: IdempotencyMode = "replay",
    ) -> None:
        self.speed = speed
        self.clock = clock
        self.rng = random.Random(seed)
        self.faults = FaultSet(faults, seed=seed)
        self.idempotency: IdempotencyMode = idempotency
        self.requests: list[RecordedRequest] = []
        self.runs: dict[str, Run] = {}
        self.projects: dict[str, Project] = {}
        self.workspaces: dict[str, Workspace] = {}  # by workspace_id
        self.media: dict[str, tuple[bytes, str]] = {}  # "run_id/file" -> (bytes, content type)
        self._replays: dict[tuple[str, str], Replay] = {}
        self._seq = 0

    def runs_started(self) -> int:
        return len(self.runs)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _token(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    # workspaces and projects

    def workspace_for(self, api_key: str) -> Workspace:
        """Each key has its own workspace; its id is a hash of the key, never the key itself."""
        workspace_id = "ws_" + hashlib.sha256(api_key.encode()).hexdigest()[:12]
        if workspace_id not in self.workspaces:
            self.workspaces[workspace_id] = Workspace(workspace_id, "Sandbox workspace", ms(self.clock()))
        return self.workspaces[workspace_id]

    def create_project(self, workspace_id: str, name: str) -> Project:
        now = ms(self.clock())
        project = Project(f"prj_{self._token()}", workspace_id, name, now, now, self._next_seq())
        self.projects[project.project_id] = project
        return project

    def projects_in(self, workspace_id: str, query: str | None) -> list[Project]:
        """Most recent activity first."""
        found = [
            p
            for p in self.projects.values()
            if p.workspace_id == workspace_id and (not query or query.casefold() in p.name.casefold())
        ]
        return sorted(found, key=lambda p: (p.last_modified, p.seq), reverse=True)

    # runs

    def start_run(
        self,
        api_key: str,
        project: Project,
        model: Model,
        prompt: str,
        params: dict[str, Any],
        resolved: dict[str, Any],
    ) -> Run:
        if "seed" in {p.name for p in model.params} and "seed" not in resolved:
            # No seed given: a new picture each run, as with the real API.
            resolved = resolved | {"seed": self.rng.randint(0, SEED_MAX)}
        now = self.clock()
        run = Run(
            run_id=f"run_{self._token()}",
            api_key=api_key,
            workspace_id=project.workspace_id,
            project_id=project.project_id,
            type=model.type,
            model=model,
            prompt=prompt,
            params=params,
            resolved_params=resolved,
            created=now,
            duration=max(0.0, model.estimated_seconds * self.speed),
            seq=self._next_seq(),
        )
        self.runs[run.run_id] = run
        project.last_modified, project.seq = ms(now), self._next_seq()
        return run

    def runs_in(self, workspace_id: str) -> list[Run]:
        """Newest first."""
        return sorted((r for r in self.runs.values() if r.workspace_id == workspace_id), key=lambda r: -r.seq)

    # idempotency

    def replay(self, scope: str, key: str) -> Replay | None:
        entry = self._replays.get((scope, key))
        if entry is not None and self.clock() - entry.created > IDEMPOTENCY_TTL_SECONDS:
            del self._replays[(scope, key)]
            return None
        return entry

    def remember(self, scope: str, key: str, fingerprint: str, status: int, body: Any) -> None:
        self._replays[(scope, key)] = Replay(fingerprint, status, body, self.clock())

    # faults injected by tests

    def inject_fault(self, status: int = 503, *, retry_after: float | None = None, times: int = 1) -> None:
        """Answer the next `times` API requests with `status` (and a Retry-After header when given).

        Shorthand for `faults.add(FaultRule(status=..., retry_after=..., times=...))`.
        """
        self.faults.add(FaultRule(status=status, retry_after=retry_after, times=times))
