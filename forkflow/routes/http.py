"""Request parsing and error responses shared by the JSON routes."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import TypeVar
from urllib.parse import quote

import anyio
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    BadRequest,
    Forbidden,
    Invalid,
    ServiceError,
    TooManyRequests,
    Unauthorized,
    error_response,
)
from ..headers import missing_headers
from ..models import field_errors
from ..numbers import whole_number
from ..request import client_address, is_htmx
from ..services.representation import Encoded

log = logging.getLogger("forkflow.http")

M = TypeVar("M", bound=BaseModel)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
}


async def parse_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model`: malformed JSON is 400, invalid content 422.

    Bodies over the limit never get here: `BodyLimit` answers 413 first.
    """
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", ""):
        raise HTTPException(415, "send the body as application/json")
    body = await request.body()
    try:
        raw = parse_json(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(raw, dict):
        raise Invalid("the body must be a JSON object", {"_": "expected an object"})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid("the request is not valid", field_errors(exc)) from exc


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


_STRICT_JSON = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)


def parse_json(body: bytes) -> object:
    """Strict JSON: UTF-8 only (no encoded surrogates), no NaN or Infinity, and decimals kept
    exact (0.1 stays 0.1). Too-long integers and too-deep nesting raise ValueError/RecursionError."""
    return _STRICT_JSON.decode(body.decode("utf-8"))


def parse_model(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid("the request is not valid", field_errors(exc)) from exc


async def on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = exc.answer_headers()
    if wants_page(request) and isinstance(exc, Unauthorized | Forbidden):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


def wants_page(request: Request) -> bool:
    """A browser navigating (not htmx, not an API client) is sent to pages, not JSON."""
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and not is_htmx(request)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    methods = path_methods(request) if exc.status_code == 405 else []
    if methods:  # (none for a mounted app's own 405, e.g. POST to /static/..., which names its own)
        headers["Allow"] = ", ".join(methods)
    return JSONResponse(
        {"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code, headers=headers
    )


def path_methods(request: Request) -> list[str]:
    """Every method the request's path answers to. Starlette's 405 names only the methods of the
    first route matching the path, but several routes may share one (GET and POST /orders are two
    routes): the Allow list is every matching route's methods."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """Starlette's ServerErrorMiddleware sends this outside every middleware: it adds the headers
    that every other answer gets from `AnswerHeaders`."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_response(500, "internal", "the server hit an unexpected error")
    response.raw_headers.extend(missing_headers(request.scope, response.raw_headers))
    return response


class BodyLimit:
    """Refuse request bodies over `max_bytes` with a JSON 413, whether or not they declare a length,
    and bodies still incomplete `timeout` seconds after the app first asks for them with a JSON 408
    (a slow body would otherwise hold its connection for ever; uvicorn has no such deadline).
    0 turns the deadline off."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is over the limit of {self.max_bytes} bytes"
        declared = whole_number(Headers(scope=scope).get("content-length"))
        if declared is not None and declared > self.max_bytes:
            await error_response(413, "too_large", too_large)(scope, receive, send)
            return
        # With a declared length the server reads exactly that much: nothing more to count.
        counting = declared is None
        received = 0
        body_done = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal received, body_done, deadline
            if body_done:  # later reads only wait for the client to go away: no deadline
                return await receive()
            now = anyio.current_time()
            if deadline is None:
                deadline = now + self.timeout
            try:
                with anyio.fail_after(max(deadline - now, 0) if self.timeout > 0 else None):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.timeout:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            if counting and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)


def json_response(content: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON; a representation that was already encoded for its event is sent as that text."""
    if isinstance(content, Encoded):
        return Response(content.json_text, status_code, headers, media_type="application/json")
    return JSONResponse(content, status_code, headers)


def check_public_rate(request: Request) -> None:
    """The public's order allowance per client address (POST /orders and the shop's checkout)."""
    limiter = request.app.state.public_order_limiter
    retry_after = limiter.hit(client_address(request))
    if retry_after is not None:
        raise TooManyRequests(
            f"too many orders from this address; try again in {retry_after} s", retry_after=retry_after
        )
