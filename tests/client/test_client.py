"""The FLORA client against a MockTransport playing the API, checked against the contract."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx2
import pytest

from flora_mcp import __version__
from flora_mcp.client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    FloraClient,
    FloraError,
    GenerationRequest,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from flora_mcp.client._errors import parse_retry_after
from tests.client._contract import BASE, check_request, contract, instance, response_schema

pytestmark = [
    pytest.mark.anyio,
    # openapi-core's own notice about the contract's `allowEmptyValue`, not about the client
    pytest.mark.filterwarnings("ignore:Use of allowEmptyValue:DeprecationWarning"),
]

KEY = "flora_sk_CANARY_d0e5n0t_l3ak"  # recognisable: must never show up in errors, reprs or logs

Handler = Callable[[httpx2.Request], httpx2.Response]


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


class Recorder:
    """Plays the API: answers with `handler` and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.handler(request)


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx2.Response(status, json=body, headers=headers)


def make_client(handler: Handler) -> tuple[FloraClient, Recorder]:
    """One attempt per call: these tests are about one answer each (retries: tests/client/test_retries.py)."""
    recorder = Recorder(handler)
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(recorder))
    return FloraClient(api_key=KEY, base_url=BASE, http=http, max_attempts=1), recorder


def body_of(request: httpx2.Request) -> Any:
    return json.loads(request.content)


PROJECT = instance(response_schema("/projects", "post", "201"), full=True)
RUN_STARTED = instance(response_schema("/generate", "post", "201"), full=True)
REQUEST = GenerationRequest(type="image", prompt="a red fox", workspace_id="ws_1", project_id="prj_1")


# Headers and bodies


async def test_every_request_carries_bearer_key_accept_and_user_agent() -> None:
    client, api = make_client(answer(200, {"workspaces": []}))
    await client.list_workspaces()
    headers = api.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == f"flora-mcp/{__version__}"
    assert "idempotency-key" not in headers
    assert str(api.requests[0].url) == f"{BASE}/workspaces"


async def test_each_post_sends_its_own_idempotency_key() -> None:
    client, api = make_client(
        lambda r: httpx2.Response(201, json=RUN_STARTED if "generate" in r.url.path else PROJECT)
    )
    await client.create_project("ws_1", "One")
    await client.create_project("ws_1", "One")
    await client.generate(REQUEST)
    keys = [r.headers["idempotency-key"] for r in api.requests]
    assert all(len(k) == 36 for k in keys)
    assert len(set(keys)) == 3


async def test_generate_body_leaves_out_none_fields() -> None:
    client, api = make_client(answer(201, RUN_STARTED))
    await client.generate(REQUEST)
    await client.generate(REQUEST.model_copy(update={"model": "t2i-flux-2-pro", "params": {"seed": 7}}))
    assert body_of(api.requests[0]) == {
        "type": "image",
        "prompt": "a red fox",
        "workspace_id": "ws_1",
        "project_id": "prj_1",
    }
    assert body_of(api.requests[1])["model"] == "t2i-flux-2-pro"
    assert body_of(api.requests[1])["params"] == {"seed": 7}
    assert api.requests[0].headers["content-type"] == "application/json"


async def test_create_project_sends_only_workspace_id_and_name() -> None:
    client, api = make_client(answer(201, PROJECT))
    await client.create_project("ws_1", "Spring")
    assert api.requests[0].method == "POST"
    assert body_of(api.requests[0]) == {"workspace_id": "ws_1", "name": "Spring"}


async def test_generate_and_create_project_send_requests_the_contract_accepts() -> None:
    client, api = make_client(
        lambda r: httpx2.Response(201, json=RUN_STARTED if "generate" in r.url.path else PROJECT)
    )
    await client.generate(REQUEST)
    await client.generate(REQUEST.model_copy(update={"model": "t2i-flux-2-pro", "params": {"seed": 7}}))
    await client.create_project("ws_1", "Spring")
    for request in api.requests:
        check_request(request)
    broken = httpx2.Request("POST", f"{BASE}/projects", json={"workspace_id": "ws_1", "title": "x"})
    with pytest.raises(Exception, match=r"(?i)invalid|valid"):  # the check is not vacuous
        check_request(broken)


