"""Prompts, completions and output resources over the real transports (issue 16, item 6): the
`flora-mcp` command over stdio and over streamable HTTP, on its embedded sandbox."""

from __future__ import annotations

import base64
import sys

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import BlobResourceContents, PromptReference, ResourceTemplateReference

from tests.conftest import call_ok
from tests.servers import flora_server, server_env

pytestmark = pytest.mark.anyio

OUTPUTS = "flora://runs/{run_id}/outputs/{index}"


async def _prompts_completions_and_resources(mcp: Client) -> None:
    names = {p.name for p in (await mcp.list_prompts()).prompts}
    assert {"product_shots", "variations", "social_formats", "campaign_batch"} <= names
    made = await call_ok(mcp, "generate", {"prompt": "a mug", "model": "t2i-seedream-4"})
    run_id = made["runs"][0]["run_id"]

    prompt = await mcp.get_prompt("variations", {"run_id": run_id})
    assert run_id in str(prompt.messages[0].content)
    models = await mcp.complete(
        PromptReference(type="ref/prompt", name="variations"), {"name": "model", "value": "i2i"}
    )
    assert models.completion.values
    ref = ResourceTemplateReference(type="ref/resource", uri=OUTPUTS)
    runs = await mcp.complete(ref, {"name": "run_id", "value": "run_"})
    assert run_id in runs.completion.values

    templates = (await mcp.list_resource_templates()).resource_templates
    assert OUTPUTS in [t.uri_template for t in templates]
    [content] = (await mcp.read_resource(f"flora://runs/{run_id}/outputs/0")).contents
    assert isinstance(content, BlobResourceContents) and content.mime_type is not None
    assert content.mime_type.startswith("image/") and base64.b64decode(content.blob)


async def test_prompts_completions_and_resources_over_stdio() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=server_env())
    async with Client(params) as mcp:
        await _prompts_completions_and_resources(mcp)


async def test_prompts_completions_and_resources_over_streamable_http() -> None:
    with flora_server("--transport", "http") as server:
        async with Client(server.url) as mcp:
            await _prompts_completions_and_resources(mcp)
