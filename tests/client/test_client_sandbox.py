"""The client against the embedded sandbox over real HTTP: two independent readings of the contract
(the sandbox imports nothing of the client) have to agree."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from PIL import Image

from flora_mcp.client import FloraClient, GenerationRequest, NotFoundError
from flora_mcp.sandbox import RunningSandbox, start_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningSandbox]:
    with start_sandbox(speed=0.01) as running:
        yield running


@pytest.fixture
async def client(emulator: RunningSandbox) -> AsyncIterator[FloraClient]:
    async with FloraClient(api_key=f"client-{uuid.uuid4().hex}", base_url=emulator.base_url) as flora:
        yield flora


def png(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_an_error_from_the_sandbox_carries_its_request_id(client: FloraClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.get_run("run_does_not_exist")
    assert caught.value.request_id
    assert f"(request-id {caught.value.request_id})" in str(caught.value)


async def test_a_file_uploaded_through_the_signed_flow_becomes_a_ready_asset(client: FloraClient) -> None:
    workspace = (await client.list_workspaces())[0]
    uploaded = await client.upload_asset(workspace.workspace_id, png(), "image/png", "red.png")
    assert uploaded.status == "ready"
    assert uploaded.url
    assert uploaded.asset_id is not None
    again = await client.get_asset(uploaded.asset_id)
    assert again.url == uploaded.url
    listed = await client.list_assets(workspace.workspace_id)
    assert uploaded.asset_id in [a.asset_id for a in listed.items]


async def test_a_started_generation_reads_back_with_a_quote(client: FloraClient) -> None:
    workspace = (await client.list_workspaces())[0]
    project = await client.create_project(workspace.workspace_id, "Client check")
    request = GenerationRequest(
        type="image", prompt="a red fox", workspace_id=workspace.workspace_id, project_id=project.project_id
    )
    started = await client.generate(request)
    assert started.run_id.startswith("run_")
    assert started.quoted_cost is not None and started.quoted_cost >= 0
    run = await client.get_run(started.run_id)
    assert run.run_id == started.run_id
