"""All routes of the application, one module per surface."""

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..web import STATIC_DIR
from . import api, docs, kitchen, manage, ops, pages, pos, shop, staff_api, stream, track

routes = [
    *api.routes,
    *stream.routes,
    *staff_api.routes,
    *track.routes,
    *docs.routes,
    *kitchen.routes,
    *pos.routes,
    *manage.routes,
    *shop.routes,
    *pages.routes,
    *ops.routes,
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]
