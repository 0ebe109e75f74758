"""A project's canvas as FLORA describes it: a Mermaid flowchart of its runs, their inputs and the edges.

Each generation run and each action run of the project is a node; an asset used as an input is a node;
a run that used another node's output (a reference URL, an action or technique input) gets an edge from
it. A technique run has no project of its own (FLORA starts it with no project), so it appears on the
canvas of the project whose output it used. `PATCH` adds the nodes and edges of a Mermaid diagram;
the sandbox places them but runs nothing. Short ids (`n1`, `n2`, …) are given once and kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from flora_mcp.sandbox._errors import FieldError, invalid

if TYPE_CHECKING:
    from flora_mcp.sandbox._store import Project, SandboxState

CANVAS_PAGES = "/canvas"  # canvas_url: {origin}/canvas/{project_id}
_HEADER = re.compile(r"(graph|flowchart)(\s+(LR|RL|TB|TD|BT))?", re.IGNORECASE)
_NODE = re.compile(
    r"([A-Za-z_][\w-]*)\s*(?:(\[\[|\[\(|\(\(|\[|\(|\{)\s*\"?(.*?)\"?\s*(\]\]|\)\]|\)\)|\]|\)|\}))?"
)
_EDGE = re.compile(r"(.+?)\s*(?:-->|---|==>|-\.->)\s*(?:\|([^|]*)\|\s*)?(.+)")
_LABELLED_EDGE = re.compile(r"(.+?)\s*--\s+([^->][^>]*?)\s+-->\s*(.+)")
_NODE_PARAM_KEYS = {"prompt", "model", "content_url", "aspect_ratio", "resolution", "model_parameters"}


Edge = tuple[str, str, str | None]  # (from, to, input slot) by short id


@dataclass
class BoardNode:
    """A node made by a changeset (`_board`): what it is configured to do."""

    node_id: str  # its UUID
    type: str  # image | video | audio | text | group | static_image | layer_editor
    label: str
    prompt: str | None = None
    model_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    content_url: str | None = None
    group: str | None = None  # the short id of the group it sits in


@dataclass
class Canvas:
    """What the canvas keeps between reads: the short ids given, what PATCH added, and the nodes and
    edges changesets made, removed or cut (`_board`), with the runs nodes/run started."""

    ids: dict[str, str] = field(default_factory=dict)  # run, asset or node UUID -> short id
    added: dict[str, str] = field(default_factory=dict)  # short id -> label
    added_edges: list[Edge] = field(default_factory=list)
    node_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    board: dict[str, BoardNode] = field(default_factory=dict)  # short id -> a changeset's node
    edges: list[Edge] = field(default_factory=list)  # a changeset's edges
    uuids: dict[str, str] = field(default_factory=dict)  # short id -> UUID of the other nodes
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)  # short ids, gone for good
    cut: set[Edge] = field(default_factory=set)  # edges of runs, disconnected
    latest_run: dict[str, str] = field(default_factory=dict)  # short id -> the run nodes/run started
    node_runs: set[str] = field(default_factory=set)  # runs nodes/run started: no nodes of their own

    def short_id(self, key: str) -> str:
        if key not in self.ids:
            used = set(self.ids.values()) | set(self.added)
            n = len(self.ids) + 1
            while f"n{n}" in used:
                n += 1
            self.ids[key] = f"n{n}"
        return self.ids[key]


@dataclass(frozen=True)
class _Node:
    key: str
    label: str
    kind: str  # image | video | audio | text
    refs: tuple[str, ...]  # input URLs


@dataclass(frozen=True)
class Entry:
    """One node on the canvas as both reads see it; `key` finds what it is (`source` says where)."""

    id: str
    text: str  # its label
    kind: str
    key: str  # a run, job or asset id; a PATCH node's Mermaid id; a changeset node's UUID
    source: str  # run | job | asset | patch | board

    @property
    def mermaid(self) -> str:
        return self.text if self.source == "patch" else _label(self.text, self.kind)


def canvas_url(project_id: str, origin: str) -> str:
    return f"{origin}{CANVAS_PAGES}/{project_id}"


def _label(text: str, kind: str) -> str:
    short = " ".join(text.split())
    short = short if len(short) <= 40 else short[:39] + "…"
    return f"{short} ({kind})".replace('"', "#quot;")


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _urls(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls(item)


def _source_of(state: SandboxState, url: str) -> str | None:
    """The run or asset whose file a URL is: its id is a segment of the URL's path."""
    for part in reversed([unquote(p) for p in urlsplit(url).path.split("/")]):
        if part in state.runs or part in state.jobs or part in state.assets:
            return part
    return None


