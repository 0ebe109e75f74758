"""FLORA's JSON shapes, written from the contract (`flora-api/openapi.yaml`).

Fields the contract requires are required here (nullable where it says `null` is allowed); the
rest default to None. FLORA grows (BEHAVIOUR.md: "Enums grow"), so what it sends is read forward-
compatibly: an enum is its known values `| str` (a new run status or output type is kept as sent,
not refused), extra keys are ignored, an optional field that no longer parses is dropped, and one
unreadable item of a list is dropped instead of the whole page; each drop is logged as a warning.
A run-start answer needs only its `run_id`. Descriptions are left out on purpose: these models
become MCP output schemas, and the tool list has a size budget.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

__all__ = [
    "Action",
    "ActionInput",
    "ActionMediaType",
    "ActionParam",
    "ActionParamValue",
    "ActionRef",
    "ActionSlot",
    "Asset",
    "AssetStatus",
    "AssetUpload",
    "Canvas",
    "CanvasGraph",
    "CanvasNodeParams",
    "CanvasPatched",
    "CanvasSummary",
    "ChangesetApplied",
    "Generation",
    "GenerationRequest",
    "GenerationType",
    "GraphEdge",
    "GraphNode",
    "Model",
    "ModelParam",
    "ModelRef",
    "NodeRun",
    "NodeRuns",
    "OutputType",
    "Page",
    "ParamOption",
    "Position",
    "Project",
    "Run",
    "RunOutput",
    "RunStarted",
    "RunStatus",
    "RunType",
    "SignedUpload",
    "Technique",
    "TechniqueRef",
    "TechniqueSlot",
    "Workspace",
]

logger = logging.getLogger(__name__)

# The values the contract knows. Response fields type them as `X | str`: a value FLORA adds later
# is kept as sent. Request fields use them as they are: we send only values the API documents.
GenerationType = Literal["image", "video", "audio", "text"]
RunStatus = Literal["pending", "running", "completed", "failed"]
RunType = Literal["generation", "technique", "action"]
OutputType = Literal["imageUrl", "videoUrl", "audioUrl", "text", "documentUrl"]
AssetStatus = Literal["pending_upload", "ready", "failed"]
ActionMediaType = Literal["image", "video", "audio", "text"]

T = TypeVar("T")


class _Response(BaseModel):
    """Base of every shape the API sends. Validators are built on first use, so importing the client
    costs start-up almost nothing."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _skip_what_cannot_be_read(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Validate; on failure, drop the unreadable list items and optional fields and validate once
        more. A required field that is missing or unreadable still fails: then the object is not
        what the contract promises, and guessing would hide it."""
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise
            cleaned = _without_unreadable(cls, data, exc)
            if cleaned is None:
                raise
            return handler(cleaned)


def _without_unreadable(
    model: type[BaseModel], data: dict[str, Any], exc: ValidationError
) -> dict[str, Any] | None:
    """`data` without what `exc` found unreadable, or None when a required field is at fault."""
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    items: defaultdict[str, set[int]] = defaultdict(set)
    fields: set[str] = set()
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        if not loc or not isinstance(loc[0], str):
            return None
        name = loc[0]
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data.get(name), list):
            items[name].add(loc[1])
        elif name in required:
            return None
        else:
            fields.add(name)
    cleaned = {k: v for k, v in data.items() if k not in fields}
    for name, bad in items.items():
        cleaned[name] = [item for i, item in enumerate(data[name]) if i not in bad]
    logger.warning(
        "FLORA sent a %s that this client cannot fully read; ignoring %s",
        model.__name__,
        ", ".join(
            [f"field {f!r}" for f in sorted(fields)]
            + [f"{len(bad)} item(s) of {name!r}" for name, bad in sorted(items.items())]
        ),
    )
    return cleaned


# Workspaces, projects, models


class Workspace(_Response):
    workspace_id: str
    name: str
    created_at: int | None
    role: str


class Project(_Response):
    project_id: str
    name: str
    workspace_id: str
    origin: str | None
    last_modified: float | None
    created_at: float


class ParamOption(_Response):
    label: str
    value: str
    description: str | None = None


class ModelParam(_Response):
    name: str
    # The contract lists string, string[], bool, int, int?, seed, float, dict. Kept a plain str:
    # callers treat an unknown type as "let the API judge the value".
    type: str
    required: bool
    default: Any = None
    min: float | None = None
    max: float | None = None
    label: str | None = None
    description: str | None = None
    options: list[ParamOption] | None = None
    properties: dict[str, Any] | None = None


class Model(_Response):
    model_id: str
    name: str
    type: GenerationType | str
    provider: str
    capabilities: list[str]
    estimated_credits: int
    estimated_seconds: int
    params: list[ModelParam]
    beta: bool | None = None


# Generations and runs


class GenerationRequest(BaseModel):
    """Body of `POST /generate`. Sent without None fields: the API refuses extra keys and nulls."""

    model_config = ConfigDict(extra="forbid")

    type: GenerationType
    prompt: str
    workspace_id: str
    project_id: str
    model: str | None = None
    params: dict[str, Any] | None = None


class ModelRef(_Response):
    model_id: str | None


class TechniqueRef(_Response):
    technique_id: str
    name: str | None = None


class ActionRef(_Response):
    action_id: str


class RunStarted(_Response):
    """The answer to a run start (`POST /generate`, `/runs/action`, `/runs/technique`).

    Only `run_id` is required: the run exists and is billed once FLORA answers, so nothing else in
    the answer may make it unreadable. Its `charged_cost` is a quote, not the bill: read it as
    `quoted_cost`; the settled cost is the run's own `Run.charged_cost`, some time after completion.
    """

    run_id: str = Field(min_length=1)
    type: RunType | str | None = None
    estimated_seconds: int | None = None
    charged_cost: float | None = None
    model: ModelRef | None = None
    technique: TechniqueRef | None = None
    action: ActionRef | None = None
    poll_url: str | None = None
    project_id: str | None = None

    @property
    def quoted_cost(self) -> float | None:
        """FLORA's quote for this run in USD (measured: 0.253 quoted, 0.873 charged); None if absent."""
        return self.charged_cost


