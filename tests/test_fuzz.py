"""Property-based fuzzing of the write routes on one real server.

Properties, for every generated request: never a 5xx; every 4xx is a JSON error with a code and a
message; every 2xx body has the documented shape (the response models of forkflow.schemas_out, which
the OpenAPI document is made from); and /health stays 200.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from forkflow.schemas_out import (
    ErrorOut,
    HealthOut,
    InventoryItemOut,
    MenuItemOut,
    OrderOut,
    Output,
    PublicOrderOut,
    StaffOut,
    TokenOut,
)

from .conftest import PASSWORDS, Server

SQL = "'; DROP TABLE orders; --"
HTML = "<script>alert(1)</script>"

REQUESTS = {"sent": 0}


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same examples on every run: fit for CI
        deadline=None,  # real requests to a real server; a failed sign-in alone takes a second
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# The server and what the routes aim at


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Public orders and failed sign-ins by the hundred: no rate limit or sign-in throttling here.
    env = {
        "FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_NAME_AND_ADDRESS": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_ADDRESS": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_NAME_UNTRUSTED": "0",
    }
    srv = Server(Path(tmp_path_factory.mktemp("fuzz")) / "forkflow.db", env=env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def manager(fuzz_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server.url, timeout=30, headers=fuzz_server.auth("manager")) as c:
        yield c


@pytest.fixture(scope="module")
def raw(fuzz_server: Server) -> Iterator[httpx.Client]:
    """No default auth and no connection reuse: each generated request stands alone."""
    with httpx.Client(base_url=fuzz_server.url, timeout=30, headers={"Connection": "close"}) as c:
        yield c


@dataclass
class Targets:
    dishes: list[int]
    dish: int
    order: int
    stock: int
    staff: int  # an account only the fuzz touches: never the manager whose token we use


@pytest.fixture(scope="module")
def targets(manager: httpx.Client) -> Targets:
    def made(path: str, body: dict) -> int:
        response = manager.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    dishes = [
        made("/menu", {"name": "Burger", "price_cents": 1550, "category": "Mains", "station": "grill"}),
        made("/menu", {"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry"}),
    ]
    dish = made("/menu", {"name": "Fuzzed Dish", "price_cents": 900, "category": "Mains", "station": "grill"})
    order = made(
        "/orders",
        {"customer_name": "Fuzz", "channel": "counter", "items": [{"menu_item_id": dishes[0], "quantity": 1}]},
    )
    stock = made("/inventory", {"item_name": "Flour", "quantity": 500, "unit": "kg"})
    staff = made("/staff", {"name": "fuzz-target", "role": "kitchen", "password": "fuzz-target-password"})
    made("/staff", {"name": "fuzz-login", "role": "kitchen", "password": "fuzz-login-password"})
    return Targets(dishes, dish, order, stock, staff)


# The routes: a valid body for each, and the fields a mutation may aim at

COUNTER = itertools.count()


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # "{id}" is the route's target, or a generated id
    target: str | None
    valid: Callable[[Targets], dict]
    fields: tuple[str, ...]
    shape: str  # which documented shape a 2xx body has


ROUTES = [
    Route(
        "POST /menu",
        "POST",
        "/menu",
        None,
        lambda t: {"name": "Fuzz Soup", "description": "", "price_cents": 650, "category": "Soups", "station": "cold"},
        ("name", "description", "price_cents", "category", "station", "available"),
        "menu",
    ),
    Route(
        "PUT /menu/{id}",
        "PUT",
        "/menu/{id}",
        "dish",
        lambda t: {"name": "Fuzzed Dish", "price_cents": 900, "category": "Mains", "station": "grill"},
        ("name", "description", "price_cents", "category", "station", "available"),
        "menu",
    ),
    Route(
        "PUT /menu/{id}/availability",
        "PUT",
        "/menu/{id}/availability",
        "dish",
        lambda t: {"available": True},
        ("available",),
        "menu",
    ),
    Route(
        "POST /orders",
        "POST",
        "/orders",
        None,
        lambda t: {
            "customer_name": "Fuzz",
            "channel": "online",
            "table": "4",
            "notes": "",
            "items": [
                {"menu_item_id": t.dishes[0], "quantity": 1, "notes": ""},
                {"menu_item_id": t.dishes[1], "quantity": 2},
            ],
        },
        (
            "customer_name",
            "channel",
            "table",
            "notes",
            "items",
            "items.0",
            "items.0.menu_item_id",
            "items.0.quantity",
            "items.0.notes",
        ),
        "order",
    ),
    Route(
        "PATCH /orders/{id}",
        "PATCH",
        "/orders/{id}",
        "order",
        lambda t: {"status": "preparing"},
        ("status",),
        "order",
    ),
    Route(
        "POST /inventory",
        "POST",
        "/inventory",
        None,
        lambda t: {"item_name": f"Stock {next(COUNTER)}", "quantity": 2.5, "unit": "kg"},
        ("item_name", "quantity", "unit"),
        "inventory",
    ),
    Route(
        "PATCH /inventory/{id}",
        "PATCH",
        "/inventory/{id}",
        "stock",
        lambda t: {"delta": -0.5},
        ("item_name", "unit", "quantity", "delta"),
        "inventory",
    ),
    Route(
        "POST /staff",
        "POST",
        "/staff",
        None,
        lambda t: {"name": f"fuzz-{next(COUNTER)}", "role": "kitchen", "password": "long-enough-password"},
        ("name", "role", "password"),
        "staff",
    ),
    Route(
        "PATCH /staff/{id}",
        "PATCH",
        "/staff/{id}",
        "staff",
        lambda t: {"role": "cashier", "active": True},
        ("role", "active", "password"),
        "staff",
    ),
]
SIGN_IN = Route(
    "POST /auth/token",
    "POST",
    "/auth/token",
    None,
    lambda t: {"username": "fuzz-login", "password": "fuzz-login-password"},
    ("username", "password"),
    "token",
)


# Strategies

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from([SQL, HTML, "", " ", "\x00", "\ud800", "x" * 300, "new", "online", "manager", "0", "-1"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: sent as the bare literals json.dumps writes
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(float),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
header_text = st.text(alphabet=st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=60).map(str.strip)
idempotency_keys = st.one_of(
    st.none(),
    st.from_regex(r"[\x21-\x7e]{1,40}", fullmatch=True),
    st.sampled_from(["fuzz-key-1", "fuzz-key-2", "x" * 201, SQL]),
    header_text,
)
AUTHS = ["manager", "cashier", "kitchen", None, "bogus token", "malformed", "session cookie"]
MOSTLY_MANAGER = ["manager"] * 4 + AUTHS  # most requests should get past the role check


def auth_headers(server: Server, auth: str | None) -> dict[str, str]:
    if auth in PASSWORDS:
        return server.auth(auth)
    if auth == "bogus token":
        return {"Authorization": "Bearer ff_not-a-real-token"}
    if auth == "malformed":
        return {"Authorization": "Basic bWFuYWdlcjp4"}
    if auth == "session cookie":
        return {"Cookie": "forkflow_session=forged.cookie.value"}
    return {}


def encode(value: Any, ascii_only: bool) -> bytes:
    """JSON text; non-ASCII written raw (and lone surrogates as their raw, invalid, UTF-8 bytes) half the time."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def set_path(body: Any, path: str, value: Any, delete: bool = False) -> None:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[key]
    else:
        node[key] = value


