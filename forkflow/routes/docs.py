"""The API's own description: `/openapi.json`, and `/docs`, a readable rendering of it.

`/docs` is Swagger UI, served from `static/vendor/swagger-ui/` (no CDN) and started by
`static/docs.js` (no inline script: the Content-Security-Policy forbids it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..openapi import openapi_json as openapi_bytes
from ..web import templates


async def openapi_json(request: Request) -> Response:
    return Response(openapi_bytes(), media_type="application/json")


async def docs_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "docs.html", {})


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
]
