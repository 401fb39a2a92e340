"""The OpenAPI 3.1 document of the JSON API, built from the routes it is given.

Every JSON route is an `ApiRoute` (forkflow/operation.py) declared next to its handler with its
`Operation`: who may call it (the permission the route itself enforces), its summary, body, answers
and errors. This module reads those declarations: paths, methods and path parameters from the
routes, request bodies from the input models (`forkflow.models`), responses from the output
models (`forkflow.schemas_out`), and the usual errors from what each operation is. Routes that are
not `ApiRoute`s (the pages, the HTML streams, /metrics) are not in it. It imports no route module:
`GET /openapi.json` (routes/docs.py) hands it the app's own routes and keeps the encoded answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from pydantic import BaseModel
from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.routing import BaseRoute

from . import schemas_out as out
from .auth.middleware import SESSION_COOKIE
from .config import Settings
from .convertors import IdConvertor, ScreenConvertor
from .numbers import MAX_ID
from .operation import ApiRoute, Operation, roles_text, roles_with
from .vocabulary import ROLES

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"

_BEARER: dict[str, list[str]] = {"bearerAuth": []}
_COOKIE: dict[str, list[str]] = {"cookieAuth": []}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "optional": [{}, _BEARER, _COOKIE],
    "staff": [_BEARER, _COOKIE],
    "token": [_BEARER],
}

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

_API_DESCRIPTION = f"""\
ForkFlow's JSON API: the menu, orders, the kitchen's queue, inventory, staff accounts and tokens,
and the live event stream.

- Bodies are JSON (`content-type: application/json`), at most {Settings().max_body_bytes // 1024} KiB. Lists
  are JSON arrays. Money is integer cents; times are UTC, ISO 8601 with `Z`.
- Every error is `{{"error": {{"code", "message", "fields"?}}}}` (`ErrorOut`). A request that fails
  changes nothing and emits no event.
- **Signing in.** Machine clients get a bearer token from `POST /auth/token` and send
  `Authorization: Bearer TOKEN` (`bearerAuth`). Browsers signed in at `/login` carry the
  `{SESSION_COOKIE}` cookie (`cookieAuth`); a state-changing request on that cookie must also send the
  session's CSRF token as `X-CSRF-Token`, else 403 `csrf_failed`. An `Authorization` header that is
  not a valid bearer token is refused with 401 on every route, public ones included.
- **Roles.** kitchen, cashier, manager; each operation's description says which roles may call it.
"""


def openapi_path(path: str) -> str:
    """Starlette's `/menu/{id:id}` as OpenAPI's `/menu/{id}`."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}", r"{\1}", path)


def _path_parameters(route: ApiRoute) -> list[dict[str, Any]]:
    params = []
    for name, convertor in route.param_convertors.items():
        if isinstance(convertor, IdConvertor):
            schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif isinstance(convertor, IntegerConvertor):
            schema = {"type": "integer", "minimum": 0}
        elif isinstance(convertor, FloatConvertor):
            schema = {"type": "number"}
        elif isinstance(convertor, ScreenConvertor):
            schema = {"type": "string", "pattern": f"^{convertor.regex}$"}
        else:
            schema = {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="ErrorOut")}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(method: str, op: Operation, has_path_params: bool) -> dict[str, str]:
    """The usual errors of an operation, by what it is; `op.errors` adds to and overrides them."""
    errors: dict[int, str] = {}
    unsafe = method not in _SAFE
    if op.body is not None:
        errors[400] = "The body is not valid JSON."
    if op.access == "staff" and op.permission is not None:
        errors[401] = "Not signed in, or the bearer token is not valid or was revoked."
        errors[403] = f"The role may not do this (needs one of: {roles_text(op.permission)})."
        if unsafe:
            errors[403] += " Or a cookie-authenticated request without the CSRF token (`csrf_failed`)."
    elif op.access == "token":
        errors[401] = "The bearer token is not valid, or was already revoked."
    else:
        errors[401] = "An `Authorization` header was sent, but its bearer token is not valid or was revoked."
        if unsafe:
            errors[403] = "A cookie-authenticated request without the CSRF token (`csrf_failed`)."
    if has_path_params:
        errors[404] = "There is nothing with this id."
    if op.body is not None:
        errors[413] = f"The body is over the limit of {Settings().max_body_bytes} bytes."
        errors[415] = "The body is not `application/json`."
        errors[422] = "The body is not valid: `fields` says what is wrong, by path."
    if op.uses_store:
        errors[503] = "The database cannot be reached, or the server is shutting down."
    errors.update(op.errors)
    return {str(status): errors[status] for status in sorted(errors)}


def _json_schema(model: type[BaseModel], many: bool) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"type": "array", "items": ref} if many else ref


_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No content"}


