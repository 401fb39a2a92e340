"""A customer's view of their own order, keyed by the unguessable token in their tracking link."""

from __future__ import annotations

import json

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import services
from ..events import Event
from ..services.representation import tracked_order_out
from ..web import templates
from .http import store_of
from .stream import Frames, event_stream


async def track_json(request: Request) -> Response:
    order = await services.get_tracked_order(store_of(request), request.path_params["token"])
    return JSONResponse(tracked_order_out(order))


async def track_page(request: Request) -> Response:
    order = await services.get_tracked_order(store_of(request), request.path_params["token"])
    return templates.TemplateResponse(request, "track.html", {"order": tracked_order_out(order)})


def _order_frame(order: dict, event_id: int) -> ServerSentEvent:
    data = json.dumps(tracked_order_out(order), separators=(",", ":"), ensure_ascii=False)
    return ServerSentEvent(data, event="order", id=str(event_id))


async def track_events(request: Request) -> Response:
    """The order's state now, then again each time it changes. A tracker has one order to show,
    so every (re)connection simply starts from its current state: nothing to replay."""
    store = store_of(request)
    topics = {"orders"}
    sub = store.bus.subscribe(topics)
    try:
        head, order = await services.tracked_snapshot(store, request.path_params["token"])
    except BaseException:
        store.bus.unsubscribe(sub)
        raise
    order_id = order["id"]

    async def render(event: Event, settled: bool) -> Frames:
        return [_order_frame(event.payload, event.id)] if event.subject_id == order_id else []

    async def nothing_more(last_sent: int) -> Frames:
        return []

    return event_stream(request, sub, topics, head, render, nothing_more, [_order_frame(order, head)])


routes = [
    Route("/track/{token}.json", track_json, methods=["GET"]),
    Route("/track/{token}/events", track_events, methods=["GET"]),
    Route("/track/{token}", track_page, methods=["GET"]),
]
