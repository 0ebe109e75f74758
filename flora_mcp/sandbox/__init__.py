"""An embedded FLORA emulator: a real HTTP server on loopback speaking the `flora-api/openapi.yaml` contract.

It serves `/api/v1` (workspaces, projects, models, generate, runs, generations) and `/media/...` output
files. Any non-empty bearer key is accepted and has its own workspace. Written against the contract alone:
it imports nothing from the client or the server. It can play faults (see `_faults` for the rules and
their string form): 429 with Retry-After, 5xx, latency, and answers dropped after processing.
"""

from flora_mcp.sandbox._app import create_app
from flora_mcp.sandbox._faults import FaultRule, FaultSet, parse_faults
from flora_mcp.sandbox._runner import RunningSandbox, serve_sandbox, start_sandbox
from flora_mcp.sandbox._store import IdempotencyMode, RecordedRequest, Run, SandboxState

__all__ = [
    "FaultRule",
    "FaultSet",
    "IdempotencyMode",
    "RecordedRequest",
    "Run",
    "RunningSandbox",
    "SandboxState",
    "create_app",
    "parse_faults",
    "serve_sandbox",
    "start_sandbox",
]
