"""All routes of the application, one module per surface."""

from . import api, stream

routes = [*api.routes, *stream.routes]
