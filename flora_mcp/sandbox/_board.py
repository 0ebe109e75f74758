"""The canvas as data (SDK 0.11): the lossless graph, atomic changesets and node runs.

What FLORA states and the sandbox does: a graph read gives every node a short id (`n3`) that stays the
same on later reads and a UUID, and an opaque `revision` that changes whenever anything it reports
does. A changeset is one transaction: every operation is checked against the canvas as the earlier
operations leave it (add, update, connect, disconnect, remove), params against the model's schema
(unlike `/generate`), and if any is invalid nothing applies and the 400 lists every cause in
`error.fields[]`, each with a `code`. Removal is immediate and takes the node's edges and group
members with it. `nodes/run` starts each runnable node at once (spending, as FLORA does, without
asking), upstream nodes first, and skips the rest with FLORA's reasons.

The sandbox's own choices: a `text` node without a model is a text block (its words are its
`prompt`), which nothing runs (`no_model_configured`); an image, video or audio node added without a
model takes the type's default; `content_url` is kept as given (FLORA copies it onto its CDN); a run
reads its upstream nodes' current outputs, so run a chain's first node before the rest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._canvas import BoardNode, Canvas, Edge, Entry, canvas_url, entries
from flora_mcp.sandbox._catalogue import Model, default_model, find_model, models_of
from flora_mcp.sandbox._errors import ApiError, invalid
from flora_mcp.sandbox._views import media_url, poll_url

if TYPE_CHECKING:
    from flora_mcp.sandbox._store import Project, Run, SandboxState

NODE_TYPES: Final = ("image", "video", "text", "audio", "group", "static_image", "layer_editor")
GENERATING: Final = ("image", "video", "audio", "text")
MAX_NODE_RUNS: Final = 50
_ADD_KEYS: Final = {"ref", "type", "content_url", "group", "label", "model", "params", "position", "prompt"}
_UPDATE_KEYS: Final = {"id", "label", "model", "params", "position", "prompt"}
_EDGE_KEYS: Final = {"from", "to", "in"}
_OPS: Final = ("add", "update", "connect", "disconnect", "remove")
_STATUS: Final = {"pending": "generating", "running": "generating", "completed": "done", "failed": "error"}
_COLUMN: Final = 480.0  # automatic layout: a column per node kind, a row every 240
_ROW: Final = 240.0

Json = dict[str, Any]
Problem = tuple[str, str, str]  # (field, message, code)


class ChangesetRejected(ApiError):
    """The changeset's 400: every cause in `fields`, each with a machine-readable `code`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(400, "input_validation_error", "; ".join(f"{f}: {m}" for f, m, _ in problems))
        self.problems = problems

    def body(self) -> Json:
        fields = [{"field": f, "message": m, "code": c} for f, m, c in self.problems]
        return {"error": {"code": self.code, "message": self.message, "fields": fields}}


@dataclass
class _Node:
    """A live node with what the reads report of it."""

    entry: Entry
    board: BoardNode | None
    run: Run | None  # its latest run, if any


def _uuid(state: SandboxState) -> str:
    return str(uuid.UUID(int=state.rng.getrandbits(128), version=4))


def _nodes(state: SandboxState, project: Project) -> tuple[dict[str, _Node], list[Edge], Canvas]:
    canvas = state.canvases.setdefault(project.project_id, Canvas())
    found, edges = entries(state, project)
    live: dict[str, _Node] = {}
    for entry in found:
        if entry.source != "board" and entry.id not in canvas.uuids:
            canvas.uuids[entry.id] = _uuid(state)
        if entry.id not in canvas.positions:
            canvas.positions[entry.id] = _place(canvas, entry.kind)
        run_id = canvas.latest_run.get(entry.id) or (entry.key if entry.source == "run" else None)
        board = canvas.board.get(entry.id) if entry.source == "board" else None
        live[entry.id] = _Node(entry, board, state.runs.get(run_id) if run_id else None)
    return live, edges, canvas


