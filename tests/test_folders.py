"""The user's folders for this app on each platform: the journal's data and the saved tools/list."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from flora_mcp._folders import user_folder
from flora_mcp.server._tools_cache import FOLDER


@pytest.mark.parametrize(
    ("kind", "platform", "environ", "expected"),
    [
        ("cache", "linux", {"XDG_CACHE_HOME": "/xdg-cache"}, "/xdg-cache/flora-mcp"),
        ("cache", "linux", {"XDG_CACHE_HOME": "relative"}, "/home/u/.cache/flora-mcp"),
        ("cache", "linux", {"XDG_DATA_HOME": "/xdg"}, "/home/u/.cache/flora-mcp"),
        ("cache", "darwin", {}, "/home/u/Library/Caches/flora-mcp"),
        ("cache", "win32", {"LOCALAPPDATA": "/appdata"}, "/appdata/flora-mcp/Cache"),
        ("data", "linux", {"XDG_CACHE_HOME": "/xdg-cache"}, "/home/u/.local/share/flora-mcp"),
    ],
)
def test_each_kind_of_folder_is_where_the_platform_keeps_it(
    kind: Literal["data", "cache"], platform: str, environ: dict[str, str], expected: str
) -> None:
    assert user_folder(kind, environ, platform=platform, home=Path("/home/u")) == Path(expected)


def test_the_saved_tools_list_lives_outside_the_installed_package() -> None:
    package = Path(__file__).resolve().parents[1] / "flora_mcp"
    assert not FOLDER.resolve().is_relative_to(package.resolve())
