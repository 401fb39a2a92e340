"""The cashier's till (`/pos`): the page, the ticket the server re-prices on every change, sending
it as an order, and the till's stream.

The ticket is a form (see `ticket.py` beside this module). Each tap posts it to `/pos/ticket`, which answers the
ticket re-rendered; `/pos/orders` sends it through `services.create_order` with the idempotency key
the server put in the form when the ticket was started, so a double tap or a retry after a lost
answer replays the first order instead of making a second.

`/pos/stream` starts with the menu buttons and the recent-orders panel as they are now (a new
EventSource sends no Last-Event-ID, so every (re)connect resyncs the page), then sends a panel again
at the end of each burst of menu or order events. A `menu` event also makes the page post its ticket
back, so a ticket holding a dish that just sold out, or an option just 86'd, says so before it is
sent, and an open options picker shows the option as 86 at once.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ... import idempotency, services
from ...auth.roles import require
from ...errors import BadRequest, Conflict, Invalid, ServiceError
from ...events import Event, Subscription
from ...live import Frames, Start, frame_cache, open_stream, ready_frame
from ...models import MAX_COURSE, VoidIn, field_errors
from ...numbers import whole_number
from ...request import is_htmx, store_of
from ...services import online, printers, sight
from ...services.bill import Quote, quote_lines
from ...services.courses import COURSES
from ...services.releases import ASAP_MARK, held_orders
from ...store import Store
from ...vocabulary import ALLERGENS, COOKING_STATUSES, Channel
from ...web import templates
from .ticket import CHANNELS, Bill, Ticket, bill

RECENT = 20  # orders in the recent-orders panel
PERMISSION = "orders.place"  # cashier or manager
PANEL_OF_TOPIC = {"menu": "menu", "orders": "recent", "kitchen": "alerts"}
# The SSE event names, and the ids of the elements they fill ("printers": the banner naming each
# printer that cannot print, gone when it recovers).
PANELS = ("menu", "recent", "scheduled", "alerts", "printers")
PRINTER_EVENTS = ("printer.", "print.")  # of the kitchen topic, those the banner follows

FRAMES_KEPT = 256  # the tills' shared panel frames, by event
VOID_PERMISSION = "orders.void"
_AMEND_OP = re.compile(r"^amend:([0-9]{1,10})$")  # "Add / void" on a recent order

MenuItems = list[dict[str, Any]]


# What the till shows


def categories(menu: MenuItems) -> list[tuple[str, MenuItems]]:
    """The menu as (category, items); `list_menu` already sorts by category, then name."""
    return [(name, list(items)) for name, items in groupby(menu, key=lambda item: item["category"])]


def render_menu(menu: MenuItems) -> str:
    return templates.get_template("pos/_menu.html").render(categories=categories(menu))


def render_recent(orders: list[dict[str, Any]], zone: ZoneInfo, seen: dict[int, list[dict[str, Any]]]) -> str:
    return templates.get_template("pos/_recent.html").render(recent=orders, zone=zone, sightings=seen)


async def _sightings(store: Store, orders: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Per recent order, its newest send per station and who saw it (proof of sight)."""
    found = await sight.sightings_of(store, [order["id"] for order in orders])
    return {order_id: sight.latest_by_station(sends) for order_id, sends in found.items()}


def render_alerts(alerts: list[dict[str, Any]], zone: ZoneInfo) -> str:
    return templates.get_template("pos/_alerts.html").render(alerts=alerts, zone=zone)


async def _recent(store: Store) -> list[dict[str, Any]]:
    return await services.list_orders(store, None, RECENT)


async def _quote(store: Store, ticket: Ticket, priced: Bill) -> Quote:
    """What the ticket would cost placed now: its priced lines, through the same pricing as orders."""
    lines = [
        (row.line.item_id, row.unit_cents, row.line.count)
        for row in priced.lines
        if row.line.item_id is not None and row.unit_cents is not None and row.line.count is not None
    ]
    channel: Channel = next((known for known in CHANNELS if known == ticket.channel), "counter")
    return await quote_lines(store, lines, channel, ticket.guest_count)


