"""HTTP handlers for technique and action runs: techniques and actions listed and read, runs started
with their inputs checked and loaded (from FLORA's own hosts only), followed, and their output files."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from flora_mcp.sandbox import _validate as check
from flora_mcp.sandbox._actions import ACTIONS, Action
from flora_mcp.sandbox._assets import Rejected, asset_bytes, fetch
from flora_mcp.sandbox._errors import FieldError, invalid, not_found
from flora_mcp.sandbox._jobs import Job, Kind, Loaded, Made, WorkFailed, outputs_of, started_json, status_json
from flora_mcp.sandbox._request import PUBLIC, Json, body_object, origin, paged, strings, workspace_filter
from flora_mcp.sandbox._store import FAIL_MARKER, Project, SandboxState, ms
from flora_mcp.sandbox._techniques import TECHNIQUES, Technique, find_technique
from flora_mcp.sandbox._views import flora_origins

if TYPE_CHECKING:
    from flora_mcp.sandbox._app import Api, Caller

_FOREIGN = (
    "Failed to load inputs: {url} is not on a FLORA host; FLORA reads inputs only from its own media "
    "and from uploads made through POST /assets. Upload the file as an asset first."
)


def _on_flora(state: SandboxState, url: str, home: str) -> bool:
    """Whether FLORA would read this URL: one on the sandbox itself (outputs or uploads)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" in flora_origins(home, state.storage_origin)


async def _load(state: SandboxState, home: str, type_: str, url: str | None, text: str | None) -> Loaded:
    """An input's content; raises Rejected when FLORA could not read it. `home` is the origin called."""
    if url is None:
        return Loaded(type_, text=text)
    if not _on_flora(state, url, home):
        raise Rejected(_FOREIGN.format(url=url))
    content = asset_bytes(state, url)
    if content is None:
        try:
            content = await fetch(url)  # the sandbox's own media, e.g. a generation's output
        except Rejected as exc:
            raise Rejected(f"Failed to load inputs: {exc}") from None
    if type_ == "text":
        return Loaded(type_, text=content.decode("utf-8", errors="replace"))
    return Loaded(type_, content=content)


async def _work(call: Callable[[], list[Made]]) -> tuple[list[Made], tuple[str, str] | None]:
    try:
        return await anyio.to_thread.run_sync(call), None
    except WorkFailed as exc:
        return [], ("action_error", str(exc))


def _start(
    state: SandboxState,
    *,
    kind: Kind,
    workspace_id: str,
    project: Project | None,
    subject: tuple[str, str],
    cost: float,
    seconds: float,
    urls: tuple[str, ...],
    made: list[Made],
    failure: tuple[str, str] | None,
) -> Job:
    now = state.clock()
    job = Job(
        run_id=f"run_{state._token()}",
        kind=kind,
        workspace_id=workspace_id,
        project_id=project.project_id if project else None,
        subject_id=subject[0],
        subject_name=subject[1],
        cost=cost,
        created=now,
        duration=max(0.0, seconds * state.speed),
        inputs=urls,
        outputs=outputs_of(made) if failure is None else (),
        failure=failure,
        seq=state._next_seq(),
    )
    state.jobs[job.run_id] = job
    if project is not None:
        project.last_modified, project.seq = ms(now), state._next_seq()
    return job


def job_status(api: Api, request: Request, caller: Caller, run_id: str) -> Json | None:
    """`GET /runs/{id}` of a technique or action run; None when `run_id` is none of the caller's."""
    job = api.state.jobs.get(run_id)
    if job is None or job.workspace_id != caller.workspace.workspace_id:
        return None
    return status_json(job, api.state.clock(), origin(request))


# techniques


def _technique(key: str) -> Technique:
    technique = find_technique(key)
    if technique is None:
        raise not_found(f"Technique '{key}' not found.")
    return technique


async def list_techniques(api: Api, request: Request, caller: Caller) -> Json:
    workspace_filter(api, request, caller)
    query = (request.query_params.get("query") or "").casefold()
    found = [t for t in TECHNIQUES if query in f"{t.slug} {t.name}".casefold()]  # by name, as FLORA
    page, meta = paged(found, request)
    return {"techniques": [t.to_json() for t in page], "meta": meta}


