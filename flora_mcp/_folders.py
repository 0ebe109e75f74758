"""The user's own folders for this app, by platform: data (the run journal) and cache (the saved
`tools/list` answer). Per user, never inside the installed package, which may be read-only.

Linux and others: `$XDG_DATA_HOME` / `$XDG_CACHE_HOME` (only if absolute, as the XDG spec says),
else `~/.local/share` / `~/.cache`; macOS: `~/Library/Application Support` / `~/Library/Caches`;
Windows: `%LOCALAPPDATA%` for both (the cache in a `Cache` folder below the app's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

APP_FOLDER: Final = "flora-mcp"
_XDG: Final = {"data": ("XDG_DATA_HOME", (".local", "share")), "cache": ("XDG_CACHE_HOME", (".cache",))}
_MAC: Final = {"data": "Application Support", "cache": "Caches"}


def user_folder(
    kind: Literal["data", "cache"],
    environ: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    home: Path | None = None,
) -> Path:
    """This app's folder of `kind` for the user; `environ`, `platform` and `home` default to this
    process's own (settings pass their environment)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform == "win32":
        local = environ.get("LOCALAPPDATA", "")
        app = (Path(local) if local else home / "AppData" / "Local") / APP_FOLDER
        return app / "Cache" if kind == "cache" else app
    if platform == "darwin":
        return home / "Library" / _MAC[kind] / APP_FOLDER
    variable, fallback = _XDG[kind]
    xdg = environ.get(variable, "")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else home.joinpath(*fallback)) / APP_FOLDER
