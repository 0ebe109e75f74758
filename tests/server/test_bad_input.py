"""Bad arguments get an error result that names the fix, spend nothing, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client import Client

from flora_mcp.sandbox import RunningSandbox
from tests.conftest import call_ok, error_text, text_to_image_model, workspace_and_project

pytestmark = pytest.mark.anyio


async def _generation_args(mcp: Client, **overrides: Any) -> dict[str, Any]:
    workspace_id, project_id = await workspace_and_project(mcp)
    model = await text_to_image_model(mcp, "4:3")
    assert model["aspect_ratio_value"] == "4:3" and "seed" in [p["name"] for p in model["params"]]
    base = {
        "type": "image",
        "prompt": "a ceramic mug",
        "workspace_id": workspace_id,
        "project_id": project_id,
        "model": model["model_id"],
    }
    return base | overrides


@pytest.mark.parametrize(
    ("overrides", "must_say"),
    [
        ({"type": "t2i"}, ["model family", "image, video, audio, text"]),
        ({"type": "text-to-image"}, ["image, video, audio, text"]),
        ({"model": "no-such-model"}, ["not available", "t2i-"]),
        ({"workspace_id": "abc"}, ["workspace_id", "ws_", "list_workspaces"]),
        ({"project_id": "abc"}, ["project_id", "prj_"]),
        ({"params": {"aspect_ratio": "5:17"}}, ["aspect_ratio", "4:3", "16:9", "1:1"]),
        ({"params": {"colour": "red"}}, ["colour", "aspect_ratio", "seed"]),
        ({"params": {"seed": "lucky"}}, ["seed", "integer"]),
        ({"params": {"seed": -5}}, ["seed", "between 0 and"]),
        ({"prompt": ""}, ["prompt is empty"]),
        ({"prompt": "   "}, ["prompt is empty"]),
    ],
)
async def test_create_generation_refuses_with_the_fix(
    mcp: Client, sandbox: RunningSandbox, overrides: dict[str, Any], must_say: list[str]
) -> None:
    arguments = await _generation_args(mcp, **overrides)
    runs_before = sandbox.state.runs_started()

    result = await mcp.call_tool("create_generation", arguments)

    assert result.is_error
    message = error_text(result)
    for fragment in must_say:
        assert fragment in message, message
    assert "Traceback" not in message
    assert sandbox.state.runs_started() == runs_before
    assert (await call_ok(mcp, "list_workspaces"))["workspaces"]  # still serving


async def test_unknown_model_error_lists_the_available_ids(mcp: Client) -> None:
    arguments = await _generation_args(mcp, model="gpt-image-9")
    models = (await call_ok(mcp, "list_models", {"type": "image"}))["models"]
    message = error_text(await mcp.call_tool("create_generation", arguments))
    for model in models:
        assert model["model_id"] in message


async def test_unknown_run_id_is_not_found(mcp: Client) -> None:
    result = await mcp.call_tool("get_generation_status", {"run_id": "run_doesnotexist"})
    assert result.is_error
    assert "run_doesnotexist" in error_text(result) and "not found" in error_text(result)
    assert (await call_ok(mcp, "list_workspaces"))["workspaces"]


async def test_run_id_without_prefix_is_refused(mcp: Client) -> None:
    result = await mcp.call_tool("get_generation_status", {"run_id": "12345"})
    assert result.is_error
    assert "run_" in error_text(result)


async def test_list_models_refuses_a_model_family_as_type(mcp: Client) -> None:
    result = await mcp.call_tool("list_models", {"type": "t2i"})
    assert result.is_error
    assert "image, video, audio, text" in error_text(result)


async def test_workspace_of_another_key_is_not_usable(mcp: Client) -> None:
    result = await mcp.call_tool("list_projects", {"workspace_id": "ws_someoneelse"})
    assert result.is_error
    assert "ws_someoneelse" not in error_text(result) or "not" in error_text(result)


async def test_wrong_argument_types_are_refused_readably(mcp: Client) -> None:
    result = await mcp.call_tool("list_projects", {"workspace_id": "ws_x", "limit": "many"})
    assert result.is_error
    assert "limit" in error_text(result)
