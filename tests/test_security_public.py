"""Issue 12, the public surface, tried as an attacker would against a real server: the kitchen
cannot be emptied by anonymous orders and the public never learns stock quantities (finding 3),
idempotency keys are the caller's own (9), public answers count nothing of the day's business
(10), and a forged Host header is refused (11)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import BACKENDS, PASSWORDS, Server, create_menu, csrf_from, running_server
from .sse import Listener, Received
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
    for secret in (STOCK_NAME, STOCK_UNIT):
        assert secret not in text, f"{secret!r} is in a public answer: {text[:2000]}"
    # A quantity as a number of its own: not the same digits inside an opaque event id ("9a4306cc").
    for number in (str(STOCK_QUANTITY - n) for n in range(0, 20)):
        found = re.search(rf"(?<![0-9A-Za-z]){number}(?![0-9A-Za-z])", text)
        assert found is None, f"{number!r} is in a public answer: {text[:2000]}"
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
    changed = customer.post(customer.line(burger), {"quantity": "35", "notes": ""})
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
    public_line = {"name", "quantity", "unit_price_cents", "line_total_cents", "notes", "voided_at"}
    assert all(set(line) == public_line | {"modifiers", "allergens", "allergy_flags"} for line in body["lines"])
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
    # ... and on their screens: the kitchen's ticket and the till's recent orders show it.
    for page_path, role in (("/kitchen/display", "kitchen"), ("/pos", "cashier")):
        screen = httpx.get(f"{public_server.url}{page_path}", headers=public_server.auth(role), timeout=10)
        assert screen.status_code == 200 and 'class="pickup-code"' in screen.text and code in screen.text, page_path


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


# Finding 10: the public's event ids are opaque (`GET /events`)

OPAQUE = re.compile("[0-9a-f]{32}")


def toggle(server: Server, dish: dict, available: bool) -> None:
    """A menu event: the public sees it."""
    manager = server.auth("manager")
    answer = httpx.put(
        f"{server.url}/menu/{dish['id']}/availability", json={"available": available}, headers=manager, timeout=10
    )
    assert answer.status_code == 200, answer.text


def trade(server: Server, dish: dict, orders: int) -> None:
    """Orders placed and started: events the public does not see, which its ids must not count."""
    manager = server.auth("manager")
    for _ in range(orders):
        body = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": dish["id"], "quantity": 1}]}
        order = httpx.post(f"{server.url}/orders", json=body, headers=manager, timeout=10)
        assert order.status_code == 201, order.text
        moved = httpx.patch(
            f"{server.url}/orders/{order.json()['id']}", json={"status": "preparing"}, headers=manager, timeout=10
        )
        assert moved.status_code == 200, moved.text


async def test_the_public_event_stream_counts_no_business(public_server: Server, shop: dict) -> None:
    """Ids on an anonymous stream are opaque, ordered unlike the events, and its `stream.ready`
    does not move while orders are placed: nothing in it counts what it does not show."""
    async with (
        Listener(public_server.url) as public,  # the public's default topics: the menu
        Listener(public_server.url, topics="menu", token=public_server.tokens["manager"]) as staff,
    ):
        for n in range(8):
            toggle(public_server, shop["Fries"], available=n % 2 == 1)
            trade(public_server, shop["Lemonade"], orders=n + 1)
        seen = await public.wait_for(8)
        real = [e.id for e in await staff.wait_for(8)]
    assert [e.payload["id"] for e in seen] == [shop["Fries"]["id"]] * 8
    # Staff get the table's ids, whose gaps count the orders placed in between.
    assert [b - a for a, b in zip(real, real[1:], strict=False)] == [2 * n + 1 for n in range(1, 8)]
    ids = [e.id for e in seen]
    assert all(isinstance(i, str) and OPAQUE.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == 8 and not any(str(n) in ids for n in real)
    as_numbers = [int(i, 16) for i in ids]
    assert as_numbers != sorted(as_numbers) and as_numbers != sorted(as_numbers, reverse=True)
    # Where a new public stream starts is the last menu event, however many orders come after it.
    async with Listener(public_server.url) as fresh:
        assert fresh.ready_at == ids[-1]
    trade(public_server, shop["Lemonade"], orders=3)
    async with Listener(public_server.url, topics="menu") as later:
        assert later.ready_at == ids[-1]
    # `/health` keeps the head for managers.
    assert "last_event_id" not in httpx.get(f"{public_server.url}/health").text


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_public_stream_resumes_from_its_opaque_id_exactly(tmp_path: Path, backend: str) -> None:
    """The documented contract holds for the public: `Last-Event-ID` (header) and `?last_event_id=`
    with the opaque id last seen, or `stream.ready`'s, replay exactly what was missed."""
    with running_server(tmp_path, backend) as server:
        menu = create_menu(server)
        fries, lemonade = menu["Fries"], menu["Lemonade"]
        toggle(server, fries, False)
        async with Listener(server.url) as first:
            start = first.ready_at
            assert isinstance(start, str) and OPAQUE.fullmatch(start)
            toggle(server, fries, True)
            trade(server, lemonade, 2)
            (m1,) = await first.wait_for(1)
        # Missed while away: two availability changes and an edit, among orders.
        toggle(server, fries, False)
        trade(server, lemonade, 3)
        edited = {**{k: fries[k] for k in ("name", "category", "station")}, "price_cents": 475}
        assert httpx.put(f"{server.url}/menu/{fries['id']}", json=edited, headers=server.auth("manager")).is_success
        toggle(server, fries, True)
        trade(server, lemonade, 1)
        missed = [("menu.availability", False), ("menu.updated", False), ("menu.availability", True)]

        def what(events: list[Received]) -> list[tuple[str, bool]]:
            return [(e.type, e.payload["available"]) for e in events]

        async with Listener(server.url, last_event_id=m1.id) as by_header:
            replayed = await by_header.wait_for(3)
            await asyncio.sleep(0.3)
            assert what(by_header.events) == missed
        by_query = Listener(server.url)
        by_query.url += f"?last_event_id={m1.id}"
        async with by_query:
            await by_query.wait_for(3)
            await asyncio.sleep(0.3)
            assert by_query.events == replayed  # the same events, with the same opaque ids
            assert by_query.ready_at == replayed[-1].id
            toggle(server, fries, False)  # and on live, on the opaque ids
            live = (await by_query.wait_for(4))[-1]
            assert isinstance(live.id, str) and OPAQUE.fullmatch(live.id) and live.id not in {e.id for e in replayed}
        # From `stream.ready`'s position of the first stream: all of it, once.
        from_ready = Listener(server.url, topics="menu")
        from_ready.url += f"&last_event_id={start}"
        async with from_ready:
            await from_ready.wait_for(5)
            await asyncio.sleep(0.3)
            assert [e.id for e in from_ready.events] == [m1.id, *(e.id for e in replayed), live.id]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_opaque_ids_are_the_same_on_every_stream_and_after_a_restart(tmp_path: Path, backend: str) -> None:
    with running_server(tmp_path, backend) as server:
        fries = create_menu(server)["Fries"]
        async with Listener(server.url) as one, Listener(server.url) as two:
            toggle(server, fries, False)
            (a,) = await one.wait_for(1)
            (b,) = await two.wait_for(1)
        assert a.id == b.id and isinstance(a.id, str)
        toggle(server, fries, True)
        server.stop()
        server.start()  # the key comes from the secret kept in the database: the same after a restart
        async with Listener(server.url, last_event_id=a.id) as again:
            (after,) = await again.wait_for(1)
            assert after.payload["available"] is True
        async with Listener(server.url) as fresh:
            assert fresh.ready_at == after.id


