"""What each tool declares as its output schema, and how results are built.

Results carry the API's objects whole, under the API's field names. The declared schemas are
views of the client's models (`view`): the few fields an agent acts on (ids, status, outputs),
with their types taken from the client, and the rest left open (extra keys allowed). Not the
whole models: every host reads the whole tool list into the model's context on each turn, and
names, types and the full shapes are in the data itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, ConfigDict, create_model

from flora_mcp.client import Model, Project, Run, RunOutput, RunStarted, Workspace
from flora_mcp.server._consent import Spend


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def view(model: type[BaseModel], *names: str, **more: Any) -> type[BaseModel]:
    """An open model declaring `names` as `model` types them (plus `more` fields of its own)."""
    fields: dict[str, Any] = {name: (model.model_fields[name].annotation, ...) for name in names}
    return create_model(f"{model.__name__}View", __base__=_Open, **fields, **more)


WorkspaceView = view(Workspace, "workspace_id")
ProjectView = view(Project, "project_id")
ModelView = view(Model, "model_id")  # brief rows, or one model whole: see tools/models.py
Started = view(RunStarted, "run_id", "estimated_seconds")
OutputView = view(RunOutput, "type", "url")
RunView = view(Run, "run_id", "status", "progress", outputs=(list[OutputView], ...))  # type: ignore[valid-type]
RunBrief = view(Run, "run_id", "status")


class WorkspaceList(_Open):
    workspaces: list[WorkspaceView]  # type: ignore[valid-type]


class ProjectList(_Open):
    projects: list[ProjectView]  # type: ignore[valid-type]
    next_cursor: str | None


class ModelList(_Open):
    models: list[ModelView]  # type: ignore[valid-type]


class GenerationList(_Open):
    generations: list[dict[str, Any]]  # whole generations: run_id, status, outputs, …
    next_cursor: str | None


class Generated(_Open):
    # Also carries workspace_id, type, prompt and params (a gallery's captions), each run whole.
    project_id: str
    model: str
    runs: list[RunBrief]  # type: ignore[valid-type]


def structured(data: dict[str, Any], content: Sequence[ContentBlock] | None = None) -> CallToolResult:
    """Structured content, and the same as JSON text (after any other content): the spec asks for it,
    hosts that read only text need it, and views whose host strips structured content fall back on it."""
    as_text = TextContent(type="text", text=json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return CallToolResult(content=[*(content or []), as_text], structured_content=data)


# What every start answer says about money: the quote is not the bill, and where the bill appears.
SETTLES_LATER = (
    "quoted_cost_usd is FLORA's quote at the start, not the bill: the bill settles a little after the "
    "run ends (cost_usd in get_generation_status; list_generations with cost_period sums them)."
)


def costs(quoted: float | None, spend: Spend | None) -> dict[str, Any]:
    """What a start answer says about money: FLORA's quote, this server's estimate of the same runs
    (the one the consent used, `_prices`) and its basis, and that the bill settles later."""
    data: dict[str, Any] = {"quoted_cost_usd": quoted}
    if spend is not None:
        data |= {"estimated_cost_usd": spend.total_usd, "estimate_basis": spend.basis()}
    return data | {"cost_note": SETTLES_LATER}


def started_data(
    started: RunStarted, chosen: str | None, note: str | None = None, *, spend: Spend | None = None
) -> dict[str, Any]:
    """A start answer for the agent: its charged_cost is a quote (FLORA bills later, often more),
    so it is labelled as one, next to this server's estimate, and the model that runs is named."""
    data = dump(started)
    data |= costs(data.pop("charged_cost", None), spend)
    ran = started.model.model_id if started.model and started.model.model_id else chosen
    data["model"] = ran or "the workspace's default model"
    if note:
        data["note"] = note
    return data


def run_data(run: Run, model: str | None = None) -> dict[str, Any]:
    """A run for the agent: its cost in USD once FLORA has settled it (None before: never 0)."""
    data = dump(run)
    data["cost_usd"] = data.pop("charged_cost", None)
    if data["cost_usd"] is None and run.status in ("completed", "failed"):
        data["cost_note"] = "not settled yet: FLORA bills a little after the end; read the status again later"
    if model:
        data["model"] = model
    return data


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def dump_all(key: str, items: Sequence[BaseModel], **extra: Any) -> dict[str, Any]:
    return {key: [dump(item) for item in items], **extra}


class Uploaded(_Open):
    url: str  # also asset_id (None when the URL is FLORA's own, used as is)


class Saved(_Open):
    paths: list[str]


class BatchItemView(_Open):
    index: int
    ok: bool  # and run_id, or error: why it did not start


class Batch(_Open):
    # Also the runs whole (in item order), quoted_cost_usd and notes; started: false when the
    # user did not agree (or could not be asked) and nothing started.
    items: list[BatchItemView]
    estimated_cost_usd: float
