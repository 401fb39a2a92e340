"""What every page shares: templates, static files and sessions (headers: forkflow/headers.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth.middleware import SESSION_COOKIE, csrf_token
from .auth.roles import can, principal_of
from .figures import bill_rows
from .formats import allergen, amount_typed, contains, dietary, local_time, money, percent
from .services.sessions import SESSION_LIFETIME

PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """Where the release's `templates` or `static` folder is. They live at the repository's top level;
    the wheel maps them into the package (pyproject.toml), so an installed ForkFlow finds them inside
    itself, and a source checkout or an editable install beside itself."""
    for place in (PACKAGE / name, PACKAGE.parent / name):
        if place.is_dir():
            return place
    raise RuntimeError(f"ForkFlow's {name}/ folder is missing: neither {PACKAGE / name} nor {PACKAGE.parent / name}")


TEMPLATES_DIR = shipped_folder("templates")
STATIC_DIR = shipped_folder("static")


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
templates.env.filters |= {"money": money, "percent": percent, "amount_typed": amount_typed, "bill_rows": bill_rows}
templates.env.filters |= {"local_time": local_time, "allergen": allergen, "dietary": dietary, "contains": contains}


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
