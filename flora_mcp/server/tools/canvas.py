"""A project's canvas as data: read it, change it in one atomic changeset, run its nodes.

Three tools, one vocabulary: the graph's short node ids (`n3`), which FLORA keeps stable across
reads. `get_canvas` gives the graph compactly with a Mermaid picture drawn from it. `edit_canvas`
checks a changeset against the canvas and the models before sending it (FLORA would refuse it
whole, but a message naming the fix is better), refuses a stale `revision`, and asks the user
before an irreversible removal. `run_nodes` spends like `generate`: the same consent (estimated
from the nodes' models), one POST with an Idempotency-Key, the started runs journaled, waited for
and shown; each skipped node with FLORA's reason in plain words.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field

from flora_mcp.client import (
    BadRequestError,
    CanvasGraph,
    ConflictError,
    GraphNode,
    Model,
    NodeRun,
    RunStarted,
)
from flora_mcp.server import _checks, _costs, _follow
from flora_mcp.server import _results as results
from flora_mcp.server._account import Account
from flora_mcp.server._consent import (
    Answer,
    Consent,
    Decided,
    Line,
    Spend,
    can_ask,
    decide,
    outcome,
    total,
)
from flora_mcp.server._context import Ctx, account, advice, api_errors, learn_media
from flora_mcp.server._history import Record
from flora_mcp.server._starting import start_nodes
from flora_mcp.server.tools.arguments import ProjectId, WaitSeconds
from flora_mcp.server.tools.generate import DEFAULT_WAIT_SECONDS

GENERATING: Final = ("image", "video", "audio", "text")
NODE_TYPES: Final = ("image", "video", "audio", "text", "group", "static_image", "layer_editor")
MAX_NODES: Final = 50
LISTED_IDS: Final = 20  # nodes named in a message about an unknown id
# FLORA's skip reasons, in plain words with the next step.
SKIP_ADVICE: Final = {
    "node_not_found": "no node on this canvas has that id: read the ids with get_canvas",
    "node_not_executable": "it generates nothing (a static image, group or action node)",
    "node_locked": "it is locked in FLORA: unlock it in the editor first",
    "no_model_configured": "set a model on it first (edit_canvas update with model)",
    "generation_already_running": "it is already generating: wait for that run",
    "run_failed_to_start": "FLORA could not start it: run that node again",
    "video_generation_not_available": "this workspace's plan does not include video",
}
_RECENT_RUNS: OrderedDict[tuple[str, str], str] = OrderedDict()  # (project, node) -> its last run here
_RECENT_MAX: Final = 4096

NodeIds = Annotated[
    list[str], Field(min_length=1, max_length=MAX_NODES, description="short ids (n3) or UUIDs")
]
Ops = list[dict[str, Any]] | None


class CanvasView(BaseModel):
    model_config = ConfigDict(extra="allow")  # also canvas_url, workspace_id, edges, diagram, summary
    revision: str
    nodes: list[dict[str, Any]]


class Changed(BaseModel):
    model_config = ConfigDict(extra="allow")  # also created (ref -> ids), applied, warnings, canvas_url
    revision: str


class NodesRun(BaseModel):
    model_config = ConfigDict(extra="allow")  # also project_id, skipped, quoted_cost_usd, canvas_url
    runs: list[dict[str, Any]]


class RemoveAnswer(BaseModel):
    """The form the user answers before nodes are removed."""

    remove: bool = Field(title="Remove them for good", description="Untick or decline to change nothing.")


Removal = ElicitationResult[RemoveAnswer | Decided]


# Reading


async def _graph(acct: Account, project_id: str) -> tuple[str, CanvasGraph]:
    """The project's workspace and its canvas graph."""
    _checks.check_id("project_id", project_id)
    with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
        project = await acct.client.get_project(project_id)
        return project.workspace_id, await acct.client.get_graph(project.workspace_id, project_id)


