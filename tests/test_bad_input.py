"""The bad-input catalogue: every write route against malformed, hostile and oversized input.

Each case must be refused with a 4xx JSON error and change nothing, unless the input is in fact
valid (SQL or HTML text within the length limits, unknown fields, null for an optional field):
then it must be stored and returned verbatim, and nothing else may change. Cases that currently
get a 5xx are app bugs, marked `xfail(strict=True)` with the reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from forkflow.schemas_out import ErrorOut

from .conftest import Server

SQL = "'; DROP TABLE orders; --"
HTML = "<script>alert(1)</script>"
UNICODE = "a b \u2615 \u05e9\u05dc\u05d5\u05dd \U0001d11e"  # emoji, right-to-left letters, astral plane
CONTROL = "a\x00b \u202e stop"  # NUL and a bidi override: refused in what people type, not in passwords
LONG = "x" * 10_000
MIB = 1 << 20
OLD = "2000-01-01T00:00:00.000Z"

LOGIN_NAME, LOGIN_PASSWORD = "login-target", "login-target-password"

# Placeholders swapped for raw bytes after json.dumps: NaN, 1e999, invalid UTF-8 and the like.
RAW = "@@RAW@@"
BYTES = "@@BYTES@@"

# The routes, their fields and a valid body for each


@dataclass(frozen=True)
class Field:
    path: str  # "items.0.quantity"
    kind: str  # text | name (pattern-restricted) | enum | int | decimal | bool | list
    max_len: int = 0
    required: bool = True
    nullable: bool = False
    drop: str | None = None  # a field the base body must lose when this one is set


@dataclass(frozen=True)
class Route:
    key: str
    method: str
    path: str
    role: str | None
    fields: tuple[Field, ...]
    base: Callable[[World], dict]
    check: Callable[[World, dict, dict, dict], dict]  # (world, before, body, response) -> expected snapshot
    extras: Callable[[dict, World], dict]  # adds unknown fields; returns the top-level ones added
    text_suffix: str = ""  # keeps SQL/HTML names unique where another route stores the same text
    text_outcome: tuple[int, str] | None = None  # what valid text gets, if not stored (sign-in: 401)

    @property
    def anonymous(self) -> bool:
        return self.role is None

    @property
    def has_id(self) -> bool:
        return "{id}" in self.path


class World:
    """The records the cases aim at, made once per module, and unique names for new records."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.counter = 0

        def made(path: str, body: dict) -> dict:
            response = api.post(path, json=body)
            assert response.status_code == 201, response.text
            return response.json()

        self.dishes = [
            made("/menu", {"name": "Burger", "price_cents": 1550, "category": "Mains", "station": "grill"}),
            made("/menu", {"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry"}),
        ]
        self.edit_dish = made("/menu", EDIT_RESET)
        self.avail_dish = made("/menu", {**EDIT_RESET, "name": "Availability Target"})
        self.stock = made("/inventory", STOCK_RESET)
        self.staff = made("/staff", {"name": "patch-target", "role": "kitchen", "password": "patch-target-password"})
        made("/staff", {"name": LOGIN_NAME, "role": "kitchen", "password": LOGIN_PASSWORD})
        self.order: dict | None = None

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def dish(self, item_id: int) -> dict:
        return next(d for d in self.dishes if d["id"] == item_id)

    def prepare(self, route: Route) -> int | None:
        """Put the route's target record back in its starting state; returns its id."""
        api = self.api
        if route.key.startswith("PUT /menu/{id}/"):
            assert api.put(f"/menu/{self.avail_dish['id']}/availability", json={"available": True}).status_code == 200
            return self.avail_dish["id"]
        if route.key.startswith("PUT /menu"):
            assert api.put(f"/menu/{self.edit_dish['id']}", json=EDIT_RESET).status_code == 200
            return self.edit_dish["id"]
        if route.key.startswith("PATCH /orders"):
            if self.order is None or api.get(f"/orders/{self.order['id']}").json()["status"] != "new":
                body = {**order_base(self, "counter"), "customer_name": "Status Target"}
                response = api.post("/orders", json=body)
                assert response.status_code == 201, response.text
                self.order = response.json()
            return self.order["id"]
        if route.key.startswith("PATCH /inventory"):
            assert api.patch(f"/inventory/{self.stock['id']}", json=STOCK_RESET).status_code == 200
            return self.stock["id"]
        if route.key.startswith("PATCH /staff"):
            response = api.patch(f"/staff/{self.staff['id']}", json={"role": "kitchen", "active": True})
            assert response.status_code == 200
            return self.staff["id"]
        return None


