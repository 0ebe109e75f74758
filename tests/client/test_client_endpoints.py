"""Assets, techniques, actions and the canvas: requests the contract accepts, answers it allows.

Every request the client sends here is checked against the contract's request schemas
(openapi-core), and every answer is built from the contract's response schemas, so the sandbox
(another team's reading of the same contract) is not what these tests trust.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest

from flora_mcp.client import (
    Action,
    ActionInput,
    AssetFailedError,
    CanvasNodeParams,
    FloraClient,
    FloraError,
    Page,
    Technique,
    UploadError,
)
from tests.client._contract import BASE, check_request, contract, instance, response_schema
from tests.fakes import FakeTime

pytestmark = [
    pytest.mark.anyio,
    # openapi-core's own notice about the contract's `allowEmptyValue`, not about the client
    pytest.mark.filterwarnings("ignore:Use of allowEmptyValue:DeprecationWarning"),
]

KEY = "flora_sk_CANARY_3ndp01nts_n0t_l3ak"
STORAGE = "https://upload.imagekit.io/api/v1/files/upload"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

Answer = Callable[[httpx2.Request], httpx2.Response]


class API:
    """Plays FLORA and its upload storage: answers by "METHOD path-regex" (the path after the host),
    each route with a list of answers used in turn (the last one repeats); keeps every request."""

    def __init__(self, routes: dict[str, list[Answer]]) -> None:
        self.routes = {re.compile(k): v for k, v in routes.items()}
        self.used: dict[re.Pattern[str], int] = {}
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        line = f"{request.method} {request.url.host}{request.url.path}"
        for pattern, answers in self.routes.items():
            if pattern.fullmatch(line):
                n = self.used.get(pattern, 0)
                self.used[pattern] = n + 1
                return answers[min(n, len(answers) - 1)](request)
        raise AssertionError(f"unexpected request {line}")

    def sent(self, method: str, path_end: str) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(path_end)]


def ok(status: int, body: Any) -> Answer:
    return lambda r: httpx2.Response(status, json=body)


def make_client(routes: dict[str, list[Answer]], **options: Any) -> tuple[FloraClient, API, FakeTime]:
    api = API(routes)
    fake = FakeTime()
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(api))
    options = {"sleep": fake.sleep, "clock": fake.clock} | options
    return FloraClient(api_key=KEY, base_url=BASE, http=http, **options), api, fake


def body_of(request: httpx2.Request) -> Any:
    return json.loads(request.content)


def asset(status: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = instance(response_schema("/assets/{assetId}", "get", "200"), full=True)
    return body | {"asset_id": "asset_1", "status": status, "url": "https://media.flora.ai/a.png"} | extra


def reservation(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = instance(response_schema("/assets", "post", "201"), full=True)
    upload = {
        "url": STORAGE,
        "method": "POST",
        "content_type": "multipart/form-data",
        "file_field": "file",
        "form_fields": {"signature": "sig_1", "token": "tok_1", "expire": "1767225600"},
    }
    return (
        body
        | {"asset_id": "asset_1", "uploaded_via": "signed_url", "status": "pending_upload"}
        | {"upload": upload}
        | extra
    )


COMPLETED = instance(response_schema("/assets/{assetId}/complete", "post", "200"), full=True) | {
    "asset_id": "asset_1",
    "status": "pending_upload",
}
HOST = "flora.test/api/v1"


def upload_routes(
    storage: list[Answer], assets: list[Answer], reserved: dict[str, Any] | None = None
) -> dict[str, list[Answer]]:
    """FLORA's three calls of a signed upload, the storage host, and the asset reads after it."""
    return {
        f"POST {HOST}/assets": [ok(201, reserved or reservation())],
        r"POST upload\.imagekit\.io/api/v1/files/upload": storage,
        f"POST {HOST}/assets/asset_1/complete": [ok(200, COMPLETED)],
        f"GET {HOST}/assets/asset_1": assets,
    }


# Assets: the signed upload


