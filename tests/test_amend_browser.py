"""Changes after sending in a real browser (Debian's Chromium, headless) against a real server: the
till reopens a sent order, voids a line with a reason and sends an added one; the kitchen display,
open all along, shows the one ticket changed in place (VOID with the reason, ADD with its revision)
and its all-day counts follow. Every page also fails on a JS error, a CSP violation or a request off
the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .browser import INIT_SCRIPT, TIMEOUT_MS, Screens, Watch, screenshot, watching
from .conftest import Server, create_menu
from .test_pos_browser import Tills


@pytest.fixture
def screens(browser: Browser) -> Iterator[Screens]:
    yield from watching(Screens, browser)


@pytest.fixture
def tills(browser: Browser) -> Iterator[Tills]:
    yield from watching(Tills, browser)


def test_a_line_voided_and_one_added_on_the_till_change_the_one_ticket_on_the_kitchen_display(
    server: Server, screens: Screens, tills: Tills
) -> None:
    menu = create_menu(server)
    body = {
        "customer_name": "Grace",
        "channel": "table",
        "table": "7",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 2, "notes": "one without pickles"},
            {"menu_item_id": menu["Fries"]["id"], "quantity": 2},
            {"menu_item_id": menu["Lemonade"]["id"], "quantity": 1},
        ],
    }
    placed = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"), timeout=10)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    fries = order["lines"][1]
    display = screens.open(server, viewport={"width": 1100, "height": 640})
    ticket = display.ticket(order["id"])
    expect(ticket).to_be_visible()
    display.wait_for_allday([("Classic Burger", 2), ("Fries", 2), ("Lemonade", 1)])
    display.page.evaluate("window.__sameDocument = true")

    till = tills.open(server)
    page = till.page
    till.recent(order["id"]).get_by_role("button", name=re.compile("Add lines to or void")).click()
    expect(page.locator("#ticket h2")).to_have_text(f"Add to #{order['ticket_no']}")
    sent = page.locator(f"#sent-{fries['id']}")
    expect(sent).to_contain_text("2× Fries")
    expect(page.locator("#customer_name")).to_have_count(0)  # the order's own name, table and allergies

    # Void asks for the reason inline; without one it is refused on the ticket (a 422 the browser
    # logs), nothing written.
    till.watch.allow(r"^console\.error: Failed to load resource: .* 422 .*/pos/void\)$")
    page.click(f"#void-{fries['id']}")
    page.click(f"#void-{fries['id']}-send")
    expect(page.locator(f"#void-{fries['id']}-reason-error")).to_be_visible()
    page.fill(f"#void-{fries['id']}-reason", "sent back: cold")
    page.click(f"#void-{fries['id']}-send")
    expect(sent).to_have_class(re.compile(r"\bvoided\b"))
    expect(sent.locator(".void-tag")).to_have_text("VOID")
    expect(sent.locator(".void-reason")).to_have_text("sent back: cold")

    # The kitchen sees the same ticket, changed in place: the fries struck through, VOID and why.
    voided = ticket.locator(f'.line.voided[data-line-id="{fries["id"]}"]')
    expect(voided.locator(".amend-void")).to_have_text("VOID")
    expect(voided.locator(".void-reason")).to_have_text("sent back: cold")
    assert "line-through" in voided.locator(".item").evaluate("e => getComputedStyle(e).textDecorationLine")
    display.wait_for_allday([("Classic Burger", 2), ("Lemonade", 1)])

    # Added lines go out as one more revision of the same order.
    till.add("Caesar Salad", [("Caesar Salad", "1")])
    page.click("#send")
    expect(page.locator("#placed .placed-label")).to_have_text("Added to ticket")
    expect(till.placed).to_have_text(f"#{order['ticket_no']}")
    added = ticket.locator("li.line-add")
    expect(added.locator(".amend-add")).to_have_text("ADD · rev 3")
    expect(added.locator(".item")).to_have_text("Caesar Salad")
    expect(ticket.locator(".revision")).to_have_text("rev 3")
    display.wait_for_allday([("Classic Burger", 2), ("Caesar Salad", 1), ("Lemonade", 1)])
    assert display.page.evaluate(f"document.querySelectorAll('#ticket-{order['id']}').length") == 1
    expect(display.rail).to_have_count(1)
    assert display.page.evaluate("window.__sameDocument === true"), "changed live, not by a reload"

    amended = httpx.get(f"{server.url}/orders/{order['id']}", headers=server.auth("cashier"), timeout=10).json()
    assert (amended["revision"], amended["total_cents"]) == (3, 2 * 1550 + 350 + 1200)
    expect(till.recent(order["id"]).locator(".recent-total")).to_have_text("$46.50")

    ticket.scroll_into_view_if_needed()
    ticket.evaluate("t => t.classList.remove('amended', 'arrived')")
    screenshot(display.page, "kitchen-amend.png")
    screens.check()
    tills.check()


def test_the_tracking_page_strikes_a_voided_line_through_and_shows_an_added_one_live(
    server: Server, browser: Browser
) -> None:
    menu = create_menu(server)
    body = {
        "customer_name": "Ada",
        "channel": "online",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 1},
            {"menu_item_id": menu["Fries"]["id"], "quantity": 1},
        ],
    }
    placed = httpx.post(f"{server.url}/orders", json=body, timeout=10)
    assert placed.status_code == 201, placed.text
    tracking = placed.json()["tracking_url"]
    (order,) = httpx.get(f"{server.url}/orders", headers=server.auth("cashier"), timeout=10).json()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        watch = Watch(page, server.url)
        page.goto(f"{server.url}{tracking}")
        page.wait_for_function("() => window.__kds.open >= 1")  # the page's stream is open
        expect(page.locator(".cart-total strong")).to_have_text("$20.00")
        cashier = server.auth("cashier")
        fries = order["lines"][1]["id"]
        voided = httpx.post(
            f"{server.url}/orders/{order['id']}/lines/{fries}/void", json={"reason": "out of oil"}, headers=cashier
        )
        assert voided.status_code == 200, voided.text
        line = page.locator(".track-lines > li", has_text="Fries")
        expect(line).to_have_class("voided")
        expect(line.locator(".void-word")).to_have_text("Removed")
        assert "line-through" in line.locator(".name").evaluate("e => getComputedStyle(e).textDecorationLine")
        expect(page.locator(".cart-total strong")).to_have_text("$15.50")
        more = {"items": [{"menu_item_id": menu["Lemonade"]["id"], "quantity": 2}]}
        assert httpx.post(f"{server.url}/orders/{order['id']}/lines", json=more, headers=cashier).status_code == 200
        expect(page.locator(".track-lines > li .name")).to_have_text(["Classic Burger", "Fries", "Lemonade"])
        expect(page.locator(".cart-total strong")).to_have_text("$22.50")
        assert "out of oil" not in page.content(), "the reason is the staff's"
        assert not watch.unexpected()
    finally:
        context.close()