class RunOutput(_Response):
    output_id: str
    type: OutputType | str
    url: str  # not a URL type: FLORA's SDK says "URL or text content" (text outputs)


class Run(_Response):
    """A run's state (`GET /runs/{id}`, technique runs too). `charged_cost` is the bill in USD, and
    None until FLORA has settled it, which is some time after completion: never read None as 0."""

    run_id: str
    status: RunStatus | str
    progress: float
    created_at: float
    started_at: float | None = None
    completed_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    charged_cost: float | None = None
    outputs: list[RunOutput] = Field(default_factory=list)
    poll_url: str | None = None


class Generation(_Response):
    generation_id: str
    run_id: str
    workspace_id: str
    project_id: str
    status: RunStatus | str
    progress: float
    created_at: float
    started_at: float | None = None
    completed_at: float | None = None
    charged_cost: float | None = None  # None until settled, as in `Run`
    error_code: str | None = None
    error_message: str | None = None
    model: ModelRef | None = None
    outputs: list[RunOutput] = Field(default_factory=list)
    poll_url: str | None = None


# Assets


class Asset(_Response):
    """An asset as `GET /assets/{id}` and `GET /assets` describe it. `url` is what to pass to a run as
    a reference once `status` is "ready". `created_at` is epoch ms in lists, ISO 8601 in single reads."""

    asset_id: str | None  # the contract allows null in lists
    name: str | None
    description: str | None
    workspace_id: str | None
    url: str | None
    content_type: str
    upload_content_type: str | None
    uploaded_via: str
    status: AssetStatus | str
    width: int | None
    height: int | None
    size_bytes: int | None
    created_at: float | str | None
    failure_message: str | None = None
    node_id: str | None = None
    project_id: str | None = None


class SignedUpload(_Response):
    """Where to send a file's bytes: a form POST with `form_fields` first, then the file as `file_field`."""

    url: str
    method: str = "POST"
    content_type: str = "multipart/form-data"
    file_field: str = "file"
    form_fields: dict[str, str] = Field(default_factory=dict)


class AssetUpload(_Response):
    """The answer of `POST /assets`, `/assets/{id}/complete` and `/assets/{id}/retry`. A signed upload
    reservation carries `upload` (or, from older servers, only `upload_url`, which takes a raw PUT)."""

    asset_id: str
    status: AssetStatus | str
    url: str | None
    workspace_id: str | None
    uploaded_via: str | None = None
    visibility: str | None = None
    upload: SignedUpload | None = None
    upload_url: str | None = None
    expires_at: str | None = None
    failure_message: str | None = None


# Techniques


class TechniqueSlot(_Response):
    """One input or output of a technique; an input's `id` is its key in `run_technique`'s inputs."""

    id: str
    name: str
    type: OutputType | str
    description: str | None = None
    specified_aspect_ratio: str | None = None
    specified_duration: float | None = None
    allow_multiple: bool | None = None  # several values may be given: one run per value
    accepts_element: bool | None = None  # an element id may fill it
    optional: bool | None = None  # may be left out (None: the definition does not say)


