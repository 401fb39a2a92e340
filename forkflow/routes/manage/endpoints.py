"""The manager's console, `/manage`: menu editor, availability, stock, today's figures, staff.

Every change goes through the service layer, whose events reach every till, menu page, kitchen
display and console at once. The page's stream (`/manage/stream`) opens with the current state of
each live section and re-renders a section when an event touches it: the menu and the stock table
as they change, today's charts at most about once a second however busy the orders are.

Forms post with htmx and get back the section they changed (422/409 with the form and its inline
errors when refused: nothing is written then); a plain form post without JavaScript gets the whole
page back instead, or a redirect to it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ... import (
    convertors,  # noqa: F401  (registers the {id:id} path convertor)
    services,
)
from ...auth.roles import Principal, principal_of, require
from ...errors import BadRequest, Conflict, Invalid
from ...events import Event, Subscription
from ...live import Frames, Start, open_stream
from ...models import InventoryPatch, MenuItemIn, MenuItemUpdate, StaffPatch
from ...numbers import MAX_ID, whole_number
from ...request import is_htmx, store_of
from ...services.staff import add_staff, change_staff
from ...web import templates
from . import forms
from . import view as console
from .forms import Form, FormInvalid, RecipeForm, RecipeInvalid

# What the console needs: a manager's three permissions.
CONSOLE = ("menu.write", "inventory", "staff")
# A live section is re-rendered at most this often (seconds); the last event of a burst always
# gets its re-render, at the latest this long after the one before.
MIN_INTERVAL = {"charts": 1.0, "menu": 0.25, "inventory": 0.25}


def _is_manager(principal: Principal | None) -> bool:
    return principal is not None and all(principal.can(permission) for permission in CONSOLE)


# The page


def _id_query(request: Request, name: str) -> int | None:
    """`?edit=` / `?movements=`: left out or empty is None; anything but an id is 400."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    value = whole_number(raw, 1)
    if value is None:
        raise BadRequest(f"{name} must be an id", {name: f"a whole number from 1 to {MAX_ID}"})
    return value


async def _page(request: Request, status: int = 200, **overrides: Any) -> Response:
    """The whole console; `overrides` replace a section's state (a refused form, with its errors)."""
    store = store_of(request)
    context: dict[str, Any] = {
        **await console.charts_context(store),
        **await console.menu_context(store),
        **await console.inventory_context(store),
        **await console.staff_context(store),
        "menu_form": Form(),
        "editing": None,
        "staff_form": Form(),
    }
    edit = _id_query(request, "edit")
    if edit is not None and "menu_form" not in overrides:  # the editor without JavaScript
        item = await services.get_menu_item(store, edit)
        context.update(menu_form=_filled(item), editing=item["id"])
    moves = _id_query(request, "movements")
    if moves is not None:  # an item's movements without JavaScript
        context.update(await console.movements_context(store, moves))
    context.update(overrides)
    editing = context["editing"]
    if editing is not None and "recipe_item" not in context:
        context.update(await console.recipe_context(store, await services.get_menu_item(store, editing)))
    return templates.TemplateResponse(request, "manage/page.html", context, status_code=status)


async def console_page(request: Request) -> Response:
    principal = principal_of(request)
    if principal is not None and not _is_manager(principal):
        context = {"message": f"The manager's console is for managers; you are signed in as {principal.role}."}
        return templates.TemplateResponse(request, "manage/forbidden.html", context, status_code=403)
    for permission in CONSOLE:
        require(request, permission)  # not signed in: sent to sign in
    return await _page(request)


# The stream


