"""A customer's view of their own order, keyed by the unguessable token in their tracking link."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import services
from ..services.representation import tracked_order_out
from ..web import templates
from .http import store_of


async def track_json(request: Request) -> Response:
    order = await services.get_tracked_order(store_of(request), request.path_params["token"])
    return JSONResponse(tracked_order_out(order))


async def track_page(request: Request) -> Response:
    order = await services.get_tracked_order(store_of(request), request.path_params["token"])
    return templates.TemplateResponse(request, "track.html", {"order": tracked_order_out(order)})


routes = [
    Route("/track/{token}.json", track_json, methods=["GET"]),
    Route("/track/{token}", track_page, methods=["GET"]),
]
