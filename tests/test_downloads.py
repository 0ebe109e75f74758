"""The rules for fetching and saving outputs, each with a test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from flora_mcp.downloads import FetchRefused, fetch_output, safe_name, save_output
from flora_mcp.sandbox import RunningSandbox

pytestmark = pytest.mark.anyio

PUBLIC = "https://93.184.216.34"  # an IP literal, so no test depends on DNS


@pytest.fixture
async def http() -> httpx2.AsyncClient:
    return httpx2.AsyncClient()


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
        await fetch_output(http, url, loopback_origin=None)


async def test_the_sandbox_loopback_origin_is_fetched(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox)
    data = await fetch_output(http, url, loopback_origin=sandbox.origin)
    assert data.startswith(b"\x89PNG")
    with pytest.raises(FetchRefused, match="https"):
        await fetch_output(http, url, loopback_origin="http://127.0.0.1:1")


async def test_outputs_over_the_size_cap_are_refused(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox)
    with pytest.raises(FetchRefused, match="limit"):
        await fetch_output(http, url, loopback_origin=sandbox.origin, max_bytes=1_000)


async def test_content_of_the_wrong_type_is_refused(
    sandbox: RunningSandbox, http: httpx2.AsyncClient
) -> None:
    url = await _sandbox_output(sandbox, "text")
    with pytest.raises(FetchRefused, match="expected image"):
        await fetch_output(http, url, loopback_origin=sandbox.origin)


async def test_a_public_url_redirecting_inside_the_network_is_refused() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "93.184.216.34":
            return httpx2.Response(302, headers={"Location": "https://192.168.1.10/admin.png"})
        return httpx2.Response(200, headers={"Content-Type": "image/png"}, content=b"\x89PNG")

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as mock:
        with pytest.raises(FetchRefused, match="non-public"):
            await fetch_output(mock, f"{PUBLIC}/a.png", loopback_origin=None)


async def test_redirects_to_public_https_are_followed_a_few_times_only() -> None:
    hops: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        hops.append(str(request.url))
        return httpx2.Response(302, headers={"Location": f"{PUBLIC}/next{len(hops)}.png"})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as mock:
        with pytest.raises(FetchRefused, match="redirects"):
            await fetch_output(mock, f"{PUBLIC}/a.png", loopback_origin=None)
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
            http, f"{silent_server}/a.png", loopback_origin=silent_server, timeout=httpx2.Timeout(0.5)
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


async def test_saving_writes_inside_the_chosen_directory_only(
    sandbox: RunningSandbox, http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    url = await _sandbox_output(sandbox)
    out = tmp_path / "out"
    path = await save_output(http, url, out, "../../escape.png", loopback_origin=sandbox.origin)
    assert path == out.resolve() / "escape.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "escape.png").exists()
