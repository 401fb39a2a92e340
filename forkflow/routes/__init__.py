"""All routes of the application: one package per screen (kitchen, pos, shop, track, manage),
one module per API surface (api, menu_options, staff_api, events, docs, ops) and the sign-in page (login)."""

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..web import STATIC_DIR
from . import api, docs, events, kitchen, login, manage, menu_options, ops, pos, shop, staff_api, track

routes = [
    *api.routes,
    *menu_options.routes,
    *events.routes,
    *staff_api.routes,
    *track.routes,
    *docs.routes,
    *kitchen.routes,
    *pos.routes,
    *manage.routes,
    *shop.routes,
    *login.routes,
    *ops.routes,
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]
