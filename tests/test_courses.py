"""Courses, hold and fire, and the rush flag (issue 15): which courses go at sending, held lines on
the kitchen's views and all-day counts over a real server's stream, firing (idempotent, errors),
auto-fire on bump, rush first on the rail, and migration 0011 on a database made at 0010."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow.services.courses import fired_at_send, fired_when_added
from forkflow.store import _alembic_config

from .conftest import Server, database_at, on_both_backends

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("courses", "fired"),  # (of a table order)
    [
        ({0, 1, 2, 3}, {0, 1}),  # drinks and starters at once; mains and desserts held
        ({2}, {2}),  # mains only: not held forever, its first course goes at once
        ({0, 2}, {0, 2}),  # drinks with mains: the mains are the first course
        ({0}, {0}),
        ({1, 3}, {1}),
        ({3, 2, 5}, {2}),
    ],
)
def test_which_courses_go_when_the_order_is_sent(courses: set[int], fired: set[int]) -> None:
    assert fired_at_send(courses, "table") == fired
    for channel in ("counter", "online"):  # packed and handed over at once: nothing is held
        assert fired_at_send(courses, channel) == courses


# Over a real server


def set_courses(client: httpx.Client) -> None:
    """The test menu's categories as a restaurant pairs them: drinks at once, sides first, mains second."""
    answer = client.put("/menu/categories", json={"courses": {"Drinks": 0, "Sides": 1, "Mains": 2}})
    assert answer.status_code == 200, answer.text
    assert {c["name"]: c["course"] for c in answer.json()["categories"]} == {"Drinks": 0, "Sides": 1, "Mains": 2}


def item(menu: list[dict], name: str) -> int:
    return next(dish["id"] for dish in menu if dish["name"] == name)


def two_courses(menu: list[dict], **line_courses: int) -> dict:
    """Fries (course 1, fry) and a burger (course 2, grill) and a lemonade (course 0, bar) for table 4."""
    lines = [
        {"menu_item_id": item(menu, name), "quantity": 1}
        | ({"course": line_courses[key]} if key in line_courses else {})
        for name, key in (("Lemonade", "lemonade"), ("Fries", "fries"), ("Classic Burger", "burger"))
    ]
    return {"customer_name": "Table four", "channel": "table", "table": "4", "items": lines}


def by_name(order: dict) -> dict[str, dict]:
    return {line["name"]: line for line in order["lines"]}


@on_both_backends
def test_lines_take_their_categorys_course_and_later_courses_are_held(client: httpx.Client, menu: list[dict]) -> None:
    set_courses(client)
    order = client.post("/orders", json=two_courses(menu)).json()
    lines = by_name(order)
    assert [lines[name]["course"] for name in ("Lemonade", "Fries", "Classic Burger")] == [0, 1, 2]
    assert lines["Lemonade"]["fired_at"] == lines["Fries"]["fired_at"] == order["created_at"]
    assert lines["Classic Burger"]["fired_at"] is None
    assert order["held_courses"] == [2] and order["rush"] is False

    mains_only = client.post(
        "/orders", json={**two_courses(menu), "items": [{"menu_item_id": item(menu, "Classic Burger"), "quantity": 1}]}
    ).json()
    assert mains_only["held_courses"] == [] and mains_only["lines"][0]["fired_at"] is not None

    takeaway = client.post("/orders", json={**two_courses(menu), "channel": "counter", "table": None}).json()
    assert takeaway["held_courses"] == [] and all(line["fired_at"] for line in takeaway["lines"])

    moved = client.post("/orders", json=two_courses(menu, fries=3, burger=1)).json()  # the till's per-line choice
    assert (by_name(moved)["Fries"]["course"], moved["held_courses"]) == (3, [3])
    assert client.post("/orders", json=two_courses(menu, fries=10)).status_code == 422