# The properties

# The documented response shapes (forkflow.schemas_out, the OpenAPI document's schemas)
SHAPES: dict[str, type[Output]] = {
    "menu": MenuItemOut,
    "order": OrderOut,
    "inventory": InventoryItemOut,
    "staff": StaffOut,
    "token": TokenOut,
}


def assert_meaning(data: dict, shape: str) -> None:
    """What the schemas cannot say: timestamps in UTC, totals that add up, tokens that look like tokens."""
    for key in ("created_at", "updated_at", "last_updated"):
        if key in data:
            assert data[key].endswith("Z"), (shape, key, data[key])
    if shape == "order":
        assert data["tracking_url"].startswith("/track/") and data["lines"]
        for line in data["lines"]:
            assert line["line_total_cents"] == line["unit_price_cents"] * line["quantity"]
        assert data["total_cents"] == sum(line["line_total_cents"] for line in data["lines"])
    if shape == "token":
        assert data["token"].startswith("ff_")


def check(route: Route, response: httpx.Response, public: bool = False) -> None:
    status = response.status_code
    assert status < 500, f"{route.name}: {status} {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json"), (status, response.headers)
    if status >= 400:
        error = ErrorOut.model_validate_json(response.content, strict=True).error
        assert error.code and error.message, response.text
        return
    assert status == (201 if route.method == "POST" else 200), (route.name, status, response.text)
    data = response.json()
    if public and route.shape == "order":  # the public's answer: no id or ticket number
        PublicOrderOut.model_validate_json(response.content, strict=True)
        assert response.headers["location"] == data["tracking_url"]
        return
    SHAPES[route.shape].model_validate_json(response.content, strict=True)
    assert_meaning(data, route.shape)
    if route.method == "POST" and route.shape != "token":
        assert response.headers["location"] == f"{route.path}/{data['id']}"


def send(
    raw: httpx.Client,
    server: Server,
    route: Route,
    targets: Targets,
    content: bytes,
    auth: str | None,
    key: str | None,
    content_type: str | None = "application/json",
    path_id: int | None = None,
) -> httpx.Response:
    target = getattr(targets, route.target) if route.target else None
    path = route.path.format(id=target if path_id is None else path_id)
    headers: dict[str, Any] = auth_headers(server, auth)
    if content_type is not None:
        headers["content-type"] = content_type.encode("latin-1")
    if key is not None:
        headers["Idempotency-Key"] = key.encode("latin-1")
    REQUESTS["sent"] += 1
    response = raw.request(route.method, path, content=content, headers=headers)
    check(route, response, public=auth is None)
    health = raw.get("/health")
    assert health.status_code == 200, health.text
    HealthOut.model_validate_json(health.content, strict=True)
    return response