@pytest.mark.parametrize("where", ["header", "query"])
def test_a_forged_last_event_id_from_the_public_is_400(public_server: Server, shop: dict, where: str) -> None:
    toggle(public_server, shop["Fries"], False)
    manager = public_server.auth("manager")
    head = httpx.get(f"{public_server.url}/health", headers=manager).json()["bus"]["last_event_id"]
    with httpx.stream("GET", f"{public_server.url}/events", timeout=10) as stream:
        lines = stream.iter_lines()
        ready = next(line for line in lines if line.startswith("data: {") and "last_event_id" in line)
    opaque = json.loads(ready.removeprefix("data: "))["last_event_id"]
    flipped = opaque[:-1] + ("0" if opaque[-1] != "0" else "1")
    forged = [
        str(head),  # a real id: the public has no business sending one
        "1",
        "abc",
        "0" * 32,  # the right shape, but no id of this server's
        flipped,  # one of its ids, altered
        opaque.upper(),
        opaque + "00",
        opaque[:-2],
        "9" * 5000,
        "²",
    ]
    for value in forged:
        if where == "header":
            header = {"Last-Event-ID": value.encode("latin-1")}  # as a client may send it
            answer = httpx.get(f"{public_server.url}/events", headers=header, timeout=10)
        else:
            answer = httpx.get(f"{public_server.url}/events", params={"last_event_id": value}, timeout=10)
        assert answer.status_code == 400, (value, answer.status_code)
        error = answer.json()["error"]
        assert error["code"] == "bad_request" and "Last-Event-ID" in error["fields"], value
        assert "x-frame-options" in answer.headers
    # Staff still send the table's ids (and may send back an opaque one: a page signed in since).
    for value in (str(head), opaque):
        headers = {**manager, "Last-Event-ID": value}
        with httpx.stream("GET", f"{public_server.url}/events", headers=headers, timeout=10) as stream:
            assert stream.status_code == 200, value


def test_signed_in_streams_keep_the_event_ids(public_server: Server, shop: dict) -> None:
    """Staff, by session cookie and by token, get the table's ids and a plain `stream.ready`."""
    toggle(public_server, shop["Fries"], False)
    with httpx.Client(base_url=public_server.url, headers={"accept": "text/html"}, timeout=10) as web:
        token = csrf_from(web.get("/login").text)
        form = {"username": "cashier", "password": PASSWORDS["cashier"], "csrf_token": token}
        assert web.post("/login", data=form).status_code == 303
        with httpx.Client(base_url=public_server.url, headers=public_server.auth("kitchen"), timeout=10) as api:
            for client in (web, api):
                ids: list[str] = []
                with client.stream("GET", "/events?topics=menu&last_event_id=0") as stream:
                    for line in stream.iter_lines():
                        if line.startswith("id: "):
                            ids.append(line.removeprefix("id: "))
                        if line.startswith("data: {") and "last_event_id" in line:
                            ready = json.loads(line.removeprefix("data: "))["last_event_id"]
                            break
                assert len(ids) == 5 and all(i.isdigit() for i in ids), ids  # 4 dishes made, 1 toggled
                assert [int(i) for i in ids] == sorted(int(i) for i in ids) and ready == int(ids[-1])


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
