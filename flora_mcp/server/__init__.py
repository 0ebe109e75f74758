"""The MCP surface: the server (`_app`), its process state (`_state`), its tools (`tools/`),
and the HTTP transports (`_http`)."""

from flora_mcp.server._app import INSTRUCTIONS, build_server
from flora_mcp.server._http import serve_http
from flora_mcp.server._state import AppState

__all__ = ["INSTRUCTIONS", "AppState", "build_server", "serve_http"]
