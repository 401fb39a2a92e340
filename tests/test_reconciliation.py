"""The day's report always reconciles (issue 17), whatever a service throws at it.

Hypothesis drives a real server with random sequences of pricing settings, orders (table and
counter, with guests), lines voided before payment, line and order discounts and comps (percent
with three decimals, or amounts), service charges, payments (evenly split by N guests, or in
uneven parts, in cash with change and card with tips), refunds (amounts, and paid lines voided and
refunded) and paid-in/paid-out. After each sequence, with every bill settled, the day's X-report
must say exactly what the test saw:

- sum of tenders = sales - refunds + tips (net of refunds: tenders - refunds + tips), and
  tenders by tender add up to the tenders;
- taxes = the sum of every order's taxes by rate, as each order was priced under its own
  rounding setting, and the report's rates add up to its tax;
- the drawer's expected = float + cash in - change - cash out (paid out, cash refunds).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Server, running_server

FLOAT = 20000
DISHES = [
    {"name": "Steak", "price_cents": 2395, "category": "Mains", "station": "grill"},
    {"name": "Salad", "price_cents": 1149, "category": "Starters", "station": "cold"},
    {"name": "Wine", "price_cents": 733, "category": "Drinks", "station": "bar"},
    {"name": "Cake", "price_cents": 655, "category": "Desserts", "station": "cold"},
]


class Day:
    """What the test itself saw happen: the orders, the drawer's cash, who owes what."""

    def __init__(self, server: Server) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=30, headers=server.auth("manager"))
        self.dishes = [self._ok(self.client.post("/menu", json=dish)) for dish in DISHES]
        vat = self._ok(self.client.post("/tax-rates", json={"name": "VAT", "percent": 20}))
        city = self._ok(self.client.post("/tax-rates", json={"name": "City", "percent": 8.875}))
        taxes = {"Mains": vat["id"], "Starters": vat["id"], "Drinks": city["id"], "Desserts": None}
        self._ok(self.client.put("/menu/categories", json={"taxes": taxes}))
        self.reason = self._ok(self.client.post("/discount-reasons", json={"name": "Regular"}))["id"]
        self.comp = self._ok(self.client.post("/discount-reasons", json={"name": "Mistake", "comp": True}))["id"]
        self.drawer = self._ok(self.client.post("/drawers", json={"name": "Till", "float_cents": FLOAT}))["id"]
        self.order_ids: list[int] = []
        self.cash = FLOAT  # what the drawer should hold, by the test's own count

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code in (200, 201, 204), response.text
        return response.json() if response.content else None

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code < 500, response.text
        return response

    def order(self, order_id: int) -> dict[str, Any]:
        return dict(self._ok(self.client.get(f"/orders/{order_id}")))


money_settings = st.fixed_dictionaries(
    {
        "prices_include_tax": st.booleans(),
        "tax_rounding": st.sampled_from(["line", "order"]),
        "service_charge_percent": st.sampled_from([0, 10, 12.5]),
        "service_charge_min_guests": st.sampled_from([None, 4]),
        "cashier_discount_limit_percent": st.just(10),
    }
)
lines = st.lists(st.tuples(st.integers(0, len(DISHES) - 1), st.integers(1, 3)), min_size=1, max_size=4)
discount = st.one_of(
    st.builds(lambda p: {"kind": "percent", "percent": float(Decimal(p) / 1000)}, st.integers(1, 100_000)),
    st.builds(lambda a: {"kind": "amount", "amount_cents": a}, st.integers(1, 3000)),
    st.just({"comp": True}),
)
an_order = st.fixed_dictionaries(
    {
        "lines": lines,
        "table": st.booleans(),
        "guests": st.integers(1, 6),
        "void_first": st.booleans(),
        "discounts": st.lists(st.tuples(st.booleans(), discount), max_size=2),  # (on a line?, what)
        "parts": st.integers(1, 3),
        "even": st.booleans(),
        "tenders": st.lists(st.sampled_from(["cash", "card"]), min_size=3, max_size=3),
        "tips": st.lists(st.integers(0, 500), min_size=3, max_size=3),
        "extra_cash": st.integers(0, 2000),
        "refund": st.sampled_from([None, "amount", "line"]),
        "refund_cents": st.integers(1, 1500),
    }
)
a_service = st.fixed_dictionaries(
    {
        "settings": money_settings,
        "orders": st.lists(an_order, min_size=1, max_size=3),
        "paid_in": st.integers(0, 1000),
        "paid_out": st.integers(0, 1000),
    }
)


def run_order(day: Day, plan: dict[str, Any]) -> None:
    items = [{"menu_item_id": day.dishes[dish]["id"], "quantity": quantity} for dish, quantity in plan["lines"]]
    body: dict[str, Any] = {
        "customer_name": "Guest",
        "channel": "table" if plan["table"] else "counter",
        "items": items,
    }
    if plan["table"]:
        body |= {"table": "T4", "guests": plan["guests"]}
    order = day._ok(day.post("/orders", body))
    day.order_ids.append(order["id"])
    if plan["void_first"] and len(order["lines"]) > 1:
        voided = day.client.post(
            f"/orders/{order['id']}/lines/{order['lines'][0]['id']}/void", json={"reason": "wrong"}
        )
        assert voided.status_code in (200, 409), voided.text
    for on_line, what in plan["discounts"]:
        live = [line for line in day.order(order["id"])["lines"] if line["voided_at"] is None]
        given = {"reason_id": day.comp} if what.get("comp") else {"reason_id": day.reason, **what}
        if on_line and live:
            given["line_id"] = live[-1]["id"]
        assert day.post(f"/orders/{order['id']}/discounts", given).status_code in (201, 409, 422)
    pay_off(day, order["id"], plan)
    refund(day, order["id"], plan)
    assert day.order(order["id"])["balance_cents"] == 0