async def _courses(store: Store) -> dict[str, int]:
    """Each category's course: what a line's "menu" course is."""
    return {c["name"]: c["course"] for c in (await services.list_categories(store))["categories"]}


def render_scheduled(orders: list[dict[str, Any]], zone: ZoneInfo, rooms: dict[int, online.Room]) -> str:
    return templates.get_template("pos/_scheduled.html").render(scheduled=orders, zone=zone, rooms=rooms)


async def slot_rooms(store: Store, orders: list[dict[str, Any]]) -> dict[int, online.Room]:
    """Each held order's pickup slot's room, by order id: staff see the load they add to. (An order
    for as soon as possible that staff hold has no pickup time, so no slot.)"""
    pickups = {
        order["id"]: datetime.fromisoformat(order["pickup_at"].replace("Z", "+00:00"))
        for order in orders
        if order["pickup_at"] is not None
    }
    found = await online.rooms_at(store, list(pickups.values()))
    return {order_id: found[online.slot_of(pickup)] for order_id, pickup in pickups.items()}


def render_printer_banner(listed: list[dict[str, Any]], zone: ZoneInfo) -> str:
    """Each failing printer, said once: "Grill: cannot print since 19:42, 2 chits waiting; backup: Expo"."""
    names = {printer["id"]: printer["name"] for printer in listed}
    failing = [printer for printer in listed if printer["online"] is False]
    return templates.get_template("pos/_printers.html").render(failing=failing, names=names, zone=zone)


async def render_panel(store: Store, panel: str) -> str:
    if panel == "printers":
        return render_printer_banner(await printers.list_printers(store), store.settings.timezone)
    if panel == "menu":
        return render_menu(await services.list_menu(store))
    if panel == "scheduled":
        held = await held_orders(store)
        return render_scheduled(held, store.settings.timezone, await slot_rooms(store, held))
    if panel == "alerts":
        return render_alerts(await sight.alerts(store), store.settings.timezone)
    recent = await _recent(store)
    return render_recent(recent, store.settings.timezone, await _sightings(store, recent))


async def _respond(
    request: Request,
    ticket: Ticket,
    menu: MenuItems,
    status: int = 200,
    placed: dict[str, Any] | None = None,
    replayed: bool = False,
    whole_page: bool = False,
    added: bool = False,
) -> Response:
    """htmx gets the ticket (and, after a send, the placed ticket number out of band); a plain form
    post without script gets the whole till. A ticket adding to a sent order shows that order's
    lines as they are now, each with its Void while the order is open."""
    store = store_of(request)
    amending = None if ticket.amend_id is None else await services.get_order(store, ticket.amend_id)
    # The sent ticket's expected ready time (its pickup time if scheduled): what to tell the guest.
    ready_by = (
        None
        if placed is None
        else (await services.ready_estimate(store, placed, busy=await services.busy_delay(store))).ready_by
    )
    priced = bill(ticket, {item["id"]: item for item in menu}, await _courses(store))
    context: dict[str, Any] = {
        "quote": None if amending else await _quote(store, ticket, priced),
        "ready_by": ready_by,
        "zone": store.settings.timezone,
        "ticket": ticket,
        "channels": CHANNELS,
        "allergens": ALLERGENS,
        "bill": priced,
        "courses": COURSES,
        "placed": placed,
        "replayed": replayed,
        "added": added,
        "amending": amending,
        "amendable": amending is not None and amending["status"] in COOKING_STATUSES,
    }
    if is_htmx(request) and not whole_page:
        return templates.TemplateResponse(request, "pos/_ticket_response.html", context, status_code=status)
    held = await held_orders(store)
    recent = await _recent(store)
    context |= {
        "categories": categories(menu),
        "recent": recent,
        "sightings": await _sightings(store, recent),
        "alerts": await sight.alerts(store),
        "scheduled": held,
        "rooms": await slot_rooms(store, held),
    }
    return templates.TemplateResponse(request, "pos/page.html", context, status_code=status)


