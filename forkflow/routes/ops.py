"""`GET /metrics`: Prometheus text format, for managers (or everyone, when configured so)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.roles import MANAGER, principal_of
from ..errors import Forbidden, Unauthorized
from ..metrics import Metrics
from .http import store_of


async def metrics(request: Request) -> Response:
    """Figures about traffic and load only, but they still say how busy the restaurant is: by
    default only managers (signed in, or with a manager's bearer token for the scraper) may read
    them; FORKFLOW_METRICS_PUBLIC=1 opens them to anyone who can reach the port."""
    if not store_of(request).settings.metrics_public:
        principal = principal_of(request)
        if principal is None:
            raise Unauthorized("send a manager's bearer token to read the metrics")
        if principal.role not in MANAGER:
            raise Forbidden(f"a {principal.role} may not read the metrics")
    registry: Metrics = request.app.state.metrics
    return Response(await registry.exposition(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
