"""The menu's own order and its options' 86: `PUT /menu/{id}/options/{option_id}/availability`,
`GET`/`PUT /menu/categories`. The rest of the menu API is in routes/api.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import schemas_out as out
from .. import services
from ..models import AvailabilityIn, CategoryOrderIn
from ..operation import ApiRoute, Operation
from ..request import store_of
from .http import parse_body


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
