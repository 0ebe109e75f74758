"""FLORA's JSON shapes, written from the contract (`flora-api/openapi.yaml`).

Fields the contract requires are required here (nullable where it says `null` is allowed); the
rest default to None. Unknown extra fields from the API are ignored, so a newer API does not
break an older client. Descriptions are left out on purpose: these models become MCP output
schemas, and the tool list has a size budget.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Generation",
    "GenerationRequest",
    "GenerationType",
    "Model",
    "ModelParam",
    "ModelRef",
    "OutputType",
    "Page",
    "ParamOption",
    "Project",
    "Run",
    "RunOutput",
    "RunStarted",
    "RunStatus",
    "Workspace",
]

GenerationType = Literal["image", "video", "audio", "text"]
RunStatus = Literal["pending", "running", "completed", "failed"]
OutputType = Literal["imageUrl", "videoUrl", "audioUrl", "text", "documentUrl"]

T = TypeVar("T")


class _Response(BaseModel):
    """Base of every shape the API sends: extra keys are ignored for forward compatibility.
    Validators are built on first use, so importing the client costs start-up almost nothing."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


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
    # a parameter type added by FLORA later must not make the whole model catalogue unreadable;
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
    type: GenerationType
    provider: str
    capabilities: list[str]
    estimated_credits: int
    estimated_seconds: int
    params: list[ModelParam]
    beta: bool | None = None


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


class RunStarted(_Response):
    run_id: str
    type: Literal["generation", "technique", "action"]
    estimated_seconds: int | None
    charged_cost: float
    model: ModelRef | None = None
    poll_url: str | None = None
    project_id: str | None = None


class RunOutput(_Response):
    output_id: str
    type: OutputType
    url: str  # not a URL type: FLORA's SDK says "URL or text content" (text outputs)


class Run(_Response):
    run_id: str
    status: RunStatus
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
    status: RunStatus
    progress: float
    created_at: float
    started_at: float | None = None
    completed_at: float | None = None
    charged_cost: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    model: ModelRef | None = None
    outputs: list[RunOutput] = Field(default_factory=list)
    poll_url: str | None = None


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
