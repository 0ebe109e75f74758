"""Issue 10's promises through MCP: text the agent can read, history that remembers prompts,
earlier runs shown again in one call, and previews that stay within one budget."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import httpx2
import pytest
from mcp.client import Client
from mcp.types import ImageContent, TextContent
from PIL import Image

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.store import SqliteStore, account_digest, default_journal_path
from tests.conftest import call_ok, error_text, wait_for_settled_cost

pytestmark = pytest.mark.anyio

TOKEN_BUDGET = 6_000  # image tokens (w*h/750) per result
BYTE_BUDGET = 900_000  # of inline image data per result


def _texts(content: Sequence[object]) -> str:
    return "\n".join(b.text for b in content if isinstance(b, TextContent))


def _image_tokens(images: list[ImageContent]) -> float:
    total = 0.0
    for image in images:
        with Image.open(io.BytesIO(base64.b64decode(image.data))) as shown:
            total += shown.width * shown.height / 750
    return total


async def test_a_text_generations_words_reach_the_agent_in_every_tool_that_shows_it(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    result = await mcp.call_tool(
        "generate", {"prompt": "a two-line tagline for a ceramic mug", "type": "text"}
    )
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    [run] = result.structured_content["runs"]
    words = sandbox.state.runs[run["run_id"]]
    async with httpx2.AsyncClient() as http:
        expected = (await http.get(run["outputs"][0]["url"])).text.strip()
    assert expected and expected in _texts(result.content)

    status = await mcp.call_tool("get_generation_status", {"run_id": run["run_id"]})
    assert expected in _texts(status.content)
    history = await mcp.call_tool("list_generations", {"project_id": result.structured_content["project_id"]})
    assert expected in _texts(history.content)
    assert words.prompt == "a two-line tagline for a ceramic mug"


async def test_history_lists_the_prompt_type_and_params_flora_does_not_keep(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug on a shelf", "params": {"aspect_ratio": "4:3"}})
    history = await call_ok(mcp, "list_generations", {"project_id": made["project_id"]})
    [item] = history["generations"]
    assert item["run_id"] == made["runs"][0]["run_id"]
    assert (item["prompt"], item["type"], item["params"]) == (
        "a mug on a shelf",
        "image",
        {"aspect_ratio": "4:3"},
    )
    assert item["model"] == made["model"]


async def test_a_result_with_8_images_stays_within_the_image_token_and_byte_budgets(mcp: Client) -> None:
    result = await mcp.call_tool("generate", {"prompt": "eight mugs", "count": 8})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    assert len(result.structured_content["runs"]) == 8
    images = [b for b in result.content if isinstance(b, ImageContent)]
    assert len(images) == 8
    assert _image_tokens(images) <= TOKEN_BUDGET
    assert sum(len(i.data) for i in images) <= BYTE_BUDGET
    assert len(result.model_dump_json(by_alias=True, exclude_none=True)) < 1_000_000


async def test_twelve_earlier_runs_are_shown_again_in_one_call_with_one_read_per_project(
    mcp: Client, sandbox: RunningSandbox, api_key: str
) -> None:
    first = await call_ok(mcp, "generate", {"prompt": "mugs", "count": 8})
    second = await call_ok(mcp, "generate", {"prompt": "cups", "count": 4})
    run_ids = [r["run_id"] for r in first["runs"] + second["runs"]]
    reads_before = _status_reads(sandbox, api_key)

    result = await mcp.call_tool("list_generations", {"run_ids": run_ids})

    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    items = result.structured_content["generations"]
    assert [i["run_id"] for i in items] == run_ids
    assert all(i["status"] == "completed" and i["outputs"] for i in items)
    assert {i["prompt"] for i in items} == {"mugs", "cups"}
    images = [b for b in result.content if isinstance(b, ImageContent)]
    assert len(images) == 12 and _image_tokens(images) <= TOKEN_BUDGET
    # Both calls used the one default project: at most one read of it (none if read in the last 2 s).
    assert _status_reads(sandbox, api_key) - reads_before <= 1


def _status_reads(sandbox: RunningSandbox, api_key: str) -> int:
    return sum(
        1
        for r in sandbox.state.requests
        if r.api_key == api_key
        and r.method == "GET"
        and (r.path.endswith("/generations") or "/runs/" in r.path)
    )


async def test_more_than_twenty_run_ids_are_refused(mcp: Client) -> None:
    result = await mcp.call_tool("list_generations", {"run_ids": [f"run_{i}" for i in range(21)]})
    assert result.is_error
    assert "run_ids" in error_text(result)


async def test_the_journal_keeps_a_finished_runs_outcome_and_settled_cost(mcp: Client, api_key: str) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug at noon"})
    run_id = made["runs"][0]["run_id"]
    await wait_for_settled_cost(mcp, run_id)
    await call_ok(mcp, "get_generation_status", {"run_id": run_id})  # read again: nothing new to write
    with SqliteStore.open(default_journal_path()) as journal:
        entry = journal.get(account_digest(api_key), [run_id])[run_id]
    assert (entry.status, entry.prompt) == ("completed", "a mug at noon")
    assert entry.cost_usd is not None and entry.outputs