def _row(project_id: str, node: GraphNode) -> dict[str, Any]:
    """A node as an agent acts on it: what it is, does and shows; nulls, the UUID and zeros left out."""
    row: dict[str, Any] = {"id": node.id, "type": node.type, "label": node.label}
    for key in ("prompt", "model_id", "params", "status", "output_url", "output_text", "error_message"):
        value = getattr(node, key)
        if value not in (None, {}, ""):
            row[key] = value
    if node.action:
        row["action"] = node.action
    if (run_id := _RECENT_RUNS.get((project_id, node.id))) is not None:
        row["run_id"] = run_id
    row["at"] = [node.position.x, node.position.y]
    return row


def _edges(graph: CanvasGraph) -> list[dict[str, str]]:
    return [{"from": e.from_, "to": e.to, **({"in": e.in_} if e.in_ else {})} for e in graph.edges]


def diagram(graph: CanvasGraph, rows: Sequence[Mapping[str, Any]]) -> str:
    """The graph as a Mermaid flowchart; each box names the node's id, label, type and run."""
    lines = ["graph LR"]
    for row in rows:
        parts = [f"{row['id']}: {' '.join(str(row['label']).split())[:40]}", str(row["type"])]
        parts += [str(row[k]) for k in ("model_id", "status", "run_id") if k in row]
        lines.append(_box(row["id"], parts))
    for edge in graph.edges:
        lines.append(
            f"  {edge.from_} -->|{edge.in_}| {edge.to}" if edge.in_ else f"  {edge.from_} --> {edge.to}"
        )
    return "\n".join(lines)


def _box(node_id: str, parts: Sequence[str]) -> str:
    text = " · ".join(parts).replace('"', "#quot;")
    return f'  {node_id}["{text}"]'


async def get_canvas(project_id: ProjectId, ctx: Ctx) -> Annotated[CallToolResult, CanvasView]:
    acct = await account(ctx)
    workspace_id, graph = await _graph(acct, project_id)
    await learn_media(ctx.request_context.lifespan_context, [node.output_url for node in graph.nodes])
    rows = [_row(project_id, node) for node in graph.nodes]
    picture = diagram(graph, rows)
    summary = {"node_count": len(rows), "edge_count": len(graph.edges)}
    data = {
        "project_id": graph.project_id,
        "workspace_id": workspace_id,
        "canvas_url": graph.canvas_url,
        "revision": graph.revision,
        "nodes": rows,
        "edges": _edges(graph),
        "summary": summary,
        "diagram": picture,
    }
    # Hosts render Markdown: the diagram as a mermaid block shows as a picture where they can.
    text = (
        f"Canvas of {graph.project_id}: {len(rows)} nodes, {len(graph.edges)} edges (revision "
        f"{graph.revision}). Open it in FLORA: {graph.canvas_url}\n\n```mermaid\n{picture}\n```"
    )
    return results.structured(data, [TextContent(type="text", text=text)])


# Changing


def _named(graph: CanvasGraph, node_id: str) -> str:
    node = _find(graph, node_id)
    return f"{node.id} {node.label!r} ({node.type})" if node else node_id


def _find(graph: CanvasGraph, node_id: str) -> GraphNode | None:
    return next((n for n in graph.nodes if node_id in (n.id, n.node_id)), None)


async def _ask_removal(
    ctx: Ctx, project_id: str, remove: list[str] | None, confirm_remove: list[str] | None
) -> Elicit[RemoveAnswer] | Decided:
    """The removal resolver: nothing to remove goes ahead; else the user says yes to the list."""
    if not remove:
        return Decided(start=True, why="nothing is removed")
    _, graph = await _graph(await account(ctx), project_id)
    listed = ", ".join(_named(graph, node_id) for node_id in remove)
    if can_ask(ctx):
        return Elicit(
            f"Remove {len(remove)} node(s) from the canvas of {project_id} for good: {listed}? Their edges "
            "(and a group's members) go too. FLORA cannot undo this.",
            RemoveAnswer,
        )
    if confirm_remove is not None and set(remove) <= set(confirm_remove):
        return Decided(start=True, why="confirm_remove lists them")
    return Decided(
        start=False,
        why=(
            f"Nothing changed: removing {listed} cannot be undone and this client cannot ask the user. Ask "
            f"them; if they agree, call again with confirm_remove={list(remove)!r}."
        ),
    )