def _access_text(op: Operation) -> str:
    if op.access != "staff" or op.permission is None:
        return ""
    return f"**Roles:** {roles_text(op.permission)} (permission `{op.permission}`)."


def _operation(route: ApiRoute, method: str, op: Operation) -> dict[str, Any]:
    path_params = _path_parameters(route)
    operation: dict[str, Any] = {
        "operationId": route.endpoint.__name__,
        "summary": op.summary,
        "description": " ".join(part for part in (op.description, _access_text(op)) if part),
        "tags": [op.tag],
        "security": SECURITY[op.access],
    }
    # Machine-readable access: the permission (auth/roles.py) and the roles that have it.
    if op.permission is not None:
        operation["x-permission"] = op.permission
        operation["x-roles"] = roles_with(op.permission)
    elif op.access == "token":
        operation["x-roles"] = list(ROLES)
    operation["x-public"] = op.access in ("none", "optional")
    parameters = [*path_params, *op.parameters]
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _json_schema(op.body, many=False)}},
        }

    success: dict[str, Any] = {"description": _STATUS_TEXT.get(op.status, "OK")}
    if op.out is not None:
        schema = _json_schema(op.out, op.many)
        if op.out_or is not None:
            schema = {"anyOf": [schema, _json_schema(op.out_or, op.many)]}
        success["content"] = {"application/json": {"schema": schema}}
    elif op.content is not None:
        success["content"] = op.content
    if op.headers:
        success["headers"] = op.headers
    responses: dict[str, Any] = {str(op.status): success}
    for status, description in _errors(method, op, bool(path_params)).items():
        response = _error(description)
        if status == "429":
            response["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
            }
        elif status == "401":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "`Bearer`, when the Authorization header was refused",
                    "schema": {"type": "string"},
                }
            }
        if status == "503" and op.out is out.HealthOut:
            response["content"] = {"application/json": {"schema": _json_schema(out.HealthOut, many=False)}}
        responses[status] = response
    operation["responses"] = responses
    operation.update(op.extensions)
    return operation


def _component_schemas(model_types: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """Every model's schema, and every model nested in one ($defs), under its own name."""
    schemas: dict[str, Any] = {}

    def put(name: str, schema: dict[str, Any]) -> None:
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are both called {name!r}")
        schemas[name] = schema

    for model in model_types:
        schema = model.model_json_schema(ref_template=REF)
        for name, nested in schema.pop("$defs", {}).items():
            put(name, nested)
        put(model.__name__, schema)
    return dict(sorted(schemas.items()))


def openapi_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the `ApiRoute`s among `routes`."""
    paths: dict[str, dict[str, Any]] = {}
    used_models: list[type[BaseModel]] = []
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        op = route.operation
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(openapi_path(route.path), {})[method.lower()] = _operation(route, method, op)
        used_models += [model for model in (op.body, op.out, op.out_or) if model is not None]

    all_models = dict.fromkeys([*used_models, *out.RESPONSE_MODELS])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "ForkFlow",
            "version": _version(),
            "summary": "Live orders for restaurants: menu, orders, kitchen, inventory, staff, and an event stream.",
            "description": _API_DESCRIPTION,
        },
        "tags": [
            {"name": "menu", "description": "The menu; reading it is public"},
            {"name": "orders", "description": "Placing and moving orders"},
            {"name": "kitchen", "description": "The kitchen's queue"},
            {"name": "printers", "description": "Kitchen and receipt printers, and what they print"},
            {"name": "inventory", "description": "Stock, managers only"},
            {"name": "settings", "description": "The restaurant's settings: opening hours, tax rates, money settings"},
            {"name": "online", "description": "Online ordering's pace: pause, busy delay, pickup slot capacity"},
            {"name": "events", "description": "Every committed change, live, as Server-Sent Events"},
            {"name": "tracking", "description": "A customer's view of their own order"},
            {"name": "auth", "description": "Bearer tokens for machine clients"},
            {"name": "staff", "description": "Staff accounts, managers only"},
            {"name": "health", "description": "Is the server well"},
            {"name": "docs", "description": "This document"},
        ],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(all_models),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `POST /auth/token`: `Authorization: Bearer ff_...`.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": (
                        "The session cookie set by signing in at `/login`. State-changing requests on it must "
                        "also send the session's CSRF token in `X-CSRF-Token`, else 403 `csrf_failed`."
                    ),
                },
            },
        },
    }


def openapi_json(routes: Iterable[BaseRoute]) -> bytes:
    """The document as JSON bytes, as `GET /openapi.json` sends it."""
    return json.dumps(openapi_document(routes), ensure_ascii=False, separators=(",", ":")).encode()


def _version() -> str:
    try:
        return package_version("forkflow")
    except PackageNotFoundError:
        return "0.0.0"