EDIT_RESET = {
    "name": "Edit Target",
    "description": "plain",
    "price_cents": 900,
    "category": "Mains",
    "station": "grill",
    "available": True,
}
STOCK_RESET = {"item_name": "Patch Target", "unit": "kg", "quantity": 10}


def order_base(world: World, channel: str) -> dict:
    return {
        "customer_name": "Bad Input",
        "channel": channel,
        "table": "T1",
        "notes": "ring the bell",
        "items": [
            {"menu_item_id": world.dishes[0]["id"], "quantity": 2, "notes": "no salt"},
            {"menu_item_id": world.dishes[1]["id"], "quantity": 1},
        ],
    }


# What a valid request must have done: the expected snapshot after it


def with_item(before: dict, collection: str, item: dict, events: int) -> dict:
    expected = copy.deepcopy(before)
    expected[collection][item["id"]] = item
    expected["last_event_id"] += events
    return expected


def check_menu_created(world: World, before: dict, body: dict, out: dict) -> dict:
    assert out["id"] not in before["menu"]
    defaults = {"description": "", "available": True}
    for key in ("name", "description", "price_cents", "category", "station", "available"):
        assert out[key] == body.get(key, defaults.get(key)), key
    return with_item(before, "menu", out, events=1)


def check_menu_replaced(world: World, before: dict, body: dict, out: dict) -> dict:
    old = before["menu"][world.edit_dish["id"]]
    assert out["id"] == old["id"] and out["created_at"] == old["created_at"]
    for key in ("name", "description", "price_cents", "category", "station"):
        assert out[key] == body.get(key, ""), key
    assert out["available"] == (old["available"] if body.get("available") is None else body["available"])
    return with_item(before, "menu", out, events=int(out != old))


def check_availability(world: World, before: dict, body: dict, out: dict) -> dict:
    old = before["menu"][world.avail_dish["id"]]
    switched = {"available": body["available"], "switched_off": not body["available"]}
    assert out == {**old, **switched, "updated_at": out["updated_at"]}
    return with_item(before, "menu", out, events=int(out != old))


def check_order_created(world: World, before: dict, body: dict, out: dict) -> dict:
    if "id" not in out:  # the public's answer: no id or ticket number, so check the staff's view of it
        assert "ticket_no" not in out and all("id" not in line for line in out["lines"])
        orders = world.api.get("/orders", params={"limit": 1000}).json()
        out = next(order for order in orders if order["tracking_url"] == out["tracking_url"])
    assert out["id"] > max(before["orders"], default=0)
    assert (out["customer_name"], out["channel"], out["table"], out["notes"]) == (
        body["customer_name"],
        body["channel"],
        body.get("table"),
        body.get("notes", ""),
    )
    assert out["status"] == "new"
    same_day = [o["ticket_no"] for o in before["orders"].values() if o["business_date"] == out["business_date"]]
    assert out["ticket_no"] == max(same_day, default=0) + 1
    assert out["tracking_url"].startswith("/track/")
    assert out["tracking_url"] not in {o["tracking_url"] for o in before["orders"].values()}
    assert out["created_at"] == out["updated_at"]
    assert len(out["lines"]) == len(body["items"])
    for line, item in zip(out["lines"], body["items"], strict=True):
        dish = world.dish(item["menu_item_id"])
        assert line == {
            "id": line["id"],
            "menu_item_id": dish["id"],
            "name": dish["name"],
            "unit_price_cents": dish["price_cents"],
            "quantity": item["quantity"],
            "line_total_cents": dish["price_cents"] * item["quantity"],
            "notes": item.get("notes", ""),
            "station": dish["station"],
            "done_at": None,
            "course": 1,  # its category's (every category's, here)
            "fired_at": out["created_at"],  # the order's only course: fired when sent
            "prep_minutes": dish["prep_minutes"],
            "modifiers": [],
            "allergens": [],
            "allergy_flags": [],
            "revision": 1,  # sent with the order
            "voided_at": None,
            "void_reason": None,
            "voided_by": None,
            "tax": None,  # no tax rate on the menu
        }
    assert out["revision"] == 1 and out["rush"] is False and out["held_courses"] == []
    assert (out["pickup_at"], out["release_at"], out["released_at"], out["held"]) == (None, None, None, False)
    assert out["total_cents"] == sum(line["line_total_cents"] for line in out["lines"])
    return with_item(before, "orders", out, events=1)


