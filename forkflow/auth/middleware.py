"""ASGI middleware: who is asking (server-side session or bearer token), and CSRF protection."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Forbidden, Unauthorized, error_response
from .credentials import session_principal, token_principal

SESSION_COOKIE = "forkflow_session"
SESSION_SECRET = "sid"  # the key, in the signed cookie, of the server-side session's secret
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Content types a cross-site HTML form can send without a CORS preflight.
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use; forms and htmx requests send it back."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


class Authenticate:
    """Puts the signed-in `Principal` (or None) in scope["forkflow.principal"]."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        state = scope["app"].state
        store, cache = state.store, state.credentials
        principal = None
        authorization = conn.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                await self._refuse(scope, receive, send, "send Authorization: Bearer TOKEN")
                return
            principal = await token_principal(store, token.strip(), cache)
            if principal is None:
                await self._refuse(scope, receive, send, "this token is not valid, or was revoked")
                return
        elif SESSION_SECRET in conn.session:
            session = conn.session
            principal = await session_principal(store, str(session[SESSION_SECRET]), cache)
            if principal is None:  # signed out, expired, disabled, or the password changed
                session.pop(SESSION_SECRET, None)
        scope["forkflow.principal"] = principal
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
        error = Unauthorized(message)
        response = error_response(error.status, error.code, error.message)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


class CSRFProtect:
    """Refuses a state-changing request that rides on the session cookie, or comes as a form,
    unless it carries the session's CSRF token (form field `csrf_token` or `X-CSRF-Token`, which
    htmx sends). Requests with a bearer token and no cookie cannot be forged by another site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_cookie = SESSION_COOKIE in headers.get("cookie", "")
        if not (has_cookie or content_type in _FORM_TYPES) or ("authorization" in headers and not has_cookie):
            await self.app(scope, receive, send)
            return

        supplied = headers.get(CSRF_HEADER)
        if supplied is None and content_type == "application/x-www-form-urlencoded":
            try:
                body, receive = await _buffer_body(receive)
            except HTTPException as exc:  # BodyLimit's 413, raised outside the app's handlers
                await error_response(exc.status_code, "too_large", str(exc.detail))(scope, receive, send)
                return
            values = parse_qs(body.decode("latin-1")).get(CSRF_FIELD)
            supplied = values[0] if values else None
        expected = scope.get("session", {}).get("csrf")
        if not expected or not supplied or not hmac.compare_digest(str(supplied), expected):
            error = Forbidden("this form has expired or did not come from ForkFlow; reload the page and try again")
            await error_response(error.status, "csrf_failed", error.message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (BodyLimit has bounded it), and a `receive` that hands it on again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
