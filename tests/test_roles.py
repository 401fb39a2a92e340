"""The role table, row by row, for every route: allowed roles succeed; everyone else gets 401/403
and nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from forkflow.events import topic_of

from .conftest import MENU, Server, order_body

ROLES = ("public", "kitchen", "cashier", "manager")
STAFF = {"kitchen", "cashier", "manager"}
FRONT = {"cashier", "manager"}
MANAGER = {"manager"}
EVERYONE = set(ROLES)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(Path(tmp_path_factory.mktemp("roles")) / "forkflow.db", env={"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "0"})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def manager(shared_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, headers=shared_server.auth("manager"), timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def dishes(manager: httpx.Client) -> list[dict]:
    return [manager.post("/menu", json=item).json() for item in MENU]


@dataclass
class Target:
    """Fresh things for one request to act on, made by the manager before the request."""

    dish: dict
    order: dict
    stock: dict
    member: dict
    token_id: int


def make_target(manager: httpx.Client, dishes: list[dict], n: int) -> Target:
    dish = manager.post("/menu", json={**MENU[0], "name": f"Special {n}"}).json()
    order = manager.post("/orders", json=order_body(dishes, customer_name=f"Target {n}")).json()
    stock = manager.post("/inventory", json={"item_name": f"Stock {n}", "quantity": 5, "unit": "kg"}).json()
    member = manager.post("/staff", json={"name": f"temp{n}", "role": "kitchen", "password": "temp-password"}).json()
    token = manager.post("/auth/token", json={"username": f"temp{n}", "password": "temp-password"}).json()
    return Target(dish, order, stock, member, token["id"])


@dataclass
class Case:
    method: str
    path: Callable[[Target], str]
    body: Callable[[Target, list[dict]], dict] | None
    allowed: set[str]
    stream: bool = False


CASES: dict[str, Case] = {
    "read menu": Case("GET", lambda t: "/menu", None, EVERYONE),
    "read menu item": Case("GET", lambda t: f"/menu/{t.dish['id']}", None, EVERYONE),
    "menu events": Case("GET", lambda t: "/events?topics=menu", None, EVERYONE, stream=True),
    "place online order": Case(
        "POST", lambda t: "/orders", lambda t, d: order_body(d, channel="online"), {"public", "cashier", "manager"}
    ),
    "place counter order": Case("POST", lambda t: "/orders", lambda t, d: order_body(d), FRONT),
    "place table order": Case(
        "POST", lambda t: "/orders", lambda t, d: order_body(d, channel="table", table="4"), FRONT
    ),
    "track by link (JSON)": Case("GET", lambda t: f"{t.order['tracking_url']}.json", None, EVERYONE),
    "track by link (page)": Case("GET", lambda t: t.order["tracking_url"], None, EVERYONE),
    "list orders": Case("GET", lambda t: "/orders", None, STAFF),
    "read order": Case("GET", lambda t: f"/orders/{t.order['id']}", None, STAFF),
    "kitchen orders": Case("GET", lambda t: "/kitchen/orders", None, STAFF),
    "order events": Case("GET", lambda t: "/events?topics=orders", None, STAFF, stream=True),
    "move order status": Case(
        "PATCH", lambda t: f"/orders/{t.order['id']}", lambda t, d: {"status": "preparing"}, STAFF
    ),
    "cancel order": Case("PATCH", lambda t: f"/orders/{t.order['id']}", lambda t, d: {"status": "cancelled"}, FRONT),
    "create menu item": Case("POST", lambda t: "/menu", lambda t, d: {**MENU[1], "name": "New dish"}, MANAGER),
    "edit menu item": Case(
        "PUT", lambda t: f"/menu/{t.dish['id']}", lambda t, d: {**MENU[0], "name": "Renamed"}, MANAGER
    ),
    "toggle availability": Case(
        "PUT", lambda t: f"/menu/{t.dish['id']}/availability", lambda t, d: {"available": False}, MANAGER
    ),
    "read inventory": Case("GET", lambda t: "/inventory", None, MANAGER),
    "read stock item": Case("GET", lambda t: f"/inventory/{t.stock['id']}", None, MANAGER),
    "add stock item": Case(
        "POST", lambda t: "/inventory", lambda t, d: {"item_name": "Saffron", "quantity": 1, "unit": "g"}, MANAGER
    ),
    "change stock": Case("PATCH", lambda t: f"/inventory/{t.stock['id']}", lambda t, d: {"delta": -1}, MANAGER),
    "inventory events": Case("GET", lambda t: "/events?topics=inventory", None, MANAGER, stream=True),
    "list staff": Case("GET", lambda t: "/staff", None, MANAGER),
    "add staff": Case(
        "POST",
        lambda t: "/staff",
        lambda t, d: {"name": "newcook", "role": "kitchen", "password": "longpassword"},
        MANAGER,
    ),
    "change staff": Case("PATCH", lambda t: f"/staff/{t.member['id']}", lambda t, d: {"active": False}, MANAGER),
    "list tokens": Case("GET", lambda t: "/auth/tokens", None, MANAGER),
    "revoke a token": Case("DELETE", lambda t: f"/auth/tokens/{t.token_id}", None, MANAGER),
}


def snapshot(manager: httpx.Client) -> dict:
    return {
        "orders": manager.get("/orders", params={"limit": 1000}).json(),
        "menu": manager.get("/menu").json(),
        "inventory": manager.get("/inventory").json(),
        "staff": manager.get("/staff").json(),
        "tokens": manager.get("/auth/tokens").json(),
        "last_event_id": manager.get("/health").json()["bus"]["last_event_id"],
    }


_counter = iter(range(1, 1_000_000))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(CASES))
def test_role_table(shared_server: Server, manager: httpx.Client, dishes: list[dict], action: str, role: str) -> None:
    case = CASES[action]
    target = make_target(manager, dishes, next(_counter))
    headers = {} if role == "public" else shared_server.auth(role)
    path = case.path(target)
    body = case.body(target, dishes) if case.body else None
    before = snapshot(manager)

    with httpx.Client(base_url=shared_server.url, headers=headers, timeout=10) as client:
        if case.stream:
            with client.stream(case.method, path) as response:
                if response.status_code >= 400:
                    response.read()
        else:
            response = client.request(case.method, path, json=body)
    status = response.status_code
    payload = response.json() if status >= 400 else None

    if role in case.allowed:
        assert 200 <= status < 300, f"{role} may {action}: got {status} {payload}"
    else:
        expected = 401 if role == "public" else 403
        assert status == expected, f"{role} may not {action}: got {status}"
        assert payload["error"]["code"] == ("unauthorized" if role == "public" else "forbidden")
        assert snapshot(manager) == before, "a refused request changes nothing"


def test_pages_send_the_signed_out_to_sign_in(shared_server: Server) -> None:
    response = httpx.get(f"{shared_server.url}/kitchen/orders", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/kitchen/orders"


def test_default_stream_topics_are_what_the_caller_may_read(
    shared_server: Server, manager: httpx.Client, dishes: list[dict]
) -> None:
    """Without ?topics, the public gets the menu only, not a 401; the kitchen gets menu and orders."""
    make_target(manager, dishes, 0)
    for role, expected in [("public", "menu"), ("kitchen", "menu,orders"), ("manager", "inventory,menu,orders")]:
        headers = {} if role == "public" else shared_server.auth(role)
        with httpx.stream(
            "GET", f"{shared_server.url}/events?last_event_id=0", headers=headers, timeout=10
        ) as response:
            assert response.status_code == 200
            seen: set[str] = set()
            for line in response.iter_lines():
                if line.startswith("event: ") and line != "event: stream.ready":
                    seen.add(topic_of(line.removeprefix("event: ")))
                if line == "event: stream.ready":
                    break
        assert seen == set(expected.split(","))