async def test_upload_asset_reserves_sends_the_bytes_completes_and_waits_until_ready() -> None:
    client, api, fake = make_client(
        upload_routes(
            storage=[ok(204, None)], assets=[ok(200, asset("pending_upload")), ok(200, asset("ready"))]
        )
    )
    uploaded = await client.upload_asset("ws_1", PNG, "image/png", "mug.png", folder="refs")

    assert (uploaded.asset_id, uploaded.status, uploaded.url) == (
        "asset_1",
        "ready",
        "https://media.flora.ai/a.png",
    )
    assert [f"{r.method} {r.url.host}{r.url.path}" for r in api.requests] == [
        f"POST {HOST}/assets",
        "POST upload.imagekit.io/api/v1/files/upload",
        f"POST {HOST}/assets/asset_1/complete",
        f"GET {HOST}/assets/asset_1",
        f"GET {HOST}/assets/asset_1",
    ]
    reserve, _, complete = api.requests[:3]
    assert body_of(reserve) == {
        "source": "signed-url",
        "workspace_id": "ws_1",
        "folder": "refs",
        "content_type": "image/png",
        "file_name": "mug.png",
    }
    for request in (reserve, complete, *api.requests[3:]):
        check_request(request)
    assert reserve.headers["idempotency-key"] != complete.headers["idempotency-key"]
    assert fake.waits == [1.0]  # one pause between the two reads of the asset


async def test_the_bytes_go_as_floras_form_fields_first_then_the_file_without_the_key() -> None:
    client, api, _ = make_client(upload_routes(storage=[ok(201, {})], assets=[ok(200, asset("ready"))]))
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    (storage,) = [r for r in api.requests if r.url.host == "upload.imagekit.io"]
    assert "authorization" not in storage.headers  # a signed URL carries its own authorisation
    assert "idempotency-key" not in storage.headers
    assert storage.headers["content-type"].startswith("multipart/form-data; boundary=")
    content = storage.content
    positions = [
        content.index(f'name="{name}"'.encode()) for name in ("signature", "token", "expire", "file")
    ]
    assert positions == sorted(positions)
    assert b'filename="mug.png"' in content and b"Content-Type: image/png" in content
    assert PNG in content


async def test_the_key_goes_to_an_upload_url_only_on_floras_own_origin() -> None:
    own = reservation(upload={"url": f"{BASE}/uploads/asset_1", "form_fields": {}})
    routes = upload_routes(storage=[], assets=[ok(200, asset("ready"))], reserved=own)
    routes[f"POST {HOST}/uploads/asset_1"] = [ok(204, None)]
    client, api, _ = make_client(routes)
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    (sent,) = api.sent("POST", "/uploads/asset_1")
    assert sent.headers["authorization"] == f"Bearer {KEY}"

    lookalike = reservation(
        upload={"url": "https://flora.test:8443/api/v1/uploads/asset_1", "form_fields": {}}
    )
    routes = upload_routes(storage=[], assets=[ok(200, asset("ready"))], reserved=lookalike)
    routes[f"POST {HOST}/uploads/asset_1"] = [ok(204, None)]
    client, api, _ = make_client(routes)
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    (sent,) = api.sent("POST", "/uploads/asset_1")
    assert "authorization" not in sent.headers  # another port is another origin


async def test_an_upload_url_without_a_form_takes_the_raw_bytes_by_put() -> None:
    bare = reservation(upload=None, upload_url="https://storage.googleapis.com/bucket/asset_1?sig=x")
    routes = upload_routes(storage=[], assets=[ok(200, asset("ready"))], reserved=bare)
    routes[r"PUT storage\.googleapis\.com/bucket/asset_1"] = [ok(200, None)]
    client, api, _ = make_client(routes)
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    (put,) = api.sent("PUT", "/bucket/asset_1")
    assert put.content == PNG
    assert put.headers["content-type"] == "image/png"
    assert "authorization" not in put.headers


async def test_a_storage_hiccup_is_retried_with_the_same_bytes() -> None:
    client, api, fake = make_client(
        upload_routes(
            storage=[lambda r: httpx2.Response(503, text="busy"), ok(204, None)],
            assets=[ok(200, asset("ready"))],
        )
    )
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    first, second = [r for r in api.requests if r.url.host == "upload.imagekit.io"]
    assert first.content == second.content and PNG in first.content
    assert len(fake.waits) == 1


