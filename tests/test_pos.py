"""The till (`/pos`) over HTTP: who may use it, the ticket the server prices on every change, bad
input, idempotent sending, and the till's stream. (The browser tests are in test_pos_browser.py.)

Each test drives the ticket the way the page does: it reads the form fields out of the HTML the
server rendered, and posts them back with the tap (`add` or `op`), as htmx would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import httpx
import pytest

from .conftest import PASSWORDS, Server, csrf_from

HX = {"HX-Request": "true"}
Fields = list[tuple[str, str]]


def post_form(url: str, fields: Fields, headers: dict[str, str], client: httpx.Client | None = None) -> httpx.Response:
    """A form post with repeated fields in order (the ticket's lines), as a browser sends it."""
    headers = {**headers, "content-type": "application/x-www-form-urlencoded"}
    return (client or httpx).post(url, content=urlencode(fields), headers=headers)  # type: ignore[union-attr]


class Rendered(HTMLParser):
    """What a browser would submit from a rendered ticket (inputs in order, checked radios, textareas),
    and the text of every element with an id."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: Fields = []
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are inside
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.attrs_by_id[a["id"]] = a
            self.text_by_id.setdefault(a["id"], "")
        if tag == "input" and "name" in a and (a.get("type") not in ("radio", "checkbox") or "checked" in a):
            self.fields.append((a["name"], a.get("value", "")))
        if tag == "textarea":
            self._textarea = a.get("name")
            self.fields.append((a.get("name", ""), ""))
        if tag not in self.VOID:
            self._open.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data.lstrip("\n") if not value else value + data)
        for _, element_id in self._open:
            if element_id:
                self.text_by_id[element_id] += data

    def text(self, element_id: str) -> str:
        return " ".join(self.text_by_id.get(element_id, "").split())

    def value(self, name: str) -> str:
        return next(value for key, value in self.fields if key == name)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def lines(self) -> list[tuple[str, str, str]]:
        """(name, quantity, line total) per line of the ticket."""
        out = []
        for i in range(len(self.values("item"))):
            out.append((self.text(f"line-{i}").split(" ")[0], self.values("quantity")[i], self._line_total(i)))
        return out

    def _line_total(self, i: int) -> str:
        return self.text(f"line-{i}-total")

    def pressed(self, element_id: str) -> bool:
        return self.attrs_by_id[element_id].get("aria-pressed") == "true"

    def disabled(self, element_id: str) -> bool:
        return "disabled" in self.attrs_by_id[element_id]


class Till:
    """One cashier's ticket, posted back and forth like the page does."""

    def __init__(self, server: Server, role: str = "cashier") -> None:
        self.server = server
        self.headers = {**server.auth(role), **HX}
        page = httpx.get(f"{server.url}/pos", headers=server.auth(role), timeout=10)
        assert page.status_code == 200, page.text
        self.page = page.text
        self.ticket = Rendered(page.text)
        self.response: httpx.Response = page

    def post(self, path: str, extra: Fields = (), replace: dict[str, str] | None = None) -> httpx.Response:
        fields = [(k, (replace or {}).get(k, v)) for k, v in self.ticket.fields if k != "csrf_token"]
        fields += [(k, v) for k, v in (replace or {}).items() if k not in {f for f, _ in fields}]
        self.response = post_form(f"{self.server.url}{path}", fields + list(extra), self.headers)
        if self.response.headers.get("content-type", "").startswith("text/html"):
            self.ticket = Rendered(self.response.text)
        return self.response

    def tap(self, **tap: str | int) -> httpx.Response:
        return self.post("/pos/ticket", [(k, str(v)) for k, v in tap.items()])

    def step(self, action: str, index: int) -> httpx.Response:
        """+, − or Remove on the line at `index` (a tap names its line by the line's own id)."""
        return self.tap(op=f"{action}:{self.ticket.values('line')[index]}")

    def type(self, **values: str) -> None:
        """Type into the ticket's fields (as the browser holds them; nothing is posted)."""
        fields = self.ticket.fields
        for name, value in values.items():
            fields[:] = [(k, value if k == name else v) for k, v in fields]
            if name not in {k for k, _ in fields}:
                fields.append((name, value))

    def type_line(self, index: int, **values: str) -> None:
        """Type into one line's fields (`quantity`, `line_notes`, `item`)."""
        for name, value in values.items():
            at = [i for i, (k, _) in enumerate(self.ticket.fields) if k == name][index]
            self.ticket.fields[at] = (name, value)

    def send(self) -> httpx.Response:
        return self.post("/pos/orders")

    @property
    def key(self) -> str:
        return self.ticket.value("idempotency_key")

    @property
    def total(self) -> str:
        return self.ticket.text("total")

    @property
    def error(self) -> str:
        return self.ticket.text("ticket-error")


def dishes(server: Server) -> dict[str, dict]:
    made = {}
    for name, cents, category in (
        ("Burger", 1550, "Mains"),
        ("Fries", 450, "Sides"),
        ("Salad", 1200, "Mains"),
        ("Lemonade", 350, "Drinks"),
    ):
        body = {"name": name, "price_cents": cents, "category": category, "station": "grill"}
        response = httpx.post(f"{server.url}/menu", json=body, headers=server.auth("manager"))
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return made


@pytest.fixture
def food(server: Server) -> dict[str, dict]:
    return dishes(server)


def orders(server: Server) -> list[dict]:
    response = httpx.get(f"{server.url}/orders", headers=server.auth("manager"))
    assert response.status_code == 200
    return response.json()


def set_available(server: Server, dish: dict, available: bool) -> None:
    response = httpx.put(
        f"{server.url}/menu/{dish['id']}/availability", json={"available": available}, headers=server.auth("manager")
    )
    assert response.status_code == 200, response.text


def build(till: Till, food: dict[str, dict], *names: str) -> None:
    for name in names:
        assert till.tap(add=food[name]["id"]).status_code == 200, till.response.text


# Who may use the till


def test_the_till_is_for_cashiers_and_managers(server: Server, food: dict) -> None:
    for role in ("cashier", "manager"):
        page = httpx.get(f"{server.url}/pos", headers=server.auth(role))
        assert page.status_code == 200
        assert 'id="dish-1"' in page.text and 'sse-connect="/pos/stream"' in page.text
    kitchen = server.auth("kitchen")
    for method, path in (("GET", "/pos"), ("POST", "/pos/ticket"), ("POST", "/pos/orders"), ("GET", "/pos/stream")):
        refused = httpx.request(method, f"{server.url}{path}", headers=kitchen, data={"add": "1"})
        assert refused.status_code == 403, (method, path)
        assert refused.json()["error"]["code"] == "forbidden"
        anonymous = httpx.request(method, f"{server.url}{path}", data={"add": "1"})
        # A form post from nobody fails its CSRF check before it gets as far as asking who it is.
        assert anonymous.status_code == (401 if method == "GET" else 403), (method, path)
    assert orders(server) == []


def test_a_browser_not_allowed_is_sent_to_sign_in(server: Server) -> None:
    anonymous = httpx.get(f"{server.url}/pos", headers={"accept": "text/html"})
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/pos"
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}) as web:
        sign_in(web, "kitchen")
        page = web.get("/pos")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/pos"


