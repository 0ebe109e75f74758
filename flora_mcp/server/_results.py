"""What each tool declares as its output schema, and how results are built.

Results carry the API's objects whole, under the API's field names. The declared schemas
name the few fields an agent acts on (ids, status, outputs) and leave the rest open (extra
keys allowed): every host reads the whole tool list into the model's context on each turn,
and names, types and the full shapes are in the data itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, ConfigDict

from flora_mcp.client import RunStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class WorkspaceView(_Open):
    workspace_id: str


class WorkspaceList(_Open):
    workspaces: list[WorkspaceView]


class ProjectView(_Open):
    project_id: str


class ProjectList(_Open):
    projects: list[ProjectView]
    next_cursor: str | None


class ModelView(_Open):
    model_id: str
    estimated_seconds: int
    params: list[dict[str, Any]]  # name, type, required, options…: read from the data


class ModelList(_Open):
    models: list[ModelView]


class Started(_Open):
    run_id: str
    estimated_seconds: int | None


class OutputView(_Open):
    type: str  # imageUrl, videoUrl, audioUrl, text or documentUrl: the summary text names it too
    url: str


class RunView(_Open):
    run_id: str
    status: RunStatus
    progress: float
    outputs: list[OutputView]


class RunBrief(_Open):
    run_id: str
    status: str  # pending, running, completed or failed; the enum is declared once, in RunView


class GenerationList(_Open):
    generations: list[dict[str, Any]]  # whole generations: run_id, status, outputs, …
    next_cursor: str | None


class Generated(_Open):
    # Also carries workspace_id, type, prompt and params (a gallery's captions), each run whole.
    project_id: str
    model: str
    runs: list[RunBrief]


def structured(data: dict[str, Any], content: Sequence[ContentBlock] | None = None) -> CallToolResult:
    """Structured content, and the same as JSON text (after any other content): the spec asks for it,
    hosts that read only text need it, and views whose host strips structured content fall back on it."""
    as_text = TextContent(type="text", text=json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return CallToolResult(content=[*(content or []), as_text], structured_content=data)


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def dump_all(key: str, items: Sequence[BaseModel], **extra: Any) -> dict[str, Any]:
    return {key: [dump(item) for item in items], **extra}