async def test_storage_refusing_the_bytes_is_an_upload_error_and_nothing_is_completed() -> None:
    refuse = lambda r: httpx2.Response(403, text="<Error>SignatureDoesNotMatch</Error>")  # noqa: E731
    client, api, _ = make_client(upload_routes(storage=[refuse], assets=[ok(200, asset("ready"))]))
    with pytest.raises(UploadError) as caught:
        await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    err = caught.value
    assert err.status_code == 403
    assert "asset_1" in str(err) and "upload.imagekit.io" in str(err)
    assert KEY not in str(err) and KEY not in repr(err)
    assert not api.sent("POST", "/complete")


async def test_a_reservation_without_any_upload_url_is_reported_not_guessed() -> None:
    client, api, _ = make_client(
        upload_routes(storage=[], assets=[], reserved=reservation(upload=None, upload_url=None))
    )
    with pytest.raises(FloraError, match="without an upload URL"):
        await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    assert len(api.requests) == 1


async def test_an_asset_flora_could_not_process_raises_with_its_reason() -> None:
    failed = asset("failed", failure_message="Unsupported image format")
    client, _, _ = make_client(upload_routes(storage=[ok(204, None)], assets=[ok(200, failed)]))
    with pytest.raises(AssetFailedError) as caught:
        await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    assert caught.value.asset_id == "asset_1"
    assert str(caught.value) == "FLORA could not process asset asset_1: Unsupported image format"


async def test_an_asset_still_processing_when_the_wait_ends_is_returned_as_it_is() -> None:
    client, api, fake = make_client(
        upload_routes(storage=[ok(204, None)], assets=[ok(200, asset("pending_upload"))])
    )
    pending = await client.upload_asset("ws_1", PNG, "image/png", "mug.png", ready_timeout=5)
    assert pending.status == "pending_upload"
    assert sum(fake.waits) <= 5
    assert len(api.sent("GET", "/assets/asset_1")) == len(fake.waits) + 1


async def test_upload_asset_refuses_empty_data() -> None:
    client, api, _ = make_client({})
    with pytest.raises(ValueError, match="empty"):
        await client.upload_asset("ws_1", b"", "image/png", "x.png")
    assert api.requests == []


async def test_create_asset_from_url_lets_flora_fetch_it_and_returns_it_ready() -> None:
    answer = reservation(uploaded_via="url", status="pending_upload", upload=None)
    client, api, _ = make_client(
        {
            f"POST {HOST}/assets": [ok(201, answer)],
            f"GET {HOST}/assets/asset_1": [ok(200, asset("ready"))],
        }
    )
    made = await client.create_asset_from_url(
        "ws_1", "https://example.com/mug.png", file_name="mug.png", idempotency_key="key-1"
    )
    assert made.status == "ready"
    create = api.requests[0]
    check_request(create)
    assert body_of(create) == {
        "source": "https://example.com/mug.png",
        "workspace_id": "ws_1",
        "file_name": "mug.png",
    }
    assert create.headers["idempotency-key"] == "key-1"


async def test_list_assets_sends_its_filters_and_reads_a_page() -> None:
    page = instance(response_schema("/assets", "get", "200"), full=True)
    client, api, _ = make_client({f"GET {HOST}/assets": [ok(200, page)]})
    parsed = await client.list_assets("ws_1", project_id="prj_1", query="mug", limit=10, cursor="c1")
    check_request(api.requests[0])
    assert dict(api.requests[0].url.params) == {
        "workspace_id": "ws_1",
        "project_id": "prj_1",
        "query": "mug",
        "limit": "10",
        "cursor": "c1",
    }
    assert len(parsed.items) == 1 and parsed.next_cursor == page["meta"]["next_cursor"]


# Techniques, actions, canvas: request and answer shapes

