"""The console's scheduled orders: the orders held for a later pickup (with "Send now"), and the
opening hours pickups must fall in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...errors import Conflict
from ...request import is_htmx, store_of
from ...services import hours, releases
from . import forms
from . import view as console
from .forms import Form, FormInvalid
from .page import whole_page


async def _schedule_panel(
    request: Request, form: Form | None = None, status: int = 200, notice: str | None = None
) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#schedule", status_code=303)
        return await whole_page(request, status, **({} if form is None else {"hours_form": form}))
    context = await console.schedule_context(store_of(request), form)
    html = console.fragment(request, "schedule", notice=notice, **context)
    return HTMLResponse(html, status_code=status)


async def save_hours(request: Request) -> Response:
    require(request, "menu.write")
    try:
        data = forms.opening_hours(await request.form())
    except FormInvalid as refused:
        return await _schedule_panel(request, refused.form, 422)
    await hours.set_hours(store_of(request), data)
    return await _schedule_panel(request, notice="Opening hours saved.")


async def send_now(request: Request) -> Response:
    require(request, "orders.move")
    try:
        order = await releases.release_now(store_of(request), request.path_params["id"])
    except Conflict as refused:
        return await _schedule_panel(request, Form(errors={"_": refused.message}), refused.status)
    return await _schedule_panel(request, notice=f"Ticket #{order['ticket_no']} went to the kitchen.")
