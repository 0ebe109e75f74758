"""The rules for fetching outputs (images, text, bytes to re-upload) and saving them, each with a test."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx2
import pytest

from flora_mcp.downloads import (
    FetchRefused,
    fetch_bytes,
    fetch_output,
    fetch_text,
    safe_name,
)
from flora_mcp.sandbox import RunningSandbox

pytestmark = pytest.mark.anyio

PUBLIC = "https://93.184.216.34"  # an IP literal, so no test depends on DNS


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient() as client:
        yield client


async def _sandbox_output(sandbox: RunningSandbox, type_: str = "image") -> str:
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": "Bearer downloads-test"}
    ) as api:
        workspace_id = (await api.get("/workspaces")).json()["workspaces"][0]["workspace_id"]
        project = (await api.post("/projects", json={"workspace_id": workspace_id, "name": "d"})).json()
        body = {
            "type": type_,
            "prompt": "a mug",
            "workspace_id": workspace_id,
            "project_id": project["project_id"],
        }
        run_id = (await api.post("/generate", json=body)).json()["run_id"]
        with anyio.fail_after(30):
            while True:
                run = (await api.get(f"/runs/{run_id}")).json()
                if run["status"] == "completed":
                    break
                await anyio.sleep(0.02)
    url: str = run["outputs"][0]["url"]
    return url


def _renamed(url: str, host: str) -> str:
    """The same loopback URL under the host name given (127.0.0.1 or localhost)."""
    return url.replace("//127.0.0.1:", f"//{host}:").replace("//localhost:", f"//{host}:")


def _origins(sandbox: RunningSandbox) -> list[str]:
    """The sandbox serves outputs under both its loopback names, as FLORA serves them from two hosts."""
    return [_renamed(sandbox.origin, "127.0.0.1"), _renamed(sandbox.origin, "localhost")]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "ftp://example.com/a.png",
        "https://127.0.0.1/a.png",
        "https://10.1.2.3/a.png",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/a.png",
        "https://localhost/a.png",
    ],
)
async def test_only_https_to_public_addresses_is_fetched(http: httpx2.AsyncClient, url: str) -> None:
    with pytest.raises(FetchRefused):
        await fetch_output(http, url, loopback_origins=())


async def test_the_sandbox_loopback_origin_is_fetched(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox)
    data = await fetch_output(http, url, loopback_origins=_origins(sandbox))
    assert data.startswith(b"\x89PNG")
    with pytest.raises(FetchRefused, match="https"):
        await fetch_output(http, url, loopback_origins=["http://127.0.0.1:1"])


async def test_outputs_over_the_size_cap_are_refused(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox)
    with pytest.raises(FetchRefused, match="limit"):
        await fetch_output(http, url, loopback_origins=_origins(sandbox), max_bytes=1_000)


async def test_content_of_the_wrong_type_is_refused(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox, "text")
    with pytest.raises(FetchRefused, match="expected image"):
        await fetch_output(http, url, loopback_origins=_origins(sandbox))


async def test_a_public_url_redirecting_inside_the_network_is_refused() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "93.184.216.34":
            return httpx2.Response(302, headers={"Location": "https://192.168.1.10/admin.png"})
        return httpx2.Response(200, headers={"Content-Type": "image/png"}, content=b"\x89PNG")

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as mock:
        with pytest.raises(FetchRefused, match="non-public"):
            await fetch_output(mock, f"{PUBLIC}/a.png", loopback_origins=())


async def test_redirects_to_public_https_are_followed_a_few_times_only() -> None:
    hops: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        hops.append(str(request.url))
        return httpx2.Response(302, headers={"Location": f"{PUBLIC}/next{len(hops)}.png"})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as mock:
        with pytest.raises(FetchRefused, match="redirects"):
            await fetch_output(mock, f"{PUBLIC}/a.png", loopback_origins=())
    assert len(hops) == 4


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


async def test_a_server_that_never_answers_times_out(silent_server: str, http: httpx2.AsyncClient) -> None:
    with pytest.raises(httpx2.TimeoutException):
        await fetch_output(
            http, f"{silent_server}/a.png", loopback_origins=[silent_server], timeout=httpx2.Timeout(0.5)
        )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run_1-output_1.png", "run_1-output_1.png"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        (".bashrc", "bashrc"),
        ("a b;rm -rf.png", "a_b_rm_-rf.png"),
        ("../", "output"),
    ],
)
def test_file_names_are_sanitised(name: str, expected: str) -> None:
    assert safe_name(name) == expected


async def test_both_loopback_origins_of_the_sandbox_are_fetched_and_a_third_is_refused(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox)
    both = [_renamed(url, "127.0.0.1"), _renamed(url, "localhost")]
    assert both[0] != both[1]
    for each in both:
        assert (await fetch_output(http, each, loopback_origins=_origins(sandbox))).startswith(b"\x89PNG")
    port = int(sandbox.origin.rsplit(":", 1)[1])
    third = both[0].replace(f":{port}/", f":{port + 1}/")
    with pytest.raises(FetchRefused, match="only https"):
        await fetch_output(http, third, loopback_origins=_origins(sandbox))


@pytest.mark.parametrize(
    "origin", ["http://93.184.216.34", "http://192.168.1.10:8000", "https://127.0.0.1:9"]
)
async def test_an_allowed_origin_that_is_not_plain_http_loopback_is_ignored(
    http: httpx2.AsyncClient, origin: str
) -> None:
    with pytest.raises(FetchRefused):
        await fetch_output(http, f"{origin}/a.png", loopback_origins=[origin])


def _serving(content: bytes, content_type: str) -> httpx2.AsyncClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"Content-Type": content_type}, content=content)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer))


async def test_a_text_output_is_fetched_as_words(sandbox: RunningSandbox, http: httpx2.AsyncClient) -> None:
    url = await _sandbox_output(sandbox, "text")
    text = await fetch_text(http, url, loopback_origins=_origins(sandbox))
    assert "mug" in text.lower() and "\ufffd" not in text


async def test_a_long_text_is_cut_at_the_cap_on_a_character_boundary_and_says_so() -> None:
    words = "é" * 60_000  # 120,000 bytes of UTF-8, two bytes a character
    async with _serving(words.encode(), "text/plain; charset=utf-8") as mock:
        text = await fetch_text(mock, f"{PUBLIC}/t.txt", max_bytes=1_001)
    body, note = text.split("\n", 1)
    assert body == "é" * 500  # the half character at the cut is dropped, not shown as U+FFFD
    assert "cut at 1,001 bytes" in note and f"{PUBLIC}/t.txt" in note


async def test_text_is_decoded_with_its_charset_and_bad_bytes_are_replaced() -> None:
    async with _serving("café".encode("latin-1"), "text/plain; charset=ISO-8859-1") as mock:
        assert await fetch_text(mock, f"{PUBLIC}/t.txt") == "café"
    async with _serving(b"caf\xe9 ok", "text/plain") as mock:
        assert await fetch_text(mock, f"{PUBLIC}/t.txt") == "caf\ufffd ok"
    async with _serving(b'{"tagline": "Sip slow."}', "application/json") as mock:
        assert await fetch_text(mock, f"{PUBLIC}/t.json") == '{"tagline": "Sip slow."}'


async def test_text_of_a_non_text_type_is_refused() -> None:
    async with _serving(b"\x89PNG\r\n\x1a\n", "image/png") as mock:
        with pytest.raises(FetchRefused, match="expected text"):
            await fetch_text(mock, f"{PUBLIC}/t.txt")


async def test_text_follows_the_same_address_rules_as_images(http: httpx2.AsyncClient) -> None:
    with pytest.raises(FetchRefused, match="non-public"):
        await fetch_text(http, "https://10.0.0.1/t.txt")


async def test_bytes_for_a_reupload_take_any_declared_type_but_keep_the_cap() -> None:
    async with _serving(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "application/octet-stream") as mock:
        assert (await fetch_bytes(mock, f"{PUBLIC}/a.bin")).startswith(b"\x89PNG")
        with pytest.raises(FetchRefused, match="limit"):
            await fetch_bytes(mock, f"{PUBLIC}/a.bin", max_bytes=50)
        with pytest.raises(FetchRefused, match="only https"):
            await fetch_bytes(mock, "http://93.184.216.34/a.bin")
