"""A technique's input flags (SDK 0.11): `optional` inputs may be left out, an `allow_multiple`
input given several values runs once per value (budgeted and asked about as that many runs), and
an `accepts_element` input takes an element id; anything else is refused before a run starts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mcp.client import Client
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import SecretStr

from flora_mcp.client import Technique
from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.server.tools.technique_inputs import MAX_RUNS, runs_of
from flora_mcp.settings import Settings
from tests.conftest import call_ok, error_text
from tests.server.test_techniques import earlier_image, jobs_of

pytestmark = pytest.mark.anyio

ORIGINS = ["https://media.flora.ai"]
PHOTO = "https://media.flora.ai/runs/run_1/mug.png"


def technique(*inputs: dict[str, Any]) -> Technique:
    return Technique.model_validate(
        {"technique_id": "tech_t", "name": "T", "run_cost": 0.1, "inputs": list(inputs), "outputs": []}
    )


async def test_several_headlines_make_one_poster_each_labelled_and_journaled(mcp: Client) -> None:
    picture = (await earlier_image(mcp))["runs"][0]["outputs"][0]["url"]
    ran = await call_ok(
        mcp,
        "run_technique",
        {"technique_id": "tech_poster", "inputs": {"picture": picture, "headline": ["Morning", "Evening"]}},
    )

    assert [run["status"] for run in ran["runs"]] == ["completed", "completed"]
    assert [[o["output_id"] for o in run["outputs"]] for run in ran["runs"]] == [["poster"], ["poster"]]
    assert ran["estimated_cost_usd"] == 0.08 and ran["quoted_cost_usd"] == pytest.approx(0.08)
    listed = await call_ok(mcp, "list_generations", {"run_ids": [run["run_id"] for run in ran["runs"]]})
    assert [g["params"]["headline"] for g in listed["generations"]] == ["Morning", "Evening"]


async def test_several_values_are_asked_about_as_that_many_runs(sandbox: RunningSandbox) -> None:
    settings = Settings(
        api_key=SecretStr(f"poster-{uuid.uuid4().hex}"), base_url=sandbox.base_url, confirm_above=0.05
    )
    async with Client(build_server(settings)) as mcp:
        made = await earlier_image(mcp)
        picture = made["runs"][0]["outputs"][0]["url"]
        jobs = jobs_of(sandbox, made["workspace_id"])
        arguments = {"technique_id": "tech_poster", "inputs": {"picture": picture, "headline": ["A", "B"]}}
        refused = await mcp.call_tool("run_technique", arguments)
        assert jobs_of(sandbox, made["workspace_id"]) == jobs
        agreed = await call_ok(mcp, "run_technique", {**arguments, "confirm_spend_usd": 0.08})

    assert refused.is_error and "$0.08" in error_text(refused) and "2 technique runs" in error_text(refused)
    assert len(agreed["runs"]) == 2


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"picture": ["{mug}", "{mug}"], "headline": "Hi"}, "inputs.picture takes one value"),
        ({"picture": "{mug}", "headline": []}, "give 1 to 20"),
        ({"picture": "{mug}", "headline": ["x"] * (MAX_RUNS + 1)}, "give 1 to 20"),
        ({"picture": "{mug}", "headline": ["ok", ""]}, "inputs.headline must be a text"),
    ],
)
async def test_values_a_technique_cannot_take_are_refused_before_a_run(
    mcp: Client, sandbox: RunningSandbox, inputs: dict[str, Any], named: str
) -> None:
    made = await earlier_image(mcp)
    mug = made["runs"][0]["outputs"][0]["url"]
    filled = {
        k: [x.format(mug=mug) for x in v] if isinstance(v, list) else v.format(mug=mug)
        for k, v in inputs.items()
    }
    jobs = jobs_of(sandbox, made["workspace_id"])

    result = await mcp.call_tool("run_technique", {"technique_id": "tech_poster", "inputs": filled})

    assert result.is_error and named in error_text(result)
    assert jobs_of(sandbox, made["workspace_id"]) == jobs


def test_the_optional_flag_decides_and_an_old_description_still_counts() -> None:
    flagged = technique(
        {"id": "photo", "name": "Photo", "type": "imageUrl"},
        {
            "id": "mood",
            "name": "Mood",
            "type": "text",
            "description": "Optional in name only",
            "optional": False,
        },
        {"id": "extra", "name": "Extra", "type": "text", "optional": True},
    )
    old = technique(
        {"id": "photo", "name": "Photo", "type": "imageUrl"},
        {"id": "mood", "name": "Mood", "type": "text", "description": "Optional: a mood."},
    )

    with pytest.raises(ToolError, match="needs inputs mood"):
        runs_of(flagged, {"photo": PHOTO}, ORIGINS)
    assert runs_of(flagged, {"photo": PHOTO, "mood": "calm"}, ORIGINS) == [{"photo": PHOTO, "mood": "calm"}]
    assert runs_of(old, {"photo": PHOTO}, ORIGINS) == [{"photo": PHOTO}]


def test_an_element_input_takes_an_element_id_or_a_fetchable_url() -> None:
    element = technique({"id": "photo", "name": "Photo", "type": "imageUrl", "accepts_element": True})
    plain = technique({"id": "photo", "name": "Photo", "type": "imageUrl"})

    assert runs_of(element, {"photo": "el_3f9a"}, ORIGINS) == [{"photo": "el_3f9a"}]
    assert runs_of(element, {"photo": PHOTO}, ORIGINS) == [{"photo": PHOTO}]
    with pytest.raises(ToolError, match="nor an element id"):
        runs_of(element, {"photo": "my photo"}, ORIGINS)
    with pytest.raises(ToolError, match="will fetch"):
        runs_of(plain, {"photo": "el_3f9a"}, ORIGINS)


def test_several_values_for_two_inputs_at_once_are_refused() -> None:
    both = technique(
        {"id": "a", "name": "A", "type": "text", "allow_multiple": True},
        {"id": "b", "name": "B", "type": "text", "allow_multiple": True},
    )
    assert runs_of(both, {"a": ["1", "2"], "b": "x"}, ORIGINS) == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    with pytest.raises(ToolError, match="several for one input per call"):
        runs_of(both, {"a": ["1", "2"], "b": ["3", "4"]}, ORIGINS)
