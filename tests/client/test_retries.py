"""The client's retries against a MockTransport: what is retried, how long it waits, when it stops.

A fake clock that moves only when slept on records every wait, so nothing here really waits (except
the one test that checks the default sleep, for a fifth of a second).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from typing import Any

import httpx2
import pytest

from flora_mcp.client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    FloraClient,
    FloraError,
    GenerationRequest,
    InternalServerError,
    RateLimitError,
    RunIdMissingError,
)
from flora_mcp.client._retry import RATE_LIMIT_WAIT
from tests.fakes import FakeTime

pytestmark = pytest.mark.anyio

BASE = "https://flora.test/api/v1"
KEY = "flora_sk_CANARY_r3try_n0t_l3ak"
RUN_STARTED = {"run_id": "run_1", "type": "generation", "estimated_seconds": 12, "charged_cost": 4}
REQUEST = GenerationRequest(type="image", prompt="a red fox", workspace_id="ws_1", project_id="prj_1")

# One scripted answer: a status (with an error envelope), a whole response, or a transport error.
Step = int | httpx2.Response | type[httpx2.TransportError]


class Script:
    """Plays the API: answers with the steps in order, repeating the last one, and keeps the requests."""

    def __init__(self, steps: list[Step], ok: dict[str, Any]) -> None:
        self.steps = steps
        self.ok = ok
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, httpx2.Response):
            return step
        if isinstance(step, int):
            if step < 300:
                return httpx2.Response(step, json=self.ok)
            code = {409: "idempotency_duplicate", 429: "rate_limited"}.get(step, "unknown_error")
            return httpx2.Response(step, json={"error": {"code": code, "message": f"Status {step}."}})
        raise step("scripted failure", request=request)


def make_client(
    *steps: Step, ok: dict[str, Any] | None = None, **options: Any
) -> tuple[FloraClient, Script, FakeTime]:
    script = Script(list(steps), ok if ok is not None else {"workspaces": []})
    fake = FakeTime(start=1000.0)
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(script))
    options = {"sleep": fake.sleep, "clock": fake.clock} | options
    return FloraClient(api_key=KEY, base_url=BASE, http=http, **options), script, fake


def rate_limited(retry_after: str) -> httpx2.Response:
    body = {"error": {"code": "rate_limited", "message": "Slow down."}}
    return httpx2.Response(429, json=body, headers={"Retry-After": retry_after})


# What is retried


@pytest.mark.parametrize(
    "failure",
    [408, 429, 500, 502, 503, 504, httpx2.ConnectError, httpx2.ReadTimeout, httpx2.RemoteProtocolError],
    ids=str,
)
async def test_a_transient_failure_is_retried_and_then_succeeds(failure: Step) -> None:
    client, api, fake = make_client(failure, 200)
    assert await client.list_workspaces() == []
    assert len(api.requests) == 2
    assert len(fake.waits) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
async def test_other_4xx_answers_raise_at_once(status: int) -> None:
    client, api, fake = make_client(status, 200)
    with pytest.raises(APIStatusError) as caught:
        await client.list_workspaces()
    assert caught.value.status_code == status
    assert caught.value.attempts == 1 and caught.value.gave_up is None
    assert (len(api.requests), fake.waits) == (1, [])


async def test_an_idempotency_duplicate_409_is_not_retried_even_after_retries() -> None:
    """A 409 is the API's word on an earlier attempt of this call: the caller has to look for that run."""
    client, api, fake = make_client(503, 409, 201, ok=RUN_STARTED)
    with pytest.raises(ConflictError) as caught:
        await client.generate(REQUEST)
    assert caught.value.code == "idempotency_duplicate"
    assert caught.value.attempts == 2
    assert "gave up" not in str(caught.value)
    assert len(api.requests) == 2 and len(fake.waits) == 1


async def test_a_success_body_that_breaks_the_contract_is_not_retried() -> None:
    client, api, _ = make_client(200, ok={"not": "workspaces"})
    with pytest.raises(APIResponseValidationError):
        await client.list_workspaces()
    assert len(api.requests) == 1


# How long it waits


async def test_retry_after_seconds_set_the_wait() -> None:
    client, api, fake = make_client(rate_limited("2"), 200)
    await client.list_workspaces()
    assert fake.waits == [2.0]
    assert len(api.requests) == 2


async def test_a_429_without_retry_after_waits_at_least_5_s_each_time() -> None:
    """FLORA sends Retry-After only sometimes; its own sample waits 5 s without one."""
    client, api, fake = make_client(429, 429, 429, 200)
    await client.list_workspaces()
    assert len(api.requests) == 4
    assert len(fake.waits) == 3
    assert all(RATE_LIMIT_WAIT <= wait <= 8.0 for wait in fake.waits), fake.waits
    assert RATE_LIMIT_WAIT == 5.0


