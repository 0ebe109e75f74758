"""The gallery in real headless Chromium, embedded by a minimal MCP Apps host, showing real sandbox results.

The host page does what an MCP Apps host does: it loads the view in a sandboxed iframe on another origin,
under the Content-Security-Policy the spec builds from the resource's `_meta.ui.csp` (as the server
declares it where sandbox results are shown: the sandbox, like FLORA, serves outputs from two origins),
answers `ui/initialize`, then posts `ui/notifications/tool-input` and `ui/notifications/tool-result` with
a result recorded from the sandbox, and sizes the iframe from `ui/notifications/size-changed`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextResourceContents
from playwright.async_api import Browser, ConsoleMessage, Frame, Page, async_playwright

from flora_mcp.sandbox import RunningSandbox
from flora_mcp.ui import GALLERY_URI, register_gallery
from tests.conftest import call_ok, error_text, wait_for_run, workspace_and_project

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 15_000
IMAGE_RATIOS = ("16:9", "1:1", "9:16")

HOST_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>MCP Apps test host</title>
<style>
  body { margin: 16px; background: #f0f0f3; font: 14px system-ui, sans-serif; }
  iframe { display: block; width: 760px; height: 120px; border: 0; background: #fff; }
</style>
<p>Test host: the gallery below is an MCP Apps view in a sandboxed iframe.</p>
<iframe id="view" sandbox="allow-scripts allow-same-origin" src="VIEW_URL"></iframe>
<script>
  const host = window.host = { received: [], sizes: [], links: [], toolCalls: [], delivered: false };
  const view = document.getElementById("view");
  // The recorded call: its arguments, its result, and what get_generation_status answers later.
  const recorded = fetch("call.json").then((response) => response.json());
  const send = (message) => view.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
  window.addEventListener("message", async (event) => {
    if (event.source !== view.contentWindow) return;
    const message = event.data;
    host.received.push(message);
    const call = await recorded;
    if (message.method === "ui/initialize") {
      send({ id: message.id, result: {
        protocolVersion: message.params.protocolVersion,
        hostInfo: { name: "flora-mcp-test-host", version: "0" },
        hostCapabilities: { openLinks: {}, ...(call.later ? { serverTools: {} } : {}) },
        hostContext: { theme: "light", displayMode: "inline", containerDimensions: { width: 760 } },
      } });
    } else if (message.method === "ui/notifications/initialized") {  // nothing is sent before this
      send({ method: "ui/notifications/tool-input", params: { arguments: call.arguments } });
      send({ method: "ui/notifications/tool-result", params: call.result });
      host.delivered = true;
    } else if (message.method === "ui/notifications/size-changed") {
      host.sizes.push(message.params);
      view.style.height = `${message.params.height}px`;
    } else if (message.method === "ui/open-link") {
      host.links.push(message.params.url);
      send({ id: message.id, result: {} });
    } else if (message.method === "tools/call") {
      host.toolCalls.push(message.params);
      const { name, arguments: args } = message.params;
      const later = name === "get_generation_status" && call.later?.[args.run_id];
      const unknown = { code: -32602, message: "unknown run" };
      send(later ? { id: message.id, result: later } : { id: message.id, error: unknown });
    }
  });
</script>
"""


# --- a loopback web server for the host page and the view ---


@dataclass(frozen=True)
class Page_:
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@contextmanager
def serve(pages: dict[str, Page_]) -> Iterator[str]:
    """Serve fixed pages on a free loopback port; yields the origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages.get(self.path.split("?")[0])
            if page is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in page.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def host_csp(ui: dict[str, Any]) -> str:
    """The iframe's policy as the MCP Apps spec tells hosts to build it from `_meta.ui.csp`."""
    csp = ui.get("csp", {})
    resources = " ".join(csp.get("resourceDomains", []))
    connect = " ".join(csp.get("connectDomains", []))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'unsafe-inline' {resources}",
            f"style-src 'self' 'unsafe-inline' {resources}",
            f"connect-src 'self' {connect}",
            f"img-src 'self' data: {resources}",
            f"font-src 'self' {resources}",
            f"media-src 'self' data: {resources}",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'self'",
        ]
    )


