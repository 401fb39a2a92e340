"""The OpenAPI 3.1 document of the JSON API, built from the routes and the pydantic models.

Paths, methods and path parameters come from the route table itself (routes/api.py,
routes/staff_api.py, routes/events.py, the JSON route of routes/track/ and /openapi.json);
request bodies from the input models (`forkflow.models`), responses from the output models
(`forkflow.schemas_out`). What the route table cannot tell (who may call it, which errors it
gives, its query parameters) is in `_op_table()`, one entry per endpoint: a JSON route without
an entry there makes `openapi_document()` fail, so a new route cannot go undocumented.

The document is built once per process and cached.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Literal

from pydantic import BaseModel
from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.routing import BaseRoute, Route

from . import idempotency, models
from . import schemas_out as out
from .auth.middleware import SESSION_COOKIE
from .auth.roles import PERMISSIONS
from .config import Settings
from .events import TOPICS
from .numbers import MAX_ID
from .vocabulary import ORDER_STATUSES, ROLES

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"

# Who may call an operation:
#   "none"      authentication plays no part (but a malformed or revoked bearer token is still 401)
#   "optional"  anyone; signing in unlocks more (POST /orders, GET /events)
#   "staff"     a signed-in staff member whose role has the operation's permission
#   "token"     a bearer token, and only that (DELETE /auth/token)
Access = Literal["none", "optional", "staff", "token"]

_BEARER: dict[str, list[str]] = {"bearerAuth": []}
_COOKIE: dict[str, list[str]] = {"cookieAuth": []}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "optional": [{}, _BEARER, _COOKIE],
    "staff": [_BEARER, _COOKIE],
    "token": [_BEARER],
}

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Op:
    """What the route table does not say about one endpoint."""

    summary: str
    tag: str
    access: Access
    permission: str | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    out: type[BaseModel] | None = None  # None: no body (204), or see `content`
    out_or: type[BaseModel] | None = None  # another shape the success body may have (anyOf)
    many: bool = False
    description: str = ""
    errors: dict[int, str] = field(default_factory=dict)  # op-specific errors, or overrides of the usual ones
    parameters: tuple[dict[str, Any], ...] = ()
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)  # response headers on success
    content: dict[str, Any] | None = None  # a non-JSON success body
    extensions: dict[str, Any] = field(default_factory=dict)
    uses_store: bool = True


def _roles(permission: str) -> str:
    return ", ".join(role for role in ROLES if role in PERMISSIONS[permission])


def _location(what: str) -> dict[str, dict[str, Any]]:
    return {"Location": {"description": f"the path of the new {what}", "schema": {"type": "string"}}}


_LIMIT_PARAM = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "at most this many orders (422 outside 1 to 1000)",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
}
_STATUS_PARAM = {
    "name": "status",
    "in": "query",
    "required": False,
    "description": "only orders with this status (422 for an unknown one)",
    "schema": {"type": "string", "enum": list(ORDER_STATUSES)},
}
_IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        f"{idempotency.FORMAT_TEXT}, e.g. a UUID made when the ticket was started. "
        "The same key with the same order returns the original order (201, same id, `Idempotent-Replayed: "
        "true`) and creates nothing, even when both requests arrive at once; the same key with a different "
        f"order is 422 (`reason: {idempotency.KeyReused.reason}`). A malformed key is 400. "
        f"Keys are kept for {idempotency.KEPT_HOURS} hours."
    ),
    "schema": {"type": "string", "pattern": idempotency.PATTERN},
}
_TOPICS_PARAM = {
    "name": "topics",
    "in": "query",
    "required": False,
    "description": (
        f"comma-separated topics out of `{','.join(TOPICS)}`. Left out: every topic the caller may read "
        "(the public: `menu`). An unknown topic is 400; a topic the caller may not read is 401 or 403."
    ),
    "schema": {"type": "string", "pattern": f"^\\s*({'|'.join(TOPICS)})\\s*(,\\s*({'|'.join(TOPICS)})\\s*)*$"},
    "example": "orders,menu",
}
_OPAQUE_ID = {
    "type": "string",
    "pattern": "^[0-9a-f]{32}$",
    "description": "an event id as the public sees it: opaque, 32 hex characters",
}
_LAST_EVENT_ID_QUERY = {
    "name": "last_event_id",
    "in": "query",
    "required": False,
    "description": (
        "replay every stored event after this id, then go on live: for a client that keeps its own "
        "position (a new `EventSource` sends no `Last-Event-ID` header). The header wins if both are sent. "
        "The public sends back the opaque id it was sent (or 0: from the start)."
    ),
    "schema": {"anyOf": [{"type": "integer", "minimum": 0}, _OPAQUE_ID]},
}
_LAST_EVENT_ID_HEADER = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": (
        "sent by a reconnecting `EventSource` by itself: replay every stored event after this id, in order, "
        "then go on live, with no gap and no duplicate. Not a whole number (staff) or an opaque id this "
        "server sent (the public; or 0): 400."
    ),
    "schema": {"anyOf": [{"type": "integer", "minimum": 0}, _OPAQUE_ID]},
}

_EVENTS_DESCRIPTION = """\
A Server-Sent Events stream of every committed change, for as long as the connection is open.

