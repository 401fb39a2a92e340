"""The JSON API's menu: list and read dishes (public), add, replace, switch off and set recipes (staff);
an option's 86 and the order of the categories."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import schemas_out as out
from ... import services
from ...models import AvailabilityIn, CategoryOrderIn, MenuItemIn, MenuItemUpdate, RecipeIn
from ...operation import ApiRoute, Operation, location_header
from ...request import store_of
from ..http import parse_body


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


async def set_option_availability(request: Request) -> Response:
    data = await parse_body(request, AvailabilityIn)
    item_id, option_id = request.path_params["id"], request.path_params["option_id"]
    return JSONResponse(await services.set_option_availability(store_of(request), item_id, option_id, data.available))


async def list_categories(request: Request) -> Response:
    return JSONResponse(await services.list_categories(store_of(request)))


async def order_categories(request: Request) -> Response:
    data = await parse_body(request, CategoryOrderIn)
    return JSONResponse(await services.order_categories(store_of(request), data))


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
        "PUT",
        "/menu/{id:id}/options/{option_id:id}/availability",
        set_option_availability,
        Operation(
            "Mark a modifier option available or sold out (86)",
            "menu",
            access="staff",
            permission="menu.write",
            body=AvailabilityIn,
            out=out.MenuItemOut,
            description='`{"available": false}` switches the option off everywhere, and it stays off through '
            'restocks; `{"available": true}` switches it on, and it is available once stock covers its recipe. '
            "An item whose required group (`min` 1 or more) is left with no available option is unavailable "
            "until one comes back. Emits `menu.availability` with the whole item.",
            errors={404: "No such menu item, or the option is not one of its options."},
        ),
    ),
    ApiRoute(
        "GET",
        "/menu/categories",
        list_categories,
        Operation(
            "The menu's categories, in order",
            "menu",
            access="none",
            out=out.MenuCategoriesOut,
            description="In the order every screen shows them (`GET /menu` lists items in it). **Public.**",
        ),
    ),
    ApiRoute(
        "PUT",
        "/menu/categories",
        order_categories,
        Operation(
            "Set the order of the menu's categories",
            "menu",
            access="staff",
            permission="menu.write",
            body=CategoryOrderIn,
            out=out.MenuCategoriesOut,
            description='`{"order": ["Starters", "Mains"]}` puts these categories first, in this order; the others '
            "keep their order, after them. A new category goes last. Emits `menu.categories` when the order changes.",
            errors={422: "A name is not a category of the menu (`order.N`)."},
        ),
    ),
]