# --- fixtures ---


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: this test renders the gallery in real Chromium. "
            "Install it with `apt-get install -y chromium` (CI installs it)."
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def read_gallery(client: Client) -> TextResourceContents:
    """The view as a host reads it over MCP."""
    (contents,) = (await client.read_resource(GALLERY_URI)).contents
    assert isinstance(contents, TextResourceContents)
    assert contents.meta is not None
    return contents


async def gallery_for(origins: list[str]) -> TextResourceContents:
    """The view from a bare server that declares `origins` as its media origins."""
    server: MCPServer[Any] = MCPServer(name="gallery")

    async def media_origins() -> list[str]:
        return origins

    register_gallery(server, media_origins)
    async with Client(server) as client:
        return await read_gallery(client)


@dataclass
class Hosted:
    page: Page
    view: Frame
    console: list[str]


@asynccontextmanager
async def hosted(
    browser: Browser,
    gallery: TextResourceContents,
    arguments: dict[str, Any],
    result: dict[str, Any],
    later: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Hosted]:
    """The gallery, on its own origin under its declared CSP, inside the host page that delivers this
    tool call.

    `later` maps run ids to what get_generation_status returns when the view asks through the host;
    without it the host offers no tool calls.
    """
    assert gallery.meta is not None
    view_pages = {
        "/gallery.html": Page_(
            "text/html; charset=utf-8",
            gallery.text.encode(),
            {"Content-Security-Policy": host_csp(gallery.meta["ui"])},
        )
    }
    call = json.dumps({"arguments": arguments, "result": result, "later": later}).encode()
    with serve(view_pages) as view_origin:
        host_pages = {
            "/host.html": Page_(
                "text/html; charset=utf-8",
                HOST_PAGE.replace("VIEW_URL", f"{view_origin}/gallery.html").encode(),
            ),
            "/call.json": Page_("application/json", call),
        }
        with serve(host_pages) as host_origin:
            page = await browser.new_page(viewport={"width": 800, "height": 900})
            console: list[str] = []

            def record(message: ConsoleMessage) -> None:
                console.append(f"{message.type}: {message.text}")

            page.on("console", record)
            try:
                await page.goto(f"{host_origin}/host.html")
                iframe = await page.wait_for_selector("#view")
                assert iframe is not None
                view = await iframe.content_frame()
                assert view is not None
                await page.wait_for_function("() => window.host.delivered", timeout=WAIT_MS)
                yield Hosted(page, view, console)
            finally:
                await page.close()


def tool_result(result: CallToolResult) -> dict[str, Any]:
    """The `CallToolResult` as it travels in `ui/notifications/tool-result`."""
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- recording real results from the sandbox ---


async def start(client: Client, ids: tuple[str, str], type_: str, prompt: str, **params: Any) -> str:
    workspace_id, project_id = ids
    arguments: dict[str, Any] = {
        "type": type_,
        "prompt": prompt,
        "workspace_id": workspace_id,
        "project_id": project_id,
    }
    if params:
        arguments["params"] = params
    started = await call_ok(client, "create_generation", arguments)
    run_id: str = started["run_id"]
    return run_id


async def finished(client: Client, run_id: str) -> dict[str, Any]:
    result = await wait_for_run(client, run_id)
    assert result.structured_content is not None
    run: dict[str, Any] = result.structured_content
    return run


async def caught_running(client: Client, ids: tuple[str, str]) -> dict[str, Any]:
    """A video run's status while it is still running (the slowest model, so there is time to see it).
    Like FLORA's, its progress may stay 0 until it ends."""
    with anyio.fail_after(20):
        while True:
            run_id = await start(client, ids, "video", "A kite over the dunes, still rendering")
            while True:
                run = await call_ok(client, "get_generation_status", {"run_id": run_id})
                if run["status"] == "running":
                    return run
                if run["status"] in ("completed", "failed"):
                    break  # finished before we looked: start another
                await anyio.sleep(0.005)


async def settled(client: Client, run_id: str) -> CallToolResult:
    """A finished run's status once FLORA has billed it (`cost_usd` is null until a while after the end)."""
    with anyio.fail_after(10):
        while True:
            result = await wait_for_run(client, run_id)
            assert result.structured_content is not None
            if result.structured_content["cost_usd"] is not None:
                return result
            await anyio.sleep(0.05)