Call = Callable[[FloraClient], Awaitable[Any]]
INPUT = ActionInput(type="image", url="https://media.flora.ai/a.png")
OPERATIONS: list[tuple[str, str, str, str, Call]] = [
    ("/assets/{assetId}", "get", "200", "assets/asset_1", lambda c: c.get_asset("asset_1")),
    ("/techniques", "get", "200", "techniques", lambda c: c.list_techniques("ws_1", query="logo", limit=5)),
    (
        "/techniques/{techniqueId}",
        "get",
        "200",
        "techniques/product-shot",
        lambda c: c.get_technique("product-shot"),
    ),
    (
        "/runs/technique",
        "post",
        "201",
        "runs/technique",
        lambda c: c.run_technique("tech_1", "ws_1", {"image": "https://media.flora.ai/a.png"}),
    ),
    (
        "/techniques/{techniqueId}/runs/{runId}",
        "get",
        "200",
        "techniques/tech_1/runs/run_1",
        lambda c: c.get_technique_run("tech_1", "run_1"),
    ),
    ("/actions", "get", "200", "actions", lambda c: c.list_actions()),
    ("/actions/{actionId}", "get", "200", "actions/rotate-image", lambda c: c.get_action("rotate-image")),
    (
        "/runs/action",
        "post",
        "201",
        "runs/action",
        lambda c: c.run_action("rotate-image", "ws_1", "prj_1", [INPUT], {"angle": "90"}),
    ),
    ("/projects/{projectId}/canvas", "get", "200", "projects/prj_1/canvas", lambda c: c.get_canvas("prj_1")),
    (
        "/projects/{projectId}/canvas",
        "patch",
        "200",
        "projects/prj_1/canvas",
        lambda c: c.patch_canvas(
            "prj_1",
            'graph LR\n  a["Photo (Image)"]\n  b["Ad (Image)"]\n  a --> b',
            {"b": CanvasNodeParams(prompt="an ad", model="i2i-flux-kontext", aspect_ratio="1:1")},
        ),
    ),
]


@pytest.mark.parametrize("full", [True, False], ids=["all-properties", "required-only-with-nulls"])
@pytest.mark.parametrize(
    ("path", "method", "status", "sent", "call"),
    OPERATIONS,
    ids=[f"{m} {p}" for p, m, _, _, _ in OPERATIONS],
)
async def test_each_endpoint_sends_what_the_contract_accepts_and_reads_what_it_allows(
    path: str, method: str, status: str, sent: str, call: Call, full: bool
) -> None:
    body = instance(response_schema(path, method, status), full=full)
    client, api, _ = make_client({f"{method.upper()} {HOST}/{sent}": [ok(int(status), body)]})
    result = await call(client)
    (request,) = api.requests
    check_request(request)
    if method in ("post", "patch"):
        assert len(request.headers["idempotency-key"]) == 36
    else:
        assert "idempotency-key" not in request.headers
    assert result is not None


async def test_run_technique_sends_inputs_keyed_by_input_id() -> None:
    started = instance(response_schema("/runs/technique", "post", "201"), full=True) | {"type": "technique"}
    client, api, _ = make_client({f"POST {HOST}/runs/technique": [ok(201, started)]})
    run = await client.run_technique(
        "tech_product-shot",
        "ws_1",
        {"product": "https://media.flora.ai/a.png", "style": "studio"},
        idempotency_key="k",
    )
    assert body_of(api.requests[0]) == {
        "technique_id": "tech_product-shot",
        "workspace_id": "ws_1",
        "inputs": {"product": "https://media.flora.ai/a.png", "style": "studio"},
    }
    assert api.requests[0].headers["idempotency-key"] == "k"
    assert run.type == "technique" and run.quoted_cost == started["charged_cost"]


async def test_run_action_sends_inputs_without_nulls_and_params_only_when_given() -> None:
    started = instance(response_schema("/runs/action", "post", "201"), full=True)
    client, api, _ = make_client({f"POST {HOST}/runs/action": [ok(201, started)]})
    await client.run_action(
        "change-image-ar", "ws_1", "prj_1", [INPUT, ActionInput(type="text", text="16:9")]
    )
    await client.run_action("change-image-ar", "ws_1", "prj_1", [INPUT], {"aspect_ratio": "16:9"})
    first, second = (body_of(r) for r in api.requests)
    assert first == {
        "action_id": "change-image-ar",
        "workspace_id": "ws_1",
        "project_id": "prj_1",
        "inputs": [
            {"type": "image", "url": "https://media.flora.ai/a.png"},
            {"type": "text", "text": "16:9"},
        ],
    }
    assert second["params"] == {"aspect_ratio": "16:9"}
    for request in api.requests:
        check_request(request)


