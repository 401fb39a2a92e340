"""The OpenAPI document: valid, complete against the app's route table, and true to real responses.

Real responses from a running server are checked twice: against the schema the document gives for
that operation and status (JSON Schema 2020-12, as OpenAPI 3.1 uses), and against the pydantic
output model of `forkflow.schemas_out`, strictly and with no extra fields.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel, TypeAdapter
from starlette.routing import BaseRoute, Mount, Route

from forkflow import models, schemas_out
from forkflow.app import create_app
from forkflow.auth.roles import PERMISSIONS
from forkflow.config import Settings
from forkflow.openapi import REF, openapi_document, openapi_path
from forkflow.operation import ApiRoute
from forkflow.routes import api, routes

from .conftest import MENU, PASSWORDS, Server, order_body, running_server

DOC = openapi_document(routes)
METHODS = ("get", "put", "post", "delete", "patch")
# The JSON surfaces: a module, or a package with its modules (routes/api/ by resource).
JSON_MODULES = ("forkflow.routes.api", "forkflow.routes.staff_api", "forkflow.routes.events")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def walk_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[Route]:
    for route in routes:
        if isinstance(route, Mount):
            yield from walk_routes(list(route.routes or []), prefix + route.path)
        elif isinstance(route, Route):
            yield route if not prefix else Route(prefix + route.path, route.endpoint, methods=route.methods)


def is_json_route(route: Route) -> bool:
    """A route of the JSON surfaces, or any endpoint that answers JSON or an event stream."""
    module = route.endpoint.__module__
    if any(module == name or module.startswith(f"{name}.") for name in JSON_MODULES):
        return True
    source = inspect.getsource(route.endpoint)
    return any(marker in source for marker in ("JSONResponse", "EventSourceResponse", "application/json"))


# The document itself


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    validate_openapi(DOC)


def test_document_is_built_from_the_routes_it_is_given() -> None:
    assert openapi_document([])["paths"] == {}
    assert openapi_document(api.routes)["paths"].keys() == {openapi_path(route.path) for route in api.routes}
    assert openapi_document(routes) == DOC


def test_the_document_imports_no_route_module() -> None:
    """openapi.py is handed the routes: it depends on their declarations, not on the routes package."""
    code = "import sys, forkflow.openapi; print(sorted(m for m in sys.modules if m.startswith('forkflow.routes')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_every_json_route_is_declared() -> None:
    """A JSON route is an `ApiRoute`: its permission and documentation are declared with it."""
    undeclared = [
        route.path
        for route in walk_routes(create_app(Settings()).routes)
        if is_json_route(route) and not isinstance(route, ApiRoute)
    ]
    assert undeclared == []


def test_document_covers_every_json_route_of_the_app() -> None:
    app = create_app(Settings())
    in_app = {
        (method.lower(), openapi_path(route.path))
        for route in walk_routes(app.routes)
        if is_json_route(route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(method, path) for method, path, _ in operations()}
    assert in_app - documented == set(), "JSON routes missing from the OpenAPI document"
    assert documented - in_app == set(), "the document describes routes the app does not have"
    # The pages are not in it.
    assert not {path for _, path in documented} & {"/", "/login", "/logout", "/track/{token}", "/docs"}


def test_every_ref_resolves_and_every_schema_is_a_component() -> None:
    schemas = DOC["components"]["schemas"]
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for key, value in node.items():
                if key != "$defs":
                    collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(DOC)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert '"$defs"' not in json.dumps(schemas), "nested definitions are hoisted into components/schemas"


def test_request_bodies_are_the_input_models() -> None:
    for method, path, op in operations():
        body = op.get("requestBody")
        if body is None:
            continue
        ref = body["content"]["application/json"]["schema"]["$ref"]
        model = getattr(models, ref.rsplit("/", 1)[1])
        expected = model.model_json_schema(ref_template=REF)
        for name, nested in expected.pop("$defs", {}).items():
            assert DOC["components"]["schemas"][name] == nested, (method, path, name)
        assert DOC["components"]["schemas"][model.__name__] == expected, (method, path)


def test_output_schemas_are_the_output_models() -> None:
    for model in schemas_out.RESPONSE_MODELS:
        expected = model.model_json_schema(ref_template=REF)
        expected.pop("$defs", None)
        assert DOC["components"]["schemas"][model.__name__] == expected


PUBLIC = {
    ("get", "/menu"),
    ("get", "/menu/{id}"),
    ("get", "/menu/categories"),
    ("get", "/settings/hours"),
    ("get", "/online"),
    ("get", "/online/slots"),
    ("post", "/orders"),
    ("get", "/track/{token}.json"),
    ("get", "/health"),
    ("get", "/events"),
    ("post", "/auth/token"),
    ("get", "/openapi.json"),
}


def test_security_and_roles_follow_the_permissions() -> None:
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "type": "apiKey", "in": "cookie"}
    assert schemes["cookieAuth"]["name"] == "forkflow_session"
    for method, path, op in operations():
        public = (method, path) in PUBLIC
        assert op["x-public"] is public, (method, path)
        security = op["security"]
        if public:
            assert security == [] or {} in security, (method, path)
        elif (method, path) == ("delete", "/auth/token"):
            assert security == [{"bearerAuth": []}]
        else:
            assert security == [{"bearerAuth": []}, {"cookieAuth": []}], (method, path)
        if "x-permission" in op:
            roles = PERMISSIONS[op["x-permission"]]
            assert set(op["x-roles"]) == roles, (method, path)
            assert ", ".join(op["x-roles"]) in op["description"], (method, path)
            assert f"`{op['x-permission']}`" in op["description"], (method, path)
        else:
            assert public or (method, path) == ("delete", "/auth/token"), f"{method} {path} names no permission"
        if not public:
            assert {"401", "403"} <= set(op["responses"]) or (method, path) == ("delete", "/auth/token")


def test_idempotency_is_documented_on_post_orders() -> None:
    op = DOC["paths"]["/orders"]["post"]
    header = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and not header["required"]
    assert "Idempotent-Replayed" in op["responses"]["201"]["headers"]
    assert "Retry-After" in op["responses"]["429"]["headers"]


def test_events_are_documented_as_an_event_stream() -> None:
    op = DOC["paths"]["/events"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    params = {(p["in"], p["name"]) for p in op["parameters"]}
    assert {("query", "topics"), ("query", "last_event_id"), ("header", "Last-Event-ID")} <= params
    for event_type in (
        "order.created",
        "order.updated",
        "menu.created",
        "menu.updated",
        "menu.availability",
        "inventory.created",
        "inventory.updated",
        "inventory.low",
        "inventory.recipe",
        "sight.seen",
        "sight.unseen",
        "screen.online",
        "screen.offline",
        "stream.ready",
    ):
        assert f"`{event_type}`" in op["description"]
        assert op["x-events"][event_type]["data"]["$ref"].rsplit("/", 1)[1] in DOC["components"]["schemas"]


# Real responses against the document


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+?" if part.startswith("{") else re.escape(part) for part in parts))


def _model_for(schema: dict[str, Any]) -> Any:
    """The pydantic type that a documented response schema names, if any."""
    if "$ref" in schema:
        return getattr(schemas_out, schema["$ref"].rsplit("/", 1)[1])
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return list[_model_for(schema["items"])]  # type: ignore[misc]
    return None


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    validator = Draft202012Validator({**schema, "components": DOC["components"]})
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


class Checker:
    """Checks each response against the document and the output models; remembers what it saw."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, response: httpx.Response, template: str, status: int) -> httpx.Response:
        method = response.request.method.lower()
        assert response.status_code == status, f"{method} {response.request.url}: {response.text}"
        assert _path_regex(template).fullmatch(response.request.url.path), (template, response.request.url.path)
        op = DOC["paths"][template][method]
        documented = op["responses"].get(str(status))
        assert documented is not None, f"{method} {template} answered {status}, which is not documented"
        content = documented.get("content")
        if content is None:
            assert response.content == b"", f"{method} {template} {status} has an undocumented body"
        else:
            media = response.headers["content-type"].split(";")[0].strip()
            assert media in content, f"{method} {template} {status}: {media} not documented"
            if media == "application/json":
                schema = content[media]["schema"]
                _validate(response.json(), schema)
                model = _model_for(schema)
                if model is not None:
                    TypeAdapter(model).validate_json(response.content, strict=True)
        for header in ("Location", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate"):
            if header in response.headers:
                assert header in documented.get("headers", {}), f"{method} {template} {status}: {header}"
        self.seen.add((method, template, status))
        return response


@pytest.fixture
def check() -> Checker:
    return Checker()


def check_money(client: httpx.Client, kitchen: httpx.Client, menu: list[dict], check: Checker) -> None:
    """The money routes' answers (payments, splits, refunds, drawers) against the document."""
    drawer = check(client.post("/drawers", json={"name": "Doc", "float_cents": 5000}), "/drawers", 201).json()
    check(client.post("/drawers", json={"name": "Doc", "float_cents": 5000}), "/drawers", 409)
    check(client.post("/drawers", json={"name": "Doc", "float_cents": -1}), "/drawers", 422)
    check(kitchen.get("/drawers"), "/drawers", 403)
    moves = f"/drawers/{drawer['id']}/movements"
    check(
        client.post(moves, json={"kind": "paid_in", "amount_cents": 500, "reason": "change"}),
        "/drawers/{id}/movements",
        200,
    )
    order = client.post("/orders", json=order_body(menu)).json()
    paying, key = f"/orders/{order['id']}/payments", {"Idempotency-Key": "doc-pay-1"}
    check(client.get(f"/orders/{order['id']}/split?guests=3"), "/orders/{id}/split", 200)
    check(client.get(f"/orders/{order['id']}/split?line_ids={order['lines'][0]['id']}"), "/orders/{id}/split", 200)
    check(client.get(f"/orders/{order['id']}/split?guests=0"), "/orders/{id}/split", 422)
    check(client.post(paying, json={"tender": "card", "amount_cents": 1}), "/orders/{id}/payments", 400)
    too_much = {"tender": "card", "amount_cents": order["total_cents"] + 1}
    check(client.post(paying, json=too_much, headers=key), "/orders/{id}/payments", 409)
    cash = {"tender": "cash", "amount_cents": order["total_cents"], "tendered_cents": 10000}
    paid = check(client.post(paying, json=cash, headers=key), "/orders/{id}/payments", 201).json()
    check(client.post(paying, json=cash, headers=key), "/orders/{id}/payments", 201)
    check(client.post(paying, json={**cash, "amount_cents": 5}, headers=key), "/orders/{id}/payments", 422)
    refunding = f"/orders/{order['id']}/refunds"
    refund = {"payment_id": paid["payment"]["id"], "amount_cents": 100, "reason": "cold fries"}
    check(client.post(refunding, json=refund, headers={"Idempotency-Key": "doc-refund-1"}), "/orders/{id}/refunds", 201)
    over = {**refund, "amount_cents": 10**6}
    check(client.post(refunding, json=over, headers={"Idempotency-Key": "doc-refund-2"}), "/orders/{id}/refunds", 409)
    check(client.get(f"/orders/{order['id']}"), "/orders/{id}", 200)
    check(client.get("/drawers"), "/drawers", 200)
    closing = f"/drawers/{drawer['id']}/close"
    check(client.post(closing, json={"counts": {"2000": 2}, "other_cents": 5}), "/drawers/{id}/close", 200)
    check(client.post(closing, json={"counts": {"2000": 2}}), "/drawers/{id}/close", 409)
    check(
        client.post(moves, json={"kind": "paid_out", "amount_cents": 5, "reason": "late"}),
        "/drawers/{id}/movements",
        409,
    )


def test_real_responses_match_the_document(
    server: Server, client: httpx.Client, menu: list[dict], check: Checker
) -> None:
    public = httpx.Client(base_url=server.url, timeout=10)
    kitchen = httpx.Client(base_url=server.url, timeout=10, headers=server.auth("kitchen"))
    try:
        # Menu
        check(public.get("/menu"), "/menu", 200)
        created = check(
            client.post("/menu", json={"name": "Soup", "price_cents": 600, "category": "Starters", "station": "cold"}),
            "/menu",
            201,
        ).json()
        item = f"/menu/{created['id']}"
        check(public.get(item), "/menu/{id}", 200)
        check(public.get("/menu/99999"), "/menu/{id}", 404)
        update = {"name": "Soup of the day", "price_cents": 650, "category": "Starters", "station": "cold"}
        check(client.put(item, json=update), "/menu/{id}", 200)
        check(client.put(item, json={"name": ""}), "/menu/{id}", 422)
        check(public.put(item, json=update), "/menu/{id}", 401)
        check(kitchen.put(item, json=update), "/menu/{id}", 403)
        check(client.put(f"{item}/availability", json={"available": False}), "/menu/{id}/availability", 200)
        size = {"name": "Size", "min": 1, "max": 1, "options": [{"name": "Bowl", "price_cents": 100}]}
        grouped = {**update, "modifier_groups": [size], "allergens": ["celery"], "dietary": ["vegan"]}
        option = check(client.put(item, json=grouped), "/menu/{id}", 200).json()["modifier_groups"][0]["options"][0]
        option_path = "/menu/{id}/options/{option_id}/availability"
        check(client.put(f"{item}/options/{option['id']}/availability", json={"available": False}), option_path, 200)
        check(client.put(f"{item}/options/99999/availability", json={"available": False}), option_path, 404)
        check(kitchen.put(f"{item}/options/{option['id']}/availability", json={"available": True}), option_path, 403)
        check(public.get("/menu/categories"), "/menu/categories", 200)
        check(client.put("/menu/categories", json={"order": ["Starters"]}), "/menu/categories", 200)
        check(client.put("/menu/categories", json={"order": ["Nope"]}), "/menu/categories", 422)
        check(kitchen.put("/menu/categories", json={"order": ["Starters"]}), "/menu/categories", 403)
        check(client.post("/menu", content=b"{nope", headers={"content-type": "application/json"}), "/menu", 400)
        check(client.post("/menu", content=b"x", headers={"content-type": "text/plain"}), "/menu", 415)
        check(client.post("/menu", json={"name": "x" * (70 * 1024)}), "/menu", 413)
        check(public.get("/menu", headers={"Authorization": "Bearer not-a-token"}), "/menu", 401)

        # Orders
        body = order_body(menu)
        first = check(client.post("/orders", json=body, headers={"Idempotency-Key": "oa-1"}), "/orders", 201)
        assert "Idempotent-Replayed" not in first.headers
        again = check(client.post("/orders", json=body, headers={"Idempotency-Key": "oa-1"}), "/orders", 201)
        assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
        check(
            client.post("/orders", json=order_body(menu, notes="x"), headers={"Idempotency-Key": "oa-1"}),
            "/orders",
            422,
        )
        check(client.post("/orders", json=body, headers={"Idempotency-Key": "bad key"}), "/orders", 400)
        online = check(public.post("/orders", json=order_body(menu, channel="online")), "/orders", 201).json()
        check(public.post("/orders", json=body), "/orders", 401)
        check(kitchen.post("/orders", json=body), "/orders", 403)
        sold_out = order_body(menu, items=[{"menu_item_id": created["id"], "quantity": 1}])
        assert check(client.post("/orders", json=sold_out), "/orders", 409).json()["error"]["unavailable"]
        check(
            client.post("/orders", json=order_body(menu, items=[{"menu_item_id": 9999, "quantity": 1}])), "/orders", 422
        )
        order = f"/orders/{first.json()['id']}"
        check(client.get("/orders"), "/orders", 200)
        check(client.get("/orders?status=new&limit=5"), "/orders", 200)
        check(client.get("/orders?status=lost"), "/orders", 422)
        check(public.get("/orders"), "/orders", 401)
        check(client.get(order), "/orders/{id}", 200)
        check(client.get("/orders/99999"), "/orders/{id}", 404)
        check(kitchen.patch(order, json={"status": "preparing"}), "/orders/{id}", 200)
        check(kitchen.patch(order, json={"status": "cancelled"}), "/orders/{id}", 403)
        assert check(client.patch(order, json={"status": "new"}), "/orders/{id}", 409).json()["error"]["allowed"]
        check(client.patch(order, json={"status": "lost"}), "/orders/{id}", 422)
        allergic = check(
            client.post("/orders", json=order_body(menu, allergies=["milk"])), "/orders", 201
        ).json()  # (the test menu declares no allergens: nothing is flagged)
        ack = "/orders/{id}/allergies/acknowledge"
        started = check(kitchen.patch(f"/orders/{allergic['id']}", json={"status": "preparing"}), "/orders/{id}", 409)
        assert started.json()["error"]["reason"] == "allergies_not_acknowledged"
        check(kitchen.post(f"/orders/{allergic['id']}/allergies/acknowledge"), ack, 200)
        check(kitchen.post(f"{order}/allergies/acknowledge"), ack, 409)
        check(kitchen.post("/orders/99999/allergies/acknowledge"), ack, 404)
        check(public.post(f"/orders/{allergic['id']}/allergies/acknowledge"), ack, 401)
        # Changes after sending (the order above is preparing)
        lines = "/orders/{id}/lines"
        more = {"items": [{"menu_item_id": menu[0]["id"], "quantity": 1}]}
        added = check(client.post(f"{order}/lines", json=more, headers={"Idempotency-Key": "oa-2"}), lines, 200)
        again_added = check(client.post(f"{order}/lines", json=more, headers={"Idempotency-Key": "oa-2"}), lines, 200)
        assert again_added.headers["Idempotent-Replayed"] == "true"
        check(client.post(f"{order}/lines", json={"items": []}), lines, 422)
        check(kitchen.post(f"{order}/lines", json=more), lines, 403)
        check(client.post("/orders/99999/lines", json=more), lines, 404)
        void = "/orders/{id}/lines/{line_id}/void"
        line_id = added.json()["lines"][-1]["id"]
        check(client.post(f"{order}/lines/{line_id}/void", json={"reason": "sent back"}), void, 200)
        check(client.post(f"{order}/lines/{line_id}/void", json={"reason": "sent back"}), void, 409)
        check(client.post(f"{order}/lines/{line_id}/void", json={"reason": " "}), void, 422)
        check(client.post(f"{order}/lines/99999/void", json={"reason": "x"}), void, 404)
        check(kitchen.post(f"{order}/lines/{line_id}/void", json={"reason": "x"}), void, 403)
        check(public.post(f"{order}/lines/{line_id}/void", json={"reason": "x"}), void, 401)
        check(kitchen.get("/kitchen/orders"), "/kitchen/orders", 200)
        check(public.get("/kitchen/orders"), "/kitchen/orders", 401)
        # Proof of sight (issue 16): a screen's report, the screens, the alerts
        seen = "/kitchen/screens/{screen}/seen"
        check(kitchen.post("/kitchen/screens/grill-1/seen", json={"station": "grill", "last_event_id": 1}), seen, 204)
        check(kitchen.post("/kitchen/screens/grill-1/seen", json={"last_event_id": 10**9}), seen, 422)
        check(public.post("/kitchen/screens/grill-1/seen", json={"last_event_id": 1}), seen, 401)
        check(kitchen.get("/kitchen/screens"), "/kitchen/screens", 200)
        check(kitchen.get("/kitchen/alerts"), "/kitchen/alerts", 200)
        # Courses (issue 15): a held course fired, rush, the kitchen's settings
        two = [{"menu_item_id": menu[0]["id"], "quantity": 1, "course": c} for c in (1, 2)]
        at_table = order_body(menu, items=two, channel="table", table="4")
        coursed = check(client.post("/orders", json=at_table), "/orders", 201).json()
        assert coursed["held_courses"] == [2]
        fire = f"/orders/{coursed['id']}/fire"
        check(kitchen.post(fire, json={"course": 2}, headers={"Idempotency-Key": "fire-1"}), "/orders/{id}/fire", 200)
        check(kitchen.post(fire, json={"course": 2}, headers={"Idempotency-Key": "fire-1"}), "/orders/{id}/fire", 200)
        check(kitchen.post(fire, json={"course": 2}), "/orders/{id}/fire", 409)
        check(kitchen.post(fire, json={"course": 10}), "/orders/{id}/fire", 422)
        check(public.post(fire, json={"course": 2}), "/orders/{id}/fire", 401)
        check(kitchen.patch(f"/orders/{coursed['id']}", json={"rush": True}), "/orders/{id}", 200)
        check(kitchen.patch(f"/orders/{coursed['id']}", json={}), "/orders/{id}", 422)
        check(kitchen.get("/kitchen/settings"), "/kitchen/settings", 200)
        check(client.put("/kitchen/settings", json={"auto_fire": False}), "/kitchen/settings", 200)
        check(kitchen.put("/kitchen/settings", json={"auto_fire": True}), "/kitchen/settings", 403)
        check(client.put("/kitchen/settings", json={"auto_fire": "yes"}), "/kitchen/settings", 422)

        # Scheduled orders and the opening hours
        hours = check(public.get("/settings/hours"), "/settings/hours", 200).json()
        check(client.put("/settings/hours", json=hours), "/settings/hours", 200)
        check(client.put("/settings/hours", json={**hours, "monday": [["12:00", "11:00"]]}), "/settings/hours", 422)
        check(kitchen.put("/settings/hours", json=hours), "/settings/hours", 403)
        check(public.put("/settings/hours", json=hours), "/settings/hours", 401)

        # Online ordering's pace
        pace = check(public.get("/online"), "/online", 200).json()
        check(client.put("/online", json={**pace, "busy_minutes": 5, "slot_load": 50}), "/online", 200)
        check(client.put("/online", json={**pace, "busy_minutes": 241}), "/online", 422)
        check(kitchen.put("/online", json=pace), "/online", 403)
        check(public.put("/online", json=pace), "/online", 401)
        check(client.put("/online", json=pace), "/online", 200)
        check(public.get("/online/slots"), "/online/slots", 200)
        check(public.get("/online/slots?date=soon"), "/online/slots", 422)
        later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        scheduled = check(client.post("/orders", json=order_body(menu, pickup_at=later)), "/orders", 201).json()
        past = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        check(client.post("/orders", json=order_body(menu, pickup_at=past)), "/orders", 422)
        release = "/orders/{id}/release"
        check(kitchen.post(f"/orders/{scheduled['id']}/release"), release, 200)
        check(kitchen.post(f"{order}/release"), release, 409)
        check(kitchen.post("/orders/99999/release"), release, 404)
        check(public.post(f"/orders/{scheduled['id']}/release"), release, 401)
        hold, at = "/orders/{id}/hold", {"until": later}
        check(kitchen.post(f"/orders/{scheduled['id']}/hold", json=at), hold, 200)  # held again, until later
        check(kitchen.post(f"/orders/{scheduled['id']}/hold", json={"until": past}), hold, 422)
        check(kitchen.post(f"{order}/hold", json=at), hold, 409)  # preparing
        check(kitchen.post("/orders/99999/hold", json=at), hold, 404)
        check(public.post(f"/orders/{scheduled['id']}/hold", json=at), hold, 401)

        # Tracking
        token = online["tracking_url"].rsplit("/", 1)[1]
        check(public.get(f"/track/{token}.json"), "/track/{token}.json", 200)
        check(public.get("/track/nobody-has-this.json"), "/track/{token}.json", 404)

        # Inventory
        stock = check(
            client.post("/inventory", json={"item_name": "Flour", "quantity": 2.5, "unit": "kg"}), "/inventory", 201
        ).json()
        check(client.post("/inventory", json={"item_name": "Flour", "quantity": 1, "unit": "kg"}), "/inventory", 409)
        check(client.get("/inventory"), "/inventory", 200)
        check(kitchen.get("/inventory"), "/inventory", 403)
        check(client.get(f"/inventory/{stock['id']}"), "/inventory/{id}", 200)
        check(client.get("/inventory/99999"), "/inventory/{id}", 404)
        check(client.patch(f"/inventory/{stock['id']}", json={"delta": -0.3}), "/inventory/{id}", 200)
        check(client.patch(f"/inventory/{stock['id']}", json={"delta": -100}), "/inventory/{id}", 409)
        check(client.patch(f"/inventory/{stock['id']}", json={}), "/inventory/{id}", 422)
        check(client.get(f"/inventory/{stock['id']}/movements"), "/inventory/{id}/movements", 200)
        check(client.get("/inventory/99999/movements"), "/inventory/{id}/movements", 404)
        check(client.get(f"/inventory/{stock['id']}/movements?limit=0"), "/inventory/{id}/movements", 422)
        dish_id = client.get("/menu").json()[0]["id"]
        recipe = {"ingredients": [{"inventory_id": stock["id"], "quantity": 0.2}]}
        check(client.put(f"/menu/{dish_id}/recipe", json=recipe), "/menu/{id}/recipe", 200)
        check(client.get(f"/menu/{dish_id}/recipe"), "/menu/{id}/recipe", 200)
        check(client.get("/menu/99999/recipe"), "/menu/{id}/recipe", 404)
        bad_recipe = {"ingredients": [{"inventory_id": 99999, "quantity": 1}]}
        check(client.put(f"/menu/{dish_id}/recipe", json=bad_recipe), "/menu/{id}/recipe", 422)
        check(kitchen.get(f"/menu/{dish_id}/recipe"), "/menu/{id}/recipe", 403)
        check(client.put(f"/menu/{dish_id}/recipe", json={"ingredients": []}), "/menu/{id}/recipe", 200)

        # Health, and this document
        check(public.get("/health"), "/health", 200)
        served = check(public.get("/openapi.json"), "/openapi.json", 200)
        assert served.json() == json.loads(json.dumps(DOC))

        # Tokens and staff
        issued = check(
            public.post("/auth/token", json={"username": "cashier", "password": PASSWORDS["cashier"]}),
            "/auth/token",
            201,
        ).json()
        check(
            public.post("/auth/token", json={"username": "cashier", "password": "wrong-password"}), "/auth/token", 401
        )
        check(public.post("/auth/token", json={"username": "cashier"}), "/auth/token", 422)
        check(client.get("/auth/tokens"), "/auth/tokens", 200)
        check(kitchen.get("/auth/tokens"), "/auth/tokens", 403)
        check(client.delete(f"/auth/tokens/{issued['id']}"), "/auth/tokens/{id}", 204)
        check(client.delete("/auth/tokens/99999"), "/auth/tokens/{id}", 404)
        check(
            client.delete("/auth/token", headers={"Authorization": f"Bearer {issued['token']}"}), "/auth/token", 401
        )  # already revoked above
        spare = public.post("/auth/token", json={"username": "kitchen", "password": PASSWORDS["kitchen"]}).json()
        check(public.delete("/auth/token", headers={"Authorization": f"Bearer {spare['token']}"}), "/auth/token", 204)
        check(public.delete("/auth/token"), "/auth/token", 401)
        check(client.get("/staff"), "/staff", 200)
        member = check(
            client.post("/staff", json={"name": "sam", "role": "kitchen", "password": "sam-password"}), "/staff", 201
        ).json()
        check(client.post("/staff", json={"name": "sam", "role": "kitchen", "password": "sam-password"}), "/staff", 409)
        check(client.patch(f"/staff/{member['id']}", json={"role": "cashier", "active": False}), "/staff/{id}", 200)
        check(client.patch("/staff/99999", json={"role": "cashier"}), "/staff/{id}", 404)
        check(kitchen.get("/staff"), "/staff", 403)

        # Printers and print jobs (nothing listens on the port: the jobs just wait)
        setup = {"name": "Till", "host": "127.0.0.1", "port": 9, "role": "receipt"}
        till = check(client.post("/printers", json=setup), "/printers", 201).json()
        check(client.post("/printers", json=setup), "/printers", 409)
        check(client.post("/printers", json={**setup, "port": 0}), "/printers", 422)
        check(kitchen.post("/printers", json=setup), "/printers", 403)
        check(kitchen.get("/printers"), "/printers", 200)
        check(client.get(f"/printers/{till['id']}"), "/printers/{id}", 200)
        check(client.get("/printers/99999"), "/printers/{id}", 404)
        check(client.put(f"/printers/{till['id']}", json={**setup, "name": "Front till"}), "/printers/{id}", 200)
        check(client.post(f"/printers/{till['id']}/test"), "/printers/{id}/test", 202)
        paid = check(client.post("/orders", json=order_body(menu)), "/orders", 201).json()
        receipt = f"/orders/{paid['id']}/receipt"
        job = check(client.post(receipt, json={}, headers={"Idempotency-Key": "r-1"}), "/orders/{id}/receipt", 202)
        check(client.post(receipt, json={"printer_id": 99999}), "/orders/{id}/receipt", 404)
        check(kitchen.get("/print-jobs", params={"order_id": paid["id"]}), "/print-jobs", 200)
        check(kitchen.get("/print-jobs"), "/print-jobs", 200)
        check(kitchen.get("/print-jobs", params={"order_id": "x"}), "/print-jobs", 422)
        reprint = f"/print-jobs/{job.json()['id']}/reprint"
        check(kitchen.post(reprint), "/print-jobs/{id}/reprint", 202)
        check(kitchen.post("/print-jobs/99999/reprint"), "/print-jobs/{id}/reprint", 404)
        check(client.delete(f"/printers/{till['id']}"), "/printers/{id}", 409)
        spare = check(client.post("/printers", json={**setup, "name": "Spare"}), "/printers", 201).json()
        check(client.delete(f"/printers/{spare['id']}"), "/printers/{id}", 204)

        # Discount reasons and discounts (issue 17)
        loyalty = check(client.post("/discount-reasons", json={"name": "Loyalty"}), "/discount-reasons", 201).json()
        check(client.post("/discount-reasons", json={"name": "loyalty"}), "/discount-reasons", 409)
        check(kitchen.get("/discount-reasons"), "/discount-reasons", 403)
        comp = check(client.post("/discount-reasons", json={"name": "Cold", "comp": True}), "/discount-reasons", 201)
        check(client.get("/discount-reasons", params={"active": "true"}), "/discount-reasons", 200)
        retired = client.patch(f"/discount-reasons/{comp.json()['id']}", json={"active": False})
        check(retired, "/discount-reasons/{id}", 200)
        check(client.patch("/discount-reasons/99999", json={"active": False}), "/discount-reasons/{id}", 404)
        discounts, discounts_path = f"/orders/{paid['id']}/discounts", "/orders/{id}/discounts"
        off = {"kind": "percent", "percent": 12.5, "reason_id": loyalty["id"]}
        given = check(client.post(discounts, json=off, headers={"Idempotency-Key": "d-1"}), discounts_path, 201)
        again = check(client.post(discounts, json=off, headers={"Idempotency-Key": "d-1"}), discounts_path, 201)
        assert again.headers["Idempotent-Replayed"] == "true"
        check(client.post(discounts, json={**off, "percent": 101}), discounts_path, 422)
        cashier = httpx.Client(base_url=server.url, timeout=10, headers=server.auth("cashier"))
        check(cashier.post(discounts, json={**off, "percent": 50}), discounts_path, 403)
        wrong = {"name": "manager", "password": "not-it"}
        check(cashier.post(discounts, json={**off, "percent": 50, "approval": wrong}), discounts_path, 401)
        cashier.close()
        assert given.json()["total_cents"] < paid["total_cents"]
        [discount] = given.json()["discounts"]
        discount_id = discount["id"]
        check(client.delete(f"{discounts}/{discount_id}"), "/orders/{id}/discounts/{discount_id}", 200)
        check(client.delete(f"{discounts}/{discount_id}"), "/orders/{id}/discounts/{discount_id}", 409)
        check(client.delete(f"/discount-reasons/{loyalty['id']}"), "/discount-reasons/{id}", 204)

        # Tax rates and the money settings (issue 17)
        rate = check(client.post("/tax-rates", json={"name": "VAT", "percent": 8.875}), "/tax-rates", 201).json()
        check(client.post("/tax-rates", json={"name": "VAT", "percent": 5}), "/tax-rates", 409)
        check(client.post("/tax-rates", json={"name": "VAT", "percent": 100.5}), "/tax-rates", 422)
        check(kitchen.get("/tax-rates"), "/tax-rates", 403)
        check(client.get("/tax-rates"), "/tax-rates", 200)
        check(client.put(f"/tax-rates/{rate['id']}", json={"name": "VAT", "percent": 20}), "/tax-rates/{id}", 200)
        check(client.put("/tax-rates/99999", json={"name": "X", "percent": 1}), "/tax-rates/{id}", 404)
        money = check(client.get("/settings/money"), "/settings/money", 200).json()
        check(client.put("/settings/money", json={**money, "service_charge_percent": 12.5}), "/settings/money", 200)
        check(client.put("/settings/money", json={**money, "tax_rounding": "up"}), "/settings/money", 422)
        check(client.delete(f"/tax-rates/{rate['id']}"), "/tax-rates/{id}", 204)

        # The day's report, closing the day, the audit log (issue 17)
        check(client.get("/reports/day"), "/reports/day", 200)
        check(client.get("/reports/day", params={"date": "nope"}), "/reports/day", 422)
        check(kitchen.get("/reports/day"), "/reports/day", 403)
        check(client.get("/reports/day.csv", params={"date": "2026-01-02"}), "/reports/day.csv", 200)
        check(client.post("/reports/day/close", json={"date": "2026-01-02"}), "/reports/day/close", 200)
        check(client.post("/reports/day/close", json={"date": "2026-01-02"}), "/reports/day/close", 409)
        check(client.post("/reports/day/close", json={"date": "2999-01-01"}), "/reports/day/close", 409)
        check(client.post("/reports/day/close", json={"date": 0}), "/reports/day/close", 422)
        printed = check(client.post("/reports/day/print", json={"date": "2026-01-02"}), "/reports/day/print", 202)
        assert printed.json()["kind"] == "report"  # on the receipt printer set up above
        check(client.post("/reports/day/print", json={"printer_id": 99999}), "/reports/day/print", 404)
        check(client.post("/reports/day/print", json={"date": "nope"}), "/reports/day/print", 422)
        check(kitchen.post("/reports/day/print", json={}), "/reports/day/print", 403)
        check(client.get("/audit", params={"kind": "day"}), "/audit", 200)
        check(client.get("/audit", params={"before": "x"}), "/audit", 422)

        # A state-changing request on the session cookie without the CSRF token: 403 csrf_failed.
        browser = httpx.Client(base_url=server.url, timeout=10)
        browser.get("/docs")  # the page starts a session (its CSRF token)
        assert "forkflow_session" in browser.cookies
        refused = check(browser.post("/auth/token", json={"username": "x", "password": "y"}), "/auth/token", 403)
        assert refused.json()["error"]["code"] == "csrf_failed"
        browser.close()

        # Money at the till: a drawer, payments, a split, a refund (issue 17)
        check_money(client, kitchen, menu, check)

        # Events: the stream, and the bad requests
        check(public.get("/events?topics=menu,bogus"), "/events", 400)
        check(public.get("/events?topics=orders"), "/events", 401)
        check(kitchen.get("/events?topics=inventory"), "/events", 403)
        check(public.get("/events", headers={"Last-Event-ID": "twelve"}), "/events", 400)
    finally:
        public.close()
        kitchen.close()

    missing = {
        (method, path)
        for method, path, op in operations()
        if (method, path) != ("get", "/events")
        and not any((method, path, int(status)) in check.seen for status in op["responses"] if int(status) < 300)
    }
    assert not missing, f"no success response checked for {sorted(missing)}"


# Proof of sight's alarm and a screen's going offline, within the test (issue 16).
QUICK_SIGHT = {"FORKFLOW_UNSEEN_SECONDS": "1", "FORKFLOW_SCREEN_OFFLINE_SECONDS": "1"}


def test_events_match_the_document(tmp_path: Path) -> None:
    with running_server(tmp_path, env=QUICK_SIGHT) as server:
        with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as client:
            menu = [client.post("/menu", json=item).json() for item in MENU]
            _events_match_the_document(server, client, menu)


def _events_match_the_document(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    op = DOC["paths"]["/events"]["get"]
    seen: set[str] = set()
    with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10), headers=server.auth("manager")) as stream:
        # Replay from the start: every event so far (menu.created), then stream.ready, then live ones.
        with connect_sse(stream, "GET", "/events", params={"last_event_id": 0}) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"].split(";")[0] in op["responses"]["200"]["content"]
            events = source.iter_sse()
            for sse in events:
                if not sse.event or sse.event == "message":
                    continue
                seen.add(sse.event)
                _check_event(op, sse.event, sse.data)
                if sse.event == "stream.ready":
                    break
            # Live: one event of every other type.
            order = client.post("/orders", json=order_body(menu)).json()
            client.patch(f"/orders/{order['id']}", json={"status": "preparing"}).raise_for_status()
            client.put(
                f"/menu/{menu[0]['id']}",
                json={**{k: menu[0][k] for k in ("name", "category", "station")}, "price_cents": 1600},
            ).raise_for_status()
            client.put(f"/menu/{menu[1]['id']}/availability", json={"available": False}).raise_for_status()
            client.put("/menu/categories", json={"order": [menu[3]["category"]]}).raise_for_status()
            stock = client.post("/inventory", json={"item_name": "Oil", "quantity": 3, "unit": "l"}).json()
            client.put(
                f"/menu/{menu[2]['id']}/recipe", json={"ingredients": [{"inventory_id": stock["id"], "quantity": 1}]}
            ).raise_for_status()
            client.patch(f"/inventory/{stock['id']}", json={"low_stock": 1}).raise_for_status()
            client.patch(f"/inventory/{stock['id']}", json={"delta": -2}).raise_for_status()  # 1 l left: low
            later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
            lemonade = [{"menu_item_id": menu[3]["id"], "quantity": 1}]
            held = client.post("/orders", json=order_body(menu, items=lemonade, pickup_at=later)).json()
            client.post(f"/orders/{held['id']}/release").raise_for_status()
            pace = client.get("/online").json()
            client.put("/online", json={**pace, "busy_minutes": 10}).raise_for_status()
            hours = client.get("/settings/hours").json()
            client.put("/settings/hours", json={**hours, "sunday": []}).raise_for_status()
            for sse in events:
                if not sse.event or sse.event == "message":
                    continue
                seen.add(sse.event)
                _check_event(op, sse.event, sse.data)
                if sse.event == "menu.hours":
                    break
            # The kitchen's screens: one reports (online, seen), then falls silent (offline); a
            # ticket placed after it rings the alarm.
            client.post("/kitchen/screens/all-1/seen", json={"last_event_id": int(sse.id)}).raise_for_status()
            client.post("/orders", json=order_body(menu, items=lemonade)).raise_for_status()
            for sse in events:
                if not sse.event or sse.event == "message":
                    continue
                seen.add(sse.event)
                _check_event(op, sse.event, sse.data)
                if {"sight.unseen", "screen.offline"} <= seen:
                    break
    assert seen == set(op["x-events"])


