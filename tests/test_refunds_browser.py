"""Refunds at the till in a real browser (Debian's Chromium, headless) against a real server: a
table paid by card and a drink by cash; part of the card refunded with a manager's approval typed on
the cashier's screen (a wrong password first, said inline), then the paid drink voided and refunded
to the cash. A second till on the same bill follows live. Every page also fails on a JS error, a
CSP violation or a request off the server."""

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

REFUSED = r"^console\.error: Failed to load resource: .* 422 .*/pos/orders/[0-9]+/refunds\)$"


@pytest.fixture
def tills(browser: Browser) -> Iterator[Tills]:
    yield from watching(Tills, browser)


def test_a_cashier_refunds_part_of_a_card_payment_and_voids_a_paid_cash_line(server: Server, tills: Tills) -> None:
    menu = create_menu(server)
    body = {
        "customer_name": "Table 4",
        "channel": "table",
        "table": "4",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 2},
            {"menu_item_id": menu["Fries"]["id"], "quantity": 1},
            {"menu_item_id": menu["Lemonade"]["id"], "quantity": 1},
        ],
    }
    with httpx.Client(base_url=server.url, headers=server.auth("cashier"), timeout=10) as api:
        order = api.post("/orders", json=body).json()
        assert api.post("/drawers", json={"name": "Till 1", "float_cents": 10000}).status_code == 201
    lemonade = next(line for line in order["lines"] if line["name"] == "Lemonade")
    pay_url = f"{server.url}/pos/orders/{order['id']}/pay"

    other = tills.open(server).page  # a second till with the same bill open
    other.goto(pay_url)
    other.wait_for_function("() => window.__kds.open >= 1")
    till = tills.open(server, viewport={"width": 1100, "height": 900})
    till.watch.allow(REFUSED)
    page = till.page
    till.recent(order["id"]).get_by_role("link", name=re.compile("^Pay")).click()
    expect(page.locator("#bill-balance")).to_have_text("$39.00")

    # The lemonade by cash (ticked), the rest by card with a tip: the bill is paid in full.
    page.check("input[name=tender][value=cash]")
    page.check(f"input[name=line_ids][value='{lemonade['id']}']")
    page.click("#pay-items")
    expect(page.locator("#bill-balance")).to_have_text("$35.50")
    page.check("input[name=tender][value=card]")
    page.fill("#tip", "2")
    page.fill("#reference", "T-0042")
    page.click("#pay-button")
    expect(page.locator("#bill-closed")).to_have_text("Paid in full")
    expect(other.locator("#bill-closed")).to_have_text("Paid in full")
    with httpx.Client(base_url=server.url, headers=server.auth("cashier"), timeout=10) as api:
        cash, card = api.get(f"/orders/{order['id']}").json()["payments"]

    # Part of the card back, with the manager's approval: a wrong password is said inline first.
    page.click(f"#refund-payment-{card['id']}")
    expect(page.locator("#refund-title")).to_have_text("Refund card $35.50")
    expect(page.locator("#refund-amount")).to_have_value("35.50")
    page.fill("#refund-amount", "5")
    page.fill("#refund-tip", "2")
    page.fill("#refund-reason", "Burger overcooked")
    page.fill("#refund-approval-name", "manager")
    page.fill("#refund-approval-password", "not the password")
    page.click("#refund-give")
    expect(page.locator("#refund-approval-error")).to_contain_text("name or password", ignore_case=True)
    expect(page.locator("#refund-amount")).to_have_value("5")
    expect(page.locator("#bill-paid")).to_have_text("$39.00")
    page.fill("#refund-approval-password", PASSWORDS["manager"])
    page.click("#refund-give")
    expect(page.locator("#refund-done")).to_have_text("$7.00 refunded to card.")
    expect(page.locator("#bill-refunded")).to_have_text("$5.00")
    expect(page.locator("#bill-paid")).to_have_text("$34.00")
    expect(page.locator(f"#payment-{card['id']} .payment-refunded")).to_have_text("refunded $5.00 + tip $2.00")
    expect(page.locator("#refunds")).to_contain_text("Burger overcooked")
    expect(page.locator("#refunds")).to_contain_text("cashier, approved by manager")
    expect(page.locator("#refund-form")).to_have_count(0)
    expect(other.locator("#bill-refunded")).to_have_text("$5.00")  # the other till, live

    # A form opened by mistake is cancelled: the panel as it was, nothing written.
    fries = next(line for line in order["lines"] if line["name"] == "Fries")
    page.click(f"#void-refund-{fries['id']}")
    expect(page.locator("#refund-title")).to_have_text("Void & refund 1 × Fries")
    page.click("#refund-cancel")
    expect(page.locator("#refund-form")).to_have_count(0)
    expect(page.locator(".pay-nav")).to_have_count(1)  # the panel, not a page inside it

    # The paid lemonade voided and refunded to the cash it was paid with, in one write.
    page.click(f"#void-refund-{lemonade['id']}")
    expect(page.locator("#refund-title")).to_have_text("Void & refund 1 × Lemonade")
    expect(page.locator("#refund-payment")).to_have_value(str(cash["id"]))
    page.fill("#refund-reason", "Flat")
    page.fill("#refund-approval-name", "manager")
    page.fill("#refund-approval-password", PASSWORDS["manager"])
    screenshot(page, "pos-refund.png", full_page=True)
    page.dblclick("#refund-give")  # a double click: one refund (one form, one Idempotency-Key)
    expect(page.locator("#refund-done")).to_have_text(
        "1 × Lemonade voided; $3.50 refunded to cash: give it back from the drawer."
    )
    expect(page.locator("#bill-total")).to_have_text("$35.50")
    expect(page.locator("#bill-refunded")).to_have_text("$8.50")
    expect(page.locator("#bill-balance")).to_have_text("$0.00")
    expect(page.locator("#bill-closed")).to_have_text("Paid in full")
    expect(page.locator(f"#void-refund-{lemonade['id']}")).to_have_count(0)
    expect(page.locator("#refunds li")).to_have_count(2)
    expect(other.locator("#bill-refunded")).to_have_text("$8.50")

    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT payment_id, amount_cents, tip_cents, line_id, given_by, approved_by FROM refunds")
        assert rows.fetchall() == [
            (card["id"], 500, 200, None, "cashier", "manager"),
            (cash["id"], 350, 0, lemonade["id"], "cashier", "manager"),
        ]
    page.reload()
    expect(page).to_have_url(pay_url)  # the cashier is still the one signed in
    tills.check()