def usd(amount: float) -> str:
    """An amount as the gallery writes it: US dollars, 2 to 4 decimals."""
    whole, fraction = f"{amount:.4f}".rstrip("0").split(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def origin_of(url: str) -> str:
    parsed = httpx2.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


def with_request(run: dict[str, Any], prompt: str, model: str | None = None, **params: Any) -> dict[str, Any]:
    """A run as the one-call `generate` tool reports it: the run object plus what was asked for."""
    return {**run, "prompt": prompt, **({"model": model} if model else {}), "params": params}


# --- tests ---


async def test_gallery_shows_every_output_of_a_list_of_runs(
    browser: Browser, sandbox: RunningSandbox, mcp: Client
) -> None:
    ids = await workspace_and_project(mcp, "Gallery")
    image_prompts = {ratio: f"A lighthouse at dusk, {ratio}" for ratio in IMAGE_RATIOS}
    image_runs = {
        ratio: await start(mcp, ids, "image", prompt, aspect_ratio=ratio)
        for ratio, prompt in image_prompts.items()
    }
    video_run = await start(mcp, ids, "video", "Waves rolling in", aspect_ratio="16:9")
    audio_run = await start(mcp, ids, "audio", "Gulls and surf", duration=2)
    text_run = await start(mcp, ids, "text", "A two-line poem about the sea")
    failed_run = await start(mcp, ids, "image", "A storm [sandbox:fail]")
    running = await caught_running(mcp, ids)

    runs = [
        with_request(
            await finished(mcp, image_runs[ratio]), image_prompts[ratio], "t2i-flux-2-pro", aspect_ratio=ratio
        )
        for ratio in IMAGE_RATIOS
    ]
    runs += [
        with_request(await finished(mcp, video_run), "Waves rolling in", "t2v-veo-3", aspect_ratio="16:9"),
        with_request(await finished(mcp, audio_run), "Gulls and surf", "t2a-stable-audio-2", duration=2),
        with_request(await finished(mcp, text_run), "A two-line poem about the sea"),
        with_request(await finished(mcp, failed_run), "A storm [sandbox:fail]"),
        with_request(running, "A kite over the dunes, still rendering", "t2v-veo-3"),
    ]
    text_output = runs[5]["outputs"][0]
    failed = runs[6]
    assert failed["status"] == "failed"
    result = {
        "content": [{"type": "text", "text": f"{len(runs)} generations"}],
        "structuredContent": {"runs": runs},
        "isError": False,
    }

    gallery = await read_gallery(mcp)
    async with hosted(browser, gallery, {"workspace_id": ids[0], "project_id": ids[1]}, result) as shown:
        view = shown.view
        # Every image (the sandbox's "video" is an animated GIF: shown as one) has loaded from the sandbox.
        image_urls = [run["outputs"][0]["url"] for run in runs[:4]]
        await view.wait_for_function(
            """(urls) => urls.every((url) => {
                 const image = [...document.images].find((i) => i.src === url);
                 return image && image.complete;
               })""",
            arg=image_urls,
            timeout=WAIT_MS,
        )
        loaded = await view.evaluate(
            "() => [...document.images].map((i) => [i.src, i.naturalWidth, i.naturalHeight])"
        )
        sizes = {src: (width, height) for src, width, height in loaded}
        assert set(image_urls) <= set(sizes), shown.console
        for url in image_urls:
            assert sizes[url][0] > 0, f"{url} did not load: {shown.console}"
        for ratio, run in zip(IMAGE_RATIOS, runs, strict=False):
            width, height = sizes[run["outputs"][0]["url"]]
            across, down = (int(part) for part in ratio.split(":"))
            assert abs(width / height - across / down) < 0.02
        # Consecutive runs' outputs come from both media origins, and the server's CSP admits both.
        assert {origin_of(url) for url in image_urls} == set(sandbox.media_origins)
        assert {origin_of(src) for src in sizes} <= set(sandbox.media_origins)

        # Captions carry the prompt, the model and the aspect ratio.
        caption = await view.inner_text(f"[data-output-id='{runs[0]['outputs'][0]['output_id']}'] figcaption")
        assert image_prompts["16:9"] in caption
        assert "t2i-flux-2-pro" in caption
        assert "16:9" in caption

        # Audio plays from the sandbox: its metadata loaded under the declared media origin.
        audio_url = runs[4]["outputs"][0]["url"]
        await view.wait_for_function(
            "(url) => [...document.querySelectorAll('audio')]"
            ".some((a) => a.src === url && a.readyState >= 1)",
            arg=audio_url,
            timeout=WAIT_MS,
        )

        # Text is shown when the view may read it: that takes CORS on the media host, which the sandbox
        # leaves out; without it the card says so and its caption links to the text.
        text_card = f"[data-output-id='{text_output['output_id']}']"
        await view.wait_for_function(
            "(card) => !document.querySelector(card).textContent.includes('Loading text')",
            arg=text_card,
            timeout=WAIT_MS,
        )
        async with httpx2.AsyncClient() as http:
            served = await http.get(text_output["url"], headers={"Origin": "http://127.0.0.1"})
        links = await view.eval_on_selector_all(f"{text_card} a", "(links) => links.map((a) => a.href)")
        assert text_output["url"] in links
        if served.headers.get("access-control-allow-origin") in ("*", "http://127.0.0.1"):
            assert served.text.strip()[:40] in await view.inner_text(f"{text_card} pre")
        else:
            assert await view.query_selector(f"{text_card} [data-unreadable]") is not None

        # The running run says so, with an indeterminate bar: FLORA reports progress 0 until the end,
        # which a bar stuck at "0%" would misread. The failed one shows its error and its code.
        running_card = f"[data-run-id='{running['run_id']}']"
        assert running["progress"] == 0
        assert await view.get_attribute(f"{running_card} progress", "value") is None
        assert await view.eval_on_selector(f"{running_card} progress", "(bar) => bar.position") == -1
        running_text = await view.inner_text(running_card)
        assert "running" in running_text
        assert "0%" not in running_text
        error = await view.inner_text(f"[data-run-id='{failed['run_id']}'] .error")
        assert failed["error_message"] in error
        assert failed["error_code"] in error

        # The handshake went as the protocol has it, and the host sized the iframe to the content.
        methods = [m.get("method") for m in await shown.page.evaluate("() => window.host.received")]
        assert methods[:2] == ["ui/initialize", "ui/notifications/initialized"]
        content_height = await view.evaluate(
            """() => { const root = document.documentElement, saved = root.style.height;
                       root.style.height = 'max-content';
                       const height = Math.ceil(root.getBoundingClientRect().height);
                       root.style.height = saved; return height; }"""
        )
        await shown.page.wait_for_function(
            "(height) => window.host.sizes.some((s) => s.height === height)",
            arg=content_height,
            timeout=WAIT_MS,
        )
        assert not [line for line in shown.console if "Content Security Policy" in line]

        ARTIFACTS.mkdir(exist_ok=True)
        await shown.page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)


