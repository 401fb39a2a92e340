"""The JSON API of scheduled orders: the opening hours (read by anyone, set by managers), and
staff's "send now" for an order held until its release time, and "hold until" for one sent as soon as possible."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import schemas_out as out
from ...config import Settings
from ...models import HoldIn, HoursIn
from ...operation import ApiRoute, Operation, roles_text
from ...request import store_of
from ...services import hours, releases
from ..http import json_response, parse_body


async def get_hours(request: Request) -> Response:
    return JSONResponse(await hours.get_hours(store_of(request)))


async def set_hours(request: Request) -> Response:
    data = await parse_body(request, HoursIn)
    return JSONResponse(await hours.set_hours(store_of(request), data))


async def release_order(request: Request) -> Response:
    return json_response(await releases.release_now(store_of(request), request.path_params["id"]))


async def hold_order(request: Request) -> Response:
    data = await parse_body(request, HoldIn)
    return json_response(await releases.hold_until(store_of(request), request.path_params["id"], data.until))


_HOURS = (
    "Local time (`FORKFLOW_TIMEZONE`), per weekday: `[opens, closes]` intervals as `HH:MM`, in order, not "
    'overlapping; `"24:00"` closes at midnight (a service past midnight is two intervals: `["18:00", "24:00"]` '
    'and the next day\'s `["00:00", "02:00"]`); `[]`: closed. Scheduled pickups (`pickup_at` of `POST /orders`) '
    "must fall inside them; orders for as soon as possible are not refused by them."
)

routes = [
    ApiRoute(
        "GET",
        "/settings/hours",
        get_hours,
        Operation(
            "The opening hours",
            "settings",
            access="none",
            out=out.HoursOut,
            description=_HOURS + " **Public.**",
        ),
    ),
    ApiRoute(
        "PUT",
        "/settings/hours",
        set_hours,
        Operation(
            "Set the opening hours",
            "settings",
            access="staff",
            permission="menu.write",
            body=HoursIn,
            out=out.HoursOut,
            description=_HOURS
            + " Every day must be named. **Roles:** "
            + roles_text("menu.write")
            + " (permission `menu.write`). Emits `menu.hours` (when they changed).",
            errors={422: "A day is missing, or an interval is malformed, empty, out of order or overlapping."},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/release",
        release_order,
        Operation(
            "Send a scheduled order to the kitchen now",
            "orders",
            access="staff",
            permission="orders.move",
            out=out.OrderOut,
            description=(
                "A scheduled order (`pickup_at`) is held until `release_at` (its pickup time minus its longest "
                "line's prep time), when the server releases it, exactly once, on one process. This releases it "
                "now. An order released already is answered as it is (no event). **Roles:** "
                + roles_text("orders.move")
                + " (permission `orders.move`). Emits `order.released`. "
                f"Orders can be scheduled up to {Settings().max_schedule_days} days ahead "
                "(`FORKFLOW_MAX_SCHEDULE_DAYS`)."
            ),
            errors={409: "The order was never scheduled, or it is no longer `new` (cancelled)."},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/hold",
        hold_order,
        Operation(
            "Hold an order until a time",
            "orders",
            access="staff",
            permission="orders.move",
            body=HoldIn,
            out=out.OrderOut,
            description=(
                'Holds an order that no cook has started until `until` ("table 4 wants their food at 20:00"): '
                "it leaves the kitchen displays (`held`, `release_at` = `until`) and the server releases it then, "
                "exactly once (`order.released`), as it does a scheduled order; `POST /orders/{id}/release` sends "
                "it at once. Holding a held order moves its time. **Roles:** "
                + roles_text("orders.move")
                + " (permission `orders.move`). Emits `order.updated`. "
                f"At most {Settings().max_schedule_days} days ahead (`FORKFLOW_MAX_SCHEDULE_DAYS`)."
            ),
            errors={
                409: "The order is no longer `new`, or a line of it is done (the kitchen has started it).",
                422: "`until` is in the past (a minute's grace) or further ahead than the limit.",
            },
        ),
    ),
]
