"""The JSON API's orders: place one (staff, or the public online), list, read and move them; the kitchen's queue."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import idempotency, public_orders, services
from ... import schemas_out as out
from ...auth.roles import principal_of, require
from ...config import Settings
from ...errors import BadRequest, Invalid, Unauthorized
from ...models import FireIn, KitchenSettingsIn, LinesIn, OrderIn, StatusIn, VoidIn
from ...operation import ApiRoute, Operation, location_header, roles_text, staff_of
from ...request import client_address, store_of
from ...services import sight
from ...services.representation import public_order_out
from ...vocabulary import ORDER_STATUSES
from ..http import check_public_rate, json_response, parse_body
from .limit import limit_of, limit_param


def idempotency_key_of(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not idempotency.is_valid(key):
        raise BadRequest(
            f"Idempotency-Key must be {idempotency.FORMAT_TEXT}",
            {"Idempotency-Key": "malformed"},
        )
    return key


async def list_orders(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and status not in ORDER_STATUSES:
        raise Invalid(f"unknown status {status!r}", {"status": f"one of {', '.join(ORDER_STATUSES)}"})
    return JSONResponse(await services.list_orders(store_of(request), status, limit_of(request)))


async def create_order(request: Request) -> Response:
    """Staff with the right may place any channel; the public only online orders, within the public
    limits, and its answer carries no sequential id (the tracking link and pickup code instead)."""
    principal = principal_of(request)  # (a signed-in caller has the declared permission)
    if principal is None:
        check_public_rate(request)
    key = idempotency_key_of(request)
    data = await parse_body(request, OrderIn)
    if principal is None and data.channel != "online":
        raise Unauthorized("sign in to take counter and table orders; the public may order online")
    address = client_address(request)
    stored_key = None if key is None else idempotency.stored(idempotency.caller_scope(principal, address), key)
    if principal is None:
        order, replayed = await public_orders.place(request, data, stored_key, address)
        public_headers = {"Location": order["tracking_url"]}
        if replayed:
            public_headers["Idempotent-Replayed"] = "true"
        return JSONResponse(public_order_out(order), 201, public_headers)
    order, replayed = await services.create_order(store_of(request), data, stored_key)
    headers = {"Location": f"/orders/{order['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(order, 201, headers)


async def get_order(request: Request) -> Response:
    """The order, and who in the kitchen saw each of its sends (read from `sends`: never kept in
    the order's event payload, which every event would then carry)."""
    store, order_id = store_of(request), request.path_params["id"]
    order = await services.get_order(store, order_id)
    return JSONResponse({**order, "sightings": await sight.sightings(store, order_id)})


async def change_order_status(request: Request) -> Response:
    data = await parse_body(request, StatusIn)
    if data.status == "cancelled":  # a finer check than the route's: its description says so
        require(request, "orders.cancel")
    order = await services.change_order(store_of(request), request.path_params["id"], data.status, data.rush)
    return json_response(order)


async def fire_course(request: Request) -> Response:
    principal = staff_of(request)
    key = idempotency_key_of(request)
    data = await parse_body(request, FireIn)
    stored_key = None if key is None else idempotency.stored(idempotency.staff_scope(principal), key)
    order = await services.fire_course(store_of(request), request.path_params["id"], data.course, stored_key)
    return json_response(order)


async def kitchen_settings(request: Request) -> Response:
    return JSONResponse(await services.get_kitchen_settings(store_of(request)))


async def change_kitchen_settings(request: Request) -> Response:
    data = await parse_body(request, KitchenSettingsIn)
    return JSONResponse(await services.set_kitchen_settings(store_of(request), data.auto_fire))


async def acknowledge_allergies(request: Request) -> Response:
    principal = require(request, "orders.move")
    order = await services.acknowledge_allergies(store_of(request), request.path_params["id"], principal.name)
    return json_response(order)


async def add_lines(request: Request) -> Response:
    """Lines added to a sent order; a repeated Idempotency-Key with the same lines replays."""
    principal = staff_of(request)
    key = idempotency_key_of(request)
    data = await parse_body(request, LinesIn)
    stored_key = None if key is None else idempotency.stored(idempotency.staff_scope(principal), key)
    order, replayed = await services.add_lines(store_of(request), request.path_params["id"], data, stored_key)
    return json_response(order, 200, {"Idempotent-Replayed": "true"} if replayed else None)


async def void_line(request: Request) -> Response:
    principal = staff_of(request)
    data = await parse_body(request, VoidIn)
    order_id, line_id = request.path_params["id"], request.path_params["line_id"]
    return json_response(await services.void_line(store_of(request), order_id, line_id, data.reason, principal.name))


async def kitchen_orders(request: Request) -> Response:
    return JSONResponse(await services.kitchen_orders(store_of(request)))


_STATUS_PARAM = {
    "name": "status",
    "in": "query",
    "required": False,
    "description": "only orders with this status (422 for an unknown one)",
    "schema": {"type": "string", "enum": list(ORDER_STATUSES)},
}
IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        f"{idempotency.FORMAT_TEXT}, e.g. a UUID made when the ticket was started. "
        "The same key with the same order returns the original order (201, same id, `Idempotent-Replayed: "
        "true`) and creates nothing, even when both requests arrive at once; the same key with a different "
        f"order is 422 (`reason: {idempotency.KeyReused.reason}`). A malformed key is 400. "
        f"Keys are kept for {idempotency.KEPT_HOURS} hours."
    ),
    "schema": {"type": "string", "pattern": idempotency.PATTERN},
}

