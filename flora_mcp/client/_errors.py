"""Exceptions raised by the FLORA client.

```
FloraError                          (.request_id, .attempts, .gave_up)
├── APIConnectionError              FLORA could not be reached (.request)
│   └── APITimeoutError             ... or did not answer in time
├── APIResponseValidationError      a 2xx body that does not match the contract
│   └── RunIdMissingError           ... a start answer without a usable `run_id`: the run may exist
├── AssetFailedError                FLORA could not process an uploaded asset (.asset_id)
└── APIStatusError                  a non-2xx answer (.status_code, .code, .message, .fields,
    │                                .retry_after, .method, .path, .hint)
    ├── BadRequestError              400  input_validation_error, invalid_json
    ├── AuthenticationError          401  unauthorized, invalid_api_key
    ├── InsufficientCreditsError     402  insufficient_credits
    ├── PermissionDeniedError        403  forbidden
    │   └── PaidPlanRequiredError    403  paid_plan_required
    ├── NotFoundError                404  not_found
    ├── ConflictError                409  idempotency_duplicate
    ├── RateLimitError               429  rate_limited
    ├── InternalServerError          5xx  unknown_error
    └── UploadError                  the storage behind a signed upload URL refused the bytes
```

`str()` of every error is written to be shown to an agent as a tool error: the message, then
FLORA's `request-id` when the answer had one (FLORA support asks for it), then why retries stopped
(`.gave_up`, e.g. "gave up after 4 attempts in 7.2 s"), then the likely cause (`.hint`) where
FLORA's answer is known to mislead (a 500 for malformed ids on `POST /generate`, a 403
`paid_plan_required`). Every error says how many times its call was sent (`.attempts`). No error
ever holds the API key: the requests attached to errors are copies without the `Authorization`
header.
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
    "AssetFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "FloraError",
    "InsufficientCreditsError",
    "InternalServerError",
    "NotFoundError",
    "PaidPlanRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunIdMissingError",
    "UploadError",
]

# Where FLORA puts the id its support asks for; `x-request-id` is the common spelling elsewhere.
_REQUEST_ID_HEADERS: Final = ("request-id", "x-request-id")
# Paths (relative to the base URL) whose 5xx FLORA also sends for malformed ids in the body.
_IDS_IN_BODY_PATHS: Final = frozenset({"/generate", "/runs/generation"})
MALFORMED_IDS_HINT: Final = (
    "FLORA also answers 500 when workspace_id or project_id is malformed: check that they are "
    "ids it returned (ws_…, prj_…) before trying again"
)
PAID_PLAN_HINT: Final = (
    "the FLORA API needs a paid plan: upgrade the workspace's plan in FLORA, then try again"
)


class FieldError(BaseModel):
    """One invalid input field, as the API names it (e.g. `prompt`, `params.aspect_ratio`)."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class FloraError(Exception):
    """Base class of every error raised by the FLORA client."""

    attempts: int = 1  # how many times the call was sent; set by the retry loop
    gave_up: str | None = None  # set when retries stopped at their bound: "gave up after ..."
    request_id: str | None = None  # FLORA's `request-id` header of the answer, when there was one

    def __str__(self) -> str:
        return self._with_retry_note(super().__str__())

    def _with_retry_note(self, text: str, hint: str | None = None) -> str:
        """`text`, then the request-id, why retries stopped, and the likely cause, in that order."""
        if self.request_id:
            text += f" (request-id {self.request_id})"
        if self.gave_up:
            text += f" — {self.gave_up}"
        if hint:
            text += f". Likely cause: {hint}"
        return text


class APIConnectionError(FloraError):
    def __init__(self, message: str, *, request: httpx2.Request) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    pass


class APIResponseValidationError(FloraError):
    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request: httpx2.Request | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request = request
        self.request_id = request_id


class RunIdMissingError(APIResponseValidationError):
    """A 2xx answer to a run start without a readable `run_id`. The run may well have started (and
    be billed): treat it like a lost answer and find the run in the history; never start it again."""


class AssetFailedError(FloraError):
    def __init__(self, message: str, *, asset_id: str, failure_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.asset_id = asset_id
        self.failure_message = failure_message


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
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.fields: list[FieldError] = list(fields)
        self.retry_after = retry_after
        self.request = request
        self.request_id = request_id
        self.method = method  # the call that failed, e.g. "POST" "/generate" (relative to the base URL)
        self.path = path
        self.hint = hint  # the likely cause, where FLORA's answer is known to mislead

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
        return self._with_retry_note(text, self.hint)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, fields={[(f.field, f.message) for f in self.fields]!r}, "
            f"retry_after={self.retry_after!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class InsufficientCreditsError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class PaidPlanRequiredError(PermissionDeniedError):
    """403 `paid_plan_required`: the key is fine, the workspace's plan does not include the API."""


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


class UploadError(APIStatusError):
    """The storage behind a signed upload URL refused the file's bytes (not FLORA's JSON API)."""


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
    "paid_plan_required": PaidPlanRequiredError,
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


def request_id_of(response: httpx2.Response) -> str | None:
    """FLORA's id for this answer (every answer has one), for support; None when absent."""
    for name in _REQUEST_ID_HEADERS:
        if value := response.headers.get(name, "").strip():
            return value
    return None


def _hint(status: int, code: str | None, method: str | None, path: str | None) -> str | None:
    if code == "paid_plan_required":
        return PAID_PLAN_HINT
    if status >= 500 and method == "POST" and path in _IDS_IN_BODY_PATHS:
        return MALFORMED_IDS_HINT
    return None


def status_error(
    response: httpx2.Response,
    *,
    request: httpx2.Request | None = None,
    method: str | None = None,
    path: str | None = None,
) -> APIStatusError:
    """The exception for a non-2xx response; never fails, whatever the body is.

    `method` and `path` name the call (path relative to the base URL, e.g. "/generate").
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        envelope: _ErrorEnvelope | None = _ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:  # also covers a body that is not JSON at all
        envelope = None
    code = envelope.error.code if envelope else None
    cls = _BY_STATUS.get(status)
    if code == "paid_plan_required":
        cls = PaidPlanRequiredError
    elif cls is None:
        cls = InternalServerError if status >= 500 else _BY_CODE.get(code or "", APIStatusError)
    reason = f" ({response.reason_phrase})" if response.reason_phrase else ""
    fallback = f"HTTP {status} from FLORA{reason}"
    return cls(
        (envelope.error.message if envelope else "") or fallback,
        status_code=status,
        code=code,
        fields=envelope.error.fields if envelope else (),
        retry_after=retry_after,
        request=request,
        request_id=request_id_of(response),
        method=method,
        path=path,
        hint=_hint(status, code, method, path),
    )
