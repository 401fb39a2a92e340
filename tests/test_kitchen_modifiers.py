"""The kitchen side of modifiers (issue 14): a group's kind (choice, add, remove) through the API and
migration 0009, the kitchen ticket's NO / ADD tags and the exactly-one answer by the dish's name
(kept from the order's own snapshot), the all-day panel broken down by choice in the menu's order,
and today's top modifiers. (The browser side is in test_kitchen_display.py.)"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.services import reports
from forkflow.services.orders import waiting_counts
from forkflow.store import Store

from .conftest import Server, database_at, on_both_backends

HX = {"HX-Request": "true"}

# Doneness is exactly one (min 1, max 1): its answer goes by the dish's name. Sauce is a choice of
# up to two: a tag like any other group's. Add-ons and Remove say ADD and NO.
BURGER: dict[str, Any] = {
    "name": "Classic Burger",
    "price_cents": 1500,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten"],
    "modifier_groups": [
        {
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [{"name": "Medium-rare"}, {"name": "Medium"}, {"name": "Well done"}],
        },
        {"name": "Sauce", "max": 2, "options": [{"name": "Ketchup"}, {"name": "Mayo", "allergens": ["eggs"]}]},
        {
            "name": "Add-ons",
            "kind": "add",
            "max": 5,
            "options": [{"name": "Bacon", "price_cents": 200}, {"name": "Extra cheese", "price_cents": 100}],
        },
        {"name": "Remove", "kind": "remove", "max": 2, "options": [{"name": "No onions"}, {"name": "No pickles"}]},
    ],
}
FRIES = {"name": "Fries", "price_cents": 400, "category": "Sides", "station": "fry"}


def _ids(item: dict[str, Any], *names: str) -> list[int]:
    by_name = {option["name"]: option["id"] for group in item["modifier_groups"] for option in group["options"]}
    return [by_name[name] for name in names]


def _line(item: dict[str, Any], *options: str, quantity: int = 1, notes: str = "") -> dict[str, Any]:
    return {"menu_item_id": item["id"], "quantity": quantity, "modifiers": _ids(item, *options), "notes": notes}


def _order(client: httpx.Client, *lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"customer_name": "Ada", "channel": "counter", "items": list(lines), **extra}
    made = client.post("/orders", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def _ticket(page: str, order_id: int) -> str:
    ticket = page[page.index(f'id="ticket-{order_id}"') :]
    return ticket[: ticket.index("</article>")]


def _lines(ticket: str) -> list[str]:
    """Each line button's text, tags collapsed to one space: what a cook reads, top to bottom."""
    found = re.findall(r'<button type="button" class="line.*?>(.*?)</button>', ticket, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", line)).split()) for line in found]


def _allday(page: str) -> list[str]:
    panel = page[page.index('id="allday"') :]
    panel = panel[: panel.index("</aside>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", li)).split()) for li in re.findall(r"<li.*?</li>", panel, re.S)
    ]


# The kind, through the API