def _check_event(op: dict[str, Any], event_type: str, data: str) -> None:
    assert event_type in op["x-events"], f"event type {event_type!r} is not documented"
    assert f"`{event_type}`" in op["description"]
    schema = op["x-events"][event_type]["data"]
    _validate(json.loads(data), schema)
    model: type[BaseModel] = _model_for(schema)
    model.model_validate_json(data, strict=True)


def test_rate_limited_public_order_matches_the_document(tmp_path: Any, check: Checker) -> None:
    server = Server(tmp_path / "limited.db", env={"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "1"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as manager:
            dish = manager.post(
                "/menu", json={"name": "Tea", "price_cents": 300, "category": "Drinks", "station": "bar"}
            ).json()
        with httpx.Client(base_url=server.url, timeout=10) as public:
            body = order_body([dish, dish], channel="online")
            check(public.post("/orders", json=body), "/orders", 201)
            limited = check(public.post("/orders", json=body), "/orders", 429)
            assert int(limited.headers["Retry-After"]) >= 1
    finally:
        server.stop()


def test_documented_roles_are_the_roles_the_server_enforces(server: Server) -> None:
    """Every staff-only GET without path parameters, called with each role: 403 exactly for the others."""
    for method, path, op in operations():
        if method != "get" or "{" in path or "x-permission" not in op:
            continue
        for role in PASSWORDS:
            response = httpx.get(f"{server.url}{path}", headers=server.auth(role), timeout=10)
            expected = 200 if role in op["x-roles"] else 403
            assert response.status_code == expected, (path, role, response.text)


def test_the_documented_permission_is_the_one_enforced(server: Server) -> None:
    """Every operation that names a permission, on any method, with a role lacking it: 403 before
    anything else is looked at (no body is sent); with one that has it, a read is let through."""
    for method, path, op in operations():
        if "x-permission" not in op:
            continue
        url = server.url + re.sub(r"\{\w+\}", "1", path)
        for role in PASSWORDS:
            allowed = role in op["x-roles"]
            if allowed and method != "get":
                continue  # (it would change something: DELETE /auth/tokens/1 revokes a test token)
            response = httpx.request(method.upper(), url, headers=server.auth(role), timeout=10)
            if allowed:
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert response.status_code == 403, (method, path, role, response.text)
        if op["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]:  # staff only
            assert httpx.request(method.upper(), url, timeout=10).status_code == 401, (method, path)


def test_docs_page_is_served_from_vendored_files_without_inline_script(server: Server) -> None:
    page = httpx.get(f"{server.url}/docs", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\sstyle=", html) and "<style" not in html, "inline style"
    assert 'class="topbar"' in html  # extends base.html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/docs.js",
    } <= set(assets)
    for asset in assets:
        assert httpx.get(f"{server.url}{asset}", timeout=10).status_code == 200, asset
    assert "http" not in httpx.get(f"{server.url}/static/docs.js", timeout=10).text  # no CDN, no outside URL


# Where the document and the server disagreed (a schema-driven fuzzer found these)


DISH = {"name": "Stew", "price_cents": 502, "category": "Mains", "station": "hot"}


def _body_schema(template: str, method: str) -> dict[str, Any]:
    return DOC["paths"][template][method]["requestBody"]["content"]["application/json"]["schema"]


def _documented_valid(instance: Any, schema: dict[str, Any]) -> bool:
    return Draft202012Validator({**schema, "components": DOC["components"]}).is_valid(instance)


def test_a_405_allows_every_method_of_its_path(server: Server) -> None:
    """Several routes may share a path (GET and POST /orders): a 405 names all their methods."""
    routes = [route for route in walk_routes(create_app().routes) if not route.path.startswith("/static")]
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as manager:
        for path in sorted({re.sub(r"\{[^}]+\}", "1", route.path) for route in routes}):
            allowed: set[str] = set()
            for route in routes:
                if route.path_regex.fullmatch(path) and route.methods:
                    allowed |= route.methods
            refused = next(method for method in ("PATCH", "PUT", "DELETE", "POST", "GET") if method not in allowed)
            response = manager.request(refused, path)
            assert response.status_code == 405, (refused, path, response.text)
            assert set(response.headers["Allow"].split(", ")) == allowed, (refused, path)
            assert response.json()["error"]["code"] == "method_not_allowed"


def test_revoking_the_own_token_without_one_is_401_asking_for_a_bearer_token(server: Server, check: Checker) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as public:
        refused = check(public.delete("/auth/token"), "/auth/token", 401)
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "400" not in DOC["paths"]["/auth/token"]["delete"]["responses"]


def test_bodies_the_document_refuses_the_server_refuses(client: httpx.Client, menu: list[dict], check: Checker) -> None:
    stock = client.post("/inventory", json={"item_name": "Rice", "quantity": 5, "unit": "kg"}).json()
    refused = [
        (
            "/menu/{id}/recipe",
            "put",
            f"/menu/{menu[0]['id']}/recipe",
            {"ingredients": [{"inventory_id": stock["id"], "quantity": 0}]},
        ),
        (
            "/menu/{id}/recipe",
            "put",
            f"/menu/{menu[0]['id']}/recipe",
            {"ingredients": [{"inventory_id": stock["id"], "quantity": 0.0001}]},
        ),
        (
            "/menu/{id}/recipe",
            "put",
            f"/menu/{menu[0]['id']}/recipe",
            {"ingredients": [{"inventory_id": stock["id"], "quantity": "1"}]},
        ),
        ("/inventory", "post", "/inventory", {"item_name": "Salt", "quantity": -1, "unit": "kg"}),
        ("/inventory", "post", "/inventory", {"item_name": "Salt", "quantity": 1_000_000_001, "unit": "kg"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"quantity": None, "note": "nothing"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"delta": -1_000_000_001}),
        ("/staff/{id}", "patch", "/staff/1", {}),
        ("/staff/{id}", "patch", "/staff/1", {"role": None, "active": None}),
        ("/orders", "post", "/orders", order_body(menu, items=[{"menu_item_id": menu[0]["id"], "quantity": 0}])),
        ("/orders", "post", "/orders", order_body(menu, customer_name=" \u3000")),
        ("/orders", "post", "/orders", order_body(menu, channel="table")),
        ("/orders", "post", "/orders", order_body(menu, channel="table", table=None)),
        ("/inventory", "post", "/inventory", {"item_name": "Salt", "quantity": 1, "unit": "\u00a0"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"quantity": 1, "delta": 1}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"delta": 1, "reason": "count"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"quantity": 1, "reason": "waste"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"delta": -1, "reason": "restock"}),
        ("/inventory/{id}", "patch", f"/inventory/{stock['id']}", {"delta": 1, "reason": "waste"}),
        # Lengths and patterns count the text as sent, before the server strips it.
        ("/menu", "post", "/menu", {**DISH, "name": "x" * 80 + " "}),
        ("/menu", "post", "/menu", {**DISH, "description": "Thick\x0c"}),
        ("/orders", "post", "/orders", order_body(menu, customer_name="\tAda")),
        ("/orders", "post", "/orders", order_body(menu, notes="x" * 500 + "\n")),
        ("/staff", "post", "/staff", {"name": " bob ", "role": "cashier", "password": "long-enough"}),
        ("/staff", "post", "/staff", {"name": "bob", "role": "cashier", "password": " " * 7}),
    ]
    for template, method, path, body in refused:
        assert not _documented_valid(body, _body_schema(template, method)), (template, body)
        check(client.request(method.upper(), path, json=body), template, 422)


def test_bodies_the_document_allows_the_server_takes_and_strips_all_but_passwords(
    client: httpx.Client, menu: list[dict], check: Checker
) -> None:
    dish = {**DISH, "name": "x" * 79 + " ", "category": "\u3000Mains", "description": "Thick.\n"}
    assert _documented_valid(dish, _body_schema("/menu", "post"))
    created = check(client.post("/menu", json=dish), "/menu", 201).json()
    assert (created["name"], created["category"], created["description"]) == ("x" * 79, "Mains", "Thick.")
    order = order_body(menu, customer_name=" Ada ", notes="x" * 499 + "\n")
    assert _documented_valid(order, _body_schema("/orders", "post"))
    placed = check(client.post("/orders", json=order), "/orders", 201).json()
    assert (placed["customer_name"], placed["notes"]) == ("Ada", "x" * 499)
    for password in ("a" + " " * 7, " secret words "):
        member = {"name": f"p{len(password)}", "role": "cashier", "password": password}
        assert _documented_valid(member, _body_schema("/staff", "post"))
        check(client.post("/staff", json=member), "/staff", 201)
        signed_in = client.post("/auth/token", json={"username": member["name"], "password": password})
        assert check(signed_in, "/auth/token", 201).json()["role"] == "cashier"


def test_whole_floats_are_integers_as_json_schema_says(client: httpx.Client, menu: list[dict], check: Checker) -> None:
    dish = {**DISH, "price_cents": 502.0}
    assert _documented_valid(dish, _body_schema("/menu", "post"))
    created = check(client.post("/menu", json=dish), "/menu", 201).json()
    assert created["price_cents"] == 502 and isinstance(created["price_cents"], int)
    raw = b'{"customer_name": "Ann", "channel": "counter", "items": [{"menu_item_id": %d, "quantity": 2e0}]}'
    order = check(
        client.post("/orders", content=raw % created["id"], headers={"content-type": "application/json"}),
        "/orders",
        201,
    ).json()
    assert order["lines"][0]["quantity"] == 2 and order["total_cents"] == 1004
    for fraction in (502.5, "502", True):
        body = {**dish, "price_cents": fraction}
        assert not _documented_valid(body, _body_schema("/menu", "post")), fraction
        check(client.post("/menu", json=body), "/menu", 422)


def test_the_409_for_stock_that_cannot_cover_an_order_matches_the_document(
    server: Server, client: httpx.Client, menu: list[dict], check: Checker
) -> None:
    stock = client.post("/inventory", json={"item_name": "Beans", "quantity": 1, "unit": "kg"}).json()
    dish = menu[0]["id"]
    recipe = {"ingredients": [{"inventory_id": stock["id"], "quantity": 0.6}]}
    check(client.put(f"/menu/{dish}/recipe", json=recipe), "/menu/{id}/recipe", 200)
    body = order_body(menu, items=[{"menu_item_id": dish, "quantity": 2}])
    staff = check(client.post("/orders", json=body), "/orders", 409).json()["error"]
    assert staff["out_of_stock"] == [{"item_name": "Beans", "unit": "kg", "needed": 1.2, "left": 1}]
    with httpx.Client(base_url=server.url, timeout=10) as public:
        answer = check(public.post("/orders", json={**body, "channel": "online"}), "/orders", 409).json()["error"]
    assert [item["id"] for item in answer["unavailable"]] == [dish] and "out_of_stock" not in answer


def test_the_text_patterns_name_no_surrogates_and_the_spaces_are_what_the_server_strips() -> None:
    """JSON Schema validators on Unicode scalar values (Rust's regex, so schemathesis's) refuse a pattern
    naming lone surrogates, and drop it: the document's patterns leave them to the server's check."""
    assert "ud800" not in json.dumps(DOC)
    assert models.refused_character("a\ud800") is not None
    spaces = re.compile(f"[{models.ONE_LINE_SPACES}]")
    for code in range(0x3001):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or models.refused_character(char) is not None:
            continue
        stripped = models.MenuItemIn(name=f"{char}a{char}", price_cents=1, category="c", station="s").name == "a"
        assert stripped == bool(spaces.fullmatch(char)), hex(code)
