"""The rules for local files: which paths are allowed, what an upload must be, how outputs are saved."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from flora_mcp import files
from flora_mcp.files import FileRefused


def _png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return allowed


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    other = tmp_path / "outside"
    other.mkdir()
    return other


def test_a_path_inside_an_allowed_folder_resolves_to_its_real_path(root: Path) -> None:
    (root / "mug.png").write_bytes(_png())
    assert files.resolve_allowed(str(root / "mug.png"), [root]) == (root / "mug.png").resolve()


def test_a_path_with_dot_dot_is_refused_even_when_it_stays_inside(root: Path) -> None:
    (root / "a").mkdir()
    (root / "mug.png").write_bytes(_png())
    with pytest.raises(FileRefused, match=r"'\.\.' are not accepted") as refused:
        files.resolve_allowed(f"{root}/a/../mug.png", [root])
    assert str(root.resolve()) in str(refused.value)  # says what would be accepted


def test_a_symlink_pointing_outside_the_allowed_folders_is_refused(root: Path, outside: Path) -> None:
    (outside / "secret.png").write_bytes(_png())
    (root / "innocent.png").symlink_to(outside / "secret.png")
    with pytest.raises(FileRefused, match=r"outside the allowed folders.*symbolic link"):
        files.read_upload(str(root / "innocent.png"), [root])


def test_a_symlinked_folder_pointing_outside_is_refused_as_a_save_target(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside)
    with pytest.raises(FileRefused, match="outside the allowed folders"):
        files.resolve_allowed(str(root / "escape" / "new-folder"), [root], must_exist=False)


def test_a_folder_outside_the_roots_is_refused_naming_the_allowed_ones(root: Path, outside: Path) -> None:
    with pytest.raises(FileRefused) as refused:
        files.resolve_allowed(str(outside), [root])
    message = str(refused.value)
    assert str(outside) in message and "outside the allowed folders" in message
    assert f"Allowed folders: {root.resolve()}" in message


def test_a_relative_path_is_refused(root: Path) -> None:
    with pytest.raises(FileRefused, match="relative"):
        files.resolve_allowed("mug.png", [root])


def test_a_missing_file_is_refused_but_a_missing_save_folder_is_allowed(root: Path) -> None:
    with pytest.raises(FileRefused, match="no such file"):
        files.resolve_allowed(str(root / "nope.png"), [root])
    assert files.resolve_allowed(str(root / "new" / "deeper"), [root], must_exist=False) == (
        root.resolve() / "new" / "deeper"
    )


def test_tilde_is_the_users_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(root))
    (root / "mug.png").write_bytes(_png())
    assert files.resolve_allowed("~/mug.png", [Path("~")]) == (root / "mug.png").resolve()


def test_no_roots_allows_nothing(root: Path) -> None:
    with pytest.raises(FileRefused, match="no folder is allowed"):
        files.resolve_allowed(str(root), [])


def test_a_good_png_is_read_with_its_type_and_name(root: Path) -> None:
    data = _png()
    (root / "product.png").write_bytes(data)
    upload = files.read_upload(str(root / "product.png"), [root])
    assert upload == files.Upload(data, "image/png", "product.png")


def test_an_empty_file_is_refused(root: Path) -> None:
    (root / "empty.png").write_bytes(b"")
    with pytest.raises(FileRefused, match=r"empty \(0 bytes\)"):
        files.read_upload(str(root / "empty.png"), [root])


def test_a_file_over_the_cap_is_refused_with_its_size_and_the_cap(root: Path) -> None:
    (root / "big.png").write_bytes(_png() + b"\0" * 5_000)
    size = (root / "big.png").stat().st_size
    with pytest.raises(FileRefused, match=rf"{size:,} bytes, over the 4,096 byte upload limit"):
        files.read_upload(str(root / "big.png"), [root], max_bytes=4_096)


def test_a_text_file_renamed_png_is_refused_by_its_bytes(root: Path) -> None:
    (root / "notes.png").write_text("meeting notes: buy more mugs\n")
    with pytest.raises(
        FileRefused, match=re.escape("its bytes are not an image (it looks like text)")
    ) as refused:
        files.read_upload(str(root / "notes.png"), [root])
    assert "PNG, JPEG" in str(refused.value)


def test_a_folder_or_a_fifo_is_not_an_upload(root: Path) -> None:
    with pytest.raises(FileRefused, match="not a regular file"):
        files.read_upload(str(root), [root])
    os.mkfifo(root / "pipe.png")  # opening must not wait for a writer
    with pytest.raises(FileRefused, match="not a regular file"):
        files.read_upload(str(root / "pipe.png"), [root])


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\0\x01\0", "image/gif"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"\0\0\0\x20ftypisom\0\0\x02\0", "video/mp4"),
        (b"\0\0\0\x14ftypqt  \0\0\x02\0", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm"),
        (b"ID3\x04\0\0\0\0\0\0", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\0\0", "audio/mpeg"),
        (b"RIFF\x24\0\0\0WAVEfmt ", "audio/wav"),
        (b"OggS\0\x02\0\0", "audio/ogg"),
        (b"fLaC\0\0\0\x22", "audio/flac"),
        (b"%PDF-1.7\n", None),
        (b"\xff\xf1\x50\x80", None),  # AAC's ADTS header is not MP3
        (b"\0\0\0\x1cftypavif", None),
    ],
)
def test_media_types_are_sniffed_from_magic_numbers(head: bytes, expected: str | None) -> None:
    assert files.sniff_media(head) == expected


def test_roots_from_file_uris_become_paths_and_others_are_skipped() -> None:
    uris = ["file:///home/ada/Pictures", "file:///tmp/with%20space", "https://example.com/x", "file://host/x"]
    assert files.roots_from_uris(uris) == [Path("/home/ada/Pictures"), Path("/tmp/with space")]


def test_output_names_carry_prompt_model_index_and_run() -> None:
    name = files.output_file_name(
        "A red ceramic mug on an oak table, soft morning light, 35mm",
        "t2i-flux-1.1-pro",
        2,
        "run_8f3a9c2e",
        "png",
    )
    assert name == "a-red-ceramic-mug-on-an-oak-table-soft_t2i-flux-1.1-pro_2_8f3a9c2e.png"


def test_output_names_are_safe_whatever_the_prompt() -> None:
    name = files.output_file_name("../../etc/passwd; rm -rf ~ 🎉", None, 1, "run_/../x", ".JPG")
    assert "/" not in name and not name.startswith(".")
    assert name == "etc-passwd-rm-rf_default-model_1_x.jpg"
    assert files.output_file_name("🎉", "m", 1, "run_1", "png").startswith("untitled_m_1_")


def test_saving_never_overwrites_unless_asked(root: Path) -> None:
    first = files.save_bytes(root / "mugs", "mug.png", b"first")
    second = files.save_bytes(root / "mugs", "mug.png", b"second")
    assert (first.name, second.name) == ("mug.png", "mug-2.png")
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")
    replaced = files.save_bytes(root / "mugs", "mug.png", b"third", overwrite=True)
    assert replaced == first and first.read_bytes() == b"third"
    assert sorted(p.name for p in (root / "mugs").iterdir()) == ["mug-2.png", "mug.png"]  # no temp files


def test_saving_keeps_names_inside_the_folder(root: Path) -> None:
    path = files.save_bytes(root, "../../escape.png", b"x")
    assert path == root / "escape.png"


def test_saving_into_a_file_is_refused(root: Path) -> None:
    (root / "taken").write_bytes(b"x")
    with pytest.raises(FileRefused, match="not a folder"):
        files.save_bytes(root / "taken", "mug.png", b"y")


def test_saved_files_get_the_users_usual_permissions_not_private_temp_ones(root: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = files.save_bytes(root, "mug.png", b"x")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644