class _Check:
    """A changeset checked against the canvas and the models; `problems` each name the fix."""

    def __init__(self, graph: CanvasGraph, models: Mapping[str, Sequence[Model]]) -> None:
        self.graph, self.models = graph, models
        self.refs: dict[str, str] = {}  # ref -> its node's type
        self.problems: list[str] = []

    def known(self) -> str:
        shown = ", ".join(f"{n.id} {n.label!r}" for n in self.graph.nodes[:LISTED_IDS])
        more = f" and {len(self.graph.nodes) - LISTED_IDS} more" if len(self.graph.nodes) > LISTED_IDS else ""
        return f"Its nodes: {shown}{more}." if shown else "The canvas is empty."

    def node(self, where: str, value: Any, *, refs: bool = True) -> str | None:
        """The type of the node an id, UUID or (when allowed) ref names; None, noted, when none does."""
        if isinstance(value, str) and refs and value in self.refs:
            return self.refs[value]
        node = _find(self.graph, value) if isinstance(value, str) else None
        if node is None:
            also = " and no add of this changeset declares that ref" if refs else ""
            self.problems.append(
                f"{where} {value!r}: no node on this canvas has that id{also}. {self.known()}"
            )
            return None
        return node.type

    def model(self, where: str, type_: str, model_id: Any) -> Model | None:
        if type_ not in GENERATING:
            self.problems.append(f"{where}: a {type_} node takes no model.")
            return None
        found = next((m for m in self.models.get(type_, ()) if m.model_id == model_id), None)
        if found is None:
            self.problems.append(
                f"{where} {model_id!r} is not a {type_} model: use a model_id from list_models type={type_}."
            )
        return found

    def params(self, where: str, model: Model | None, params: Any) -> None:
        if params is None or model is None:
            return
        if not isinstance(params, dict):
            self.problems.append(f"{where}.params must be an object of the model's params.")
        elif (problem := _checks.params_problem(model, params)) is not None:
            self.problems.append(f"{where}: {problem}")

    def add(self, index: int, op: Any) -> None:
        where = f"add[{index}]"
        if not isinstance(op, dict) or not isinstance(op.get("ref"), str) or op.get("type") not in NODE_TYPES:
            self.problems.append(
                f"{where} needs a ref (a name of yours, used by connect) and a type: {', '.join(NODE_TYPES)}."
            )
            return
        ref, type_ = op["ref"], op["type"]
        if ref in self.refs or _find(self.graph, ref) is not None:
            self.problems.append(f"{where}.ref {ref!r} is already taken: choose another name.")
        self.refs[ref] = type_
        if "content_url" in op and any(k in op for k in ("prompt", "model", "params")):
            self.problems.append(f"{where}: content_url places a file; leave out prompt, model and params.")
        model = self.model(f"{where}.model", type_, op["model"]) if "model" in op else None
        self.params(where, model, op.get("params"))
        if "group" in op and self.node(f"{where}.group", op["group"]) not in (None, "group"):
            self.problems.append(f"{where}.group {op['group']!r} is not a group node.")

    def update(self, index: int, op: Any) -> None:
        where = f"update[{index}]"
        if not isinstance(op, dict) or "id" not in op:
            self.problems.append(f"{where} needs the id of the node to change.")
            return
        if (type_ := self.node(f"{where}.id", op["id"], refs=False)) is None:
            return
        node = _find(self.graph, op["id"])
        model_id = op.get("model", node.model_id if node else None)
        model = self.model(f"{where}.model", type_, model_id) if "model" in op or op.get("params") else None
        if "params" in op and model_id is None:
            self.problems.append(f"{where}: the node has no model; set one (model) with its params.")
        self.params(where, model, op.get("params"))

    def edge(self, group: str, index: int, op: Any) -> None:
        where = f"{group}[{index}]"
        if not isinstance(op, dict) or "from" not in op or "to" not in op:
            self.problems.append(f"{where} needs from and to: node ids or refs of this changeset's adds.")
            return
        self.node(f"{where}.from", op["from"])
        self.node(f"{where}.to", op["to"])


