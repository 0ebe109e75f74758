"""FLORA grows: new enum values and fields, and drifting shapes, must not make answers unreadable.

BEHAVIOUR.md: "Enums grow: parse unknown enum values and extra fields without failing a whole
page", and a start answer needs only its `run_id` (a paid run must never be lost to a parse error).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest

from flora_mcp.client import (
    ActionInput,
    APIResponseValidationError,
    FloraClient,
    GenerationRequest,
    RunIdMissingError,
    RunStarted,
)
from tests.client._contract import BASE, instance, response_schema

pytestmark = pytest.mark.anyio

REQUEST = GenerationRequest(type="image", prompt="a red fox", workspace_id="ws_1", project_id="prj_1")
RUN = {"run_id": "run_1", "status": "completed", "progress": 100, "created_at": 1}


def client_answering(status: int, body: Any) -> FloraClient:
    answer = (
        (lambda r: httpx2.Response(status, content=body))
        if isinstance(body, bytes)
        else (lambda r: httpx2.Response(status, json=body))
    )
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    return FloraClient(api_key="k", base_url=BASE, http=http, max_attempts=1)


# Unknown enum values and extra fields


async def test_a_run_with_unknown_status_output_type_and_fields_keeps_the_raw_values() -> None:
    run = RUN | {
        "status": "cancelled",
        "queue_position": 3,
        "outputs": [
            {"output_id": "o1", "type": "modelUrl", "url": "https://media.flora.ai/a.glb", "bytes": 9},
            {"output_id": "o2", "type": "imageUrl", "url": "https://media.flora.ai/b.png"},
        ],
    }
    parsed = await client_answering(200, run).get_run("run_1")
    assert parsed.status == "cancelled"
    assert [(o.type, o.url) for o in parsed.outputs] == [
        ("modelUrl", "https://media.flora.ai/a.glb"),
        ("imageUrl", "https://media.flora.ai/b.png"),
    ]


async def test_a_generations_page_with_new_enum_values_is_read_whole() -> None:
    page = instance(response_schema("/generations", "get", "200"), full=True)
    known = page["generations"][0]
    page["generations"] = [
        known | {"status": "queued", "brand_new": {"x": 1}},
        known | {"generation_id": "gen_2", "outputs": [{"output_id": "o", "type": "meshUrl", "url": "u"}]},
    ]
    parsed = await client_answering(200, page).list_generations()
    assert [g.status for g in parsed.items] == ["queued", known["status"]]
    assert parsed.items[1].outputs[0].type == "meshUrl"


async def test_a_model_of_a_new_type_does_not_hide_the_catalogue() -> None:
    model = instance(response_schema("/models", "get", "200"), full=True)["models"][0]
    catalogue = {"models": [model, model | {"model_id": "t23d-mesh-1", "type": "3d", "new": True}]}
    parsed = await client_answering(200, catalogue).list_models()
    assert [m.type for m in parsed] == [model["type"], "3d"]


async def test_one_unreadable_item_is_dropped_not_the_whole_page(caplog: pytest.LogCaptureFixture) -> None:
    page = instance(response_schema("/generations", "get", "200"), full=True)
    good = page["generations"][0]
    broken = {k: v for k, v in good.items() if k != "run_id"} | {"generation_id": "gen_broken"}
    page["generations"] = [good, broken, good | {"generation_id": "gen_3"}]
    with caplog.at_level(logging.WARNING, logger="flora_mcp.client"):
        parsed = await client_answering(200, page).list_generations()
    assert [g.generation_id for g in parsed.items] == [good["generation_id"], "gen_3"]
    assert any("1 item(s) of 'generations'" in r.getMessage() for r in caplog.records)


async def test_an_optional_field_that_no_longer_parses_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flora_mcp.client"):
        parsed = await client_answering(200, RUN | {"started_at": "soon", "charged_cost": 0.5}).get_run("r")
    assert parsed.started_at is None
    assert parsed.charged_cost == 0.5
    assert any("field 'started_at'" in r.getMessage() for r in caplog.records)


async def test_a_required_field_that_does_not_parse_still_fails() -> None:
    with pytest.raises(APIResponseValidationError, match="progress"):
        await client_answering(200, RUN | {"progress": "half"}).get_run("run_1")


# Run-start answers


async def test_a_start_answer_needs_only_its_run_id() -> None:
    started = await client_answering(201, {"run_id": "run_1"}).generate(REQUEST)
    assert started.run_id == "run_1"
    assert (started.type, started.estimated_seconds, started.charged_cost, started.quoted_cost) == (
        None,
        None,
        None,
        None,
    )


async def test_a_start_answer_with_new_values_and_drifted_fields_keeps_its_run_id() -> None:
    answer = {
        "run_id": "run_1",
        "type": "workflow",
        "estimated_seconds": "about a minute",
        "charged_cost": 0.25,
        "model": {"model_id": "t2i-new"},
        "technique": "not an object any more",
        "billing": {"currency": "USD"},
    }
    started = await client_answering(201, answer).generate(REQUEST)
    assert (started.run_id, started.type, started.estimated_seconds) == ("run_1", "workflow", None)
    assert started.technique is None
    assert started.quoted_cost == 0.25
    assert started.model is not None and started.model.model_id == "t2i-new"


StartCall = Callable[[FloraClient], Awaitable[RunStarted]]
STARTS: list[StartCall] = [
    lambda c: c.generate(REQUEST),
    lambda c: c.run_technique("tech_1", "ws_1", {"image": "https://media.flora.ai/a.png"}),
    lambda c: c.run_action("rotate-image", "ws_1", "prj_1", [ActionInput(type="image", url="https://m/x")]),
]


@pytest.mark.parametrize("start", STARTS, ids=["generate", "technique", "action"])
@pytest.mark.parametrize(
    "body",
    [{"type": "generation", "charged_cost": 0.1}, {"run_id": ""}, {"run_id": 7}, b"<html>ok</html>", b""],
    ids=["no-run-id", "empty-run-id", "number-run-id", "html", "empty-body"],
)
async def test_a_2xx_start_answer_without_a_readable_run_id_says_the_run_may_exist(
    start: StartCall, body: Any
) -> None:
    with pytest.raises(RunIdMissingError) as caught:
        await start(client_answering(201, body))
    assert isinstance(caught.value, APIResponseValidationError)  # still a bad 2xx body to old code
    assert "may have started" in str(caught.value)


# Costs


async def test_the_start_figure_is_a_quote_and_a_run_without_a_bill_has_none() -> None:
    started = await client_answering(201, {"run_id": "run_1", "charged_cost": 0.253}).generate(REQUEST)
    assert started.quoted_cost == 0.253
    unsettled = await client_answering(200, RUN).get_run("run_1")
    assert unsettled.charged_cost is None  # not yet settled: never 0.0
    settled = await client_answering(200, RUN | {"charged_cost": 0.873}).get_run("run_1")
    assert settled.charged_cost == 0.873
