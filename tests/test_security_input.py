"""Odd input is a clear 400/422, never a 500, and 500s carry the security headers (finding 8); the
last active manager stays; private answers are not stored; what people type cannot hold control or
text-direction characters (finding 13). Each test is the attack, against a real server."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .conftest import MENU, Server, csrf_from, on_both_backends, order_body, seed_staff
from .test_pos import Till
from .test_shop import Customer

HX = {"HX-Request": "true"}
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "no nuts<RLO>stun" would show as something else


def fresh(server: Server, role: str = "manager") -> httpx.Client:
    """A client that opens a new connection per request: uvicorn drops the connection after a 500."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=server.url, timeout=10, headers=server.auth(role), limits=limits)


def assert_error(response: httpx.Response, statuses: tuple[int, ...], field: str | None = None) -> None:
    assert response.status_code in statuses, (response.request.url, response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in error["fields"], error


def world(client: httpx.Client) -> tuple:
    return (
        client.get("/menu").json(),
        client.get("/orders").json(),
        client.get("/inventory").json(),
        client.get("/staff").json(),
    )


# Finding 8: numbers that are not numbers, ids the database cannot hold, NUL in text


@on_both_backends
def test_odd_numbers_in_queries_and_headers_are_400_or_422(server: Server, menu: list[dict]) -> None:
    cases: list[tuple[str, dict[str, str], dict[str, bytes], tuple[int, ...], str]] = [
        ("/events", {"last_event_id": "²"}, {}, (400,), "Last-Event-ID"),
        ("/events", {"last_event_id": "\u0663"}, {}, (400,), "Last-Event-ID"),  # Arabic-Indic three
        ("/events", {"last_event_id": "9" * 5000}, {}, (400,), "Last-Event-ID"),
        ("/events", {}, {"Last-Event-ID": b"\xb2"}, (400,), "Last-Event-ID"),  # '²' as the header's latin-1
        ("/events", {}, {"Last-Event-ID": b"9" * 5000}, (400,), "Last-Event-ID"),
        ("/events", {}, {"Last-Event-ID": str(2**63).encode()}, (400,), "Last-Event-ID"),
        ("/orders", {"limit": "²"}, {}, (422,), "limit"),
        ("/orders", {"limit": "\u0663"}, {}, (422,), "limit"),
        ("/orders", {"limit": "9" * 5000}, {}, (422,), "limit"),
        ("/manage", {"edit": "²"}, {}, (400,), "edit"),
        ("/manage", {"edit": "9" * 5000}, {}, (400,), "edit"),
        ("/manage", {"edit": "99999999999"}, {}, (400,), "edit"),
        ("/manage", {"movements": "²"}, {}, (400,), "movements"),
    ]
    with fresh(server) as client:
        for path, params, headers, statuses, field in cases:
            assert_error(client.get(path, params=params, headers=headers), statuses, field)
        assert client.get("/manage", params={"edit": str(menu[0]["id"])}).status_code == 200
        assert client.get("/orders", params={"limit": "5"}).status_code == 200


@on_both_backends
def test_ids_beyond_what_the_database_holds_are_404_or_422(server: Server, menu: list[dict]) -> None:
    """The schema's INTEGER ids are 32-bit on PostgreSQL: a larger one used to reach asyncpg (a 500)."""
    with fresh(server) as client:
        before = world(client)
        for path in ("/menu/2147483648", "/orders/99999999999", "/inventory/99999999999/movements"):
            assert_error(client.get(path), (404,))
        assert_error(client.get("/menu/2147483647"), (404,))  # the largest id: a route, and no such item
        assert_error(client.patch("/staff/99999999999", json={"active": True}), (404,))
        body = order_body(menu, items=[{"menu_item_id": 2**31, "quantity": 1}])
        assert_error(client.post("/orders", json=body), (422,), "items.0.menu_item_id")
        recipe = {"ingredients": [{"inventory_id": 2**40, "quantity": 1}]}
        assert_error(client.put(f"/menu/{menu[0]['id']}/recipe", json=recipe), (422,), "ingredients.0.inventory_id")
        assert world(client) == before


@on_both_backends
def test_a_nul_in_text_is_422_and_changes_nothing(server: Server, menu: list[dict]) -> None:
    """A NUL was a 500 on PostgreSQL (it cannot store one) and stored as-is on SQLite."""
    with fresh(server) as client:
        before = world(client)
        item = {**MENU[0], "name": "Burger\x00"}
        assert_error(client.post("/menu", json=item), (422,), "name")
        assert_error(client.post("/orders", json=order_body(menu, customer_name="A\x00da")), (422,), "customer_name")
        stock = {"item_name": "Flour\x00", "quantity": 1, "unit": "kg"}
        assert_error(client.post("/inventory", json=stock), (422,), "item_name")
        login = httpx.post(f"{server.url}/auth/token", json={"username": "manager\x00", "password": "x"})
        assert_error(login, (422,), "username")
        page = httpx.Client(base_url=server.url, timeout=10)
        form = page.get("/login").text
        token = csrf_from(form)
        signed = page.post("/login", data={"username": "manager\x00", "password": "x", "csrf_token": token})
        page.close()
        assert signed.status_code == 401 and "U+0000" in signed.text, "the sign-in page says so inline"
        for path in ("/track/a%00b.json", "/track/a%00b", "/track/a%00b/events"):
            assert_error(httpx.get(f"{server.url}{path}", timeout=10), (404,))
        assert world(client) == before


def test_form_ids_that_are_not_numbers_are_refused_inline(server: Server, menu: list[dict]) -> None:
    customer = Customer(server)
    try:
        refused = customer.post("/cart/items", {"menu_item_id": "²"})
        assert refused.status_code == 422 and "whole number from 1" in refused.text
    finally:
        customer.close()
    with fresh(server) as client:
        recipe = client.post(
            f"/manage/menu/{menu[0]['id']}/recipe", data={"inventory_id": "²", "quantity": "1"}, headers=HX
        )
        assert recipe.status_code == 422 and "No such stock item" in recipe.text
        assert client.get(f"/menu/{menu[0]['id']}/recipe").json()["ingredients"] == []


def test_a_500_carries_the_security_headers(server: Server, menu: list[dict]) -> None:
    """Break the database under the running server (a table gone): the answer is the server's own
    500, sent by Starlette outside every middleware, and must still carry every header."""
    server.execute("ALTER TABLE menu_items RENAME TO menu_items_gone")
    with fresh(server) as client:
        for path in ("/menu", f"/menu/{menu[0]['id']}"):
            response = client.get(path)
            assert response.status_code == 500
            assert response.json()["error"]["code"] == "internal"
            for header in SECURITY_HEADERS:
                assert header in response.headers, (path, header)
            assert response.headers["cache-control"] == "no-store"
    server.execute("ALTER TABLE menu_items_gone RENAME TO menu_items")


# Finding 13: the last manager


@on_both_backends
def test_the_last_active_manager_cannot_demote_or_disable_themselves(server: Server) -> None:
    with fresh(server) as client:
        me = next(m for m in client.get("/staff").json() if m["name"] == "manager")
        for change, field in (({"role": "cashier"}, "role"), ({"active": False}, "active")):
            refused = client.patch(f"/staff/{me['id']}", json=change)
            assert_error(refused, (409,), field)
            assert "last active manager" in refused.json()["error"]["message"]
        assert next(m for m in client.get("/staff").json() if m["name"] == "manager") == me
        # A password change or a no-op role is still fine.
        assert client.patch(f"/staff/{me['id']}", json={"role": "manager"}).status_code == 200


@on_both_backends
def test_two_managers_demoting_each_other_at_once_leave_one_manager(server: Server) -> None:
    """Checked inside the write unit: the second demotion sees the first (409), or its caller is no
    longer a manager by the time it is let in (403). Never both."""
    with fresh(server) as client:
        second = client.post("/staff", json={"name": "boss2", "role": "manager", "password": "boss2-password"}).json()
        first = next(m for m in client.get("/staff").json() if m["name"] == "manager")
    login = {"username": "boss2", "password": "boss2-password"}
    token = httpx.post(f"{server.url}/auth/token", json=login).json()["token"]
    clients = [
        fresh(server),
        httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {token}"}),
    ]
    try:
        targets = [second["id"], first["id"]]  # each demotes the other
        for _ in range(3):

            def demote(i: int) -> httpx.Response:
                return clients[i].patch(f"/staff/{targets[i]}", json={"role": "cashier"})

            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(demote, range(2)))
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses in ([200, 403], [200, 409]), statuses
            survivor = clients[[a.status_code for a in answers].index(200)]
            managers = [m["name"] for m in survivor.get("/staff").json() if m["role"] == "manager" and m["active"]]
            assert len(managers) == 1, managers
            for member in (first, second):  # both managers again for the next round
                survivor.patch(f"/staff/{member['id']}", json={"role": "manager"}).raise_for_status()
    finally:
        for c in clients:
            c.close()