def check_changeset(
    graph: CanvasGraph, models: Mapping[str, Sequence[Model]], body: Mapping[str, Any]
) -> list[str]:
    """What is wrong with a changeset on this canvas, each problem naming the fix; [] when nothing."""
    check = _Check(graph, models)
    for index, op in enumerate(body.get("add", [])):
        check.add(index, op)
    for index, op in enumerate(body.get("update", [])):
        check.update(index, op)
    for group in ("connect", "disconnect"):
        for index, op in enumerate(body.get(group, [])):
            check.edge(group, index, op)
    for index, op in enumerate(body.get("remove", [])):
        check.node(f"remove[{index}]", op.get("id") if isinstance(op, dict) else op, refs=False)
    return check.problems


async def _models_for(acct: Account, body: Mapping[str, Any], graph: CanvasGraph) -> dict[str, list[Model]]:
    types = {op.get("type") for op in body.get("add", []) if isinstance(op, dict)}
    types |= {n.type for n in graph.nodes}
    found: dict[str, list[Model]] = {}
    with api_errors():
        for type_ in sorted(t for t in types if t in GENERATING):
            found[type_] = await acct.models.get(type_)
    return found


async def edit_canvas(
    project_id: str,
    ctx: Ctx,
    removal: Annotated[Removal, Resolve(_ask_removal)],
    add: Ops = None,
    update: Ops = None,
    connect: Ops = None,
    disconnect: Ops = None,
    remove: list[str] | None = None,
    revision: str | None = None,
    confirm_remove: list[str] | None = None,
) -> Annotated[CallToolResult, Changed]:
    decided = outcome(
        removal,
        agreed=lambda data: isinstance(data, RemoveAnswer) and data.remove,
        refused="Nothing changed: the user did not agree to remove those nodes.",
    )
    if not decided.start:
        raise ToolError(decided.why)
    body: dict[str, Any] = {
        k: v
        for k, v in (("add", add), ("update", update), ("connect", connect), ("disconnect", disconnect))
        if v
    }
    if remove:
        body["remove"] = [{"id": node_id} for node_id in remove]
    if not body:
        raise ToolError("Nothing to change: give add, update, connect, disconnect or remove.")
    acct = await account(ctx)
    workspace_id, graph = await _graph(acct, project_id)
    if revision is not None and revision != graph.revision:
        raise ToolError(
            f"The canvas changed since revision {revision} (now {graph.revision}); nothing was sent. Read it "
            "again with get_canvas and make the change on what is there now."
        )
    problems = check_changeset(graph, await _models_for(acct, body, graph), body)
    if problems:
        raise ToolError("Nothing was sent: " + " ".join(problems))
    try:
        with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
            changed = await acct.client.apply_changeset(workspace_id, project_id, body)
    except ToolError as exc:
        cause = exc.__cause__
        if isinstance(cause, BadRequestError) and cause.fields:
            each = "; ".join(f"{f.field}: {f.message}" for f in cause.fields)
            raise ToolError(f"FLORA refused the changeset and applied nothing: {each}.") from cause
        if isinstance(cause, ConflictError):
            raise ToolError(
                f"FLORA may have applied this changeset already (its answer was lost): read the canvas "
                f"with get_canvas before sending it again. ({cause.code})"
            ) from cause
        raise
    data = results.dump(changed)
    return results.structured(data)


# Running


async def _ask_nodes(
    ctx: Ctx, project_id: str, node_ids: list[str], confirm_spend_usd: float | None
) -> Elicit[Answer] | Decided:
    """The consent resolver: each node that would run, priced by its model; the rest cost nothing."""
    acct = await account(ctx)
    _, graph = await _graph(acct, project_id)
    lines = await _node_lines(acct, graph, list(dict.fromkeys(node_ids)))
    return decide(ctx, Spend(tuple(lines)), confirm_spend_usd)


async def _node_lines(acct: Account, graph: CanvasGraph, node_ids: Sequence[str]) -> list[Line]:
    """The estimate of each node that would run, priced by its model; the rest cost nothing."""
    prices = await _costs.learned_prices(acct)
    lines = []
    for node_id in node_ids:
        node = _find(graph, node_id)
        if node is not None and node.type in GENERATING and node.model_id:
            lines.append(await _costs.line(acct, node.type, node.model_id, prices))  # type: ignore[arg-type]
    return lines


