"""The headers every answer carries, decided in one place: the security headers, and whether a
browser or proxy may store the answer.

`AnswerHeaders` adds them to every answer that passes through the app's middleware. Starlette's
ServerErrorMiddleware sits outside all of it, so the 500 handler (`routes/http.py`) adds the same
`missing_headers` itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script anywhere: htmx and our scripts come from /static
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Tracking links carry their secret in the path: never send it on as a referrer.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = (b"cache-control", b"no-store")

# Answers about one order, even to a caller without cookies: tracking links and order answers.
PRIVATE_PATHS = ("/track/", "/orders")
# The same for everyone whoever asks: the release's own files.
SHARED_PATHS = ("/static/",)
_CREDENTIALS = {b"cookie", b"authorization"}
_SAFE = {"GET", "HEAD"}


def may_be_stored(scope: Scope, answer_headers: set[bytes]) -> bool:
    """The caching rule. An answer may be stored only when it is the same for everyone: a static
    file, or a GET/HEAD from a caller sending no cookie and no credentials, outside tracking links
    and orders, that sets no cookie (the public menu, /health, the API's description). Everything
    else (whatever a signed-in caller sees, a cart, a tracking page, an order) is `no-store`."""
    path = scope.get("path", "")
    if path.startswith(SHARED_PATHS):
        return True
    anonymous = not any(name.lower() in _CREDENTIALS for name, _ in scope.get("headers", []))
    return (
        anonymous
        and scope.get("method") in _SAFE
        and not path.startswith(PRIVATE_PATHS)
        and b"set-cookie" not in answer_headers
    )


def missing_headers(scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """What an answer with `headers` lacks: the security headers it does not set itself, and
    `Cache-Control: no-store` unless it may be stored or says its own Cache-Control (the event
    streams' `no-cache`)."""
    present = {name.lower() for name, _ in headers}
    added = [header for header in SECURITY_HEADERS if header[0] not in present]
    if b"cache-control" not in present and not may_be_stored(scope, present):
        added.append(NO_STORE)
    return added


class AnswerHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = headers + missing_headers(scope, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