Each event is

```
id: 36
event: order.updated
data: {"id": 1, "ticket_no": 1, "status": "preparing", ..., "lines": [...]}
```

- `id`: the event's row id in the events table; `event`: its type; `data`: the full new state of
  what changed, exactly as the JSON API returns it. A caller who is not signed in gets the id
  opaque (32 hex characters, e.g. `id: 5f0c...e1`): it counts nothing, and is only good for sending
  back as `Last-Event-ID` / `last_event_id`.
- Types, by topic:
  - `orders` (roles: {orders}): `order.created`, `order.updated` (data: `OrderOut`)
  - `menu` (public): `menu.created`, `menu.updated`, `menu.availability` (data: `MenuItemOut`)
  - `inventory` (roles: {inventory}): `inventory.created`, `inventory.updated`, `inventory.low` (data:
    `InventoryItemOut`), `inventory.recipe` (data: `RecipeOut`)
- `stream.ready` (data: `StreamReady`, `{"last_event_id": N}`; opaque for the public) is sent once
  the replay of stored events is done: from there on events are live.
- The stream opens with `retry: 1500` (browsers reconnect within 1.5 s) and sends a heartbeat
  comment every 15 s (`FORKFLOW_SSE_PING_SECONDS`) on idle connections.
- Without `Last-Event-ID` or `last_event_id` the stream starts from now.
- A listener that cannot keep up is disconnected; it reconnects with `Last-Event-ID` and replays
  what it missed. `x-events` below maps each event type to the schema of its data.
