"""The JSON API: thin views over the service functions, each route declared with its operation
(who may call it, what it takes and answers) at the bottom."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import idempotency, public_orders, services
from .. import schemas_out as out
from ..auth.roles import principal_of, require
from ..config import Settings
from ..errors import BadRequest, Invalid, Unauthorized
from ..models import (
    AvailabilityIn,
    InventoryIn,
    InventoryPatch,
    MenuItemIn,
    MenuItemUpdate,
    OrderIn,
    RecipeIn,
    StatusIn,
)
from ..numbers import whole_number
from ..operation import ApiRoute, Operation, location_header, roles_text, staff_of
from ..request import client_address, store_of
from ..services.representation import public_order_out
from ..vocabulary import ORDER_STATUSES
from .http import check_public_rate, json_response, parse_body

# Menu


async def list_menu(request: Request) -> Response:
    return JSONResponse(await services.list_menu(store_of(request)))


async def create_menu_item(request: Request) -> Response:
    data = await parse_body(request, MenuItemIn)
    item = await services.create_menu_item(store_of(request), data)
    return JSONResponse(item, status_code=201, headers={"Location": f"/menu/{item['id']}"})


async def get_menu_item(request: Request) -> Response:
    return JSONResponse(await services.get_menu_item(store_of(request), request.path_params["id"]))


async def update_menu_item(request: Request) -> Response:
    data = await parse_body(request, MenuItemUpdate)
    return JSONResponse(await services.update_menu_item(store_of(request), request.path_params["id"], data))


async def set_availability(request: Request) -> Response:
    data = await parse_body(request, AvailabilityIn)
    item = await services.set_availability(store_of(request), request.path_params["id"], data.available)
    return JSONResponse(item)


async def get_recipe(request: Request) -> Response:
    return JSONResponse(await services.get_recipe(store_of(request), request.path_params["id"]))


async def set_recipe(request: Request) -> Response:
    data = await parse_body(request, RecipeIn)
    return JSONResponse(await services.set_recipe(store_of(request), request.path_params["id"], data))


# Orders


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not idempotency.is_valid(key):
        raise BadRequest(
            f"Idempotency-Key must be {idempotency.FORMAT_TEXT}",
            {"Idempotency-Key": "malformed"},
        )
    return key


LIMIT_DEFAULT, LIMIT_MOST = 100, 1000  # how many rows a list answers, unless `?limit=` says


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return LIMIT_DEFAULT
    limit = whole_number(raw, 1, LIMIT_MOST)
    if limit is None:
        raise Invalid(f"limit must be a whole number from 1 to {LIMIT_MOST}", {"limit": "out of range"})
    return limit


def _limit_param(what: str) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"at most this many {what} (422 outside 1 to {LIMIT_MOST})",
        "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MOST, "default": LIMIT_DEFAULT},
    }


async def list_orders(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and status not in ORDER_STATUSES:
        raise Invalid(f"unknown status {status!r}", {"status": f"one of {', '.join(ORDER_STATUSES)}"})
    return JSONResponse(await services.list_orders(store_of(request), status, _limit(request)))


async def create_order(request: Request) -> Response:
    """Staff with the right may place any channel; the public only online orders, within the public
    limits, and its answer carries no sequential id (the tracking link and pickup code instead)."""
    principal = principal_of(request)  # (a signed-in caller has the declared permission)
    if principal is None:
        check_public_rate(request)
    key = _idempotency_key(request)
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
    return JSONResponse(await services.get_order(store_of(request), request.path_params["id"]))


async def change_order_status(request: Request) -> Response:
    data = await parse_body(request, StatusIn)
    if data.status == "cancelled":  # a finer check than the route's: its description says so
        require(request, "orders.cancel")
    return json_response(await services.change_status(store_of(request), request.path_params["id"], data.status))


async def kitchen_orders(request: Request) -> Response:
    return JSONResponse(await services.kitchen_orders(store_of(request)))


# Inventory


async def list_inventory(request: Request) -> Response:
    return JSONResponse(await services.list_inventory(store_of(request)))


async def create_inventory_item(request: Request) -> Response:
    data = await parse_body(request, InventoryIn)
    staff_id = staff_of(request).staff_id
    item = await services.create_inventory_item(store_of(request), data, staff_id)
    return JSONResponse(item, status_code=201, headers={"Location": f"/inventory/{item['id']}"})


async def get_inventory_item(request: Request) -> Response:
    return JSONResponse(await services.get_inventory_item(store_of(request), request.path_params["id"]))


async def change_inventory_item(request: Request) -> Response:
    staff_id = staff_of(request).staff_id
    data = await parse_body(request, InventoryPatch)
    item = await services.change_inventory_item(store_of(request), request.path_params["id"], data, staff_id)
    return JSONResponse(item)


async def list_movements(request: Request) -> Response:
    limit = _limit(request)
    return JSONResponse(await services.list_movements(store_of(request), request.path_params["id"], limit))


_STATUS_PARAM = {
    "name": "status",
    "in": "query",
    "required": False,
    "description": "only orders with this status (422 for an unknown one)",
    "schema": {"type": "string", "enum": list(ORDER_STATUSES)},
}
_IDEMPOTENCY_PARAM = {
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
        "/menu",
        list_menu,
        Operation(
            "List the menu",
            "menu",
            access="none",
            out=out.MenuItemOut,
            many=True,
            description="Every item, sold out ones included, by category. **Public.**",
        ),
    ),
    ApiRoute(
        "POST",
        "/menu",
        create_menu_item,
        Operation(
            "Add a menu item",
            "menu",
            access="staff",
            permission="menu.write",
            body=MenuItemIn,
            status=201,
            out=out.MenuItemOut,
            headers=location_header("menu item"),
            description="Emits `menu.created`.",
        ),
    ),
    ApiRoute(
        "GET",
        "/menu/{id:id}",
        get_menu_item,
        Operation(
            "One menu item",
            "menu",
            access="none",
            out=out.MenuItemOut,
            description="**Public.**",
        ),
    ),
    ApiRoute(
        "PUT",
        "/menu/{id:id}",
        update_menu_item,
        Operation(
            "Replace a menu item",
            "menu",
            access="staff",
            permission="menu.write",
            body=MenuItemUpdate,
            out=out.MenuItemOut,
            description="Replaces the item's fields; `available` left out keeps its value. Emits `menu.updated`.",
        ),
    ),
    ApiRoute(
        "PUT",
        "/menu/{id:id}/availability",
        set_availability,
        Operation(
            "Mark a menu item available or sold out (86)",
            "menu",
            access="staff",
            permission="menu.write",
            body=AvailabilityIn,
            out=out.MenuItemOut,
            description='`{"available": false}` switches it off everywhere, and it stays off through restocks; '
            '`{"available": true}` switches it on, and it is available once stock covers a portion of its recipe. '
            "Emits `menu.availability`.",
        ),
    ),
    ApiRoute(
        "GET",
        "/menu/{id:id}/recipe",
        get_recipe,
        Operation(
            "What one portion takes from stock",
            "menu",
            access="staff",
            permission="menu.write",
            out=out.RecipeOut,
        ),
    ),
    ApiRoute(
        "PUT",
        "/menu/{id:id}/recipe",
        set_recipe,
        Operation(
            "Replace a menu item's recipe",
            "menu",
            access="staff",
            permission="menu.write",
            body=RecipeIn,
            out=out.RecipeOut,
            description=(
                '`{"ingredients": [{"inventory_id": 3, "quantity": 0.03}]}`: each portion of the item takes '
                "these amounts off stock when an order is placed, in the same transaction. An item whose stock "
                "cannot cover one portion is unavailable (automatic 86) until restocked. Emits `inventory.recipe` "
                "(managers only, like stock), "
                "and `menu.availability` when the new recipe sells the item out or brings it back."
            ),
            errors={422: "An ingredient names no stock item, is named twice, or has no positive quantity."},
        ),
    ),
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
            parameters=(_STATUS_PARAM, _limit_param("orders")),
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
            parameters=(_IDEMPOTENCY_PARAM,),
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
                "Each line keeps the name and unit price it was charged at.\n\n"
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
                409: "An item is sold out: `unavailable` lists them, `fields` names the lines; or stock cannot "
                "cover the order's recipes: for staff, `out_of_stock` lists what ran out, and nothing is taken; "
                "the public is told which dishes (`unavailable`), never how much stock is left.",
                422: "The order is not valid, names an item that is not on the menu, or reuses an "
                f"`Idempotency-Key` with a different order (`reason: {idempotency.KeyReused.reason}`); "
                "or a public order holds more than its limits allow (`fields` names the lines).",
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
            out=out.OrderOut,
        ),
    ),
    ApiRoute(
        "PATCH",
        "/orders/{id:id}",
        change_order_status,
        Operation(
            "Move an order along",
            "orders",
            access="staff",
            permission="orders.move",
            body=StatusIn,
            out=out.OrderOut,
            description=(
                "Statuses move `new → preparing → ready → completed`, `ready → preparing` (recall), and "
                "`new`/`preparing → cancelled`. Cancelling also needs one of: " + roles_text("orders.cancel") + " "
                "(permission `orders.cancel`). Emits `order.updated`."
            ),
            errors={409: "The order cannot move to this status from its current one; `allowed` lists the moves."},
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
    ApiRoute(
        "GET",
        "/inventory",
        list_inventory,
        Operation(
            "List stock",
            "inventory",
            access="staff",
            permission="inventory",
            out=out.InventoryItemOut,
            many=True,
        ),
    ),
    ApiRoute(
        "POST",
        "/inventory",
        create_inventory_item,
        Operation(
            "Add a stock item",
            "inventory",
            access="staff",
            permission="inventory",
            body=InventoryIn,
            status=201,
            out=out.InventoryItemOut,
            headers=location_header("stock item"),
            description="Names are unique. Emits `inventory.created`.",
            errors={409: "There is already a stock item with this name."},
        ),
    ),
    ApiRoute(
        "GET",
        "/inventory/{id:id}",
        get_inventory_item,
        Operation(
            "One stock item",
            "inventory",
            access="staff",
            permission="inventory",
            out=out.InventoryItemOut,
        ),
    ),
    ApiRoute(
        "PATCH",
        "/inventory/{id:id}",
        change_inventory_item,
        Operation(
            "Set or adjust stock",
            "inventory",
            access="staff",
            permission="inventory",
            body=InventoryPatch,
            out=out.InventoryItemOut,
            description=(
                '`{"quantity": 12.5}` sets the stock, `{"delta": -0.25}` adjusts it; `item_name` and `unit` '
                'may change too; `{"low_stock": 2}` sets the low-stock threshold (`null` removes it). '
                "Quantities are exact to three decimals. A quantity change is recorded as a movement: `reason` "
                "`count` (the default for `quantity`), `restock` (the default for a positive `delta`) or `waste` "
                "(a negative one), with an optional `note`. Menu items the new stock can or cannot make come on "
                "or sell out in the same transaction. Emits `inventory.updated`, `inventory.low` when stock falls to "
                "its low-stock level, and `menu.availability` for items it sells out or brings back."
            ),
            errors={409: "The delta would take stock below zero, or the new name is taken."},
        ),
    ),
    ApiRoute(
        "GET",
        "/inventory/{id:id}/movements",
        list_movements,
        Operation(
            "A stock item's movements",
            "inventory",
            access="staff",
            permission="inventory",
            out=out.StockMovementOut,
            many=True,
            parameters=(_limit_param("movements"),),
            description="Newest first. Every change of the quantity is one movement (order, cancel, restock, "
            "count, waste), so the quantity is always the sum of its movements' deltas.",
            errors={422: "`limit` is not valid"},
        ),
    ),
]
