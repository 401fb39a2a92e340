"""The JSON API of online ordering's pace: its settings (read by anyone, set by managers) and the
pickup slots still offered (public). The rules are services/online.py's."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import schemas_out as out
from ...errors import Invalid
from ...formats import local_time
from ...models import OnlineIn
from ...numbers import MAX_BUSY_MINUTES, MAX_SLOT_LOAD, MAX_SLOT_ORDERS
from ...operation import ApiRoute, Operation, roles_text
from ...request import store_of
from ...services import online
from ...services.hours import SLOT_MINUTES
from ..http import parse_body


async def get_online(request: Request) -> Response:
    return JSONResponse((await online.get_online(store_of(request))).out(datetime.now(UTC)))


async def set_online(request: Request) -> Response:
    data = await parse_body(request, OnlineIn)
    return JSONResponse(await online.set_online(store_of(request), data))


def _day(request: Request, today: date) -> date:
    raw = request.query_params.get("date")
    if raw is None:
        return today
    try:
        if len(raw) != len("YYYY-MM-DD"):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("date must be a day as YYYY-MM-DD", {"date": "expected YYYY-MM-DD"}) from None


async def list_slots(request: Request) -> Response:
    store = store_of(request)
    zone = store.settings.timezone
    now = datetime.now(UTC)
    day = _day(request, now.astimezone(zone).date())
    slots = await online.offered_slots(store, now, day)
    found = [{"start": slot.astimezone(zone).isoformat(), "time": local_time(slot, zone)} for slot in slots]
    return JSONResponse({"date": day.isoformat(), "slots": found})


_ONLINE = (
    "Online ordering's pace. While `paused` (until `resume_at`, or until resumed) public `POST /orders` and the "
    "shop's checkout are refused (409 `reason: online_paused`, with `resume_at`) and every open shop menu says "
    f"so, live. `busy_minutes` (0 to {MAX_BUSY_MINUTES}) is added to every quoted time. A pickup slot is "
    f"{SLOT_MINUTES} minutes of pickup time from the hour; an order counts in the slot of its `pickup_at`, or "
    "for as soon as possible of its quoted ready time (placed + busy delay + its longest prep time). "
    f"`slot_orders` (0 to {MAX_SLOT_ORDERS}) caps a slot's online orders, `slot_load` (0 to {MAX_SLOT_LOAD}) "
    "the sum of `prep_load × quantity` of all its orders, staff's included; null: no limit. A public order "
    "that does not fit is 409 `reason: slot_full`; staff orders are never refused."
)

routes = [
    ApiRoute(
        "GET",
        "/online",
        get_online,
        Operation(
            "Online ordering's settings",
            "online",
            access="none",
            out=out.OnlineOut,
            description=_ONLINE + " **Public.**",
        ),
    ),
    ApiRoute(
        "PUT",
        "/online",
        set_online,
        Operation(
            "Set online ordering's pause, busy delay and slot capacity",
            "online",
            access="staff",
            permission="online",
            body=OnlineIn,
            out=out.OnlineOut,
            description=_ONLINE
            + " All fields at once. **Roles:** "
            + roles_text("online")
            + " (permission `online`). Emits `menu.online` (when they changed).",
            errors={
                422: "A value out of range, or `resume_at` in the past, too far ahead (`FORKFLOW_MAX_SCHEDULE_DAYS`) "
                "or given without a pause."
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/online/slots",
        list_slots,
        Operation(
            "The pickup slots still offered",
            "online",
            access="none",
            out=out.SlotsOut,
            description=(
                "The pickup times of a local day (`?date=YYYY-MM-DD`, default today) that checkout offers: in the "
                "opening hours, at least a slot plus the busy delay from now, within the scheduling limit, not "
                "full; none while paused. How full a slot is stays private. **Public.**"
            ),
            parameters=(
                {
                    "name": "date",
                    "in": "query",
                    "required": False,
                    "description": "the local day (422 unless YYYY-MM-DD); default today",
                    "schema": {"type": "string", "format": "date"},
                },
            ),
            errors={422: "`date` is not a day as YYYY-MM-DD."},
        ),
    ),
]
