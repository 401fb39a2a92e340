"""Online ordering over HTTP against a real server: the cart in the session, priced by the server;
bad input shown inline and changing nothing; an idempotent, rate-limited checkout; the public menu
stream (menu state only). The tracking link the checkout leads to is tests/test_track.py's."""

from __future__ import annotations

import html
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from forkflow.errors import Invalid
from forkflow.public_orders import Limits
from forkflow.routes.shop import cart

from .conftest import Server, order_body

HX = {"HX-Request": "true"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


# Helpers


class Customer:
    """A browser without a browser: one cookie jar, the CSRF token from the page, form posts."""

    def __init__(self, server: Server, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10, headers=headers or {})
        self.csrf = ""
        self.open("/")

    def open(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str], htmx: bool = True) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **data}, headers=HX if htmx else {})

    def add(self, item: dict, quantity: int | None = None, **extra: str) -> httpx.Response:
        data = {"menu_item_id": str(item["id"]), **extra}
        if quantity is not None:
            data["quantity"] = str(quantity)
        return self.post("/cart/items", data)

    def cart(self) -> httpx.Response:
        return self.http.get("/cart", headers=HX)

    def line(self, item: dict, nth: int = 0) -> str:
        """The path of the `nth` cart line of `item` (lines are named by a key: dish, options, notes)."""
        keys = re.findall(rf'data-item-id="{item["id"]}" data-line="([0-9a-f]+)"', self.cart().text)
        assert len(keys) > nth, f"no line {nth} of {item['name']} in the cart"
        return f"/cart/lines/{keys[nth]}"

    def checkout_form(self) -> dict[str, str]:
        page = self.open("/checkout").text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        assert key, "the checkout form carries an idempotency key"
        return {"idempotency_key": key.group(1)}

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def customer(server: Server) -> Iterator[Customer]:
    c = Customer(server)
    yield c
    c.close()


def total_of(page: httpx.Response) -> str:
    found = re.search(r'id="cart-total">([^<]+)<', page.text)
    assert found, page.text
    return found.group(1)


def cart_lines(page: httpx.Response) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'<span class="cart-name">([^<]+)</span>', page.text)]


def all_orders(server: Server) -> list[dict]:
    return httpx.get(f"{server.url}/orders", headers=server.auth("manager"), timeout=10).json()


def sell_out(server: Server, item: dict, available: bool = False) -> None:
    response = httpx.put(
        f"{server.url}/menu/{item['id']}/availability",
        json={"available": available},
        headers=server.auth("manager"),
        timeout=10,
    )
    assert response.status_code == 200, response.text


# The menu page