def pay_off(day: Day, order_id: int, plan: dict[str, Any]) -> None:
    """Pay the bill in `parts`: even shares, or uneven ones, each by its tender, the last settling it."""
    balance = day.order(order_id)["balance_cents"]
    if balance == 0:
        return
    if plan["even"]:
        shares = [
            share["amount_cents"]
            for share in day._ok(day.client.get(f"/orders/{order_id}/split", params={"guests": plan["parts"]}))[
                "shares"
            ]
        ]
    else:
        first = balance // 3
        shares = [first, balance - first] if plan["parts"] > 1 and first > 0 else [balance]
    for n, amount in enumerate(share for share in shares if share > 0):
        tender, tip = plan["tenders"][n], plan["tips"][n]
        body: dict[str, Any] = {"tender": tender, "amount_cents": amount, "tip_cents": tip}
        if tender == "cash":
            body["tendered_cents"] = amount + tip + plan["extra_cash"]
        paid = day._ok(day.post(f"/orders/{order_id}/payments", body))["payment"]
        if tender == "cash":
            day.cash += paid["tendered_cents"] - paid["change_cents"]
    assert day.order(order_id)["balance_cents"] == 0


def refund(day: Day, order_id: int, plan: dict[str, Any]) -> None:
    """Give money back on the last payment: an amount, or its order's last live line voided."""
    order = day.order(order_id)
    if plan["refund"] is None or not order["payments"]:
        return
    payment = order["payments"][-1]
    left = payment["amount_cents"] - payment["refunded_cents"]
    body: dict[str, Any] = {"payment_id": payment["id"], "reason": "complaint"}
    if plan["refund"] == "amount":
        body["amount_cents"] = min(plan["refund_cents"], left)
    else:
        live = [line for line in order["lines"] if line["voided_at"] is None]
        if len(live) < 2:
            return
        body["line_id"] = live[-1]["id"]
    response = day.post(f"/orders/{order_id}/refunds", body)
    assert response.status_code in (201, 409), response.text  # 409: more than that payment has left
    if response.status_code == 201 and payment["tender"] == "cash":
        given = response.json()["refund"]
        day.cash -= given["amount_cents"] + given["tip_cents"]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    directory: Path = tmp_path_factory.mktemp("reconciliation")
    with running_server(directory) as server:
        found = Day(server)
        yield found
        found.client.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(service=a_service)
def test_the_day_report_reconciles_exactly(day: Day, service: dict[str, Any]) -> None:
    day._ok(day.client.put("/settings/money", json=service["settings"]))
    for plan in service["orders"]:
        run_order(day, plan)
    for kind, amount in (("paid_in", service["paid_in"]), ("paid_out", service["paid_out"])):
        if amount:
            day._ok(
                day.post(f"/drawers/{day.drawer}/movements", {"kind": kind, "amount_cents": amount, "reason": "float"})
            )
            day.cash += amount if kind == "paid_in" else -amount

    report = day._ok(day.client.get("/reports/day"))
    orders = [day.order(order_id) for order_id in day.order_ids]

    # Sum of tenders = sales - refunds + tips: every bill is settled, so what tenders paid toward
    # bills, less what was given back, is what was sold less what was given back.
    assert report["tenders_cents"] - report["refunds_cents"] + report["tips_cents"] == (
        report["sales_cents"] - report["refunds_cents"] + report["tips_cents"]
    )
    assert report["tenders_cents"] == sum(p["amount_cents"] for o in orders for p in o["payments"])
    assert report["refunds_cents"] == sum(r["amount_cents"] for o in orders for r in o["refunds"])
    tips = sum(p["tip_cents"] for o in orders for p in o["payments"]) - sum(
        r["tip_cents"] for o in orders for r in o["refunds"]
    )
    assert report["tips_cents"] == tips
    assert sum(t["amount_cents"] for t in report["tenders"]) == report["tenders_cents"]
    assert report["orders"] == len(orders)

    # Taxes = the sum of the orders' taxes by rate, each priced under its own rounding.
    by_rate: Counter[str] = Counter()
    for order in orders:
        for tax in order["taxes"]:
            by_rate[tax["name"]] += tax["tax_cents"]
    assert report["tax_cents"] == sum(order["tax_cents"] for order in orders) == sum(by_rate.values())
    assert {t["name"]: t["tax_cents"] for t in report["taxes"] if t["tax_cents"]} == {
        k: v for k, v in by_rate.items() if v
    }
    assert report["service_charge_cents"] == sum(order["service_charge_cents"] for order in orders)

    # The drawer's expected = float + cash in - change - cash out.
    [drawer] = [d for d in day._ok(day.client.get("/drawers"))["drawers"] if d["id"] == day.drawer]
    assert drawer["expected_cents"] == day.cash
