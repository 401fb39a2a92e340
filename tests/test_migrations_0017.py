"""Migration 0017 (the money side) on a database an earlier release left: its orders read as they
were charged (untaxed, no service charge, the subtotal their total), and can be paid and reported."""

from __future__ import annotations

from pathlib import Path

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import PaymentIn
from forkflow.schema import utcnow
from forkflow.services.day_report import day_report
from forkflow.services.orders import business_date, get_order
from forkflow.services.payments import split, take_payment
from forkflow.store import Store

from .conftest import old_database


async def test_an_order_from_before_0017_answers_its_money_fields_and_is_paid(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_database(db, "0016", lines=(2, 1))  # order 1: 2 and 1 burgers at 15.00, its total 45.00
    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        order = await get_order(store, 1)
        assert {key: order[key] for key in order if key.endswith("_cents")} == {
            "subtotal_cents": 4500,
            "discount_cents": 0,
            "tax_cents": 0,
            "service_charge_cents": 0,
            "total_cents": 4500,
            "paid_cents": 0,
            "refunded_cents": 0,
            "balance_cents": 4500,
        }
        assert order["taxes"] == [] and order["discounts"] == [] and order["payments"] == []
        assert order["guests"] is None and order["prices_include_tax"] is False and order["closed"] is False
        assert [line["tax"] for line in order["lines"]] == [None, None]
        # The bill priced from its lines agrees with the figures filled in: two even shares of 22.50.
        shares = await split(store, 1, 2, None)
        assert [share["amount_cents"] for share in shares["shares"]] == [2250, 2250]
        answer, _ = await take_payment(store, 1, PaymentIn(tender="card", amount_cents=4500), "cashier", None)
        assert answer["order"]["balance_cents"] == 0 and answer["order"]["closed"] is True
        old_day = await day_report(store, "2026-01-01")  # the order's service day: its sales
        assert (old_day.orders, old_day.sales_cents, old_day.tax_cents, old_day.discount_cents) == (1, 4500, 0, 0)
        today = await day_report(store, business_date(utcnow(), store.settings))  # the payment's
        assert (today.orders, today.tenders_cents) == (0, 4500)
    finally:
        await store.close()
