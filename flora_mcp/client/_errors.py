"""Exceptions raised by the FLORA client.

```
FloraError
├── APIConnectionError          FLORA could not be reached (.request)
│   └── APITimeoutError         ... or did not answer in time
├── APIResponseValidationError  a 2xx body that does not match the contract
└── APIStatusError              a non-2xx answer (.status_code, .code, .message, .fields, .retry_after)
    ├── BadRequestError          400  input_validation_error, invalid_json
    ├── AuthenticationError      401  unauthorized, invalid_api_key
    ├── InsufficientCreditsError 402  insufficient_credits
    ├── PermissionDeniedError    403  forbidden
    ├── NotFoundError            404  not_found
    ├── ConflictError            409  idempotency_duplicate
    ├── RateLimitError           429  rate_limited
    └── InternalServerError      5xx  unknown_error
```

`str()` of every error is written to be shown to an agent as a tool error. No error ever holds
the API key: the requests attached to errors are copies without the `Authorization` header.
Every error says how many times its call was sent (`.attempts`); when retries ran out, `str()`
ends with why (`.gave_up`, e.g. "gave up after 4 attempts in 7.2 s").
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Sequence
from typing import Final

import httpx2
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "FloraError",
    "InsufficientCreditsError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
]


class FieldError(BaseModel):
    """One invalid input field, as the API names it (e.g. `prompt`, `params.aspect_ratio`)."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class FloraError(Exception):
    """Base class of every error raised by the FLORA client."""

    attempts: int = 1  # how many times the call was sent; set by the retry loop
    gave_up: str | None = None  # set when retries stopped at their bound: "gave up after ..."

    def __str__(self) -> str:
        return self._with_retry_note(super().__str__())

    def _with_retry_note(self, text: str) -> str:
        return f"{text} — {self.gave_up}" if self.gave_up else text


class APIConnectionError(FloraError):
    def __init__(self, message: str, *, request: httpx2.Request) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    pass


class APIResponseValidationError(FloraError):
    def __init__(self, message: str, *, status_code: int, request: httpx2.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request = request


class APIStatusError(FloraError):
    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        fields: Sequence[FieldError] = (),
        retry_after: float | None = None,
        request: httpx2.Request | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.fields: list[FieldError] = list(fields)
        self.retry_after = retry_after
        self.request = request

    def __str__(self) -> str:
        # Without a FLORA code the message already names the status ("HTTP 502 from FLORA (Bad Gateway)").
        text = self.message
        if self.code:
            text = f"FLORA API error {self.status_code} ({self.code}): {text}"
        details = "; ".join(f"{f.field}: {f.message}" if f.field else f.message for f in self.fields)
        # The API often repeats the field errors in `message` ("prompt: Required"); say them once.
        if details and details not in self.message:
            text += f" — {details}"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g}s)"
        return self._with_retry_note(text)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, fields={[(f.field, f.message) for f in self.fields]!r}, "
            f"retry_after={self.retry_after!r})"
        )


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class InsufficientCreditsError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


_BY_STATUS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}
# Used only when the status has no class of its own (e.g. a 422 carrying a FLORA code).
_BY_CODE: Final[dict[str, type[APIStatusError]]] = {
    "input_validation_error": BadRequestError,
    "invalid_json": BadRequestError,
    "unauthorized": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "idempotency_duplicate": ConflictError,
    "rate_limited": RateLimitError,
    "unknown_error": InternalServerError,
}


class _ErrorDetail(BaseModel):
    code: str  # a str, not the contract's enum: an unknown new code must not hide the error
    message: str
    fields: list[FieldError] = []


class _ErrorEnvelope(BaseModel):
    error: _ErrorDetail


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None or not (value := value.strip()):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def status_error(response: httpx2.Response, *, request: httpx2.Request | None = None) -> APIStatusError:
    """The exception for a non-2xx response; never fails, whatever the body is."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        envelope: _ErrorEnvelope | None = _ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:  # also covers a body that is not JSON at all
        envelope = None
    code = envelope.error.code if envelope else None
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else _BY_CODE.get(code or "", APIStatusError)
    reason = f" ({response.reason_phrase})" if response.reason_phrase else ""
    fallback = f"HTTP {status} from FLORA{reason}"
    if envelope is None:
        return cls(fallback, status_code=status, retry_after=retry_after, request=request)
    return cls(
        envelope.error.message or fallback,
        status_code=status,
        code=code,
        fields=envelope.error.fields,
        retry_after=retry_after,
        request=request,
    )
