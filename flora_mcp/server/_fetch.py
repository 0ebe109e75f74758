"""Fetching output files for inline display: bounded in size and time, https or the sandbox only."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx2

logger = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 25_000_000
FETCH_TIMEOUT = httpx2.Timeout(20.0, connect=5.0)


class FetchRefused(Exception):
    """The URL or its answer broke a rule; the message says which."""


def check_url(url: str, sandbox_origin: str | None) -> None:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme != "https" and origin != sandbox_origin:
        raise FetchRefused(f"only https output URLs are fetched, not {parts.scheme or 'relative'} ones")


async def fetch_output(
    http: httpx2.AsyncClient,
    url: str,
    *,
    sandbox_origin: str | None,
    expect: str = "image/",
    max_bytes: int = MAX_OUTPUT_BYTES,
) -> bytes:
    """The body of `url`, refused if it is not `expect` content or larger than `max_bytes`."""
    check_url(url, sandbox_origin)
    # No auth header: output URLs are public, and the API key must not travel to a media host.
    async with http.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=False) as response:
        response.raise_for_status()
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith(expect):
            raise FetchRefused(f"expected {expect}* content, got {content_type or 'none'}")
        declared = int(response.headers.get("content-length") or 0)
        if declared > max_bytes:
            raise FetchRefused(f"output is {declared} bytes, over the {max_bytes} limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchRefused(f"output is over the {max_bytes} byte limit")
            chunks.append(chunk)
    return b"".join(chunks)
