"""Proof of sight over the API: the kitchen displays' reports (what they rendered, their
heartbeat), the screens and their status, and the alerts for tickets no station has seen."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import convertors  # noqa: F401  (registers the {screen:screen} path convertor)
from ... import schemas_out as out
from ...models import ScreenSeenIn
from ...operation import ApiRoute, Operation
from ...request import store_of
from ...services import sight
from ..http import parse_body


async def screen_seen(request: Request) -> Response:
    data = await parse_body(request, ScreenSeenIn)
    agent = request.headers.get("user-agent", "")
    screen = request.path_params["screen"]
    await sight.screen_saw(store_of(request), screen, data.station, data.last_event_id, agent)
    return Response(status_code=204)  # (a heartbeat carries no data back)


async def list_screens(request: Request) -> Response:
    return JSONResponse(await sight.list_screens(store_of(request)))


async def list_alerts(request: Request) -> Response:
    return JSONResponse(await sight.alerts(store_of(request)))


routes = [
    ApiRoute(
        "POST",
        "/kitchen/screens/{screen:screen}/seen",
        screen_seen,
        Operation(
            "A kitchen display reports what it has rendered",
            "kitchen",
            access="staff",
            permission="orders.read",
            body=ScreenSeenIn,
            status=204,
            description=(
                "`screen` is the screen's name: 1 to 40 of a-z, 0-9, - and _ (`?screen=` on the kitchen display). "
                "Sent by the kitchen display after it has painted each change, and as its heartbeat "
                "(every `FORKFLOW_SCREEN_HEARTBEAT_SECONDS`). The screen is recorded (first report) and online; "
                "every unseen send of its station (of every station, for the all-stations and expo views) "
                "whose event id is at most `last_event_id` is marked seen by it. "
                "Emits `sight.seen` when something was newly seen, `screen.online` when the screen comes (back) "
                "online; a heartbeat that changes nothing emits nothing."
            ),
            errors={
                404: "not a screen's name (1 to 40 of a-z, 0-9, - and _)",
                422: "an unknown station, or a `last_event_id` beyond the newest event",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/kitchen/screens",
        list_screens,
        Operation(
            "The kitchen's screens",
            "kitchen",
            access="staff",
            permission="orders.read",
            out=out.ScreenOut,
            many=True,
            description="Each screen that ever reported, by name: its station, online or not, its last heartbeat.",
        ),
    ),
    ApiRoute(
        "GET",
        "/kitchen/alerts",
        list_alerts,
        Operation(
            "Tickets no screen or printer of a station has seen",
            "kitchen",
            access="staff",
            permission="orders.read",
            out=out.SightingOut,
            many=True,
            description=(
                "Sends alarmed (unseen `FORKFLOW_UNSEEN_SECONDS` after they were sent: `sight.unseen`) and still "
                "unseen, of orders still on the rail, oldest alarm first. A send seen later leaves the list "
                "(`sight.seen`)."
            ),
        ),
    ),
]
