"""The sign-in page: signing in and out (`/login`, `/logout`). The shop is routes/shop/."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..auth.devices import device_cookie_of, devices_of
from ..auth.middleware import SESSION_SECRET, csrf_token
from ..errors import RetryLater, Unauthorized
from ..models import refused_character
from ..request import client_address, store_of
from ..services.sessions import end_session, start_session
from ..services.signin import sign_in
from ..vocabulary import Role
from ..web import templates

# Each role's own screen, where signing in without a `next` lands.
HOME: dict[Role, str] = {"kitchen": "/kitchen/display", "cashier": "/pos", "manager": "/manage"}


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` or `//evil.example` goes home."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(request.query_params.get("next"))})


async def login(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    try:
        if not name or not password:
            raise Unauthorized("enter your name and password")
        problem = refused_character(name)
        if problem is not None:  # no account has such a name (and a NUL is a 500 on PostgreSQL)
            raise Unauthorized(f"name: {problem}")
        devices = devices_of(request)
        signed = await sign_in(
            store_of(request), name[:40], password[:200], client_address(request), devices, device_cookie_of(request)
        )
    except (Unauthorized, RetryLater) as error:  # wrong name or password; too many tries, or busy: try later
        context = {"next": target, "error": error.message, "username": name[:40]}
        headers = error.answer_headers()
        return templates.TemplateResponse(request, "login.html", context, status_code=error.status, headers=headers)
    # A fresh session on sign-in: nothing from before (a planted session, an old CSRF token) carries over.
    request.session.clear()
    principal = signed.principal
    request.session[SESSION_SECRET] = await start_session(store_of(request), principal.staff_id)
    csrf_token(request.session)
    if target == "/":
        target = HOME[principal.role]
    response = RedirectResponse(target, status_code=303)
    devices.set(response, signed.device_cookie)
    return response


async def logout(request: Request) -> Response:
    """Ends this session server-side (a copy of the cookie stops working too), and its streams."""
    secret = request.session.get(SESSION_SECRET)
    if secret:
        await end_session(store_of(request), str(secret))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