async def test_a_bare_429_wait_still_counts_against_the_budget() -> None:
    client, api, fake = make_client(429, retry_budget=7, max_attempts=10)
    with pytest.raises(RateLimitError) as caught:
        await client.list_workspaces()
    assert len(api.requests) == 2  # 5+ s, then another 5+ s would pass 7 s
    assert len(fake.waits) == 1
    assert "would pass the 7 s retry budget" in str(caught.value)


async def test_retry_after_http_date_sets_the_wait() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    client, _, fake = make_client(httpx2.Response(503, text="busy", headers={"Retry-After": when}), 200)
    await client.list_workspaces()
    (wait,) = fake.waits
    assert 25.0 <= wait <= 30.0


async def test_without_retry_after_waits_double_from_half_a_second_to_8_s_with_jitter() -> None:
    client, _, fake = make_client(503, max_attempts=8, retry_budget=1000)
    with pytest.raises(InternalServerError):
        await client.list_workspaces()
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    assert len(fake.waits) == len(ceilings)
    for wait, ceiling in zip(fake.waits, ceilings, strict=True):
        assert 0.75 * ceiling <= wait <= ceiling  # jitter shortens a wait by up to a quarter


async def test_the_default_sleep_really_waits_as_retry_after_says() -> None:
    seen: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(time.monotonic())
        return rate_limited("0.2") if len(seen) == 1 else httpx2.Response(200, json={"workspaces": []})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    await FloraClient(api_key=KEY, base_url=BASE, http=http).list_workspaces()
    assert seen[1] - seen[0] >= 0.2


# When it stops


async def test_attempts_are_bounded_and_the_error_says_it_gave_up() -> None:
    client, api, fake = make_client(503)
    with pytest.raises(InternalServerError) as caught:
        await client.list_workspaces()
    err = caught.value
    assert len(api.requests) == 4 and len(fake.waits) == 3
    assert err.attempts == 4
    spent = f"{sum(fake.waits):.1f}"
    assert (
        str(err)
        == f"FLORA API error 503 (unknown_error): Status 503. — gave up after 4 attempts in {spent} s"
    )


async def test_an_error_after_retries_carries_the_request_id_of_the_last_answer() -> None:
    def failed(request_id: str) -> httpx2.Response:
        body = {"error": {"code": "unknown_error", "message": "Boom."}}
        return httpx2.Response(503, json=body, headers={"request-id": request_id})

    client, _, _ = make_client(failed("req_1"), failed("req_2"), failed("req_3"), failed("req_4"))
    with pytest.raises(InternalServerError) as caught:
        await client.list_workspaces()
    err = caught.value
    assert err.request_id == "req_4"
    assert re.fullmatch(
        r"FLORA API error 503 \(unknown_error\): Boom\. \(request-id req_4\) — gave up after 4 attempts "
        r"in \d+\.\d s",
        str(err),
    )


async def test_a_5xx_on_generate_keeps_its_key_and_finally_names_the_likely_cause() -> None:
    """FLORA answers 500 unknown_error to a malformed ws_/prj_ id on POST /generate: retrying is safe
    (same key), but what surfaces must not read as a mere outage."""
    client, api, _ = make_client(500, ok=RUN_STARTED)
    bad_ids = REQUEST.model_copy(update={"workspace_id": "abc", "project_id": "my project"})
    with pytest.raises(InternalServerError) as caught:
        await client.generate(bad_ids)
    err = caught.value
    assert len(api.requests) == 4
    assert len({r.headers["idempotency-key"] for r in api.requests}) == 1
    assert (err.method, err.path) == ("POST", "/generate")
    assert err.hint is not None and "workspace_id" in err.hint and "project_id" in err.hint
    assert str(err).endswith(f"Likely cause: {err.hint}")
    assert "gave up after 4 attempts" in str(err)


async def test_a_5xx_elsewhere_gets_no_id_hint() -> None:
    client, _, _ = make_client(500, max_attempts=1)
    with pytest.raises(InternalServerError) as caught:
        await client.get_run("run_1")
    assert (caught.value.method, caught.value.path, caught.value.hint) == ("GET", "/runs/run_1", None)
    assert "Likely cause" not in str(caught.value)


