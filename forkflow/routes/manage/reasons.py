"""The console's "Discount reasons": add a reason (a comp's or a discount's), rename one, switch one
off or on, remove one (one in use is switched off instead: services/discounts.py).

Each form is one call of services/discounts.py, as the JSON API makes it; a refused post comes
back with the form as typed and its errors inline (nothing written). The list is a live section:
every `discount.reason_*` event re-renders it, on every manager's console.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...errors import Conflict, NotFound
from ...models import DiscountReasonIn, DiscountReasonPatch
from ...request import is_htmx, store_of
from ...services import discounts
from . import view as console
from .forms import Form, FormInvalid, validate
from .page import whole_page

PERMISSION = "money.settings"


async def _panel(request: Request, form: Form | None = None, status: int = 200, notice: str | None = None) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#reasons", status_code=303)
        return await whole_page(request, status, **({} if form is None else {"reason_form": form}))
    context = await console.reasons_context(store_of(request), form)
    return HTMLResponse(console.fragment(request, "reasons", notice=notice, **context), status_code=status)


async def add_reason(request: Request) -> Response:
    principal = require(request, PERMISSION)
    data = await request.form()
    form = Form.typed(data, ("name",))
    if data.get("comp") == "1":
        form.values["comp"] = "1"
    try:
        reason = validate(DiscountReasonIn, {"name": form.values["name"], "comp": "comp" in form.values}, form)
        made = await discounts.add_reason(store_of(request), reason, principal.name)
    except FormInvalid as refused:
        return await _panel(request, refused.form, 422)
    except Conflict as refused:
        form.errors.update(refused.fields or {})
        return await _panel(request, form, refused.status)
    return await _panel(request, notice=f"Added {made['name']}.")


async def rename_reason(request: Request) -> Response:
    """A new name (discounts already given keep the one they were given with); refused: the row
    shows what was typed and why (`rename-{id}` in the form), nothing written."""
    principal = require(request, PERMISSION)
    reason_id = request.path_params["id"]
    data = await request.form()
    field = f"rename-{reason_id}"
    form = Form({field: str(data.get("name") or "")})
    try:
        change = validate(DiscountReasonPatch, {"name": form.values[field]}, form)
        reason = await discounts.update_reason(store_of(request), reason_id, change, principal.name)
    except FormInvalid as refused:
        refused.form.errors[field] = refused.form.errors.pop("name", "") or "Not a valid name"
        return await _panel(request, refused.form, 422)
    except Conflict as refused:
        form.errors[field] = (refused.fields or {}).get("name", refused.message)
        return await _panel(request, form, refused.status)
    return await _panel(request, notice=f"Renamed to {reason['name']}.")


async def set_active(request: Request) -> Response:
    """Offer a reason on the till again, or no longer."""
    principal = require(request, PERMISSION)
    data = await request.form()
    change = DiscountReasonPatch(active=data.get("active") == "1")
    reason = await discounts.update_reason(store_of(request), request.path_params["id"], change, principal.name)
    return await _panel(request, notice=f"{reason['name']} is {'offered' if reason['active'] else 'switched off'}.")


async def remove_reason(request: Request) -> Response:
    principal = require(request, PERMISSION)
    try:
        kept = await discounts.remove_reason(store_of(request), request.path_params["id"], principal.name)
    except NotFound as refused:
        return await _panel(request, Form(errors={"_": refused.message[:1].upper() + refused.message[1:]}), 404)
    if kept is not None:
        return await _panel(request, notice=f"{kept['name']} was given before: it is switched off, not removed.")
    return await _panel(request, notice="Removed.")
