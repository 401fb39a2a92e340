"""The console's "Online ordering": pause (until a time today, or until resumed), resume now, the
busy delay and the pickup slots' capacity. One form, all of `PUT /online` (services/online.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...config import Settings
from ...errors import Invalid
from ...models import OnlineIn
from ...request import is_htmx, store_of
from ...services import online
from . import view as console
from .forms import Form, FormInvalid, validate
from .page import whole_page

FIELDS = ("until", "busy_minutes", "slot_orders", "slot_load")  # (view.online_form's)
ACTIONS = ("pause", "resume", "save")  # the form's buttons; anything else saves


def _until(typed: str, now: datetime, settings: Settings) -> datetime | None:
    """The time typed (19:30) as its next local moment: today, or tomorrow once it has passed; empty: None."""
    if not typed:
        return None
    try:
        clock = time.fromisoformat(typed)
    except ValueError:
        raise Invalid("write the time like 19:30", {"until": "Write the time like 19:30"}) from None
    local = now.astimezone(settings.timezone)
    moment = datetime.combine(local.date(), clock, settings.timezone)
    return moment if moment > now else moment + timedelta(days=1)


def _number(typed: str) -> int | str | None:
    """A whole number as typed ("" is None); anything else is left for the model to refuse."""
    return None if typed == "" else int(typed) if typed.isdigit() else typed


async def _panel(request: Request, form: Form | None = None, status: int = 200, notice: str | None = None) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#online", status_code=303)
        return await whole_page(request, status, **({} if form is None else {"online_form": form}))
    context = await console.online_context(store_of(request), form)
    return HTMLResponse(console.fragment(request, "online", notice=notice, **context), status_code=status)


async def save_online(request: Request) -> Response:
    require(request, "online")
    store = store_of(request)
    data = await request.form()
    form = Form.typed(data, FIELDS)
    action = str(data.get("action"))
    if action not in ACTIONS:
        action = "save"
    current = (await online.get_online(store)).out(datetime.now(UTC))
    try:
        until = _until(form.values["until"].strip(), datetime.now(UTC), store.settings) if action == "pause" else None
        body: dict[str, Any] = {
            "paused": action == "pause" or (action == "save" and current["paused"]),
            "resume_at": (until and until.isoformat()) if action == "pause" else current["resume_at"],
            "busy_minutes": _number(form.values["busy_minutes"].strip() or "0"),
            "slot_orders": _number(form.values["slot_orders"].strip()),
            "slot_load": _number(form.values["slot_load"].strip()),
        }
        if body["paused"] is False:
            body["resume_at"] = None
        settings = validate(OnlineIn, body, form)
        state = await online.set_online(store, settings)
    except FormInvalid as refused:
        return await _panel(request, refused.form, 422)
    except Invalid as refused:
        form.errors.update(
            {"until" if name == "resume_at" else name: text for name, text in (refused.fields or {}).items()}
        )
        form.errors.setdefault("_", refused.message)
        return await _panel(request, form, 422)
    return await _panel(request, notice=online.paused_text(state, store.settings) or "Online ordering is open.")