def check_status(world: World, before: dict, body: dict, out: dict) -> dict:
    assert world.order is not None
    old = before["orders"][world.order["id"]]
    moved_at = {"ready": "ready_at", "completed": "completed_at"}.get(body["status"])
    stamped = {moved_at: out[moved_at]} if moved_at else {}
    assert out == {**old, "status": body["status"], "updated_at": out["updated_at"], **stamped}
    return with_item(before, "orders", out, events=1)


def number(value: Any) -> Decimal:
    return Decimal(str(value))


def check_stock_created(world: World, before: dict, body: dict, out: dict) -> dict:
    assert out["id"] not in before["inventory"]
    assert (out["item_name"], out["unit"], number(out["quantity"])) == (
        body["item_name"],
        body["unit"],
        number(body["quantity"]),
    )
    return with_item(before, "inventory", out, events=1)


def check_stock_changed(world: World, before: dict, body: dict, out: dict) -> dict:
    old = before["inventory"][world.stock["id"]]
    quantity = number(old["quantity"])
    if body.get("quantity") is not None:
        quantity = number(body["quantity"])
    elif body.get("delta") is not None:
        quantity += number(body["delta"])
    assert out["id"] == old["id"]
    assert out["item_name"] == (body.get("item_name") or old["item_name"])
    assert out["unit"] == (body.get("unit") or old["unit"])
    assert number(out["quantity"]) == quantity
    if out == old:
        return before
    assert out["last_updated"] != old["last_updated"]
    return with_item(before, "inventory", out, events=1)