def frames_of(server: Server, query: str) -> Iterator[dict]:
    """The /kitchen/stream frames as they arrive, as {event, id, data}."""
    current: dict = {"data": []}
    with httpx.stream(
        "GET", f"{server.url}/kitchen/stream?{query}", headers=server.auth("kitchen"), timeout=httpx.Timeout(10)
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line == "":
                if "event" in current:
                    yield {**current, "data": "\n".join(current["data"])}
                current = {"data": []}
            elif line.startswith("data: "):
                current["data"].append(line[6:])
            elif line.startswith(("event: ", "id: ")):
                key, _, value = line.partition(": ")
                current[key] = value


class Display:
    """A kitchen display's stream, read live in a thread: the last `ticket` fragment per order and
    the last all-day panel."""

    def __init__(self, server: Server, station: str) -> None:
        self.tickets: dict[str, str] = {}
        self.allday = ""
        self.ready = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=self._read, args=(server, station), daemon=True)

    def _read(self, server: Server, station: str) -> None:
        for frame in frames_of(server, f"station={station}"):
            if self.stop:
                return
            if frame["event"] == "ticket":
                marker = frame["data"].split('id="ticket-', 1)[1].split('"', 1)[0]
                self.tickets[marker] = frame["data"]
            elif frame["event"] == "allday":
                self.allday = frame["data"]
            elif frame["event"] == "stream.ready":
                self.ready.set()

    def wait(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"the display did not show it: {self.tickets} {self.allday}"
            time.sleep(0.05)


@contextmanager
def display(server: Server, station: str) -> Iterator[Display]:
    shown = Display(server, station)
    shown.thread.start()
    assert shown.ready.wait(10)
    try:
        yield shown
    finally:
        shown.stop = True  # (the thread ends with the server, or at the next frame)


def allday_count(panel: str, name: str) -> int:
    """The all-day count of `name` in a rendered panel (0 when it is not listed)."""
    if name not in panel:
        return 0
    before = panel.split(name, 1)[0]
    digits = "".join(ch for ch in before[-80:] if ch.isdigit() or ch == ">")
    return int(digits.rsplit(">", 1)[-1] or 0)


@on_both_backends
def test_a_held_course_reaches_its_station_only_when_fired(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    set_courses(client)
    with display(server, "grill") as grill, display(server, "fry") as fry, display(server, "") as every:
        order = client.post("/orders", json=two_courses(menu)).json()
        key = str(order["id"])
        fry.wait(lambda: key in fry.tickets)
        assert "Fries" in fry.tickets[key] and "data-remove" not in fry.tickets[key]
        every.wait(lambda: key in every.tickets)
        whole = every.tickets[key]
        assert "Course 2 · held" in whole and whole.index("Classic Burger") > whole.index("Course 2 · held")
        assert "Fire course 2" in whole or "Start" in whole
        # The grill's lines are all held: its display has no ticket, and its all-day counts no burger.
        grill.wait(lambda: key in grill.tickets)
        assert "data-remove" in grill.tickets[key]
        grill.wait(lambda: grill.allday != "")
        every.wait(lambda: "Fries" in every.allday)
        assert "Classic Burger" not in grill.allday and "Classic Burger" not in every.allday

        fired = client.post(f"/orders/{key}/fire", json={"course": 2})
        assert fired.status_code == 200 and fired.json()["held_courses"] == []
        grill.wait(lambda: "data-remove" not in grill.tickets[key])
        assert "Classic Burger" in grill.tickets[key]
        grill.wait(lambda: "Classic Burger" in grill.allday)
        every.wait(lambda: "Course 2 · held" not in every.tickets[key])
        every.wait(lambda: "Classic Burger" in every.allday)


@on_both_backends
def test_held_lines_cannot_be_bumped_and_the_order_is_not_ready_while_courses_are_held(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    set_courses(client)
    order = client.post("/orders", json=two_courses(menu)).json()
    burger = by_name(order)["Classic Burger"]
    kitchen = httpx.Client(base_url=server.url, headers={**server.auth("kitchen"), **HX}, timeout=10)
    with kitchen:
        assert kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "new"}).status_code == 204
        toggled = kitchen.post(f"/kitchen/tickets/{order['id']}/lines/{burger['id']}", data={"done": "1"})
        assert toggled.status_code == 409 and toggled.json()["error"]["reason"] == "held"
        for station in ("bar", "fry", "grill"):  # the grill has nothing fired: its bump changes nothing
            kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "preparing", "station": station})
        now = client.get(f"/orders/{order['id']}").json()
        assert by_name(now)["Classic Burger"]["done_at"] is None
        assert by_name(now)["Fries"]["done_at"] is not None
        refused = client.patch(f"/orders/{order['id']}", json={"status": "ready"})
        assert refused.status_code == 409
        assert refused.json()["error"]["reason"] == "courses_held" and refused.json()["error"]["held_courses"] == [2]
        page = kitchen.get("/kitchen/display").text
        assert f'hx-post="/kitchen/tickets/{order["id"]}/fire"' in page  # the ticket's tap fires course 2
        assert kitchen.post(f"/kitchen/tickets/{order['id']}/fire", data={"course": "2"}).status_code == 204
        assert kitchen.post(f"/kitchen/tickets/{order['id']}/fire", data={"course": "2"}).status_code == 409
        kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "preparing", "station": "grill"})
        assert client.patch(f"/orders/{order['id']}", json={"status": "ready"}).json()["status"] == "ready"


