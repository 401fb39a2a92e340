"""The JSON API's stock: list, add, read, set or adjust stock items, and each item's movements."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import schemas_out as out
from ... import services
from ...models import InventoryIn, InventoryPatch
from ...operation import ApiRoute, Operation, location_header, staff_of
from ...request import store_of
from ..http import parse_body
from .limit import limit_of, limit_param


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
    limit = limit_of(request)
    return JSONResponse(await services.list_movements(store_of(request), request.path_params["id"], limit))


routes = [
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
            parameters=(limit_param("movements"),),
            description="Newest first. Every change of the quantity is one movement (order, cancel, restock, "
            "count, waste), so the quantity is always the sum of its movements' deltas.",
            errors={422: "`limit` is not valid"},
        ),
    ),
]