""".replace("{orders}", _roles("orders.read")).replace("{inventory}", _roles("inventory"))

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


def _op_table() -> dict[Callable[..., Any], Op]:
    from .routes import api, docs, events, ops, staff_api
    from .routes.track import endpoints as track

    return {
        # Menu
        api.list_menu: Op(
            "List the menu",
            "menu",
            "none",
            out=out.MenuItemOut,
            many=True,
            description="Every item, sold out ones included, by category. **Public.**",
        ),
        api.create_menu_item: Op(
            "Add a menu item",
            "menu",
            "staff",
            "menu.write",
            body=models.MenuItemIn,
            status=201,
            out=out.MenuItemOut,
            headers=_location("menu item"),
            description="Emits `menu.created`.",
        ),
        api.get_menu_item: Op(
            "One menu item",
            "menu",
            "none",
            out=out.MenuItemOut,
            description="**Public.**",
        ),
        api.update_menu_item: Op(
            "Replace a menu item",
            "menu",
            "staff",
            "menu.write",
            body=models.MenuItemUpdate,
            out=out.MenuItemOut,
            description="Replaces the item's fields; `available` left out keeps its value. Emits `menu.updated`.",
        ),
        api.set_availability: Op(
            "Mark a menu item available or sold out (86)",
            "menu",
            "staff",
            "menu.write",
            body=models.AvailabilityIn,
            out=out.MenuItemOut,
            description='`{"available": false}` switches it off everywhere, and it stays off through restocks; '
            '`{"available": true}` switches it on, and it is available once stock covers a portion of its recipe. '
            "Emits `menu.availability`.",
        ),
        api.get_recipe: Op(
            "What one portion takes from stock",
            "menu",
            "staff",
            "menu.write",
            out=out.RecipeOut,
        ),
        api.set_recipe: Op(
            "Replace a menu item's recipe",
            "menu",
            "staff",
            "menu.write",
            body=models.RecipeIn,
            out=out.RecipeOut,
            description=(
                '`{"ingredients": [{"inventory_id": 3, "quantity": 0.03}]}`: each portion of the item takes '
                "these amounts off stock when an order is placed, in the same transaction. An item whose stock "
                "cannot cover one portion is unavailable (automatic 86) until restocked. Emits `inventory.recipe` "
                "(managers only, like stock), "
                "and `menu.availability` when the new recipe sells the item out or brings it back."
            ),
            errors={422: "An ingredient names no stock item, is named twice, or has no positive quantity."},
        ),
        # Orders
        api.list_orders: Op(
            "List orders",
            "orders",
            "staff",
            "orders.read",
            out=out.OrderOut,
            many=True,
            parameters=(_STATUS_PARAM, _LIMIT_PARAM),
            description="Most recent first.",
            errors={422: "`status` or `limit` is not valid"},
        ),
        api.create_order: Op(
            "Place an order",
            "orders",
            "optional",
            "orders.place",
            body=models.OrderIn,
            status=201,
            out=out.OrderOut,
            out_or=out.PublicOrderOut,
            parameters=(_IDEMPOTENCY_PARAM,),
            headers={
                **_location("order (for an anonymous order: its tracking page)"),
                "Idempotent-Replayed": {
                    "description": "`true` when this is the original order, returned again for a repeated "
                    "`Idempotency-Key`; absent when the order was created now",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            },
            description=(
                "The server prices every order from the menu; a price or total sent by a client is ignored. "
                "Each line keeps the name and unit price it was charged at.\n\n"
                "**Public** for `channel: online` only, rate limited per client address "
                f"({Settings().public_orders_per_minute} a minute by default, "
                "`FORKFLOW_PUBLIC_ORDERS_PER_MINUTE`), at most "
                f"{Settings().public_max_per_item} portions of one dish and {Settings().public_max_per_order} "
                "in all (`FORKFLOW_PUBLIC_MAX_PER_ITEM`, `FORKFLOW_PUBLIC_MAX_PER_ORDER`), and "
                f"{Settings().public_portions_per_hour} portions per client address per hour "
                "(`FORKFLOW_PUBLIC_PORTIONS_PER_HOUR`, then 429). Its answer is a `PublicOrderOut`: no id or "
                "ticket number, the tracking link and pickup code instead. **Roles** for any channel: "
                + _roles("orders.place")
                + " (permission `orders.place`); a signed-in kitchen account may not place orders.\n\n"
                "Send an `Idempotency-Key` so a retried or doubled submit returns the original order. Keys are "
                "the caller's own: a staff member's, or an anonymous caller's client address's. "
                "Emits `order.created`."
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is malformed.",
                401: "Not signed in and the channel is not `online`; or the bearer token is not valid.",
                403: "Signed in with a role that may not place orders; or a cookie-authenticated request "
                "without the CSRF token (`csrf_failed`).",
                409: "An item is sold out: `unavailable` lists them, `fields` names the lines; or stock cannot "
                "cover the order's recipes: for staff, `out_of_stock` lists what ran out, and nothing is taken; "
                "the public is told which dishes (`unavailable`), never how much stock is left.",
                422: "The order is not valid, names an item that is not on the menu, or reuses an "
                "`Idempotency-Key` with a different order (`reason: idempotency_key_reused`); or a public order "
                "holds more than its limits allow (`fields` names the lines).",
                429: "Too many public orders from this address: try again after `Retry-After` seconds.",
            },
        ),
        api.get_order: Op(
            "One order with its lines",
            "orders",
            "staff",
            "orders.read",
            out=out.OrderOut,
        ),
        api.change_order_status: Op(
            "Move an order along",
            "orders",
            "staff",
            "orders.move",
            body=models.StatusIn,
            out=out.OrderOut,
            description=(
                "Statuses move `new → preparing → ready → completed`, `ready → preparing` (recall), and "
                "`new`/`preparing → cancelled`. **Roles:** " + _roles("orders.move") + " (permission "
                "`orders.move`); cancelling needs " + _roles("orders.cancel") + " (permission `orders.cancel`). "
                "Emits `order.updated`."
            ),
            errors={409: "The order cannot move to this status from its current one; `allowed` lists the moves."},
        ),
        api.kitchen_orders: Op(
            "The kitchen's queue",
            "kitchen",
            "staff",
            "orders.read",
            out=out.OrderOut,
            many=True,
            description="The active orders (not completed or cancelled), oldest first. **Roles:** "
            + _roles("orders.read")
            + " (permission `orders.read`).",
        ),
        # Inventory
        api.list_inventory: Op(
            "List stock",
            "inventory",
            "staff",
            "inventory",
            out=out.InventoryItemOut,
            many=True,
        ),
        api.create_inventory_item: Op(
            "Add a stock item",
            "inventory",
            "staff",
            "inventory",
            body=models.InventoryIn,
            status=201,
            out=out.InventoryItemOut,
            headers=_location("stock item"),
            description="Names are unique. **Roles:** " + _roles("inventory") + " (permission `inventory`). "
            "Emits `inventory.created`.",
            errors={409: "There is already a stock item with this name."},
        ),
        api.get_inventory_item: Op(
            "One stock item",
            "inventory",
            "staff",
            "inventory",
            out=out.InventoryItemOut,
        ),
        api.change_inventory_item: Op(
            "Set or adjust stock",
            "inventory",
            "staff",
            "inventory",
            body=models.InventoryPatch,
            out=out.InventoryItemOut,
            description=(
                '`{"quantity": 12.5}` sets the stock, `{"delta": -0.25}` adjusts it; `item_name` and `unit` '
                'may change too; `{"low_stock": 2}` sets the low-stock threshold (`null` removes it). '
                "Quantities are exact to three decimals. A quantity change is recorded as a movement: `reason` "
                "`count` (the default for `quantity`), `restock` (the default for a positive `delta`) or `waste` "
                "(a negative one), with an optional `note`. Menu items the new stock can or cannot make come on "
                "or sell out in the same transaction. **Roles:** "
                + _roles("inventory")
                + " (permission `inventory`). Emits `inventory.updated`, `inventory.low` when stock falls to "
                "its low-stock level, and `menu.availability` for items it sells out or brings back."
            ),
            errors={409: "The delta would take stock below zero, or the new name is taken."},
        ),
        api.list_movements: Op(
            "A stock item's movements",
            "inventory",
            "staff",
            "inventory",
            out=out.StockMovementOut,
            many=True,
            parameters=({**_LIMIT_PARAM, "description": "at most this many movements (422 outside 1 to 1000)"},),
            description="Newest first. Every change of the quantity is one movement (order, cancel, restock, "
            "count, waste), so the quantity is always the sum of its movements' deltas.",
            errors={422: "`limit` is not valid"},
        ),
        # Health
        ops.health: Op(
            "Health of the database, event bus and write queue",
            "health",
            "none",
            out=out.HealthOut,
            description='**Public**: 200 `{"status": "ok"}` when the database answers, else 503. '
            "A manager (session or bearer token) also gets the database, event bus and write queue details.",
            errors={503: "The database cannot be reached (the body is a `HealthOut`)."},
        ),
        # Event stream
        events.events: Op(
            "The live event stream (Server-Sent Events)",
            "events",
            "optional",
            parameters=(_TOPICS_PARAM, _LAST_EVENT_ID_QUERY, _LAST_EVENT_ID_HEADER),
            description=_EVENTS_DESCRIPTION
            + "\n**Public** for the `menu` topic; `orders` needs one of: "
            + _roles("orders.read")
            + "; `inventory` needs one of: "
            + _roles("inventory")
            + ".",
            content={
                "text/event-stream": {
                    "schema": {"type": "string", "description": "Server-Sent Events frames (id, event, data)"},
                    "example": 'id: 36\nevent: order.updated\ndata: {"id": 1, "status": "preparing"}\n\n',
                }
            },
            headers={
                "Cache-Control": {"schema": {"type": "string", "enum": ["no-cache"]}},
                "X-Accel-Buffering": {"description": "stops proxies from buffering", "schema": {"type": "string"}},
            },
            extensions={
                "x-events": {
                    **{
                        name: {"topic": "orders", "data": {"$ref": REF.format(model="OrderOut")}}
                        for name in ("order.created", "order.updated")
                    },
                    **{
                        name: {"topic": "menu", "data": {"$ref": REF.format(model="MenuItemOut")}}
                        for name in ("menu.created", "menu.updated", "menu.availability")
                    },
                    "inventory.recipe": {"topic": "inventory", "data": {"$ref": REF.format(model="RecipeOut")}},
                    **{
                        name: {"topic": "inventory", "data": {"$ref": REF.format(model="InventoryItemOut")}}
                        for name in ("inventory.created", "inventory.updated", "inventory.low")
                    },
                    "stream.ready": {"topic": None, "data": {"$ref": REF.format(model="StreamReady")}},
                }
            },
            errors={
                400: "An unknown topic, or a `Last-Event-ID` / `last_event_id` that is not an event id "
                "(for the public: not one this server sent, or 0).",
                401: "A topic other than `menu` asked for without signing in; or the bearer token is not valid.",
                403: "A topic asked for that the caller's role may not read.",
            },
        ),
        # Tracking
        track.track_json: Op(
            "A customer's own order, by its tracking link",
            "tracking",
            "none",
            out=out.TrackedOrderOut,
            description="**Public**: the unguessable token in the order's `tracking_url` is the key. "
            "The HTML page is at `/track/{token}`.",
            errors={404: "No order has this tracking link."},
        ),
        # Tokens and staff
        staff_api.create_token: Op(
            "Sign in for a bearer token",
            "auth",
            "none",
            body=models.TokenIn,
            status=201,
            out=out.TokenOut,
            description=(
                "**Public.** Exchanges a staff name and password for an API token, shown this once; with "
                "`expires_in` (seconds) it stops working then, and its open streams end. Every failed "
                "sign-in is answered a second late. Failures are limited per (name, client address), per address "
                "and per name (429); a client that sends the `forkflow_device` cookie it got from an earlier "
                "successful sign-in to that account is limited by its own failures only. The answer sets that "
                "cookie afresh."
            ),
            errors={
                401: "Wrong name or password, or the account is disabled; or an invalid `Authorization` header.",
                429: "Too many failed sign-ins from this client: try again after `Retry-After` seconds.",
            },
        ),
        staff_api.revoke_own_token: Op(
            "Revoke the token this request carries",
            "auth",
            "token",
            status=204,
            description="Any staff member, with the bearer token to revoke (not a session cookie).",
            errors={401: "No bearer token was sent (`WWW-Authenticate: Bearer`), or it is not valid or was revoked."},
        ),
        staff_api.list_tokens: Op(
            "List API tokens",
            "auth",
            "staff",
            "staff",
            out=out.TokenInfo,
            many=True,
            description="Tokens are never shown again, only who they belong to, when they were made, revoked "
            "or expire, and when they were last used (to within a minute). **Roles:** "
            + _roles("staff")
            + " (permission `staff`).",
        ),
        staff_api.revoke_token: Op(
            "Revoke an API token",
            "auth",
            "staff",
            "staff",
            status=204,
            errors={404: "There is no token with this id."},
        ),
        staff_api.list_staff: Op(
            "List staff accounts",
            "staff",
            "staff",
            "staff",
            out=out.StaffOut,
            many=True,
            description="By name.",
        ),
        staff_api.add_staff: Op(
            "Add a staff account",
            "staff",
            "staff",
            "staff",
            body=models.StaffIn,
            status=201,
            out=out.StaffOut,
            headers=_location("staff account"),
            errors={409: "There is already a staff member with this name."},
        ),
        staff_api.change_staff: Op(
            "Change a staff account",
            "staff",
            "staff",
            "staff",
            body=models.StaffPatch,
            out=out.StaffOut,
            description="Change the role, disable (`active: false`) or set a new password (which signs out "
            "every session of the account). **Roles:** " + _roles("staff") + " (permission `staff`).",
        ),
        # This document
        docs.openapi_json: Op(
            "This OpenAPI document",
            "docs",
            "none",
            uses_store=False,
            description="**Public.** A readable rendering is at `/docs`.",
            content={"application/json": {"schema": {"type": "object"}}},
        ),
    }


def documented_routes() -> list[Route]:
    """The routes the document covers: every route of the JSON surfaces (not the HTML pages)."""
    from .routes import api, docs, events, ops, staff_api
    from .routes.track import endpoints as track

    chosen: Iterable[BaseRoute] = [
        *api.routes,
        *(route for route in ops.routes if isinstance(route, Route) and route.endpoint is ops.health),
        *staff_api.routes,
        *events.routes,
        *(route for route in track.routes if isinstance(route, Route) and route.endpoint is track.track_json),
        *(route for route in docs.routes if isinstance(route, Route) and route.endpoint is docs.openapi_json),
    ]
    return [route for route in chosen if isinstance(route, Route)]


def openapi_path(path: str) -> str:
    """Starlette's `/menu/{id:id}` as OpenAPI's `/menu/{id}`."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}", r"{\1}", path)


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    from .routes.convertors import IdConvertor  # (the routes import this module)

    params = []
    for name, convertor in route.param_convertors.items():
        if isinstance(convertor, IdConvertor):
            schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif isinstance(convertor, IntegerConvertor):
            schema = {"type": "integer", "minimum": 0}
        elif isinstance(convertor, FloatConvertor):
            schema = {"type": "number"}
        else:
            schema = {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="ErrorOut")}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(method: str, op: Op, has_path_params: bool) -> dict[str, str]:
    """The usual errors of an operation, by what it is; `op.errors` adds to and overrides them."""
    errors: dict[int, str] = {}
    unsafe = method not in _SAFE
    if op.body is not None:
        errors[400] = "The body is not valid JSON."
    if op.access == "staff":
        errors[401] = "Not signed in, or the bearer token is not valid or was revoked."
        errors[403] = f"The role may not do this (needs one of: {_roles(op.permission or 'staff')})."
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


def _access_text(op: Op) -> str:
    if op.access != "staff" or op.permission is None or "**Roles:**" in op.description:
        return ""
    return f"**Roles:** {_roles(op.permission)} (permission `{op.permission}`)."


def _operation(route: Route, method: str, op: Op) -> dict[str, Any]:
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
        operation["x-roles"] = [role for role in ROLES if role in PERMISSIONS[op.permission]]
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


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built once. Treat it as read-only."""
    operations = _op_table()
    paths: dict[str, dict[str, Any]] = {}
    used_models: list[type[BaseModel]] = []
    for route in documented_routes():
        op = operations.get(route.endpoint)
        if op is None:
            raise LookupError(f"{route.path} ({route.endpoint.__qualname__}) is not described in openapi._op_table()")
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
            {"name": "inventory", "description": "Stock, managers only"},
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


@functools.cache
def openapi_json() -> bytes:
    """The document as JSON bytes, encoded once."""
    return json.dumps(openapi_document(), ensure_ascii=False, separators=(",", ":")).encode()


def _version() -> str:
    try:
        return package_version("forkflow")
    except PackageNotFoundError:
        return "0.0.0"
