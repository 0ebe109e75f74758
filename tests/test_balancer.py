"""The round-robin balancer the scale-out tests stand behind: every request to the next upstream, intact."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import anyio.to_thread
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.balancer import round_robin, serving

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WAIT_SECONDS = 10


def echo_app(name: str, release: threading.Event) -> Starlette:
    """Says who answered and what it received; /events streams one event, then another once released."""

    async def echo(request: Request) -> Response:
        return JSONResponse(
            {
                "upstream": name,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": (await request.body()).decode(),
            },
            headers={"x-upstream": name},
        )

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            await anyio.to_thread.run_sync(release.wait, WAIT_SECONDS)
            yield b"data: second\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(routes=[Route("/events", events), Route("/{path:path}", echo, methods=ALL_METHODS)])


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # never leave an upstream's stream waiting


@pytest.fixture
def upstreams(release: threading.Event) -> Iterator[list[str]]:
    with serving(echo_app("a", release)) as a, serving(echo_app("b", release)) as b:
        yield [a, b]


def test_every_request_on_one_connection_goes_to_the_next_upstream(upstreams: list[str]) -> None:
    with round_robin(upstreams) as balancer, httpx2.Client(base_url=balancer.url) as http:
        answered = [http.get("/mcp").json()["upstream"] for _ in range(6)]
        assert answered == ["a", "b", "a", "b", "a", "b"]
        assert balancer.counts == {upstreams[0]: 3, upstreams[1]: 3}


def test_method_path_query_headers_and_body_arrive_intact(upstreams: list[str]) -> None:
    with round_robin(upstreams) as balancer, httpx2.Client(base_url=balancer.url) as http:
        answer = http.patch(
            "/some/where%20else?b=2&a=1&a=3",
            content=b'{"jsonrpc": "2.0"}',
            headers={
                "Content-Type": "application/json",
                "Mcp-Session-Id": "session-1",
                "Connection": "keep-alive, x-private",
                "X-Private": "for the balancer only",
            },
        )
    assert answer.status_code == 200
    assert answer.headers["x-upstream"] == "a"
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PATCH", "/some/where else", "b=2&a=1&a=3")
    assert seen["body"] == '{"jsonrpc": "2.0"}'
    assert seen["headers"]["mcp-session-id"] == "session-1"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["content-length"] == str(len(b'{"jsonrpc": "2.0"}'))
    assert seen["headers"]["host"] == upstreams[0].removeprefix("http://")
    assert "x-private" not in seen["headers"]


def test_server_sent_events_stream_through_as_they_are_sent(
    upstreams: list[str], release: threading.Event
) -> None:
    with (
        round_robin(upstreams) as balancer,
        httpx2.Client(base_url=balancer.url, timeout=WAIT_SECONDS) as http,
        http.stream("GET", "/events") as answer,
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        # The upstream sends the second event only after the first has reached us: a buffering
        # balancer would hang here until the upstream's timeout.
        assert next(lines) == "data: first"
        release.set()
        assert [line for line in lines if line] == ["data: second"]


def test_an_upstream_that_refuses_connections_is_skipped(upstreams: list[str]) -> None:
    with serving(Starlette()) as gone:
        pass  # a port that just stopped listening: a killed replica
    with round_robin([upstreams[0], gone]) as balancer, httpx2.Client(base_url=balancer.url) as http:
        assert [http.post("/mcp").status_code for _ in range(4)] == [200] * 4
        assert balancer.counts == {upstreams[0]: 4, gone: 0}


def test_no_upstream_accepting_answers_502() -> None:
    with serving(Starlette()) as gone:
        pass
    with round_robin([gone]) as balancer, httpx2.Client(base_url=balancer.url) as http:
        assert http.get("/mcp").status_code == 502