def _place(canvas: Canvas, kind: str) -> tuple[float, float]:
    """Below what is there, in the column of its kind."""
    column = {"text": 0, "static_image": 1, "group": 1}.get(kind, 2)
    x = column * _COLUMN
    below = [y for (px, y) in canvas.positions.values() if px == x]
    return x, (max(below) + _ROW) if below else 0.0


def _node_json(state: SandboxState, short: str, node: _Node, canvas: Canvas, origin: str) -> Json:
    entry, board, run = node.entry, node.board, node.run
    out: Json = {
        "id": short,
        "node_id": board.node_id if board else canvas.uuids[short],
        "type": entry.kind if entry.source != "asset" else "static_image",
        "label": entry.text,
        "prompt": None,
        "model": None,
        "model_id": None,
        "params": None,
        "action": None,
        "position": dict(zip(("x", "y"), canvas.positions[short], strict=True)),
        "status": None,
        "output_url": None,
        "output_text": None,
    }
    model_id = board.model_id if board else (run.model_id if run else None)
    if board is not None:
        out["prompt"], out["params"] = board.prompt, dict(board.params) or None
        if board.content_url:
            out["status"], out["output_url"] = "done", board.content_url
        elif board.type == "text" and model_id is None:
            out["output_text"] = board.prompt
        elif board.type in GENERATING:
            out["status"] = "idle"
    elif entry.source == "run" and run is not None:
        out["prompt"], out["params"] = run.prompt, dict(run.params) or None
    elif entry.source == "asset":
        asset = state.assets[entry.key]
        out["status"] = "done"
        out["output_url"] = f"{origin}/uploads/{asset.asset_id}/{asset.file_name}" if asset.content else None
    elif entry.source == "patch":
        given = canvas.node_params.get(entry.key, {})
        out["prompt"] = given.get("prompt")
        model_id = given.get("model")
    elif entry.source == "job":
        job = state.jobs[entry.key]
        out["type"] = "action" if job.kind == "action" else entry.kind
        if job.kind == "action":
            out["action"] = {"action_id": job.subject_id, "params": None}
        out["status"] = _STATUS.get(job.progress_at(state.clock()).status)
    model = find_model(model_id) if model_id else None
    out["model"], out["model_id"] = (model.name if model else model_id), model_id
    if run is not None:
        progress = run.progress_at(state.clock())
        out["status"] = _STATUS.get(progress.status, "idle")
        if progress.status == "completed":
            out["output_url"] = media_url(run, origin)
        elif progress.status == "failed" and run.failure is not None:
            out["error_code"], out["error_message"] = run.failure
    return out


def graph(state: SandboxState, project: Project, origin: str) -> Json:
    """The `GET …/projects/{id}/graph` answer."""
    live, edges, canvas = _nodes(state, project)
    nodes = [_node_json(state, short, node, canvas, origin) for short, node in live.items()]
    edge_json = [{"from": a, "to": b, "in": slot} for a, b, slot in edges]
    body = {"nodes": nodes, "edges": edge_json}
    revision = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return {
        "project_id": project.project_id,
        "canvas_url": canvas_url(project.project_id, origin),
        "revision": revision,
        **body,
    }


# Changesets


class _Draft:
    """The canvas as the changeset's operations so far leave it, on a copy: nothing is kept on failure."""

    def __init__(self, state: SandboxState, project: Project) -> None:
        live, edges, canvas = _nodes(state, project)
        self.state = state
        self.canvas = copy.deepcopy(canvas)
        self.kinds = {short: n.entry.kind for short, n in live.items()}
        self.models = {
            short: (n.board.model_id if n.board else (n.run.model_id if n.run else None))
            for short, n in live.items()
        }
        self.by_uuid = {(n.board.node_id if n.board else canvas.uuids[s]): s for s, n in live.items()}
        self.edges = list(edges)
        self.refs: dict[str, str] = {}  # ref -> short id
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.applied = dict.fromkeys(("added", "updated", "connected", "disconnected", "removed"), 0)

    def problem(self, field: str, message: str, code: str) -> None:
        self.problems.append((field, message, code))

    def resolve(self, where: str, value: Any, *, refs: bool = True) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(where, "Expected a node's short id, UUID or a ref of this changeset", "invalid_type")
            return None
        short = self.refs.get(value) if refs else None
        short = short or (value if value in self.kinds else self.by_uuid.get(value))
        if short is None:
            self.problem(where, f"No node on this canvas answers to {value}", "node_not_found")
        return short


