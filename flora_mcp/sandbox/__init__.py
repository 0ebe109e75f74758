"""An embedded FLORA emulator: a real HTTP server on loopback speaking the `flora-api/openapi.yaml` contract.

It serves `/api/v1` (workspaces, projects, models, generate, runs, generations, assets with
signed uploads, techniques, actions, the canvas) and the files behind output and asset URLs. It
behaves as FLORA measurably does, not only as its contract reads (docs/sandbox-behaviour.md): a
50+ model catalogue whose default is neither first nor dear, references taken by model prefix and
really used, unknown params accepted and ignored, loose estimates, quotes that differ from the
settled cost, a request-id on every answer, 409 for a repeated Idempotency-Key, two media origins.

Any non-empty bearer key is accepted and has its own workspace. Written against the contract
alone: it imports nothing from the client or the server. It can play faults (see `_faults` for the
rules and their string form): 429 with Retry-After, 5xx, latency, and answers dropped after
processing.
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