class Technique(_Response):
    technique_id: str
    name: str
    description: str | None = None
    run_cost: float  # USD per run, as listed
    inputs: list[TechniqueSlot]
    outputs: list[TechniqueSlot]


# Actions


class ActionSlot(_Response):
    name: str
    type: ActionMediaType | str
    dynamic: bool | None = None


class ActionParamValue(_Response):
    value: str
    label: str
    description: str | None = None


class ActionParam(_Response):
    key: str
    type: str
    label: str | None = None
    info_tooltip: str | None = None
    default_value: Any = None
    available_values: list[ActionParamValue] | None = None
    min_number_value: float | None = None
    max_number_value: float | None = None
    number_step: float | None = None


class Action(_Response):
    action_id: str
    name: str
    description: str
    language: str
    charged_cost: float  # USD per execution, as listed (most actions are free)
    inputs: list[ActionSlot]
    outputs: list[ActionSlot]
    params: list[ActionParam]


class ActionInput(BaseModel):
    """One input of `POST /runs/action`: a media `url` or a `text`, read headless (no canvas edge)."""

    model_config = ConfigDict(extra="forbid")

    type: ActionMediaType
    url: str | None = None
    text: str | None = None
    name: str | None = None


# Canvas


class CanvasSummary(_Response):
    node_count: int
    edge_count: int
    workflow_count: int
    isolated_node_count: int
    group_count: int


class Canvas(_Response):
    """A project's canvas as a Mermaid flowchart, with `canvas_url` to open the project in FLORA."""

    project_id: str
    canvas_url: str
    diagram: str
    summary: CanvasSummary


class CanvasNodeParams(BaseModel):
    """Per-node parameters of a canvas patch, keyed by the Mermaid node id in `patch_canvas`."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    model: str | None = None
    content_url: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    model_parameters: dict[str, Any] | None = None


class CanvasPatched(_Response):
    project_id: str
    canvas_url: str
    diagram: str
    created_node_count: int
    created_edge_count: int
    warnings: list[str] = Field(default_factory=list)


class Position(_Response):
    x: float
    y: float


class GraphNode(_Response):
    """One node of a canvas graph. `id` is its short id (`n3`), stable across reads; `node_id` its UUID;
    `status` (idle, generating, done, error, or None for nodes without a lifecycle) as FLORA derives it."""

    id: str
    node_id: str
    type: str
    label: str
    prompt: str | None
    model: str | None
    model_id: str | None
    params: dict[str, Any] | None
    action: dict[str, Any] | None
    position: Position
    status: str | None
    output_url: str | None
    output_text: str | None
    error_code: str | None = None
    error_message: str | None = None


class GraphEdge(_Response):
    from_: str = Field(alias="from")
    to: str
    in_: str | None = Field(alias="in")


class CanvasGraph(_Response):
    """A project's canvas as data (`GET /workspaces/{ws}/projects/{id}/graph`). `revision` is opaque:
    compare it for equality only."""

    project_id: str
    canvas_url: str
    revision: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class ChangesetApplied(_Response):
    """What one atomic changeset did; `created` maps each add's `ref` to its node's ids."""

    project_id: str
    canvas_url: str
    revision: str
    applied: dict[str, int]
    created: dict[str, dict[str, str]]
    warnings: list[str] = Field(default_factory=list)


class NodeRun(_Response):
    """One entry of `POST …/nodes/run`: `started` with a `run_id` (its `charged_cost` is an estimate at
    default params), or `skipped` with FLORA's `reason` and `message`."""

    node_id: str
    status: Literal["started", "skipped"] | str
    run_id: str | None = None
    type: str | None = None
    poll_url: str | None = None
    model: ModelRef | None = None
    charged_cost: float | None = None
    estimated_seconds: float | None = None
    reason: str | None = None
    message: str | None = None


class NodeRuns(_Response):
    project_id: str
    runs: list[NodeRun]


class Page(BaseModel, Generic[T]):
    """One page of a cursor-paginated list; pass `next_cursor` back as `cursor` (None: last page)."""

    items: list[T]
    next_cursor: str | None
    total_estimate: int | None = None


# Wire envelopes: how the API wraps the shapes above. Private; the client unwraps them.


class _Meta(_Response):
    next_cursor: str | None
    total_estimate: int | None = None


class _Workspaces(_Response):
    workspaces: list[Workspace]


class _Models(_Response):
    models: list[Model]


class _Projects(_Response):
    projects: list[Project]
    meta: _Meta


class _Generations(_Response):
    generations: list[Generation]
    meta: _Meta


class _Assets(_Response):
    assets: list[Asset]
    meta: _Meta


class _Techniques(_Response):
    techniques: list[Technique]
    meta: _Meta


class _Actions(_Response):
    actions: list[Action]
