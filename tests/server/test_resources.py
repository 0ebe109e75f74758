"""Each run's outputs as resources (issue 16, item 6): a template a host can list, `resources/read`
returning the media itself within its cap and with its own MIME type, and the spec's -32602 naming
what exists for a run, an output or a URI that does not."""

from __future__ import annotations

import base64
import io

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp.types import BlobResourceContents, TextResourceContents
from PIL import Image
from pydantic import SecretStr

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.server import build_server
from flora_mcp.server._resources import MAX_RESOURCE_BYTES
from flora_mcp.settings import Settings
from tests.conftest import call_ok

pytestmark = pytest.mark.anyio

OUTPUTS = "flora://runs/{run_id}/outputs/{index}"
INVALID_PARAMS = -32602


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_an_image_output_is_read_as_its_picture(
    sandbox: RunningSandbox, api_key: str, mode: str
) -> None:
    settings = Settings(api_key=SecretStr(api_key), base_url=sandbox.base_url)
    async with Client(build_server(settings), mode=mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert OUTPUTS in [t.uri_template for t in templates]
        made = await call_ok(client, "generate", {"prompt": "a mug", "model": "t2i-seedream-4"})
        run_id = made["runs"][0]["run_id"]
        read = await client.read_resource(f"flora://runs/{run_id}/outputs/0")
    [content] = read.contents
    assert isinstance(content, BlobResourceContents) and content.mime_type is not None
    assert content.mime_type.startswith("image/")
    data = base64.b64decode(content.blob)
    assert len(data) <= MAX_RESOURCE_BYTES
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.width > 0


async def test_a_text_output_is_read_as_its_words(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a tagline for a mug", "type": "text"})
    run_id = made["runs"][0]["run_id"]
    read = await mcp.read_resource(f"flora://runs/{run_id}/outputs/0")
    [content] = read.contents
    assert isinstance(content, TextResourceContents) and content.mime_type == "text/plain"
    assert content.text.strip()


async def test_a_missing_run_output_or_uri_is_invalid_params_naming_what_exists(mcp: Client) -> None:
    made = await call_ok(mcp, "generate", {"prompt": "a mug", "model": "t2i-seedream-4"})
    run_id = made["runs"][0]["run_id"]
    typo = run_id[:-1] + ("0" if run_id[-1] != "0" else "1")
    with pytest.raises(MCPError) as no_run:
        await mcp.read_resource(f"flora://runs/{typo}/outputs/0")
    assert no_run.value.code == INVALID_PARAMS and run_id in no_run.value.message
    with pytest.raises(MCPError) as no_output:
        await mcp.read_resource(f"flora://runs/{run_id}/outputs/7")
    assert no_output.value.code == INVALID_PARAMS
    assert f"flora://runs/{run_id}/outputs/0" in no_output.value.message
    with pytest.raises(MCPError) as no_such:
        await mcp.read_resource("flora://projects/prj_1")
    assert no_such.value.code == INVALID_PARAMS and OUTPUTS in no_such.value.message
