"""Helpers for the tests of the sandbox's creative surface (assets, techniques, actions, canvas)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import anyio
import httpx2
from PIL import Image

from flora_mcp.sandbox import RunningSandbox

SPEED = 0.01  # runs end in a fraction of a second


def client(emulator: RunningSandbox, key: str | None = None) -> httpx2.AsyncClient:
    """A client with a fresh key (so a workspace of its own) unless one is given."""
    key = key or f"surface-{uuid.uuid4().hex}"
    return httpx2.AsyncClient(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=20
    )


async def workspace(http: httpx2.AsyncClient) -> str:
    response = await http.get("/workspaces")
    assert response.status_code == 200, response.text
    workspace_id: str = response.json()["workspaces"][0]["workspace_id"]
    return workspace_id


async def project(http: httpx2.AsyncClient, name: str = "Mugs") -> tuple[str, str]:
    workspace_id = await workspace(http)
    response = await http.post("/projects", json={"workspace_id": workspace_id, "name": name})
    assert response.status_code == 201, response.text
    return workspace_id, response.json()["project_id"]


async def wait(http: httpx2.AsyncClient, run_id: str, path: str | None = None) -> dict[str, Any]:
    """Poll until the run has ended: a condition with a timeout, not a blind sleep."""
    with anyio.fail_after(15):
        while True:
            response = await http.get(path or f"/runs/{run_id}")
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if run["status"] in ("completed", "failed"):
                return run
            await anyio.sleep(0.02)


def png(size: tuple[int, int] = (320, 200), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def picture(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


async def reserve(http: httpx2.AsyncClient, workspace_id: str, name: str = "photo.png") -> dict[str, Any]:
    response = await http.post(
        "/assets", json={"source": "signed-url", "workspace_id": workspace_id, "file_name": name}
    )
    assert response.status_code == 201, response.text
    reserved: dict[str, Any] = response.json()
    return reserved


async def put_file(
    http: httpx2.AsyncClient, upload: dict[str, Any], content: bytes, name: str
) -> httpx2.Response:
    """The signed upload as a client makes it: a multipart POST of the form fields and the file."""
    return await http.post(
        upload["url"], data=upload["form_fields"], files={upload["file_field"]: (name, content)}
    )


async def upload(
    http: httpx2.AsyncClient, workspace_id: str, content: bytes, name: str = "photo.png"
) -> dict[str, Any]:
    """Reserve, upload and complete; the `complete` answer."""
    reserved = await reserve(http, workspace_id, name)
    sent = await put_file(http, reserved["upload"], content, name)
    assert sent.status_code == 204, sent.text
    completed = await http.post(f"/assets/{reserved['asset_id']}/complete")
    assert completed.status_code == 200, completed.text
    answer: dict[str, Any] = completed.json()
    return answer


async def image_output(http: httpx2.AsyncClient, workspace_id: str, project_id: str, prompt: str) -> str:
    """Generate an image and wait for it; its output URL."""
    body = {"type": "image", "prompt": prompt, "workspace_id": workspace_id, "project_id": project_id}
    started = await http.post("/generate", json=body)
    assert started.status_code == 201, started.text
    run = await wait(http, started.json()["run_id"])
    assert run["status"] == "completed", run
    url: str = run["outputs"][0]["url"]
    return url
