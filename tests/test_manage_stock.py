"""The console's stock parts over HTTP against a real server: the recipe editor, sold out vs switched
off, stock changes with a reason, a note and who, the movements view, and the low-stock alert."""

from __future__ import annotations

import asyncio
import re

import httpx
from httpx_sse import aconnect_sse

from .conftest import Server

HX = {"HX-Request": "true"}


def stock(client: httpx.Client, name: str, quantity: float, unit: str, low: float | None = None) -> dict:
    response = client.post("/inventory", json={"item_name": name, "quantity": quantity, "unit": unit, "low_stock": low})
    assert response.status_code == 201, response.text
    return response.json()


def order(server: Server, item: dict, quantity: int = 1) -> httpx.Response:
    body = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": item["id"], "quantity": quantity}]}
    return httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"), timeout=10)


def test_recipe_editor_saves_and_refuses_with_errors_by_row(client: httpx.Client, menu: list[dict]) -> None:
    burger = menu[0]
    buns, cheese = stock(client, "Buns", 10, "pcs"), stock(client, "Cheese", 1, "kg")
    path = f"/manage/menu/{burger['id']}/recipe"
    editor = client.get(f"/manage/menu/{burger['id']}/edit", headers=HX)
    assert editor.status_code == 200 and 'id="recipe-editor"' in editor.text and "Buns (pcs)" in editor.text

    # Add a row: nothing is saved, the typed rows come back plus an empty one.
    added = client.post(path, data={"inventory_id": [str(buns["id"])], "quantity": ["1"], "action": "add"}, headers=HX)
    assert added.status_code == 200 and 'id="recipe-stock-1"' in added.text and 'value="1"' in added.text
    assert client.get(f"/menu/{burger['id']}/recipe").json()["ingredients"] == []

    # Refused: a duplicate, a zero, a negative, an unknown stock item; what was typed is kept.
    bad = {
        "inventory_id": [str(buns["id"]), str(buns["id"]), str(cheese["id"]), "99999", ""],
        "quantity": ["1", "2", "0", "1", "-1"],
        "action": "save",
    }
    before = client.get("/health").json()["bus"]["last_event_id"]
    refused = client.post(path, data=bad, headers=HX)
    assert refused.status_code == 422
    html = refused.text
    assert 'id="recipe-stock-1-error">Already in this recipe' in html
    assert 'id="recipe-qty-2-error">More than 0<' in html
    assert 'id="recipe-stock-3-error">No such stock item<' in html
    assert 'id="recipe-stock-4-error">Choose a stock item<' in html
    assert 'id="recipe-qty-4-error">Enter a quantity like 1 or 0.25<' in html
    assert 'value="-1"' in html and 'value="99999" selected' in html
    assert client.get(f"/menu/{burger['id']}/recipe").json()["ingredients"] == []
    assert client.get("/health").json()["bus"]["last_event_id"] == before  # nothing written

    # Saved (the empty row is left out); the list shows the summary at once.
    good = {"inventory_id": [str(buns["id"]), str(cheese["id"]), ""], "quantity": ["1", "0.03", ""]}
    saved = client.post(path, data={**good, "action": "save"}, headers=HX)
    assert saved.status_code == 200 and "Saved the recipe of Classic Burger." in saved.text
    assert 'hx-swap-oob="innerHTML"' in saved.text and "Per portion: 1 pcs Buns, 0.03 kg Cheese" in saved.text
    recipe = client.get(f"/menu/{burger['id']}/recipe").json()["ingredients"]
    assert [(line["item_name"], line["quantity"]) for line in recipe] == [("Buns", 1), ("Cheese", 0.03)]
    # Remove a row, then save: the recipe shrinks.
    removed = client.post(path, data={**good, "action": "remove-0"}, headers=HX)
    assert removed.status_code == 200 and f'value="{buns["id"]}" selected' not in removed.text
    client.post(path, data={"inventory_id": [str(cheese["id"])], "quantity": ["0.05"]}, headers=HX).raise_for_status()
    assert [line["quantity"] for line in client.get(f"/menu/{burger['id']}/recipe").json()["ingredients"]] == [0.05]
    assert client.post("/manage/menu/99999/recipe", data=good, headers=HX).status_code == 404