def _record(workspace_id: str, project_id: str, node: GraphNode | None) -> Record:
    """What the journal keeps of a node's run: its prompt, model and params as the canvas has them."""
    if node is None:  # FLORA will skip it (node_not_found): the intent is dropped then
        return Record("generation", None, None, None, {}, workspace_id, project_id)
    type_ = node.type if node.type in GENERATING else None
    params = node.params or {}
    return Record("generation", type_, node.prompt, node.model_id, params, workspace_id, project_id)


def _remember_runs(project_id: str, graph: CanvasGraph, started: Mapping[str, RunStarted]) -> None:
    """Each node's newest run, shown on its row and in the diagram until the next run of that node."""
    for node_id, run in started.items():
        node = _find(graph, node_id)
        _RECENT_RUNS[(project_id, node.id if node else node_id)] = run.run_id
        while len(_RECENT_RUNS) > _RECENT_MAX:
            _RECENT_RUNS.popitem(last=False)


def _skip_note(graph: CanvasGraph, entry: NodeRun) -> str:
    why = SKIP_ADVICE.get(entry.reason or "", entry.message or entry.reason or "FLORA gave no reason")
    return f"{_named(graph, entry.node_id)} was skipped ({entry.reason}): {why}."


async def run_nodes(
    project_id: str,
    node_ids: NodeIds,
    ctx: Ctx,
    consent: Annotated[Consent, Resolve(_ask_nodes)],
    wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
    confirm_spend_usd: float | None = None,
) -> Annotated[CallToolResult, NodesRun]:
    decided = outcome(consent)
    if not decided.start:
        raise ToolError(decided.why)
    acct = await account(ctx)
    workspace_id, graph = await _graph(acct, project_id)
    requested = list(dict.fromkeys(node_ids))
    intents = {node_id: _record(workspace_id, project_id, _find(graph, node_id)) for node_id in requested}
    with api_errors(not_found=f"Project {project_id!r} was not found: use one from list_projects."):
        try:
            answer, started = await start_nodes(
                acct.history,
                project_id,
                intents,
                lambda key: acct.client.run_nodes(workspace_id, project_id, requested, idempotency_key=key),
            )
        except ConflictError as exc:
            raise ToolError(_lost(exc)) from exc
    for run in started.values():
        acct.runs.add(run.run_id, project_id=project_id, estimated_seconds=run.estimated_seconds)
    _remember_runs(project_id, graph, started)
    skipped = [entry for entry in answer.runs if entry.status != "started"]
    notes = [_skip_note(graph, entry) for entry in skipped]
    node_of = {run.run_id: node_id for node_id, run in started.items()}
    data: dict[str, Any] = {
        "workspace_id": workspace_id,
        "project_id": project_id,
        "canvas_url": graph.canvas_url,
        "skipped": [
            {"node_id": e.node_id, "reason": e.reason, "advice": SKIP_ADVICE.get(e.reason or "", e.message)}
            for e in skipped
        ],
    }
    if not started:
        data |= {"quoted_cost_usd": None, "runs": [], "notes": notes}
        return results.structured(
            data, [TextContent(type="text", text="Nothing started. " + " ".join(notes))]
        )
    spend = Spend(tuple(await _node_lines(acct, graph, list(started))))
    data |= results.costs(total(run.quoted_cost for run in started.values()), spend)
    followed = await _follow.follow(ctx, acct, [run.run_id for run in started.values()], wait_seconds)
    row = lambda run: results.run_data(run) | {"node_id": node_of.get(run.run_id)}  # noqa: E731
    return await _follow.answer(ctx, data, followed, notes, row=row)


def _lost(exc: ConflictError) -> str:
    if exc.code != "idempotency_duplicate":
        return advice(exc)
    return (
        "FLORA says these nodes were already started (idempotency_duplicate): the answer was lost on the way "
        "and nothing started twice. Do not run them again: read the canvas with get_canvas in a moment."
    )