def path_ids(route: Route) -> st.SearchStrategy[int | None]:
    if route.target is None:
        return st.none()
    if route.target == "staff":  # never an account the fuzz itself signs in with
        return st.none() | st.integers(min_value=10_000, max_value=10**30)
    return st.none() | st.integers(min_value=0, max_value=10**30)


@fuzz_settings(examples=200)
@given(data=st.data())
def test_arbitrary_json_bodies(fuzz_server: Server, raw: httpx.Client, targets: Targets, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from([*ROUTES, SIGN_IN]), label="route")
    value = data.draw(json_values, label="body")
    if route is SIGN_IN:
        assume(not isinstance(value, dict) or not {"username", "password"} <= set(value))  # a second per bad guess
    content = encode(value, data.draw(st.booleans(), label="ascii"))
    auth = data.draw(st.sampled_from(MOSTLY_MANAGER), label="auth")
    key = data.draw(idempotency_keys, label="idempotency key") if route.name == "POST /orders" else None
    send(raw, fuzz_server, route, targets, content, auth, key, path_id=data.draw(path_ids(route), label="id"))


@fuzz_settings(examples=400)
@given(data=st.data())
def test_valid_bodies_with_one_field_mutated(
    fuzz_server: Server, raw: httpx.Client, targets: Targets, data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    body = route.valid(targets)
    action = data.draw(st.sampled_from(["set", "set", "set", "delete", "unknown field"]), label="action")
    if action == "unknown field":
        body[data.draw(texts, label="unknown field")] = data.draw(json_values, label="value")
    else:
        path = data.draw(st.sampled_from(route.fields), label="field")
        value = data.draw(json_values, label="value") if action == "set" else None
        try:
            set_path(body, path, value, delete=action == "delete")
        except (KeyError, IndexError):
            pass  # deleting an optional field the valid body does not have: send it as it is
    content = encode(body, data.draw(st.booleans(), label="ascii"))
    auth = data.draw(st.sampled_from(MOSTLY_MANAGER), label="auth")
    key = data.draw(idempotency_keys, label="idempotency key") if route.name == "POST /orders" else None
    send(raw, fuzz_server, route, targets, content, auth, key)


@fuzz_settings(examples=60)
@given(data=st.data())
def test_valid_bodies_with_unknown_fields(
    fuzz_server: Server, raw: httpx.Client, targets: Targets, data: st.DataObject
) -> None:
    """Mostly accepted: unknown fields are ignored, so these exercise the 2xx shapes."""
    route = data.draw(st.sampled_from(ROUTES), label="route")
    body = route.valid(targets)
    extra = data.draw(st.dictionaries(texts, json_values, max_size=3), label="unknown fields")
    body.update({key: value for key, value in extra.items() if key not in body and key not in route.fields})
    content = encode(body, data.draw(st.booleans(), label="ascii"))
    auth = data.draw(st.sampled_from(["manager", "manager", "manager", "cashier", None]), label="auth")
    key = data.draw(idempotency_keys, label="idempotency key") if route.name == "POST /orders" else None
    send(raw, fuzz_server, route, targets, content, auth, key)


@fuzz_settings(examples=15)
@given(data=st.data())
def test_sign_in_with_one_field_mutated(
    fuzz_server: Server, raw: httpx.Client, targets: Targets, data: st.DataObject
) -> None:
    """Few examples: every wrong name or password is answered a second late, by design."""
    body = SIGN_IN.valid(targets)
    field = data.draw(st.sampled_from(SIGN_IN.fields), label="field")
    body[field] = data.draw(json_values, label="value")
    body[data.draw(texts, label="unknown field")] = data.draw(json_values, label="unknown value")
    content = encode(body, data.draw(st.booleans(), label="ascii"))
    send(raw, fuzz_server, SIGN_IN, targets, content, data.draw(st.sampled_from(AUTHS), label="auth"), None)


@fuzz_settings(examples=60)
@given(data=st.data())
def test_raw_bytes_with_any_content_type(
    fuzz_server: Server, raw: httpx.Client, targets: Targets, data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    content = data.draw(
        st.binary(max_size=300) | st.sampled_from([b"", b"{", b"[]", b"NaN", b"\xff\xfe{}", b"a=b&csrf_token=x"]),
        label="body",
    )
    content_type = data.draw(
        st.sampled_from(
            [
                None,
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/xml",
            ]
        )
        | header_text,
        label="content type",
    )
    auth = data.draw(st.sampled_from(MOSTLY_MANAGER), label="auth")
    send(raw, fuzz_server, route, targets, content, auth, None, content_type=content_type)


def test_enough_requests_were_sent_and_the_server_still_serves(fuzz_server: Server, manager: httpx.Client) -> None:
    if REQUESTS["sent"] == 0:
        pytest.skip("counts the requests of the fuzz tests above; run it with them")
    assert REQUESTS["sent"] >= 300, REQUESTS
    assert fuzz_server.process is not None and fuzz_server.process.poll() is None
    health = manager.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"