async def test_gallery_shows_a_single_run_with_the_calls_arguments(browser: Browser, mcp: Client) -> None:
    ids = await workspace_and_project(mcp, "Gallery single")
    prompt = "A red bicycle against a blue wall"
    run_id = await start(mcp, ids, "image", prompt, aspect_ratio="4:3")
    # The whole get_generation_status result, image blocks included, as a host would relay it, once billed.
    result = tool_result(await settled(mcp, run_id))
    arguments = {
        "run_id": run_id,
        "prompt": prompt,
        "model": "t2i-flux-2-pro",
        "params": {"aspect_ratio": "4:3"},
    }
    url = result["structuredContent"]["outputs"][0]["url"]
    cost = result["structuredContent"]["cost_usd"]

    async with hosted(browser, await read_gallery(mcp), arguments, result) as shown:
        await shown.view.wait_for_function(
            "(url) => [...document.images].some((i) => i.src === url && i.complete && i.naturalWidth > 0)",
            arg=url,
            timeout=WAIT_MS,
        )
        caption = await shown.view.inner_text("figcaption")
        assert prompt in caption
        assert "4:3" in caption
        assert usd(cost) in caption  # what FLORA billed, once settled

        # A click on the full-size link goes through the host (`ui/open-link`), which offered to.
        await shown.view.click("figcaption a")
        opened = "(url) => window.host.links.includes(url)"
        await shown.page.wait_for_function(opened, arg=url, timeout=WAIT_MS)


