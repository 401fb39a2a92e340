"""A discount above the cashier's limit, approved by a manager on the till, in a real browser
(Debian's Chromium, headless) against a real server: the panel asks for the manager's name and
password inline, the total drops on the panel and in the recent orders, and the cashier is still
the one signed in. The page also fails on a JS error, a CSP violation or a request off the server.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .browser import screenshot, watching
from .conftest import PASSWORDS, Server, create_menu
from .test_pos_browser import Tills


@pytest.fixture
def tills(browser: Browser) -> Iterator[Tills]:
    yield from watching(Tills, browser)


def test_a_manager_approves_a_cashiers_discount_on_the_till(server: Server, tills: Tills) -> None:
    menu = create_menu(server)
    manager = server.auth("manager")
    for name, comp in (("Loyalty", False), ("Birthday", False), ("Cold food", True)):
        made = httpx.post(f"{server.url}/discount-reasons", json={"name": name, "comp": comp}, headers=manager)
        assert made.status_code == 201
    body = {
        "customer_name": "Grace",
        "channel": "table",
        "table": "7",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 2},
            {"menu_item_id": menu["Lemonade"]["id"], "quantity": 2},
        ],
    }
    order = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"), timeout=10).json()
    assert order["total_cents"] == 3800

    till = tills.open(server)
    page = till.page
    till.watch.allow(r"^console\.error: Failed to load resource: .* 422 .*/pos/orders/[0-9]+/discounts\)$")
    expect(till.recent(order["id"]).locator(".recent-total")).to_have_text("$38.00")
    till.recent(order["id"]).get_by_role("button", name=re.compile("^Discount")).click()
    panel = page.locator("#discounts")
    expect(panel.locator("#discounts-title")).to_have_text(f"Discount or comp · #{order['ticket_no']}")
    page.select_option("#discount-reason", label="Loyalty")
    page.fill("#discount-value", "25")
    page.click("#discount-give")

    # Above the cashier's 10 %: the same form asks for a manager, inline; nothing is given yet.
    expect(page.locator("#approval")).to_be_visible()
    expect(page.locator("#approval-error")).to_contain_text("a manager must approve this")
    expect(page.locator("#discount-total")).to_have_text("$38.00")
    expect(page.locator("#discount-value")).to_have_value("25")
    page.fill("#approval-name", "manager")
    page.fill("#approval-password", "not the password")
    page.click("#discount-give")
    expect(page.locator("#approval-error")).to_contain_text("name or password", ignore_case=True)
    page.fill("#approval-password", PASSWORDS["manager"])
    page.click("#discount-give")

    expect(page.locator(".discount-notice")).to_have_text("Discount given.")
    expect(page.locator("#discount-total")).to_have_text("$28.50")
    given = panel.locator(".discount-given")
    expect(given).to_contain_text("25% · Loyalty · whole order")
    expect(given).to_contain_text("cashier, approved by manager")
    expect(page.locator("#approval")).to_have_count(0)  # the next discount starts without it
    expect(till.recent(order["id"]).locator(".recent-total")).to_have_text("$28.50")  # the stream
    screenshot(page, "pos-discount.png")

    # A comp of the lemonades needs a manager too (comps follow the limit); the form remembers the line.
    lemonade = next(line for line in order["lines"] if line["name"] == "Lemonade")
    page.select_option("#discount-target", value=str(lemonade["id"]))
    page.select_option("#discount-reason", label="Cold food (comp)")
    page.click("#discount-give")
    expect(page.locator("#approval")).to_be_visible()
    expect(page.locator("#discount-target")).to_have_value(str(lemonade["id"]))

    # The approval changed nothing about who is signed in on the till.
    page.reload()
    expect(page).to_have_url(f"{server.url}/pos")
    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT given_by, approved_by, percent_milli FROM order_discounts").fetchall()
    assert rows == [("cashier", "manager", 25000)]
    tills.check()
