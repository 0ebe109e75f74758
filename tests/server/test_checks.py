"""The pre-spend argument checks, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from flora_mcp.client import Model
from flora_mcp.server import _checks

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
    _checks.check_params(MODEL, params)


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
        _checks.check_params(MODEL, params)


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