def _members(state: SandboxState, project: Project) -> list[_Node]:
    """The project's runs in the order they started, each with its inputs' URLs."""
    ordered: list[tuple[int, _Node]] = []
    board_runs = state.canvases.setdefault(project.project_id, Canvas()).node_runs
    for run in state.runs.values():
        if run.project_id == project.project_id and run.run_id not in board_runs:
            ordered.append((run.seq, _Node(run.run_id, run.prompt, run.type, tuple(_urls(run.params)))))
    mine = {node.key for _, node in ordered}
    jobs = sorted(state.jobs.values(), key=lambda j: j.seq)
    for job in jobs:
        refs = job.inputs
        joins = job.project_id == project.project_id or (
            job.project_id is None and any(_source_of(state, url) in mine for url in refs)
        )
        if joins:
            kind = {"imageUrl": "image", "videoUrl": "video", "audioUrl": "audio"}.get(
                job.outputs[0].type if job.outputs else "", "text"
            )
            ordered.append((job.seq, _Node(job.run_id, job.subject_name, kind, refs)))
            mine.add(job.run_id)
    return [node for _, node in sorted(ordered, key=lambda pair: pair[0])]


def entries(state: SandboxState, project: Project) -> tuple[list[Entry], list[Edge]]:
    """Every live node and edge: runs and their inputs, PATCH's, then the changesets' nodes."""
    canvas = state.canvases.setdefault(project.project_id, Canvas())
    nodes: list[Entry] = []
    edges: list[Edge] = []
    placed: dict[str, str] = {}  # run or asset id -> its kind
    for node in _members(state, project):
        for url in node.refs:
            source = _source_of(state, url)
            if source is None:
                continue
            if source not in placed and source in state.assets:
                asset = state.assets[source]
                kind = asset.sniffed.kind if asset.sniffed else "image"
                nodes.append(Entry(canvas.short_id(source), asset.name, kind, source, "asset"))
                placed[source] = kind
            if source in placed:
                edges.append((canvas.short_id(source), canvas.short_id(node.key), placed[source]))
        source_kind = "run" if node.key in state.runs else "job"
        nodes.append(Entry(canvas.short_id(node.key), node.label, node.kind, node.key, source_kind))
        placed[node.key] = node.kind
    nodes += [Entry(node_id, label, "text", node_id, "patch") for node_id, label in canvas.added.items()]
    nodes += [Entry(short, b.label, b.type, b.node_id, "board") for short, b in canvas.board.items()]
    edges += [e for e in canvas.added_edges + canvas.edges if e not in canvas.cut]
    live = [n for n in nodes if n.id not in canvas.removed]
    ids = {n.id for n in live}
    return live, [e for e in edges if e[0] in ids and e[1] in ids]


def _graph(
    state: SandboxState, project: Project
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str | None]]]:
    nodes, edges = entries(state, project)
    return [(n.id, n.mermaid) for n in nodes], edges


def _summary(nodes: list[tuple[str, str]], edges: list[tuple[str, str, str | None]]) -> dict[str, int]:
    parent = {node_id: node_id for node_id, _ in nodes}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    linked: set[str] = set()
    for a, b, _ in edges:
        linked |= {a, b}
        parent[root(a)] = root(b)
    workflows = {root(x) for x in linked}
    return {
        "node_count": len(nodes),
        "edge_count": len(edges),
        "workflow_count": len(workflows),
        "isolated_node_count": len(parent) - len(linked),
        "group_count": 0,
    }


def _diagram(nodes: list[tuple[str, str]], edges: list[tuple[str, str, str | None]]) -> str:
    lines = ["graph LR"]
    lines += [f'  {node_id}["{label}"]' for node_id, label in nodes]
    lines += [f"  {a} -->|{label}| {b}" if label else f"  {a} --> {b}" for a, b, label in edges]
    return "\n".join(lines)


