"""The same order on the till, the shop, the tracking page, the receipt and the day's report in each
currency the restaurant may keep (FORKFLOW_CURRENCY, FORKFLOW_LOCALE): money as its locale writes it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from forkflow.config import Settings
from forkflow.formats import currency, use_currency
from forkflow.money.currency import Currency
from forkflow.printing.chits import receipt

from .conftest import running_server
from .escpos_decode import one_chit
from .test_reports_api import signed_in

NBSP = "\xa0"
# (currency, locale, a burger's 1550 minor units, the order's 3100, as the screens must show them)
CURRENCIES = [
    ("EUR", "de_DE", f"15,50{NBSP}€", f"31,00{NBSP}€"),
    ("USD", "en_US", "$15.50", "$31.00"),
    ("GBP", "en_GB", "£15.50", "£31.00"),
    ("JPY", "ja_JP", "￥1,550", "￥3,100"),  # no minor unit: 1550 is ¥1,550
    ("CHF", "de_CH", f"CHF{NBSP}15.50", f"CHF{NBSP}31.00"),
]


@pytest.fixture
def restore_currency():  # type: ignore[no-untyped-def]
    before = currency()
    yield
    use_currency(before)


@pytest.mark.parametrize(("code", "locale", "burger", "total"), CURRENCIES, ids=[c[0] for c in CURRENCIES])
def test_the_same_order_reads_in_the_restaurants_currency_everywhere(
    tmp_path: Path, code: str, locale: str, burger: str, total: str, restore_currency: None
) -> None:
    env = {"FORKFLOW_CURRENCY": code, "FORKFLOW_LOCALE": locale}
    with running_server(tmp_path, env=env) as server:
        manager = server.auth("manager")
        item = {"name": "Burger", "price_cents": 1550, "category": "Mains", "station": "grill"}
        made = httpx.post(f"{server.url}/menu", json=item, headers=manager, timeout=10).json()
        body = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": made["id"], "quantity": 2}]}
        order = httpx.post(f"{server.url}/orders", json=body, headers=manager, timeout=10).json()
        assert order["total_cents"] == 3100
        assert burger in httpx.get(f"{server.url}/", timeout=10).text  # the shop's menu
        assert total in httpx.get(f"{server.url}{order['tracking_url']}", timeout=10).text  # the customer's page
        till = signed_in(server, "cashier")
        try:
            assert burger in till.get("/pos").text and total in till.get("/pos").text  # the menu, the recent orders
        finally:
            till.close()
        report = signed_in(server, "manager")
        try:
            assert f'id="total-sales">{total}<' in report.get("/manage/reports").text
        finally:
            report.close()
    use_currency(Currency(code, locale))  # as the server process did at start
    chit = one_chit(receipt(order, settings=Settings(currency=Currency(code, locale))))
    printed = chit.row("TOTAL").text
    assert printed.replace(NBSP, " ").endswith(total.replace(NBSP, " ").replace("￥", "¥"))


def test_a_price_is_typed_with_the_currencys_decimals(tmp_path: Path, restore_currency: None) -> None:
    from forkflow.formats import amount_cents, amount_typed

    use_currency(Currency("JPY", "ja_JP"))
    assert amount_cents("1550") == 1550 and amount_typed(1550) == "1550"
    with pytest.raises(ValueError, match="like 1250"):
        amount_cents("15.50")  # yen have no decimals
    use_currency(Currency("EUR", "de_DE"))
    assert amount_cents("15,50") == amount_cents("15.50") == amount_cents("15,50 €") == 1550
    assert amount_typed(1550) == "15.50"
    with pytest.raises(ValueError):
        amount_cents("15,505")


def test_times_read_in_the_locale(restore_currency: None) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from forkflow.formats import local_time

    friday = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
    use_currency(Currency("EUR", "de_DE"))
    assert local_time(friday, ZoneInfo("Europe/Berlin"), "day") == "Fr., 19:30"
    use_currency(Currency("USD", "en_US"))
    assert local_time(friday, ZoneInfo("Europe/Berlin"), "day") == "Fri 19:30"
    assert local_time(friday, ZoneInfo("Europe/Berlin"), "stamp") == "2026-12-04 19:30:00"


def test_percents_read_in_the_locale(restore_currency: None) -> None:
    from forkflow.formats import percent

    use_currency(Currency("EUR", "de_DE"))
    assert (percent(7.5), percent(8.875), percent(20)) == (f"7,5{NBSP}%", f"8,875{NBSP}%", f"20{NBSP}%")
    use_currency(Currency("EUR", "fr_FR"))
    assert percent(7.5).replace("\u202f", NBSP) == f"7,5{NBSP}%"  # (a narrow space in newer CLDR)
    use_currency(Currency("USD", "en_US"))
    assert (percent(7.5), percent(8.875), percent(20), percent(100)) == ("7.5%", "8.875%", "20%", "100%")


def test_tax_and_discount_percents_read_in_the_locale_on_the_screens(tmp_path: Path, restore_currency: None) -> None:
    """A 7.5 % tax and a 12.5 % discount in de_DE: "7,5 %" and "12,5 %" on the console's tax list,
    the till's discount figures, the day's report and the printed receipt."""
    env = {"FORKFLOW_CURRENCY": "EUR", "FORKFLOW_LOCALE": "de_DE"}
    with running_server(tmp_path, env=env) as server:
        manager = server.auth("manager")

        def post(path: str, body: dict) -> dict:
            response = httpx.post(f"{server.url}{path}", json=body, headers=manager, timeout=10)
            assert response.status_code in (200, 201), response.text
            return dict(response.json())

        rate = post("/tax-rates", {"name": "MwSt", "percent": 7.5})
        item = {
            "name": "Burger",
            "price_cents": 1000,
            "category": "Mains",
            "station": "grill",
            "tax_rate_id": rate["id"],
        }
        made = post("/menu", item)
        order = post(
            "/orders",
            {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": made["id"], "quantity": 1}]},
        )
        reason = post("/discount-reasons", {"name": "Stammgast"})
        order = post(
            f"/orders/{order['id']}/discounts", {"kind": "percent", "percent": 12.5, "reason_id": reason["id"]}
        )
        seven, twelve = f"7,5{NBSP}%", f"12,5{NBSP}%"
        console = signed_in(server, "manager")
        try:
            assert f'<td class="num">{seven}</td>' in console.get("/manage").text  # the tax rates
            assert f"MwSt {seven}" in console.get("/manage/reports").text  # taxes by rate
            figures = console.get(f"/pos/orders/{order['id']}/discounts/figures").text
            assert f"{twelve} · Stammgast" in figures and f"MwSt {seven}" in figures
        finally:
            console.close()
    use_currency(Currency("EUR", "de_DE"))  # as the server process did at start
    chit = one_chit(receipt(order, settings=Settings(currency=Currency("EUR", "de_DE"))))
    assert "MwSt 7,5 %" in chit.row("MwSt").text.replace(NBSP, " ")