async def test_none_query_params_are_dropped() -> None:
    client, api = make_client(answer(200, {"generations": [], "meta": {"next_cursor": None}}))
    await client.list_generations(project_id="prj_1", status="running")
    await client.list_generations()
    assert dict(api.requests[0].url.params) == {"project_id": "prj_1", "status": "running"}
    assert api.requests[1].url.query == b""


async def test_list_projects_and_models_send_their_filters() -> None:
    client, api = make_client(
        lambda r: httpx2.Response(
            200, json={"models": []} if r.url.path.endswith("models") else project_page([], None)
        )
    )
    await client.list_projects("ws_1", query="logo", limit=5, cursor="c1")
    await client.list_models("video")
    await client.list_models()
    assert dict(api.requests[0].url.params) == {
        "workspace_id": "ws_1",
        "query": "logo",
        "limit": "5",
        "cursor": "c1",
    }
    assert dict(api.requests[1].url.params) == {"type": "video"}
    assert api.requests[2].url.query == b""


async def test_ids_in_paths_stay_one_segment() -> None:
    client, api = make_client(answer(404, error_body("not_found", "Not found.")))
    with pytest.raises(NotFoundError):
        await client.get_run("run_1/../../workspaces")
    assert api.requests[0].url.raw_path == b"/api/v1/runs/run_1%2F..%2F..%2Fworkspaces"


# Error mapping


def contract_error_examples() -> Iterator[tuple[int, dict[str, Any]]]:
    for response in contract()["components"]["responses"].values():
        for example in response["content"]["application/json"]["examples"].values():
            # The description starts with the status ("400" or "400. Nothing was applied…").
            yield int(response["description"].split(".")[0]), example["value"]


EXPECTED_CLASS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    500: InternalServerError,
}


@pytest.mark.parametrize(("status", "body"), list(contract_error_examples()))
async def test_contract_error_examples_become_their_exception_class(
    status: int, body: dict[str, Any]
) -> None:
    client, _ = make_client(answer(status, body))
    with pytest.raises(APIStatusError) as caught:
        await client.list_workspaces()
    err = caught.value
    assert type(err) is EXPECTED_CLASS[status]
    assert err.status_code == status
    assert err.code == body["error"]["code"]
    assert err.message == body["error"]["message"]
    assert err.fields == [FieldError(**f) for f in body["error"].get("fields", [])]
    assert err.retry_after is None


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_json", BadRequestError),
        (401, "invalid_api_key", AuthenticationError),
        (503, "unknown_error", InternalServerError),
        (422, "input_validation_error", BadRequestError),  # no class for 422: the code decides
        (418, "teapot", APIStatusError),
    ],
)
async def test_status_picks_the_class_and_code_decides_for_unlisted_statuses(
    status: int, code: str, cls: type[APIStatusError]
) -> None:
    client, _ = make_client(answer(status, error_body(code, "Nope.")))
    with pytest.raises(APIStatusError) as caught:
        await client.list_workspaces()
    assert type(caught.value) is cls
    assert caught.value.code == code


async def test_str_of_a_validation_error_reads_well_for_an_agent() -> None:
    body = error_body(
        "input_validation_error", "Invalid request", [{"field": "prompt", "message": "Required"}]
    )
    client, _ = make_client(answer(400, body))
    with pytest.raises(BadRequestError) as caught:
        await client.generate(REQUEST)
    assert (
        str(caught.value)
        == "FLORA API error 400 (input_validation_error): Invalid request — prompt: Required"
    )


async def test_str_does_not_repeat_fields_already_in_the_message() -> None:
    body = error_body(
        "input_validation_error", "prompt: Required", [{"field": "prompt", "message": "Required"}]
    )
    client, _ = make_client(answer(400, body))
    with pytest.raises(BadRequestError) as caught:
        await client.generate(REQUEST)
    assert str(caught.value) == "FLORA API error 400 (input_validation_error): prompt: Required"


