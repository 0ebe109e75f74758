"""Step 2: which model, with which params."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from flora_mcp.server import _checks
from flora_mcp.server import _results as results
from flora_mcp.server._context import Ctx, account, api_errors
from flora_mcp.server.tools.arguments import TYPE_ENUM


async def list_models(
    ctx: Ctx, type: Annotated[str | None, Field(json_schema_extra=TYPE_ENUM)] = None
) -> Annotated[CallToolResult, results.ModelList]:
    type_ = _checks.check_type(type) if type is not None else None
    acct = await account(ctx)
    with api_errors():
        models = await acct.models.get(type_)
    return results.structured(results.dump_all("models", models))