async def test_gallery_shows_text_outputs_it_may_read(browser: Browser) -> None:
    text = "Salt on the wind,\nthe sea keeps its own counsel."
    media = {
        "/output_1.txt": Page_(
            "text/plain; charset=utf-8", text.encode(), {"Access-Control-Allow-Origin": "*"}
        )
    }
    with serve(media) as media_origin:
        run = {
            "run_id": "run_text",
            "status": "completed",
            "progress": 100,
            "outputs": [{"output_id": "out_1", "type": "text", "url": f"{media_origin}/output_1.txt"}],
        }
        result = {"content": [{"type": "text", "text": "done"}], "structuredContent": run}
        gallery = await gallery_for([media_origin])
        async with hosted(browser, gallery, {"prompt": "A poem about the sea"}, result) as shown:
            await shown.view.wait_for_function(
                "(text) => document.querySelector('pre')?.textContent === text", arg=text, timeout=WAIT_MS
            )


async def test_gallery_follows_a_running_run_until_its_outputs_arrive(browser: Browser, mcp: Client) -> None:
    ids = await workspace_and_project(mcp, "Gallery following")
    running = await caught_running(mcp, ids)
    result = {"content": [{"type": "text", "text": "running"}], "structuredContent": running}
    done = tool_result(await wait_for_run(mcp, running["run_id"]))
    url = done["structuredContent"]["outputs"][0]["url"]

    later = {running["run_id"]: done}
    gallery = await read_gallery(mcp)
    async with hosted(browser, gallery, {"run_id": running["run_id"]}, result, later) as shown:
        await shown.view.wait_for_selector(f"[data-run-id='{running['run_id']}'] progress", timeout=WAIT_MS)
        await shown.view.wait_for_function(
            "(url) => [...document.images].some((i) => i.src === url && i.complete && i.naturalWidth > 0)",
            arg=url,
            timeout=WAIT_MS,
        )
        calls = await shown.page.evaluate("() => window.host.toolCalls")
        assert calls[0] == {"name": "get_generation_status", "arguments": {"run_id": running["run_id"]}}


async def test_gallery_shows_outputs_when_the_host_strips_structured_content(
    browser: Browser, mcp: Client
) -> None:
    ids = await workspace_and_project(mcp, "Gallery stripped")
    run_id = await start(mcp, ids, "image", "A green door", aspect_ratio="3:4")
    result = tool_result(await wait_for_run(mcp, run_id))
    url = result.pop("structuredContent")["outputs"][0]["url"]  # as Claude Desktop delivers it

    async with hosted(browser, await read_gallery(mcp), {"run_id": run_id}, result) as shown:
        await shown.view.wait_for_function(
            "(url) => [...document.images].some((i) => i.src === url && i.complete && i.naturalWidth > 0)",
            arg=url,
            timeout=WAIT_MS,
        )


async def test_gallery_shows_the_quote_while_the_bill_is_not_settled(browser: Browser, mcp: Client) -> None:
    ids = await workspace_and_project(mcp, "Gallery quote")
    prompt = "A paper boat in the rain"
    arguments = {"prompt": prompt, "type": "video", "model": "t2v-sora-2", "workspace_id": ids[0]}
    result = await mcp.call_tool("generate", {**arguments, "project_id": ids[1], "wait_seconds": 0})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    quote = result.structured_content["quoted_cost_usd"]
    (run,) = result.structured_content["runs"]
    assert run["cost_usd"] is None  # FLORA bills a while after the end; the start answer only quotes
    assert isinstance(quote, float)

    async with hosted(browser, await read_gallery(mcp), arguments, tool_result(result)) as shown:
        card = f"[data-run-id='{run['run_id']}'] figcaption"
        await shown.view.wait_for_selector(card, timeout=WAIT_MS)
        caption = await shown.view.inner_text(card)
        assert f"quoted {usd(quote)}" in caption
        assert prompt in caption