routes = [
    ApiRoute(
        "GET",
        "/orders",
        list_orders,
        Operation(
            "List orders",
            "orders",
            access="staff",
            permission="orders.read",
            out=out.OrderOut,
            many=True,
            parameters=(_STATUS_PARAM, limit_param("orders")),
            description="Most recent first.",
            errors={422: "`status` or `limit` is not valid"},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders",
        create_order,
        Operation(
            "Place an order",
            "orders",
            access="optional",
            permission="orders.place",
            body=OrderIn,
            status=201,
            out=out.OrderOut,
            out_or=out.PublicOrderOut,
            parameters=(IDEMPOTENCY_PARAM,),
            headers={
                **location_header("order (for an anonymous order: its tracking page)"),
                "Idempotent-Replayed": {
                    "description": "`true` when this is the original order, returned again for a repeated "
                    "`Idempotency-Key`; absent when the order was created now",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            },
            description=(
                "The server prices every order from the menu; a price or total sent by a client is ignored. "
                "A line's unit price is its item's price plus its chosen options' (`modifiers`, an option "
                "counted each time it is chosen). Each line keeps the name and unit price it was charged at, "
                "and each chosen option's group, name and price. An option's stock deltas are taken with the "
                "item's recipe.\n\n"
                "A line whose item or options contain one of the order's `allergies` is flagged "
                "(`allergy_flags`); an order with flagged lines needs `allergies_confirmed: true`.\n\n"
                "**Public** for `channel: online` only, rate limited per client address "
                f"({Settings().public_orders_per_minute} a minute by default, "
                "`FORKFLOW_PUBLIC_ORDERS_PER_MINUTE`), at most "
                f"{Settings().public_max_per_item} portions of one dish and {Settings().public_max_per_order} "
                "in all (`FORKFLOW_PUBLIC_MAX_PER_ITEM`, `FORKFLOW_PUBLIC_MAX_PER_ORDER`), and "
                f"{Settings().public_portions_per_hour} portions per client address per hour "
                "(`FORKFLOW_PUBLIC_PORTIONS_PER_HOUR`, then 429). Its answer is a `PublicOrderOut`: no id or "
                "ticket number, the tracking link and pickup code instead. **Roles** for any channel: "
                + roles_text("orders.place")
                + " (permission `orders.place`); a signed-in kitchen account may not place orders.\n\n"
                "Send an `Idempotency-Key` so a retried or doubled submit returns the original order. Keys are "
                "the caller's own: a staff member's, or an anonymous caller's client address's. "
                "Emits `order.created`."
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is malformed.",
                401: "Not signed in and the channel is not `online`; or the bearer token is not valid.",
                403: "Signed in with a role that may not place orders; or a cookie-authenticated request "
                "without the CSRF token (`csrf_failed`).",
                409: "An item or an option is sold out: `unavailable` and `unavailable_options` list them, "
                "`fields` names the lines (`items.N.menu_item_id`, `items.N.modifiers.M`); or stock cannot "
                "cover the order's recipes: for staff, `out_of_stock` lists what ran out, and nothing is taken; "
                "the public is told which dishes and options, never how much stock is left; or lines contain "
                "the order's allergies and `allergies_confirmed` is not true "
                "(`reason: allergy_confirmation_needed`, `fields` names each line, `items.N`); or, for the "
                "public only, online ordering is paused (`reason: online_paused`, `resume_at`) or the order's "
                "pickup slot is full (`reason: slot_full`, `slot`, `fields.pickup_at`): see `GET /online`.",
                422: "The order is not valid, names an item that is not on the menu, names an option that is not "
                "one of its line's item's (`items.N.modifiers.M`), breaks a modifier group's `min` or `max` "
                "(`items.N.modifiers` names the group and the rule), or reuses an "
                f"`Idempotency-Key` with a different order (`reason: {idempotency.KeyReused.reason}`); "
                "or a public order holds more than its limits allow (`fields` names the lines), or asks for a "
                "`pickup_at` sooner than the busy delay allows (`GET /online`).",
                429: "Too many public orders from this address: try again after `Retry-After` seconds.",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/orders/{id:id}",
        get_order,
        Operation(
            "One order with its lines",
            "orders",
            access="staff",
            permission="orders.read",
            out=out.OrderSightedOut,
            description="With `sightings`: each send of the order to a station, and when a screen or printer "
            "of that station saw it (proof of sight).",
        ),
    ),
    ApiRoute(
        "PATCH",
        "/orders/{id:id}",
        change_order_status,
        Operation(
            "Move an order along, or mark it rush",
            "orders",
            access="staff",
            permission="orders.move",
            body=StatusIn,
            out=out.OrderOut,
            description=(
                "Send `status`, `rush` or both (applied in one write). `rush: true` puts the order first on the "
                "kitchen display, with a RUSH badge; only an active order (`new`, `preparing`, `ready`) "
                "changes its flag, and a flag already as sent changes nothing. "
                "An order with held courses (`held_courses`) cannot become `ready` until they are fired "
                "and cooked. An order with `allergies` starts (`new → preparing`) only once they are acknowledged "
                "(`POST /orders/{id}/allergies/acknowledge`). "
                "Statuses move `new → preparing → ready → completed`, `ready → preparing` (recall), and "
                "`new`/`preparing → cancelled`. Cancelling also needs one of: " + roles_text("orders.cancel") + " "
                "(permission `orders.cancel`). Emits `order.updated`."
            ),
            errors={
                409: "The order cannot move to this status from its current one (`allowed` lists the moves); "
                "or it has allergies the kitchen has not acknowledged and cannot start `preparing` "
                "(`reason: allergies_not_acknowledged`); or it has held courses and cannot become `ready` "
                "(`reason: courses_held`, `held_courses`); or `rush` was sent for an order no longer active."
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/allergies/acknowledge",
        acknowledge_allergies,
        Operation(
            "Acknowledge an order's allergies",
            "orders",
            access="staff",
            permission="orders.move",
            out=out.OrderOut,
            description=(
                "The kitchen has seen the customer's allergies: records who and when "
                "(`allergies_acknowledged_by`, `allergies_acknowledged_at`); until then the order cannot move "
                "from `new` to `preparing`. A second acknowledgement changes nothing and keeps the first. "
                "Emits `order.updated`."
            ),
            errors={409: "The order has no allergies to acknowledge."},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/lines",
        add_lines,
        Operation(
            "Add lines to a sent order",
            "orders",
            access="staff",
            permission="orders.place",
            body=LinesIn,
            out=out.OrderOut,
            parameters=(
                {
                    **IDEMPOTENCY_PARAM,
                    "description": (
                        f"{idempotency.FORMAT_TEXT}. The same key with the same lines for the same order returns "
                        "the order (200, `Idempotent-Replayed: true`) and adds nothing, even when both requests "
                        "arrive at once; the same key with other lines, another order, or an order placed with "
                        f"it is 422 (`reason: {idempotency.KeyReused.reason}`). A malformed key is 400. Keys are "
                        f"kept for {idempotency.KEPT_HOURS} hours."
                    ),
                },
            ),
            headers={
                "Idempotent-Replayed": {
                    "description": "`true` when the lines were added by an earlier request with this "
                    "`Idempotency-Key`; absent when they were added now",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            },
            description=(
                "A table adds a dessert: the lines are checked, priced, allergy-checked and taken from stock "
                "exactly as `POST /orders` does it, on an order that is `new` or `preparing`. The order's "
                "`revision` grows by one and the new lines carry it (the kitchen display marks them ADD); "
                "`total_cents` is the lines' not voided. The order's own `allergies` apply: lines containing "
                "one need `allergies_confirmed: true`. Roles: " + roles_text("orders.place") + " (permission "
                "`orders.place`). Emits `order.updated`."
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is malformed.",
                409: "The order is ready, completed or cancelled (`reason: order_not_open`); an item or option "
                "is sold out or stock cannot cover the lines (as `POST /orders`); or lines contain the order's "
                "allergies and `allergies_confirmed` is not true (`reason: allergy_confirmation_needed`).",
                422: "The lines are not valid, name an item not on the menu or an option not its item's, break "
                "a group's `min` or `max`, or reuse an `Idempotency-Key` with other lines "
                f"(`reason: {idempotency.KeyReused.reason}`).",
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/lines/{line_id:id}/void",
        void_line,
        Operation(
            "Void a line of a sent order",
            "orders",
            access="staff",
            permission="orders.void",
            body=VoidIn,
            out=out.OrderOut,
            description=(
                "Sent back, or ordered by mistake: the line stays on the order with `voided_at`, `void_reason` "
                "and `voided_by`, struck through and marked VOID on the kitchen display; it is no longer "
                "cooked, counted in all-day or charged (`total_cents` is the lines' not voided). On a `new` "
                "order its stock (its recipe and its options' deltas) goes back, as a `cancel` movement noted "
                '"line voided"; on a started one it does not: the food may be made, and it is waste. '
                "The order's `revision` grows by one. Roles: " + roles_text("orders.void") + " (permission "
                "`orders.void`). Emits `order.updated`."
            ),
            errors={
                404: "No such order, or the order has no such line.",
                409: "The line is already voided (`reason: already_voided`); the order is ready, completed or "
                "cancelled (`reason: order_not_open`); or it is the order's last line not voided: cancel the "
                "order instead (`reason: last_line`).",
                422: "`reason` is missing, blank, longer than 200 characters or holds control characters.",
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/fire",
        fire_course,
        Operation(
            "Fire a held course",
            "orders",
            access="staff",
            permission="orders.move",
            body=FireIn,
            out=out.OrderOut,
            parameters=(
                {
                    **IDEMPOTENCY_PARAM,
                    "description": f"{idempotency.FORMAT_TEXT}. The same key again for the same course of the "
                    "same order answers the order (200) and writes nothing; the same key with another course or "
                    f"order is 422 (`reason: {idempotency.KeyReused.reason}`). A malformed key is 400.",
                },
            ),
            description=(
                "When a table order is sent, course 0 (as soon as possible: drinks) and its lowest course above 0 "
                "go to the kitchen; later courses are held (`held_courses`; each line's `fired_at` is null). "
                "Counter and online orders are fired whole when sent. This "
                "sends `course` to the kitchen now: its lines appear on their stations and in the all-day counts. "
                "With the kitchen's `auto_fire` setting (`PUT /kitchen/settings`) the next course is also fired "
                "when the last line of the one before it is bumped. Emits `order.updated`."
            ),
            errors={
                409: "The course was already fired (`reason: already_fired`), the order has no such course "
                "(`reason: no_such_course`; `held_courses` lists what can be fired), or the order is no longer "
                "active.",
                422: "`course` is not a whole number from 0 to 9, or the `Idempotency-Key` was used for "
                f"something else (`reason: {idempotency.KeyReused.reason}`).",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/kitchen/settings",
        kitchen_settings,
        Operation(
            "How the kitchen paces courses",
            "kitchen",
            access="staff",
            permission="orders.read",
            out=out.KitchenSettingsOut,
        ),
    ),
    ApiRoute(
        "PUT",
        "/kitchen/settings",
        change_kitchen_settings,
        Operation(
            "Set how the kitchen paces courses",
            "kitchen",
            access="staff",
            permission="kitchen.settings",
            body=KitchenSettingsIn,
            out=out.KitchenSettingsOut,
            description="`auto_fire: true`: bumping the last line of course N fires the next course present, if "
            "it is held, in the same write. Applies from the next bump.",
        ),
    ),
    ApiRoute(
        "GET",
        "/kitchen/orders",
        kitchen_orders,
        Operation(
            "The kitchen's queue",
            "kitchen",
            access="staff",
            permission="orders.read",
            out=out.OrderOut,
            many=True,
            description="The active orders (not completed or cancelled), oldest first.",
        ),
    ),
]
