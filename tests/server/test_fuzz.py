"""Generated arguments thrown at every tool through an MCP session: each call ends in a result
(success, or an error result with a readable message), never a crash or a hang, and the
server answers the next call.

CI runs a fixed-seed, small budget (the "ci" profile in conftest.py). A longer run is one
command away:

    pytest tests/server/test_fuzz.py --hypothesis-profile=long
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.client import Client
from mcp.types import CallToolResult, TextContent

from tests.conftest import TOOL_NAMES

pytestmark = pytest.mark.anyio

KNOWN_KEYS = [
    "type",
    "prompt",
    "workspace_id",
    "project_id",
    "run_id",
    "model",
    "params",
    "name",
    "query",
    "limit",
    "cursor",
    "status",
    "count",
    "wait_seconds",
]
CALL_LIMIT_SECONDS = 20

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["image", "t2i", "ws_", "prj_x", "run_x", "4:3", "", " ", "\x00", "🦄" * 10, "ws_\n"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# Built from a size, not drawn element by element: large inputs at little generation cost.
big_values = st.one_of(
    st.integers(20_000, 300_000).map(lambda n: "é" * n),  # an over-long prompt or name
    st.integers(500, 5_000).map(lambda n: {f"param_{i}": i for i in range(n)}),  # huge params
    st.integers(1_000, 10_000).map(lambda n: list(range(n))),
)
arguments = st.dictionaries(
    st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12)),
    st.one_of(json_values, big_values),
    max_size=8,
)


def _text(result: CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, TextContent))


@pytest.mark.parametrize("tool", sorted(TOOL_NAMES))
@given(args=arguments)
async def test_any_arguments_end_in_a_result_and_the_server_keeps_serving(
    mcp: Client, tool: str, args: dict[str, Any]
) -> None:
    with anyio.fail_after(CALL_LIMIT_SECONDS):
        result = await mcp.call_tool(tool, args)
    if result.is_error:
        message = _text(result)
        assert message.strip(), "an error result must say what went wrong"
        assert "Traceback" not in message
    with anyio.fail_after(CALL_LIMIT_SECONDS):
        assert not (await mcp.call_tool("list_workspaces", {})).is_error
