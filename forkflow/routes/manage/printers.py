"""The console's "Printers": add, edit and remove printers, print a test page; their live status.

One form for adding and editing (a hidden `id` when editing), all of `PrinterIn` (services/printers.py
applies it); refused posts come back with the form as typed and its errors inline. The list below
it is a live section: every `printer.*` and `print.*` event (topic kitchen) re-renders it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...errors import Conflict, Invalid, NotFound
from ...models import PrinterIn
from ...printing import jobs
from ...request import is_htmx, store_of
from ...services import printers
from . import view as console
from .forms import Form, FormInvalid, validate
from .page import whole_page

FIELDS = ("name", "host", "port", "role", "stations", "backup_printer_id")


def printer_form(printer: dict[str, Any] | None = None) -> Form:
    """The form filled with a printer's set-up (editing), or empty (adding: port 9100, kitchen)."""
    if printer is None:
        return Form({"port": "9100", "role": "kitchen"})
    values = {name: "" if printer[name] is None else str(printer[name]) for name in FIELDS if name != "stations"}
    values["stations"] = ", ".join(printer["stations"])
    values["id"] = str(printer["id"])
    return Form(values)


async def _panel(request: Request, form: Form | None = None, status: int = 200, notice: str | None = None) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#printers", status_code=303)
        return await whole_page(request, status, **({} if form is None else {"printer_form": form}))
    context = await console.printers_context(store_of(request), form)
    return HTMLResponse(console.fragment(request, "printers", notice=notice, **context), status_code=status)


def _body(form: Form) -> dict[str, Any]:
    typed = form.values
    port = typed["port"].strip()
    backup = typed["backup_printer_id"].strip()
    return {
        "name": typed["name"],
        "host": typed["host"],
        "port": int(port) if port.isdigit() else port or 9100,
        "role": typed["role"],
        "stations": [word.strip() for word in typed["stations"].split(",") if word.strip()],
        "backup_printer_id": int(backup) if backup.isdigit() else backup or None,
    }


async def save_printer(request: Request) -> Response:
    """Add a printer, or change the one the form's hidden `id` names."""
    require(request, "printers")
    store = store_of(request)
    data = await request.form()
    form = Form.typed(data, FIELDS)
    raw_id = str(data.get("id") or "")
    if raw_id:
        form.values["id"] = raw_id
    try:
        setup = validate(PrinterIn, _body(form), form)
        if raw_id.isdigit():
            printer = await printers.update_printer(store, int(raw_id), setup)
            notice = f"Saved {printer['name']}."
        else:
            printer = await printers.add_printer(store, setup)
            notice = f"Added {printer['name']}."
    except FormInvalid as refused:
        return await _panel(request, refused.form, 422)
    except (Invalid, Conflict, NotFound) as refused:
        form.errors.update(refused.fields or {})
        form.errors.setdefault("_", refused.message[:1].upper() + refused.message[1:])
        return await _panel(request, form, refused.status)
    return await _panel(request, notice=notice)


async def edit_printer(request: Request) -> Response:
    require(request, "printers")
    printer = await printers.get_printer(store_of(request), request.path_params["id"])
    if not is_htmx(request):
        return await whole_page(request, printer_form=printer_form(printer))
    return await _panel(request, printer_form(printer))


async def remove_printer(request: Request) -> Response:
    require(request, "printers")
    store = store_of(request)
    try:
        printer = await printers.get_printer(store, request.path_params["id"])
        await printers.remove_printer(store, printer["id"])
    except (Conflict, NotFound) as refused:
        return await _panel(
            request, Form(errors={"_": refused.message[:1].upper() + refused.message[1:]}), refused.status
        )
    return await _panel(request, notice=f"Removed {printer['name']}.")


async def test_page(request: Request) -> Response:
    require(request, "printers")
    store = store_of(request)
    printer = await printers.get_printer(store, request.path_params["id"])
    await jobs.print_test_page(store, printer["id"])
    return await _panel(request, notice=f"Test page sent to {printer['name']}.")