async def test_the_techniques_example_reads_as_a_last_page() -> None:
    example = contract()["paths"]["/techniques"]["get"]["responses"]["200"]["content"]["application/json"]
    client, _, _ = make_client(
        {f"GET {HOST}/techniques": [ok(200, example["examples"]["availableTechniques"]["value"])]}
    )
    page = await client.list_techniques()
    assert isinstance(page, Page) and page.next_cursor is None
    assert all(isinstance(t, Technique) for t in page.items)
    assert page.items[0].technique_id == "tech_art-directors-critique" and page.items[0].run_cost == 0


async def test_techniques_and_actions_with_new_slot_types_and_languages_still_read() -> None:
    technique = instance(response_schema("/techniques/{techniqueId}", "get", "200"), full=True)
    technique["inputs"][0]["type"] = "modelUrl"
    action = instance(response_schema("/actions/{actionId}", "get", "200"), full=True)
    action |= {"action_id": "pixelate-image", "language": "rust"}
    action["inputs"][0]["type"] = "3d"
    client, _, _ = make_client(
        {
            f"GET {HOST}/techniques/t": [ok(200, technique)],
            f"GET {HOST}/actions": [ok(200, {"actions": [action]})],
        }
    )
    assert (await client.get_technique("t")).inputs[0].type == "modelUrl"
    (read,) = await client.list_actions()
    assert isinstance(read, Action)
    assert (read.action_id, read.language, read.inputs[0].type) == ("pixelate-image", "rust", "3d")


async def test_patch_canvas_sends_node_params_without_nulls() -> None:
    patched = instance(response_schema("/projects/{projectId}/canvas", "patch", "200"), full=False)
    client, api, _ = make_client({f"PATCH {HOST}/projects/prj_1/canvas": [ok(200, patched)]})
    result = await client.patch_canvas(
        "prj_1", "graph LR\n  a --> b", {"b": CanvasNodeParams(prompt="blue mug")}
    )
    assert body_of(api.requests[0]) == {
        "diagram": "graph LR\n  a --> b",
        "node_params": {"b": {"prompt": "blue mug"}},
    }
    assert result.warnings == []


async def test_ids_in_new_paths_stay_one_segment() -> None:
    client, api, _ = make_client(
        {r"GET flora\.test/.*": [ok(404, {"error": {"code": "not_found", "message": "x"}})]}
    )
    for call in (
        client.get_asset("asset_1/../../workspaces"),
        client.get_technique("../workspaces"),
        client.get_technique_run("tech_1", "run_1/.."),
        client.get_action("rotate-image/.."),
        client.get_canvas("prj_1/.."),
    ):
        with pytest.raises(FloraError):
            await call
    assert [r.url.raw_path.decode() for r in api.requests] == [
        "/api/v1/assets/asset_1%2F..%2F..%2Fworkspaces",
        "/api/v1/techniques/..%2Fworkspaces",
        "/api/v1/techniques/tech_1/runs/run_1%2F..",
        "/api/v1/actions/rotate-image%2F..",
        "/api/v1/projects/prj_1%2F../canvas",
    ]


@pytest.mark.parametrize("bad_id", ["", ".", ".."])
async def test_an_id_that_would_name_another_path_is_refused_before_sending(bad_id: str) -> None:
    client, api, _ = make_client({})
    with pytest.raises(ValueError, match="id"):
        await client.get_technique(bad_id)
    with pytest.raises(ValueError, match="id"):
        await client.get_run(bad_id)
    assert api.requests == []


async def test_new_flows_log_neither_the_key_nor_the_upload_signature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    signed = reservation(upload_url=None)
    signed["upload"]["url"] = f"{STORAGE}?signature=sig_secret"
    routes = upload_routes(
        storage=[lambda r: httpx2.Response(503, text="busy"), ok(204, None)],
        assets=[ok(200, asset("ready"))],
        reserved=signed,
    )
    routes[f"POST {HOST}/runs/action"] = [ok(201, {"run_id": "run_1"})]
    client, _, _ = make_client(routes)
    await client.upload_asset("ws_1", PNG, "image/png", "mug.png")
    await client.run_action("rotate-image", "ws_1", "prj_1", [INPUT], idempotency_key="idem_secret")
    assert any("Retrying POST /api/v1/files/upload" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage()
        assert KEY not in text and "Bearer" not in text
        assert "sig_secret" not in text and "idem_secret" not in text