def _keys(draft: _Draft, where: str, op: Any, allowed: set[str], required: tuple[str, ...]) -> bool:
    if not isinstance(op, dict):
        draft.problem(where, "Expected an object", "invalid_type")
        return False
    ok = True
    for key in op:
        if key not in allowed:
            draft.problem(f"{where}.{key}", f"Unrecognized field '{key}' is not allowed", "unrecognized_key")
            ok = False
    for key in required:
        if key not in op:
            draft.problem(f"{where}.{key}", "Required", "required")
            ok = False
    return ok


def _model(draft: _Draft, where: str, value: Any, kind: str) -> Model | None:
    model = find_model(value) if isinstance(value, str) else None
    if model is None and isinstance(value, str):
        model = next((m for m in models_of(None) if m.name == value), None)
    if model is None or model.type != kind:
        draft.problem(where, f"No {kind} model answers to {value!r}", "invalid_model")
        return None
    return model


def _params(draft: _Draft, where: str, model: Model | None, params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        draft.problem(where, "Expected an object", "invalid_type")
        return {}
    if model is None:
        if params:
            draft.problem(where, "This node has no model, so it takes no params", "invalid_params")
        return {}
    for name, value in params.items():
        param = model.param(name)
        if param is None and name not in model.references:
            accepted = ", ".join(p.name for p in model.params)
            message = f"{model.model_id} has no param {name}; accepted: {accepted}"
            draft.problem(f"{where}.{name}", message, "invalid_param")
        elif param is not None and not check.usable(param, value):
            options = ", ".join(v for _, v in param.options)
            hint = f"; accepted: {options}" if options else f"; expected {param.type}"
            message = f"{value!r} is not valid for {model.model_id}{hint}"
            draft.problem(f"{where}.{name}", message, "invalid_param")
    return dict(params)


def _position(draft: _Draft, where: str, value: Any) -> tuple[float, float] | None:
    ok = isinstance(value, dict) and set(value) == {"x", "y"}
    numbers = ok and all(isinstance(value[k], int | float) and not isinstance(value[k], bool) for k in "xy")
    if not numbers or not all(math.isfinite(value[k]) for k in "xy"):
        draft.problem(where, "Expected {x, y} numbers", "invalid_type")
        return None
    return float(value["x"]), float(value["y"])


def _add(draft: _Draft, i: int, op: Any) -> None:
    where = f"add[{i}]"
    if not _keys(draft, where, op, _ADD_KEYS, ("ref", "type")):
        return
    ref, kind = op["ref"], op["type"]
    if not isinstance(ref, str) or not ref:
        draft.problem(f"{where}.ref", "Expected a non-empty string", "invalid_type")
        return
    if ref in draft.refs:
        draft.problem(f"{where}.ref", f"ref {ref!r} is declared twice in this changeset", "duplicate_ref")
        return
    if ref in draft.kinds or ref in draft.by_uuid:
        draft.problem(f"{where}.ref", f"ref {ref!r} collides with a live node id", "ref_collision")
        return
    if kind not in NODE_TYPES:
        draft.problem(f"{where}.type", f"Expected one of {', '.join(NODE_TYPES)}", "invalid_enum_value")
        return
    content_url = op.get("content_url")
    if content_url is not None:
        clash = [k for k in ("prompt", "model", "params") if k in op]
        if clash:
            draft.problem(where, f"content_url excludes {', '.join(clash)}", "mutually_exclusive")
        if not isinstance(content_url, str) or urlsplit(content_url).scheme not in ("http", "https"):
            message = "Expected an https URL of an image, video or audio file"
            draft.problem(f"{where}.content_url", message, "invalid_url")
    model: Model | None = None
    if "model" in op:
        model = _model(draft, f"{where}.model", op["model"], kind)
    elif kind in ("image", "video", "audio") and content_url is None:
        model = default_model(kind)
    params = _params(draft, f"{where}.params", model, op.get("params", {}))
    prompt = op.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        draft.problem(f"{where}.prompt", "Expected a string", "invalid_type")
    group = draft.resolve(f"{where}.group", op["group"]) if "group" in op else None
    if group is not None and draft.kinds.get(group) != "group":
        draft.problem(f"{where}.group", f"{op['group']} is not a group", "not_a_group")
    label = op.get("label")
    if label is not None and not isinstance(label, str):
        draft.problem(f"{where}.label", "Expected a string", "invalid_type")
    position = _position(draft, f"{where}.position", op["position"]) if "position" in op else None
    node = BoardNode(
        node_id=_uuid(draft.state),
        type=kind,
        label=label or (prompt or ref)[:60],
        prompt=prompt if isinstance(prompt, str) else None,
        model_id=model.model_id if model else None,
        params=params,
        content_url=content_url if isinstance(content_url, str) else None,
        group=group,
    )
    short = draft.canvas.short_id(node.node_id)
    draft.canvas.board[short] = node
    draft.canvas.positions[short] = position or _place(draft.canvas, kind)
    draft.kinds[short], draft.models[short], draft.by_uuid[node.node_id] = kind, node.model_id, short
    draft.refs[ref] = short
    draft.applied["added"] += 1


def _update(draft: _Draft, i: int, op: Any) -> None:
    where = f"update[{i}]"
    if not _keys(draft, where, op, _UPDATE_KEYS, ("id",)):
        return
    short = draft.resolve(f"{where}.id", op["id"], refs=False)
    if short is None:
        return
    node = draft.canvas.board.get(short)
    if node is None:  # a run's node: the sandbox keeps it as the run made it, but for its place
        if set(op) - {"id", "position"}:
            draft.problem(where, "The sandbox edits only nodes made by changesets", "node_not_editable")
        elif (position := _position(draft, f"{where}.position", op["position"])) is not None:
            draft.canvas.positions[short] = position
            draft.applied["updated"] += 1
        return
    model = find_model(node.model_id) if node.model_id else None
    if "model" in op:
        model = _model(draft, f"{where}.model", op["model"], node.type)
    merged = node.params | _params(draft, f"{where}.params", model, op.get("params", {}))
    before = copy.deepcopy(node)
    node.model_id = model.model_id if model else None
    node.params = merged if model else {}
    for key in ("label", "prompt"):
        if key in op:
            if isinstance(op[key], str):
                setattr(node, key, op[key])
            else:
                draft.problem(f"{where}.{key}", "Expected a string", "invalid_type")
    if "position" in op and (position := _position(draft, f"{where}.position", op["position"])):
        draft.canvas.positions[short] = position
    draft.models[short] = node.model_id
    draft.applied["updated"] += int(node != before or "position" in op)


def _connect(draft: _Draft, i: int, op: Any, *, cut: bool) -> None:
    group = "disconnect" if cut else "connect"
    where = f"{group}[{i}]"
    if not _keys(draft, where, op, _EDGE_KEYS, ("from", "to")):
        return
    ends = [draft.resolve(f"{where}.{side}", op[side]) for side in ("from", "to")]
    slot = op.get("in")
    if slot is not None and not isinstance(slot, str):
        draft.problem(f"{where}.in", "Expected a string", "invalid_type")
        return
    a, b = ends
    if a is None or b is None:
        return
    if a == b:
        draft.problem(where, "A node cannot be wired to itself", "self_connection")
        return
    if cut:
        gone = [e for e in draft.edges if e[:2] == (a, b) and (slot is None or e[2] == slot)]
        if not gone:
            draft.warnings.append(f"{where}: no edge {a} -> {b}; nothing to disconnect")
        for edge in gone:
            draft.edges.remove(edge)
            if edge in draft.canvas.edges:
                draft.canvas.edges.remove(edge)
            else:
                draft.canvas.cut.add(edge)
        draft.applied["disconnected"] += len(gone)
        return
    if any(e[:2] == (a, b) for e in draft.edges):
        draft.warnings.append(f"{where}: {a} -> {b} is already connected; skipped")
        return
    slot = slot or _slot(draft.kinds.get(a, "image"))
    draft.edges.append((a, b, slot))
    draft.canvas.edges.append((a, b, slot))
    draft.canvas.cut.discard((a, b, slot))
    draft.applied["connected"] += 1


def _slot(kind: str) -> str:
    return {"static_image": "image", "layer_editor": "image"}.get(kind, kind)


def _remove(draft: _Draft, i: int, op: Any) -> None:
    where = f"remove[{i}]"
    if not _keys(draft, where, op, {"id"}, ("id",)):
        return
    short = draft.resolve(f"{where}.id", op["id"], refs=False)
    if short is None or short in draft.canvas.removed:
        return
    members = [s for s, n in draft.canvas.board.items() if n.group == short]
    for gone in (short, *members):
        if gone in draft.canvas.removed:
            continue
        draft.canvas.removed.add(gone)
        draft.canvas.board.pop(gone, None)
        draft.kinds.pop(gone, None)
        draft.edges = [e for e in draft.edges if gone not in e[:2]]
        draft.canvas.edges = [e for e in draft.canvas.edges if gone not in e[:2]]
        draft.applied["removed"] += 1


def changeset(state: SandboxState, project: Project, body: Any, origin: str) -> Json:
    """The `POST …/canvas/changeset` answer: every operation applied, or none (a ChangesetRejected)."""
    if not isinstance(body, dict):
        raise invalid([("body", "Expected a JSON object")])
    draft = _Draft(state, project)
    for key in body:
        if key not in _OPS:
            draft.problem(key, f"Unrecognized field '{key}' is not allowed", "unrecognized_key")
    steps: dict[str, Callable[[_Draft, int, Any], None]] = {
        "add": _add,
        "update": _update,
        "connect": lambda d, i, op: _connect(d, i, op, cut=False),
        "disconnect": lambda d, i, op: _connect(d, i, op, cut=True),
        "remove": _remove,
    }
    for name in _OPS:
        ops = body.get(name, [])
        if not isinstance(ops, list):
            draft.problem(name, "Expected an array", "invalid_type")
            continue
        for i, op in enumerate(ops):
            steps[name](draft, i, op)
    if draft.problems:
        raise ChangesetRejected(draft.problems)
    state.canvases[project.project_id] = draft.canvas
    created = {ref: {"id": s, "node_id": draft.canvas.board[s].node_id} for ref, s in draft.refs.items()}
    answer = graph(state, project, origin)
    return {
        "project_id": project.project_id,
        "canvas_url": answer["canvas_url"],
        "revision": answer["revision"],
        "applied": draft.applied,
        "created": {ref: ids for ref, ids in created.items() if ids["id"] not in draft.canvas.removed},
        "warnings": draft.warnings,
    }


def place_on_canvas(state: SandboxState, project: Project, label: str, url: str) -> str:
    """A file put on a canvas (an asset uploaded with its project_id): a static node; its UUID."""
    canvas = state.canvases.setdefault(project.project_id, Canvas())
    node = BoardNode(node_id=_uuid(state), type="static_image", label=label, content_url=url)
    short = canvas.short_id(node.node_id)
    canvas.board[short] = node
    canvas.positions[short] = _place(canvas, node.type)
    return node.node_id


# Node runs

_SKIPS: Final = {
    "node_not_found": "No node on this canvas answers to {id}.",
    "node_not_executable": "{id} generates nothing (a {kind} node).",
    "no_model_configured": "{id} has no model set.",
    "generation_already_running": "A generation for {id} is already in flight.",
}


def _skipped(given: str, reason: str, kind: str = "") -> Json:
    message = _SKIPS[reason].format(id=given, kind=kind)
    return {"node_id": given, "status": "skipped", "reason": reason, "message": message}


def node_ids(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise invalid([("body", "Expected a JSON object")])
    errors = [(k, f"Unrecognized field '{k}' is not allowed") for k in body if k != "node_ids"]
    ids = body.get("node_ids")
    if ids is None:
        errors.append(("node_ids", "Required"))
    elif not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        errors.append(("node_ids", "Expected an array of strings"))
    elif not 1 <= len(ids) <= MAX_NODE_RUNS:
        errors.append(("node_ids", f"Expected 1 to {MAX_NODE_RUNS} node ids"))
    if errors or not isinstance(ids, list):
        raise invalid(errors)
    return [str(i) for i in ids]


def _upstream_first(order: list[str], edges: list[Edge]) -> list[str]:
    """The nodes to run, each after the ones wired into it (request order otherwise)."""
    wanted, done, out = set(order), set[str](), list[str]()

    def visit(short: str, seen: frozenset[str]) -> None:
        if short in done or short in seen:
            return
        for a, b, _ in edges:
            if b == short and a in wanted:
                visit(a, seen | {short})
        done.add(short)
        out.append(short)

    for short in order:
        visit(short, frozenset())
    return out


def run_nodes(state: SandboxState, project: Project, api_key: str, body: Any, origin: str) -> Json:
    """The `POST …/nodes/run` answer: one entry per id given, in that order, started or skipped."""
    given = node_ids(body)
    live, edges, canvas = _nodes(state, project)
    by_uuid = {(n.board.node_id if n.board else canvas.uuids[s]): s for s, n in live.items()}
    answers: dict[int, Json] = {}
    runnable: dict[str, list[int]] = {}
    for index, value in enumerate(given):
        short = value if value in live else by_uuid.get(value)
        node = live.get(short) if short else None
        if short is None or node is None:
            answers[index] = _skipped(value, "node_not_found")
            continue
        model_id = node.board.model_id if node.board else (node.run.model_id if node.run else None)
        if node.entry.kind not in GENERATING or (node.board and node.board.content_url):
            answers[index] = _skipped(value, "node_not_executable", node.entry.kind)
        elif model_id is None:
            answers[index] = _skipped(value, "no_model_configured")
        elif node.run is not None and node.run.progress_at(state.clock()).status in ("pending", "running"):
            answers[index] = _skipped(value, "generation_already_running")
        else:
            runnable.setdefault(short, []).append(index)
    for short in _upstream_first(list(runnable), edges):
        run = _start(state, project, api_key, live[short], short, edges, live, origin)
        for index in runnable[short]:
            answers[index] = {
                "node_id": given[index],
                "status": "started",
                "run_id": run.run_id,
                "type": "generation",
                "poll_url": poll_url(run, origin),
                "model": {"model_id": run.model_id},
                "charged_cost": run.quote_usd,
                "estimated_seconds": math.ceil(run.estimate),
            }
    return {"project_id": project.project_id, "runs": [answers[i] for i in range(len(given))]}


def _start(
    state: SandboxState,
    project: Project,
    api_key: str,
    node: _Node,
    short: str,
    edges: list[Edge],
    live: dict[str, _Node],
    origin: str,
) -> Run:
    board, canvas = node.board, state.canvases[project.project_id]
    model_id = board.model_id if board else (node.run.model_id if node.run else None)
    model = find_model(model_id or "")
    assert model is not None
    params = dict(board.params) if board else dict(node.run.params if node.run else {})
    prompt = (board.prompt if board else (node.run.prompt if node.run else None)) or ""
    sources: list[str] = []
    words: list[str] = []
    for a, b, _ in edges:
        if b != short or a not in live:
            continue
        upstream = _node_json(state, a, live[a], canvas, origin)
        if upstream["output_url"]:
            sources.append(upstream["output_url"])
        elif upstream["output_text"]:
            words.append(upstream["output_text"])
    prompt = " ".join([*words, prompt]).strip() or node.entry.text
    failure = None
    if model.references and not sources:
        failure = ("GENERATION_GENERIC_ERROR", f"Generation failed: {model.model_id} has no input connected.")
    resolved = check.model_params(model, params)
    run = state.start_run(
        api_key, project, model, prompt, params, resolved, sources=tuple(sources), failure=failure
    )
    canvas.latest_run[short] = run.run_id
    canvas.node_runs.add(run.run_id)
    return run
