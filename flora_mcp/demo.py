"""`flora-mcp demo`: the seed task played the way an MCP host plays it, over stdio."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult, TextContent

from flora_mcp._constants import DEFAULT_PROJECT_NAME
from flora_mcp.downloads import FetchRefused, origin_of, save_output
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
    except (DemoError, FetchRefused) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nSaved {len(paths)} file(s):")
    for path in paths:
        print(path)
    return 0


def _server_parameters(settings: Settings, live: bool) -> StdioServerParameters:
    env = dict(os.environ)
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

        print("2. Picking an image model")
        models = (await _call(client, "list_models", {"type": "image"}))["models"]
        model = next((m for m in models if _offers(m, "aspect_ratio", aspect_ratio)), None)
        if model is None:
            raise DemoError(f"no image model offers aspect_ratio {aspect_ratio}")
        print(f"   {model['name']} ({model['model_id']}), about {model['estimated_seconds']} s per image")

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
                    "model": model["model_id"],
                    "params": {"aspect_ratio": aspect_ratio},
                },
            )
            for i in range(count)
        ]
        run_ids = [started["run_id"] for started in await asyncio.gather(*starts)]
        print("   " + ", ".join(run_ids))

        print("4. Polling until complete")
        runs = await _follow(client, run_ids)
        # Inside the session: without a key, the outputs are served by the server's own sandbox.
        return await _save(runs, settings.output_dir, live=live)


def _offers(model: dict[str, Any], param: str, value: str) -> bool:
    return any(
        p["name"] == param and any(o["value"] == value for o in p.get("options") or [])
        for p in model.get("params", [])
    )


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


async def _save(runs: list[dict[str, Any]], out_dir: Path, *, live: bool) -> list[Path]:
    paths: list[Path] = []
    async with httpx2.AsyncClient() as http:
        for run in runs:
            for output in run["outputs"]:
                url = httpx2.URL(output["url"])
                # Against the sandbox the outputs are served on loopback; live, only https is fetched.
                origins = () if live else (origin_of(url),)
                name = f"{run['run_id']}-{output['output_id']}{PurePosixPath(url.path).suffix}"
                paths.append(await save_output(http, str(url), out_dir, name, loopback_origins=origins))
    return paths
