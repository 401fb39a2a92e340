"""The manager's console in a real browser (Debian's Chromium, headless) against a real server.

Every test also fails on a JS error, a CSP violation or a request off the server (`check`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .browser import INIT_SCRIPT, TIMEOUT_MS, Watch, screenshot, serving, watching
from .conftest import PASSWORDS, Server, create_menu

# A zone 5:45 off UTC: an hour bucket in UTC time would be visibly wrong.
ZONE = "Asia/Kathmandu"


# Fixtures


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db", {"FORKFLOW_TIMEZONE": ZONE})


@pytest.fixture
def menu(server: Server) -> dict[str, dict]:
    """The conftest MENU, keyed by item name."""
    return create_menu(server)


class Consoles:
    """Signed-in console pages, each in a browser context of its own; `check()` fails on any page's
    JS error, CSP violation or request off the server."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.watches: list[Watch] = []
        self.checked = False

    def open(self, server: Server, viewport: dict[str, int] | None = None) -> Page:
        context = self.browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(INIT_SCRIPT)
        self.contexts.append(context)
        page = context.new_page()
        self.watches.append(Watch(page, server.url))
        page.goto(f"{server.url}/login?next={quote('/manage', safe='')}")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", PASSWORDS["manager"])
        page.click("form.login button[type=submit]")
        page.wait_for_url(server.url + "/manage")
        page.wait_for_function("() => window.__kds.open >= 1")  # the console's stream is open
        page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads
        return page

    def expect_refusals(self) -> None:
        """The browser logs each 409/422 answer as a console error: here those are refused forms,
        part of the test."""
        for watch in self.watches:
            watch.allow(r"^console\.error: Failed to load resource: .* status of (409|422) .*/manage/")

    def check(self) -> None:
        self.checked = True
        problems = [f"page {n}: {p}" for n, watch in enumerate(self.watches) for p in watch.unexpected()]
        assert not problems, "\n".join(problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def consoles(browser: Browser) -> Iterator[Consoles]:
    yield from watching(Consoles, browser)


# The API, as the till, the kitchen and the tests use it


def api(server: Server, role: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.auth(role), timeout=10)


def place(server: Server, *lines: tuple[dict, int], status: str = "new") -> dict:
    """An order through the API (cashier), moved on to `status` by the kitchen."""
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": item["id"], "quantity": quantity} for item, quantity in lines],
    }
    with api(server, "cashier") as cashier:
        response = cashier.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    moves = {"new": [], "preparing": ["preparing"], "ready": ["preparing", "ready"]}[status]
    with api(server, "kitchen") as kitchen:
        for step in moves:
            moved = kitchen.patch(f"/orders/{order['id']}", json={"status": step})
            assert moved.status_code == 200, moved.text
            order = moved.json()
    return order


def local_hour(order: dict) -> str:
    created = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
    return created.astimezone(ZoneInfo(ZONE)).strftime("%H:00")


def bar_titles(page: Page, chart: str) -> list[str]:
    return page.eval_on_selector_all(f"#chart-{chart} g.bar > title", "ts => ts.map(t => t.textContent)")


def still_same_document(page: Page) -> None:
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"


def public_menu(server: Server) -> dict[str, dict]:
    return {item["name"]: item for item in httpx.get(f"{server.url}/menu", timeout=10).json()}


# 1. Today at a glance


