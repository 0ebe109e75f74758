"""Completions for the prompts' arguments and the output template (issue 16, item 6): model ids of
the right kind, projects, techniques, recent run ids and a run's output indexes, in both eras."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp.types import PromptReference, ResourceTemplateReference
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.settings import Settings
from tests.conftest import call_ok, workspace_and_project

pytestmark = pytest.mark.anyio

OUTPUTS = "flora://runs/{run_id}/outputs/{index}"


def _prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_model_ids_are_completed_by_what_the_prompt_starts_from(
    sandbox: RunningSandbox, api_key: str, mode: str
) -> None:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    async with Client(build_server(settings), mode=mode) as client:
        assert client.server_capabilities is not None and client.server_capabilities.completions is not None
        from_photo = await client.complete(_prompt("product_shots"), {"name": "model", "value": ""})
        for_campaign = await client.complete(_prompt("campaign_batch"), {"name": "model", "value": "t2i-fl"})
    assert from_photo.completion.values and all(v.startswith("i2i-") for v in from_photo.completion.values)
    assert for_campaign.completion.values
    assert all(v.startswith("t2i-fl") for v in for_campaign.completion.values)


async def test_projects_techniques_and_recent_runs_are_completed(mcp: Client) -> None:
    _, project_id = await workspace_and_project(mcp, "Campaign")
    made = await call_ok(mcp, "generate", {"prompt": "a mug", "model": "t2i-seedream-4"})
    run_id = made["runs"][0]["run_id"]

    projects = await mcp.complete(_prompt("campaign_batch"), {"name": "project_id", "value": "prj_"})
    assert project_id in projects.completion.values
    techniques = await mcp.complete(_prompt("product_shots"), {"name": "technique", "value": "tech_prod"})
    assert "tech_product-shot" in techniques.completion.values
    runs = await mcp.complete(_prompt("variations"), {"name": "run_id", "value": run_id[:6]})
    assert run_id in runs.completion.values
    counts = await mcp.complete(_prompt("variations"), {"name": "count", "value": ""})
    assert counts.completion.values[:3] == ["1", "2", "3"]


async def test_the_output_template_completes_run_ids_then_that_runs_indexes(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug", "model": "t2i-seedream-4"})
    run_id = made["runs"][0]["run_id"]
    ref = ResourceTemplateReference(type="ref/resource", uri=OUTPUTS)
    runs = await mcp.complete(ref, {"name": "run_id", "value": ""})
    assert run_id in runs.completion.values
    indexes = await mcp.complete(ref, {"name": "index", "value": ""}, {"run_id": run_id})
    assert indexes.completion.values == [str(i) for i in range(len(made["runs"][0]["outputs"]))]
