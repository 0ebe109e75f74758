"""History that says what it holds (issue 16, item 3): paging in the text, one line per run with
its type, model and the start of its prompt, and a mistyped run id answered with the closest ids."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp.types import CallToolResult, TextContent

from flora_mcp.server.tools.history import closest, history_line, page_header
from tests.conftest import call_ok, error_text, workspace_and_project

pytestmark = pytest.mark.anyio

LONG_PROMPT = "a ceramic mug on a sunlit oak table, morning light, shallow depth of field, 35 mm"


def _first_text(result: CallToolResult) -> str:
    blocks = [b for b in result.content if isinstance(b, TextContent)]
    return blocks[0].text


async def test_a_page_says_how_many_runs_there_are_and_how_to_get_the_next(mcp: Client) -> None:
    workspace_id, project_id = await workspace_and_project(mcp)
    items = [{"type": "image", "prompt": f"{LONG_PROMPT} #{i}", "model": "t2i-seedream-4"} for i in range(17)]
    batch = await call_ok(
        mcp,
        "generate_batch",
        {"items": items, "workspace_id": workspace_id, "project_id": project_id, "wait_seconds": 0},
    )
    assert all(item["ok"] for item in batch["items"])

    first = await mcp.call_tool("list_generations", {"project_id": project_id, "limit": 10})
    assert not first.is_error, error_text(first)
    assert first.structured_content is not None
    cursor = first.structured_content["next_cursor"]
    header, *lines = _first_text(first).splitlines()
    assert header.startswith("Showing 10 of 17+ runs")
    assert f'cursor="{cursor}"' in header and f"project_id={project_id}" in header
    assert len([line for line in lines if line.startswith("- run_")]) == 10
    assert all(" image t2i-seedream-4 " in line for line in lines[:10])
    assert all('"a ceramic mug on a sunlit oak table, morning…"' in line for line in lines[:10])

    second = await mcp.call_tool(
        "list_generations", {"project_id": project_id, "limit": 10, "cursor": cursor}
    )
    assert second.structured_content is not None and second.structured_content["next_cursor"] is None
    assert _first_text(second).startswith("Showing the last 7 runs")


async def test_a_mistyped_run_id_names_the_closest_known_ids_and_list_generations(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug"})
    run_id = made["runs"][0]["run_id"]
    typo = run_id[:-2] + run_id[-1] + run_id[-2]  # the last two characters swapped
    if typo == run_id:
        typo = run_id[:-1] + ("x" if run_id[-1] != "x" else "y")

    status = await mcp.call_tool("get_generation_status", {"run_id": typo})
    assert status.is_error
    assert f"Run {typo!r} was not found" in error_text(status)
    assert f"Did you mean {run_id}" in error_text(status) and "list_generations" in error_text(status)

    again = await mcp.call_tool("list_generations", {"run_ids": [run_id, typo]})
    assert again.is_error and f"Did you mean {run_id}" in error_text(again)
    assert f"Run {run_id!r} was not found" not in error_text(again)


def test_the_header_of_a_last_page_and_an_empty_one() -> None:
    assert page_header(3, 3, None, None, {}) == "Showing all 3 runs, newest first."
    assert page_header(0, 0, None, None, {"status": "failed"}) == "No runs (status=failed)."
    more = page_header(10, 0, "abc", None, {})  # nothing known beyond this page: at least one more
    assert more.startswith("Showing 10 of 11+ runs") and 'cursor="abc"' in more


def test_a_line_without_a_journal_entry_says_the_prompt_is_unknown_and_names_the_type_by_output() -> None:
    item = {
        "run_id": "run_1",
        "status": "failed",
        "error_message": "moderated",
        "model": {"model_id": "t2v-veo-3"},
        "outputs": [{"type": "videoUrl", "url": "https://media.flora.ai/a.mp4"}],
    }
    line = history_line(item)
    assert line.startswith("- run_1 video t2v-veo-3 failed (moderated) (prompt unknown")
    assert line.endswith("https://media.flora.ai/a.mp4")


def test_closest_ids_allow_a_swap_or_a_dropped_character() -> None:
    known = ["run_abc123", "run_zzz999", "run_abc124"]
    assert closest("run_abc132", known)[0] == "run_abc123"
    assert "run_zzz999" in closest("run_zz999", known)
    assert closest("run_qqqqqq", known) == []
