"""The console's staff panel: add a staff member, enable or disable one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...errors import Conflict
from ...models import StaffPatch
from ...request import is_htmx, store_of
from ...services.staff import add_staff, change_staff
from . import forms
from . import view as console
from .forms import Form, FormInvalid
from .page import whole_page


async def _staff_panel(request: Request, form: Form, status: int = 200, notice: str | None = None) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#staff", status_code=303)
        return await whole_page(request, status, staff_form=form)
    context = await console.staff_context(store_of(request))
    html = console.fragment(request, "staff", staff_form=form, notice=notice, **context)
    return HTMLResponse(html, status_code=status)


async def add_staff_member(request: Request) -> Response:
    require(request, "staff")
    try:
        data = forms.staff_member(await request.form())
        member = await add_staff(store_of(request), data)
    except FormInvalid as refused:
        return await _staff_panel(request, refused.form, 422)
    except Conflict as taken:
        form = Form(
            {"name": data.name, "role": data.role}, {"name": f"There is already a staff member called {data.name}"}
        )
        return await _staff_panel(request, form, taken.status)
    return await _staff_panel(request, Form(), notice=f"Added {member['name']} ({member['role']}).")


async def set_staff_active(request: Request) -> Response:
    principal = require(request, "staff")
    staff_id = request.path_params["id"]
    active = (await request.form()).get("active") == "1"
    if staff_id == principal.staff_id and not active:
        form = Form(errors={"_": "You cannot disable your own account while signed in with it."})
        return await _staff_panel(request, form, 409)
    try:
        member = await change_staff(store_of(request), staff_id, StaffPatch(active=active))
    except Conflict as refused:  # it would leave no active manager
        return await _staff_panel(
            request, Form(errors={"_": refused.message[:1].upper() + refused.message[1:]}), refused.status
        )
    state = "enabled" if member["active"] else "disabled"
    return await _staff_panel(request, Form(), notice=f"{member['name']} is {state}.")
