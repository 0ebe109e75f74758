"""openapi-core's request and response protocols over httpx2 messages, for the contract checks of
both sides: the client's requests (tests/client/_contract.py) and the sandbox's answers
(tests/sandbox/test_sandbox_contract.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

CONTRACT = Path(__file__).parent / "contract" / "openapi.yaml"  # FLORA's, copied from ../shared


@dataclass
class OpenAPIRequest:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: Any


@dataclass
class OpenAPIResponse:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def openapi_request(request: httpx2.Request) -> OpenAPIRequest:
    url = urlsplit(str(request.url))
    return OpenAPIRequest(
        host_url=f"{url.scheme}://{url.netloc}",
        path=url.path,
        method=request.method.lower(),
        body=request.content or None,
        content_type=request.headers.get("content-type", ""),
        parameters=RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        ),
    )


def openapi_response(response: httpx2.Response) -> OpenAPIResponse:
    return OpenAPIResponse(
        status_code=response.status_code,
        content_type=response.headers.get("content-type", "").lower(),
        headers=Headers(dict(response.headers)),
        data=response.content,
    )