@on_both_backends
def test_fire_is_idempotent_and_refuses_what_it_cannot_fire(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    set_courses(client)
    order = client.post("/orders", json=two_courses(menu, lemonade=3)).json()  # held: 2 and 3
    fire = f"/orders/{order['id']}/fire"
    other = client.post("/orders", json=two_courses(menu)).json()

    def last_event() -> int:
        return int(client.get("/health").json()["bus"]["last_event_id"])

    first = client.post(fire, json={"course": 2}, headers={"Idempotency-Key": "fire-two"})
    assert first.status_code == 200 and first.json()["held_courses"] == [3]
    written = last_event()
    cases = [
        # (body, key, status, reason)
        ({"course": 2}, "fire-two", 200, None),  # the same key: the same answer, nothing written
        ({"course": 2}, None, 409, "already_fired"),
        ({"course": 2}, "fire-again", 409, "already_fired"),
        ({"course": 3}, "fire-two", 422, "idempotency_key_reused"),  # the key stands for course 2
        ({"course": 5}, None, 409, "no_such_course"),
        ({"course": -1}, None, 422, None),
        ({"course": 10}, None, 422, None),
        ({"course": "2"}, None, 422, None),
        ({"course": True}, None, 422, None),
        ({}, None, 422, None),
        ({"course": 2}, "bad key", 400, None),
    ]
    for body, key, status, reason in cases:
        headers = {"Idempotency-Key": key} if key else {}
        answer = client.post(fire, json=body, headers=headers)
        assert answer.status_code == status, (body, key, answer.text)
        if status == 200:
            assert answer.json()["held_courses"] == [3] and answer.json()["id"] == order["id"]
        else:
            assert answer.json()["error"]["message"]
            if reason is not None:
                assert answer.json()["error"]["reason"] == reason
    assert (
        client.post(
            f"/orders/{other['id']}/fire", json={"course": 2}, headers={"Idempotency-Key": "fire-two"}
        ).status_code
        == 422
    )
    assert client.post("/orders/99999/fire", json={"course": 2}).status_code == 404
    assert last_event() == written  # nothing written by any of them
    assert client.get(f"/orders/{order['id']}").json()["held_courses"] == [3]
    client.patch(f"/orders/{order['id']}", json={"status": "cancelled"})
    assert client.post(fire, json={"course": 3}).status_code == 409  # off the rail


@on_both_backends
def test_auto_fire_fires_the_next_course_when_the_last_line_of_one_is_bumped(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    set_courses(client)
    assert client.get("/kitchen/settings").json() == {"auto_fire": False}
    kitchen = httpx.Client(base_url=server.url, headers={**server.auth("kitchen"), **HX}, timeout=10)
    with kitchen:
        manual = client.post("/orders", json=two_courses(menu)).json()
        kitchen.post(f"/kitchen/tickets/{manual['id']}/bump", data={"status": "new"})
        kitchen.post(f"/kitchen/tickets/{manual['id']}/bump", data={"status": "preparing", "station": "fry"})
        assert client.get(f"/orders/{manual['id']}").json()["held_courses"] == [2]  # off: nothing fires

        assert client.put("/kitchen/settings", json={"auto_fire": True}).json() == {"auto_fire": True}
        order = client.post("/orders", json=two_courses(menu)).json()
        kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "new"})
        kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "preparing", "station": "bar"})
        assert client.get(f"/orders/{order['id']}").json()["held_courses"] == [2]  # drinks (0) fire nothing
        since = int(client.get("/health").json()["bus"]["last_event_id"])
        kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "preparing", "station": "fry"})
        after = client.get(f"/orders/{order['id']}").json()
        assert after["held_courses"] == [] and by_name(after)["Classic Burger"]["fired_at"] is not None
        # One write, one event: the fries done and the mains fired together.
        assert int(client.get("/health").json()["bus"]["last_event_id"]) == since + 1


