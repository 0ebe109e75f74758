"""Issue 9's promises through MCP, against a sandbox that behaves as FLORA measurably does."""

from __future__ import annotations

import io
import json
import statistics
import uuid
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from PIL import Image
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox, parse_faults
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import call_ok, error_text, wait_for_run, wait_for_settled_cost, workspace_and_project

pytestmark = pytest.mark.anyio


def _posts_to_generate(sandbox: RunningSandbox, api_key: str) -> int:
    return sum(
        1
        for r in sandbox.state.requests
        if r.api_key == api_key and r.method == "POST" and r.path.endswith("/generate")
    )


async def _picture(url: str) -> Image.Image:
    async with httpx2.AsyncClient() as http:
        response = await http.get(url)
    response.raise_for_status()
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def _likeness(a: Image.Image, b: Image.Image) -> float:
    """Correlation of two pictures' brightness on a small grid: 1 for the same, ~0 for unrelated."""
    pixels = [image.convert("L").resize((48, 27)).tobytes() for image in (a, b)]
    return statistics.correlation(*([float(v) for v in p] for p in pixels))


async def _i2i_model(mcp: Client) -> str:
    rows = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
    return str(next(r["model_id"] for r in rows if r.get("takes") == ["params.image_url"]))


async def test_an_earlier_output_is_the_reference_of_an_image_to_image_run_whose_output_derives_from_it(
    mcp: Client,
) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    where = {"workspace_id": workspace_id, "project_id": project_id}
    first = await call_ok(mcp, "create_generation", {"type": "image", "prompt": "a ceramic mug", **where})
    done = (await wait_for_run(mcp, first["run_id"])).structured_content
    assert done is not None
    reference_url = done["outputs"][0]["url"]
    other = await call_ok(mcp, "create_generation", {"type": "image", "prompt": "a forest at dusk", **where})
    unrelated = (await wait_for_run(mcp, other["run_id"])).structured_content
    assert unrelated is not None

    edit = await call_ok(
        mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "the same mug in blue",
            "model": await _i2i_model(mcp),
            "params": {"image_url": reference_url},
            **where,
        },
    )
    result = (await wait_for_run(mcp, edit["run_id"])).structured_content
    assert result is not None and result["status"] == "completed", result
    derived = await _picture(result["outputs"][0]["url"])
    reference = await _picture(reference_url)
    assert derived.size == reference.size
    assert _likeness(derived, reference) > 0.8
    assert _likeness(derived, reference) > _likeness(derived, await _picture(unrelated["outputs"][0]["url"]))


@pytest.mark.parametrize(
    ("model_kind", "params", "must_say"),
    [
        ("i2i", {"image_urls": ["REF"]}, "takes params.image_url"),
        ("t2i", {"image_url": "REF"}, "takes no reference"),
        ("t2i", {"num_outputs": 4}, "one output per run"),
        ("i2i", {"num_outputs": 2, "image_url": "REF"}, "one output per run"),
        ("i2i", {"image_url": "https://example.com/mug.png"}, "upload_asset"),
    ],
)
async def test_wrong_references_and_num_outputs_are_refused_with_no_generate_sent(
    mcp: Client, sandbox: RunningSandbox, api_key: str, model_kind: str, params: dict[str, Any], must_say: str
) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    rows = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
    model = (
        await _i2i_model(mcp)
        if model_kind == "i2i"
        else next(r["model_id"] for r in rows if r["for"] == "text→image")
    )
    reference = f"{sandbox.origin}/media/run_x/output_1.png"
    params = json.loads(json.dumps(params).replace('"REF"', json.dumps(reference)))
    before = _posts_to_generate(sandbox, api_key)

    result = await mcp.call_tool(
        "create_generation",
        {
            "type": "image",
            "prompt": "a mug",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": model,
            "params": params,
        },
    )
    assert result.is_error
    assert must_say in error_text(result)
    assert _posts_to_generate(sandbox, api_key) == before


async def test_the_start_shows_a_labelled_quote_and_the_status_the_settled_cost_once_flora_has_it(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    started = await call_ok(
        mcp,
        "create_generation",
        {"type": "image", "prompt": "a mug", "workspace_id": workspace_id, "project_id": project_id},
    )
    assert started["quoted_cost_usd"] > 0 and "charged_cost" not in started
    assert started["model"]  # the model that runs is named, even when FLORA chose it
    run = sandbox.state.runs[started["run_id"]]

    done = (await wait_for_run(mcp, started["run_id"])).structured_content
    assert done is not None and "charged_cost" not in done
    if done["cost_usd"] is None:  # FLORA settles a little after the end
        assert "not settled" in done["cost_note"]
    status = await wait_for_settled_cost(mcp, started["run_id"])
    assert status["cost_usd"] == pytest.approx(run.cost_usd)
    assert status["cost_usd"] != started["quoted_cost_usd"]  # a quote is not the bill


async def test_an_api_error_names_floras_request_id(
    mcp: Client, sandbox: RunningSandbox, api_key: str
) -> None:
    result = await mcp.call_tool("get_generation_status", {"run_id": "run_doesnotexist"})
    assert result.is_error
    [recorded] = [r for r in sandbox.state.requests if r.api_key == api_key and "run_doesnotexist" in r.path]
    assert recorded.request_id and f"request-id {recorded.request_id}" in error_text(result)


async def test_list_models_for_images_on_a_50_model_catalogue_fits_16_kb_and_one_model_has_its_full_params(
    mcp: Client,
) -> None:
    result = await mcp.call_tool("list_models", {"type": "image"})
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    rows = (result.structured_content or {})["models"]
    all_types = (await call_ok(mcp, "list_models"))["models"]
    print(f"list_models type=image: {size} bytes for {len(rows)} models (catalogue: {len(all_types)})")
    assert len(all_types) >= 50 and size <= 16 * 1024

    [model] = (await call_ok(mcp, "list_models", {"type": "image", "model_id": rows[0]["model_id"]}))[
        "models"
    ]
    assert model["model_id"] == rows[0]["model_id"]
    assert all("type" in p for p in model["params"]) and any(p.get("options") for p in model["params"])


async def test_a_5xx_on_generate_is_shown_with_the_likely_cause(sandbox: RunningSandbox) -> None:
    """FLORA answers a malformed project id on /generate with a 500; we never send one, so the
    sandbox is told to fail the start as FLORA would."""
    key = f"test-key-{uuid.uuid4().hex}"
    settings = Settings(api_key=SecretStr(key), base_url=sandbox.base_url, max_attempts=2)
    async with Client(build_server(settings)) as mcp:
        workspace_id, project_id = await workspace_and_project(mcp)
        sandbox.state.faults.add(*parse_faults("POST /generate 500 times=2"))
        result = await mcp.call_tool(
            "create_generation",
            {"type": "image", "prompt": "a mug", "workspace_id": workspace_id, "project_id": project_id},
        )
    assert result.is_error
    text = error_text(result)
    assert "workspace_id" in text and "project_id" in text and "request-id" in text