async def get_technique(api: Api, request: Request, caller: Caller) -> Json:
    return _technique(request.path_params["technique_id"]).to_json()


async def _run_technique(
    api: Api,
    request: Request,
    caller: Caller,
    technique: Technique,
    given: Mapping[str, tuple[str | None, Any]],
) -> Job:
    errors = technique.check(given, "inputs")
    if errors:
        raise invalid(errors)
    ports = {p.id: p for p in technique.inputs}
    loaded: dict[str, Loaded] = {}
    urls: list[str] = []
    failure: tuple[str, str] | None = None
    for input_id, (_, value) in given.items():
        kind = ports[input_id].type
        if kind == "text":
            loaded[input_id] = Loaded("text", text=value)
            if FAIL_MARKER in value:
                failure = ("provider_error", "The technique failed (an input asked the sandbox to fail).")
            continue
        urls.append(value)
        try:
            loaded[input_id] = await _load(api.state, origin(request), kind, value, None)
        except Rejected as exc:
            failure = ("input_load_error", str(exc))
    made: list[Made] = []
    if failure is None:
        made, failure = await _work(functools.partial(technique.make, loaded))
    return _start(
        api.state,
        kind="technique",
        workspace_id=caller.workspace.workspace_id,
        project=None,  # FLORA runs a technique with no project of the caller's
        subject=(technique.technique_id, technique.name),
        cost=technique.run_cost,
        seconds=technique.estimated_seconds,
        urls=tuple(urls),
        made=made,
        failure=failure,
    )