def test_charts_show_todays_orders_then_update_live(server: Server, menu: dict, consoles: Consoles) -> None:
    burger, fries, lemonade = menu["Classic Burger"], menu["Fries"], menu["Lemonade"]
    orders = [
        place(server, (burger, 2), (fries, 1), status="ready"),  # 2 × 15.50 + 4.50 = 35.50
        place(server, (fries, 3), status="ready"),  # 13.50
        place(server, (lemonade, 1), (fries, 1)),  # 8.00
    ]
    cancelled = place(server, (burger, 5))
    with api(server, "manager") as manager:
        assert manager.patch(f"/orders/{cancelled['id']}", json={"status": "cancelled"}).status_code == 200

    page = consoles.open(server)
    expect(page.locator("#stat-orders")).to_have_text("3")  # the cancelled one is not counted
    expect(page.locator("#stat-revenue")).to_have_text("$57.00")
    hours = {local_hour(order) for order in orders}
    titles = bar_titles(page, "orders")
    if len(hours) == 1:  # (unless the orders straddled an hour)
        (hour,) = hours
        assert f"{hour}: 3 orders" in titles, titles
        assert f"{hour}: $57.00 revenue" in bar_titles(page, "revenue")
    assert sum(int(t.split(": ")[1].split()[0]) for t in titles) == 3
    # Top items: Fries 5, Classic Burger 2, Lemonade 1, the bars longest first.
    top = ["Fries: 5 sold, $22.50", "Classic Burger: 2 sold, $31.00", "Lemonade: 1 sold, $3.50"]
    assert bar_titles(page, "top") == top
    expect(page.locator("#chart-top text.value")).to_have_text(["5", "2", "1"])
    expect(page.locator("#chart-top text.label")).to_have_text(["Fries", "Classic Burger", "Lemonade"])
    widths = page.eval_on_selector_all("#chart-top rect", "rs => rs.map(r => Number(r.getAttribute('width')))")
    assert widths[0] > widths[1] > widths[2] > 0
    assert page.locator("#stat-prep-avg").inner_text() != "–"  # two orders reached ready

    # Another order arrives: the charts follow without a reload.
    late = place(server, (lemonade, 4))
    expect(page.locator("#stat-orders")).to_have_text("4")
    expect(page.locator("#stat-revenue")).to_have_text("$71.00")
    expect(page.locator("#chart-top g.bar > title").nth(0)).to_have_text("Fries: 5 sold, $22.50")
    expect(page.locator("#chart-top g.bar > title").nth(1)).to_have_text("Lemonade: 5 sold, $17.50")
    hour = local_hour(late)
    assert any(t.startswith(f"{hour}: ") for t in bar_titles(page, "orders"))
    still_same_document(page)
    consoles.check()


# 2. Availability


def test_a_manager_turns_an_item_off_everywhere(server: Server, menu: dict, consoles: Consoles) -> None:
    fries = menu["Fries"]
    first, second = consoles.open(server), consoles.open(server)
    switch = f"#available-{fries['id']}"
    expect(first.locator(switch)).to_have_attribute("aria-checked", "true")

    # Keyboard only: focus the switch, press Space.
    first.focus(switch)
    first.keyboard.press("Space")
    expect(first.locator(switch)).to_have_attribute("aria-checked", "false")
    assert public_menu(server)["Fries"]["available"] is False
    # The other console follows without a reload.
    expect(second.locator(switch)).to_have_attribute("aria-checked", "false")
    expect(second.locator(f"#menu-item-{fries['id']}")).to_have_class("off")
    still_same_document(second)
    # The switch kept the keyboard focus through the re-render.
    first.wait_for_timeout(300)
    assert first.evaluate("() => document.activeElement && document.activeElement.id") == switch[1:]

    # And back on, from the second console; the first follows.
    second.click(switch)
    expect(first.locator(switch)).to_have_attribute("aria-checked", "true")
    assert public_menu(server)["Fries"]["available"] is True
    # A change through the API reaches both consoles too.
    with api(server, "manager") as manager:
        manager.put(f"/menu/{menu['Lemonade']['id']}/availability", json={"available": False}).raise_for_status()
    for page in (first, second):
        expect(page.locator(f"#available-{menu['Lemonade']['id']}")).to_have_attribute("aria-checked", "false")
    consoles.check()


# 3. The menu editor


