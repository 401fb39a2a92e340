"""Stock in the manager's console, in a real browser (Debian's Chromium) against a real server: a
recipe set in the console, orders through the API taking stock, the item selling out and coming
back without a reload, a manager's switch-off kept through a restock, movements with who, and the
low-stock alert. Every test also fails on a JS error or a CSP violation (`consoles.check`)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from .conftest import Server
from .test_manage_browser import Consoles, api, consoles, menu, server, still_same_document  # noqa: F401

__all__ = ["consoles", "menu", "server"]  # fixtures, shared with the console's other tests


def order(server: Server, item: dict, quantity: int = 1) -> httpx.Response:
    body = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": item["id"], "quantity": quantity}]}
    with api(server, "cashier") as cashier:
        return cashier.post("/orders", json=body)


def test_recipe_stock_sell_out_restock_and_alerts(server: Server, menu: dict, consoles: Consoles) -> None:
    burger = menu["Classic Burger"]
    with api(server, "manager") as manager:
        buns = manager.post(
            "/inventory", json={"item_name": "Buns", "quantity": 3, "unit": "pcs", "low_stock": 1}
        ).json()
        cheese = manager.post("/inventory", json={"item_name": "Cheese", "quantity": 2, "unit": "kg"}).json()
    page = consoles.open(server)
    consoles.expect_refusals()
    row = page.locator(f"#menu-item-{burger['id']}")
    expect(row.locator(".recipe-summary")).to_have_text("No recipe: not limited by stock")

    # The recipe, in the item's editor: a zero is refused on its row, what was typed is kept.
    page.click(f"#edit-{burger['id']}")
    editor = page.locator("#recipe-editor")
    expect(editor.locator("h3")).to_have_text("Recipe of Classic Burger")
    page.select_option("#recipe-stock-0", str(buns["id"]))
    page.fill("#recipe-qty-0", "1")
    page.click("#recipe-add")
    page.select_option("#recipe-stock-1", str(cheese["id"]))
    page.fill("#recipe-qty-1", "0")
    page.click("#recipe-save")
    expect(page.locator("#recipe-qty-1-error")).to_have_text("More than 0")
    expect(page.locator("#recipe-stock-0")).to_have_value(str(buns["id"]))
    expect(page.locator("#recipe-qty-1")).to_have_value("0")
    with api(server, "manager") as manager:
        assert manager.get(f"/menu/{burger['id']}/recipe").json()["ingredients"] == []
    page.fill("#recipe-qty-1", "0.05")
    page.press("#recipe-qty-1", "Enter")  # Enter saves
    expect(editor.locator(".notice")).to_have_text("Saved the recipe of Classic Burger.")
    expect(row.locator(".recipe-summary")).to_have_text("Per portion: 1 pcs Buns, 0.05 kg Cheese")

    # Orders through the API take stock; reaching the low level raises an alert on the console.
    for _ in range(2):
        assert order(server, burger).status_code == 201
    alert = page.locator("#stock-alerts .stock-alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("Buns is down to 1 pcs (low at 1 pcs)")
    stock_row = page.locator(f"#stock-{buns['id']}")
    expect(stock_row).to_have_class("low")
    # The last bun: the burger sells out, told apart from a manager's switch-off, without a reload.
    assert order(server, burger).status_code == 201
    expect(row).to_have_class("sold-out")
    expect(row.locator(".badge-sold-out")).to_have_text("Sold out: no stock")
    expect(page.locator(f"#available-{burger['id']}")).to_have_attribute("aria-checked", "true")
    assert order(server, burger).status_code == 409
    alert.get_by_role("button", name="Dismiss alert about Buns").click()
    expect(alert).to_have_count(0)

    # A restock in the console, with a note, brings it back.
    page.select_option(f"#stock-reason-{buns['id']}", "restock")
    page.fill(f"#stock-amount-{buns['id']}", "10")
    page.fill(f"#stock-note-{buns['id']}", "Monday delivery")
    stock_row.get_by_role("button", name="Record Buns").click()
    expect(stock_row.locator(".qty")).to_have_text("10")
    expect(row).to_have_class("available")
    expect(row.locator(".badge-sold-out")).to_have_count(0)

    # The movements: newest first, with who or which order, following new changes live.
    page.click(f"#movements-link-{buns['id']}")
    moves = page.locator("#movements .movements-table tbody tr")
    expect(moves).to_have_count(5)
    expect(moves.nth(0)).to_contain_text("restock")
    expect(moves.nth(0).locator(".who")).to_have_text("manager")
    expect(moves.nth(0)).to_contain_text("Monday delivery")
    expect(moves.nth(1).locator(".who")).to_contain_text("order #")
    expect(moves.nth(4)).to_contain_text("count")  # the opening stock

    # A manager's switch-off survives a restock.
    page.click(f"#available-{burger['id']}")
    expect(page.locator(f"#available-{burger['id']}")).to_have_attribute("aria-checked", "false")
    expect(row.locator(".badge-off")).to_have_text("Switched off")
    page.select_option(f"#stock-reason-{buns['id']}", "restock")
    page.fill(f"#stock-amount-{buns['id']}", "5")
    stock_row.get_by_role("button", name="Record Buns").click()
    expect(stock_row.locator(".qty")).to_have_text("15")
    expect(moves).to_have_count(6)  # the open movements view followed
    expect(moves.nth(0).locator(".delta")).to_have_text("+5 pcs")
    expect(row).to_have_class("off")
    expect(row.locator(".badge-off")).to_have_text("Switched off")
    with api(server, "manager") as manager:
        stored = manager.get(f"/menu/{burger['id']}").json()
    assert (stored["available"], stored["switched_off"]) == (False, True)
    still_same_document(page)
    consoles.check()