# Routes


async def till(request: Request) -> Response:
    require(request, PERMISSION)
    menu = await services.list_menu(store_of(request))
    return await _respond(request, Ticket.new(), menu, whole_page=True)


async def change_ticket(request: Request) -> Response:
    """Apply one tap (`add`, or `op`: inc/dec/remove of a line, the picker's, clear; see
    `Ticket.apply`) and re-price the ticket. A refused tap leaves the ticket as it was and says
    why (409 sold out or 86'd, 422 bad input or a group's rule)."""
    require(request, PERMISSION)
    form = await request.form()
    op = str(form.get("op") or "")
    amend = _AMEND_OP.match(op)
    ticket = Ticket.new() if op == "clear" or amend else Ticket.from_form(form)
    menu = await services.list_menu(store_of(request))
    by_id = {item["id"]: item for item in menu}
    status = 200
    try:
        if amend:  # a new ticket for lines added to a sent order (404 for no such order)
            order = await services.get_order(store_of(request), int(amend.group(1)))
            ticket.amend, ticket.allergies = str(order["id"]), order["allergies"]
        elif "add" in form:
            ticket.add(str(form.get("add")), by_id)
        elif op and op != "clear":
            ticket.apply(op, by_id)
    except ServiceError as error:
        ticket.fail(error)
        status = error.status
    ticket.check_lines(by_id)
    if ticket.errors and status == 200:
        status = 422
    return await _respond(request, ticket, menu, status)


async def send_ticket(request: Request) -> Response:
    """Send the ticket as an order, exactly as `POST /orders` with an Idempotency-Key would: the
    same key and ticket again returns the first order (200) rather than making another (201).
    Lines that contain the customer's allergies come back as the order's 409, which the ticket
    shows as a confirmation; its "Send anyway" posts again with `allergies_confirmed`."""
    principal = require(request, PERMISSION)
    store = store_of(request)
    form = await request.form()
    ticket = Ticket.from_form(form)
    if not idempotency.is_valid(ticket.key):
        raise BadRequest("this ticket has no valid key; start a new ticket", {"idempotency_key": "malformed"})
    key = idempotency.stored(idempotency.staff_scope(principal), ticket.key)
    confirmed = form.get("allergies_confirmed") == "true"
    try:
        if ticket.amend_id is not None:
            order, replayed = await services.add_lines(store, ticket.amend_id, ticket.added_lines(confirmed), key)
        else:
            order, replayed = await services.create_order(store, ticket.order(confirmed, store.settings.timezone), key)
    except (Invalid, Conflict) as error:  # about the ticket: shown on it. Anything else is answered as JSON.
        if isinstance(error, idempotency.KeyReused):
            error = Invalid(
                "this ticket was already sent before it was changed (see Recent orders); "
                "start a new ticket to send the changes as another order"
            )
        ticket.fail(error)
        return await _respond(request, ticket, await services.list_menu(store), error.status)
    menu = await services.list_menu(store)
    added = ticket.amend_id is not None
    return await _respond(request, Ticket.new(), menu, 200 if replayed else 201, order, replayed, added=added)


async def void_sent_line(request: Request) -> Response:
    """A sent line's Void, with the reason typed beside it (`void_reason_<line id>`): through
    `services.void_line`, as `POST /orders/{id}/lines/{line_id}/void`. The ticket (with any lines
    being added) is shown again, the voided line struck through; a refusal is said on the ticket."""
    principal = require(request, VOID_PERMISSION)
    store = store_of(request)
    form = await request.form()
    ticket = Ticket.from_form(form)
    line_id = whole_number(str(form.get("void_line") or ""), 1)
    if ticket.amend_id is None or line_id is None:
        raise BadRequest("say which line of which order to void", {"void_line": "missing"})
    status = 200
    reason_field = f"void_reason_{line_id}"
    try:
        try:
            data = VoidIn.model_validate({"reason": str(form.get(reason_field) or "")})
        except ValidationError as exc:
            raise Invalid("say why the line is voided", {reason_field: field_errors(exc)["reason"]}) from None
        await services.void_line(store, ticket.amend_id, line_id, data.reason, principal.name)
    except (Invalid, Conflict) as error:
        ticket.fail(error)
        status = error.status
    return await _respond(request, ticket, await services.list_menu(store), status)


