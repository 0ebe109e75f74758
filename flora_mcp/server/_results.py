"""What each tool declares as its output schema, and how results are built.

Results carry the API's objects whole, under the API's field names. The declared schemas
name the fields an agent acts on and leave the rest open (extra keys allowed): every host
reads the whole tool list into the model's context on each turn, and the full shapes would
double its size for no decision an agent makes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, ConfigDict

from flora_mcp.client import GenerationType, OutputType, RunStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class WorkspaceView(_Open):
    workspace_id: str
    name: str


class WorkspaceList(_Open):
    workspaces: list[WorkspaceView]


class ProjectView(_Open):
    project_id: str
    name: str
    workspace_id: str


class ProjectList(_Open):
    projects: list[ProjectView]
    next_cursor: str | None


class ParamView(_Open):
    name: str
    type: str
    required: bool


class ModelView(_Open):
    model_id: str
    type: GenerationType
    estimated_seconds: int
    params: list[ParamView]


class ModelList(_Open):
    models: list[ModelView]


class Started(_Open):
    run_id: str
    estimated_seconds: int | None


class OutputView(_Open):
    output_id: str
    type: OutputType
    url: str


class RunView(_Open):
    run_id: str
    status: RunStatus
    progress: float
    outputs: list[OutputView]


class GenerationList(_Open):
    generations: list[RunView]
    next_cursor: str | None


def structured(data: dict[str, Any], content: Sequence[ContentBlock] | None = None) -> CallToolResult:
    """Structured content, and the same as JSON text for hosts that read only text."""
    if content is None:
        content = [TextContent(type="text", text=json.dumps(data, ensure_ascii=False))]
    return CallToolResult(content=list(content), structured_content=data)


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def dump_all(key: str, items: Sequence[BaseModel], **extra: Any) -> dict[str, Any]:
    return {key: [dump(item) for item in items], **extra}
