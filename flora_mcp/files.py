"""Local files the user allows: paths checked against allowed folders, uploads read and typed from
their bytes, outputs saved under meaningful names without overwriting.

Pure file-system code, no network and no MCP: the server decides which folders are allowed (the
client's roots, or a setting) and maps `FileRefused` to a tool error. Every refusal names the
path, the reason, and what would be accepted.
"""

from __future__ import annotations

import codecs
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple
from urllib.parse import unquote, urlsplit

MAX_UPLOAD_BYTES = 50_000_000
SLUG_CHARS = 40
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SEPARATORS = re.compile(r"[\\/]")
_DRIVE_PATH = re.compile(r"/[A-Za-z]:")
_UPLOAD_KINDS = "PNG, JPEG, GIF, WEBP, MP4, MOV, WEBM, MP3, WAV, OGG or FLAC"
_KIND_BY_SUFFIX = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp"), "image"),
    **dict.fromkeys((".mp4", ".mov", ".m4v", ".webm"), "video"),
    **dict.fromkeys((".mp3", ".wav", ".ogg", ".oga", ".flac", ".m4a"), "audio"),
}


class FileRefused(Exception):
    """A path or a file broke a rule; the message names it, says why and what is accepted."""


class Upload(NamedTuple):
    data: bytes
    content_type: str
    file_name: str


def _listed(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots) if roots else "none (no folder is allowed)"


def _real_roots(roots: Sequence[Path]) -> list[Path]:
    return [Path(root).expanduser().resolve() for root in roots]


def resolve_allowed(path: str, roots: Sequence[Path], *, must_exist: bool = True) -> Path:
    """The real path of `path` (`~` expanded, symlinks resolved) if it lies under one of `roots`.

    `..` is refused outright rather than resolved: an agent has no business climbing out of a
    folder, and a refusal is easier to understand than a path that silently lands elsewhere.
    With `must_exist=False` (a folder to save into) the missing tail is allowed; the existing
    part is still resolved, so a symlinked parent cannot lead outside.
    """
    allowed = _real_roots(roots)
    accepted = f"Allowed folders: {_listed(allowed)}."
    if not path.strip():
        raise FileRefused(f"No path given. {accepted}")
    if ".." in _SEPARATORS.split(path):
        raise FileRefused(f"Refused {path!r}: paths with '..' are not accepted. {accepted}")
    expanded = Path(path).expanduser()
    if not expanded.is_absolute():
        raise FileRefused(
            f"Refused {path!r}: it is relative; give an absolute path or one starting with ~. {accepted}"
        )
    try:
        real = expanded.resolve(strict=must_exist)
    except FileNotFoundError:
        raise FileRefused(f"Refused {path!r}: no such file or folder. {accepted}") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise FileRefused(f"Refused {path!r}: it cannot be resolved ({exc}). {accepted}") from None
    if not any(real.is_relative_to(root) for root in allowed):
        linked = real != Path(os.path.normpath(expanded))
        through = f" (it leads to {real} through a symbolic link)" if linked else ""
        raise FileRefused(f"Refused {path!r}: it is outside the allowed folders{through}. {accepted}")
    return real


def roots_from_uris(uris: Sequence[str]) -> list[Path]:
    """Local folders from MCP roots; roots that are not `file://` URIs (or not local) are skipped."""
    paths: list[Path] = []
    for uri in uris:
        parts = urlsplit(str(uri))
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            continue
        local = unquote(parts.path)
        if os.name == "nt" and _DRIVE_PATH.match(local):
            local = local[1:]  # file:///C:/Users/ada -> C:/Users/ada
        if local:
            paths.append(Path(local))
    return paths


# Magic numbers: (offset, bytes, media type). Checked in order; the ISO box and MPEG frame
# headers need a look beyond one signature (`_iso_media`, `_mpeg_frame`).
_SIGNATURES: Final = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),  # after RIFF....
    (8, b"WAVE", "audio/wav"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),  # EBML: WebM (or Matroska, which WebM is a subset of)
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
)
# Still images in an MP4 box: not a video, and not a type FLORA takes.
_STILL_BRANDS: Final = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1")


