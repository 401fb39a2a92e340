"""A customer's view of their own order, keyed by the unguessable token in their tracking link.

Two streams follow one order: `/track/{token}/events` sends its state as JSON (for programs), and
`/track/{token}/live` sends the tracking page's status panel as HTML, rendered with the same
partial as the page. Both start with the order's current state, so every (re)connection resyncs,
and their frames carry no event ids: the gaps between ids would count the day's business.

The queue moves on other orders' events (a line done, a ticket bumped), so the page's stream also
re-reads its own order's expected time then: one shared read of the kitchen per event
(services.kitchen_now), a frame only when this order's time changed, and never anything of the
other order.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import (
    convertors,  # noqa: F401  (registers the {token:token} path convertor)
    services,
)
from ... import schemas_out as out
from ...events import Event, Subscription
from ...live import Frames, Start, open_stream
from ...operation import ApiRoute, Operation
from ...request import store_of
from ...services.representation import tracked_order_out
from ...store import Store
from ...vocabulary import COOKING_STATUSES
from ...web import templates
from .status import TrackStatus, track_status

OrderFrame = Callable[[dict[str, Any], int], Awaitable[ServerSentEvent]]
# What a stream sends for its order when the queue moved on another order's event (None: nothing).
QueueFrame = Callable[[dict[str, Any], int], Awaitable[ServerSentEvent | None]]


async def track_json(request: Request) -> Response:
    order = await services.get_tracked_order(store_of(request), request.path_params["token"])
    return JSONResponse(tracked_order_out(order))


async def status_of(store: Store, order: dict[str, Any], after: int | None = None) -> TrackStatus:
    """The order's status panel, its time read from the kitchen as of event `after` or later (None:
    the newest, so an order just placed is in the queue it is read from)."""
    prep = await services.prep_time(store)
    kitchen = await services.kitchen_now(store, await store.last_event_id() if after is None else after)
    busy = await services.busy_delay(store)
    return track_status(order, prep, datetime.now(UTC), store.settings.timezone, kitchen, busy)


def render_status(status: TrackStatus) -> str:
    return templates.get_template("track/_status.html").render(s=status)


def render_lines(order: dict[str, Any]) -> str:
    """The page's lines and total, swapped in out of band: lines added or voided after ordering."""
    return templates.get_template("track/_lines.html").render(order=tracked_order_out(order), oob=True)


async def track_page(request: Request) -> Response:
    store = store_of(request)
    token = request.path_params["token"]
    order = await services.get_tracked_order(store, token)
    context = {"order": tracked_order_out(order), "s": await status_of(store, order), "token": token}
    return templates.TemplateResponse(request, "track/page.html", context)


async def _follow(request: Request, frame: OrderFrame, queue_frame: QueueFrame | None = None) -> Response:
    """The order's state now, then again each time it changes. A tracker has one order to show,
    so every (re)connection simply starts from its current state: nothing to replay. With
    `queue_frame`, another order's event, once the stream is caught up, may send a frame too."""
    store = store_of(request)

    async def snapshot(sub: Subscription) -> Start:
        head, order = await services.tracked_snapshot(store, request.path_params["token"])
        order_id = order["id"]
        latest = [order]  # this order as last seen: the only order a frame is ever made of

        async def render(event: Event, settled: bool) -> Frames:
            if event.subject_id == order_id:
                latest[0] = event.payload
                return [await frame(event.payload, event.id)]
            if queue_frame is None or not settled or latest[0]["status"] not in COOKING_STATUSES:
                return []
            moved = await queue_frame(latest[0], event.id)
            return [] if moved is None else [moved]

        return Start(head, render, prelude=[await frame(order, head)])

    return await open_stream(request, {"orders"}, snapshot)


async def track_events(request: Request) -> Response:
    async def order_frame(order: dict[str, Any], event_id: int) -> ServerSentEvent:
        data = json.dumps(tracked_order_out(order), separators=(",", ":"), ensure_ascii=False)
        return ServerSentEvent(data, event="order")

    return await _follow(request, order_frame)


async def track_live(request: Request) -> Response:
    """The tracking page's stream: a `status` fragment (progress, estimate, ready alert, and the
    lines out of band) per change."""
    store = store_of(request)
    shown: list[TrackStatus | None] = [None]  # the status panel last sent

    async def status_frame(order: dict[str, Any], event_id: int) -> ServerSentEvent:
        status = shown[0] = await status_of(store, order, event_id)
        return ServerSentEvent(render_status(status) + render_lines(order), event="status")

    async def queue_frame(order: dict[str, Any], event_id: int) -> ServerSentEvent | None:
        status = await status_of(store, order, event_id)
        if shown[0] is not None and not status.moved_from(shown[0]):
            return None
        shown[0] = status
        return ServerSentEvent(render_status(status), event="status")

    return await _follow(request, status_frame, queue_frame)


routes = [
    ApiRoute(
        "GET",
        "/track/{token:token}.json",
        track_json,
        Operation(
            "A customer's own order, by its tracking link",
            "tracking",
            access="none",
            out=out.TrackedOrderOut,
            description="**Public**: the unguessable token in the order's `tracking_url` is the key. "
            "The HTML page is at `/track/{token}`.",
            errors={404: "No order has this tracking link."},
        ),
    ),
    Route("/track/{token:token}/events", track_events, methods=["GET"]),
    Route("/track/{token:token}/live", track_live, methods=["GET"]),
    Route("/track/{token:token}", track_page, methods=["GET"]),
]
