"""What every page shares: templates, static files, sessions and security headers."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth.middleware import SESSION_COOKIE, csrf_token
from .auth.roles import can, principal_of
from .services.sessions import SESSION_LIFETIME

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

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


def _template_globals(request: Request) -> dict[str, object]:
    principal = principal_of(request)
    return {
        "principal": principal,
        "can": lambda permission: can(principal, permission),
        "csrf_token": csrf_token(request.session),
    }


templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_template_globals])
# Templates are files of the release, not edited while it runs: no stat() per render.
templates.env.auto_reload = False


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bearer_without_cookie(scope: Scope) -> bool:
    names = {name for name, _ in scope["headers"]}
    return b"authorization" in names and b"cookie" not in names


class Sessions:
    """Starlette's signed-cookie sessions, keyed by a secret that is read from the database at
    start-up (so it survives restarts and is shared by every worker). The cookie holds the CSRF
    token and the secret of a server-side session (services/sessions.py), which is what signs in."""

    def __init__(self, app: ASGIApp, https_only: bool = False) -> None:
        self.app = app
        self.https_only = https_only
        self._sessions: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if _bearer_without_cookie(scope):  # an API client: it never has a session to load or save
            scope["session"] = {}
            await self.app(scope, receive, send)
            return
        if self._sessions is None:
            self._sessions = SessionMiddleware(
                self.app,
                secret_key=scope["app"].state.session_secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(SESSION_LIFETIME.total_seconds()),
                same_site="lax",
                https_only=self.https_only,
            )
        await self._sessions(scope, receive, send)
