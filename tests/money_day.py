"""A hand-made day of money for the report's and the audit log's tests, made through the real
services (menu, orders, discounts, payments, refunds, drawers) on a `Store`, as the API's handlers
call them: its rows and money events are exactly what a real day writes.

A day in the past (the report's dates are fixed) is made by setting the writes' clock (`clock_at`):
every write unit's `tx.now`, so its rows and events belong to that service day."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import (
    DiscountReasonIn,
    DrawerCloseIn,
    DrawerIn,
    DrawerMovementIn,
    MenuItemIn,
    MoneySettingsIn,
    OrderDiscountIn,
    OrderIn,
    OrderLineIn,
    PaymentIn,
    RefundIn,
    TaxRateIn,
)
from forkflow.services import discounts, drawers, menu, orders, payments, refunds, taxes
from forkflow.storage import units
from forkflow.store import Store

from .conftest import _in_own_loop

DAY = "2026-11-30"
VAT20, VAT5 = ("VAT 20", 20), ("VAT 5", 5)
# The menu: item, price, category, tax rate.
MENU = (("Burger", 1000, "Mains", "VAT 20"), ("Fries", 400, "Sides", "VAT 20"), ("Soda", 300, "Drinks", "VAT 5"))
REASONS = (("Staff", False), ("Birthday", True))


@contextmanager
def clock_at(day: str, hour: int = 19) -> Iterator[None]:
    """Every write meanwhile happens on `day` (UTC, the Store's default zone), a second apart from
    `hour` o'clock on: its rows and events belong to that service day."""
    start = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
    ticks = itertools.count()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(units, "utcnow", lambda: start + timedelta(seconds=next(ticks)))
        yield


async def hand_made_menu(store: Store) -> dict[str, int]:
    """The day's menu and terms, made once per database (a second call finds them): prices exclude
    tax, tax rounded per line, a 10 % service charge on table orders, cashiers give up to 10 % off;
    the items' ids by name."""
    found = {item["name"]: item["id"] for item in await menu.list_menu(store)}
    if all(name in found for name, *_ in MENU):
        return found
    rates = {}
    for name, percent in (VAT20, VAT5):
        rates[name] = (await taxes.create_tax_rate(store, TaxRateIn(name=name, percent=percent), "manager"))["id"]
    terms = MoneySettingsIn(
        prices_include_tax=False,
        tax_rounding="line",
        service_charge_percent=10,
        service_charge_min_guests=None,
        cashier_discount_limit_percent=10,
    )
    await taxes.set_money_settings(store, terms, "manager")
    for name, comp in REASONS:
        await discounts.add_reason(store, DiscountReasonIn(name=name, comp=comp), "manager")
    for name, price, category, rate in MENU:
        data = MenuItemIn(name=name, price_cents=price, category=category, station="grill", tax_rate_id=rates[rate])
        found[name] = (await menu.create_menu_item(store, data))["id"]
    return found


async def _reason(store: Store, name: str) -> int:
    return next(r["id"] for r in await discounts.list_reasons(store) if r["name"] == name)


async def _order(store: Store, items: dict[str, int], lines: dict[str, int], **more: object) -> tuple[int, list[int]]:
    """An order of `lines` (item name: quantity), placed as the till places one; its id, its lines' ids."""
    wanted = [OrderLineIn(menu_item_id=items[name], quantity=quantity) for name, quantity in lines.items()]
    data = OrderIn.model_validate({"customer_name": "Guest", "channel": "counter", "items": wanted} | more)
    placed, _ = await orders.create_order(store, data)
    return placed["id"], [line["id"] for line in placed["lines"]]


async def _pay(store: Store, order_id: int, by: str = "cashier", **body: object) -> int:
    answer, _ = await payments.take_payment(store, order_id, PaymentIn.model_validate(body), by, None)
    return int(answer["payment"]["id"])


async def _refund(store: Store, order_id: int, **body: object) -> None:
    await refunds.give_refund(store, order_id, RefundIn.model_validate(body), "cashier", "manager", None)


async def hand_made_day(store: Store, day: str = DAY, close_drawer: bool = True, drawer: str = "Front") -> None:
    """Prices exclude tax, taxes rounded per line.

    1 counter: 2 Burger (10.00, VAT 20) 10 % staff discount, 1 Soda (3.00, VAT 5): 1800 + 360 + 300 + 15
      = 2475, paid cash 30.00 (change 5.25) into the drawer.
    2 table, 10 % service charge: Burger, Fries (voided before paying), Soda comped (birthday):
      1000 + 200 tax + 100 service = 1300, paid card with 2.00 tip (by the manager).
    3 online: Burger, Fries (4.00, VAT 20): 1400 + 280 = 1680, paid card; 5.00 refunded (cold food).
    4 counter: Burger, Soda: 1515, paid cash 20.00 into the drawer; then the soda voided and refunded in
      cash (3.15): T = 1200, its sales T + R_line = 1515.
    5 counter, cancelled: counts nowhere.
    `drawer` ("Front"): float 100.00, paid in 20.00, paid out 5.00; expected 100 + 24.75 + 15.15 + 20 - 5
      - 3.15 = 151.75, counted 151.00 by the manager: 0.75 short.
    Refunds are given by the cashier with the manager's approval; an order of another day (a year
    earlier) is not in this day's report.
    """
    items = await hand_made_menu(store)
    staff, birthday = await _reason(store, "Staff"), await _reason(store, "Birthday")
    with clock_at(str(int(day[:4]) - 1) + day[4:]):
        await _order(store, items, {"Burger": 1})
    with clock_at(day):
        till = await drawers.open_drawer(store, DrawerIn(name=drawer, float_cents=10000), "cashier")
        for kind, amount, reason in (("paid_in", 2000, "change"), ("paid_out", 500, "supplies")):
            movement = DrawerMovementIn(kind=kind, amount_cents=amount, reason=reason)
            await drawers.move_cash(store, till["id"], movement, "cashier")

        one, (burgers, _) = await _order(store, items, {"Burger": 2, "Soda": 1})
        staff_off = OrderDiscountIn(line_id=burgers, kind="percent", percent=10, reason_id=staff)
        await discounts.give_discount(store, one, staff_off, "cashier", None)
        await _pay(store, one, tender="cash", amount_cents=2475, tendered_cents=3000, drawer_id=till["id"])

        two, (_, fries, soda) = await _order(
            store, items, {"Burger": 1, "Fries": 1, "Soda": 1}, channel="table", table="T1"
        )
        await orders.void_line(store, two, fries, "sent by mistake", "cashier")
        comp = OrderDiscountIn(line_id=soda, reason_id=birthday)
        await discounts.give_discount(store, two, comp, "cashier", "manager")
        await _pay(store, two, by="manager", tender="card", amount_cents=1300, tip_cents=200)

        three, _ = await _order(store, items, {"Burger": 1, "Fries": 1}, channel="online")
        card = await _pay(store, three, tender="card", amount_cents=1680)
        await _refund(store, three, payment_id=card, amount_cents=500, reason="Cold food")

        four, (_, soda) = await _order(store, items, {"Burger": 1, "Soda": 1})
        cash = await _pay(store, four, tender="cash", amount_cents=1515, tendered_cents=2000, drawer_id=till["id"])
        await _refund(store, four, payment_id=cash, line_id=soda, reason="Soda returned")

        five, _ = await _order(store, items, {"Burger": 3})
        await orders.change_status(store, five, "cancelled")
        if close_drawer:
            count = DrawerCloseIn(counts={"10000": 1, "5000": 1, "100": 1})
            await drawers.close_drawer(store, till["id"], count, "manager")


def write_days(db: Path, *days: dict[str, Any]) -> None:
    """Hand-made days (each `hand_made_day`'s arguments) made in the SQLite file `db`, a running
    server's say, by a Store of this process (so its clock can be set) alongside the server."""

    async def make() -> None:
        store = Store(Settings(database_url=sqlite_url(db)), Bus())
        await store.open()
        try:
            for day in days:
                await hand_made_day(store, **day)
        finally:
            await store.close()

    _in_own_loop(make)
