"""Errors the service layer raises; each knows its HTTP status and error code."""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class ServiceError(Exception):
    status = 400
    code = "bad_request"
    headers: ClassVar[dict[str, str]] = {}  # sent with the error's answer

    def __init__(self, message: str, fields: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.extra = extra

    def answer_headers(self) -> dict[str, str]:
        """The headers of this error's answer, whether it is answered as JSON or as a page."""
        return dict(self.headers)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return {"error": body}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class StoreUnavailable(ServiceError):
    status = 503
    code = "unavailable"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class BearerRequired(Unauthorized):
    """401 on a route that takes a bearer token and nothing else: the answer names the scheme
    (RFC 6750), as it does when a token is refused."""

    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class RetryLater(ServiceError):
    """An error whose answer says when to try again (`Retry-After`, in seconds)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def answer_headers(self) -> dict[str, str]:
        return {**self.headers, "Retry-After": str(self.retry_after)}


class TooManyRequests(RetryLater):
    status = 429
    code = "too_many_requests"


class Busy(RetryLater):
    """503 with Retry-After: the server is at a bound it keeps so as to stay up for everyone."""

    status = 503
    code = "unavailable"