def test_the_cli_will_not_disable_the_last_manager(tmp_path: Path) -> None:
    db = tmp_path / "forkflow.db"
    seed_staff(db)
    users = [sys.executable, "-m", "forkflow", "users"]
    result = subprocess.run([*users, "disable", "manager", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "last active manager" in result.stderr
    listed = subprocess.run([*users, "list", "--db", str(db)], capture_output=True, text=True, timeout=60).stdout
    assert next(line for line in listed.splitlines() if line.startswith("manager")).split() == [
        "manager",
        "manager",
        "active",
    ]


# Finding 13: control and text-direction characters in what people type

REFUSED = [
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9b",
    RLO,
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]


def api_cases(menu: list[dict], stock_id: int) -> list[tuple[str, str, str, object]]:
    """Every free-text field of the JSON API: (method, path, field, body with `T` where text goes)."""
    item = menu[0]["id"]
    return [
        ("POST", "/menu", "name", {**MENU[0], "name": "T"}),
        ("POST", "/menu", "description", {**MENU[0], "name": "New", "description": "T"}),
        ("POST", "/menu", "category", {**MENU[0], "name": "New", "category": "T"}),
        ("POST", "/menu", "station", {**MENU[0], "name": "New", "station": "T"}),
        ("PUT", f"/menu/{item}", "name", {**MENU[0], "name": "T"}),
        ("POST", "/orders", "customer_name", order_body(menu, customer_name="T")),
        ("POST", "/orders", "notes", order_body(menu, notes="T")),
        ("POST", "/orders", "table", order_body(menu, channel="table", table="T")),
        (
            "POST",
            "/orders",
            "items.0.notes",
            order_body(menu, items=[{"menu_item_id": item, "quantity": 1, "notes": "T"}]),
        ),
        ("POST", "/inventory", "item_name", {"item_name": "T", "quantity": 1, "unit": "kg"}),
        ("POST", "/inventory", "unit", {"item_name": "Salt", "quantity": 1, "unit": "T"}),
        ("PATCH", f"/inventory/{stock_id}", "item_name", {"item_name": "T"}),
        ("PATCH", f"/inventory/{stock_id}", "note", {"delta": 1, "note": "T"}),
    ]


def _with(body: object, text: str) -> object:
    if body == "T":
        return text
    if isinstance(body, dict):
        return {k: _with(v, text) for k, v in body.items()}
    if isinstance(body, list):
        return [_with(v, text) for v in body]
    return body


@on_both_backends
def test_control_and_bidi_characters_are_refused_in_every_api_text_field(server: Server, menu: list[dict]) -> None:
    with fresh(server) as client:
        stock_id = client.post("/inventory", json={"item_name": "Flour", "quantity": 5, "unit": "kg"}).json()["id"]
        before = world(client)
        for method, path, field, body in api_cases(menu, stock_id):
            for char in REFUSED:
                answer = client.request(method, path, json=_with(body, f"no nuts{char}stun"))
                assert_error(answer, (422,), field)
                assert f"U+{ord(char):04X}" in answer.json()["error"]["fields"][field]
        assert world(client) == before
        # Ordinary text still goes in, and multi-line notes keep their line breaks and tabs.
        fine = client.post("/orders", json=order_body(menu, customer_name="Zoë 李 🍔", notes="ring twice\n\tthen wait"))
        assert fine.status_code == 201, fine.text
        assert fine.json()["notes"] == "ring twice\n\tthen wait"
        described = client.post("/menu", json={**MENU[0], "name": "Soup", "description": "Hot.\r\nVegan."})
        assert described.status_code == 201, described.text
        assert_error(client.post("/orders", json=order_body(menu, customer_name="A\nB")), (422,), "customer_name")


def test_control_and_bidi_characters_are_refused_inline_in_forms(server: Server, menu: list[dict]) -> None:
    with fresh(server) as client:
        before = world(client)
        typed = {"name": f"Soup{RLO}", "description": "", "price": "5", "category": "Mains", "station": "grill"}
        form = client.post("/manage/menu", data=typed, headers=HX)
        assert form.status_code == 422 and 'id="menu-name-error"' in form.text and "U+202E" in form.text
        stock = client.post("/inventory", json={"item_name": "Flour", "quantity": 5, "unit": "kg"}).json()
        before = world(client)
        adjust = f"/manage/inventory/{stock['id']}/adjust"
        note = client.post(adjust, data={"amount": "1", "reason": "restock", "note": f"a{RLO}b"}, headers=HX)
        assert note.status_code == 422 and "U+202E" in note.text
        assert world(client) == before

    till = Till(server)
    till.tap(add=menu[0]["id"])
    till.type(customer_name=f"Ada{RLO}")
    till.type_line(0, line_notes="no\x00nuts")
    sent = till.send()
    assert sent.status_code == 422
    assert "U+202E" in sent.text and "U+0000" in sent.text

    customer = Customer(server)
    try:
        customer.add(menu[0])
        line_notes = customer.post(customer.line(menu[0]), {"quantity": "1", "notes": f"x{RLO}y"})
        assert line_notes.status_code == 422 and "U+202E" in line_notes.text
        form_key = customer.checkout_form()
        checkout = customer.post("/checkout", {**form_key, "customer_name": f"Ada{RLO}"}, htmx=False)
        assert checkout.status_code == 422 and 'id="name-error"' in checkout.text
    finally:
        customer.close()
    with fresh(server) as client:
        assert client.get("/orders").json() == []


# Finding 13: private answers are not stored


def test_private_answers_are_no_store_and_public_ones_keep_their_caching(server: Server, menu: list[dict]) -> None:
    def cache_control(response: httpx.Response) -> str | None:
        assert response.status_code < 500, response.text
        return response.headers.get("cache-control")

    with fresh(server, "cashier") as staff:
        for path in ("/pos", "/kitchen/display", "/orders", "/kitchen/orders", "/menu", "/health"):
            assert cache_control(staff.get(path)) == "no-store", path
        placed = staff.post("/orders", json=order_body(menu))
        assert cache_control(placed) == "no-store"
    with fresh(server) as manager:
        assert cache_control(manager.get("/manage")) == "no-store"
        assert cache_control(manager.get("/staff")) == "no-store"

    public = httpx.Client(base_url=server.url, timeout=10)
    try:
        order = public.post("/orders", json=order_body(menu, channel="online"))
        assert order.status_code == 201 and cache_control(order) == "no-store"
        tracking = order.json()["tracking_url"]
        assert cache_control(httpx.get(f"{server.url}{tracking}")) == "no-store"
        assert cache_control(httpx.get(f"{server.url}{tracking}.json")) == "no-store"
        login = httpx.get(f"{server.url}/login")
        assert "set-cookie" in login.headers and cache_control(login) == "no-store"
        # The shop's page carries the visitor's CSRF token in a fresh session cookie: not shared.
        shop = httpx.get(f"{server.url}/")
        assert "set-cookie" in shop.headers and cache_control(shop) == "no-store"
        # The same for everyone: no no-store.
        for path in ("/menu", f"/menu/{menu[0]['id']}", "/static/vendor/htmx/htmx.min.js", "/openapi.json"):
            answer = httpx.get(f"{server.url}{path}")
            assert answer.status_code == 200 and "set-cookie" not in answer.headers, path
            assert "no-store" not in (answer.headers.get("cache-control") or ""), path
        with public.stream("GET", "/events", params={"topics": "menu"}) as stream:
            assert stream.headers["cache-control"] == "no-cache"
    finally:
        public.close()
