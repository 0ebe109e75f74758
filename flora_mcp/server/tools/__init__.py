"""The tool table: every tool is a function in a module of this package and a row here.

Adding a tool is writing its `async def` and adding its row. Descriptions are product copy an
agent reads on every turn (the whole list has a byte budget, checked by a test): what the tool
does, when to call it, valid values, what comes back.

Hints left out hold their spec defaults: open-world (FLORA is an outside service) and, for
read-only tools, idempotent and non-destructive by definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from flora_mcp._constants import BATCH_LIMIT
from flora_mcp.server._context import media_origins
from flora_mcp.server._state import AppState
from flora_mcp.server.tools.batch import generate_batch
from flora_mcp.server.tools.canvas import edit_canvas, get_canvas, run_nodes
from flora_mcp.server.tools.files import save_outputs, upload_asset
from flora_mcp.server.tools.generate import generate
from flora_mcp.server.tools.generations import create_generation, get_generation_status
from flora_mcp.server.tools.history import list_generations
from flora_mcp.server.tools.models import list_models
from flora_mcp.server.tools.techniques import list_techniques, run_technique
from flora_mcp.server.tools.workspaces import create_project, list_projects, list_workspaces
from flora_mcp.ui import register_gallery, tool_meta

READ: Final = ToolAnnotations(readOnlyHint=True)
CREATE: Final = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False)
GALLERY: Final = tool_meta()  # results shown in the MCP Apps gallery view


@dataclass(frozen=True)
class ToolRow:
    fn: Callable[..., Any]
    title: str
    description: str
    annotations: ToolAnnotations
    meta: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.fn.__name__


TOOLS: Final = (
    ToolRow(
        list_workspaces,
        "List workspaces",
        "Step 1. Workspaces this key can use; generations are billed to one.",
        READ,
    ),
    ToolRow(
        list_projects,
        "List projects",
        "Step 1. A workspace's projects, newest first; query filters by name; paged by cursor. Pick one "
        "or create_project.",
        READ,
    ),
    ToolRow(
        create_project,
        "Create a project",
        "Step 1. Create a project in a workspace; its generations show on its FLORA canvas.",
        CREATE,
    ),
    ToolRow(
        list_models,
        "List models",
        "Step 2. Models of a type: id, what it does (text→image, image→image…), credits, param names, "
        "references it takes. model_id: one model's full params with their options.",
        READ,
    ),
    ToolRow(
        create_generation,
        "Start a generation",
        "Step 3. Start one run (spends credits; the answer's cost is a quote). type: image, video, audio "
        "or text, not a model family. model: a model_id from list_models; omit for the workspace default. "
        'params: that model\'s, e.g. {"aspect_ratio": "4:3"}. To start from an earlier output or an '
        "upload_asset url: params.image_url with an i2i-/i2v- model (image_urls for i2t-). Over the spend "
        "threshold the user is asked; if they cannot be, ask them, then pass confirm_spend_usd.",
        CREATE,
    ),
    ToolRow(
        get_generation_status,
        "Get generation status",
        "Step 4. A run's status; once completed, its outputs, images inline. wait_seconds (≤50) waits "
        "for the end.",
        READ,
        GALLERY,
    ),
    ToolRow(
        generate,
        "Generate and wait",
        "Steps 1-4 in one call (spends credits): count runs of prompt, waited for; every output, images "
        "inline. Defaults: the only workspace, project 'Quick generations', the workspace's default model "
        "(with params, the cheapest text-to-X model taking them, named). References as create_generation.",
        CREATE,
        GALLERY,
    ),
    ToolRow(
        list_generations,
        "List generations",
        "History, newest first, with prompts and outputs; filter by workspace, project or status. "
        f"run_ids (≤{BATCH_LIMIT}): those runs' status and outputs, shown again in one call.",
        READ,
        GALLERY,
    ),
    ToolRow(
        upload_asset,
        "Upload a reference",
        "source (a local path: stdio only; a public https URL; a run_id) as a url FLORA reads: "
        "params.image_url of i2i-/i2v- models. project_id: also on its canvas.",
        CREATE,
    ),
    ToolRow(
        save_outputs,
        "Save outputs",
        "Save run_ids' outputs into folder (stdio only) as prompt_model_index_run files; keeps existing "
        "ones unless overwrite.",
        ToolAnnotations(readOnlyHint=False),  # destructive (overwrite replaces files), not idempotent
    ),
    ToolRow(
        list_techniques,
        "List techniques and actions",
        "Techniques (FLORA's workflows) and actions (edits, mostly free: aspect ratio, side by side, "
        "text...) with costs. technique_id: one's inputs and outputs.",
        READ,
    ),
    ToolRow(
        run_technique,
        "Run a technique or action",
        "Spends its cost per run; waits. inputs: {input: text, or URL of an earlier output or asset; a "
        "list where allow_multiple: one run each}; params: an action's. project_id: as generate.",
        CREATE,
        GALLERY,
    ),
    ToolRow(
        get_canvas,
        "Get a project's canvas",
        "Canvas as data: nodes (id, type, label, prompt, model_id, params, status, output_url, run_id), "
        "edges, revision; a Mermaid picture.",
        READ,
    ),
    ToolRow(
        edit_canvas,
        "Edit a canvas",
        "Atomic changeset: add [{ref,type,prompt,model,params,content_url,label}], update [{id,...}], "
        "connect/disconnect [{from,to,in}] (ids or refs), remove [ids] (irreversible: the user is asked, "
        "else confirm_remove). Stale revision: refused.",
        ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False),
    ),
    ToolRow(
        run_nodes,
        "Run canvas nodes",
        "Run 1-50 canvas nodes (spends credits), waited for; skipped ones say why. Consent as "
        "generate_batch.",
        CREATE,
        GALLERY,
    ),
    ToolRow(
        generate_batch,
        "Generate a batch",
        f"1-{BATCH_LIMIT} mixed runs (spends credits), waited for; items as create_generation's "
        "arguments. Answers in order: index, ok, run_id or error. Over the spend threshold the user is "
        "asked; if they cannot be, nothing starts: ask them, then pass confirm_spend_usd.",
        CREATE,
        GALLERY,
    ),
)


def register_all(server: MCPServer[AppState], state: AppState) -> None:
    """Every tool of the table, and the gallery view its results are shown in."""
    for row in TOOLS:
        server.add_tool(
            row.fn,
            name=row.name,
            title=row.title,
            description=row.description,
            annotations=row.annotations,
            meta=row.meta,
        )
    register_gallery(server, lambda: media_origins(state))
