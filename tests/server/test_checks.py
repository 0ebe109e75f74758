"""The pre-spend argument checks, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import Model
from flora_mcp.server import _checks

ORIGINS = ("https://media.flora.ai", "https://*.flora.ai", "https://ik.imagekit.io")
MEDIA = "https://media.flora.ai/outputs/mug.png"


def _model(model_id: str, *params: dict[str, Any], credits: int = 1) -> Model:
    return Model.model_validate(
        {
            "model_id": model_id,
            "name": model_id,
            "type": "image",
            "provider": "Test",
            "capabilities": [],
            "estimated_credits": credits,
            "estimated_seconds": 10,
            "params": list(params),
        }
    )


MODEL = Model.model_validate(
    {
        "model_id": "t2i-test",
        "name": "Test",
        "type": "image",
        "provider": "Test",
        "capabilities": [],
        "estimated_credits": 1,
        "estimated_seconds": 10,
        "params": [
            {
                "name": "aspect_ratio",
                "type": "string",
                "required": False,
                "default": "1:1",
                "options": [{"label": "Square", "value": "1:1"}, {"label": "4:3", "value": "4:3"}],
            },
            {"name": "seed", "type": "seed", "required": False, "min": 0, "max": 100},
            {"name": "guidance", "type": "float", "required": False, "min": 1, "max": 10},
            {"name": "styles", "type": "string[]", "required": False},
            {"name": "safe", "type": "bool", "required": False},
            {"name": "steps", "type": "int?", "required": False, "min": 1, "max": 50},
        ],
    }
)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"aspect_ratio": "4:3", "seed": 7},
        {"guidance": 2.5, "styles": ["film"], "safe": True, "steps": None},
        {"guidance": 3},
    ],
)
def test_accepted_params_pass(params: dict[str, Any]) -> None:
    assert _checks.check_params(MODEL, params, ORIGINS) == params


@pytest.mark.parametrize(
    ("params", "must_say"),
    [
        ({"aspect_ratio": "5:17"}, "accepted values are 1:1, 4:3"),
        ({"ratio": "4:3"}, "Accepted params: aspect_ratio, seed"),
        ({"seed": 1.5}, "an integer seed"),
        ({"seed": True}, "an integer seed"),
        ({"seed": 101}, "between 0 and 100"),
        ({"guidance": "high"}, "a number"),
        ({"guidance": float("nan")}, "finite"),
        ({"styles": "film"}, "a list of strings"),
        ({"styles": [1]}, "a list of strings"),
        ({"safe": "yes"}, "true or false"),
        ({"steps": 0}, "between 1 and 50"),
        ({"seed": None}, "omit it"),
    ],
)
def test_rejected_params_name_the_accepted_values(params: dict[str, Any], must_say: str) -> None:
    with pytest.raises(ToolError, match=must_say.replace(".", r"\.")):
        _checks.check_params(MODEL, params, ORIGINS)


def test_type_check_explains_model_families() -> None:
    with pytest.raises(ToolError, match="model family"):
        _checks.check_type("i2v")
    assert _checks.check_type("audio") == "audio"


@pytest.mark.parametrize(
    ("name", "value"), [("workspace_id", "ws_"), ("project_id", "prj a"), ("run_id", "r_1")]
)
def test_ids_need_their_prefix(name: str, value: str) -> None:
    with pytest.raises(ToolError, match=name):
        _checks.check_id(name, value)


def test_a_number_given_for_a_string_option_is_sent_as_flora_spells_it() -> None:
    model = _model(
        "t2v-x",
        {
            "name": "duration",
            "type": "string",
            "required": False,
            "options": [{"label": "5 s", "value": "5"}, {"label": "10 s", "value": "10"}],
        },
    )
    assert _checks.check_params(model, {"duration": 5}, ORIGINS) == {"duration": "5"}
    with pytest.raises(ToolError, match=r"accepted values are 5, 10 \(strings"):
        _checks.check_params(model, {"duration": 7}, ORIGINS)


@pytest.mark.parametrize(
    ("model_id", "params", "must_say"),
    [
        ("t2i-test", {"image_url": MEDIA}, "takes no reference"),
        (
            "i2i-edit",
            {"image_urls": [MEDIA]},
            "takes params.image_url (one URL string), not params.image_urls",
        ),
        ("i2t-describe", {"image_url": MEDIA}, "takes params.image_urls (a list of URL strings)"),
        ("i2i-edit", {}, "needs params.image_url"),
        ("iv2v-swap", {"image_url": MEDIA}, "needs params.video_url"),
        ("i2i-edit", {"image_url": "https://example.com/mug.png"}, "upload_asset"),
        ("i2i-edit", {"image_url": "file:///home/me/mug.png"}, "not a URL FLORA will fetch"),
        ("i2i-edit", {"image_url": ["a"]}, "must be one URL string"),
        ("v2v-restyle", {"video_url": MEDIA}, "canvas edge"),
        ("t2i-test", {"num_outputs": 4}, "one output per run"),
    ],
)
def test_references_are_checked_by_model_prefix_before_spending(
    model_id: str, params: dict[str, Any], must_say: str
) -> None:
    with pytest.raises(ToolError, match=must_say.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        _checks.check_params(_model(model_id), params, ORIGINS)


def test_references_on_flora_hosts_and_imagekit_are_accepted_as_given() -> None:
    params = {"image_url": "https://ik.imagekit.io/flora/out.png"}
    assert _checks.check_params(_model("i2i-edit"), params, ORIGINS) == params
    two = {"image_urls": [MEDIA, "https://cdn.flora.ai/a.png"]}
    assert _checks.check_params(_model("i2t-describe"), two, ORIGINS) == two


def test_with_no_model_the_cheapest_text_to_x_model_taking_the_params_is_chosen() -> None:
    ratio = {
        "name": "aspect_ratio",
        "type": "string",
        "required": False,
        "options": [{"label": "4:3", "value": "4:3"}],
    }
    models = [
        _model("i2i-first", ratio, credits=1),  # first and cheapest, but image-to-image
        _model("t2i-dear", ratio, credits=300),
        _model("t2i-cheap", ratio, credits=2),
        _model("t2i-no-ratio", credits=1),
    ]
    assert _checks.choose_model(models, "image", {"aspect_ratio": "4:3"}).model_id == "t2i-cheap"  # type: ignore[union-attr]
    chosen = _checks.choose_model(models, "image", {"image_url": MEDIA, "aspect_ratio": "4:3"})
    assert chosen is not None and chosen.model_id == "i2i-first"
    assert _checks.choose_model(models, "image", {"colour": "red"}) is None
