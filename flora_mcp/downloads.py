"""Fetching output files safely, for inline images and for saving them.

FLORA's output URLs come from an API response, so they are treated as untrusted: only https
(plus the one loopback origin of a local sandbox), never an address inside this network,
bounded in size and time, of the expected content type, and written only inside the
directory the user chose, under a sanitised name.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from urllib.parse import urljoin

import anyio
import httpx2

MAX_OUTPUT_BYTES = 25_000_000
FETCH_TIMEOUT = httpx2.Timeout(20.0, connect=5.0)
MAX_REDIRECTS = 3
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FetchRefused(Exception):
    """The URL or its answer broke a rule; the message says which."""


def origin_of(url: str | httpx2.URL) -> str:
    """`scheme://host[:port]`, as browsers and CSPs name an origin."""
    parsed = httpx2.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"


async def check_url(url: str, loopback_origin: str | None) -> None:
    """Refuse anything but https to a public address, or the local sandbox's own origin."""
    parsed = httpx2.URL(url)
    if loopback_origin is not None and origin_of(parsed) == loopback_origin:
        return
    if parsed.scheme != "https":
        raise FetchRefused(f"only https output URLs are fetched, not {parsed.scheme or 'relative'} ones")
    host = parsed.host
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await anyio.getaddrinfo(host, parsed.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchRefused(f"cannot resolve {host}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise FetchRefused(f"{host} resolves to a non-public address ({address})")


async def fetch_output(
    http: httpx2.AsyncClient,
    url: str,
    *,
    loopback_origin: str | None,
    expect: str = "image/",
    max_bytes: int = MAX_OUTPUT_BYTES,
    timeout: httpx2.Timeout = FETCH_TIMEOUT,  # noqa: ASYNC109 - httpx's per-phase timeouts, not a deadline
) -> bytes:
    """The body of `url`, refused if it breaks a rule above or is not `expect` content."""
    for _ in range(MAX_REDIRECTS + 1):
        await check_url(url, loopback_origin)
        # No auth header: output URLs are public, and the API key must not travel to a media host.
        async with http.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.is_redirect:  # each hop is checked again: a public URL may point inside
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise FetchRefused(f"HTTP {response.status_code} from the output URL")
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith(expect):
                raise FetchRefused(f"expected {expect}* content, got {content_type or 'none'}")
            if int(response.headers.get("content-length") or 0) > max_bytes:
                raise FetchRefused(f"output is over the {max_bytes} byte limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchRefused(f"output is over the {max_bytes} byte limit")
                chunks.append(chunk)
            return b"".join(chunks)
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


def safe_name(name: str, default: str = "output") -> str:
    """A file name with no directory parts, no leading dots and only portable characters."""
    cleaned = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).lstrip("._")
    return cleaned[:120] or default


async def save_output(
    http: httpx2.AsyncClient,
    url: str,
    directory: Path,
    name: str,
    *,
    loopback_origin: str | None,
    expect: str = "",
) -> Path:
    """Fetch `url` into `directory/<safe name>`; never writes outside `directory`."""
    data = await fetch_output(http, url, loopback_origin=loopback_origin, expect=expect)
    root = await anyio.Path(directory).resolve()
    await root.mkdir(parents=True, exist_ok=True)
    target = root / safe_name(name)
    if target.parent != root:  # belt and braces: safe_name already removed every separator
        raise FetchRefused(f"{name!r} would be written outside {root}")
    await target.write_bytes(data)
    return Path(target)