class Sections:
    """Which live sections an event made stale, and when each was last sent: each is re-rendered
    at most every MIN_INTERVAL seconds, and always after the last event of a burst.

    `idle()` says whether no event is waiting: while waiting out an interval the stream reads no
    events, so it waits only as long as none arrives (a newer one takes the re-render over).

    The console's own, not the live toolkit's: it renders each section per stream, on that
    stream's clock, which suits a few managers' consoles. The screens with many streams (kitchen
    displays, tills, menu pages) render each frame once per event for all of them instead
    (`live.FrameCache`), which a per-stream clock would defeat."""

    def __init__(self, idle: Callable[[], bool]) -> None:
        self.idle = idle
        self.stale: set[str] = set()
        self.sent_at = dict.fromkeys(console.LIVE_SECTIONS, float("-inf"))

    def _wait(self, name: str) -> float:
        return self.sent_at[name] + MIN_INTERVAL[name] - time.monotonic()

    async def frames(self, settled: bool, render: Callable[[str], Awaitable[str]]) -> Frames:
        frames: Frames = []
        for name in console.LIVE_SECTIONS:
            if name not in self.stale:
                continue
            if self._wait(name) > 0 and settled:  # the burst is over: send it once the interval is up
                while self._wait(name) > 0 and self.idle():
                    await asyncio.sleep(min(self._wait(name), 0.05))
            if self._wait(name) > 0:
                continue  # more events are queued: a later one re-renders it
            self.stale.discard(name)
            self.sent_at[name] = time.monotonic()
            frames.append(ServerSentEvent(await render(name), event=name))
        return frames


async def console_stream(request: Request) -> Response:
    """The current state of each live section first, so every (re)connect resyncs the page (a new
    EventSource sends no Last-Event-ID), then a section again each time an event touches it."""
    for permission in CONSOLE:
        require(request, permission)
    store = store_of(request)

    async def render_section(name: str) -> str:
        return await console.live_section(request, store, name)

    async def snapshot(sub: Subscription) -> Start:
        # The head first, then the sections: any event after the head is in the replay or the
        # queue, and re-rendering a section twice is harmless.
        sections = Sections(lambda: sub.idle)
        after = await store.last_event_id()
        prelude: Frames = []
        for name in console.LIVE_SECTIONS:
            prelude.append(ServerSentEvent(await render_section(name), event=name))
            sections.sent_at[name] = time.monotonic()

        async def render(event: Event, settled: bool) -> Frames:
            sections.stale.update(console.sections_of(event))
            alert: Frames = []
            if event.type == "inventory.low":  # at once, not throttled: each one is news
                html = console.fragment(request, "low_alert", item=event.payload)
                alert.append(ServerSentEvent(html, event="stock-alert"))
            return alert + await sections.frames(settled, render_section)

        async def caught_up(last_sent: int) -> Frames:
            return await sections.frames(True, render_section)

        return Start(after, render, caught_up, prelude)

    return await open_stream(request, set(console.SECTION_OF_TOPIC), snapshot)


# The menu editor and availability


def _filled(item: dict[str, Any]) -> Form:
    return Form(
        {
            "name": item["name"],
            "description": item["description"],
            "price": f"{item['price_cents'] / 100:.2f}",
            "category": item["category"],
            "station": item["station"],
        }
    )


async def _menu_editor(
    request: Request, form: Form, editing: int | None, status: int = 200, notice: str | None = None
) -> Response:
    """The editor (add, or edit `editing`) as a fragment for htmx, or the whole page without it."""
    if not is_htmx(request):
        return await _page(request, status, menu_form=form, editing=editing)
    store = store_of(request)
    menu = await console.menu_context(store)
    if editing is not None:
        menu.update(await console.recipe_context(store, await services.get_menu_item(store, editing)))
    html = console.fragment(request, "menu_form", menu_form=form, editing=editing, notice=notice, focus=True, **menu)
    if notice:  # saved: the list too, at once (the stream brings it as well, to every console)
        html += console.fragment(request, "menu_list", oob=True, **menu)
    return HTMLResponse(html, status_code=status)


async def new_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    return await _menu_editor(request, Form(), None)


async def edit_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    item = await services.get_menu_item(store_of(request), request.path_params["id"])
    return await _menu_editor(request, _filled(item), item["id"])


async def add_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    try:
        data = forms.menu_item(await request.form(), MenuItemIn)
    except FormInvalid as refused:
        return await _menu_editor(request, refused.form, None, 422)
    item = await services.create_menu_item(store_of(request), data)
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return await _menu_editor(request, Form(), None, notice=f"Added {item['name']}.")