def test_the_menu_shows_dishes_by_category_with_prices_and_sold_out_ones(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    burger, fries, salad, lemonade = menu
    sell_out(server, fries)
    page = customer.open("/").text
    for category in ("Drinks", "Mains", "Sides"):
        assert f">{category}</h2>" in page
    assert "$15.50" in page and "$3.50" in page
    fries_li = re.search(rf'<li id="item-{fries["id"]}" class="dish sold-out".*?</li>', page, re.S)
    assert fries_li and "Sold out" in fries_li.group(0) and "<form" not in fries_li.group(0)
    burger_li = re.search(rf'<li id="item-{burger["id"]}" class="dish".*?</li>', page, re.S)
    assert burger_li and 'action="/cart/items"' in burger_li.group(0)
    assert not INLINE_SCRIPT.search(page) and " style=" not in page and "<style" not in page


# The cart


def test_cart_add_update_and_remove_priced_by_the_server(server: Server, menu: list[dict], customer: Customer) -> None:
    burger, fries, salad, lemonade = menu
    first = customer.add(burger)
    assert first.status_code == 200
    assert cart_lines(first) == ["1 × Classic Burger"] and total_of(first) == "$15.50"
    assert "Added 1 × Classic Burger" in first.text
    again = customer.add(burger)
    assert cart_lines(again) == ["2 × Classic Burger"] and total_of(again) == "$31.00"
    # A price sent by the client is never read.
    with_price = customer.add(fries, 3, price_cents="1", unit_price_cents="1")
    assert cart_lines(with_price) == ["2 × Classic Burger", "3 × Fries"] and total_of(with_price) == "$44.50"

    # The cart is priced from the menu as it is now.
    changed = httpx.put(
        f"{server.url}/menu/{burger['id']}",
        json={"name": "Classic Burger", "price_cents": 1600, "category": "Mains", "station": "grill"},
        headers=server.auth("manager"),
    )
    assert changed.status_code == 200
    assert total_of(customer.cart()) == "$45.50"

    updated = customer.post(customer.line(fries), {"quantity": "1", "notes": "extra salt"})
    assert updated.status_code == 200
    assert cart_lines(updated) == ["2 × Classic Burger", "1 × Fries"] and total_of(updated) == "$36.50"
    assert 'value="extra salt"' in updated.text

    removed = customer.post(customer.line(burger) + "/remove", {})
    assert cart_lines(removed) == ["1 × Fries"] and total_of(removed) == "$4.50"
    emptied = customer.post(customer.line(fries) + "/remove", {})
    assert cart_lines(emptied) == [] and "Your cart is empty" in emptied.text
    assert all_orders(server) == [], "a cart is not an order"


def test_the_cart_cookie_is_set_only_by_the_shop_and_cannot_be_forged(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    """Pages, static files and streams answer with the session cookie; the cart has its own, set
    only by cart changes and checkout, so a slow answer can never put back an older cart."""
    added = customer.add(menu[0])
    assert "forkflow_cart=" in added.headers.get("set-cookie", "")
    for path in ("/", "/static/shop.css", "/track/nobody.json", "/login"):
        assert "forkflow_cart=" not in customer.http.get(path).headers.get("set-cookie", ""), path
    customer.http.cookies.clear()
    customer.http.cookies.set("forkflow_cart", "eyJsaW5lcyI6W1sxLDk5LCIiXV19.forged.signature")
    assert cart_lines(customer.cart()) == [], "a forged cart counts as empty"


def test_the_cart_cookie_round_trips_and_refuses_to_outgrow_a_cookie() -> None:
    state = cart.ShopState([cart.CartLine(1, 2, "no onions"), cart.CartLine(7, 1)], "web-key", "k0", "/track/t")
    assert cart.load(cart.dump(state, "secret"), "secret") == state
    assert cart.load(cart.dump(state, "secret"), "another secret") == cart.ShopState(), "signed"
    assert cart.load("not a cookie", "secret") == cart.ShopState()
    # Random notes: the serializer compresses, so repeated ones would fit.
    notes = [secrets.token_urlsafe(cart.MAX_NOTES)[: cart.MAX_NOTES] for _ in range(cart.MAX_LINES)]
    full = cart.ShopState([cart.CartLine(i, 99, note) for i, note in enumerate(notes, 1)])
    with pytest.raises(Invalid):
        cart.dump(full, "secret")
    with pytest.raises(Invalid):
        cart.add(full.lines, 999, 1, Limits(per_item=99, per_order=10_000))  # at most MAX_LINES dishes


def test_without_javascript_cart_forms_go_back_to_the_page(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    response = customer.post("/cart/items", {"menu_item_id": str(menu[0]["id"])}, htmx=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert cart_lines(customer.cart()) == ["1 × Classic Burger"]
    at_checkout = customer.post(customer.line(menu[0]), {"quantity": "2", "view": "checkout"}, htmx=False)
    assert at_checkout.status_code == 303 and at_checkout.headers["location"] == "/checkout"
    bad = customer.post(customer.line(menu[0]), {"quantity": "0"}, htmx=False)
    assert bad.status_code == 422 and "<h1>Order online</h1>" in bad.text and 'aria-invalid="true"' in bad.text
    assert customer.http.get("/cart").status_code == 303, "the panel alone is for htmx"


def test_bad_cart_input_is_shown_inline_and_changes_nothing(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    burger, fries, *_ = menu
    customer.add(burger, 2)
    before = customer.cart().text

    for quantity in ("0", "abc", "100", "-1", "1.5", ""):
        response = customer.post(customer.line(burger), {"quantity": quantity, "notes": "medium"})
        assert response.status_code == 422, quantity
        assert "Quantity: 1 to 99" in response.text and 'aria-invalid="true"' in response.text
        assert f'value="{quantity}"' in response.text, "what was typed stays in the field"
        assert 'value="medium"' in response.text
    too_long = customer.post(customer.line(burger), {"quantity": "1", "notes": "x" * 201})
    assert too_long.status_code == 422 and "Notes: at most 200 characters" in too_long.text
    assert "x" * 201 in too_long.text

    assert customer.add({"id": 999_999}).status_code == 422
    assert customer.post("/cart/items", {"menu_item_id": "burger"}).status_code == 422
    assert customer.add(burger, 98).status_code == 422, "at most 99 of one dish"
    sell_out(server, fries)
    refused = customer.add(fries)
    assert refused.status_code == 409 and "Fries is sold out" in refused.text
    gone = customer.post("/cart/lines/0123456789abcdef", {"quantity": "1"})
    assert gone.status_code == 409 and "no longer in your cart" in gone.text

    # Without the CSRF token nothing happens either.
    forged = customer.http.post("/cart/items", data={"menu_item_id": str(burger["id"])}, headers=HX)
    assert forged.status_code == 403
    assert customer.cart().text == before


def test_what_a_customer_types_is_escaped_in_the_cart(server: Server, menu: list[dict], customer: Customer) -> None:
    attack = '<img src=x onerror=alert(1)>"'
    customer.add(menu[0])
    response = customer.post(customer.line(menu[0]), {"quantity": "1", "notes": attack})
    assert response.status_code == 200
    assert "<img src=x" not in response.text and "&lt;img src=x onerror=alert(1)&gt;&#34;" in response.text


# Checkout


def test_checkout_places_an_online_order_and_sends_the_customer_to_tracking(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    burger, fries, *_ = menu
    customer.add(burger, 2)
    customer.add(fries)
    customer.post(customer.line(fries), {"quantity": "1", "notes": "no salt"})
    form = customer.checkout_form()
    response = customer.post("/checkout", {**form, "customer_name": "Ada", "notes": "at 7"}, htmx=False)
    assert response.status_code == 303
    tracking = response.headers["location"]
    assert tracking.startswith("/track/")
    (order,) = all_orders(server)
    assert order["tracking_url"] == tracking and order["channel"] == "online" and order["customer_name"] == "Ada"
    assert order["total_cents"] == 2 * 1550 + 450 and order["notes"] == "at 7"
    assert [(line["name"], line["quantity"], line["notes"]) for line in order["lines"]] == [
        ("Classic Burger", 2, ""),
        ("Fries", 1, "no salt"),
    ]
    assert cart_lines(customer.cart()) == [], "the cart is emptied"
    assert "Track your last order" in customer.open("/").text
    page = customer.open(tracking)
    assert "Ada" in page.text and 'data-status="new"' in page.text
    assert "Expected ready around" in page.text


def test_checkout_makes_one_order_however_often_it_is_sent(
    server: Server, menu: list[dict], customer: Customer
) -> None:
    customer.add(menu[0])
    form = {**customer.checkout_form(), "customer_name": "Grace"}
    # A double tap: the same form, twice at once, from the same session.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: customer.post("/checkout", form, htmx=False), range(4)))
    assert [a.status_code for a in answers] == [303] * 4
    assert len({a.headers["location"] for a in answers}) == 1
    # And again later (a resubmit after a network error, or the back button).
    later = customer.post("/checkout", form, htmx=False)
    assert later.status_code == 303 and later.headers["location"] == answers[0].headers["location"]
    assert len(all_orders(server)) == 1


def test_a_lost_answer_then_a_resubmit_makes_one_order(server: Server, menu: list[dict]) -> None:
    """The order went through but the answer (and its cookie) never arrived: the resubmit carries
    the same key from the same session state, and gets the same order back."""
    customer = Customer(server)
    customer.add(menu[0])
    form = {**customer.checkout_form(), "customer_name": "Linus"}
    cookies_before = dict(customer.http.cookies)
    first = customer.post("/checkout", form, htmx=False)
    assert first.status_code == 303
    customer.http.cookies.clear()
    customer.http.cookies.update(cookies_before)  # as if the first answer was lost
    again = customer.post("/checkout", form, htmx=False)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    assert len(all_orders(server)) == 1
    customer.close()


def test_a_lost_answer_then_a_changed_cart_gets_a_fresh_key(server: Server, menu: list[dict]) -> None:
    """The order went through but its answer never arrived; the customer changes the cart and sends
    the old form again. Its key was used for the first order, so the shop says so and the page
    carries a fresh key: the changed cart is a second order, not the first one back."""
    customer = Customer(server)
    customer.add(menu[0])
    form = {**customer.checkout_form(), "customer_name": "Linus"}
    cookies_before = dict(customer.http.cookies)
    assert customer.post("/checkout", form, htmx=False).status_code == 303
    customer.http.cookies.clear()
    customer.http.cookies.update(cookies_before)  # as if the answer was lost
    customer.add(menu[1])
    reused = customer.post("/checkout", form, htmx=False)
    assert reused.status_code == 422 and "already used for a different order" in reused.text
    fresh = customer.checkout_form()
    assert fresh != {"idempotency_key": form["idempotency_key"]}
    assert customer.post("/checkout", {**fresh, "customer_name": "Linus"}, htmx=False).status_code == 303
    assert len(all_orders(server)) == 2
    customer.close()


def test_checkout_errors_keep_the_form_and_change_nothing(server: Server, menu: list[dict], customer: Customer) -> None:
    customer.add(menu[0])
    form = customer.checkout_form()
    customer.post(customer.line(menu[0]) + "/remove", {})  # emptied in another tab
    empty = customer.post("/checkout", {**form, "customer_name": "Ada"}, htmx=False)
    assert empty.status_code == 422 and "Your cart is empty" in empty.text
    assert "Your cart is empty. <a" in customer.open("/checkout").text, "no form without a cart"

    customer.add(menu[0])
    assert customer.checkout_form() == form, "one key per checkout, until an order goes through"
    no_name = customer.post("/checkout", {**form, "customer_name": "  ", "notes": "ring <twice>"}, htmx=False)
    assert no_name.status_code == 422
    assert 'id="name-error"' in no_name.text and 'aria-invalid="true"' in no_name.text
    assert "ring &lt;twice&gt;</textarea>" in no_name.text, "the notes typed are kept (escaped)"
    long_name = customer.post("/checkout", {**form, "customer_name": "N" * 81}, htmx=False)
    assert long_name.status_code == 422 and 'value="' + "N" * 81 + '"' in long_name.text
    long_notes = customer.post("/checkout", {**form, "customer_name": "Ada", "notes": "n" * 501}, htmx=False)
    assert long_notes.status_code == 422 and 'id="notes-error"' in long_notes.text
    bad_key = customer.post("/checkout", {"idempotency_key": "has spaces in it", "customer_name": "Ada"}, htmx=False)
    assert bad_key.status_code == 422 and "out of date" in bad_key.text
    forged = customer.http.post("/checkout", data={**form, "customer_name": "Ada"})
    assert forged.status_code == 403
    assert all_orders(server) == []
    assert cart_lines(customer.cart()) == ["1 × Classic Burger"]
    for answer in (no_name, long_name):
        assert not INLINE_SCRIPT.search(answer.text) and " style=" not in answer.text


def test_checkout_refuses_a_dish_that_sold_out_inline(server: Server, menu: list[dict], customer: Customer) -> None:
    burger, fries, *_ = menu
    customer.add(burger)
    customer.add(fries)
    form = customer.checkout_form()
    sell_out(server, fries)
    cart = customer.cart()
    assert "Sold out — remove it" in cart.text and total_of(cart) == "$15.50"
    refused = customer.post("/checkout", {**form, "customer_name": "Ada", "notes": "thanks"}, htmx=False)
    assert refused.status_code == 409
    assert "Not available right now: Fries. Remove it from your cart" in refused.text
    assert 'value="Ada"' in refused.text and ">thanks</textarea>" in refused.text
    assert "Sold out — remove it" in refused.text
    assert all_orders(server) == []
    # Removing it lets the same checkout through, with the same key.
    customer.post(customer.line(fries) + "/remove", {"view": "checkout"})
    placed = customer.post("/checkout", {**form, "customer_name": "Ada", "notes": "thanks"}, htmx=False)
    assert placed.status_code == 303
    (order,) = all_orders(server)
    assert [line["name"] for line in order["lines"]] == ["Classic Burger"]


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "limited.db", env={"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "3"}).start()
    yield srv
    srv.stop()


def test_the_public_rate_limit_applies_to_checkout(limited_server: Server) -> None:
    server = limited_server
    dish = httpx.post(
        f"{server.url}/menu",
        json={"name": "Soup", "price_cents": 500, "category": "Starters", "station": "cold"},
        headers=server.auth("manager"),
    ).json()
    # The page and POST /orders draw on the same allowance per address.
    assert httpx.post(f"{server.url}/orders", json=order_body([dish, dish], channel="online")).status_code == 201
    customer = Customer(server)
    for name in ("Ada", "Grace"):
        customer.add(dish)
        placed = customer.post("/checkout", {**customer.checkout_form(), "customer_name": name}, htmx=False)
        assert placed.status_code == 303
    customer.add(dish)
    refused = customer.post("/checkout", {**customer.checkout_form(), "customer_name": "Linus"}, htmx=False)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many orders from this address" in refused.text and 'value="Linus"' in refused.text
    assert len(all_orders(server)) == 3
    assert cart_lines(customer.cart()) == ["1 × Soup"], "the cart is kept for later"
    # Staff signed in are not limited, as on the API.
    staff = Customer(server, headers=server.auth("cashier"))
    staff.add(dish)
    assert staff.post("/checkout", {**staff.checkout_form(), "customer_name": "Till"}, htmx=False).status_code == 303
    customer.close()
    staff.close()


# Streams


class Stream:
    """Reads a Server-Sent Events stream in a thread of its own: (event, id, data) per frame."""

    def __init__(self, server: Server, path: str) -> None:
        self.server = server
        self.frames: list[tuple[str, str, str]] = []
        self.arrived = threading.Condition()
        self.stop = threading.Event()
        listeners = self._listeners()
        self.thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while self._listeners() <= listeners:  # subscribed to the bus before the answer starts
            assert time.monotonic() < deadline, "the stream did not open"
            time.sleep(0.02)

    def _listeners(self) -> int:
        health = httpx.get(f"{self.server.url}/health", headers=self.server.auth("manager"), timeout=10)
        return health.json()["bus"]["subscribers"]

    def _run(self, path: str) -> None:
        with httpx.Client(timeout=httpx.Timeout(10, read=30)) as http:
            with connect_sse(http, "GET", self.server.url + path) as source:
                for sse in source.iter_sse():
                    if self.stop.is_set():
                        return
                    if sse.event == "message" and not sse.data:
                        continue
                    with self.arrived:
                        self.frames.append((sse.event, sse.id, sse.data))
                        self.arrived.notify_all()

    def wait(self, count: int, timeout: float = 15) -> list[tuple[str, str, str]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.frames) >= count, timeout), self.frames
            return list(self.frames)

    def close(self) -> None:
        self.stop.set()


def test_the_public_menu_stream_sends_the_menu_and_never_an_order(server: Server, menu: list[dict]) -> None:
    burger, fries, *_ = menu
    stream = Stream(server, "/menu/stream")
    ((kind, head, prelude),) = stream.wait(1)
    assert kind == "menu" and "Classic Burger" in prelude and "Lemonade" in prelude and "Sold out" not in prelude
    assert "csrf_token" not in prelude, "frames are shared by every listener: no session's token in them"
    httpx.post(f"{server.url}/orders", json=order_body(menu, channel="online", customer_name="Zed"))
    sell_out(server, fries)
    frames = stream.wait(2)
    stream.close()
    assert len(frames) == 2, "nothing about the order"
    kind, event_id, item = frames[1]
    assert kind == "item" and not head and not event_id, "public frames carry no event ids"
    assert f'id="item-{fries["id"]}"' in item and "Sold out" in item and "csrf_token" not in item
    assert "Zed" not in prelude + item

    # Every (re)connection gets the whole menu first (nothing to replay by id), then the changes.
    again = Stream(server, "/menu/stream")
    ((kind, _, data),) = again.wait(1)
    assert kind == "menu" and "Sold out" in data and "Fries" in data
    sell_out(server, fries, available=True)
    kind, _, data = again.wait(2)[1]
    again.close()
    assert kind == "item" and "Sold out" not in data

    # A new or edited dish may change categories: the whole menu is sent again.
    watching = Stream(server, "/menu/stream")
    httpx.post(
        f"{server.url}/menu",
        json={"name": "Churros", "price_cents": 600, "category": "Desserts", "station": "fry"},
        headers=server.auth("manager"),
    )
    frames = watching.wait(2)  # the menu on connecting, then the menu with the new dish
    watching.close()
    assert [kind for kind, _, _ in frames] == ["menu", "menu"]
    assert ">Desserts</h2>" in frames[1][2] and "Churros" in frames[1][2]
