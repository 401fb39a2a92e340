"""The live kitchen display: the page, its stream of HTML fragments, and the cooks' taps.

The page renders the rail and remembers the id of the last event it reflects (read together, in
one snapshot). Its stream then sends a `ticket` fragment per order event after that id, rendered
with the same partial as the page, and a fresh `allday` panel after each burst of them. A display that
reconnects resumes from its own last event id; one that has none, or is too far behind, is sent
the whole rail again (`rail`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ... import (
    convertors,  # noqa: F401  (registers the {id:id} path convertor)
    services,
)
from ...auth.roles import principal_of, require
from ...errors import Invalid
from ...events import Event, Subscription
from ...live import Frames, Start, frame_cache, open_stream, parse_last_event_id, ready_frame, shared_read
from ...models import MAX_COURSE
from ...numbers import whole_number
from ...request import is_htmx, store_of
from ...services.orders import AllDay, AllDayByStation, waiting_by_station, waiting_counts
from ...vocabulary import ACTIVE_STATUSES, spoken
from ...web import templates
from .view import View, sort_key, ticket

# A display further behind than this gets the whole rail rather than a replay.
MAX_REPLAY = 1000
FRAMES_KEPT = 4096  # the displays' shared frames: tickets and all-day panels, by event and view
# The all-day panel trails the tickets by at most this (plus a read): under a burst the displays
# share one read of the counts per this many seconds, not one per event.
ALLDAY_EVERY = 0.2


def render_ticket(order: dict[str, Any], view: View, pacing: bool = False) -> str:
    shown = ticket(order, view, pacing)
    if shown is None:
        return f'<article id="ticket-{int(order["id"])}" class="ticket" data-remove></article>'
    return templates.get_template("kitchen/_ticket.html").render(t=shown, view=view)


def render_allday(counts: list[AllDay]) -> str:
    return templates.get_template("kitchen/_allday.html").render(allday=counts)


def rail(orders: list[dict[str, Any]], view: View, pacing: bool = False) -> list[dict[str, Any]]:
    """The view's tickets in the rail's order: rush first, then oldest first."""
    return [shown for order in sorted(orders, key=sort_key) if (shown := ticket(order, view, pacing)) is not None]


def render_rail(orders: list[dict[str, Any]], view: View, pacing: bool = False) -> str:
    tickets = rail(orders, view, pacing)
    return templates.get_template("kitchen/_rail.html").render(tickets=tickets, view=view)


def _display_settings(request: Request) -> dict[str, Any]:
    settings = store_of(request).settings
    return {
        "warn_seconds": round(settings.kitchen_warn_minutes * 60),
        "late_seconds": round(settings.kitchen_late_minutes * 60),
        "heartbeat_seconds": settings.screen_heartbeat_seconds,  # proof of sight (services/sight.py)
        "server_now": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


async def display(request: Request) -> Response:
    require(request, "orders.read")
    store = store_of(request)
    view = View.from_query(request.query_params.get("station"))
    head, orders = await services.kitchen_snapshot(store)
    pacing = store.settings.fire_by_prep_time
    context = {
        "view": view,
        "head": head,
        "tickets": rail(orders, view, pacing),
        "allday": await waiting_counts(store, view.station),
        "stations": await services.list_stations(store),
        **_display_settings(request),
    }
    return templates.TemplateResponse(request, "kitchen/display.html", context)


async def display_stream(request: Request) -> Response:
    require(request, "orders.read")
    store = store_of(request)
    view = View.from_query(request.query_params.get("station"))
    last_id = parse_last_event_id(request)
    frames = frame_cache(request, "kitchen", FRAMES_KEPT)
    # Every view's counts, read at most every ALLDAY_EVERY seconds and shared by every display.
    allday = shared_read(request, "allday", partial(waiting_by_station, store), ALLDAY_EVERY)
    pacing = store.settings.fire_by_prep_time

    async def allday_frame(as_of: int, counts: AllDayByStation) -> bytes:
        async def encoded() -> bytes:
            return ServerSentEvent(render_allday(counts.get(view.station, [])), event="allday").encode()

        return await frames.get((as_of, view.key, "allday"), encoded)

    async def render(event: Event, settled: bool) -> Frames:
        async def encoded() -> bytes:
            html = render_ticket(event.payload, view, pacing)
            return ServerSentEvent(html, event="ticket", id=str(event.id)).encode()

        return [await frames.get((event.id, view.key, "ticket"), encoded)]

    shown = 0  # the last panel this stream sent, by the event it shows at least

    async def caught_up(last_sent: int) -> Frames:
        nonlocal shown
        found = await allday.as_of(last_sent)
        shown = found[0]
        return [await allday_frame(*found), ready_frame(last_sent)]

    async def snapshot(sub: Subscription) -> Start:
        async def settle(last_sent: int) -> Frames:
            """After a burst: the panel as of its last event, once a shared read shows it (this
            stream is nudged then); never the same panel twice."""
            nonlocal shown
            found = allday.ready(last_sent, sub.nudge)
            if found is None or found[0] <= shown:
                return []
            shown = found[0]
            return [await allday_frame(*found)]

        if last_id is not None and store.bus.last_event_id - last_id <= MAX_REPLAY:
            return Start(last_id, render, caught_up, settle=settle)
        after, orders = await services.kitchen_snapshot(store)
        rail = ServerSentEvent(render_rail(orders, view, pacing), event="rail", id=str(after))
        return Start(after, render, caught_up, [rail], settle)

    return await open_stream(request, {"orders"}, snapshot)


def _done(request: Request, station: str | None) -> Response:
    """htmx taps get 204 (every display, this one too, learns the change from the stream);
    a plain form post goes back to the display."""
    if is_htmx(request):
        return Response(status_code=204)
    return RedirectResponse(f"/kitchen/display?station={station or ''}", status_code=303)


async def bump_ticket(request: Request) -> Response:
    require(request, "orders.move")
    form = await request.form()
    view = View.from_query(str(form.get("station") or ""))
    seen = str(form.get("status", ""))
    if seen not in ACTIVE_STATUSES:
        raise Invalid("say which status the ticket showed", {"status": spoken(ACTIVE_STATUSES)})
    lines_first = view.expo and form.get("override") != "1"
    await services.bump(store_of(request), request.path_params["id"], seen, view.station, lines_first)
    return _done(request, view.key)


async def acknowledge_allergies(request: Request) -> Response:
    """A cook's tap on the allergy banner: recorded with who and when (an event every screen
    sees), and only then may the ticket start."""
    require(request, "orders.move")
    form = await request.form()
    principal = principal_of(request)
    assert principal is not None  # (require let a signed-in caller through)
    await services.acknowledge_allergies(store_of(request), request.path_params["id"], principal.name)
    return _done(request, str(form.get("station") or ""))


async def fire_course(request: Request) -> Response:
    """The ticket's "Fire course N": the held course goes to its stations (`services.fire_course`;
    a second tap after it fired is the 409 the toast shows)."""
    require(request, "orders.move")
    form = await request.form()
    course = whole_number(str(form.get("course", "")), 0, MAX_COURSE)
    if course is None:
        raise Invalid("say which course to fire", {"course": f"a whole number from 0 to {MAX_COURSE}"})
    await services.fire_course(store_of(request), request.path_params["id"], course)
    return _done(request, str(form.get("station") or ""))


async def toggle_line(request: Request) -> Response:
    require(request, "orders.move")
    form = await request.form()
    done = form.get("done") == "1"
    order_id, line_id = request.path_params["id"], request.path_params["line_id"]
    await services.mark_lines_done(store_of(request), order_id, done, line_id=line_id)
    return _done(request, str(form.get("station") or ""))


async def recall(request: Request) -> Response:
    require(request, "orders.move")
    form = await request.form()
    await services.recall_last(store_of(request))
    return _done(request, str(form.get("station") or ""))


routes = [
    Route("/kitchen/display", display, methods=["GET"]),
    Route("/kitchen/stream", display_stream, methods=["GET"]),
    Route("/kitchen/tickets/{id:id}/bump", bump_ticket, methods=["POST"]),
    Route("/kitchen/tickets/{id:id}/lines/{line_id:id}", toggle_line, methods=["POST"]),
    Route("/kitchen/tickets/{id:id}/fire", fire_course, methods=["POST"]),
    Route("/kitchen/tickets/{id:id}/allergies", acknowledge_allergies, methods=["POST"]),
    Route("/kitchen/recall", recall, methods=["POST"]),
]
