"""Command-line tools from the npm registry, installed once per version under a cache folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("FLORA_MCP_TEST_CACHE", Path.home() / ".cache" / "flora-mcp-tests"))


def npm_tool(package: str, version: str, binary: str) -> Path:
    """`binary` from `package@version`, installing it on first use; skips when node is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(f"node and npm are needed for {package}")
    prefix = CACHE / f"{package.replace('/', '_')}-{version}"
    path = prefix / "node_modules" / ".bin" / binary
    if not path.exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
             f"{package}@{version}"],
            check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    return path