def test_menu_editor_shows_errors_inline_then_adds_and_edits(server: Server, menu: dict, consoles: Consoles) -> None:
    page = consoles.open(server)
    before = public_menu(server)
    consoles.expect_refusals()

    page.fill("#menu-name", "")
    page.fill("#menu-description", "Crispy, with lime")
    page.fill("#menu-price", "12.5.0")
    page.fill("#menu-category", "Mains")
    page.fill("#menu-station", "grill")
    page.click("#menu-editor form.editor button[type=submit]")
    expect(page.locator("#menu-name-error")).to_have_text("Required")
    expect(page.locator("#menu-price-error")).to_have_text("Enter a price like 12.50")
    expect(page.locator("#menu-name")).to_have_attribute("aria-invalid", "true")
    # What was typed is still there; nothing was written.
    expect(page.locator("#menu-price")).to_have_value("12.5.0")
    expect(page.locator("#menu-description")).to_have_value("Crispy, with lime")
    expect(page.locator("#menu-category")).to_have_value("Mains")
    assert public_menu(server) == before

    # A price over the limit is refused in the same way.
    page.fill("#menu-name", "Fish Tacos")
    page.fill("#menu-price", "20000")
    page.click("#menu-editor form.editor button[type=submit]")
    expect(page.locator("#menu-price-error")).to_have_text("At most 10000.00")
    expect(page.locator("#menu-name-error")).to_have_count(0)
    assert public_menu(server) == before

    page.fill("#menu-price", "13.5")
    page.click("#menu-editor form.editor button[type=submit]")
    expect(page.locator("#menu-editor .notice")).to_have_text("Added Fish Tacos.")
    expect(page.locator("#menu-name")).to_have_value("")  # a fresh form, ready for the next one
    added = public_menu(server)["Fish Tacos"]
    assert (added["price_cents"], added["description"], added["category"], added["station"]) == (
        1350,
        "Crispy, with lime",
        "Mains",
        "grill",
    )
    row = page.locator(f"#menu-item-{added['id']}")
    expect(row).to_contain_text("Fish Tacos")
    expect(row.locator("td.num")).to_have_text("$13.50")

    # Edit: the form fills with the item; a bad price is refused, a good one saved.
    page.click(f"#edit-{added['id']}")
    expect(page.locator("#menu-editor form.editor h3")).to_have_text("Edit item")
    expect(page.locator("#menu-name")).to_have_value("Fish Tacos")
    expect(page.locator("#menu-price")).to_have_value("13.50")
    expect(page.locator("#menu-name")).to_be_focused()
    page.fill("#menu-price", "-3")
    page.click("#menu-editor form.editor button[type=submit]")
    expect(page.locator("#menu-price-error")).to_have_text("Enter a price like 12.50")
    expect(page.locator("#menu-editor form.editor h3")).to_have_text("Edit item")
    assert public_menu(server)["Fish Tacos"]["price_cents"] == 1350
    page.fill("#menu-name", "Fish Tacos (2)")
    page.fill("#menu-price", "14")
    page.click("#menu-editor form.editor button[type=submit]")
    expect(page.locator("#menu-editor .notice")).to_have_text("Saved Fish Tacos (2).")
    expect(row.locator("td.num")).to_have_text("$14.00")
    expect(row).to_contain_text("Fish Tacos (2)")
    edited = public_menu(server)["Fish Tacos (2)"]
    assert (edited["id"], edited["price_cents"], edited["available"]) == (added["id"], 1400, True)
    still_same_document(page)
    consoles.check()


def test_modifier_groups_added_in_the_editor_reach_the_menu(server: Server, menu: dict, consoles: Consoles) -> None:
    burger = menu["Classic Burger"]
    page = consoles.open(server, viewport={"width": 1280, "height": 1400})
    consoles.expect_refusals()
    page.click(f"#edit-{burger['id']}")
    expect(page.locator("#menu-name")).to_be_focused()  # (htmx focuses it once the editor is in)
    page.check("#menu-allergens-gluten")
    page.click("#menu-add-group")
    expect(page.locator("#group-0-name")).to_be_focused()  # the new group's first input
    page.fill("#group-0-name", "Add-ons")
    page.fill("#group-0-max", "3")
    page.fill("#group-0-option-0-name", "Bacon")
    page.fill("#group-0-option-0-price", "2")
    page.click("#group-0-add-option")
    expect(page.locator("#group-0-option-1-name")).to_be_focused()
    expect(page.locator("#group-0-option-0-name")).to_have_value("Bacon")  # the row button kept what was typed
    page.fill("#group-0-option-1-name", "Cheese")
    page.fill("#group-0-option-1-price", "one")
    page.click("#menu-save")
    expect(page.locator("#group-0-option-1-price-error")).to_have_text("Enter a price like 12.50")
    assert public_menu(server)["Classic Burger"]["modifier_groups"] == []
    page.fill("#group-0-option-1-price", "1.00")
    page.click("#group-0-option-1-allergen-list summary")
    page.check("#group-0-option-1-allergens-milk")
    page.click("#menu-save")
    expect(page.locator("#menu-editor .notice")).to_have_text("Saved Classic Burger.")

    saved = public_menu(server)["Classic Burger"]
    assert saved["allergens"] == ["gluten"]
    (group,) = saved["modifier_groups"]
    assert (group["name"], group["min"], group["max"]) == ("Add-ons", 0, 3)
    assert [(o["name"], o["price_cents"], o["allergens"]) for o in group["options"]] == [
        ("Bacon", 200, []),
        ("Cheese", 100, ["milk"]),
    ]
    row = page.locator(f"#menu-item-{burger['id']}")
    expect(row.locator(f"#group-summary-{group['id']}")).to_contain_text("Cheese +$1.00 (Milk)")
    expect(row).to_contain_text("Contains: Cereals containing gluten")

    # The option's own switch, and the menu's order, from the list.
    page.click(f"#option-available-{group['options'][0]['id']}")
    expect(page.locator(f"#option-available-{group['options'][0]['id']}")).to_have_attribute("aria-checked", "false")
    assert public_menu(server)["Classic Burger"]["modifier_groups"][0]["options"][0]["switched_off"] is True
    other = consoles.open(server)  # another manager's console follows live
    page.click(f"#item-down-{burger['id']}")
    expect(page.locator("table.menu-table").first.locator("tbody tr").first).to_contain_text("Caesar Salad")
    expect(other.locator("table.menu-table").first.locator("tbody tr").first).to_contain_text("Caesar Salad")
    page.click("#category-down-0")
    expect(other.locator("table.menu-table caption").first).to_contain_text("Sides")
    page.click("#category-up-1")
    expect(other.locator("table.menu-table caption").first).to_contain_text("Mains")
    page.click(f"#edit-{burger['id']}")
    expect(page.locator("#group-0-option-1-name")).to_have_value("Cheese")
    screenshot(page, "manage-modifiers.png", full_page=True, min_bytes=20_000)
    still_same_document(page)
    consoles.check()