def read(state: SandboxState, project: Project, origin: str) -> dict[str, Any]:
    """The `GET /projects/{id}/canvas` answer."""
    nodes, edges = _graph(state, project)
    return {
        "project_id": project.project_id,
        "canvas_url": canvas_url(project.project_id, origin),
        "diagram": _diagram(nodes, edges),
        "summary": _summary(nodes, edges),
    }


def _parse_node(text: str, line: int) -> tuple[str, str | None]:
    match = _NODE.fullmatch(text.strip())
    if match is None:
        raise invalid([("diagram", f"Line {line}: cannot read node {text.strip()!r}")])
    return match.group(1), (match.group(3) if match.group(2) else None)


def _parse(diagram: str) -> tuple[dict[str, str | None], list[tuple[str, str, str | None]]]:
    lines = [line.strip() for line in diagram.splitlines()]
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line and not line.startswith("%%")]
    if not numbered or not _HEADER.fullmatch(numbered[0][1]):
        raise invalid(
            [("diagram", "Expected a Mermaid flowchart starting with 'graph LR' (or flowchart TD, …)")]
        )
    nodes: dict[str, str | None] = {}
    edges: list[tuple[str, str, str | None]] = []
    for n, line in numbered[1:]:
        edge = _LABELLED_EDGE.fullmatch(line) or _EDGE.fullmatch(line)
        parts = [line] if edge is None else [edge.group(1), edge.group(3)]
        ends = []
        for part in parts:
            node_id, label = _parse_node(part, n)
            if label is not None or node_id not in nodes:
                nodes[node_id] = label if label is not None else nodes.get(node_id)
            ends.append(node_id)
        if edge is not None:
            edges.append((ends[0], ends[1], (edge.group(2) or "").strip() or None))
    return nodes, edges


def _check_node_params(value: Any) -> list[FieldError]:
    if not isinstance(value, dict):
        return [("node_params", "Expected an object keyed by Mermaid node id")]
    errors: list[FieldError] = []
    for node_id, params in value.items():
        if not isinstance(params, dict):
            errors.append((f"node_params.{node_id}", "Expected an object"))
            continue
        errors += [
            (f"node_params.{node_id}.{key}", f"Unknown key; accepted: {', '.join(sorted(_NODE_PARAM_KEYS))}")
            for key in params
            if key not in _NODE_PARAM_KEYS
        ]
    return errors


def patch(state: SandboxState, project: Project, body: Any, origin: str) -> dict[str, Any]:
    """The `PATCH /projects/{id}/canvas` answer; adds the diagram's new nodes and edges."""
    if not isinstance(body, dict):
        raise invalid([("body", "Expected a JSON object")])
    diagram = body.get("diagram")
    errors: list[FieldError] = [] if "diagram" in body else [("diagram", "Required")]
    if "diagram" in body and (not isinstance(diagram, str) or not diagram.strip()):
        errors.append(("diagram", "Expected a non-empty string"))
    errors += [
        (k, f"Unrecognized field '{k}' is not allowed") for k in body if k not in ("diagram", "node_params")
    ]
    node_params = body.get("node_params", {})
    errors += _check_node_params(node_params)
    if errors:
        raise invalid(errors)
    assert isinstance(diagram, str)
    nodes, edges = _parse(diagram)
    existing, _ = _graph(state, project)
    known = {node_id for node_id, _ in existing}
    new = {node_id: label for node_id, label in nodes.items() if node_id not in known}
    unlabeled = [node_id for node_id, label in new.items() if label is None]
    if unlabeled:
        message = f"Unknown node id(s) {', '.join(unlabeled)}: define them with a label or use existing ids"
        raise invalid([("diagram", message)])
    canvas = state.canvases.setdefault(project.project_id, Canvas())
    canvas.added.update({node_id: label or node_id for node_id, label in new.items()})
    canvas.added_edges += edges
    warnings = ["The sandbox places the nodes on the canvas but does not run them."]
    for node_id, params in node_params.items():
        if node_id in nodes or node_id in known:
            canvas.node_params[node_id] = params
        else:
            warnings.append(f"node_params.{node_id}: no such node in the diagram; ignored")
    return {
        "project_id": project.project_id,
        "canvas_url": canvas_url(project.project_id, origin),
        "diagram": diagram,
        "created_node_count": len(new),
        "created_edge_count": len(edges),
        "warnings": warnings,
    }