async def start_technique_run(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    """`POST /techniques/{id}/runs`: inputs as `[{id, type, value}]`; a body `idempotency_key` replays."""
    technique = _technique(request.path_params["technique_id"])
    errors = body_object(body, ("inputs", "mode"), ("callback_url", "idempotency_key"))
    strings(body, ("callback_url", "idempotency_key"), errors)
    if "mode" in body and body["mode"] not in ("async", "stream"):
        errors.append(("mode", "Expected one of: async, stream"))
    given: dict[str, tuple[str | None, Any]] = {}
    inputs = body.get("inputs", [])
    if not isinstance(inputs, list) or ("inputs" in body and not inputs):
        errors.append(("inputs", "Expected a non-empty array of {id, type, value}"))
        inputs = []
    for i, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "type" not in item:
            errors.append((f"inputs[{i}]", "Expected {id, type, value}"))
        elif item["type"] not in ("text", "imageUrl", "videoUrl"):
            errors.append((f"inputs[{i}].type", "Expected one of: text, imageUrl, videoUrl"))
        elif item["id"] in given:
            errors.append((f"inputs[{i}].id", f"Input '{item['id']}' is given twice"))
        else:
            given[item["id"]] = (item["type"], item.get("value"))
    if errors:
        raise invalid(errors)
    home, scope = origin(request), caller.workspace.workspace_id
    key = body.get("idempotency_key")
    if key is not None and (scope, key) in api.state.job_keys:
        return 200, status_json(api.state.jobs[api.state.job_keys[(scope, key)]], api.state.clock(), home)
    job = await _run_technique(api, request, caller, technique, given)
    if key is not None:
        api.state.job_keys[(scope, key)] = job.run_id
    return 201, status_json(job, api.state.clock(), home)


async def create_technique_run(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    """`POST /runs/technique`: inputs as an object keyed by input id (a value, or `{type?, value}`)."""
    errors = body_object(body, ("technique_id", "workspace_id"), ("inputs",))
    strings(body, ("technique_id", "workspace_id"), errors)
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        errors.append(("inputs", "Expected an object keyed by the technique's input ids"))
    if errors:
        raise invalid(errors)
    api._own_workspace(caller, body["workspace_id"])
    technique = _technique(body["technique_id"])
    given = {
        k: ((v.get("type"), v.get("value")) if isinstance(v, dict) else (None, v)) for k, v in inputs.items()
    }
    job = await _run_technique(api, request, caller, technique, given)
    return 201, started_json(job, origin(request))


async def get_technique_run(api: Api, request: Request, caller: Caller) -> Json:
    technique = _technique(request.path_params["technique_id"])
    run_id = check.check_id(request.path_params["run_id"], "run_", "runId")
    job = api.state.jobs.get(run_id)
    if (
        job is None
        or job.kind != "technique"
        or job.subject_id != technique.technique_id
        or job.workspace_id != caller.workspace.workspace_id
    ):
        raise not_found(f"Run '{run_id}' of technique '{technique.slug}' not found.")
    return status_json(job, api.state.clock(), origin(request))


# actions

_ACTION_INPUT_TYPES = ("image", "video", "audio", "text")


def _action(action_id: Any, field: str) -> Action:
    action = ACTIONS.get(action_id) if isinstance(action_id, str) else None
    if action is None:
        available = ", ".join(ACTIONS)
        raise invalid([(field, f"Action {action_id!r} is not released. Available: {available}")])
    return action


async def list_actions(api: Api, request: Request, caller: Caller) -> Json:
    return {"actions": [a.to_json() for a in ACTIONS.values()]}


async def get_action(api: Api, request: Request, caller: Caller) -> Json:
    action_id = request.path_params["action_id"]
    if action_id not in ACTIONS:
        raise not_found(f"Action '{action_id}' not found. Released: {', '.join(ACTIONS)}")
    return ACTIONS[action_id].to_json()


def _action_inputs(body: Json, errors: list[FieldError]) -> list[Json]:
    inputs = body.get("inputs")
    if "inputs" in body and (not isinstance(inputs, list) or not inputs):
        errors.append(("inputs", "Expected a non-empty array of {type, url?, text?, name?}"))
        return []
    checked: list[Json] = []
    for i, item in enumerate(inputs or []):
        if not isinstance(item, dict):
            errors.append((f"inputs[{i}]", "Expected an object"))
            continue
        errors += [
            (f"inputs[{i}].{k}", "Unrecognized field")
            for k in item
            if k not in ("type", "url", "text", "name")
        ]
        if item.get("type") not in _ACTION_INPUT_TYPES:
            errors.append((f"inputs[{i}].type", f"Expected one of: {', '.join(_ACTION_INPUT_TYPES)}"))
        if "url" in item and (
            not isinstance(item["url"], str) or urlsplit(item["url"]).scheme not in ("http", "https")
        ):
            errors.append((f"inputs[{i}].url", "Expected an http(s) URL"))
        errors += [
            (f"inputs[{i}].{k}", "Expected a string")
            for k in ("text", "name")
            if k in item and not isinstance(item[k], str)
        ]
        checked.append(item)
    return checked


async def create_action_run(api: Api, request: Request, caller: Caller, body: Any) -> tuple[int, Json]:
    errors = body_object(body, ("action_id", "workspace_id", "project_id", "inputs"), ("params",))
    strings(body, ("workspace_id", "project_id"), errors)
    inputs = _action_inputs(body, errors)
    params = body.get("params", {})
    if not isinstance(params, dict):
        errors.append(("params", "Expected an object"))
        params = {}
    if errors:
        raise invalid(errors)
    action = _action(body["action_id"], "action_id")
    api._own_workspace(caller, body["workspace_id"])
    project = api._own_project(caller, body["project_id"])
    problems = action.check(inputs, params)
    if problems:
        raise invalid(problems)
    loaded: list[Loaded] = []
    failure: tuple[str, str] | None = None
    for item in inputs:
        try:
            loaded.append(
                await _load(api.state, origin(request), item["type"], item.get("url"), item.get("text"))
            )
        except Rejected as exc:
            failure = ("input_load_error", str(exc))
    made: list[Made] = []
    if failure is None:
        made, failure = await _work(functools.partial(action.work, loaded, action.resolved(params)))
    job = _start(
        api.state,
        kind="action",
        workspace_id=caller.workspace.workspace_id,
        project=project,
        subject=(action.action_id, action.name),
        cost=action.charged_cost,
        seconds=action.estimated_seconds,
        urls=tuple(item["url"] for item in inputs if "url" in item),
        made=made,
        failure=failure,
    )
    return 201, started_json(job, origin(request))


async def output_file(state: SandboxState, request: Request) -> Response:
    job = state.jobs.get(request.path_params["run_id"])
    output = job.output(request.path_params["file"]) if job is not None else None
    if job is None or output is None or job.progress_at(state.clock()).status != "completed":
        return not_found("No such output file.").response()
    return Response(output.content, media_type=output.content_type, headers=PUBLIC)