@on_both_backends
def test_rush_orders_go_first_with_a_badge(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    first = client.post("/orders", json=two_courses(menu)).json()
    second = client.post("/orders", json=two_courses(menu)).json()
    rushed = client.patch(f"/orders/{second['id']}", json={"rush": True})
    assert rushed.status_code == 200 and rushed.json()["rush"] is True and rushed.json()["status"] == "new"
    both = client.patch(f"/orders/{first['id']}", json={"rush": False, "status": "preparing"}).json()
    assert (both["rush"], both["status"]) == (False, "preparing")
    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert page.index(f'id="ticket-{second["id"]}"') < page.index(f'id="ticket-{first["id"]}"')
    assert page.count('class="rush-badge"') == 1
    since = int(client.get("/health").json()["bus"]["last_event_id"])
    assert client.patch(f"/orders/{second['id']}", json={"rush": True}).status_code == 200  # as it was: no event
    assert int(client.get("/health").json()["bus"]["last_event_id"]) == since
    assert client.patch(f"/orders/{second['id']}", json={"rush": "yes"}).status_code == 422
    client.patch(f"/orders/{second['id']}", json={"status": "cancelled"})
    assert client.patch(f"/orders/{second['id']}", json={"rush": False}).status_code == 409


# Migration 0011


def test_migration_0011_fires_the_lines_of_existing_orders(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with database_at(db, "0010") as conn:
        command.upgrade(_alembic_config(conn), "0011")
        line = conn.execute(sa.text("SELECT course, fired_at FROM order_lines")).one()
        assert line.course == 1 and str(line.fired_at).startswith("2026-01-01 12:00:00")
        assert conn.execute(sa.text("SELECT rush FROM orders")).scalar() == 0
        assert conn.execute(sa.text("SELECT course FROM menu_categories")).scalar() == 1
        assert conn.execute(sa.text("SELECT auto_fire FROM kitchen_settings WHERE id = 1")).scalar() == 0
        revision = conn.execute(sa.text("SELECT revision FROM menu_revision")).scalar()
        conn.execute(sa.text("UPDATE menu_categories SET course = 2"))  # the order writer's cache must see it
        assert conn.execute(sa.text("SELECT revision FROM menu_revision")).scalar() == revision + 1
        command.downgrade(_alembic_config(conn), "0010")
        assert "course" not in {c["name"] for c in sa.inspect(conn).get_columns("order_lines")}


# The console


def test_the_console_sets_a_categorys_course_and_auto_fire(client: httpx.Client, menu: list[dict]) -> None:
    page = client.get("/manage").text
    assert 'aria-label="Course of Drinks"' in page and 'id="auto-fire"' in page
    answer = client.post("/manage/menu/categories/course", data={"category": "Drinks", "course": "0"}, headers=HX)
    assert answer.status_code == 200 and 'value="0" selected' in answer.text
    assert {c["name"]: c["course"] for c in client.get("/menu/categories").json()["categories"]}["Drinks"] == 0
    order = client.post(
        "/orders",
        json={
            "customer_name": "Ada",
            "channel": "counter",
            "items": [{"menu_item_id": item(menu, name), "quantity": 1} for name in ("Lemonade", "Fries")],
        },
    ).json()
    assert [line["course"] for line in order["lines"]] == [0, 1]  # the writer's menu cache saw the change
    for refused in ({"category": "Soups", "course": "1"}, {"category": "Drinks", "course": "10"}):
        assert client.post("/manage/menu/categories/course", data=refused, headers=HX).status_code in (400, 422)
    assert client.post("/manage/kitchen", data={"auto_fire": "1"}, headers=HX).status_code == 200
    assert client.get("/kitchen/settings").json() == {"auto_fire": True}
    client.post("/manage/kitchen", data={}, headers=HX).raise_for_status()  # the box unticked
    assert client.get("/kitchen/settings").json() == {"auto_fire": False}


# The till's ticket


def test_the_tills_ticket_sends_each_lines_course_or_its_categorys() -> None:
    from starlette.datastructures import FormData

    from forkflow.errors import BadRequest
    from forkflow.routes.pos.ticket import Ticket

    def form(*courses: str) -> FormData:
        fields = [("idempotency_key", "till-abc"), ("customer_name", "Ada"), ("channel", "table"), ("table", "4")]
        for n, course in enumerate(courses):
            fields += [("line", f"0000000{n}"), ("item", str(n + 1)), ("quantity", "1"), ("line_notes", "")]
            fields += [("line_modifiers", ""), ("line_course", course)]
        return FormData(fields)

    assert [line.course for line in Ticket.from_form(form("3", "")).order().items] == [3, None]
    for garbled in ("x", "10", "-1", " 1"):
        with pytest.raises(BadRequest):
            Ticket.from_form(form(garbled))
    old_page = FormData([(k, v) for k, v in form("2").multi_items() if k != "line_course"])
    assert Ticket.from_form(old_page).order().items[0].course is None  # a page from before courses


# Courses and changes after sending together


@pytest.mark.parametrize(
    ("courses", "held", "fired"),  # lines added to a table order whose `held` courses wait
    [
        ({3}, [2], set()),  # a dessert added while the mains are held waits too
        ({2}, [2], set()),  # one more burger joins the held mains
        ({0, 1}, [2], {0, 1}),  # drinks, and a starter for a table still on starters, go now
        ({3}, [], {3}),  # every course already fired: the dessert goes now
    ],
)
def test_which_added_lines_go_at_once(courses: set[int], held: list[int], fired: set[int]) -> None:
    assert fired_when_added(courses, held, "table") == fired
    assert fired_when_added(courses, held, "counter") == courses  # nothing is held on a counter order


@on_both_backends
def test_lines_added_and_voided_keep_to_the_courses(client: httpx.Client, menu: list[dict]) -> None:
    set_courses(client)
    order = client.post("/orders", json=two_courses(menu)).json()
    assert order["held_courses"] == [2]

    def add(name: str, key: str) -> dict:
        body = {"items": [{"menu_item_id": item(menu, name), "quantity": 1}]}
        answer = client.post(f"/orders/{order['id']}/lines", json=body, headers={"Idempotency-Key": key})
        assert answer.status_code == 200, answer.text
        return answer.json()

    added = add("Classic Burger", "add-burger")  # course 2, held with the other burger
    new_burger = max(line["id"] for line in added["lines"])
    assert by_id(added)[new_burger]["fired_at"] is None and added["held_courses"] == [2]
    added = add("Lemonade", "add-lemonade")  # course 0: at once
    assert by_id(added)[max(by_id(added))]["fired_at"] is not None

    # Both held burgers voided: course 2 is no longer there to fire, and nothing is held.
    first_burger = next(line["id"] for line in added["lines"] if line["name"] == "Classic Burger")
    for line_id in (first_burger, new_burger):
        voided = client.post(f"/orders/{order['id']}/lines/{line_id}/void", json={"reason": "changed their mind"})
        assert voided.status_code == 200, voided.text
    assert voided.json()["held_courses"] == []
    refused = client.post(f"/orders/{order['id']}/fire", json={"course": 2})
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "no_such_course"
    lines = by_id(client.get(f"/orders/{order['id']}").json())
    assert lines[first_burger]["fired_at"] is None and lines[new_burger]["fired_at"] is None  # never sent


def by_id(order: dict) -> dict[int, dict]:
    return {line["id"]: line for line in order["lines"]}
