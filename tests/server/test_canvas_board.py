"""The canvas as data through MCP against the sandbox: a board built in one changeset, read back,
its nodes run with consent, removal asked first, bad or stale changesets refused whole."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import ElicitResult, ImageContent
from PIL import Image
from pydantic import SecretStr

from flora_mcp.sandbox import FaultRule, IdempotencyMode, RunningSandbox, start_sandbox
from flora_mcp.server import build_server
from flora_mcp.server._state import AppState
from flora_mcp.settings import Settings
from flora_mcp.store import account_digest
from tests.conftest import TEST_SPEED, call_ok, error_text, workspace_and_project
from tests.server.test_consent import User

pytestmark = pytest.mark.anyio

PUBLIC_URL = "https://93.184.215.14/styles/linen.png"  # a public address: the sandbox draws a stand-in
MODEL = "t2i-flux-2-pro"


def settings_for(sandbox: RunningSandbox, folder: Path, confirm_above: float = 0.05) -> Settings:
    return Settings(
        api_key=SecretStr(f"board-{uuid.uuid4().hex}"),
        base_url=sandbox.base_url,
        allowed_folders=[str(folder)],
        confirm_above=confirm_above,
    )


def runs_of(sandbox: RunningSandbox, settings: Settings) -> int:
    assert settings.api_key is not None
    workspace = sandbox.state.workspace_for(settings.api_key.get_secret_value())
    return len(sandbox.state.runs_in(workspace.workspace_id))


def png_file(folder: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 120, 200)).save(out, format="PNG")
    path = folder / "product.png"
    path.write_bytes(out.getvalue())
    return path


async def build_board(client: Client, folder: Path) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The issue's board: a prompt, two references (a local file, a public URL), three shots wired to
    them, in one changeset. The project, the ids by ref, and the changeset's answer."""
    _, project_id = await workspace_and_project(client, "Board")
    local = await call_ok(client, "upload_asset", {"source": str(png_file(folder))})
    public = await call_ok(client, "upload_asset", {"source": PUBLIC_URL})
    assert local["asset_id"] and public["asset_id"]
    shots = [
        {
            "ref": f"shot{i}",
            "type": "image",
            "model": MODEL,
            "prompt": f"shot {i}",
            "params": {"aspect_ratio": "4:3"},
        }
        for i in (1, 2, 3)
    ]
    add = [
        {"ref": "brief", "type": "text", "label": "Brief", "prompt": "A ceramic mug, morning light"},
        {"ref": "product", "type": "static_image", "label": "Product", "content_url": local["url"]},
        {"ref": "style", "type": "static_image", "label": "Style", "content_url": public["url"]},
        *shots,
    ]
    connect = [
        {"from": source, "to": f"shot{i}"} for i in (1, 2, 3) for source in ("brief", "product", "style")
    ]
    changed = await call_ok(client, "edit_canvas", {"project_id": project_id, "add": add, "connect": connect})
    ids = {ref: made["id"] for ref, made in changed["created"].items()}
    return project_id, ids, changed