async def fire_course(request: Request) -> Response:
    """A recent order's "Fire course N": the same write as `POST /orders/{id}/fire`. The panel
    learns the change from the stream."""
    require(request, PERMISSION)
    form = await request.form()
    course = whole_number(str(form.get("course", "")), 0, MAX_COURSE)
    if course is None:
        raise Invalid("say which course to fire", {"course": f"a whole number from 0 to {MAX_COURSE}"})
    await services.fire_course(store_of(request), request.path_params["id"], course)
    return Response(status_code=204) if is_htmx(request) else RedirectResponse("/pos", status_code=303)


async def print_receipt(request: Request) -> Response:
    """A recent order's "Print receipt": `POST /orders/{id}/receipt`'s write, on the first receipt
    printer (the button is disabled while its request is in flight, so a double tap prints once)."""
    require(request, "print")
    await printers.print_receipt(store_of(request), request.path_params["id"], None)
    return Response(status_code=204) if is_htmx(request) else RedirectResponse("/pos", status_code=303)


async def mark_rush(request: Request) -> Response:
    """A recent order's "Rush" switch: `PATCH /orders/{id} {"rush": ...}`'s write."""
    require(request, PERMISSION)
    form = await request.form()
    await services.change_order(store_of(request), request.path_params["id"], rush=form.get("rush") == "1")
    return Response(status_code=204) if is_htmx(request) else RedirectResponse("/pos", status_code=303)


async def till_stream(request: Request) -> Response:
    require(request, PERMISSION)
    store = store_of(request)
    frames = frame_cache(request, "pos", FRAMES_KEPT)
    stale: set[str] = set()  # panels changed by events not sent on yet

    def encoder(panel: str) -> Callable[[], Awaitable[bytes]]:
        async def encoded() -> bytes:
            return ServerSentEvent(await render_panel(store, panel), event=panel).encode()

        return encoded

    async def panels(event_id: int) -> Frames:
        """The stale panels, once per burst; tills at the same event share each rendered frame."""
        sent: Frames = [await frames.get((event_id, "pos", panel), encoder(panel)) for panel in sorted(stale)]
        stale.clear()
        return sent

    async def render(event: Event, settled: bool) -> Frames:
        if event.topic == "kitchen":
            if event.type.startswith("sight."):  # (screens' own events change nothing here)
                stale.update(("alerts", "recent"))
            elif event.type.startswith(PRINTER_EVENTS):
                stale.add("printers")
            return await panels(event.id) if settled else []
        stale.add(PANEL_OF_TOPIC[event.topic])
        if event.topic == "orders" and ASAP_MARK not in event.data:
            stale.add("scheduled")
        return await panels(event.id) if settled else []

    async def caught_up(last_sent: int) -> Frames:
        return [*await panels(last_sent), ready_frame(last_sent)]

    async def snapshot(sub: Subscription) -> Start:
        head = await store.last_event_id()
        prelude = [ServerSentEvent(await render_panel(store, panel), event=panel) for panel in PANELS]
        return Start(head, render, caught_up, prelude)

    return await open_stream(request, set(PANEL_OF_TOPIC), snapshot)


routes = [
    Route("/pos", till, methods=["GET"]),
    Route("/pos/ticket", change_ticket, methods=["POST"]),
    Route("/pos/orders", send_ticket, methods=["POST"]),
    Route("/pos/void", void_sent_line, methods=["POST"]),
    Route("/pos/stream", till_stream, methods=["GET"]),
    Route("/pos/orders/{id:id}/fire", fire_course, methods=["POST"]),
    Route("/pos/orders/{id:id}/rush", mark_rush, methods=["POST"]),
    Route("/pos/orders/{id:id}/receipt", print_receipt, methods=["POST"]),
]