def can_sign_in(world: World, name: str, password: str) -> dict:
    response = httpx.post(str(world.api.base_url.join("/auth/token")), json={"username": name, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def check_staff_added(world: World, before: dict, body: dict, out: dict) -> dict:
    assert out["id"] not in before["staff"]
    assert (out["name"], out["role"], out["active"]) == (body["name"], body["role"], True)
    return with_item(before, "staff", out, events=0)


def check_staff_changed(world: World, before: dict, body: dict, out: dict) -> dict:
    old = before["staff"][world.staff["id"]]
    role = body.get("role") or old["role"]
    active = old["active"] if body.get("active") is None else body["active"]
    assert out == {**old, "role": role, "active": active}
    # A changed role, a disabled account or a new password ends the person's streams: an auth event.
    ended = role != old["role"] or (old["active"] and not active) or body.get("password") is not None
    expected = with_item(before, "staff", out, events=int(ended))
    for token in expected["tokens"].values():  # the token list shows each holder's current role
        if token["staff"] == out["name"]:
            token["role"] = role
    return expected


def check_token(world: World, before: dict, body: dict, out: dict) -> dict:
    assert set(out) == {"token", "role", "id", "expires_at"}
    assert out["role"] == "kitchen" and out["id"] not in before["tokens"]
    expected = copy.deepcopy(before)
    expected["tokens"][out["id"]] = {
        "id": out["id"],
        "staff": LOGIN_NAME,
        "role": "kitchen",
        "created_at": next(t for t in world.api.get("/auth/tokens").json() if t["id"] == out["id"])["created_at"],
        "revoked_at": None,
        "expires_at": None,
    }
    return expected


def after_valid(world: World, route: Route, body: dict, out: dict) -> None:
    """Checks that need a request of their own, run after the snapshot comparison."""
    if route.key.startswith(("POST /staff", "PATCH /staff")) and isinstance(body.get("password"), str):
        assert can_sign_in(world, out["name"], body["password"])["role"] == out["role"]
    if route.key.startswith("POST /auth/token"):
        bearer = {"Authorization": f"Bearer {out['token']}"}
        assert httpx.get(str(world.api.base_url.join("/kitchen/orders")), headers=bearer).status_code == 200
        assert httpx.get(str(world.api.base_url.join("/staff")), headers=bearer).status_code == 403


# Unknown fields: ignored, and never allowed to change what they name.


def menu_extras(body: dict, world: World) -> dict:
    extra = {"id": world.dishes[0]["id"], "created_at": OLD, "updated_at": OLD, "stock": 5, "price": 1}
    body.update(extra)
    return extra


def availability_extras(body: dict, world: World) -> dict:
    extra = {"id": world.dishes[0]["id"], "price_cents": 1, "name": "Free lunch", "updated_at": OLD}
    body.update(extra)
    return extra


def order_extras(body: dict, world: World) -> dict:
    extra = {
        "id": 1,
        "total_cents": 1,
        "status": "completed",
        "ticket_no": 999,
        "business_date": "1999-12-31",
        "created_at": OLD,
        "tracking_url": "/track/guessable",
        "lines": [],
    }
    body.update(extra)
    body["items"][0].update({"unit_price_cents": 1, "line_total_cents": 1, "name": "Free", "id": 1})
    return extra


def status_extras(body: dict, world: World) -> dict:
    extra = {
        "id": 999_999,
        "total_cents": 1,
        "customer_name": "Mallory",
        "channel": "online",
        "lines": [],
        "ticket_no": 999,
        "created_at": OLD,
    }
    body.update(extra)
    return extra


def stock_extras(body: dict, world: World) -> dict:
    extra = {"id": 999_999, "last_updated": OLD, "quantity_milli": 1}
    body.update(extra)
    return extra


def staff_extras(body: dict, world: World) -> dict:
    extra = {
        "id": 1,
        "name": body.get("name", "renamed"),
        "active": False,
        "created_at": OLD,
        "password_hash": "scrypt$16384$8$1$AAAA$AAAA",
        "failed_logins": 99,
        "locked_until": "2999-01-01T00:00:00Z",
    }
    if "name" in body:  # POST /staff: the name is a real field; keep it
        del extra["name"]
    if "active" in body:  # PATCH /staff: active is a real field
        del extra["active"]
    body.update(extra)
    return extra


def token_extras(body: dict, world: World) -> dict:
    extra = {"role": "manager", "staff_id": 1, "id": 1, "token": "ff_chosen-by-the-client", "expires": "2999"}
    body.update(extra)
    return extra


MENU_FIELDS = (
    Field("name", "text", 80),
    Field("description", "text", 500, required=False),
    Field("price_cents", "int"),
    Field("category", "text", 40),
    Field("station", "text", 40),
)
ORDER_FIELDS = (
    Field("customer_name", "text", 80),
    Field("channel", "enum"),
    Field("table", "text", 20, required=False, nullable=True),
    Field("notes", "text", 500, required=False),
    Field("items", "list"),
    Field("items.0.menu_item_id", "int"),
    Field("items.0.quantity", "int"),
    Field("items.0.notes", "text", 200, required=False),
)

ROUTES = [
    Route(
        "POST /menu",
        "POST",
        "/menu",
        "manager",
        (*MENU_FIELDS, Field("available", "bool", required=False)),
        lambda w: {
            "name": "Bad Input Soup",
            "description": "hot",
            "price_cents": 650,
            "category": "Starters",
            "station": "cold",
            "available": True,
        },
        check_menu_created,
        menu_extras,
    ),
    Route(
        "PUT /menu/{id}",
        "PUT",
        "/menu/{id}",
        "manager",
        (*MENU_FIELDS, Field("available", "bool", required=False, nullable=True)),
        lambda w: {**EDIT_RESET, "description": "edited"},
        check_menu_replaced,
        menu_extras,
    ),
    Route(
        "PUT /menu/{id}/availability",
        "PUT",
        "/menu/{id}/availability",
        "manager",
        (Field("available", "bool"),),
        lambda w: {"available": False},
        check_availability,
        availability_extras,
    ),
    Route(
        "POST /orders (manager)",
        "POST",
        "/orders",
        "manager",
        ORDER_FIELDS,
        lambda w: order_base(w, "counter"),
        check_order_created,
        order_extras,
    ),
    Route(
        "POST /orders (cashier)",
        "POST",
        "/orders",
        "cashier",
        ORDER_FIELDS,
        lambda w: order_base(w, "counter"),
        check_order_created,
        order_extras,
    ),
    Route(
        "POST /orders (public)",
        "POST",
        "/orders",
        None,
        ORDER_FIELDS,
        lambda w: order_base(w, "online"),
        check_order_created,
        order_extras,
    ),
    Route(
        "PATCH /orders/{id}",
        "PATCH",
        "/orders/{id}",
        "manager",
        (Field("status", "enum"),),
        lambda w: {"status": "preparing"},
        check_status,
        status_extras,
    ),
    Route(
        "POST /inventory",
        "POST",
        "/inventory",
        "manager",
        (Field("item_name", "text", 80), Field("quantity", "decimal"), Field("unit", "text", 20)),
        lambda w: {"item_name": w.unique("Stock"), "quantity": 12.5, "unit": "kg"},
        check_stock_created,
        stock_extras,
    ),
    Route(
        "PATCH /inventory/{id}",
        "PATCH",
        "/inventory/{id}",
        "manager",
        (
            Field("item_name", "text", 80, required=False, nullable=True),
            Field("unit", "text", 20, required=False, nullable=True),
            Field("delta", "decimal", required=False, nullable=True),
            Field("quantity", "decimal", required=False, nullable=True, drop="delta"),
        ),
        lambda w: {"item_name": "Patch Target", "unit": "kg", "delta": 1.5},
        check_stock_changed,
        stock_extras,
        text_suffix=" (2)",
    ),
    Route(
        "POST /staff",
        "POST",
        "/staff",
        "manager",
        (Field("name", "name", 40), Field("role", "enum"), Field("password", "text", 200)),
        lambda w: {"name": w.unique("hire"), "role": "kitchen", "password": "long-enough-password"},
        check_staff_added,
        staff_extras,
    ),
    Route(
        "PATCH /staff/{id}",
        "PATCH",
        "/staff/{id}",
        "manager",
        (
            Field("role", "enum", required=False, nullable=True),
            Field("active", "bool", required=False, nullable=True),
            Field("password", "text", 200, required=False, nullable=True),
        ),
        lambda w: {"role": "cashier", "active": True},
        check_staff_changed,
        staff_extras,
    ),
    Route(
        "POST /auth/token",
        "POST",
        "/auth/token",
        None,
        (Field("username", "text", 40), Field("password", "text", 200)),
        lambda w: {"username": LOGIN_NAME, "password": LOGIN_PASSWORD},
        check_token,
        token_extras,
        text_outcome=(401, "unauthorized"),
    ),
]


# The catalogue


VALID = "valid"
ANY_4XX = "any 4xx"
INVALID = (422, "invalid")
BAD_REQUEST = (400, "bad_request")
TOO_LARGE = (413, "too_large")
NOT_FOUND = (404, "not_found")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[dict, World], dict | list | str | int | bool | bytes | None]
    expect: object  # VALID, ANY_4XX or (status, code)
    headers: tuple[tuple[str, str], ...] = ()
    path_id: str | None = None
    chunked: bool = False


def set_path(body: dict, path: str, value: Any) -> dict:
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return body


def del_path(body: dict, path: str) -> dict:
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node.pop(last, None)
    return body


def dumps(body: Any, raw: bytes = b"") -> bytes:
    """JSON with the RAW placeholder (a whole value) or BYTES (inside a string) swapped for raw bytes."""
    text = json.dumps(body).encode()
    return text.replace(f'"{RAW}"'.encode(), raw).replace(BYTES.encode(), raw)


def mutate(field: Field, value: Any, raw: bytes = b"") -> Callable[[dict, World], Any]:
    def build(body: dict, world: World) -> Any:
        if field.drop:
            body.pop(field.drop, None)
        set_path(body, field.path, value)
        return dumps(body, raw) if raw else body

    return build


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


WRONG_TYPES: dict[str, list[tuple[str, Any]]] = {
    "text": [("number", 123), ("float", 4.5), ("bool", True), ("list", ["x"]), ("object", {"x": "y"})],
    "enum": [
        ("unknown value", "drone"),
        ("number", 1),
        ("bool", True),
        ("list", ["new"]),
        ("object", {"value": "new"}),
    ],
    "int": [
        ("numeric string", "2"),
        ("fraction", 2.5),
        ("bool", True),
        ("list", [2]),
        ("object", {"value": 2}),
    ],
    "decimal": [("word", "lots"), ("hex string", "0x10"), ("bool", True), ("list", [1]), ("object", {"value": 1})],
    "bool": [("string", "true"), ("number 1", 1), ("number 0", 0), ("list", [True]), ("object", {})],
    "list": [
        ("string", "burger"),
        ("number", 1),
        ("object", {"menu_item_id": 1, "quantity": 1}),
        ("list of numbers", [1]),
        ("list of lists", [[]]),
        ("empty list", []),
        ("101 lines", "LINES_101"),
    ],
}
WRONG_TYPES["name"] = WRONG_TYPES["text"]

NOT_JSON = (b"NaN", b"Infinity", b"-Infinity")
NUMBERS: list[tuple[str, Any, bytes]] = [
    ("-1", -1, b""),
    ("2**63", 2**63, b""),
    ("10**30", 10**30, b""),
    ("-10**30", -(10**30), b""),
    ("1e308", 1e308, b""),
    ("-1e308", -1e308, b""),
    ("0.0001", 0.0001, b""),
    ("NaN", RAW, b"NaN"),
    ("Infinity", RAW, b"Infinity"),
    ("-Infinity", RAW, b"-Infinity"),
    ("1e999", RAW, b"1e999"),
]


def field_cases(route: Route) -> Iterator[tuple[Case, str | None]]:
    """(case, bug reason or None) for every field of the route."""
    for field in route.fields:
        p = field.path
        for label, value in WRONG_TYPES[field.kind]:
            if value == "LINES_101":
                line = {"menu_item_id": 1, "quantity": 1}
                yield Case(f"{p} with 101 lines", mutate(field, [line] * 101), INVALID), None
                continue
            yield Case(f"wrong type {p}={label}", mutate(field, value), INVALID), None
        if field.nullable:
            yield Case(f"null {p} (optional)", mutate(field, None), VALID), None
        else:
            yield Case(f"wrong type {p}=null", mutate(field, None), INVALID), None
        if field.required:
            yield Case(f"missing {p}", lambda b, w, p=p: del_path(b, p), INVALID), None
        else:
            yield Case(f"without {p} (optional)", lambda b, w, p=p: del_path(b, p), VALID), None
        if field.kind in ("int", "decimal"):
            for label, value, raw in NUMBERS:
                expect: object = INVALID
                if p == "delta" and label == "-1":
                    expect = VALID  # takes 1 from 10 in stock
                if raw in NOT_JSON:
                    expect = BAD_REQUEST  # NaN and Infinity are not JSON (RFC 8259): malformed, 400
                yield Case(f"number {p}={label}", mutate(field, value, raw), expect), None
        if field.kind in ("text", "name"):
            yield Case(f"10,000 characters in {p}", mutate(field, LONG), INVALID), None
            yield Case(f"lone surrogate escape in {p}", mutate(field, "a\ud800b"), INVALID), None
            for label, text in (("SQL", SQL), ("HTML", HTML), ("NUL and unicode", UNICODE)):
                text += route.text_suffix
                fits = field.kind == "text" and len(text) <= field.max_len
                expect = (route.text_outcome or VALID) if fits else INVALID
                yield Case(f"{label} in {p}", mutate(field, text), expect), None
            control = CONTROL + route.text_suffix
            expect = (route.text_outcome or VALID) if p.endswith("password") else INVALID
            yield Case(f"NUL and bidi override in {p}", mutate(field, control), expect), None
        if field.kind == "enum":
            for label, text in (("SQL", SQL), ("HTML", HTML)):
                yield Case(f"{label} in {p}", mutate(field, text), INVALID), None


def route_cases(route: Route) -> Iterator[tuple[Case, str | None]]:
    """Cases about the body as a whole, the path and the headers."""

    def extras(body: dict, world: World) -> dict:
        route.extras(body, world)
        return body

    def padded(pad: Any, raw: bytes = b"") -> Callable[[dict, World], Any]:
        def build(body: dict, world: World) -> Any:
            body["pad"] = pad
            return dumps(body, raw) if raw else body

        return build

    yield Case("empty object", lambda b, w: {}, INVALID), None
    yield Case("unknown fields", extras, VALID), None
    yield Case("10,000 characters in an unknown field", padded(LONG), VALID), None
    yield Case("an unknown field nested 200 deep", padded(RAW, nested(200)), VALID), None
    for label, value in (
        ("JSON array", []),
        ("JSON array of the body", "WRAP"),
        ("JSON string", "order"),
        ("JSON number", 42),
        ("JSON null", None),
        ("JSON true", True),
    ):
        build = (lambda b, w: [b]) if value == "WRAP" else (lambda b, w, v=value: dumps(v))
        yield Case(label, build, INVALID), None
    yield Case("empty body", lambda b, w: b"", BAD_REQUEST), None
    yield Case("truncated JSON", lambda b, w: dumps(b)[:-1], BAD_REQUEST), None
    yield Case("NaN literal as the body", lambda b, w: b"NaN", BAD_REQUEST), None
    yield Case("invalid UTF-8 byte", padded(f"a{BYTES}b", b"\xff"), BAD_REQUEST), None
    # A surrogate encoded as UTF-8 is not UTF-8: the body is malformed wherever it stands.
    yield Case("UTF-8-encoded surrogate", padded(f"a{BYTES}b", b"\xed\xa0\x80"), BAD_REQUEST), None
    surrogate_in_field = mutate(route.fields[0], f"a{BYTES}b", b"\xed\xa0\x80")
    yield Case("UTF-8-encoded surrogate in a field", surrogate_in_field, BAD_REQUEST), None
    yield Case("overlong UTF-8 encoding", padded(f"a{BYTES}b", b"\xc0\xaf"), BAD_REQUEST), None
    latin1 = Case("latin-1 body", lambda b, w: json.dumps(b).encode()[:-1] + b', "pad": "caf\xe9"}', BAD_REQUEST)
    yield latin1, None
    yield Case("1 MiB body", padded("x" * MIB), TOO_LARGE), None
    yield Case("1 MiB body, chunked", padded("x" * MIB), TOO_LARGE, chunked=True), None
    yield Case("nested 500 deep in a field", mutate(route.fields[0], RAW, nested(500)), INVALID), None
    yield Case("nested 10,000 deep", padded(RAW, nested(10_000)), ANY_4XX), None
    yield Case("5000-digit integer", padded(RAW, b"9" * 5000), ANY_4XX), None
    form = (("content-type", "application/x-www-form-urlencoded"),)
    refused = (403, "csrf_failed") if route.anonymous else (415, "unsupported_media_type")
    yield Case("form-encoded body", lambda b, w: b"a=b", refused, headers=form), None
    big_form = Case("1 MiB form body, chunked", lambda b, w: b"a=" + b"b" * MIB, ANY_4XX, headers=form, chunked=True)
    yield big_form, None
    if route.has_id:
        yield Case("path id -1", lambda b, w: b, NOT_FOUND, path_id="-1"), None
        yield Case("path id 0", lambda b, w: b, NOT_FOUND, path_id="0"), None
        yield Case("path id 2**63-1", lambda b, w: b, NOT_FOUND, path_id=str(2**63 - 1)), None
        yield Case("path id 2**63", lambda b, w: b, NOT_FOUND, path_id=str(2**63)), None
        yield Case("path id 10**30", lambda b, w: b, NOT_FOUND, path_id=str(10**30)), None
    if route.key == "POST /orders (manager)":
        yield Case("SQL in Idempotency-Key", lambda b, w: b, BAD_REQUEST, headers=(("Idempotency-Key", SQL),)), None
        key = (("Idempotency-Key", "';DROP_TABLE_orders;--"),)
        yield Case("SQL in Idempotency-Key, no spaces", lambda b, w: b, VALID, headers=key), None
    if route.key == "POST /orders (public)":
        unauthorized = (401, "unauthorized")
        yield Case("public counter order", lambda b, w: {**b, "channel": "counter"}, unauthorized), None
        yield Case("public table order", lambda b, w: {**b, "channel": "table"}, unauthorized), None


def catalogue() -> list:
    params = []
    for route in ROUTES:
        for case, bug in [*field_cases(route), *route_cases(route)]:
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=bug)] if bug else []
            params.append(pytest.param(route, case, id=f"{route.key} | {case.name}", marks=marks))
    return params


