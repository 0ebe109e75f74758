"""In-memory state: a workspace per key, projects, runs (status derived from time), idempotency, requests."""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from flora_mcp.sandbox._catalogue import SEED_MAX, Model
from flora_mcp.sandbox._faults import FaultRule, FaultSet

if TYPE_CHECKING:  # these modules import this one; only their types are needed here
    from flora_mcp.sandbox._assets import Asset
    from flora_mcp.sandbox._canvas import Canvas
    from flora_mcp.sandbox._jobs import Job

FAIL_MARKER = "[sandbox:fail]"
IDEMPOTENCY_TTL_SECONDS = 2 * 60 * 60  # the contract: duplicates are detected within two hours
# A run really takes its estimate times a factor drawn log-uniformly from this range: FLORA's estimates
# are loose both ways (measured: 80 s quoted, 25 s real; and runs far longer than quoted).
DURATION_FACTORS = (0.3, 3.0)
SETTLE_SECONDS = 0.5  # the run's own charged_cost appears this long after it ends, as FLORA's settles late
GENERIC_FAILURE = "GENERATION_GENERIC_ERROR"
_PENDING_SHARE = 0.1  # the first tenth of a run is queued
_FAIL_AT_SHARE = 0.6  # a run that fails does so part-way through

OUTPUT_KINDS = {"image": ("imageUrl", "png"), "video": ("videoUrl", "gif"), "audio": ("audioUrl", "wav")}
OUTPUT_KINDS["text"] = ("text", "txt")

# "conflict" (FLORA's measured behaviour, the default): a repeated key within two hours is refused with
# 409 idempotency_duplicate and no replay; "replay": the same key and body get the first answer again.
# Either way a request that failed releases its key.
IdempotencyMode = Literal["replay", "conflict"]
Failure = tuple[str, str]  # (error_code, error_message) of a run that will fail


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
    request_id: str = ""  # the answer's request-id header


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
    folder_id: str | None = None  # the project folder it was filed in, if any

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
    resolved_params: dict[str, Any]  # the model's defaults, the usable values sent, and the seed used
    created: float  # epoch seconds
    estimate: float  # seconds, as quoted in the start answer
    duration: float  # seconds from created to the end: the estimate times a random factor
    seq: int
    quote_usd: float = 0.0  # the start answer's charged_cost: a quote
    cost_usd: float = 0.0  # what the run settles at, success or failure (FLORA bills both)
    settle_seconds: float = SETTLE_SECONDS
    failure: Failure | None = None  # decided at the start: it fails part-way with this code and message
    sources: tuple[str, ...] = ()  # the reference URLs it reads, all fetchable when it started
    alternate_media: bool = False  # its output is served from the sandbox's second media origin

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def fails(self) -> bool:
        return self.failure is not None

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

    @property
    def ends(self) -> float:
        return self.created + self.duration * (_FAIL_AT_SHARE if self.fails else 1.0)

    def progress_at(self, now: float) -> Progress:
        """pending → running → completed (or failed part-way); progress is 0 until the end, then 100.

        FLORA's generation runs often report no progress while running, and a failed run reports 100.
        """
        started = min(self.created + self.duration * _PENDING_SHARE, self.ends)
        if now >= self.ends:
            return Progress("failed" if self.fails else "completed", 100, ms(started), ms(self.ends))
        if now < started:
            return Progress("pending", 0, None, None)
        return Progress("running", 0, ms(started), None)

    def cost_at(self, now: float) -> float | None:
        """The settled cost in USD, or None until a little after the run ended."""
        return self.cost_usd if now >= self.ends + self.settle_seconds else None


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
        idempotency: IdempotencyMode = "conflict",
        duration_factors: tuple[float, float] = DURATION_FACTORS,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self.speed = speed
        self.duration_factors = duration_factors  # (1, 1): every run takes exactly its estimate
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.rng = random.Random(seed)
        self.faults = FaultSet(faults, seed=seed)
        self.idempotency: IdempotencyMode = idempotency
        self.requests: list[RecordedRequest] = []
        self.runs: dict[str, Run] = {}
        self.projects: dict[str, Project] = {}
        self.workspaces: dict[str, Workspace] = {}  # by workspace_id
        self.media: dict[str, tuple[bytes, str]] = {}  # "run_id/file" -> (bytes, content type)
        # Where uploads are served from: as FLORA's (new uploads on storage whose host it does not
        # name), not one of the output origins (set by the runner; None: the API's own origin).
        self.storage_origin: str | None = None
        self.assets: dict[str, Asset] = {}  # by asset_id
        self.jobs: dict[str, Job] = {}  # technique and action runs, by run_id
        self.job_keys: dict[tuple[str, str], str] = {}  # (workspace_id, body idempotency_key) -> run_id
        self.canvases: dict[str, Canvas] = {}  # by project_id
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
        *,
        sources: tuple[str, ...] = (),
        failure: Failure | None = None,
    ) -> Run:
        if "seed" not in resolved:
            # No usable seed given (or none taken): a new picture each run, as with the real API.
            resolved = resolved | {"seed": self.rng.randint(0, SEED_MAX)}
        if failure is None and FAIL_MARKER in prompt:
            failure = (
                "GPU_PROVIDER_ERROR",
                "The provider failed to complete the generation (the prompt asked).",
            )
        now = self.clock()
        estimate = max(0.0, model.estimated_seconds * self.speed)
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
            estimate=estimate,
            duration=estimate * self._duration_factor(),
            seq=self._next_seq(),
            quote_usd=self._quote(model.price_usd),
            cost_usd=model.price_usd,
            settle_seconds=self.settle_seconds,
            failure=failure,
            sources=sources,
            alternate_media=len(self.runs) % 2 == 1,  # every other run: clients meet two media origins
        )
        self.runs[run.run_id] = run
        project.last_modified, project.seq = ms(now), self._next_seq()
        return run

    def _duration_factor(self) -> float:
        low, high = self.duration_factors
        return low if low >= high else math.exp(self.rng.uniform(math.log(low), math.log(high)))

    def _quote(self, cost: float) -> float:
        """The start answer's figure: mostly under the bill (measured: 0.253 quoted, 0.873 billed)."""
        factor = self.rng.uniform(0.25, 0.9) if self.rng.random() < 0.75 else self.rng.uniform(1.1, 1.6)
        return round(cost * factor, 4)

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