@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(502, text="<html>Bad Gateway</html>"),
        httpx2.Response(502, content=b""),
        httpx2.Response(502, json={"message": "upstream down"}),
        httpx2.Response(502, json={"error": "boom"}),
    ],
)
async def test_error_body_that_is_not_the_envelope_still_gives_the_right_class(
    response: httpx2.Response,
) -> None:
    client, _ = make_client(lambda r: response)
    with pytest.raises(InternalServerError) as caught:
        await client.get_run("run_1")
    err = caught.value
    assert (err.status_code, err.code, err.fields) == (502, None, [])
    assert str(err) == "HTTP 502 from FLORA (Bad Gateway)"


async def test_rate_limit_carries_retry_after_seconds() -> None:
    client, _ = make_client(
        answer(429, error_body("rate_limited", "Rate limit exceeded."), {"Retry-After": "3"})
    )
    with pytest.raises(RateLimitError) as caught:
        await client.list_models()
    assert caught.value.retry_after == 3.0
    assert str(caught.value) == "FLORA API error 429 (rate_limited): Rate limit exceeded. (retry after 3s)"


def test_retry_after_reads_delta_seconds_and_http_dates() -> None:
    now = time.time()
    in_ten = email.utils.formatdate(now + 10, usegmt=True)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert 8.0 <= (parse_retry_after(in_ten, now=now) or 0) <= 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # past: retry now
    assert parse_retry_after("-5") == 0.0
    for unreadable in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(unreadable) is None


async def test_retry_after_http_date_reaches_the_exception() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    client, _ = make_client(lambda r: httpx2.Response(503, text="busy", headers={"Retry-After": when}))
    with pytest.raises(InternalServerError) as caught:
        await client.list_workspaces()
    assert 25.0 <= (caught.value.retry_after or 0) <= 30.0