async def update_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    store = store_of(request)
    item_id = request.path_params["id"]
    await services.get_menu_item(store, item_id)  # 404 before anything else
    try:
        data = forms.menu_item(await request.form(), MenuItemUpdate)
    except FormInvalid as refused:
        return await _menu_editor(request, refused.form, item_id, 422)
    item = await services.update_menu_item(store, item_id, data)
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return await _menu_editor(request, Form(), None, notice=f"Saved {item['name']}.")


async def set_availability(request: Request) -> Response:
    require(request, "menu.write")
    store = store_of(request)
    form = await request.form()
    await services.set_availability(store, request.path_params["id"], form.get("available") == "1")
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return HTMLResponse(console.fragment(request, "menu_list", **await console.menu_context(store)))


# Recipes


async def save_recipe(request: Request) -> Response:
    """The recipe editor's buttons: add a row, remove one (nothing saved), or save through
    services.set_recipe; a refused recipe comes back with what was typed and its errors by row."""
    require(request, "menu.write")
    store = store_of(request)
    item = await services.get_menu_item(store, request.path_params["id"])  # 404 before anything else
    data = await request.form()
    form = RecipeForm.typed(data)
    action = str(data.get("action") or "save")
    removed = whole_number(action.removeprefix("remove-")) if action.startswith("remove-") else None
    status = 200
    if action == "add":
        form.rows.append({"inventory_id": "", "quantity": ""})
    elif removed is not None:
        if removed < len(form.rows):
            del form.rows[removed]
        if not form.rows:
            form.rows.append({"inventory_id": "", "quantity": ""})
    else:
        stock_ids = {stock["id"] for stock in await services.list_inventory(store)}
        try:
            recipe, origin = forms.recipe(form, stock_ids)
            await services.set_recipe(store, item["id"], recipe)
        except RecipeInvalid:
            status = 422
        except Invalid as refused:  # a stock item deleted meanwhile: the service names its line
            for name, message in (refused.fields or {}).items():
                parts = name.split(".")
                index = whole_number(parts[1], high=len(origin) - 1) if len(parts) == 3 else None
                row = origin[index] if index is not None else None
                form.errors[f"{row}.{parts[2]}" if row is not None else "_"] = message.capitalize()
            form.errors.setdefault("_", refused.message.capitalize())
            status = 422
        else:
            if not is_htmx(request):
                return RedirectResponse(f"/manage?edit={item['id']}#recipe-editor", status_code=303)
            context = await console.recipe_context(store, item)
            context["recipe_form"].notice = f"Saved the recipe of {item['name']}."
            html = console.fragment(request, "recipe_form", **context)
            html += console.fragment(request, "menu_list", oob=True, **await console.menu_context(store))
            return HTMLResponse(html)
    if not is_htmx(request):
        context = await console.recipe_context(store, item, form)
        return await _page(request, status, menu_form=_filled(item), editing=item["id"], **context)
    context = await console.recipe_context(store, item, form)
    return HTMLResponse(console.fragment(request, "recipe_form", **context), status_code=status)


# Stock


async def _stock_table(
    request: Request, item_id: int, error: str | None, typed: dict[str, str], status: int
) -> Response:
    store = store_of(request)
    errors = {item_id: error} if error else {}
    if not is_htmx(request):
        return await _page(request, status, **await console.inventory_context(store, errors, {item_id: typed}))
    context = await console.inventory_context(store, errors, {item_id: typed} if error else {})
    return HTMLResponse(console.fragment(request, "inventory_list", **context), status_code=status)