@on_both_backends
def test_a_group_kind_comes_back_and_an_unknown_one_is_refused_naming_it(client: httpx.Client) -> None:
    made = client.post("/menu", json=BURGER)
    assert made.status_code == 201, made.text
    burger = made.json()
    assert [(g["name"], g["kind"]) for g in burger["modifier_groups"]] == [
        ("Doneness", "choice"),  # left out: a choice
        ("Sauce", "choice"),
        ("Add-ons", "add"),
        ("Remove", "remove"),
    ]
    before = client.get("/menu").json(), client.get("/health").json()["bus"]["last_event_id"]
    for bad in ("extra", "", None, 3, "ADD"):
        body = copy.deepcopy(BURGER)
        body["modifier_groups"][2]["kind"] = bad
        refused = client.post("/menu", json=body)
        assert refused.status_code == 422, (bad, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "invalid" and list(error["fields"]) == ["modifier_groups.2.kind"], error
        assert "'choice', 'add' or 'remove'" in error["fields"]["modifier_groups.2.kind"]
        put = client.put(f"/menu/{burger['id']}", json=body)
        assert put.status_code == 422 and list(put.json()["error"]["fields"]) == ["modifier_groups.2.kind"]
    assert (client.get("/menu").json(), client.get("/health").json()["bus"]["last_event_id"]) == before

    # A PUT changes a kind, keeping the group's id.
    body = copy.deepcopy(BURGER)
    body["modifier_groups"] = [
        {key: group[key] for key in ("id", "name", "kind", "min", "max")}
        | {"options": [{"id": o["id"], "name": o["name"]} for o in group["options"]]}
        for group in burger["modifier_groups"]
    ]
    body["modifier_groups"][1]["kind"] = "add"
    after = client.put(f"/menu/{burger['id']}", json=body).json()
    assert [(g["id"], g["kind"]) for g in after["modifier_groups"]] == [
        (g["id"], kind) for g, kind in zip(burger["modifier_groups"], ("choice", "add", "add", "remove"), strict=True)
    ]


def test_the_allergy_confirmation_names_allergens_as_every_screen_does(client: httpx.Client) -> None:
    """The 409's words are the vocabulary's labels ("Tree nuts"), not the stored words."""
    body = {**FRIES, "allergens": ["tree_nuts", "sulphites", "milk"]}
    dish = client.post("/menu", json=body).json()
    line = {"menu_item_id": dish["id"], "quantity": 1}
    order = {"customer_name": "Ada", "channel": "counter", "items": [line], "allergies": ["sulphites", "tree_nuts"]}
    refused = client.post("/orders", json=order)
    assert refused.status_code == 409
    assert refused.json()["error"]["fields"] == {"items.0": "contains tree nuts, sulphur dioxide and sulphites"}


# The kitchen ticket


def test_the_ticket_says_no_and_add_and_puts_the_doneness_by_the_name(server: Server, client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    fries = client.post("/menu", json=FRIES).json()
    line = _line(burger, "Medium-rare", "Ketchup", "Bacon", "Bacon", "Extra cheese", "No onions", quantity=2)
    order = _order(client, line, {"menu_item_id": fries["id"], "quantity": 1}, allergies=["milk"])
    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    ticket = _ticket(page, order["id"])
    assert _lines(ticket) == [
        "2× Classic Burger — Medium-rare Sauce: Ketchup ADD 2× Bacon ADD Extra cheese NO onions",
        "1× Fries",
    ]
    # The answer is by the name, big; each tag's word is there (not colour alone), in its own style.
    assert '<span class="item">Classic Burger</span>' in ticket
    assert '<strong class="headline">— Medium-rare</strong>' in ticket
    assert '<span class="modifier mod-add"><b class="mod-word">ADD</b> 2× Bacon</span>' in ticket
    assert '<span class="modifier mod-remove"><b class="mod-word">NO</b> onions</span>' in ticket
    assert '<span class="modifier mod-choice"><b class="mod-word">Sauce:</b> Ketchup</span>' in ticket
    assert "Allergy: Milk" in ticket  # the order's allergy banner is still there

    # A station's view shows the line with all of its options; the other station's, not at all.
    grill = httpx.get(f"{server.url}/kitchen/display?station=grill", headers=server.auth("kitchen")).text
    assert _lines(_ticket(grill, order["id"])) == _lines(ticket)[:1]
    fry = httpx.get(f"{server.url}/kitchen/display?station=fry", headers=server.auth("kitchen")).text
    assert _lines(_ticket(fry, order["id"])) == ["1× Fries"]

    # The ticket reads from the order's snapshot: the menu's kinds changing later change nothing.
    body = copy.deepcopy(BURGER)
    for group in body["modifier_groups"]:
        group["kind"], group["min"] = "choice", 0
    client.put(f"/menu/{burger['id']}", json=body).raise_for_status()
    again = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert _lines(_ticket(again, order["id"])) == _lines(ticket)


# The all-day panel


@on_both_backends
def test_all_day_counts_each_choice_in_the_menus_order(server: Server, client: httpx.Client) -> None:
    # Doneness optional here (as on the demo menu): a burger without one counts as "no choice".
    fries = client.post("/menu", json=FRIES).json()  # made first, and more of them: still after the burgers
    body = copy.deepcopy(BURGER)
    body["modifier_groups"][0]["min"] = 0
    burger = client.post("/menu", json=body).json()
    client.put("/menu/categories", json={"order": ["Mains", "Sides"]}).raise_for_status()
    _order(
        client,
        {"menu_item_id": fries["id"], "quantity": 5},
        _line(burger, "Medium-rare", "Bacon", quantity=3),
        _line(burger, "Medium", "Ketchup", "Mayo"),
    )
    second = _order(client, _line(burger, "Medium-rare", "No onions"), _line(burger, "Ketchup", quantity=2))
    ready = _order(client, _line(burger, "Well done", quantity=4))  # ready: no longer waiting
    for status in ("preparing", "ready"):
        client.patch(f"/orders/{ready['id']}", json={"status": status}).raise_for_status()
    done = second["lines"][0]  # a line marked done is no longer waiting either
    tapped = httpx.post(
        f"{server.url}/kitchen/tickets/{second['id']}/lines/{done['id']}",
        data={"done": "1"},
        headers={**server.auth("kitchen"), **HX},
    )
    assert tapped.status_code == 204

    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert _allday(page) == [
        "6 Classic Burger Doneness: 3 Medium-rare, 1 Medium, 2 no choice Sauce: 3 Ketchup, 1 Mayo, 3 no choice",
        "5 Fries",
    ]
    grill = httpx.get(f"{server.url}/kitchen/display?station=grill", headers=server.auth("kitchen")).text
    assert _allday(grill) == _allday(page)[:1]
    fry = httpx.get(f"{server.url}/kitchen/display?station=fry", headers=server.auth("kitchen")).text
    assert _allday(fry) == ["5 Fries"]


# Migration 0009


async def test_migration_0009_makes_old_groups_and_chosen_options_choices(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with database_at(db, "0008") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO modifier_groups (id, menu_item_id, name, position, min_choices, max_choices) "
                "VALUES (1, 1, 'Doneness', 0, 1, 1), (2, 1, 'Remove', 1, 0, 2)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO modifier_options (id, group_id, name, position, price_cents, allergens, available, "
                "switched_off) VALUES (1, 1, 'Medium', 0, 0, '', 1, 0), (2, 2, 'No onions', 0, 0, '', 1, 0)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO order_line_modifiers (line_id, option_id, group_name, option_name, price_cents, "
                "count, position) VALUES (1, 1, 'Doneness', 'Medium', 0, 1, 0), (1, 2, 'Remove', 'No onions', 0, 1, 1)"
            )
        )

    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        burger = await services.get_menu_item(store, 1)
        assert [(g["name"], g["kind"]) for g in burger["modifier_groups"]] == [
            ("Doneness", "choice"),
            ("Remove", "choice"),
        ]
        order = await services.get_order(store, 1)
        assert [(m["name"], m["kind"], m["exactly_one"]) for m in order["lines"][0]["modifiers"]] == [
            ("Medium", "choice", False),
            ("No onions", "choice", False),
        ]
        (burger_all_day,) = await waiting_counts(store)
        assert (burger_all_day.name, burger_all_day.count) == ("Burger", 1)
        assert [(c.group, c.options, c.no_choice) for c in burger_all_day.choices] == [
            ("Doneness", [("Medium", 1)], 0),
            ("Remove", [("No onions", 1)], 0),
        ]
    finally:
        await store.close()
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):  # the column checks the vocabulary, as a new one does
            conn.execute(sa.text("UPDATE modifier_groups SET kind = 'extra' WHERE id = 1"))


