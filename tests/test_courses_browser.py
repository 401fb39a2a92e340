"""Courses in a real browser (Debian's Chromium, headless) against a real server: a two-course
ticket sent from the till, its mains held on the kitchen display, fired from the till's recent
orders ("Fire course 2") and shown live on the grill's display; rush from the till."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from .browser import Screens, screenshot
from .conftest import Server
from .test_pos_browser import Tills, menu, screens, tills

__all__ = ["menu", "screens", "tills"]  # (the fixtures, shared with the till's browser tests)


def test_firing_course_two_from_the_till_shows_it_on_the_grill(
    server: Server, menu: dict, screens: Screens, tills: Tills
) -> None:
    courses = {"Sides": 1, "Mains": 2, "Drinks": 0}
    answer = httpx.put(f"{server.url}/menu/categories", json={"courses": courses}, headers=server.auth("manager"))
    assert answer.status_code == 200, answer.text
    grill = screens.open(server, "grill")
    every = screens.open(server)
    till = tills.open(server)
    page = till.page
    till.add("Fries", [("Fries", "1")])
    till.add("Classic Burger", [("Fries", "1"), ("Classic Burger", "1")])
    till.add("Caesar Salad", [("Fries", "1"), ("Classic Burger", "1"), ("Caesar Salad", "1")])
    expect(page.locator("#line-1-course option:checked")).to_have_text("Menu (2)")  # the burger: a main
    page.select_option("#line-2-course", "1")  # the salad as a starter, on this ticket only
    page.fill("#customer_name", "Ada")
    page.check("#channel-table")  # courses pace a table's meal (a counter order is fired whole)
    page.fill("#table", "4")
    page.click("#send")
    expect(till.placed).to_have_text("#1")
    order = httpx.get(f"{server.url}/orders", headers=server.auth("manager")).json()[0]
    assert {line["name"]: line["course"] for line in order["lines"]} == {
        "Fries": 1,
        "Classic Burger": 2,
        "Caesar Salad": 1,
    }
    assert order["held_courses"] == [2]

    # Every station's view: the burger greyed under "Course 2 · held"; the grill has no ticket at all.
    ticket = every.ticket(order["id"])
    expect(ticket.locator(".held h3")).to_have_text("Course 2 · held")
    expect(ticket.locator(".held .item")).to_have_text(["Classic Burger"])
    expect(ticket.locator("button.line .item")).to_have_text(["Fries", "Caesar Salad"])
    every.wait_for_allday([("Caesar Salad", 1), ("Fries", 1)])
    expect(grill.rail).to_have_count(0)
    screenshot(every.page, "kitchen-held.png")

    fire = till.recent(order["id"]).locator("button.fire")
    expect(fire).to_have_text("Fire course 2")
    screenshot(page, "pos-fire.png")
    fire.click()
    expect(grill.ticket(order["id"]).locator(".item")).to_have_text(["Classic Burger"])  # live, from the stream
    grill.wait_for_allday([("Classic Burger", 1)])
    expect(ticket.locator(".held")).to_have_count(0)
    expect(till.recent(order["id"]).locator("button.fire")).to_have_count(0)

    # Rush from the till: the kitchen shows the badge and puts the ticket first.
    later = httpx.post(
        f"{server.url}/orders",
        json={
            "customer_name": "Bo",
            "channel": "counter",
            "items": [{"menu_item_id": menu["Fries"]["id"], "quantity": 1}],
        },
        headers=server.auth("cashier"),
    ).json()
    every.wait_for_states([(order["id"], "new"), (later["id"], "new")])
    till.recent(later["id"]).locator("button.rush").click()
    every.wait_for_states([(later["id"], "new"), (order["id"], "new")])
    expect(every.ticket(later["id"]).locator(".rush-badge")).to_have_text("RUSH")
    expect(till.recent(later["id"]).locator("button.rush")).to_have_attribute("aria-pressed", "true")
    screens.check()
    tills.check()