async def _change_stock(
    request: Request, patch: Callable[[], InventoryPatch], typed: dict[str, str], staff_id: int
) -> Response:
    """Apply one stock change as `staff_id` (the movement records who); a refused one shows its
    reason in the item's row, and changes nothing."""
    item_id = request.path_params["id"]
    store = store_of(request)
    await services.get_inventory_item(store, item_id)  # 404 before anything else
    try:
        await services.change_inventory_item(store, item_id, patch(), staff_id)
    except (ValueError, ValidationError) as invalid:  # a ValidationError is a ValueError too
        return await _stock_table(request, item_id, _first_error(invalid), typed, 422)
    except Conflict as refused:
        return await _stock_table(request, item_id, refused.message[:1].upper() + refused.message[1:], typed, 409)
    if not is_htmx(request):
        return RedirectResponse("/manage#inventory", status_code=303)
    return await _stock_table(request, item_id, None, {}, 200)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        if error["type"] == "less_than_equal":
            return f"At most {error['ctx']['le']}"
        return str(error["msg"]).removeprefix("Value error, ")
    return str(exc)


async def adjust_stock(request: Request) -> Response:
    """A restock (adds the amount), waste (takes it away) or count (sets the quantity to it), with a
    note. A post without a reason (an older form) says add or remove with `direction`."""
    staff_id = require(request, "inventory").staff_id
    form = await request.form()
    direction = form.get("direction")
    default = "waste" if direction == "remove" else "restock"
    typed = {
        "amount": str(form.get("amount") or ""),
        "reason": str(form.get("reason") or default),
        "note": str(form.get("note") or "").strip(),
    }

    def patch() -> InventoryPatch:
        reason = typed["reason"]
        if reason not in console.STOCK_REASON_LABELS:
            raise ValueError(console.CHOOSE_A_REASON)
        number = forms.amount(typed["amount"])
        if reason == "count":
            return InventoryPatch(quantity=number, reason="count", note=typed["note"])
        if number == 0:
            raise ValueError("Enter an amount more than 0")
        delta = -number if reason == "waste" else number
        return InventoryPatch.model_validate({"delta": delta, "reason": reason, "note": typed["note"]})

    return await _change_stock(request, patch, typed, staff_id)


async def set_low_stock(request: Request) -> Response:
    staff_id = require(request, "inventory").staff_id
    form = await request.form()
    typed = {"low_stock": str(form.get("low_stock") or "").strip()}

    def patch() -> InventoryPatch:
        threshold: Decimal | None = forms.amount(typed["low_stock"]) if typed["low_stock"] else None
        return InventoryPatch(low_stock=threshold)

    return await _change_stock(request, patch, typed, staff_id)


async def stock_movements(request: Request) -> Response:
    """One stock item's last movements (a fragment for htmx; the console with them open otherwise)."""
    require(request, "inventory")
    item_id = request.path_params["id"]
    if not is_htmx(request):
        return RedirectResponse(f"/manage?movements={item_id}#movements", status_code=303)
    context = await console.movements_context(store_of(request), item_id)
    return HTMLResponse(console.fragment(request, "movements", **context))


# Staff


async def _staff_panel(request: Request, form: Form, status: int = 200, notice: str | None = None) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#staff", status_code=303)
        return await _page(request, status, staff_form=form)
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


routes = [
    Route("/manage", console_page, methods=["GET"]),
    Route("/manage/stream", console_stream, methods=["GET"]),
    Route("/manage/menu", add_menu_item, methods=["POST"]),
    Route("/manage/menu/new", new_menu_form, methods=["GET"]),
    Route("/manage/menu/{id:id}/edit", edit_menu_form, methods=["GET"]),
    Route("/manage/menu/{id:id}", update_menu_item, methods=["POST"]),
    Route("/manage/menu/{id:id}/availability", set_availability, methods=["POST"]),
    Route("/manage/inventory/{id:id}/adjust", adjust_stock, methods=["POST"]),
    Route("/manage/inventory/{id:id}/low", set_low_stock, methods=["POST"]),
    Route("/manage/inventory/{id:id}/movements", stock_movements, methods=["GET"]),
    Route("/manage/menu/{id:id}/recipe", save_recipe, methods=["POST"]),
    Route("/manage/staff", add_staff_member, methods=["POST"]),
    Route("/manage/staff/{id:id}/active", set_staff_active, methods=["POST"]),
]