def test_sold_out_is_told_apart_from_switched_off(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    burger, fries = menu[0], menu[1]
    buns = stock(client, "Buns", 1, "pcs")
    client.put(f"/menu/{burger['id']}/recipe", json={"ingredients": [{"inventory_id": buns["id"], "quantity": 1}]})
    assert order(server, burger).status_code == 201
    client.put(f"/menu/{fries['id']}/availability", json={"available": False}).raise_for_status()
    page = client.get("/manage", headers={"accept": "text/html"}).text
    burger_row = re.search(rf'<tr id="menu-item-{burger["id"]}" class="sold-out">.*?</tr>', page, re.S)
    assert burger_row is not None, "the burger should be sold out"
    assert 'aria-checked="true"' in burger_row[0] and ">Sold out: no stock<" in burger_row[0]
    fries_row = re.search(rf'<tr id="menu-item-{fries["id"]}" class="off">.*?</tr>', page, re.S)
    assert fries_row is not None and 'aria-checked="false"' in fries_row[0] and ">Switched off<" in fries_row[0]


def test_stock_changes_record_reason_note_and_who(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    burger = menu[0]
    buns = stock(client, "Buns", 5, "pcs")
    client.put(f"/menu/{burger['id']}/recipe", json={"ingredients": [{"inventory_id": buns["id"], "quantity": 1}]})
    placed = order(server, burger, 2).json()
    path = f"/manage/inventory/{buns['id']}/adjust"
    for data in (
        {"reason": "restock", "amount": "10", "note": "Monday delivery"},
        {"reason": "waste", "amount": "1", "note": "dropped"},
        {"reason": "count", "amount": "11.5", "note": ""},
    ):
        assert client.post(path, data=data, headers=HX).status_code == 200, data
    assert client.get(f"/inventory/{buns['id']}").json()["quantity"] == 11.5

    before = client.get("/inventory").json()
    for data in (
        {"reason": "restock", "amount": "0"},
        {"reason": "waste", "amount": "-2"},
        {"reason": "steal", "amount": "1"},
        {"reason": "waste", "amount": "99"},
        {"reason": "restock", "amount": "1", "note": "n" * 201},
    ):
        refused = client.post(path, data=data, headers=HX)
        assert refused.status_code in (409, 422), data
        assert 'class="field-error"' in refused.text
    assert client.get("/inventory").json() == before

    moves = client.get(f"/manage/inventory/{buns['id']}/movements", headers=HX)
    assert moves.status_code == 200
    rows = re.findall(r'<tr class="move-(\w+)">(.*?)</tr>', moves.text, re.S)
    assert [kind for kind, _ in rows] == ["count", "waste", "restock", "order", "count"]  # newest first
    by_kind = dict(rows)
    assert (
        "manager" in by_kind["restock"] and "Monday delivery" in by_kind["restock"] and "+10 pcs" in by_kind["restock"]
    )
    assert "-1 pcs" in by_kind["waste"] and "dropped" in by_kind["waste"]
    assert f"order #{placed['id']}" in by_kind["order"] and "-2 pcs" in by_kind["order"]
    assert re.search(r"<time datetime=\"[^\"]+Z\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>", moves.text)
    # Without htmx: the console with the movements open.
    plain = client.get(f"/manage/inventory/{buns['id']}/movements", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/manage?movements={buns['id']}#movements"
    assert "Movements of Buns" in client.get(f"/manage?movements={buns['id']}", headers={"accept": "text/html"}).text
    assert client.get("/manage/inventory/99999/movements", headers=HX).status_code == 404
    with httpx.Client(base_url=server.url, headers={**HX, **server.auth("cashier")}) as cashier:
        assert cashier.get(f"/manage/inventory/{buns['id']}/movements").status_code == 403
        assert (
            cashier.post(f"/manage/menu/{burger['id']}/recipe", data={"inventory_id": "", "quantity": ""}).status_code
            == 403
        )


async def test_stream_sends_a_low_stock_alert_and_a_recipe_updates_the_menu(server: Server, menu: list[dict]) -> None:
    manager = server.auth("manager")
    async with httpx.AsyncClient(base_url=server.url, headers=manager, timeout=10) as client:
        flour = (
            await client.post("/inventory", json={"item_name": "Flour", "quantity": 5, "unit": "kg", "low_stock": 2})
        ).json()
        frames: list[tuple[str, str]] = []

        async def read() -> None:
            async with aconnect_sse(client, "GET", "/manage/stream") as source:
                async for sse in source.aiter_sse():
                    frames.append((sse.event, sse.data))

        reader = asyncio.create_task(read())
        try:
            for _ in range(100):
                if {"charts", "menu", "inventory"} <= {name for name, _ in frames}:
                    break
                await asyncio.sleep(0.05)
            await client.post(
                f"/manage/inventory/{flour['id']}/adjust", data={"reason": "waste", "amount": "3.5"}, headers=HX
            )
            body = {"ingredients": [{"inventory_id": flour["id"], "quantity": 0.2}]}
            (await client.put(f"/menu/{menu[0]['id']}/recipe", json=body)).raise_for_status()
            for _ in range(100):
                if any(name == "menu" and "0.2 kg Flour" in data for name, data in frames):
                    break
                await asyncio.sleep(0.05)
        finally:
            reader.cancel()
    alerts = [data for name, data in frames if name == "stock-alert"]
    assert len(alerts) == 1
    assert "Flour is down to 1.5 kg (low at 2 kg)" in alerts[0] and 'role="alert"' in alerts[0]
    assert any(name == "menu" and "Per portion: 0.2 kg Flour" in data for name, data in frames)
