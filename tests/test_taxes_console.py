"""The console's "Taxes & charges": tax rates, each category's rate and the money settings through
its forms, refused input shown inline with nothing written."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import MENU, Server

HX = {"HX-Request": "true"}


@pytest.fixture
def console(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20, headers={**server.auth("manager"), **HX}) as client:
        for item in MENU:
            assert client.post("/menu", json=item).status_code == 201
        yield client


def test_tax_rates_from_the_console(console: httpx.Client) -> None:
    page = console.get("/manage", headers={"HX-Request": ""})
    assert "Taxes &amp; charges" in page.text and "No tax rates yet" in page.text

    refused = console.post("/manage/taxes", data={"name": "VAT", "percent": "20.0001"})
    assert refused.status_code == 422
    assert 'id="rate-percent-error"' in refused.text and 'value="20.0001"' in refused.text
    assert console.get("/tax-rates").json() == {"tax_rates": []}

    added = console.post("/manage/taxes", data={"name": "VAT", "percent": "20"})
    assert added.status_code == 200 and "Added VAT." in added.text and "20%" in added.text
    (vat,) = console.get("/tax-rates").json()["tax_rates"]
    twice = console.post("/manage/taxes", data={"name": "VAT", "percent": "5"})
    assert twice.status_code == 409 and "already exists" in twice.text

    edited = console.post("/manage/taxes", data={"id": str(vat["id"]), "name": "VAT", "percent": "8,875"})
    assert edited.status_code == 200
    assert console.get("/tax-rates").json()["tax_rates"][0]["percent"] == 8.875

    chosen = console.post(
        "/manage/taxes/categories", data={"category": ["Mains", "Drinks"], "rate": [str(vat["id"]), ""]}
    )
    assert chosen.status_code == 200, chosen.text
    rates = {c["name"]: c["tax_rate_id"] for c in console.get("/menu/categories").json()["categories"]}
    assert rates["Mains"] == vat["id"] and rates["Drinks"] is None
    unknown = console.post("/manage/taxes/categories", data={"category": ["Mains"], "rate": ["9999"]})
    assert unknown.status_code == 422 and "no tax rate 9999" in unknown.text

    removed = console.post(f"/manage/taxes/{vat['id']}/remove")
    assert removed.status_code == 200 and "No tax rates yet" in removed.text
    assert all(c["tax_rate_id"] is None for c in console.get("/menu/categories").json()["categories"])


def test_money_settings_from_the_console(console: httpx.Client) -> None:
    before = console.get("/settings/money").json()
    refused = console.post(
        "/manage/money",
        data={"tax_rounding": "line", "service_charge_percent": "101", "cashier_discount_limit_percent": "10"},
    )
    assert refused.status_code == 422 and 'id="money-service_charge_percent-error"' in refused.text
    assert console.get("/settings/money").json() == before
    saved = console.post(
        "/manage/money",
        data={
            "prices_include_tax": "on",
            "tax_rounding": "order",
            "service_charge_percent": "12,5",
            "service_charge_min_guests": "6",
            "cashier_discount_limit_percent": "15",
        },
    )
    assert saved.status_code == 200 and "Orders placed from now on" in saved.text
    assert console.get("/settings/money").json() == {
        "prices_include_tax": True,
        "tax_rounding": "order",
        "service_charge_percent": 12.5,
        "service_charge_min_guests": 6,
        "cashier_discount_limit_percent": 15,
    }
