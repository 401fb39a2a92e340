"""A customer chooses a pickup time at checkout and sees it on the tracking page (real Chromium, real
server); the order waits off the kitchen until its release. Screenshot: docs/shop-pickup.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .conftest import Server, create_menu
from .test_shop_browser import DESKTOP, Customers, add, checkout, orders, screenshot


@pytest.fixture
def customers(browser: Browser, server: Server) -> Iterator[Customers]:
    opened = Customers(browser, server)
    try:
        yield opened
        opened.check()
    finally:
        opened.close()


def test_a_customer_chooses_a_pickup_time_and_the_tracking_page_shows_it(server: Server, customers: Customers) -> None:
    menu = create_menu(server)
    burger, fries = menu["Classic Burger"], menu["Fries"]
    page = customers.open("/", viewport=DESKTOP)
    add(page, burger)
    add(page, fries)
    checkout(page, "Ada Lovelace")
    when = page.get_by_label("Pickup time")
    expect(when.locator("option").first).to_have_text(re.compile(r"^As soon as possible \(ready around \d\d:\d\d\)$"))
    offered = when.locator("option").all_inner_texts()
    assert len(offered) > 4 and all(re.fullmatch(r"Pickup at (Today|Tomorrow) \d\d:[0-5][05]", t) for t in offered[1:])
    choice = offered[4]  # an hour or so from now
    when.select_option(label=choice)
    screenshot(page, "shop-pickup.png")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/track/[\w-]+$"))
    page.wait_for_function("() => window.__kds.open >= 1")

    (order,) = orders(server)
    pickup = datetime.fromisoformat(order["pickup_at"].replace("Z", "+00:00"))
    clock = choice.rsplit(" ", 1)[1]
    assert pickup.strftime("%H:%M") == clock  # (the test server's local time is UTC)
    assert order["held"] is True and order["release_at"] < order["pickup_at"]
    expect(page.locator("#track-status .pickup-time")).to_have_text(pickup.strftime("%a %H:%M"))
    expect(page.locator("#track-status .pickup")).to_contain_text("Ready for your pickup at")
    kitchen = httpx.get(f"{server.url}/kitchen/orders", headers=server.auth("kitchen")).json()
    assert order["id"] not in [o["id"] for o in kitchen]  # held until its release

    # Sent to the kitchen now: the page follows it live, and still shows the pickup time.
    sent = httpx.post(f"{server.url}/orders/{order['id']}/release", headers=server.auth("kitchen"))
    assert sent.status_code == 200
    httpx.patch(
        f"{server.url}/orders/{order['id']}", json={"status": "preparing"}, headers=server.auth("kitchen")
    ).raise_for_status()
    expect(page.locator("#track-status .headline")).to_have_text("The kitchen is making your order")
    expect(page.locator("#track-status .pickup-time")).to_have_text(pickup.strftime("%a %H:%M"))