async def test_a_board_built_in_one_changeset_is_read_back_and_its_shots_run_with_consent(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    user = User(ElicitResult(action="accept", content={"start": True}))
    settings = settings_for(sandbox, tmp_path)
    async with Client(build_server(settings), elicitation_callback=user) as client:
        project_id, ids, changed = await build_board(client, tmp_path)
        assert changed["applied"]["added"] == 6 and changed["applied"]["connected"] == 9
        canvas = await call_ok(client, "get_canvas", {"project_id": project_id})
        assert canvas["revision"] == changed["revision"]
        by_id = {node["id"]: node for node in canvas["nodes"]}
        assert set(by_id) == set(ids.values())
        assert by_id[ids["shot1"]]["model_id"] == MODEL and by_id[ids["style"]]["type"] == "static_image"
        edges = {(e["from"], e["to"]) for e in canvas["edges"]}
        assert edges == {(ids[s], ids[f"shot{i}"]) for i in (1, 2, 3) for s in ("brief", "product", "style")}
        assert f'{ids["shot1"]}["{ids["shot1"]}: shot 1' in canvas["diagram"]

        before = runs_of(sandbox, settings)
        shots = [ids["shot1"], ids["shot2"], ids["shot3"], ids["brief"]]
        result = await client.call_tool("run_nodes", {"project_id": project_id, "node_ids": shots})
        assert not result.is_error, error_text(result)
        data = result.structured_content
        assert data is not None
        [question] = user.asked
        assert f"3 images of {MODEL}" in question
        assert runs_of(sandbox, settings) == before + 3
        assert [run["status"] for run in data["runs"]] == ["completed"] * 3
        assert sorted(run["node_id"] for run in data["runs"]) == sorted(shots[:3])
        assert len([b for b in result.content if isinstance(b, ImageContent)]) == 3
        [skipped] = data["skipped"]
        assert skipped["node_id"] == ids["brief"] and skipped["reason"] == "no_model_configured"
        assert "set a model on it first" in error_text(result)

        again = await call_ok(client, "get_canvas", {"project_id": project_id})
        shot = next(n for n in again["nodes"] if n["id"] == ids["shot1"])
        assert shot["status"] == "done" and shot["run_id"] in again["diagram"]


async def test_a_changeset_with_one_bad_operation_changes_nothing_and_names_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with Client(build_server(settings_for(sandbox, tmp_path))) as client:
        project_id, ids, changed = await build_board(client, tmp_path)
        requests = len(sandbox.state.requests)
        add = [{"ref": "extra", "type": "image", "model": MODEL}]
        result = await client.call_tool(
            "edit_canvas",
            {"project_id": project_id, "add": add, "connect": [{"from": "extra", "to": "n404"}]},
        )
        assert result.is_error
        assert (
            "connect[0].to 'n404'" in error_text(result) and "nothing was sent" in error_text(result).lower()
        )
        bad = await client.call_tool(
            "edit_canvas",
            {"project_id": project_id, "update": [{"id": ids["shot1"], "params": {"aspect_ratio": "5:9"}}]},
        )
        assert "update[0]" in error_text(bad) and "aspect_ratio" in error_text(bad)
        posts = [r for r in sandbox.state.requests[requests:] if r.method == "POST"]
        assert posts == []  # refused before sending
        # What only FLORA checks comes back per operation, and nothing applies either.
        refused = await client.call_tool(
            "edit_canvas",
            {
                "project_id": project_id,
                "add": [
                    *add,
                    {"ref": "odd", "type": "static_image", "content_url": "ftp://example.com/a.png"},
                ],
            },
        )
        assert refused.is_error and "add[1].content_url" in error_text(refused)
        canvas = await call_ok(client, "get_canvas", {"project_id": project_id})
        assert canvas["revision"] == changed["revision"]
        stale = await client.call_tool(
            "edit_canvas",
            {"project_id": project_id, "revision": "not-the-current-one", "add": add},
        )
        assert stale.is_error and "changed since revision" in error_text(stale)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_removing_a_node_asks_first_and_declining_keeps_it(
    sandbox: RunningSandbox, tmp_path: Path, mode: str
) -> None:
    user = User(ElicitResult(action="decline"))
    async with Client(
        build_server(settings_for(sandbox, tmp_path)), mode=mode, elicitation_callback=user
    ) as client:
        project_id, ids, _ = await build_board(client, tmp_path)
        result = await client.call_tool("edit_canvas", {"project_id": project_id, "remove": [ids["style"]]})
        assert result.is_error and "did not agree" in error_text(result)
        [question] = user.asked
        assert f"{ids['style']} 'Style' (static_image)" in question and "cannot undo" in question
        canvas = await call_ok(client, "get_canvas", {"project_id": project_id})
        assert ids["style"] in {n["id"] for n in canvas["nodes"]}
        user.answer = ElicitResult(action="accept", content={"remove": True})
        gone = await call_ok(client, "edit_canvas", {"project_id": project_id, "remove": [ids["style"]]})
        assert gone["applied"]["removed"] == 1


async def test_a_client_that_cannot_ask_gets_the_list_and_confirms_by_argument(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with Client(build_server(settings_for(sandbox, tmp_path))) as client:
        project_id, ids, _ = await build_board(client, tmp_path)
        arguments: dict[str, Any] = {"project_id": project_id, "remove": [ids["brief"]]}
        result = await client.call_tool("edit_canvas", arguments)
        assert result.is_error
        assert "'Brief'" in error_text(result) and f"confirm_remove=['{ids['brief']}']" in error_text(result)
        assert ids["brief"] in {
            n["id"] for n in (await call_ok(client, "get_canvas", {"project_id": project_id}))["nodes"]
        }
        done = await call_ok(client, "edit_canvas", arguments | {"confirm_remove": [ids["brief"]]})
        assert done["applied"]["removed"] == 1


async def test_running_over_the_threshold_without_a_way_to_ask_starts_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    settings = settings_for(sandbox, tmp_path)
    async with Client(build_server(settings)) as client:
        project_id, ids, _ = await build_board(client, tmp_path)
        before = runs_of(sandbox, settings)
        shots = [ids["shot1"], ids["shot2"], ids["shot3"]]
        result = await client.call_tool("run_nodes", {"project_id": project_id, "node_ids": shots})
        assert result.is_error and "confirm_spend_usd" in error_text(result)
        assert runs_of(sandbox, settings) == before


async def test_projects_are_made_the_current_way_and_in_a_folder(
    mcp: Client, sandbox: RunningSandbox
) -> None:
    workspace_id = (await call_ok(mcp, "list_workspaces"))["workspaces"][0]["workspace_id"]
    made = await call_ok(mcp, "create_project", {"workspace_id": workspace_id, "name": "Spring"})
    filed = await call_ok(
        mcp, "create_project", {"workspace_id": workspace_id, "name": "Filed", "folder_id": "fld_campaigns"}
    )
    assert made["project_id"] != filed["project_id"]
    paths = [r.path for r in sandbox.state.requests if r.method == "POST" and workspace_id in r.path]
    assert f"/api/v1/workspaces/{workspace_id}/projects" in paths
    assert f"/api/v1/workspaces/{workspace_id}/folders/fld_campaigns/projects" in paths
    missing = await mcp.call_tool(
        "create_project", {"workspace_id": workspace_id, "name": "x", "folder_id": "nope"}
    )
    assert missing.is_error and "Folder 'nope' was not found" in error_text(missing)


LOST_NODE_RUN = FaultRule(
    method="POST",
    path="/workspaces/*/nodes/run",
    drop_after_processing=True,
    first_only_per_idempotency_key=True,
)


async def _run_nodes_losing_the_first_answer(
    tmp_path: Path, mode: IdempotencyMode
) -> tuple[RunningSandbox, dict[str, str], list[Any], dict[str, Any]]:
    """Run two shots and a node without a model, the first answer lost, on a sandbox answering the
    repeated key in `mode`; then again with the store gone. What was sent, the journal, the results."""
    with start_sandbox(speed=TEST_SPEED, seed=5, faults=[LOST_NODE_RUN], idempotency=mode) as sandbox:
        settings = settings_for(sandbox, tmp_path, confirm_above=100).model_copy(
            update={"journal": str(tmp_path / "runs.sqlite3")}
        )
        assert settings.api_key is not None
        account = account_digest(settings.api_key.get_secret_value())
        state = AppState(settings)
        async with Client(build_server(settings, state)) as client:
            project_id, ids, _ = await build_board(client, tmp_path)
            before = runs_of(sandbox, settings)
            shots = [ids["shot1"], ids["shot2"], ids["brief"]]
            ran = await client.call_tool("run_nodes", {"project_id": project_id, "node_ids": shots})
            store = await state.store()
            journal = store.recent(account, workspace_id=None, project_id=project_id, limit=50)
            store.close()  # the database is gone
            refused = await client.call_tool("run_nodes", {"project_id": project_id, "node_ids": shots})
            started = runs_of(sandbox, settings) - before
    return sandbox, ids, journal, {"ran": ran, "refused": refused, "started": started}


async def test_node_runs_are_journaled_before_the_post_and_claimed(tmp_path: Path) -> None:
    """One POST starts many runs: the lost answer is asked again with the same key (a replay: started
    once), each run is journaled with its node's prompt, the skipped node leaves nothing behind, and
    with the store gone nothing is sent."""
    sandbox, ids, journal, seen = await _run_nodes_losing_the_first_answer(tmp_path, "replay")

    posts = [r for r in sandbox.state.requests if r.method == "POST" and r.path.endswith("/nodes/run")]
    assert len(posts) == 2 and len({r.idempotency_key for r in posts}) == 1  # asked again, one key
    assert seen["started"] == 2  # once, and not at all once the store was gone
    ran = seen["ran"].structured_content
    started = {run["run_id"]: run["node_id"] for run in ran["runs"]}
    assert sorted(started.values()) == sorted([ids["shot1"], ids["shot2"]])
    assert {started[e.run_id]: (e.prompt, e.model, e.status) for e in journal if e.run_id} == {
        ids["shot1"]: ("shot 1", MODEL, "completed"),
        ids["shot2"]: ("shot 2", MODEL, "completed"),
    }
    assert [e for e in journal if e.run_id is None] == []  # the skipped node's intent was dropped
    assert seen["refused"].is_error and "Nothing was started or spent" in error_text(seen["refused"])


async def test_a_lost_node_run_answer_keeps_each_nodes_intent_and_is_not_sent_again(tmp_path: Path) -> None:
    """FLORA answers the repeated key 409 idempotency_duplicate (its measured behaviour): the runs
    started once, the tool says not to run them again, and each node's intent stays in the journal,
    with its prompt, for list_generations' unconfirmed starts."""
    _, _, journal, seen = await _run_nodes_losing_the_first_answer(tmp_path, "conflict")

    assert seen["started"] == 2
    assert seen["ran"].is_error and "Do not run them again" in error_text(seen["ran"])
    kept = sorted((e.prompt, e.error) for e in journal if e.run_id is None)
    assert kept == [
        ("A ceramic mug, morning light", "a canvas run whose answer was lost"),
        ("shot 1", "a canvas run whose answer was lost"),
        ("shot 2", "a canvas run whose answer was lost"),
    ]