# Fixtures and helpers


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "0"}  # hundreds of public orders; no rate limit here
    srv = Server(Path(tmp_path_factory.mktemp("bad-input")) / "forkflow.db", env=env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(shared_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=30, headers=shared_server.auth("manager")) as c:
        yield c


@pytest.fixture(scope="module")
def raw_client() -> Iterator[httpx.Client]:
    """No auth, no connection reuse: each case's request stands alone."""
    with httpx.Client(timeout=30, headers={"Connection": "close"}) as c:
        yield c


@pytest.fixture(scope="module")
def world(api: httpx.Client) -> World:
    return World(api)


def by_id(items: list[dict]) -> dict[int, dict]:
    return {item["id"]: item for item in items}


def snapshot(api: httpx.Client) -> dict:
    responses = {
        "orders": api.get("/orders", params={"limit": 1000}),
        "menu": api.get("/menu"),
        "inventory": api.get("/inventory"),
        "staff": api.get("/staff"),
        "tokens": api.get("/auth/tokens"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
    state: dict[str, Any] = {name: by_id(response.json()) for name, response in responses.items()}
    for token in state["tokens"].values():  # moves with every request a token makes, not with the one tested
        token.pop("last_used_at")
    state["last_event_id"] = api.get("/health").json()["bus"]["last_event_id"]
    return state


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for key in before:
        if key == "last_event_id":
            if before[key] != after[key]:
                found.append(f"last_event_id {before[key]} -> {after[key]}")
            continue
        for item_id in sorted(set(before[key]) | set(after[key])):
            old, new = before[key].get(item_id), after[key].get(item_id)
            if old != new:
                found.append(f"{key}[{item_id}]: {old} -> {new}")
    return found


def send(
    raw_client: httpx.Client, server: Server, route: Route, case: Case, body: Any, target: int | None
) -> httpx.Response:
    """One request on a connection of its own (a 500 may close the connection it came on)."""
    path = route.path.format(id=case.path_id if case.path_id is not None else target)
    headers = {"content-type": "application/json"}
    if route.role:
        headers.update(server.auth(route.role))
    headers.update(dict(case.headers))
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    if case.chunked:
        data = content
        content = (data[i : i + 65_536] for i in range(0, len(data), 65_536))  # type: ignore[assignment]
    return raw_client.request(route.method, server.url + path, content=content, headers=headers)


def error_problems(response: httpx.Response, expect: object) -> list[str]:
    status = response.status_code
    if not 400 <= status < 500:
        return [f"expected a 4xx, got {status}: {response.text[:300]}"]
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return [f"{status} without a JSON error body: {response.text[:300]}"]
    problems = []
    try:
        ErrorOut.model_validate_json(response.content, strict=True)  # the documented error shape
    except ValidationError as exc:
        problems.append(f"error shape: {exc}")
    if not (isinstance(error.get("code"), str) and error["code"] and error.get("message")):
        problems.append(f"error shape: {error}")
    if expect != ANY_4XX and (status, error.get("code")) != expect:
        problems.append(f"expected {expect}, got {(status, error.get('code'))}: {response.text[:300]}")
    return problems


# The tests


@pytest.mark.parametrize(("route", "case"), catalogue())
def test_bad_input(
    shared_server: Server, api: httpx.Client, raw_client: httpx.Client, world: World, route: Route, case: Case
) -> None:
    target = world.prepare(route)
    before = snapshot(api)
    body = case.build(copy.deepcopy(route.base(world)), world)
    response = send(raw_client, shared_server, route, case, body, target)
    after = snapshot(api)

    if case.expect == VALID:
        assert response.status_code in (200, 201), response.text
        out = response.json()
        if case.name == "unknown fields":
            named = route.extras(copy.deepcopy(route.base(world)), world)
            for key, value in named.items():
                if key in out:
                    assert out[key] != value, f"the unknown field {key!r} was taken from the client"
        sent = json.loads(body) if isinstance(body, bytes) else body
        expected = route.check(world, before, sent, out)
        assert differences(expected, after) == []
        after_valid(world, route, sent, out)
    else:
        problems = error_problems(response, case.expect)
        problems += [f"changed: {change}" for change in differences(before, after)]
        assert not problems, problems


def test_server_still_serves(shared_server: Server, api: httpx.Client, world: World) -> None:
    assert shared_server.process is not None and shared_server.process.poll() is None
    health = api.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    line = {"menu_item_id": world.dishes[0]["id"], "quantity": 1}
    order = api.post("/orders", json={"customer_name": "After", "channel": "counter", "items": [line]})
    assert order.status_code == 201, order.text
