"""The JSON API: thin views over the service functions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import idempotency, public_orders, services
from ..auth.roles import principal_of, require
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
from ..services.representation import public_order_out
from ..vocabulary import ORDER_STATUSES
from . import convertors  # noqa: F401  (registers the {id:id} path convertor)
from .http import check_public_rate, client_address, json_response, parse_body, store_of

# Menu


async def list_menu(request: Request) -> Response:
    return JSONResponse(await services.list_menu(store_of(request)))


async def create_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    data = await parse_body(request, MenuItemIn)
    item = await services.create_menu_item(store_of(request), data)
    return JSONResponse(item, status_code=201, headers={"Location": f"/menu/{item['id']}"})


async def get_menu_item(request: Request) -> Response:
    return JSONResponse(await services.get_menu_item(store_of(request), request.path_params["id"]))


async def update_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    data = await parse_body(request, MenuItemUpdate)
    return JSONResponse(await services.update_menu_item(store_of(request), request.path_params["id"], data))


async def set_availability(request: Request) -> Response:
    require(request, "menu.write")
    data = await parse_body(request, AvailabilityIn)
    item = await services.set_availability(store_of(request), request.path_params["id"], data.available)
    return JSONResponse(item)


async def get_recipe(request: Request) -> Response:
    require(request, "menu.write")
    return JSONResponse(await services.get_recipe(store_of(request), request.path_params["id"]))


async def set_recipe(request: Request) -> Response:
    require(request, "menu.write")
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


def _limit(request: Request, default: int = 100, most: int = 1000) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    limit = whole_number(raw, 1, most)
    if limit is None:
        raise Invalid(f"limit must be a whole number from 1 to {most}", {"limit": "out of range"})
    return limit


async def list_orders(request: Request) -> Response:
    require(request, "orders.read")
    status = request.query_params.get("status")
    if status is not None and status not in ORDER_STATUSES:
        raise Invalid(f"unknown status {status!r}", {"status": f"one of {', '.join(ORDER_STATUSES)}"})
    return JSONResponse(await services.list_orders(store_of(request), status, _limit(request)))


async def create_order(request: Request) -> Response:
    """Staff with the right may place any channel; the public only online orders, within the public
    limits, and its answer carries no sequential id (the tracking link and pickup code instead)."""
    principal = principal_of(request)
    if principal is None:
        check_public_rate(request)
    elif not principal.can("orders.place"):
        require(request, "orders.place")
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
    require(request, "orders.read")
    return JSONResponse(await services.get_order(store_of(request), request.path_params["id"]))


async def change_order_status(request: Request) -> Response:
    require(request, "orders.move")
    data = await parse_body(request, StatusIn)
    if data.status == "cancelled":
        require(request, "orders.cancel")
    return json_response(await services.change_status(store_of(request), request.path_params["id"], data.status))


async def kitchen_orders(request: Request) -> Response:
    require(request, "orders.read")
    return JSONResponse(await services.kitchen_orders(store_of(request)))


# Inventory


async def list_inventory(request: Request) -> Response:
    require(request, "inventory")
    return JSONResponse(await services.list_inventory(store_of(request)))


async def create_inventory_item(request: Request) -> Response:
    data = await parse_body(request, InventoryIn)
    staff_id = require(request, "inventory").staff_id
    item = await services.create_inventory_item(store_of(request), data, staff_id)
    return JSONResponse(item, status_code=201, headers={"Location": f"/inventory/{item['id']}"})


async def get_inventory_item(request: Request) -> Response:
    require(request, "inventory")
    return JSONResponse(await services.get_inventory_item(store_of(request), request.path_params["id"]))


async def change_inventory_item(request: Request) -> Response:
    staff_id = require(request, "inventory").staff_id
    data = await parse_body(request, InventoryPatch)
    item = await services.change_inventory_item(store_of(request), request.path_params["id"], data, staff_id)
    return JSONResponse(item)


async def list_movements(request: Request) -> Response:
    require(request, "inventory")
    limit = _limit(request, default=100, most=1000)
    return JSONResponse(await services.list_movements(store_of(request), request.path_params["id"], limit))


routes = [
    Route("/menu", list_menu, methods=["GET"]),
    Route("/menu", create_menu_item, methods=["POST"]),
    Route("/menu/{id:id}", get_menu_item, methods=["GET"]),
    Route("/menu/{id:id}", update_menu_item, methods=["PUT"]),
    Route("/menu/{id:id}/availability", set_availability, methods=["PUT"]),
    Route("/menu/{id:id}/recipe", get_recipe, methods=["GET"]),
    Route("/menu/{id:id}/recipe", set_recipe, methods=["PUT"]),
    Route("/orders", list_orders, methods=["GET"]),
    Route("/orders", create_order, methods=["POST"]),
    Route("/orders/{id:id}", get_order, methods=["GET"]),
    Route("/orders/{id:id}", change_order_status, methods=["PATCH"]),
    Route("/kitchen/orders", kitchen_orders, methods=["GET"]),
    Route("/inventory", list_inventory, methods=["GET"]),
    Route("/inventory", create_inventory_item, methods=["POST"]),
    Route("/inventory/{id:id}", get_inventory_item, methods=["GET"]),
    Route("/inventory/{id:id}", change_inventory_item, methods=["PATCH"]),
    Route("/inventory/{id:id}/movements", list_movements, methods=["GET"]),
]
