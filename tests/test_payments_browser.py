"""Paying at the till in a real browser (Debian's Chromium, headless) against a real server: a
table's bill split three ways, one share in cash (the change shown) and two by card, with a double
click on the last share making one payment; then the cash drawer closed with its count. Every page
also fails on a JS error, a CSP violation or a request off the server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .browser import screenshot, watching
from .conftest import Server, create_menu
from .test_pos_browser import Tills


@pytest.fixture
def tills(browser: Browser) -> Iterator[Tills]:
    yield from watching(Tills, browser)


def _api(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.auth("cashier"), timeout=10)


def test_a_tables_bill_split_three_ways_paid_in_cash_and_by_card(server: Server, tills: Tills) -> None:
    menu = create_menu(server)
    body = {
        "customer_name": "Table 4",
        "channel": "table",
        "table": "4",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 2},
            {"menu_item_id": menu["Fries"]["id"], "quantity": 1},
        ],
    }
    with _api(server) as api:
        order = api.post("/orders", json=body).json()
        assert api.post("/drawers", json={"name": "Till 1", "float_cents": 10000}).status_code == 201
    till = tills.open(server, viewport={"width": 1100, "height": 900})
    page = till.page
    till.recent(order["id"]).get_by_role("link", name=re.compile("^Pay")).click()
    expect(page.locator("#bill-balance")).to_have_text("$35.50")

    page.fill("#guests", "3")
    page.click("#split-button")
    shares = page.locator("#shares li")
    expect(shares).to_have_count(3)
    expect(shares.nth(0)).to_contain_text("$11.84")  # 3550 = 1184 + 1183 + 1183
    expect(shares.nth(2)).to_contain_text("$11.83")

    page.check("input[name=tender][value=cash]")
    page.fill("#tendered", "20")
    page.click("#share-1")
    expect(page.locator("#change")).to_have_text("$8.16")
    expect(page.locator("#bill-balance")).to_have_text("$23.66")
    expect(shares.nth(0)).to_contain_text("paid")

    page.check("input[name=tender][value=card]")
    page.fill("#reference", "T-0042")
    page.click("#share-2")
    expect(page.locator("#pay-done")).to_contain_text("Card $11.83 taken")
    expect(page.locator("#bill-balance")).to_have_text("$11.83")
    screenshot(page, "pos-pay-split.png", full_page=True)

    page.check("input[name=tender][value=card]")
    page.dblclick("#share-3")  # a double click: one payment (one form, one Idempotency-Key)
    expect(page.locator("#bill-closed")).to_have_text("Paid in full")
    expect(page.locator("#payments li")).to_have_count(3)

    with _api(server) as api:
        paid = api.get(f"/orders/{order['id']}").json()
        assert [(p["tender"], p["amount_cents"]) for p in paid["payments"]] == [
            ("cash", 1184),
            ("card", 1183),
            ("card", 1183),
        ]
        assert (paid["balance_cents"], paid["closed"], paid["payments"][1]["reference"]) == (0, True, "T-0042")

    # The drawer: 100.00 float + 11.84 cash; counted 111.00, so 0.84 short.
    page.goto(f"{server.url}/pos/drawers")
    drawer = page.locator("article.drawer")
    expect(drawer.locator(".drawer-expected")).to_have_text("$111.84")
    drawer.locator("input[name=count_10000]").fill("1")
    drawer.locator("input[name=count_1000]").fill("1")
    drawer.locator("input[name=count_100]").fill("1")
    drawer.locator("button.close-drawer").click()
    expect(drawer.locator(".drawer-over-short")).to_have_text("$0.84")
    expect(drawer.locator(".drawer-over-short")).to_have_class(re.compile("short"))
    screenshot(page, "pos-drawer-close.png", full_page=True)
