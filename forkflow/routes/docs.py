"""The API's own description: `/openapi.json`, and `/docs`, a readable rendering of it.

`/docs` is Swagger UI, served from `static/vendor/swagger-ui/` (no CDN) and started by
`static/docs.js` (no inline script: the Content-Security-Policy forbids it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..openapi import openapi_json as openapi_document_json
from ..operation import ApiRoute, Operation
from ..web import templates


async def openapi_json(request: Request) -> Response:
    """The document of this app's own routes, encoded on the first request and kept on the app."""
    state = request.app.state
    document: bytes | None = getattr(state, "openapi_json", None)
    if document is None:
        document = state.openapi_json = openapi_document_json(request.app.routes)
    return Response(document, media_type="application/json")


async def docs_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "docs.html", {})


routes = [
    ApiRoute(
        "GET",
        "/openapi.json",
        openapi_json,
        Operation(
            "This OpenAPI document",
            "docs",
            access="none",
            uses_store=False,
            description="**Public.** A readable rendering is at `/docs`.",
            content={"application/json": {"schema": {"type": "object"}}},
        ),
    ),
    Route("/docs", docs_page, methods=["GET"]),
]