# 4. Stock


def test_stock_adjusts_and_highlights_low_items(server: Server, consoles: Consoles) -> None:
    with api(server, "manager") as manager:
        potatoes = manager.post(
            "/inventory", json={"item_name": "Potatoes", "quantity": 10, "unit": "kg", "low_stock": 4}
        ).json()
        manager.post("/inventory", json={"item_name": "Oil", "quantity": 3, "unit": "l"}).raise_for_status()
    page = consoles.open(server)
    row = page.locator(f"#stock-{potatoes['id']}")
    consoles.expect_refusals()
    expect(row).to_have_class("ok")
    expect(row.locator(".qty")).to_have_text("10")

    page.select_option(f"#stock-reason-{potatoes['id']}", "waste")
    page.fill(f"#stock-amount-{potatoes['id']}", "6.5")
    row.get_by_role("button", name="Record Potatoes").click()
    expect(row.locator(".qty")).to_have_text("3.5")
    expect(row).to_have_class("low")
    expect(row.locator(".badge-low")).to_have_text("Low")
    # The stream re-renders the stock table for that change within a quarter second; let it land,
    # or it would replace the row (and the refusal shown in it below) a moment later.
    expect(page.locator("#stock-alerts .stock-alert")).to_have_count(1)
    page.wait_for_timeout(500)

    # Taking more than there is: refused in the row, what was typed kept, nothing changed.
    page.select_option(f"#stock-reason-{potatoes['id']}", "waste")
    page.fill(f"#stock-amount-{potatoes['id']}", "5")
    row.get_by_role("button", name="Record Potatoes").click()
    expect(row.locator(".field-error")).to_have_text("Only 3.5 kg of Potatoes in stock")
    expect(page.locator(f"#stock-amount-{potatoes['id']}")).to_have_value("5")
    with api(server, "manager") as manager:
        assert manager.get(f"/inventory/{potatoes['id']}").json()["quantity"] == 3.5
    expect(page.locator(f"#stock-reason-{potatoes['id']}")).to_have_value("waste")
    page.select_option(f"#stock-reason-{potatoes['id']}", "restock")
    page.fill(f"#stock-amount-{potatoes['id']}", "lots")
    row.get_by_role("button", name="Record Potatoes").click()
    expect(row.locator(".field-error")).to_have_text("Enter an amount like 2 or 0.25")

    page.fill(f"#stock-amount-{potatoes['id']}", "2")
    row.get_by_role("button", name="Record Potatoes").click()
    expect(row.locator(".qty")).to_have_text("5.5")
    expect(row).to_have_class("ok")
    expect(row.locator(".field-error")).to_have_count(0)

    # The low-stock level itself: raise it, and the row turns low.
    page.fill(f"#stock-low-{potatoes['id']}", "6")
    page.press(f"#stock-low-{potatoes['id']}", "Enter")
    expect(row).to_have_class("low")
    with api(server, "manager") as manager:
        stored = manager.get(f"/inventory/{potatoes['id']}").json()
        assert (stored["quantity"], stored["low_stock"], stored["low"]) == (5.5, 6, True)
        # A change through the API shows at once, too.
        manager.patch(f"/inventory/{potatoes['id']}", json={"delta": 10}).raise_for_status()
    expect(row.locator(".qty")).to_have_text("15.5")
    expect(row).to_have_class("ok")
    consoles.check()


# 5. Staff


