"""`flora-mcp demo`: the seed task played the way an MCP host plays it, over stdio."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult, TextContent

from flora_mcp._constants import DEFAULT_PROJECT_NAME
from flora_mcp.settings import Settings

PROMPT = "a cinematic product photo of a ceramic mug on a sunlit table"
SHOTS = [
    "close-up, shallow depth of field",
    "wide shot, morning light",
    "overhead, soft shadows",
    "side view",
]
POLL_SECONDS = 1.0


class DemoError(Exception):
    pass


def run_demo(settings: Settings, *, count: int, aspect_ratio: str, live: bool) -> int:
    try:
        paths = asyncio.run(_demo(settings, count=count, aspect_ratio=aspect_ratio, live=live))
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nSaved {len(paths)} file(s):")
    for path in paths:
        print(path)
    return 0


def _server_parameters(settings: Settings, live: bool) -> StdioServerParameters:
    env = dict(os.environ)
    # The server saves the outputs (save_outputs) only into folders the user allows: this one.
    env["FLORA_ALLOWED_FOLDERS"] = str(settings.output_dir.expanduser().resolve())
    if not live:
        env.pop("FLORA_API_KEY", None)  # the demo spends no credits unless asked to
    elif "FLORA_API_KEY" not in env:
        raise DemoError("--live needs FLORA_API_KEY")
    args = [
        "-m",
        "flora_mcp",
        "--sandbox-speed",
        str(settings.sandbox_speed),
        "--log-level",
        settings.log_level,
    ]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result: CallToolResult = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(b.text for b in result.content if isinstance(b, TextContent))
        raise DemoError(f"{tool}: {text}")
    return result.structured_content or {}


async def _demo(settings: Settings, *, count: int, aspect_ratio: str, live: bool) -> list[Path]:
    async with Client(_server_parameters(settings, live)) as client:
        print("1. Resolving a workspace and project")
        workspace = (await _call(client, "list_workspaces", {}))["workspaces"][0]
        ws = workspace["workspace_id"]
        found = await _call(client, "list_projects", {"workspace_id": ws, "query": DEFAULT_PROJECT_NAME})
        project = next((p for p in found["projects"] if p["name"] == DEFAULT_PROJECT_NAME), None)
        if project is None:
            project = await _call(
                client, "create_project", {"workspace_id": ws, "name": DEFAULT_PROJECT_NAME}
            )
        print(f"   workspace {workspace['name']} ({ws}), project {project['name']} ({project['project_id']})")

        print("2. Looking at the image models")
        models = (await _call(client, "list_models", {"type": "image"}))["models"]
        text_to_image = [m for m in models if m["for"] == "text→image"]
        print(f"   {len(models)} image models, {len(text_to_image)} of them text→image; no model is named,")
        print("   so the server picks the cheapest text→image model offering the aspect ratio")

        print(f"3. Starting {count} generation(s) at {aspect_ratio}")
        starts = [
            _call(
                client,
                "create_generation",
                {
                    "type": "image",
                    "prompt": f"{PROMPT}, {SHOTS[i % len(SHOTS)]}",
                    "workspace_id": ws,
                    "project_id": project["project_id"],
                    "params": {"aspect_ratio": aspect_ratio},
                },
            )
            for i in range(count)
        ]
        answers = await asyncio.gather(*starts)
        run_ids = [started["run_id"] for started in answers]
        quote = sum(started.get("quoted_cost_usd") or 0 for started in answers)
        print(f"   {', '.join(run_ids)} on {answers[0]['model']} (quoted {quote:.3f} USD in all)")

        print("4. Polling until complete")
        await _follow(client, run_ids)
        out = settings.output_dir.expanduser().resolve()
        saved = await _call(client, "save_outputs", {"run_ids": run_ids, "folder": str(out)})
        return [Path(p) for p in saved["paths"]]


async def _follow(client: Client, run_ids: list[str]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    while not latest or any(r["status"] in ("pending", "running") for r in latest.values()):
        await asyncio.sleep(POLL_SECONDS)
        pending = [r for r in run_ids if latest.get(r, {}).get("status") not in ("completed", "failed")]
        for run in await asyncio.gather(
            *(_call(client, "get_generation_status", {"run_id": r}) for r in pending)
        ):
            latest[run["run_id"]] = run
        line = "  ".join(f"{r}: {latest[r]['status']} {latest[r]['progress']:3.0f}%" for r in run_ids)
        print(f"   {time.monotonic() - started:5.1f}s  {line}", flush=True)
    failed = [r for r in latest.values() if r["status"] == "failed"]
    if failed:
        raise DemoError(", ".join(f"{r['run_id']} failed: {r.get('error_message')}" for r in failed))
    return [latest[r] for r in run_ids]