async def test_transport_failures_become_connection_errors() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    def stall(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    client, _ = make_client(refuse)
    with pytest.raises(APIConnectionError) as refused:
        await client.list_workspaces()
    assert type(refused.value) is APIConnectionError
    assert refused.value.request.url.path == "/api/v1/workspaces"

    client, _ = make_client(stall)
    with pytest.raises(APITimeoutError) as timed_out:
        await client.generate(REQUEST)
    assert timed_out.value.request.method == "POST"
    assert "idempotency-key" in timed_out.value.request.headers  # kept: a retry layer may want it


async def test_success_body_that_breaks_the_contract_is_a_validation_error() -> None:
    # A required field missing or of the wrong type; an unknown enum value is not a breach
    # (tests/client/test_forward_compat.py).
    client, _ = make_client(answer(200, {"run_id": "run_1", "status": ["completed"], "progress": 5}))
    with pytest.raises(APIResponseValidationError) as caught:
        await client.get_run("run_1")
    assert caught.value.status_code == 200
    assert "status" in str(caught.value)
    assert "created_at" in str(caught.value)

    client, _ = make_client(lambda r: httpx2.Response(200, text="<html>login</html>"))
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        await client.list_workspaces()


async def test_every_failure_is_a_flora_error() -> None:
    for handler in (answer(500, {}), lambda r: httpx2.Response(200, text="x")):
        client, _ = make_client(handler)
        with pytest.raises(FloraError):
            await client.list_workspaces()


# Contract shapes


Call = Callable[[FloraClient], Awaitable[Any]]
OPERATIONS: list[tuple[str, str, str, Call]] = [
    ("/workspaces", "get", "200", lambda c: c.list_workspaces()),
    ("/projects", "get", "200", lambda c: c.list_projects("ws_1")),
    ("/projects", "post", "201", lambda c: c.create_project("ws_1", "P")),
    ("/projects/{projectId}", "get", "200", lambda c: c.get_project("prj_1")),
    ("/models", "get", "200", lambda c: c.list_models("image")),
    ("/generate", "post", "201", lambda c: c.generate(REQUEST)),
    ("/runs/{runId}", "get", "200", lambda c: c.get_run("run_1")),
    ("/generations", "get", "200", lambda c: c.list_generations()),
]


@pytest.mark.parametrize("full", [True, False], ids=["all-properties", "required-only-with-nulls"])
@pytest.mark.parametrize(
    ("path", "method", "status", "call"), OPERATIONS, ids=[f"{m} {p}" for p, m, _, _ in OPERATIONS]
)
async def test_client_reads_every_body_the_contract_allows(
    path: str, method: str, status: str, call: Call, full: bool
) -> None:
    body = instance(response_schema(path, method, status), full=full)
    client, api = make_client(answer(int(status), body))
    result = await call(client)
    assert api.requests[0].method == method.upper()
    assert result is not None
    if full:  # nothing the contract defines was dropped on the way
        dumped = json.dumps(
            [r.model_dump() for r in result] if isinstance(result, list) else result.model_dump()
        )
        assert "x" in dumped or "ws_abc123" in dumped


async def test_contract_generations_example_parses_to_a_page() -> None:
    example = contract()["paths"]["/generations"]["get"]["responses"]["200"]["content"]["application/json"]
    client, _ = make_client(answer(200, example["examples"]["lastPage"]["value"]))
    page = await client.list_generations(workspace_id="ws_abc123")
    assert page.next_cursor is None
    (generation,) = page.items
    assert generation.status == "completed"
    assert generation.model is not None and generation.model.model_id == "t2i-flux-2-pro"
    assert [(o.type, o.url) for o in generation.outputs] == [
        ("imageUrl", "https://media.flora.ai/output.png")
    ]


async def test_model_catalogue_keeps_params_and_options() -> None:
    model = instance(response_schema("/models", "get", "200"), full=True)["models"][0]
    model["params"][0] |= {"type": "aspect_ratio_v2", "options": [{"label": "Square", "value": "1:1"}]}
    client, _ = make_client(answer(200, {"models": [model]}))
    (parsed,) = await client.list_models("image")
    param = parsed.params[0]
    assert (
        param.type == "aspect_ratio_v2"
    )  # a param type newer than the contract does not break the catalogue
    assert param.options is not None and param.options[0].value == "1:1"
    assert param.properties == {"extra_key": {"min": 2.5, "max": 2.5, "default": 2.5}}


async def test_unknown_extra_fields_from_the_api_are_ignored() -> None:
    run = {"run_id": "run_1", "status": "running", "progress": 40, "created_at": 1, "new_field": {"a": 1}}
    client, _ = make_client(answer(200, run))
    parsed = await client.get_run("run_1")
    assert parsed.outputs == []
    assert "new_field" not in parsed.model_dump()


def test_generation_request_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="callback_url"):
        GenerationRequest.model_validate({**REQUEST.model_dump(), "callback_url": "https://x"})


# Pagination


def project_page(ids: list[str], cursor: str | None) -> dict[str, Any]:
    return {"projects": [{**PROJECT, "project_id": i} for i in ids], "meta": {"next_cursor": cursor}}


async def test_list_projects_returns_a_page_with_cursor_and_estimate() -> None:
    body = project_page(["prj_a"], "c2")
    body["meta"]["total_estimate"] = 40
    client, _ = make_client(answer(200, body))
    page = await client.list_projects("ws_1")
    assert [p.project_id for p in page.items] == ["prj_a"]
    assert (page.next_cursor, page.total_estimate) == ("c2", 40)


async def test_iter_projects_follows_cursors_until_the_last_page() -> None:
    pages = {
        None: project_page(["prj_a", "prj_b"], "c2"),
        "c2": project_page(["prj_c"], "c3"),
        "c3": project_page(["prj_d"], None),
    }
    client, api = make_client(lambda r: httpx2.Response(200, json=pages[r.url.params.get("cursor")]))
    ids = [p.project_id async for p in client.iter_projects("ws_1", page_size=2)]
    assert ids == ["prj_a", "prj_b", "prj_c", "prj_d"]
    assert [r.url.params.get("cursor") for r in api.requests] == [None, "c2", "c3"]
    assert {r.url.params["limit"] for r in api.requests} == {"2"}