async def test_a_start_answer_without_run_id_is_not_retried() -> None:
    """Retrying would only meet idempotency_duplicate: the run may exist, so the caller recovers it."""
    client, api, fake = make_client(201, ok={"type": "generation", "charged_cost": 0.2})
    with pytest.raises(RunIdMissingError):
        await client.generate(REQUEST)
    assert (len(api.requests), fake.waits) == (1, [])


async def test_a_connection_error_that_persists_says_it_gave_up_too() -> None:
    client, api, _ = make_client(httpx2.ReadTimeout, max_attempts=2)
    with pytest.raises(APITimeoutError) as caught:
        await client.list_workspaces()
    assert len(api.requests) == 2
    assert re.search(r" — gave up after 2 attempts in \d+\.\d s$", str(caught.value))


async def test_the_budget_bounds_the_total_time_and_no_wait_runs_past_it() -> None:
    client, api, fake = make_client(rate_limited("5"), retry_budget=12, max_attempts=10)
    with pytest.raises(RateLimitError) as caught:
        await client.list_workspaces()
    assert fake.waits == [5.0, 5.0]  # a third wait would end at 15 s, past the 12 s budget
    assert len(api.requests) == 3
    assert str(caught.value).endswith(
        "— gave up after 3 attempts in 10.0 s: waiting 5.0 s more would pass the 12 s retry budget"
    )


async def test_a_retry_after_longer_than_the_budget_raises_at_once() -> None:
    client, api, fake = make_client(rate_limited("120"), 200)
    with pytest.raises(RateLimitError) as caught:
        await client.list_workspaces()
    assert (len(api.requests), fake.waits) == (1, [])
    assert caught.value.retry_after == 120
    assert "would pass the 60 s retry budget" in str(caught.value)


async def test_max_attempts_1_means_no_retries() -> None:
    client, api, fake = make_client(503, 200, max_attempts=1)
    with pytest.raises(InternalServerError) as caught:
        await client.list_workspaces()
    assert (len(api.requests), fake.waits) == (1, [])
    assert str(caught.value) == "FLORA API error 503 (unknown_error): Status 503."


def test_retry_settings_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        FloraClient(api_key=KEY, max_attempts=0)
    with pytest.raises(ValueError, match="retry_budget"):
        FloraClient(api_key=KEY, retry_budget=-1.0)


# Idempotency across attempts


async def test_every_attempt_of_a_post_sends_the_same_idempotency_key_and_body() -> None:
    client, api, _ = make_client(503, httpx2.ConnectError, rate_limited("1"), 201, ok=RUN_STARTED)
    started = await client.generate(REQUEST)
    assert started.run_id == "run_1"
    assert len(api.requests) == 4
    assert len({r.headers["idempotency-key"] for r in api.requests}) == 1
    assert len({r.content for r in api.requests}) == 1
    assert json.loads(api.requests[0].content)["prompt"] == "a red fox"


async def test_a_new_call_after_a_retried_one_gets_a_new_key() -> None:
    client, api, _ = make_client(503, 201, ok=RUN_STARTED)
    await client.generate(REQUEST)
    api.steps = [201]
    await client.generate(REQUEST)
    first, retry, second = (r.headers["idempotency-key"] for r in api.requests)
    assert first == retry != second


# Logs and secrets


async def test_each_retry_is_logged_at_info_with_method_path_attempt_wait_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _, _ = make_client(rate_limited("2"), httpx2.ConnectError, 201, ok=RUN_STARTED)
    await client.generate(REQUEST)
    retries = [r for r in caplog.records if r.levelno == logging.INFO and r.name.startswith("flora_mcp")]
    assert retries[0].getMessage() == (
        "Retrying POST /api/v1/generate (attempt 2 of 4) in 2.00 s after HTTP 429 rate_limited"
    )
    assert re.fullmatch(
        r"Retrying POST /api/v1/generate \(attempt 3 of 4\) in \d\.\d\d s after ConnectError",
        retries[1].getMessage(),
    )
    for record in caplog.records:
        text = record.getMessage()
        assert KEY not in text and "Bearer" not in text and "Idempotency" not in text


async def test_an_error_after_retries_shows_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    failures: list[FloraError] = []
    for step in (503, httpx2.ConnectError):
        client, _, _ = make_client(step)
        with pytest.raises(FloraError) as caught:
            await client.generate(REQUEST)
        failures.append(caught.value)
    for err in failures:
        assert isinstance(err, APIStatusError | APIConnectionError)
        assert err.attempts == 4 and err.gave_up
        assert KEY not in str(err) and KEY not in repr(err) and err.request is not None
        assert "authorization" not in err.request.headers
    assert all(KEY not in r.getMessage() for r in caplog.records)
