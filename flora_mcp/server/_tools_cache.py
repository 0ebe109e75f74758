"""The `tools/list` answer kept between runs, in the user's cache folder, keyed by the code that made it.

Registering the tools (importing their modules and the API client's models, building every
schema with pydantic) is most of what the first `tools/list` costs: about 0.1 s, more than the
start-up budget leaves (tools usable within 1.1x a bare one-tool server). The answer depends only
on our code, the SDK, pydantic, the settings and the protocol version, so once computed it is
saved under a key made of all of them, and served while they stay the same; the tools themselves
are then registered on the first request that uses them. A missing, stale or unwritable cache
only makes that first `tools/list` as slow as before, never wrong: any change to a file of the
package, an SDK or pydantic upgrade, or other settings make another key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Final

import mcp
import pydantic

import flora_mcp
from flora_mcp._folders import user_folder
from flora_mcp.settings import Settings

logger = logging.getLogger(__name__)

PACKAGE: Final = Path(flora_mcp.__file__).resolve().parent
FOLDER: Final = user_folder("cache")  # per user: the package's own folder may be read-only
PREFIX: Final = "tools-list."
KEEP: Final = 8  # answers kept, newest first: one per settings and era in use


class ToolsListCache:
    def __init__(self, settings: Settings, folder: Path = FOLDER) -> None:
        self._settings = settings
        self._folder = folder

    def key(self, protocol_version: str | None) -> str:
        digest = hashlib.sha256()
        for part in (sys.version, pydantic.VERSION, protocol_version or "", self._settings.model_dump_json()):
            digest.update(part.encode() + b"\0")
        for library in (Path(mcp.__file__).parent, Path(pydantic.__file__).parent):
            digest.update(f"{library}:{library.stat().st_mtime_ns}\0".encode())
        for root, folders, files in os.walk(PACKAGE):
            folders[:] = sorted(f for f in folders if f != "__pycache__")
            for name in sorted(files):
                stat = os.stat(os.path.join(root, name))
                digest.update(f"{root}/{name}:{stat.st_mtime_ns}:{stat.st_size}\0".encode())
        return digest.hexdigest()[:32]

    def load(self, key: str) -> list[dict[str, Any]] | None:
        try:
            tools = json.loads((self._folder / f"{PREFIX}{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return tools if isinstance(tools, list) else None

    def save(self, key: str, tools: list[dict[str, Any]]) -> None:
        path = self._folder / f"{PREFIX}{key}.json"
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(tools, separators=(",", ":")), encoding="utf-8")
            partial.replace(path)
            kept = sorted(self._folder.glob(f"{PREFIX}*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[KEEP:]:
                old.unlink(missing_ok=True)
        except OSError as exc:  # no writable cache folder: every start registers the tools, as before
            logger.debug("tools/list not cached: %s", exc)
