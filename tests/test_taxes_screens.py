"""The same figures on every screen: the till's ticket, the shop's cart, the tracking page and the
receipt show what the order's answer says (subtotal, each tax, service charge, total)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forkflow.config import Settings
from forkflow.printing.chits import receipt

from .conftest import MENU, Server, running_server
from .escpos_decode import one_chit
from .test_pos import Till
from .test_shop import Customer, total_of

FIGURES = ("subtotal_cents", "tax_cents", "service_charge_cents", "total_cents")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Mains taxed 20 % on top of the price, 10 % service for tables of 2 or more."""
    with running_server(Path(tmp_path_factory.mktemp("screens"))) as server:
        with httpx.Client(base_url=server.url, timeout=20, headers=server.auth("manager")) as api:
            for item in MENU:
                assert api.post("/menu", json=item).status_code == 201
            vat = api.post("/tax-rates", json={"name": "VAT", "percent": 20}).json()
            assert api.put("/menu/categories", json={"taxes": {"Mains": vat["id"]}}).status_code == 200
            settings = {
                "prices_include_tax": False,
                "tax_rounding": "line",
                "service_charge_percent": 10,
                "service_charge_min_guests": 2,
                "cashier_discount_limit_percent": 10,
            }
            assert api.put("/settings/money", json=settings).status_code == 200
        yield server


def menu_of(server: Server) -> dict[str, dict]:
    return {item["name"]: item for item in httpx.get(f"{server.url}/menu", timeout=20).json()}


def rows(html: str) -> list[tuple[str, str]]:
    """The figures' rows of a page, as (label, amount)."""
    return re.findall(r'<div class="bill-row [^"]+"><dt>([^<]+)</dt><dd>([^<]+)</dd></div>', html)


def test_the_tills_ticket_and_the_order_agree(srv: Server) -> None:
    food = menu_of(srv)
    till = Till(srv)
    till.tap(add=food["Classic Burger"]["id"])
    till.tap(add=food["Lemonade"]["id"])
    till.type(customer_name="Bo", channel="table")
    till.tap()
    till.type(table="4", guests="2")
    till.tap()
    # 1550 + 350 = 1900; VAT 20 % of 1550 = 310; service 10 % of 1900 = 190.
    assert rows(till.response.text) == [("Subtotal", "$19.00"), ("VAT 20%", "$3.10"), ("Service charge", "$1.90")]
    assert till.total == "$24.00"
    assert till.send().status_code == 201, till.response.text
    orders = httpx.get(f"{srv.url}/orders", headers=srv.auth("manager"), timeout=20).json()
    placed = next(order for order in orders if order["customer_name"] == "Bo")
    assert (placed["guests"], [placed[key] for key in FIGURES]) == (2, [1900, 310, 190, 2400])

    # Its receipt prints the same rows.
    chit = one_chit(receipt(placed, settings=Settings()))
    assert chit.row("Subtotal").text.endswith(" $19.00")
    assert chit.row("VAT 20%").text.endswith(" $3.10")
    assert chit.row("Service charge").text.endswith(" $1.90")
    assert chit.row("TOTAL").text.endswith(" $24.00")


def test_a_table_of_one_pays_no_service_charge(srv: Server) -> None:
    food = menu_of(srv)
    till = Till(srv)
    till.tap(add=food["Classic Burger"]["id"])
    till.type(customer_name="Cy", channel="table")
    till.tap()
    till.type(table="9", guests="1")
    till.tap()
    assert rows(till.response.text) == [("Subtotal", "$15.50"), ("VAT 20%", "$3.10")]
    assert till.total == "$18.60"


def test_the_shops_cart_and_the_tracking_page_agree_with_the_order(srv: Server) -> None:
    food = menu_of(srv)
    customer = Customer(srv)
    try:
        customer.add(food["Classic Burger"], 2)
        customer.add(food["Fries"])
        cart = customer.cart()
        # Online: no service charge. 3100 + 450; VAT on the burgers only: 620.
        assert rows(cart.text) == [("Subtotal", "$35.50"), ("VAT 20%", "$6.20")]
        assert total_of(cart) == "$41.70"
        form = customer.checkout_form()
        placed = customer.post("/checkout", {**form, "customer_name": "Di"}, htmx=False)
        assert placed.status_code == 303, placed.text
        tracking = customer.http.get(placed.headers["location"])
    finally:
        customer.close()
    assert rows(tracking.text) == [("Subtotal", "$35.50"), ("VAT 20%", "$6.20")]
    assert "41.70" in tracking.text
    orders = httpx.get(f"{srv.url}/orders", headers=srv.auth("manager"), timeout=20).json()
    order = next(order for order in orders if order["customer_name"] == "Di")
    assert [order[key] for key in FIGURES] == [3550, 620, 0, 4170]
