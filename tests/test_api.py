"""The JSON API on a real server: happy paths, and every error case returning its code and changing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import BACKENDS, MENU, Server, order_body, running_server


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    with running_server(Path(tmp_path_factory.mktemp("api")), request.param) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(shared_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=10, headers=shared_server.auth("manager")) as c:
        yield c


@pytest.fixture(scope="module")
def dishes(api: httpx.Client) -> list[dict]:
    items = [api.post("/menu", json=item).json() for item in MENU]
    sold_out = api.post(
        "/menu", json={"name": "Oysters", "price_cents": 1800, "category": "Starters", "station": "cold"}
    )
    api.put(f"/menu/{sold_out.json()['id']}/availability", json={"available": False})
    return [*items, api.get(f"/menu/{sold_out.json()['id']}").json()]


@pytest.fixture(scope="module")
def stock(api: httpx.Client) -> dict:
    return api.post("/inventory", json={"item_name": "Potatoes", "quantity": 12.5, "unit": "kg"}).json()


def snapshot(api: httpx.Client) -> dict:
    return {
        "orders": api.get("/orders", params={"limit": 1000}).json(),
        "menu": api.get("/menu").json(),
        "inventory": api.get("/inventory").json(),
        "last_event_id": api.get("/health").json()["bus"]["last_event_id"],
    }


# Happy paths


def test_order_is_priced_by_the_server_not_the_client(api: httpx.Client, dishes: list[dict]) -> None:
    body = order_body(dishes, total_cents=1, channel="table", table="12", notes="birthday")
    body["items"][0]["unit_price_cents"] = 1
    body["items"][0]["notes"] = "no onions"
    response = api.post("/orders", json=body)
    assert response.status_code == 201
    order = response.json()
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert order["total_cents"] == 2 * dishes[0]["price_cents"] + dishes[1]["price_cents"]
    assert order["status"] == "new"
    assert order["table"] == "12"
    assert order["lines"][0] == {
        "id": order["lines"][0]["id"],
        "menu_item_id": dishes[0]["id"],
        "name": dishes[0]["name"],
        "unit_price_cents": dishes[0]["price_cents"],
        "quantity": 2,
        "line_total_cents": 2 * dishes[0]["price_cents"],
        "notes": "no onions",
        "station": dishes[0]["station"],
        "done_at": None,
        "course": 1,  # its category's, by default
        "fired_at": order["created_at"],  # the order's first course: fired when sent
        "prep_minutes": dishes[0]["prep_minutes"],
        "modifiers": [],
        "allergens": [],
        "allergy_flags": [],
        "revision": 1,
        "voided_at": None,
        "void_reason": None,
        "voided_by": None,
        "tax": None,  # no tax rate on its item or category
    }
    assert order["created_at"].endswith("Z")
    assert {**api.get(f"/orders/{order['id']}").json(), "sightings": None} == {**order, "sightings": None}


def test_lines_keep_the_price_they_were_charged(api: httpx.Client) -> None:
    dish = api.post(
        "/menu", json={"name": "Soup", "price_cents": 700, "category": "Starters", "station": "cold"}
    ).json()
    order = api.post(
        "/orders",
        json={"customer_name": "Bo", "channel": "online", "items": [{"menu_item_id": dish["id"], "quantity": 1}]},
    ).json()
    api.put(f"/menu/{dish['id']}", json={**dish, "price_cents": 900, "name": "Soup of the day"})
    again = api.get(f"/orders/{order['id']}").json()
    assert (again["total_cents"], again["lines"][0]["name"], again["lines"][0]["unit_price_cents"]) == (
        700,
        "Soup",
        700,
    )


def test_status_moves_through_the_line_and_recall(api: httpx.Client, dishes: list[dict]) -> None:
    order = api.post("/orders", json=order_body(dishes)).json()
    for status in ["preparing", "ready", "preparing", "ready", "completed"]:
        response = api.patch(f"/orders/{order['id']}", json={"status": status})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    cancelled = api.post("/orders", json=order_body(dishes)).json()
    assert api.patch(f"/orders/{cancelled['id']}", json={"status": "cancelled"}).json()["status"] == "cancelled"


def test_kitchen_orders_are_the_active_ones_oldest_first(api: httpx.Client, dishes: list[dict]) -> None:
    made = [api.post("/orders", json=order_body(dishes, customer_name=f"K{n}")).json() for n in range(3)]
    api.patch(f"/orders/{made[1]['id']}", json={"status": "cancelled"})
    kitchen = api.get("/kitchen/orders").json()
    ids = [o["id"] for o in kitchen]
    assert ids == sorted(ids)
    assert made[0]["id"] in ids and made[2]["id"] in ids and made[1]["id"] not in ids
    assert {o["status"] for o in kitchen} <= {"new", "preparing", "ready"}


def test_orders_filter_by_status(api: httpx.Client, dishes: list[dict]) -> None:
    order = api.post("/orders", json=order_body(dishes)).json()
    api.patch(f"/orders/{order['id']}", json={"status": "preparing"})
    preparing = api.get("/orders", params={"status": "preparing"}).json()
    assert order["id"] in [o["id"] for o in preparing]
    assert {o["status"] for o in preparing} == {"preparing"}


def test_idempotent_replay_returns_the_original(api: httpx.Client, dishes: list[dict]) -> None:
    body = order_body(dishes, customer_name="Once")
    first = api.post("/orders", json=body, headers={"Idempotency-Key": "till-1-ticket-77"})
    before = snapshot(api)
    # Same content, different JSON spelling: still the same request.
    again = api.post(
        "/orders",
        content=httpx.Request("POST", "/", json=dict(reversed(list(body.items())))).content,
        headers={"Idempotency-Key": "till-1-ticket-77", "content-type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert snapshot(api) == before


def test_inventory_set_and_adjust(api: httpx.Client, stock: dict) -> None:
    assert api.get("/inventory").json()[0]["item_name"] == "Potatoes"
    changed = api.patch(f"/inventory/{stock['id']}", json={"delta": 0.1})
    changed = api.patch(f"/inventory/{stock['id']}", json={"delta": 0.2}).json()
    assert changed["quantity"] == 12.8
    assert api.patch(f"/inventory/{stock['id']}", json={"quantity": 12.5, "unit": "kg"}).json()["quantity"] == 12.5


def test_health_reports_database_and_bus(api: httpx.Client) -> None:
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert set(health.json()["bus"]) >= {"subscribers", "last_event_id"}


# Every error case: its status, its code, and nothing changed.

ERROR_CASES = [
    # (name, method, path, json body or raw bytes, headers, status, code)
    (
        "unknown item",
        "POST",
        "/orders",
        lambda d: order_body(d, items=[{"menu_item_id": 9999, "quantity": 1}]),
        {},
        422,
        "invalid",
    ),
    (
        "unavailable item",
        "POST",
        "/orders",
        lambda d: order_body(d, items=[{"menu_item_id": d[-1]["id"], "quantity": 1}]),
        {},
        409,
        "conflict",
    ),
    (
        "quantity 0",
        "POST",
        "/orders",
        lambda d: order_body(d, items=[{"menu_item_id": d[0]["id"], "quantity": 0}]),
        {},
        422,
        "invalid",
    ),
    (
        "quantity 100",
        "POST",
        "/orders",
        lambda d: order_body(d, items=[{"menu_item_id": d[0]["id"], "quantity": 100}]),
        {},
        422,
        "invalid",
    ),
    (
        "quantity as text",
        "POST",
        "/orders",
        lambda d: order_body(d, items=[{"menu_item_id": d[0]["id"], "quantity": "2"}]),
        {},
        422,
        "invalid",
    ),
    ("empty items", "POST", "/orders", lambda d: order_body(d, items=[]), {}, 422, "invalid"),
    ("name over 80", "POST", "/orders", lambda d: order_body(d, customer_name="x" * 81), {}, 422, "invalid"),
    ("blank name", "POST", "/orders", lambda d: order_body(d, customer_name="   "), {}, 422, "invalid"),
    ("unknown channel", "POST", "/orders", lambda d: order_body(d, channel="drone"), {}, 422, "invalid"),
    ("table order without table", "POST", "/orders", lambda d: order_body(d, channel="table"), {}, 422, "invalid"),
    ("body over 64 KiB", "POST", "/orders", lambda d: order_body(d, notes="x" * 70_000), {}, 413, "too_large"),
    ("malformed JSON", "POST", "/orders", lambda d: b'{"customer_name": ', {}, 400, "bad_request"),
    ("JSON array body", "POST", "/orders", lambda d: b"[]", {}, 422, "invalid"),
    (
        "form body",
        "POST",
        "/orders",
        lambda d: b"a=b",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    (
        "malformed idempotency key",
        "POST",
        "/orders",
        lambda d: order_body(d),
        {"Idempotency-Key": "has space"},
        400,
        "bad_request",
    ),
    (
        "key reused with another body",
        "POST",
        "/orders",
        lambda d: order_body(d, customer_name="Someone else"),
        {"Idempotency-Key": "taken-key"},
        422,
        "invalid",
    ),
    ("missing order", "GET", "/orders/99999", None, {}, 404, "not_found"),
    ("status of missing order", "PATCH", "/orders/99999", lambda d: {"status": "preparing"}, {}, 404, "not_found"),
    ("unknown status", "PATCH", "/orders/{order}", lambda d: {"status": "eaten"}, {}, 422, "invalid"),
    ("skipping a step", "PATCH", "/orders/{order}", lambda d: {"status": "completed"}, {}, 409, "conflict"),
    ("unknown status filter", "GET", "/orders?status=eaten", None, {}, 422, "invalid"),
    ("bad limit", "GET", "/orders?limit=0", None, {}, 422, "invalid"),
    (
        "negative price",
        "POST",
        "/menu",
        lambda d: {"name": "Free", "price_cents": -1, "category": "X", "station": "grill"},
        {},
        422,
        "invalid",
    ),
    (
        "price as float",
        "POST",
        "/menu",
        lambda d: {"name": "Odd", "price_cents": 9.99, "category": "X", "station": "grill"},
        {},
        422,
        "invalid",
    ),
    (
        "menu item without station",
        "POST",
        "/menu",
        lambda d: {"name": "Nowhere", "price_cents": 100, "category": "X"},
        {},
        422,
        "invalid",
    ),
    (
        "edit missing menu item",
        "PUT",
        "/menu/99999",
        lambda d: {"name": "A", "price_cents": 1, "category": "X", "station": "grill"},
        {},
        404,
        "not_found",
    ),
    ("availability not a bool", "PUT", "/menu/{dish}/availability", lambda d: {"available": "no"}, {}, 422, "invalid"),
    (
        "availability of missing item",
        "PUT",
        "/menu/99999/availability",
        lambda d: {"available": False},
        {},
        404,
        "not_found",
    ),
    (
        "duplicate stock item",
        "POST",
        "/inventory",
        lambda d: {"item_name": "Potatoes", "quantity": 1, "unit": "kg"},
        {},
        409,
        "conflict",
    ),
    (
        "negative stock",
        "POST",
        "/inventory",
        lambda d: {"item_name": "Onions", "quantity": -1, "unit": "kg"},
        {},
        422,
        "invalid",
    ),
    ("stock below zero", "PATCH", "/inventory/{stock}", lambda d: {"delta": -1000}, {}, 409, "conflict"),
    ("quantity and delta", "PATCH", "/inventory/{stock}", lambda d: {"delta": 1, "quantity": 2}, {}, 422, "invalid"),
    ("empty stock change", "PATCH", "/inventory/{stock}", lambda d: {}, {}, 422, "invalid"),
    ("missing stock item", "PATCH", "/inventory/99999", lambda d: {"delta": 1}, {}, 404, "not_found"),
    ("unknown route", "GET", "/nowhere", None, {}, 404, "not_found"),
    ("wrong method", "DELETE", "/orders", None, {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "make_body", "headers", "status", "code"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_returns_its_code_and_changes_nothing(
    api: httpx.Client, dishes: list[dict], stock: dict, method, path, make_body, headers, status, code
) -> None:
    api.post("/orders", json=order_body(dishes, customer_name="Key owner"), headers={"Idempotency-Key": "taken-key"})
    order = api.post("/orders", json=order_body(dishes, customer_name="Target")).json()
    path = path.format(order=order["id"], dish=dishes[0]["id"], stock=stock["id"])
    before = snapshot(api)

    body = make_body(dishes) if make_body else None
    kwargs: dict = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
        kwargs["headers"] = {"content-type": "application/json", **headers}
    elif body is not None:
        kwargs["json"] = body
    response = api.request(method, path, **kwargs)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert snapshot(api) == before


def test_unavailable_items_are_named(api: httpx.Client, dishes: list[dict]) -> None:
    body = order_body(
        dishes,
        items=[{"menu_item_id": dishes[0]["id"], "quantity": 1}, {"menu_item_id": dishes[-1]["id"], "quantity": 1}],
    )
    error = api.post("/orders", json=body).json()["error"]
    assert error["unavailable"] == [{"id": dishes[-1]["id"], "name": "Oysters"}]
    assert "Oysters" in error["message"]
    assert error["fields"] == {"items.1.menu_item_id": "not available"}


def test_disallowed_move_lists_the_allowed_ones(api: httpx.Client, dishes: list[dict]) -> None:
    order = api.post("/orders", json=order_body(dishes)).json()
    error = api.patch(f"/orders/{order['id']}", json={"status": "ready"}).json()["error"]
    assert error["allowed"] == ["preparing", "cancelled"]
    api.patch(f"/orders/{order['id']}", json={"status": "cancelled"})
    error = api.patch(f"/orders/{order['id']}", json={"status": "preparing"}).json()["error"]
    assert error["allowed"] == []


def test_validation_errors_name_their_fields(api: httpx.Client, dishes: list[dict]) -> None:
    body = order_body(dishes, customer_name="", items=[{"menu_item_id": dishes[0]["id"], "quantity": 0}])
    fields = api.post("/orders", json=body).json()["error"]["fields"]
    assert set(fields) == {"customer_name", "items.0.quantity"}
