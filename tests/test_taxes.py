"""Tax rates, the money settings and what orders cost, through the API of a real server: bad input
changes nothing, lines copy their tax, orders their terms, and settings never reprice an order."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import MENU, Server, running_server

SETTINGS = {
    "prices_include_tax": False,
    "tax_rounding": "line",
    "service_charge_percent": 0,
    "service_charge_min_guests": None,
    "cashier_discount_limit_percent": 10,
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(Path(tmp_path_factory.mktemp("taxes"))) as server:
        yield server


@pytest.fixture(scope="module")
def api(srv: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=20, headers=srv.auth("manager")) as client:
        yield client


@pytest.fixture(scope="module")
def dishes(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {item["name"]: api.post("/menu", json=item).json() for item in MENU}


def money_events(srv: Server) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(srv.db) as db:
        rows = db.execute("SELECT type, payload FROM events WHERE topic = 'money' ORDER BY id").fetchall()
    return [(kind, json.loads(payload)) for kind, payload in rows]


def place(api: httpx.Client, dishes: dict[str, dict[str, Any]], **fields: Any) -> dict[str, Any]:
    items = [
        {"menu_item_id": dishes["Classic Burger"]["id"], "quantity": 2},
        {"menu_item_id": dishes["Fries"]["id"], "quantity": 1},
        {"menu_item_id": dishes["Lemonade"]["id"], "quantity": 1},
    ]
    response = api.post("/orders", json={"customer_name": "Ada", "channel": "counter", "items": items, **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "VAT", "percent": 100.0001}, "percent"),
        ({"name": "VAT", "percent": 8.8751}, "percent"),
        ({"name": "VAT", "percent": -1}, "percent"),
        ({"name": "VAT", "percent": "8"}, "percent"),
        ({"name": "VAT"}, "percent"),
        ({"name": "", "percent": 8}, "name"),
        ({"name": "x" * 41, "percent": 8}, "name"),
    ],
)
def test_bad_tax_rates_are_422_and_nothing_is_written(
    api: httpx.Client, srv: Server, body: dict[str, Any], field: str
) -> None:
    before, events = api.get("/tax-rates").json(), money_events(srv)
    response = api.post("/tax-rates", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"]
    assert api.get("/tax-rates").json() == before
    assert money_events(srv) == events


def test_tax_rates_are_managed_by_managers_with_their_events(api: httpx.Client, srv: Server) -> None:
    cashier = {"Authorization": srv.auth("cashier")["Authorization"]}
    assert api.post("/tax-rates", json={"name": "Temp", "percent": 5}, headers=cashier).status_code == 403
    made = api.post("/tax-rates", json={"name": "Temp", "percent": 5.5})
    assert made.status_code == 201, made.text
    rate = made.json()
    assert (rate["name"], rate["percent"], made.headers["location"]) == ("Temp", 5.5, f"/tax-rates/{rate['id']}")
    duplicate = api.post("/tax-rates", json={"name": "Temp", "percent": 7})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["fields"] == {"name": "already exists"}
    changed = api.put(f"/tax-rates/{rate['id']}", json={"name": "Temp", "percent": 7.25}).json()
    assert changed["percent"] == 7.25
    assert api.put("/tax-rates/9999", json={"name": "Nope", "percent": 1}).status_code == 404
    assert api.delete(f"/tax-rates/{rate['id']}").status_code == 204
    assert api.delete(f"/tax-rates/{rate['id']}").status_code == 404
    kinds = [(kind, payload["by"], payload["tax_rate"]["percent"]) for kind, payload in money_events(srv)[-3:]]
    assert kinds == [
        ("tax.rate_created", "manager", 5.5),
        ("tax.rate_updated", "manager", 7.25),
        ("tax.rate_deleted", "manager", 7.25),
    ]
    assert all(payload["order_id"] is None and payload["business_date"] for _, payload in money_events(srv))


def test_unknown_rate_ids_are_422_and_nothing_is_written(api: httpx.Client, dishes: dict[str, dict[str, Any]]) -> None:
    before = api.get("/menu/categories").json()
    response = api.put("/menu/categories", json={"taxes": {"Mains": 9999}})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"taxes.Mains": "no tax rate 9999"}
    assert api.get("/menu/categories").json() == before
    fries = dishes["Fries"]
    sent = {key: fries[key] for key in ("name", "price_cents", "category", "station")}
    response = api.put(f"/menu/{fries['id']}", json={**sent, "tax_rate_id": 9999})
    assert response.status_code == 422
    assert api.get(f"/menu/{fries['id']}").json()["tax_rate_id"] is None


def test_bad_money_settings_are_422_and_nothing_is_written(api: httpx.Client) -> None:
    before = api.get("/settings/money").json()
    for bad in (
        {"service_charge_percent": 100.5},
        {"service_charge_percent": 12.3456},
        {"tax_rounding": "bankers"},
        {"service_charge_min_guests": 0},
        {"cashier_discount_limit_percent": -5},
        {"prices_include_tax": "yes"},
    ):
        response = api.put("/settings/money", json={**SETTINGS, **bad})
        assert response.status_code == 422, bad
        assert set(response.json()["error"]["fields"]) == set(bad)
    assert api.get("/settings/money").json() == before


def test_orders_are_priced_under_the_settings_they_were_placed_with(
    api: httpx.Client, srv: Server, dishes: dict[str, dict[str, Any]]
) -> None:
    vat = api.post("/tax-rates", json={"name": "VAT", "percent": 20}).json()
    city = api.post("/tax-rates", json={"name": "City", "percent": 8.875}).json()
    assert api.put("/menu/categories", json={"taxes": {"Mains": vat["id"], "Drinks": vat["id"]}}).status_code == 200
    lemonade = dishes["Lemonade"]
    sent = {key: lemonade[key] for key in ("name", "price_cents", "category", "station")}
    assert (
        api.put(f"/menu/{lemonade['id']}", json={**sent, "tax_rate_id": city["id"]}).json()["tax_rate_id"] == city["id"]
    )
    assert api.put("/settings/money", json=SETTINGS).status_code == 200

    # Exclusive, per line: burgers 3100 at 20 % = 620; fries untaxed; lemonade 350 at 8.875 % = 31.0625 -> 31.
    exclusive = place(api, dishes)
    assert [line["tax"] for line in exclusive["lines"]] == [
        {"name": "VAT", "percent": 20},
        None,
        {"name": "City", "percent": 8.875},
    ]
    assert exclusive["taxes"] == [
        {"name": "VAT", "percent": 20, "taxable_cents": 3100, "tax_cents": 620},
        {"name": "City", "percent": 8.875, "taxable_cents": 350, "tax_cents": 31},
    ]
    figures = ("subtotal_cents", "discount_cents", "tax_cents", "service_charge_cents", "total_cents")
    assert [exclusive[key] for key in figures] == [3900, 0, 651, 0, 4551]
    assert exclusive["prices_include_tax"] is False and exclusive["discounts"] == []

    inclusive_settings = {
        **SETTINGS,
        "prices_include_tax": True,
        "service_charge_percent": 10,
        "service_charge_min_guests": 4,
    }
    changed = api.put("/settings/money", json=inclusive_settings)
    assert changed.json() == inclusive_settings
    kind, payload = money_events(srv)[-1]
    assert (kind, payload["by"], payload["before"], payload["after"]) == (
        "tax.settings_changed",
        "manager",
        SETTINGS,
        inclusive_settings,
    )
    # Inclusive: 3100 × 20/120 = 516.67 -> 517; 350 × 8.875/108.875 = 28.53 -> 29; the total is the menu's.
    # A table of 4: 10 % service on 3900 = 390, untaxed.
    table = place(api, dishes, channel="table", table="7", guests=4)
    assert table["guests"] == 4
    assert [table[key] for key in figures] == [3900, 0, 546, 390, 4290]
    assert table["taxes"][0] == {"name": "VAT", "percent": 20, "taxable_cents": 2583, "tax_cents": 517}
    small_table = place(api, dishes, channel="table", table="8", guests=3)
    assert [small_table[key] for key in figures] == [3900, 0, 546, 0, 3900]

    # The first order keeps what it was placed under.
    assert {key: api.get(f"/orders/{exclusive['id']}").json()[key] for key in figures} == {
        key: exclusive[key] for key in figures
    }

    # Voiding a line and adding one reprice the order under its own terms.
    voided = api.post(f"/orders/{table['id']}/lines/{table['lines'][0]['id']}/void", json={"reason": "changed mind"})
    assert voided.status_code == 200, voided.text
    assert [voided.json()[key] for key in figures] == [800, 0, 29, 80, 880]
    added = api.post(f"/orders/{table['id']}/lines", json={"items": [{"menu_item_id": lemonade["id"], "quantity": 2}]})
    # Lemonade 700 × 8.875/108.875 = 57.06 -> 57, plus 29: 86; service 10 % of 1500 = 150.
    assert [added.json()[key] for key in figures] == [1500, 0, 86, 150, 1650]

    # Removing a rate: lines ordered from now on are untaxed, those before keep theirs.
    assert api.delete(f"/tax-rates/{city['id']}").status_code == 204
    assert api.get(f"/menu/{lemonade['id']}").json()["tax_rate_id"] is None
    after = place(api, dishes)
    assert [line["tax"]["name"] if line["tax"] else None for line in after["lines"]] == ["VAT", None, "VAT"]
    assert api.get(f"/orders/{exclusive['id']}").json()["taxes"] == exclusive["taxes"]


def test_guests_are_one_to_ninety_nine(api: httpx.Client, dishes: dict[str, dict[str, Any]]) -> None:
    items = [{"menu_item_id": dishes["Fries"]["id"], "quantity": 1}]
    for guests in (0, 100, "4", 2.5):
        body = {"customer_name": "Ada", "channel": "table", "table": "3", "items": items, "guests": guests}
        response = api.post("/orders", json=body)
        assert response.status_code == 422, guests
        assert "guests" in response.json()["error"]["fields"]
