"""The contract's error envelope, `{"error": {"code", "message", "fields"?}}`, as an exception."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse

FieldError = tuple[str, str]  # (field, message)


class ApiError(Exception):
    """Raised by a handler; turned into the envelope with the contract's status for its code."""

    def __init__(
        self, status: int, code: str, message: str, fields: Sequence[FieldError] = (), **headers: str
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.headers = headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = [{"field": f, "message": m} for f, m in self.fields]
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


def invalid(fields: Sequence[FieldError]) -> ApiError:
    """400 input_validation_error; the message repeats the fields like the contract's `prompt: Required`."""
    return ApiError(400, "input_validation_error", "; ".join(f"{f}: {m}" for f, m in fields), fields)


def invalid_json(message: str) -> ApiError:
    return ApiError(400, "invalid_json", message)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def idempotency_duplicate(message: str) -> ApiError:
    return ApiError(409, "idempotency_duplicate", message)


def unknown_error(message: str = "An unknown error occurred.") -> ApiError:
    return ApiError(500, "unknown_error", message)
