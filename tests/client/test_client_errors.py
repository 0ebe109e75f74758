"""What a failure tells the user and FLORA support: the request-id, the call, and the likely cause."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest

from flora_mcp.client import (
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    FloraClient,
    GenerationRequest,
    NotFoundError,
    PaidPlanRequiredError,
    PermissionDeniedError,
)
from tests.client._contract import BASE

pytestmark = pytest.mark.anyio

KEY = "flora_sk_CANARY_3rr0rs_n0t_l3ak"
REQUEST = GenerationRequest(type="image", prompt="a red fox", workspace_id="ws_1", project_id="prj_1")


def client_answering(status: int, body: Any, headers: dict[str, str] | None = None) -> FloraClient:
    transport = httpx2.MockTransport(lambda r: httpx2.Response(status, json=body, headers=headers))
    http = httpx2.AsyncClient(transport=transport)
    return FloraClient(api_key=KEY, base_url=BASE, http=http, max_attempts=1)


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def test_a_status_error_carries_and_shows_the_request_id() -> None:
    client = client_answering(404, envelope("not_found", "Run not found."), {"request-id": "req_abc"})
    with pytest.raises(NotFoundError) as caught:
        await client.get_run("run_1")
    assert caught.value.request_id == "req_abc"
    assert str(caught.value) == "FLORA API error 404 (not_found): Run not found. (request-id req_abc)"
    assert "req_abc" in repr(caught.value)


async def test_x_request_id_is_read_when_request_id_is_absent() -> None:
    client = client_answering(400, envelope("invalid_json", "Bad."), {"x-request-id": "req_x"})
    with pytest.raises(BadRequestError) as caught:
        await client.list_workspaces()
    assert caught.value.request_id == "req_x"


async def test_an_answer_without_a_request_id_says_nothing_about_it() -> None:
    client = client_answering(404, envelope("not_found", "Run not found."))
    with pytest.raises(NotFoundError) as caught:
        await client.get_run("run_1")
    assert caught.value.request_id is None
    assert "request-id" not in str(caught.value)


async def test_a_2xx_body_that_breaks_the_contract_carries_the_request_id() -> None:
    client = client_answering(200, {"workspaces": "none"}, {"request-id": "req_body"})
    with pytest.raises(APIResponseValidationError) as caught:
        await client.list_workspaces()
    assert caught.value.request_id == "req_body"
    assert str(caught.value).endswith("(request-id req_body)")


async def test_status_errors_name_the_call_relative_to_the_base_url() -> None:
    client = client_answering(404, envelope("not_found", "Nope."))
    with pytest.raises(APIStatusError) as caught:
        await client.get_project("prj_1")
    assert (caught.value.method, caught.value.path) == ("GET", "/projects/prj_1")


async def test_paid_plan_required_is_its_own_error_with_advice() -> None:
    body = envelope("paid_plan_required", "The API requires a paid plan.")
    client = client_answering(403, body, {"request-id": "req_plan"})
    with pytest.raises(PaidPlanRequiredError) as caught:
        await client.generate(REQUEST)
    err = caught.value
    assert isinstance(err, PermissionDeniedError)  # still a 403 to code that knows only that
    assert err.code == "paid_plan_required"
    assert err.hint is not None and "paid plan" in err.hint
    assert str(err) == (
        "FLORA API error 403 (paid_plan_required): The API requires a paid plan. (request-id req_plan). "
        f"Likely cause: {err.hint}"
    )


async def test_a_plain_forbidden_gets_no_plan_advice() -> None:
    client = client_answering(403, envelope("forbidden", "Not yours."))
    with pytest.raises(PermissionDeniedError) as caught:
        await client.list_workspaces()
    assert type(caught.value) is PermissionDeniedError
    assert caught.value.hint is None


async def test_the_request_log_line_names_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flora_mcp.client")
    client = client_answering(200, {"workspaces": []}, {"request-id": "req_log"})
    await client.list_workspaces()
    (record,) = [r for r in caplog.records if r.name.startswith("flora_mcp.client")]
    assert record.getMessage().endswith(" ms (request-id req_log)")