# Today's top modifiers


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "report.db")), Bus())
    await s.open()
    yield s
    await s.close()


async def test_today_counts_the_options_chosen_and_what_they_added(store: Store) -> None:
    burger = await services.create_menu_item(store, MenuItemIn.model_validate(BURGER))
    fries = await services.create_menu_item(store, MenuItemIn.model_validate(FRIES))

    async def order(*lines: dict[str, Any]) -> dict[str, Any]:
        made, _ = await services.create_order(
            store, OrderIn.model_validate({"customer_name": "Ada", "channel": "counter", "items": list(lines)})
        )
        return made

    await order(_line(burger, "Medium", "Bacon", "Bacon", quantity=2), {"menu_item_id": fries["id"], "quantity": 1})
    await order(_line(burger, "Medium", "Bacon", "Extra cheese", "No onions"))
    await order(_line(burger, "Well done"))
    cancelled = await order(_line(burger, "Well done", "Extra cheese", quantity=9))
    await services.change_status(store, cancelled["id"], "cancelled")

    today = await reports.today(store, datetime.now(UTC))
    assert [(m.group, m.name, m.chosen, m.revenue_cents) for m in today.top_modifiers] == [
        ("Add-ons", "Bacon", 5, 1000),  # double bacon on two burgers, and one more
        ("Doneness", "Medium", 3, 0),
        ("Add-ons", "Extra cheese", 1, 100),  # ties by group, then name
        ("Doneness", "Well done", 1, 0),
        ("Remove", "No onions", 1, 0),
    ]
    assert len(today.top_modifiers) == reports.TOP_MODIFIERS
    tomorrow = await reports.today(store, datetime(2099, 1, 1, 12, tzinfo=UTC))
    assert tomorrow.top_modifiers == []


def test_the_console_shows_todays_top_modifiers(server: Server, client: httpx.Client) -> None:
    page = client.get("/manage", headers={"accept": "text/html"}).text
    assert "No orders yet today." in page and 'id="top-modifiers"' not in page
    fries = client.post("/menu", json=FRIES).json()
    _order(client, {"menu_item_id": fries["id"], "quantity": 1})
    page = client.get("/manage", headers={"accept": "text/html"}).text
    assert '<p class="muted" id="top-modifiers">No modifiers chosen yet today.</p>' in page
    burger = client.post("/menu", json=BURGER).json()
    _order(client, _line(burger, "Medium", "Bacon", "Bacon", quantity=3))
    page = client.get("/manage", headers={"accept": "text/html"}).text
    table = page[page.index('id="top-modifiers"') :]
    table = table[table.index("<tbody>") : table.index("</table>")]
    rows = [
        [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
    ]
    assert rows == [["Bacon", "Add-ons", "6", "$12.00"], ["Medium", "Doneness", "3", "$0.00"]]
