"""Values in the user's words (issue 16, item 4): `1:1` runs on a model that spells it `ASPECT_1_1`
and the answer says what was sent; `list_models(type)` shows each model's aspect ratios compactly
within its budget; a batch folds identical refusals into one line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.client import Client

from flora_mcp.client import ModelParam, ParamOption
from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server._checks import option_value, ratio_of
from tests.conftest import call_ok, error_text, workspace_and_project

pytestmark = pytest.mark.anyio

IDEOGRAM = "t2i-ideogram-v3"  # spells aspect ratios ASPECT_1_1 … and speeds TURBO, BALANCED …
LIST_MODELS_BUDGET = 16_000


async def test_1_1_runs_on_a_model_that_spells_it_aspect_1_1_and_the_answer_says_what_was_sent(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    started = await call_ok(
        mcp,
        "create_generation",
        {
            "type": "image",
            "prompt": "a logo for a tea shop",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": IDEOGRAM,
            "params": {"aspect_ratio": "1:1", "rendering_speed": "turbo"},
        },
    )
    assert sandbox.state.runs[started["run_id"]].params == {
        "aspect_ratio": "ASPECT_1_1",
        "rendering_speed": "TURBO",
    }
    assert "aspect_ratio='ASPECT_1_1' for '1:1'" in started["note"]
    assert "rendering_speed='TURBO' for 'turbo'" in started["note"]


async def test_generate_with_16_9_and_no_model_chooses_a_model_and_sends_its_spelling(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a wide beach", "params": {"aspect_ratio": "16:9"}})
    sent = sandbox.state.runs[made["runs"][0]["run_id"]].params["aspect_ratio"]
    assert ratio_of(sent) == "16:9"
    if sent != "16:9":
        assert any(f"aspect_ratio={sent!r} for '16:9'" in note for note in made["notes"])


async def test_a_ratio_the_model_does_not_offer_is_refused_with_its_options(mcp: Client) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    result = await mcp.call_tool(
        "create_generation",
        {
            "type": "image",
            "prompt": "a logo",
            "workspace_id": workspace_id,
            "project_id": project_id,
            "model": IDEOGRAM,
            "params": {"aspect_ratio": "5:4"},
        },
    )
    assert result.is_error and "ASPECT_1_1" in error_text(result)


async def test_model_rows_show_aspect_ratios_compactly_within_the_budget(mcp: Client) -> None:
    listed = await call_ok(mcp, "list_models", {"type": "image"})
    rows = {row["model_id"]: row for row in listed["models"]}
    assert rows[IDEOGRAM]["ratios"] == "1:1 4:3 3:4 16:9 9:16 3:2 2:3 21:9"
    assert rows["t2i-flux-schnell"]["ratios"] == "1:1 4:3 3:4 16:9 9:16 (image_size)"
    assert len(json.dumps(listed, ensure_ascii=False, separators=(",", ":")).encode()) <= LIST_MODELS_BUDGET


async def test_a_batch_folds_identical_refusals_into_one_line(mcp: Client) -> None:
    items: list[dict[str, Any]] = [
        {"type": "image", "prompt": f"logo {i}", "model": IDEOGRAM, "params": {"aspect_ratio": "5:4"}}
        for i in range(12)
    ]
    result = await mcp.call_tool("generate_batch", {"items": items})
    assert result.is_error
    text = error_text(result)
    assert "Items 0\u201311 refused: params.aspect_ratio" in text
    assert text.count("ASPECT_1_1") == 1


async def test_a_batch_answer_writes_a_repeated_refusal_once(mcp: Client) -> None:
    bad = {"type": "image", "prompt": "logo", "model": IDEOGRAM, "params": {"aspect_ratio": "5:4"}}
    good = {"type": "image", "prompt": "logo", "model": IDEOGRAM, "params": {"aspect_ratio": "1:1"}}
    data = await call_ok(mcp, "generate_batch", {"items": [bad, bad, good, bad], "wait_seconds": 0})
    errors = [item.get("error") for item in data["items"]]
    assert errors[0] is not None and "ASPECT_1_1" in errors[0]
    assert errors[1:] == ["same as item 0", None, "same as item 0"]
    assert any(note.startswith("Items 0, 1, 3 refused:") for note in data["notes"])


def _param(*values: str, labels: tuple[str, ...] = ()) -> ModelParam:
    options = [ParamOption(label=(labels[i] if labels else v), value=v) for i, v in enumerate(values)]
    return ModelParam(name="aspect_ratio", type="string", required=False, options=options)


def test_a_value_names_an_option_only_when_exactly_one_fits() -> None:
    named = _param("square_1_1", "landscape_16_9", labels=("Square 1:1", "Landscape 16:9"))
    assert option_value(named, "16:9") == "landscape_16_9"
    assert option_value(named, "Square 1:1") == "square_1_1"
    assert option_value(named, "4:3") is None
    twice = _param("16:9", "16:9_hd", labels=("Wide", "Wide HD"))
    assert option_value(twice, "16:9") == "16:9"  # the exact value wins
    assert option_value(twice, "16x9") is None  # two options write 16:9: not guessed
    assert option_value(_param("1024x1024", "512x512"), "1:1") is None  # sizes are not ratios
