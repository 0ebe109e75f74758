"""Assets: files a user brings to FLORA (`POST /assets`), by URL or by a signed upload, served back publicly.

The bytes are checked by content, never by name: an image must decode with Pillow, a video or an audio
file must carry its container's signature. Everything here is pure data and checks; the HTTP side is in
`_surface`.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, unquote, urlsplit

import httpx2
from PIL import Image, UnidentifiedImageError

from flora_mcp.sandbox._store import ms

if TYPE_CHECKING:
    from flora_mcp.sandbox._store import SandboxState

MAX_ASSET_BYTES = 20 * 1024 * 1024
MAX_DIRECT_BYTES = 4 * 1024 * 1024  # a multipart upload's cap (4,194,304 bytes); larger: signed upload
MAX_URL_BYTES = 50 * 1024 * 1024  # what FLORA fetches from a public URL
STAND_IN_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
UPLOAD_TTL_SECONDS = 60 * 60
FETCH_TIMEOUT_SECONDS = 10.0
ASSET_FILES = "/uploads"  # public files: /uploads/{asset_id}/{name}
UPLOAD_FORM = "/upload"  # the signed upload's target: POST /upload/{asset_id}, multipart
OUTPUT_FILES = "/outputs"  # technique and action outputs: /outputs/{run_id}/{file}

_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_ID = re.compile(r"asset_\S+")
Status = Literal["pending_upload", "ready", "failed"]


class Rejected(ValueError):
    """The bytes are not a file FLORA takes; the message says why, for `failure_message`."""


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    kind: str  # image | video | audio
    width: int | None = None
    height: int | None = None


# Audio and video by their first bytes; images are left to Pillow, which also checks the body.
_MEDIA_SIGNATURES: Final = (
    (b"\x1a\x45\xdf\xa3", "video/webm", "video"),
    (b"ID3", "audio/mpeg", "audio"),
    (b"\xff\xfb", "audio/mpeg", "audio"),
    (b"\xff\xf3", "audio/mpeg", "audio"),
    (b"\xff\xf2", "audio/mpeg", "audio"),
    (b"OggS", "audio/ogg", "audio"),
    (b"fLaC", "audio/flac", "audio"),
)


def _audio_or_video(head: bytes) -> Sniffed | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"M4A"):
            return Sniffed("audio/mp4", "audio")
        return Sniffed("video/quicktime" if brand == b"qt  " else "video/mp4", "video")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Sniffed("audio/wav", "audio")
    return next((Sniffed(t, k) for magic, t, k in _MEDIA_SIGNATURES if head.startswith(magic)), None)


def sniff(content: bytes) -> Sniffed:
    """What the bytes are, from their content; raises Rejected for anything else."""
    if not content:
        raise Rejected("The file is empty.")
    if len(content) > MAX_ASSET_BYTES:
        raise Rejected(f"The file is {len(content)} bytes; the limit is {MAX_ASSET_BYTES}.")
    media = _audio_or_video(content[:16])
    if media is not None:
        return media
    try:
        with Image.open(io.BytesIO(content)) as probe:
            image_format, (width, height) = probe.format, probe.size
            probe.verify()  # a truncated or corrupt file fails here, not only a wrong header
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Rejected(f"The file is not an image, video or audio file FLORA accepts ({exc}).") from None
    if image_format not in _IMAGE_FORMATS:
        raise Rejected(f"Image format {image_format} is not accepted; use PNG, JPEG, GIF or WebP.")
    return Sniffed(_IMAGE_FORMATS[image_format], "image", width, height)


@dataclass
class Asset:
    asset_id: str
    workspace_id: str
    name: str
    uploaded_via: Literal["url", "signed_url", "direct"]
    upload_content_type: str | None
    created: float
    seq: int
    project_id: str | None = None  # the canvas it was put on
    node_id: str | None = None  # its node there, once placed
    status: Status = "pending_upload"
    token: str = ""
    expires: float = 0.0
    content: bytes | None = None
    sniffed: Sniffed | None = None
    failure: str | None = None
    uploaded: bytes | None = None  # a signed upload's bytes, until completed
    storage: str | None = None  # the origin its file is served from (None: the API's)

    def accept(self, content: bytes) -> None:
        """Check the bytes; the asset becomes ready with them, or failed with the reason."""
        try:
            self.sniffed, self.content, self.status, self.failure = sniff(content), content, "ready", None
        except Rejected as exc:
            self.sniffed, self.content, self.status, self.failure = None, None, "failed", str(exc)

    def reserve(self, token: str, expires: float) -> None:
        """A fresh signed upload; what was uploaded, accepted or failed before is dropped."""
        self.status, self.token, self.expires = "pending_upload", token, expires
        self.failure = self.uploaded = self.content = self.sniffed = None

    def fail(self, reason: str) -> None:
        self.content, self.sniffed, self.status, self.failure = None, None, "failed", reason

    @property
    def file_name(self) -> str:
        return quote(self.name.replace("/", "_") or "file", safe="._-")

    @property
    def content_type(self) -> str:
        if self.sniffed is not None:
            return self.sniffed.content_type
        return self.upload_content_type or "application/octet-stream"


def is_asset_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def file_url(asset: Asset, origin: str) -> str:
    return f"{asset.storage or origin}{ASSET_FILES}/{asset.asset_id}/{asset.file_name}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _upload_fields(asset: Asset, origin: str) -> dict[str, Any]:
    if asset.status != "pending_upload":
        return {}
    target = f"{origin}{UPLOAD_FORM}/{asset.asset_id}"
    return {
        "upload": {
            "url": target,
            "method": "POST",
            "content_type": "multipart/form-data",
            "file_field": "file",
            "form_fields": {"token": asset.token},
        },
        "upload_url": f"{target}?token={asset.token}",
        "expires_at": _iso(asset.expires),
    }


def created_json(asset: Asset, origin: str) -> dict[str, Any]:
    """The `POST /assets` answer."""
    out = {
        "asset_id": asset.asset_id,
        "uploaded_via": asset.uploaded_via,
        "url": file_url(asset, origin),
        "workspace_id": asset.workspace_id,
        "visibility": "workspace",
        "status": asset.status,
    }
    return out | _upload_fields(asset, origin)


def upload_state_json(asset: Asset, origin: str) -> dict[str, Any]:
    """The `complete` and `retry` answers."""
    return created_json(asset, origin) | {"failure_message": asset.failure}


def _common(asset: Asset, origin: str) -> dict[str, Any]:
    sniffed = asset.sniffed
    return {
        "asset_id": asset.asset_id,
        "name": asset.name,
        "description": None,
        "workspace_id": asset.workspace_id,
        "url": file_url(asset, origin) if asset.status == "ready" else None,
        "content_type": asset.content_type,
        "upload_content_type": asset.upload_content_type,
        "uploaded_via": asset.uploaded_via,
        "status": asset.status,
        "width": sniffed.width if sniffed else None,
        "height": sniffed.height if sniffed else None,
        "size_bytes": len(asset.content) if asset.content is not None else None,
    }


def detail_json(asset: Asset, origin: str) -> dict[str, Any]:
    """`GET /assets/{id}`: `created_at` is an ISO datetime here, an integer in the list (as contracted)."""
    return _common(asset, origin) | {"created_at": _iso(asset.created), "failure_message": asset.failure}


def item_json(asset: Asset, origin: str) -> dict[str, Any]:
    placed = {"node_id": asset.node_id, "project_id": asset.project_id}
    return _common(asset, origin) | {"created_at": ms(asset.created)} | placed


def _path_parts(url: str, prefix: str) -> list[str] | None:
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if not path.startswith(prefix + "/"):
        return None
    return [unquote(part) for part in path.removeprefix(prefix + "/").split("/")]


def asset_bytes(state: SandboxState, url: str) -> bytes | None:
    """The bytes behind a sandbox URL of a ready asset or of a finished technique/action output.

    For the generation side, to resolve a reference (`params.image_url`) that points at an upload or
    at an action's output: `None` means the URL is none of these (or not ready yet), so look elsewhere.
    The origin is not compared: the sandbox answers on whatever loopback origin the client called.
    """
    parts = _path_parts(url, ASSET_FILES)
    if parts is not None and len(parts) == 2:
        asset = state.assets.get(parts[0])
        if asset is not None and asset.status == "ready" and parts[1] == unquote(asset.file_name):
            return asset.content
        return None
    parts = _path_parts(url, OUTPUT_FILES)
    if parts is not None and len(parts) == 2:
        job = state.jobs.get(parts[0])
        if job is not None and job.progress_at(state.clock()).status == "completed":
            output = job.output(parts[1])
            return output.content if output is not None else None
    return None


def blocked_host(url: str) -> str | None:
    """Why FLORA would not fetch this URL (not https, or a private, loopback or metadata address)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        return "only https URLs are fetched"
    if host in ("localhost", "metadata.google.internal") or host.endswith((".local", ".internal")):
        return f"{host} is not a public host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_global else f"{host} is not a public address"


def stand_in(url: str) -> bytes:
    """What the sandbox keeps for a public image URL it does not fetch (it stays off the internet):
    a picture drawn from the URL, the same for the same URL."""
    digest = hashlib.sha256(url.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (digest[0], digest[1], digest[2])).save(out, format="PNG")
    return out.getvalue()


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch(url: str, max_bytes: int = MAX_ASSET_BYTES) -> bytes:
    """GET a URL, at most `max_bytes`; raises Rejected with the reason when that fails."""
    try:
        async with (
            httpx2.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise Rejected(f"Fetching {url} answered HTTP {response.status_code}.")
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > max_bytes:
                    raise Rejected(f"The file at {url} is over the {max_bytes}-byte limit.")
            return bytes(content)
    except httpx2.HTTPError as exc:
        raise Rejected(f"Fetching {url} failed: {exc.__class__.__name__}.") from None
