"""Starting a paid run: exactly once, and never losing the id of a run that did start."""

from __future__ import annotations

from flora_mcp.client import FloraClient, GenerationRequest, RunStarted


async def start_generation(client: FloraClient, request: GenerationRequest) -> RunStarted:
    return await client.generate(request)