def test_staff_add_with_inline_errors_then_disable(server: Server, consoles: Consoles) -> None:
    page = consoles.open(server)
    panel = page.locator("#staff-panel")
    consoles.expect_refusals()

    page.fill("#staff-name", "cashier")  # taken
    page.select_option("#staff-role", "cashier")
    page.fill("#staff-password", "a-long-password")
    page.click("#staff-panel button:has-text('Add account')")
    expect(page.locator("#staff-name-error")).to_have_text("There is already a staff member called cashier")
    expect(page.locator("#staff-name")).to_have_value("cashier")
    expect(page.locator("#staff-role")).to_have_value("cashier")

    page.fill("#staff-name", "new cook")
    page.select_option("#staff-role", "kitchen")
    page.fill("#staff-password", "short")
    page.click("#staff-panel button:has-text('Add account')")
    expect(page.locator("#staff-name-error")).to_have_text("Letters, digits, dots, dashes and underscores only")
    expect(page.locator("#staff-password-error")).to_have_text("At least 8 characters")
    expect(page.locator("#staff-name")).to_have_value("new cook")
    expect(page.locator("#staff-role")).to_have_value("kitchen")
    with api(server, "manager") as manager:
        assert [s["name"] for s in manager.get("/staff").json()] == ["cashier", "kitchen", "manager"]

    page.fill("#staff-name", "cook2")
    page.fill("#staff-password", "cook2-password")
    page.click("#staff-panel button:has-text('Add account')")
    expect(panel.locator(".notice")).to_have_text("Added cook2 (kitchen).")
    row = panel.locator("tr", has=page.locator("th", has_text="cook2"))
    expect(row.locator(".status-cell")).to_have_text("Active")
    signed = httpx.post(f"{server.url}/auth/token", json={"username": "cook2", "password": "cook2-password"})
    assert signed.status_code == 201

    row.get_by_role("button", name="Disable cook2").click()
    expect(row.locator(".status-cell")).to_have_text("Disabled")
    expect(row).to_have_class("inactive")
    refused = httpx.get(f"{server.url}/kitchen/orders", headers={"Authorization": f"Bearer {signed.json()['token']}"})
    assert refused.status_code == 401
    row.get_by_role("button", name="Enable cook2").click()
    expect(row.locator(".status-cell")).to_have_text("Active")
    # The manager's own row has no switch: a console cannot lock itself out.
    expect(panel.locator("tr", has=page.locator("th", has_text="manager")).locator("button")).to_have_count(0)
    consoles.check()


# 6. The screenshot


def test_screenshot_of_the_console(server: Server, menu: dict, consoles: Consoles) -> None:
    burger, fries, salad, lemonade = (menu[name] for name in ("Classic Burger", "Fries", "Caesar Salad", "Lemonade"))
    with api(server, "manager") as manager:
        for name, quantity, unit, low in (
            ("Burger buns", 48, "pcs", 20),
            ("Potatoes", 3.5, "kg", 5),
            ("Lemons", 12, "pcs", 6),
            ("Romaine", 0.8, "kg", 1),
        ):
            manager.post(
                "/inventory", json={"item_name": name, "quantity": quantity, "unit": unit, "low_stock": low}
            ).raise_for_status()
        manager.put(f"/menu/{salad['id']}/availability", json={"available": False}).raise_for_status()
    spec: list[tuple[tuple[Any, ...], str]] = [
        (((burger, 2), (fries, 2)), "ready"),
        (((fries, 1), (lemonade, 2)), "ready"),
        (((burger, 1),), "ready"),
        (((lemonade, 3),), "preparing"),
        (((burger, 3), (fries, 3), (lemonade, 3)), "new"),
    ]
    for lines, status in spec:
        place(server, *lines, status=status)
    with api(server, "manager") as manager:  # recipes, and one item sold out on stock
        stock = {item["item_name"]: item["id"] for item in manager.get("/inventory").json()}
        mint = manager.post("/inventory", json={"item_name": "Mint", "quantity": 0, "unit": "bunch"}).json()
        for item, lines in (
            (burger, [(stock["Burger buns"], 1)]),
            (fries, [(stock["Potatoes"], 0.25)]),
            (lemonade, [(stock["Lemons"], 1), (mint["id"], 0.1)]),
        ):
            body = {"ingredients": [{"inventory_id": i, "quantity": q} for i, q in lines]}
            manager.put(f"/menu/{item['id']}/recipe", json=body).raise_for_status()

    page = consoles.open(server, viewport={"width": 1280, "height": 1500})
    expect(page.locator("#stat-orders")).to_have_text("5")
    expect(page.locator("#chart-top g.bar")).to_have_count(3)
    expect(page.locator(".stock-table tr.low")).to_have_count(2)
    expect(page.locator(".badge-sold-out")).to_have_count(1)
    screenshot(page, "manage.png", full_page=True, min_bytes=20_000)
    consoles.check()