def sign_in(web: httpx.Client, role: str) -> None:
    token = csrf_from(web.get("/login").text)
    response = web.post("/login", data={"username": role, "password": PASSWORDS[role], "csrf_token": token})
    assert response.status_code == 303


def test_a_signed_in_till_needs_its_csrf_token(server: Server, food: dict) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}) as web:
        sign_in(web, "cashier")
        page = Rendered(web.get("/pos").text)
        body = [(k, v) for k, v in page.fields if k != "csrf_token"]
        line = [("line", "0badf00d"), ("item", str(food["Fries"]["id"])), ("quantity", "1"), ("line_notes", "")]
        body += [*line, ("customer_name", "Ada")]
        forged = post_form("/pos/orders", body, HX, web)
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
        assert orders(server) == []
        sent = post_form("/pos/orders", body, {**HX, "X-CSRF-Token": page.value("csrf_token")}, web)
        assert sent.status_code == 201
        assert len(orders(server)) == 1


# A fresh ticket


def test_every_ticket_starts_with_a_key_of_its_own(server: Server, food: dict) -> None:
    first, second = Till(server), Till(server)
    assert re.fullmatch(r"till-[A-Za-z0-9_-]{24}", first.key)
    assert first.key != second.key
    assert first.total == "$0.00" and first.ticket.values("item") == []
    assert "Tap a dish" in first.page