async def test_iter_projects_stops_when_the_server_repeats_a_cursor() -> None:
    # What the Prism mock does: the same next_cursor on every page.
    client, api = make_client(answer(200, project_page(["prj_a"], "eyJvZmZzZXQiOjIwfQ")))
    ids = [p.project_id async for p in client.iter_projects("ws_1")]
    assert ids == ["prj_a", "prj_a"]
    assert len(api.requests) == 2


async def test_iter_projects_stops_on_an_empty_page() -> None:
    cursors = iter(["c1", "c2", "c3"])
    client, api = make_client(lambda r: httpx2.Response(200, json=project_page([], next(cursors))))
    assert [p async for p in client.iter_projects("ws_1")] == []
    assert len(api.requests) == 1


def test_iter_projects_refuses_a_page_size_the_api_would_refuse() -> None:
    client, _ = make_client(answer(200, {}))
    for size in (0, 101):
        with pytest.raises(ValueError, match="page_size"):
            client.iter_projects("ws_1", page_size=size)


# Secrets and pools


async def test_api_key_never_appears_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused {request.url}", request=request)

    failures: list[FloraError] = []
    handlers: list[Handler] = [
        answer(401, error_body("unauthorized", "Invalid API key.")),
        answer(
            400, error_body("input_validation_error", "bad", [{"field": "prompt", "message": "Required"}])
        ),
        lambda r: httpx2.Response(502, text="gateway"),
        answer(201, {"not": "a run"}),
        refuse,
    ]
    for handler in handlers:
        client, _ = make_client(handler)
        assert KEY not in repr(client) and KEY not in str(client)
        with pytest.raises(FloraError) as caught:
            await client.generate(REQUEST)
        failures.append(caught.value)

    for err in failures:
        request = getattr(err, "request", None)
        assert request is not None
        shown = [str(err), repr(err), repr(request), repr(request.headers), str(vars(err))]
        if err.__cause__ is not None:  # the httpx error chained for debugging shows no key either
            shown += [str(err.__cause__), repr(err.__cause__), repr(getattr(err.__cause__, "request", ""))]
        assert not any(KEY in text for text in shown), type(err)
        assert "authorization" not in request.headers
    assert caplog.records  # one debug line per request ...
    assert all(KEY not in r.getMessage() and "Bearer" not in r.getMessage() for r in caplog.records)


async def test_each_request_logs_method_path_status_and_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flora_mcp.client")
    client, _ = make_client(answer(200, {"workspaces": []}))
    await client.list_workspaces()
    (record,) = [r for r in caplog.records if r.name.startswith("flora_mcp.client")]
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith("GET /api/v1/workspaces -> 200 in ")


async def test_shared_pool_is_not_closed_and_gets_no_default_auth_header() -> None:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer(200, {"workspaces": []})))
    async with FloraClient(api_key=KEY, base_url=BASE, http=http) as client:
        await client.list_workspaces()
    assert not http.is_closed
    assert "authorization" not in http.headers
    await http.aclose()


async def test_clients_sharing_a_pool_each_send_their_own_key() -> None:
    recorder = Recorder(answer(200, {"workspaces": []}))
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(recorder)) as http:
        alice = FloraClient(api_key="key-alice", base_url=BASE, http=http)
        bob = FloraClient(api_key="key-bob", base_url=BASE, http=http)
        await alice.list_workspaces()
        await bob.list_workspaces()
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer key-alice", "Bearer key-bob"]


async def test_own_pool_is_closed_by_aclose() -> None:
    client = FloraClient(api_key=KEY)
    await client.aclose()
    assert client._http.is_closed


def test_empty_api_key_is_refused() -> None:
    with pytest.raises(ValueError, match="api_key"):
        FloraClient(api_key="")
