"""Issue 12, the public surface, tried as an attacker would against a real server: the kitchen
cannot be emptied by anonymous orders and the public never learns stock quantities (finding 3),
idempotency keys are the caller's own (9), public answers count nothing of the day's business
(10), and a forged Host header is refused (11)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Server, create_menu, running_server
from .test_shop import Customer

# A stock item whose name, unit and quantity appear nowhere else: any public answer holding one
# of them has told the public about the stock.
STOCK_NAME = "Zebracut patty"
STOCK_UNIT = "zpcs"
STOCK_QUANTITY = 4321


@pytest.fixture
def public_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as srv:
        yield srv


@pytest.fixture
def shop(public_server: Server) -> dict[str, dict]:
    """The test menu, its burger made from a stock item with realistic (and distinctive) stock."""
    made = create_menu(public_server)
    manager = public_server.auth("manager")
    stock = httpx.post(
        f"{public_server.url}/inventory",
        json={"item_name": STOCK_NAME, "quantity": STOCK_QUANTITY, "unit": STOCK_UNIT},
        headers=manager,
    ).json()
    recipe = {"ingredients": [{"inventory_id": stock["id"], "quantity": 1}]}
    burger = made["Classic Burger"]
    assert httpx.put(f"{public_server.url}/menu/{burger['id']}/recipe", json=recipe, headers=manager).status_code == 200
    made["stock"] = stock
    return made


def online(items: list[tuple[dict, int]], name: str = "Eve") -> dict:
    return {
        "customer_name": name,
        "channel": "online",
        "items": [{"menu_item_id": dish["id"], "quantity": quantity} for dish, quantity in items],
    }


def stock_left(server: Server, stock: dict) -> float:
    return httpx.get(f"{server.url}/inventory/{stock['id']}", headers=server.auth("manager")).json()["quantity"]


def assert_no_stock(text: str) -> None:
    for secret in (STOCK_NAME, STOCK_UNIT, *(str(STOCK_QUANTITY - n) for n in range(0, 20))):
        assert secret not in text, f"{secret!r} is in a public answer: {text[:2000]}"
    assert '"needed"' not in text and '"left"' not in text and "out_of_stock" not in text


def first_frames(server: Server, path: str, count: int, seconds: float = 5) -> str:
    """The first `count` SSE frames (blank-line separated blocks) of a public stream, as text."""
    text = ""
    with httpx.stream("GET", f"{server.url}{path}", timeout=httpx.Timeout(seconds)) as response:
        assert response.status_code == 200, path
        for chunk in response.iter_text():
            text += chunk.replace("\r\n", "\n")
            if text.count("\n\n") >= count:
                break
    return text


# Finding 3: an anonymous visitor cannot empty the kitchen


def test_ten_anonymous_orders_at_the_limit_do_not_sell_a_dish_out(public_server: Server, shop: dict) -> None:
    """The drain: ten anonymous orders, each as big as an order may be. Stock for 4321 burgers is
    cut to 200 first; before the fix ten orders of 99 burgers sold it out."""
    manager = public_server.auth("manager")
    stock = shop["stock"]
    httpx.patch(f"{public_server.url}/inventory/{stock['id']}", json={"quantity": 200}, headers=manager)
    burger, fries, salad = shop["Classic Burger"], shop["Fries"], shop["Caesar Salad"]
    at_the_limit = online([(burger, 20), (fries, 20), (salad, 10)])
    answers = [httpx.post(f"{public_server.url}/orders", json=at_the_limit, timeout=10) for _ in range(10)]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [201, 201] + [429] * 8, statuses  # 100 portions an hour per address
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in answers[2:])
    assert stock_left(public_server, stock) == 160
    menu = {item["id"]: item for item in httpx.get(f"{public_server.url}/menu").json()}
    assert menu[burger["id"]]["available"]
    # What the old limit allowed is refused outright, and changes nothing.
    whole = httpx.post(f"{public_server.url}/orders", json=online([(burger, 99)]), timeout=10)
    assert whole.status_code == 422 and "items.0.quantity" in whole.json()["error"]["fields"]
    assert stock_left(public_server, stock) == 160


def test_public_order_limits_name_the_lines_and_staff_keep_theirs(tmp_path: Path) -> None:
    env = {"FORKFLOW_PUBLIC_PORTIONS_PER_HOUR": "0"}  # the per-order limits alone
    with running_server(tmp_path, env=env) as server:
        made = create_menu(server)
        burger, fries = made["Classic Burger"], made["Fries"]
        post = lambda body, **kw: httpx.post(f"{server.url}/orders", json=body, timeout=10, **kw)  # noqa: E731
        one_dish = post(online([(burger, 21)])).json()["error"]
        assert one_dish["code"] == "invalid" and one_dish["fields"] == {"items.0.quantity": "at most 20 of one dish"}
        split = post(online([(fries, 1), (burger, 15), (burger, 6)])).json()["error"]["fields"]
        assert set(split) == {"items.1.quantity", "items.2.quantity"}
        lines = [(dish, 17) for dish in made.values()]  # 68 portions, none over 20
        in_all = post(online(lines)).json()["error"]["fields"]
        assert in_all["items"] == "at most 50 portions in one order" and len(in_all) == 5
        assert post(online([(burger, 20), (fries, 20)])).status_code == 201
        staff = post({**online([(burger, 99)]), "channel": "counter"}, headers=server.auth("cashier"))
        assert staff.status_code == 201
        orders = httpx.get(f"{server.url}/orders", headers=server.auth("manager")).json()
        assert len(orders) == 2  # the refused ones made nothing


def test_the_shop_cart_keeps_to_the_public_limits_inline(public_server: Server, shop: dict) -> None:
    customer = Customer(public_server)
    burger, fries = shop["Classic Burger"], shop["Fries"]
    assert customer.add(burger, 20).status_code == 200
    over = customer.add(burger, 1)
    assert over.status_code == 422 and "at most 20 of one dish" in over.text
    changed = customer.post(f"/cart/items/{burger['id']}", {"quantity": "35", "notes": ""})
    assert changed.status_code == 422 and "at most 20 of one dish" in changed.text
    for dish in (fries, shop["Caesar Salad"]):
        assert customer.add(dish, 15).status_code == 200
    too_many = customer.add(shop["Lemonade"], 1)
    assert too_many.status_code == 422 and "at most 50 portions in all" in too_many.text
    assert "50" in customer.cart().text  # the cart kept 20 + 15 + 15, nothing more


def test_a_public_409_names_dishes_never_stock_and_staff_get_the_numbers(public_server: Server, shop: dict) -> None:
    manager = public_server.auth("manager")
    stock, burger = shop["stock"], shop["Classic Burger"]
    httpx.patch(f"{public_server.url}/inventory/{stock['id']}", json={"quantity": 3}, headers=manager)
    public = httpx.post(f"{public_server.url}/orders", json=online([(burger, 5)]), timeout=10)
    assert public.status_code == 409
    error = public.json()["error"]
    assert error["unavailable"] == [{"id": burger["id"], "name": "Classic Burger"}]
    assert error["fields"] == {"items.0.menu_item_id": "not available"}
    assert_no_stock(public.text)
    assert "3" not in error["message"] and "5" not in error["message"]
    # The shop's checkout says the same, inline.
    customer = Customer(public_server)
    customer.add(burger, 5)
    page = customer.post("/checkout", {**customer.checkout_form(), "customer_name": "Eve", "notes": ""}, htmx=False)
    assert page.status_code == 409 and "Classic Burger" in page.text
    assert_no_stock(page.text)
    assert "needs" not in page.text
    staff = httpx.post(
        f"{public_server.url}/orders", json={**online([(burger, 5)]), "channel": "counter"}, headers=manager
    )
    assert staff.status_code == 409
    assert staff.json()["error"]["out_of_stock"] == [
        {"item_name": STOCK_NAME, "unit": STOCK_UNIT, "needed": 5, "left": 3}
    ]
    assert stock_left(public_server, stock) == 3


def test_no_public_answer_holds_a_stock_quantity(public_server: Server, shop: dict) -> None:
    burger = shop["Classic Burger"]
    placed = httpx.post(f"{public_server.url}/orders", json=online([(burger, 2)]), timeout=10)
    assert placed.status_code == 201
    token = placed.json()["tracking_url"].rsplit("/", 1)[1]
    customer = Customer(public_server)
    customer.add(burger, 3)
    answers = [
        placed.text,
        httpx.get(f"{public_server.url}/menu").text,
        httpx.get(f"{public_server.url}/menu/{burger['id']}").text,
        httpx.get(f"{public_server.url}/").text,
        customer.open("/").text,
        customer.open("/checkout").text,
        customer.cart().text,
        httpx.get(f"{public_server.url}/track/{token}").text,
        httpx.get(f"{public_server.url}/track/{token}.json").text,
        first_frames(public_server, f"/track/{token}/events", 2),
        first_frames(public_server, f"/track/{token}/live", 2),
        first_frames(public_server, "/menu/stream", 2),
        httpx.get(f"{public_server.url}/health").text,
    ]
    # A sell-out reaches the public streams as menu state only.
    with httpx.stream("GET", f"{public_server.url}/events?topics=menu", timeout=10) as events:
        manager = public_server.auth("manager")
        stock = shop["stock"]
        httpx.patch(f"{public_server.url}/inventory/{stock['id']}", json={"quantity": 0}, headers=manager)
        seen = ""
        for chunk in events.iter_text():
            seen += chunk.replace("\r\n", "\n")
            if "menu.availability" in seen and seen.endswith("\n\n"):
                break
    answers.append(seen)
    for text in answers:
        assert_no_stock(text)


# Finding 9: idempotency keys are the caller's own


def test_another_callers_key_never_returns_the_first_callers_order(public_server: Server, shop: dict) -> None:
    url = f"{public_server.url}/orders"
    body = online([(shop["Fries"], 1)])
    key = {"Idempotency-Key": "order-1"}
    first = httpx.post(url, json=body, headers={**key, **public_server.auth("manager")})
    assert first.status_code == 201
    # Another staff member, and an anonymous caller, with the same key: their own new orders.
    cashier = httpx.post(url, json=body, headers={**key, **public_server.auth("cashier")})
    assert cashier.status_code == 201 and "Idempotent-Replayed" not in cashier.headers
    assert cashier.json()["id"] != first.json()["id"]
    anonymous = httpx.post(url, json=body, headers=key)
    assert anonymous.status_code == 201 and "Idempotent-Replayed" not in anonymous.headers
    assert anonymous.json()["tracking_url"] not in (first.json()["tracking_url"], cashier.json()["tracking_url"])
    # Each caller's own retry still replays: the same staff member by session or token alike.
    again = httpx.post(url, json=body, headers={**key, **public_server.auth("manager")})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    replayed = httpx.post(url, json=body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["tracking_url"] == anonymous.json()["tracking_url"]
    # Claimed first by the public, the key is still free for staff (and a different body is theirs).
    claimed = httpx.post(url, json=online([(shop["Lemonade"], 1)]), headers={"Idempotency-Key": "claim-me"})
    assert claimed.status_code == 201
    staff = httpx.post(url, json=body, headers={"Idempotency-Key": "claim-me", **public_server.auth("manager")})
    assert staff.status_code == 201 and "Idempotent-Replayed" not in staff.headers
    assert len(httpx.get(url, headers=public_server.auth("manager")).json()) == 5


def test_a_shop_checkout_key_is_scoped_to_its_cart(public_server: Server, shop: dict) -> None:
    alice, mallory = Customer(public_server), Customer(public_server)
    alice.add(shop["Fries"], 1)
    alice_key = alice.checkout_form()
    done = alice.post("/checkout", {**alice_key, "customer_name": "Alice", "notes": ""}, htmx=False)
    assert done.status_code == 303
    alice_link = done.headers["location"]
    mallory.add(shop["Fries"], 1)
    mallory.checkout_form()
    theirs = mallory.post("/checkout", {**alice_key, "customer_name": "Alice", "notes": ""}, htmx=False)
    assert theirs.status_code == 303 and theirs.headers["location"] != alice_link
    assert len(httpx.get(f"{public_server.url}/orders", headers=public_server.auth("manager")).json()) == 2
    # Alice's own resubmit is still one order.
    alice.add(shop["Fries"], 1)
    again = alice.post("/checkout", {**alice_key, "customer_name": "Alice", "notes": ""}, htmx=False)
    assert again.headers["location"] == alice_link


# Finding 10: public answers count nothing of the day's business


def test_public_health_is_up_or_down_and_managers_get_the_details(public_server: Server) -> None:
    public = httpx.get(f"{public_server.url}/health")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    cook = httpx.get(f"{public_server.url}/health", headers=public_server.auth("kitchen")).json()
    assert cook == {"status": "ok"}
    details = httpx.get(f"{public_server.url}/health", headers=public_server.auth("manager")).json()
    assert details["database"] == "ok" and "last_event_id" in details["bus"] and "queued" in details["writer"]


def test_public_order_answers_carry_no_sequential_ids(public_server: Server, shop: dict) -> None:
    for n in range(3):  # the day's business so far
        httpx.post(
            f"{public_server.url}/orders",
            json={**online([(shop["Fries"], 1)], name=f"Guest {n}"), "channel": "counter"},
            headers=public_server.auth("cashier"),
        )
    placed = httpx.post(f"{public_server.url}/orders", json=online([(shop["Fries"], 2)]), timeout=10)
    body = placed.json()
    assert placed.status_code == 201
    assert not {"id", "ticket_no", "business_date"} & set(body)
    assert all(
        set(line) == {"name", "quantity", "unit_price_cents", "line_total_cents", "notes"} for line in body["lines"]
    )
    assert placed.headers["location"] == body["tracking_url"]
    code = body["pickup_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{6}", code)
    token = body["tracking_url"].rsplit("/", 1)[1]
    tracked = httpx.get(f"{public_server.url}/track/{token}.json").json()
    assert tracked["pickup_code"] == code and "ticket_no" not in tracked and "id" not in tracked
    page = httpx.get(f"{public_server.url}/track/{token}").text
    assert code in page and "#4" not in page
    # Staff look the order up by the same code, and keep ids and ticket numbers.
    staff = httpx.get(f"{public_server.url}/orders", headers=public_server.auth("cashier")).json()
    mine = next(order for order in staff if order["pickup_code"] == code)
    assert mine["ticket_no"] == 4 and mine["id"] >= 4
    kitchen = httpx.get(f"{public_server.url}/kitchen/orders", headers=public_server.auth("kitchen")).json()
    assert code in {order["pickup_code"] for order in kitchen}


def test_public_streams_and_pages_send_no_event_ids(public_server: Server, shop: dict) -> None:
    placed = httpx.post(f"{public_server.url}/orders", json=online([(shop["Fries"], 1)]), timeout=10).json()
    token = placed["tracking_url"].rsplit("/", 1)[1]
    for path in (f"/track/{token}/events", f"/track/{token}/live", "/menu/stream"):
        frames = first_frames(public_server, path, 2)
        assert "event:" in frames and not re.search(r"^id:", frames, re.MULTILINE), (path, frames)
    for page in (httpx.get(f"{public_server.url}/").text, Customer(public_server).open("/checkout").text):
        assert "last_event_id" not in page
    # A tracking stream still follows its order live, without ids.
    with httpx.stream("GET", f"{public_server.url}/track/{token}/events", timeout=10) as stream:
        text = ""
        moved = False
        for chunk in stream.iter_text():
            text += chunk
            if not moved and text.count("event: order") == 1:
                order_id = httpx.get(f"{public_server.url}/orders", headers=public_server.auth("manager")).json()[0][
                    "id"
                ]
                httpx.patch(
                    f"{public_server.url}/orders/{order_id}",
                    json={"status": "preparing"},
                    headers=public_server.auth("manager"),
                )
                moved = True
            if '"status":"preparing"' in text:
                break
    assert not re.search(r"^id:", text, re.MULTILINE)


# Finding 11: Host header


def test_a_forged_host_is_refused_and_never_redirected_to(public_server: Server) -> None:
    evil = httpx.get(f"{public_server.url}/menu/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert evil.status_code == 400 and "location" not in evil.headers
    assert evil.headers["x-frame-options"] == "DENY"  # still a ForkFlow answer, with its headers
    assert httpx.get(f"{public_server.url}/", headers={"Host": "evil.example:80"}).status_code == 400
    # The loopback names work, as the tests and a container's health probe use them.
    for host in (f"127.0.0.1:{public_server.port}", "localhost", f"[::1]:{public_server.port}"):
        assert httpx.get(f"{public_server.url}/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_come_from_the_setting(tmp_path: Path) -> None:
    env = {"FORKFLOW_ALLOWED_HOSTS": "shop.example, *.shop.example"}
    with running_server(tmp_path, env=env) as server:
        for host, status in (("shop.example", 200), ("www.shop.example", 200), ("evil.example", 400)):
            assert httpx.get(f"{server.url}/health", headers={"Host": host}).status_code == status, host
