"""Fetching output files safely, for inline images, text the agent reads, uploads and saving.

FLORA's output URLs come from an API response, so they are treated as untrusted: only https to
public addresses (plus the plain-http loopback origins of a local sandbox, which may serve media
from both `127.0.0.1` and `localhost`), each redirect checked again, bounded in size and time,
of the expected content type, and written only inside the folder the caller chose.
"""

from __future__ import annotations

import codecs
import ipaddress
import socket
from collections.abc import Collection
from email.message import Message
from urllib.parse import urljoin

import anyio
import httpx2

from flora_mcp.files import MAX_UPLOAD_BYTES
from flora_mcp.files import safe_name as safe_name  # re-exported: its callers predate files.py

MAX_OUTPUT_BYTES = 25_000_000
# A text output is words for the agent: a few pages at most. Longer text is cut, not refused.
MAX_TEXT_BYTES = 100_000
FETCH_TIMEOUT = httpx2.Timeout(20.0, connect=5.0)
MAX_REDIRECTS = 3
TEXT_TYPES = ("text/", "application/json")
_LOOPBACK_NAMES = ("localhost",)


class FetchRefused(Exception):
    """The URL or its answer broke a rule; the message says which."""


def origin_of(url: str | httpx2.URL) -> str:
    """`scheme://host[:port]`, as browsers and CSPs name an origin."""
    parsed = httpx2.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"


def _is_loopback_http(origin: str) -> bool:
    parsed = httpx2.URL(origin)
    if parsed.scheme != "http":
        return False
    if parsed.host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parsed.host).is_loopback
    except ValueError:
        return False


def _allowed_origins(loopback_origins: Collection[str]) -> set[str]:
    """The given origins in canonical form; anything not plain http on loopback is dropped, so a
    mistaken setting cannot open plain http to the network. A lone string counts as one origin."""
    given = [loopback_origins] if isinstance(loopback_origins, str) else [*loopback_origins]
    return {origin_of(o) for o in given if _is_loopback_http(o)}


async def check_url(url: str, loopback_origins: Collection[str] = ()) -> None:
    """Refuse anything but https to a public address, or one of the local sandbox's own origins."""
    parsed = httpx2.URL(url)
    if origin_of(parsed) in _allowed_origins(loopback_origins):
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


async def _fetch(
    http: httpx2.AsyncClient,
    url: str,
    origins: set[str],
    expect: str | tuple[str, ...],
    max_bytes: int,
    timeout: httpx2.Timeout,  # noqa: ASYNC109 - httpx's per-phase timeouts, not a deadline
    *,
    cut: bool = False,
) -> tuple[bytes, str, bool]:
    """Body, content type and whether it was cut at `max_bytes` (only with `cut`; else refused)."""
    for _ in range(MAX_REDIRECTS + 1):
        await check_url(url, origins)
        # No auth header: output URLs are public, and the API key must not travel to a media host.
        async with http.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.is_redirect:  # each hop is checked again: a public URL may point inside
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise FetchRefused(f"HTTP {response.status_code} from the output URL")
            content_type = response.headers.get("content-type", "")
            if not content_type.lower().startswith(expect):
                wanted = " or ".join(f"{e}*" for e in ((expect,) if isinstance(expect, str) else expect))
                raise FetchRefused(f"expected {wanted} content, got {content_type or 'none'}")
            if not cut and int(response.headers.get("content-length") or 0) > max_bytes:
                raise FetchRefused(f"output is over the {max_bytes} byte limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                if size + len(chunk) > max_bytes:
                    if not cut:
                        raise FetchRefused(f"output is over the {max_bytes} byte limit")
                    chunks.append(chunk[: max_bytes - size])
                    return b"".join(chunks), content_type, True
                size += len(chunk)
                chunks.append(chunk)
            return b"".join(chunks), content_type, False
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


async def fetch_output(
    http: httpx2.AsyncClient,
    url: str,
    *,
    loopback_origins: Collection[str] = (),
    expect: str | tuple[str, ...] = "image/",
    max_bytes: int = MAX_OUTPUT_BYTES,
    timeout: httpx2.Timeout = FETCH_TIMEOUT,  # noqa: ASYNC109 - httpx's per-phase timeouts, not a deadline
) -> bytes:
    """The body of `url`, refused if it breaks a rule above or is not `expect` content."""
    origins = _allowed_origins(loopback_origins)
    data, _, _ = await _fetch(http, url, origins, expect, max_bytes, timeout)
    return data


async def fetch_bytes(
    http: httpx2.AsyncClient,
    url: str,
    *,
    loopback_origins: Collection[str] = (),
    max_bytes: int = MAX_UPLOAD_BYTES,
    timeout: httpx2.Timeout = FETCH_TIMEOUT,  # noqa: ASYNC109 - httpx's per-phase timeouts, not a deadline
) -> bytes:
    """The body of `url` whatever its declared type, for re-uploading a foreign file as an asset.

    The declared type is not trusted either way: check the bytes with `files.media_type_of`.
    """
    origins = _allowed_origins(loopback_origins)
    data, _, _ = await _fetch(http, url, origins, "", max_bytes, timeout)
    return data


async def fetch_text(
    http: httpx2.AsyncClient,
    url: str,
    *,
    loopback_origins: Collection[str] = (),
    max_bytes: int = MAX_TEXT_BYTES,
    timeout: httpx2.Timeout = FETCH_TIMEOUT,  # noqa: ASYNC109 - httpx's per-phase timeouts, not a deadline
) -> str:
    """The words at `url` (a text run's output), decoded with its charset or UTF-8.

    Undecodable bytes become U+FFFD rather than failing: the agent paid for the words. Text over
    `max_bytes` is cut at that size and ends with a note saying so, since the start of a long text
    is still worth reading.
    """
    origins = _allowed_origins(loopback_origins)
    data, content_type, was_cut = await _fetch(http, url, origins, TEXT_TYPES, max_bytes, timeout, cut=True)
    decoder = codecs.getincrementaldecoder(_charset(content_type))(errors="replace")
    # final=False when cut: a character split by the cut is dropped instead of shown as U+FFFD.
    text = decoder.decode(data, final=not was_cut)
    if was_cut:
        text += f"\n[… text cut at {max_bytes:,} bytes; the whole text is at {url}]"
    return text


def _charset(content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset() or "utf-8"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"
