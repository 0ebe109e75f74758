"""Argument types shared by the tools: their JSON Schema is what an agent reads."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from flora_mcp.server._checks import GENERATION_TYPES
from flora_mcp.server.waiting import MAX_WAIT_SECONDS

TYPE_ENUM: Final = {"enum": list(GENERATION_TYPES)}

GenerationTypeArg = Annotated[str, Field(json_schema_extra=TYPE_ENUM)]
WorkspaceId = Annotated[str, Field(description="ws_… from list_workspaces")]
ProjectId = Annotated[str, Field(description="prj_… from list_projects")]
RunId = Annotated[str, Field(description="run_… from create_generation")]
Prompt = Annotated[str, Field(max_length=20_000)]
Limit = Annotated[int, Field(ge=1, le=100)]
WaitSeconds = Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)]
