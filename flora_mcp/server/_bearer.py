"""The token of an `Authorization: Bearer …` header: read by the HTTP gate (`_http`) and by a
tool's context (`_context`, a caller's own FLORA key), so neither imports the other."""

from __future__ import annotations


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