# Pricing, on the server, from the menu


def test_each_tap_is_priced_by_the_server(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Burger", "Fries")
    assert till.ticket.lines() == [("Burger", "2", "$31.00"), ("Fries", "1", "$4.50")]
    assert till.total == "$35.50"
    assert till.step("inc", 1).status_code == 200
    assert till.ticket.lines()[1] == ("Fries", "2", "$9.00") and till.total == "$40.00"
    assert till.step("dec", 0).status_code == 200
    assert till.total == "$24.50"
    till.type(quantity="3")  # both lines now say 3, as typed
    assert till.post("/pos/ticket").status_code == 200
    assert till.total == "$60.00"  # (15.50 + 4.50) × 3


def test_a_price_sent_by_the_page_is_ignored(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger")
    extra = [("price_cents", "1"), ("unit_price_cents", "1"), ("total_cents", "1"), ("total", "0.01")]
    till.post("/pos/ticket", extra)
    assert till.total == "$15.50"
    till.type(customer_name="Ada")
    assert till.post("/pos/orders", extra).status_code == 201
    assert orders(server)[0]["total_cents"] == 1550


def test_a_new_price_on_the_menu_reprices_an_open_ticket(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Fries", "Fries")
    assert till.total == "$9.00"
    fries = {k: food["Fries"][k] for k in ("name", "category", "station")} | {"price_cents": 500}
    assert httpx.put(f"{server.url}/menu/{food['Fries']['id']}", json=fries, headers=server.auth("manager")).is_success
    till.post("/pos/ticket")
    assert till.total == "$10.00"


def test_taps_merge_into_a_plain_line_but_not_into_one_with_a_note(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger")
    till.type(line_notes="no onions")
    build(till, food, "Burger", "Burger")
    assert till.ticket.lines() == [("Burger", "1", "$15.50"), ("Burger", "2", "$31.00")]
    assert till.ticket.values("line_notes") == ["no onions", ""]


def test_lines_go_away_by_minus_or_remove_and_new_ticket_starts_over(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Fries", "Salad")
    till.step("dec", 1)  # Fries at 1: minus takes the line off
    assert [name for name, _, _ in till.ticket.lines()] == ["Burger", "Salad"]
    till.step("remove", 0)
    assert [name for name, _, _ in till.ticket.lines()] == ["Salad"]
    key = till.key
    till.type(customer_name="Ada")
    till.tap(op="clear")
    assert till.ticket.values("item") == [] and till.key != key and till.ticket.value("customer_name") == ""


def test_table_orders_ask_for_the_table(server: Server, food: dict) -> None:
    till = Till(server)
    assert 'name="table"' not in till.page
    till.type(channel="table")
    assert till.post("/pos/ticket").status_code == 200
    assert till.ticket.attrs_by_id["table"]["name"] == "table"
    assert "checked" in till.ticket.attrs_by_id["channel-table"]


# Bad input: shown next to what it is about, kept as typed, nothing written


def test_a_bad_quantity_is_shown_inline_and_kept(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Fries")
    till.type(customer_name="Ada <b>", notes="by the window")
    till.type_line(0, quantity="lots")
    response = till.post("/pos/ticket")
    assert response.status_code == 422
    assert till.ticket.values("quantity") == ["lots", "1"]
    assert till.ticket.text("line-0-qty-error") == "a whole number from 1 to 99"
    assert till.ticket.attrs_by_id["line-0-qty"]["aria-invalid"] == "true"
    assert till.ticket.value("customer_name") == "Ada <b>" and till.ticket.value("notes") == "by the window"
    assert "Ada &lt;b&gt;" in response.text
    assert till.total == "$4.50"  # what can be priced
    response = till.send()
    assert response.status_code == 422
    assert till.ticket.text("line-0-qty-error")
    assert till.ticket.values("quantity") == ["lots", "1"]
    assert orders(server) == []


def test_too_many_of_a_dish_is_refused_and_changes_nothing(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger")
    till.type(quantity="99")
    till.post("/pos/ticket")
    for tap in ({"op": f"inc:{till.ticket.value('line')}"}, {"add": food["Burger"]["id"]}):
        response = till.tap(**tap)
        assert response.status_code == 422
        assert "at most 99" in till.error.lower()
        assert till.ticket.lines() == [("Burger", "99", "$1,534.50")]
    till.type(quantity="100")
    assert till.post("/pos/ticket").status_code == 422
    assert till.ticket.text("line-0-qty-error") == "a whole number from 1 to 99"


def test_unknown_dishes_and_lines_are_refused(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Fries")
    before = till.ticket.fields[:]
    uid = till.ticket.value("line")
    for tap in (
        {"add": 999},
        {"add": "x"},
        {"add": "1" * 30},
        {"op": "inc:0"},
        {"op": "inc:0badf00d"},
        {"op": f"explode:{uid}"},
    ):
        response = till.tap(**tap)
        assert response.status_code == 422, tap
        assert till.error
        assert [f for f in till.ticket.fields if f[0] != "csrf_token"] == [f for f in before if f[0] != "csrf_token"]
    till.type(item="999")
    assert till.post("/pos/ticket").status_code == 422
    assert till.ticket.text("line-0-item-error") == "not on the menu"
    assert till.send().status_code == 422
    assert orders(server) == []


def test_a_garbled_form_is_a_bad_request(server: Server, food: dict) -> None:
    till = Till(server)
    for garbled in (
        [("line", "0badf00d"), ("item", "1"), ("quantity", "1")],  # no line_notes
        [("line", "<b>"), ("item", "1"), ("quantity", "1"), ("line_notes", "")],  # not a line id we made
    ):
        response = till.post("/pos/ticket", garbled)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    build(till, food, "Fries")
    till.type(customer_name="Ada")
    for key in ("", "has space", "x" * 201):
        response = till.post("/pos/orders", replace={"idempotency_key": key})
        assert response.status_code == 400, key
    assert orders(server) == []


def test_sending_checks_the_whole_order_and_keeps_what_was_typed(server: Server, food: dict) -> None:
    till = Till(server)
    response = till.send()
    assert response.status_code == 422 and till.error == "Add at least one item to the ticket"
    build(till, food, "Burger")
    till.type(line_notes="well done", notes="birthday")
    assert till.send().status_code == 422
    assert till.ticket.text("customer_name-error") == "enter the customer's name"
    assert till.ticket.values("line_notes") == ["well done"] and till.ticket.value("notes") == "birthday"
    till.type(customer_name="A" * 81, channel="table")
    till.post("/pos/ticket")
    assert till.send().status_code == 422
    assert "80" in till.ticket.text("customer_name-error")
    assert till.ticket.text("table-error") == "enter the table"
    till.type(customer_name="Ada", table="7", line_notes="x" * 201)
    assert till.send().status_code == 422
    assert "200" in till.ticket.text("line-0-notes-error")
    assert orders(server) == []
    till.type(line_notes="well done")
    assert till.send().status_code == 201
    (order,) = orders(server)
    assert (order["customer_name"], order["channel"], order["table"], order["notes"]) == (
        "Ada",
        "table",
        "7",
        "birthday",
    )
    assert [(line["name"], line["quantity"], line["notes"]) for line in order["lines"]] == [("Burger", 1, "well done")]


# Sending: once, whatever happens


def test_sending_shows_the_ticket_number_and_starts_a_fresh_ticket(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Fries")
    till.type(customer_name="Ada")
    key = till.key
    response = till.send()
    assert response.status_code == 201
    (order,) = orders(server)
    placed = Rendered(response.text)
    assert placed.attrs_by_id["placed"]["hx-swap-oob"] == "true"
    sent, ready = placed.text("placed").split(" ready around ")
    assert sent == f"Sent: ticket #{order['ticket_no']} Ada · $20.00" and re.fullmatch(r"\d\d:\d\d", ready)
    # The kitchen has no pace yet: the dishes' longest prep time (10 minutes) from now.
    quoted = re.search(r'class="placed-ready">ready around <time datetime="([^"]+)"', response.text)
    assert quoted is not None
    created = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.fromisoformat(quoted.group(1)) - (created + timedelta(minutes=10))) <= timedelta(seconds=1)
    assert till.key != key and till.ticket.values("item") == [] and till.total == "$0.00"


def test_the_same_ticket_sent_again_is_the_same_order(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Fries")
    till.type(customer_name="Ada", line_notes="no salt")
    sent = list(till.ticket.fields)
    assert till.send().status_code == 201
    till.ticket.fields[:] = sent  # the answer was lost: the page still holds the ticket, and sends it again
    again = till.send()
    assert again.status_code == 200
    assert "Already sent as ticket #1" in Rendered(again.text).text("placed")
    assert len(orders(server)) == 1


def test_a_changed_ticket_under_a_used_key_is_refused(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger")
    till.type(customer_name="Ada")
    sent = list(till.ticket.fields)
    assert till.send().status_code == 201
    till.ticket.fields[:] = sent
    till.tap(add=food["Fries"]["id"])
    response = till.send()
    assert response.status_code == 422
    assert till.error.startswith("This ticket was already sent before it was changed")
    assert len(orders(server)) == 1


def test_the_till_and_the_api_share_the_key_rules(server: Server, food: dict) -> None:
    """A ticket sent from the till, then the same order through `POST /orders` with the same key:
    the same fingerprint, so the API replays the till's order."""
    till = Till(server)
    build(till, food, "Burger", "Burger")
    till.type(customer_name="Ada", channel="counter")
    key = till.key
    assert till.send().status_code == 201
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": food["Burger"]["id"], "quantity": 2}],
    }
    replay = httpx.post(f"{server.url}/orders", json=body, headers={**server.auth("cashier"), "Idempotency-Key": key})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert len(orders(server)) == 1


def test_a_sold_out_dish_is_flagged_on_the_ticket_and_refused_on_send(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Burger", "Fries")
    till.type(customer_name="Ada")
    set_available(server, food["Fries"], False)
    assert till.post("/pos/ticket").status_code == 200
    assert "Sold out now: Fries" in till.response.text
    assert 'class="ticket-line sold-out"' in till.response.text
    response = till.send()
    assert response.status_code == 409
    assert till.error == "Not available right now: Fries"
    assert till.ticket.text("line-1-item-error") == "not available"
    assert till.ticket.lines()[1][:2] == ("Fries", "1")  # kept, for the cashier to take off
    assert orders(server) == []
    assert till.tap(add=food["Fries"]["id"]).status_code == 409
    assert till.error == "Fries is sold out" and len(till.ticket.lines()) == 2
    till.step("remove", 1)
    assert till.send().status_code == 201
    assert [line["name"] for line in orders(server)[0]["lines"]] == ["Burger"]


def test_a_plain_form_post_gets_the_whole_till(server: Server, food: dict) -> None:
    """Without script the form still works: the answer is the till page itself."""
    till = Till(server)
    till.headers = server.auth("cashier")
    build(till, food, "Lemonade")
    assert "<html" in till.response.text and 'id="recent"' in till.response.text
    till.type(customer_name="Ada")
    assert till.send().status_code == 201
    assert "Sent: ticket #1" in till.ticket.text("placed")
    assert "#1 Ada" in till.ticket.text("recent")


# The stream


def frames(server: Server, role: str = "cashier") -> Iterator[dict]:
    """The till stream's frames as {event, data}, as they arrive."""
    current: dict = {"data": []}
    with httpx.stream("GET", f"{server.url}/pos/stream", headers=server.auth(role), timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line == "":
                if "event" in current:
                    yield {"event": current["event"], "data": "\n".join(current["data"])}
                current = {"data": []}
            elif line.startswith("data: ") or line == "data:":
                current["data"].append(line[6:])
            elif line.startswith("event: "):
                current["event"] = line[7:]


def test_the_stream_starts_with_the_menu_and_recent_orders_then_follows_changes(server: Server, food: dict) -> None:
    till = Till(server)
    build(till, food, "Salad")
    till.type(customer_name="<img src=x onerror=alert(1)>")
    assert till.send().status_code == 201
    stream = frames(server)
    menu, recent, scheduled, alerts, printers, ready = (next(stream) for _ in range(6))
    assert scheduled["event"] == "scheduled" and "No orders for later." in scheduled["data"]
    assert alerts["event"] == "alerts" and "not seen" not in alerts["data"]  # (proof of sight: none yet)
    assert printers["event"] == "printers" and printers["data"].strip() == ""  # no printer failing
    assert menu["event"] == "menu" and 'id="dish-1"' in menu["data"] and "sold-out" not in menu["data"]
    assert recent["event"] == "recent" and "&lt;img src=x onerror=alert(1)&gt;" in recent["data"]
    assert "<img" not in recent["data"]
    assert ready["event"] == "stream.ready"

    set_available(server, food["Fries"], False)
    changed = next(stream)
    assert changed["event"] == "menu"
    assert re.search(rf'id="dish-{food["Fries"]["id"]}" class="dish sold-out"[^>]*disabled', changed["data"])

    order = orders(server)[0]
    moved = httpx.patch(
        f"{server.url}/orders/{order['id']}", json={"status": "preparing"}, headers=server.auth("kitchen")
    )
    assert moved.status_code == 200
    changed = next(stream)
    assert changed["event"] == "recent"
    assert 'class="recent-order status-preparing"' in changed["data"]
    stream.close()


def test_recent_orders_are_the_last_twenty_newest_first(server: Server, food: dict) -> None:
    for n in range(22):
        body = {
            "customer_name": f"Guest {n}",
            "channel": "counter",
            "items": [{"menu_item_id": food["Fries"]["id"], "quantity": 1}],
        }
        assert httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier")).status_code == 201
    page = Rendered(Till(server).page)
    shown = re.findall(r"#(\d+)", page.text("recent"))
    assert shown == [str(n) for n in range(22, 2, -1)]


# Options and allergies (issue 14)

BURGER = {
    "name": "Classic Burger",
    "price_cents": 1550,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten", "eggs"],
    "modifier_groups": [
        {
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [{"name": "Rare"}, {"name": "Medium-rare"}, {"name": "Well done"}],
        },
        {
            "name": "Add-ons",
            "min": 0,
            "max": 5,
            "options": [
                {"name": "Bacon", "price_cents": 200},
                {"name": "Extra cheese", "price_cents": 100, "allergens": ["milk"]},
            ],
        },
    ],
}


@pytest.fixture
def burger(server: Server, food: dict) -> dict:
    """A burger with a required group (Doneness) and a repeatable one (Add-ons, up to 5)."""
    response = httpx.post(f"{server.url}/menu", json=BURGER, headers=server.auth("manager"))
    assert response.status_code == 201, response.text
    return response.json()


def option(item: dict, name: str) -> int:
    return next(o["id"] for group in item["modifier_groups"] for o in group["options"] if o["name"] == name)


def pick(till: Till, item: dict, *names: str) -> None:
    """Tap the dish, then each option named; the picker stays open."""
    assert till.tap(add=item["id"]).status_code == 200, till.response.text
    for name in names:
        assert till.tap(op=f"choose:{option(item, name)}").status_code == 200, till.response.text


def test_a_dish_with_options_opens_the_picker_priced_by_the_server_on_each_tap(server: Server, burger: dict) -> None:
    till = Till(server)
    assert 'aria-haspopup="dialog"' in till.page, "the menu button says it opens a picker"
    pick(till, burger)
    assert till.ticket.lines() == [], "nothing on the ticket until Add to ticket"
    doneness, add_ons = (group["id"] for group in burger["modifier_groups"])
    assert till.ticket.text("picker-title") == "Classic Burger"
    assert till.ticket.text(f"pick-group-{doneness}").startswith("Doneness Required · choose 1")
    assert till.ticket.text(f"pick-group-{add_ons}").startswith("Add-ons Optional · up to 5")
    bacon, cheese, medium = option(burger, "Bacon"), option(burger, "Extra cheese"), option(burger, "Medium-rare")
    assert till.ticket.text(f"pick-{bacon}") == "Bacon +$2.00"
    assert till.ticket.text("pick-total") == "$15.50"
    till.tap(op=f"choose:{medium}")
    till.tap(op=f"choose:{bacon}")
    till.tap(op=f"choose:{bacon}")
    assert till.ticket.text(f"pick-{bacon}") == "2× Bacon +$2.00" and till.ticket.pressed(f"pick-{medium}")
    assert till.ticket.text("pick-total") == "$19.50", "15.50 + 2 × 2.00, from choices.check"
    till.tap(op=f"unchoose:{bacon}")
    till.tap(op=f"choose:{cheese}")
    assert till.ticket.text("pick-total") == "$18.50"
    assert till.tap(op="save").status_code == 200
    assert "picker" not in till.ticket.attrs_by_id
    assert till.ticket.lines() == [("Classic", "1", "$18.50")]
    assert till.ticket.text("line-0-modifiers") == "Medium-rare + Bacon $2.00 + Extra cheese $1.00"
    pick(till, burger, "Rare")
    till.tap(op="save")
    assert [line[2] for line in till.ticket.lines()] == ["$18.50", "$15.50"], "other options: a line of its own"
    assert till.total == "$34.00"


def test_add_to_ticket_is_refused_with_the_groups_rule_and_cancel_closes(server: Server, burger: dict) -> None:
    till = Till(server)
    pick(till, burger, "Bacon")
    refused = till.tap(op="save")
    assert refused.status_code == 422
    doneness = burger["modifier_groups"][0]["id"]
    assert till.ticket.text("pick-error") == "Doneness: choose at least 1"
    assert till.ticket.text(f"pick-group-{doneness}-error") == "Doneness: choose at least 1"
    assert till.ticket.lines() == [] and till.ticket.text("pick-total") == "$17.50", "the choice so far is kept"
    for _ in range(4):
        till.tap(op=f"choose:{option(burger, 'Bacon')}")
    assert till.tap(op=f"choose:{option(burger, 'Extra cheese')}").status_code == 422
    assert till.ticket.text("pick-error") == "Add-ons: choose at most 5"
    assert till.tap(op="cancel").status_code == 200
    assert "picker" not in till.ticket.attrs_by_id and till.ticket.lines() == []


def test_tapping_a_line_changes_its_options_keeping_quantity_and_note(server: Server, burger: dict) -> None:
    till = Till(server)
    pick(till, burger, "Medium-rare", "Bacon")
    till.tap(op="save")
    till.step("inc", 0)
    till.type_line(0, line_notes="no pickles")
    assert till.tap(op=f"edit:{till.ticket.values('line')[0]}").status_code == 200
    medium, well = option(burger, "Medium-rare"), option(burger, "Well done")
    assert till.ticket.pressed(f"pick-{medium}") and till.ticket.text("pick-save") == "Save changes"
    assert till.ticket.text("pick-total") == "$35.00", "the line's price: 2 × 17.50"
    till.tap(op=f"choose:{well}")
    till.tap(op=f"unchoose:{option(burger, 'Bacon')}")
    assert till.tap(op="save").status_code == 200
    assert till.ticket.lines() == [("Classic", "2", "$31.00")]
    assert till.ticket.values("line_notes") == ["no pickles"]
    assert till.ticket.text("line-0-modifiers") == "Well done"


def test_allergies_flag_lines_then_a_confirmed_send_makes_one_order(server: Server, burger: dict, food: dict) -> None:
    till = Till(server)
    assert till.tap(op="allergy:milk").status_code == 200
    assert till.ticket.text("allergies-summary") == "Allergies (1): Milk" and till.ticket.pressed("allergy-milk")
    pick(till, burger, "Medium-rare", "Extra cheese")
    assert till.ticket.text("pick-allergy") == "contains milk", "the picker warns before adding"
    till.tap(op="save")
    build(till, food, "Fries")
    assert till.ticket.text("line-0-allergy") == "contains milk"
    assert "line-1-allergy" not in till.ticket.attrs_by_id
    till.type(customer_name="Ada")

    refused = till.send()
    assert refused.status_code == 409
    assert till.ticket.text("allergy-confirm-text") == (
        "Line 1 contains milk — the kitchen will be shown the allergy. Send anyway?"
    )
    assert "send" not in till.ticket.attrs_by_id, "the second, explicit action is Send anyway"
    assert till.ticket.value("customer_name") == "Ada" and len(till.ticket.lines()) == 2
    assert orders(server) == []

    assert till.tap(op="back").status_code == 200
    assert "allergy-confirm" not in till.ticket.attrs_by_id and "send" in till.ticket.attrs_by_id
    till.send()
    sent = till.post("/pos/orders", [("allergies_confirmed", "true")])
    assert sent.status_code == 201, sent.text
    (order,) = orders(server)
    assert order["allergies"] == ["milk"]
    assert [m["name"] for m in order["lines"][0]["modifiers"]] == ["Medium-rare", "Extra cheese"]
    assert order["lines"][0]["unit_price_cents"] == 1650 and order["total_cents"] == 1650 + 450


def test_a_confirmed_send_retried_is_the_same_order(server: Server, burger: dict) -> None:
    till = Till(server)
    till.tap(op="allergy:eggs")
    pick(till, burger, "Rare")
    till.tap(op="save")
    till.type(customer_name="Ada")
    assert till.send().status_code == 409
    fields = [(k, v) for k, v in till.ticket.fields if k != "csrf_token"] + [("allergies_confirmed", "true")]
    first = post_form(f"{server.url}/pos/orders", fields, till.headers)
    again = post_form(f"{server.url}/pos/orders", fields, till.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert "Already sent as ticket" in again.text and len(orders(server)) == 1


def test_an_option_86d_while_the_ticket_is_open_is_shown_and_refused_inline(server: Server, burger: dict) -> None:
    till = Till(server)
    pick(till, burger, "Medium-rare", "Bacon", "Bacon")
    till.tap(op="save")
    till.type(customer_name="Ada")
    bacon = option(burger, "Bacon")
    off = httpx.put(
        f"{server.url}/menu/{burger['id']}/options/{bacon}/availability",
        json={"available": False},
        headers=server.auth("manager"),
    )
    assert off.status_code == 200, off.text
    assert till.post("/pos/ticket").status_code == 200  # what the page does on the stream's menu event
    assert till.ticket.text("off-warning") == "86'd now: Bacon (Classic Burger). Change that line before sending."
    assert till.ticket.text("line-0-modifiers") == "Medium-rare + Bacon ×2 $4.00 86"

    response = till.send()
    assert response.status_code == 409
    assert till.error == "Not available right now: Bacon (Classic Burger)"
    assert till.ticket.text(f"line-0-option-{bacon}-error") == "not available"
    assert orders(server) == []

    pick(till, burger)
    assert till.ticket.disabled(f"pick-{bacon}") and "86" in till.ticket.text(f"pick-{bacon}")
    assert till.tap(op=f"choose:{bacon}").status_code == 409
    assert till.ticket.text("pick-error") == "Bacon is not available right now"
    till.tap(op="cancel")
    till.tap(op=f"edit:{till.ticket.values('line')[0]}")
    till.tap(op=f"unchoose:{bacon}")
    till.tap(op=f"unchoose:{bacon}")
    till.tap(op="save")
    assert till.send().status_code == 201
    assert [m["name"] for m in orders(server)[0]["lines"][0]["modifiers"]] == ["Medium-rare"]
