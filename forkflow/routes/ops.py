"""Operations: `GET /health` (up or down for anyone, the details for managers) and `GET /metrics`
(Prometheus text format, for managers, or everyone when configured so)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import schemas_out as out
from ..auth.roles import can, principal_of, require
from ..metrics import Metrics
from ..operation import ApiRoute, Operation
from ..request import store_of

PERMISSION = "ops"  # managers


async def health(request: Request) -> Response:
    """200 `{"status": "ok"}` when the database answers, else 503. The open streams, the last event
    id and the write queue's counts say how busy the restaurant is: managers only."""
    store = store_of(request)
    database_ok = await store.ping()
    body: dict[str, object] = {"status": "ok" if database_ok else "unavailable"}
    if can(principal_of(request), PERMISSION):
        body |= {
            "database": "ok" if database_ok else "unreachable",
            "bus": store.bus.state(),
            "writer": {"queued": store.writer.queued, "batches": store.writer.batches, "units": store.writer.units},
        }
    return JSONResponse(body, status_code=200 if database_ok else 503)


async def metrics(request: Request) -> Response:
    """Figures about traffic and load only, but they still say how busy the restaurant is: by
    default only managers (signed in, or with a manager's bearer token for the scraper) may read
    them; FORKFLOW_METRICS_PUBLIC=1 opens them to anyone who can reach the port."""
    if not store_of(request).settings.metrics_public:
        require(request, PERMISSION)  # 401 for nobody, 403 for another role
    registry: Metrics = request.app.state.metrics
    return Response(await registry.exposition(), media_type=CONTENT_TYPE_LATEST)


routes = [
    ApiRoute(
        "GET",
        "/health",
        health,
        Operation(
            "Health of the database, event bus and write queue",
            "health",
            access="none",
            out=out.HealthOut,
            description='**Public**: 200 `{"status": "ok"}` when the database answers, else 503. '
            "A manager (session or bearer token) also gets the database, event bus and write queue details.",
            errors={503: "The database cannot be reached (the body is a `HealthOut`)."},
        ),
    ),
    Route("/metrics", metrics, methods=["GET"]),  # not JSON: not in the API's document
]
