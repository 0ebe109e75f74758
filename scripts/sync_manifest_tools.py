"""Rewrite manifest.json's `tools` from the server's own tool list (names and descriptions).

    python scripts/sync_manifest_tools.py          # rewrite
    python scripts/sync_manifest_tools.py --check  # exit 1 if the manifest is out of date

tests/e2e/test_packaging.py fails when the two differ; this is the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio
from mcp.client import Client
from pydantic import SecretStr

from flora_mcp.server import build_server
from flora_mcp.settings import Settings

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.json"


async def served_tools() -> list[dict[str, str]]:
    async with Client(build_server(Settings(api_key=SecretStr("unused")))) as client:
        tools = (await client.list_tools()).tools
    return [{"name": tool.name, "description": tool.description or ""} for tool in tools]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the manifest is current")
    args = parser.parse_args()

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    tools = anyio.run(served_tools)
    if manifest.get("tools") == tools:
        print("manifest.json tools are current")
        return 0
    if args.check:
        print(
            "manifest.json tools differ from the server's: run scripts/sync_manifest_tools.py",
            file=sys.stderr,
        )
        return 1
    manifest["tools"] = tools
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"manifest.json: {len(tools)} tools written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