def sniff_media(data: bytes) -> str | None:
    """The media type of `data` from its magic numbers, or None when it is none we upload."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12])
    for offset, magic, media_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (offset == 0 or head.startswith(b"RIFF")):
            return media_type
    return "audio/mpeg" if _mpeg_frame(head) else None


def _iso_media(brand: bytes) -> str | None:
    """ISO base media (MP4, QuickTime): the brand says QuickTime, audio-only MP4 or video."""
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    return None if brand in _STILL_BRANDS else "video/mp4"


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then layer III (AAC's ADTS has layer 0)."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3 == 0x1


def _what_it_is(data: bytes) -> str:
    """A short guess for a refusal message: text or unknown binary."""
    try:  # final=False: a character cut at byte 512 is not a reason to call text binary
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:512], final=False)
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        return f"unknown binary content starting {data[:8].hex(' ')}"
    return "it looks like text"


def media_type_of(data: bytes, source: str) -> str:
    """The type `data` sniffs as; refused when it is none we upload.

    A file is what its bytes say: the name's extension only picks the wording of a refusal.
    """
    found = sniff_media(data)
    suffix = Path(urlsplit(source).path if "://" in source else source).suffix.lower()
    promised = _KIND_BY_SUFFIX.get(suffix)
    if found is None:
        kind = f"an {promised}" if promised == "image" else f"a {promised or 'supported media'} file"
        raise FileRefused(
            f"Refused {source!r}: its bytes are not {kind} ({_what_it_is(data)}). "
            f"Accepted: {_UPLOAD_KINDS}, recognised from the file's content, not its name."
        )
    return found


def read_upload(path: str, roots: Sequence[Path], max_bytes: int = MAX_UPLOAD_BYTES) -> Upload:
    """The bytes, sniffed content type and file name of an allowed local media file.

    The file is opened once and checked through that handle (fstat), so it cannot be swapped for
    a symlink or a device between the check and the read.
    """
    real = resolve_allowed(path, roots)
    # O_NONBLOCK: opening a FIFO must not hang the server waiting for a writer.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise FileRefused(f"Refused {path!r}: it cannot be opened ({exc.strerror}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"Refused {path!r}: it is not a regular file. Give the path of a media file.")
        if info.st_size == 0:
            raise FileRefused(f"Refused {path!r}: the file is empty (0 bytes).")
        if info.st_size > max_bytes:
            raise FileRefused(
                f"Refused {path!r}: it is {info.st_size:,} bytes, over the {max_bytes:,} byte upload limit."
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew after the fstat
        raise FileRefused(f"Refused {path!r}: it is over the {max_bytes:,} byte upload limit.")
    if not data:
        raise FileRefused(f"Refused {path!r}: the file is empty (0 bytes).")
    return Upload(data, media_type_of(data, path), real.name)


def slug(text: str, limit: int = SLUG_CHARS) -> str:
    """Lower-case ASCII words joined by '-', cut at a word boundary near `limit` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _SLUG_UNSAFE.sub("-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        cut = words[: limit + 1]
        words = cut.rsplit("-", 1)[0] if "-" in cut else cut[:limit]
    return words.strip("-")


def safe_name(name: str, default: str = "output") -> str:
    """A file name with no directory parts, no leading dots and only portable characters."""
    cleaned = _NAME_UNSAFE.sub("_", Path(name.replace("\\", "/")).name).lstrip("._")
    return cleaned[:120] or default


def output_file_name(prompt: str, model: str | None, index: int, run_id: str, ext: str) -> str:
    """`<prompt slug>_<model>_<index>_<short run id>.<ext>`, e.g. `a-red-mug-on-oak_t2i-flux_1_8f3a9c2e.png`.

    Sorting a folder groups a prompt's pictures; the run id's tail tells two runs of one prompt
    apart and leads back to the run. `index` is the file's place in the order the user gave the
    runs (across runs, not within one), counting from 1, as a user would.
    """
    short_run = re.sub(r"[^A-Za-z0-9]+", "", run_id.removeprefix("run_"))[-8:] or "run"
    model_part = _NAME_UNSAFE.sub("-", model or "").strip("-.")[:40] or "default-model"
    parts = [slug(prompt) or "untitled", model_part, str(index), short_run]
    extension = _NAME_UNSAFE.sub("", ext.lstrip(".").lower())[:8]
    return safe_name("_".join(parts) + (f".{extension}" if extension else ""))


def _numbered(name: str, number: int) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{number}.{ext}" if dot and stem else f"{name}-{number}"


def save_bytes(folder: Path, name: str, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` to `folder/<safe name>` atomically and return the path written.

    An existing file is never replaced unless `overwrite`: the name gets a number instead
    (`mug.png`, then `mug-2.png`), so saving twice keeps both and the call still succeeds. The
    data goes to a temporary file first, so a reader never sees half a picture; it is then
    hard-linked to its name (which fails if the name is taken, so a race cannot overwrite).
    `folder` must already be checked with `resolve_allowed(..., must_exist=False)`; it is
    created here.
    """
    name = safe_name(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileRefused(f"Refused {str(folder)!r}: it is a file, not a folder.") from None
    except OSError as exc:
        raise FileRefused(f"Refused {str(folder)!r}: cannot create the folder ({exc.strerror}).") from None
    # Not tempfile.mkstemp: it makes private (0600) files, and a saved picture should get the
    # user's usual permissions, which mode 0o666 does through the umask.
    temporary = folder / f".flora-{secrets.token_hex(8)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, 0o666)
    except OSError as exc:
        raise FileRefused(f"Refused {str(folder)!r}: cannot write in it ({exc.strerror}).") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            target = folder / name
            os.replace(temporary, target)
            return target
        return _link_unused_name(temporary, folder, name)
    finally:
        temporary.unlink(missing_ok=True)


def _link_unused_name(temporary: Path, folder: Path, name: str) -> Path:
    for number in range(1, 1000):
        target = folder / (name if number == 1 else _numbered(name, number))
        try:
            os.link(temporary, target)
        except FileExistsError:
            continue
        except OSError:
            # No hard links on this file system (FAT, some network shares): reserve the name
            # with an exclusive create, then move the finished file over the reservation.
            try:
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            os.replace(temporary, target)
        return target
    raise FileRefused(f"Refused {name!r}: {folder} holds 999 files of that name already; use another folder.")
