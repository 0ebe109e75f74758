"""An embedded FLORA emulator: a real HTTP server on loopback speaking the `flora-api/openapi.yaml` contract.

It serves `/api/v1` (workspaces, projects, models, generate, runs, generations) and `/media/...` output
files. Any non-empty bearer key is accepted and has its own workspace. Written against the contract alone:
it imports nothing from the client or the server.
"""

from flora_mcp.sandbox._app import create_app
from flora_mcp.sandbox._runner import RunningSandbox, serve_sandbox, start_sandbox
from flora_mcp.sandbox._store import RecordedRequest, Run, SandboxState

__all__ = [
    "RecordedRequest",
    "Run",
    "RunningSandbox",
    "SandboxState",
    "create_app",
    "serve_sandbox",
    "start_sandbox",
]
