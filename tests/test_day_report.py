"""The day's report from a hand-made day (tests/money_day.py, made through the real services): every
figure equals the value worked out by hand there, and the tenders reconcile with sales and refunds
(the bill's algebra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import DrawerCloseIn, DrawerIn, MenuItemIn, OrderIn, OrderLineIn, PaymentIn
from forkflow.money.currency import Currency
from forkflow.schemas_out import DayReport
from forkflow.services import drawers, menu, orders, payments
from forkflow.services.audit import AuditFilter, audit_log
from forkflow.services.day_report import day_report
from forkflow.store import Store

from .conftest import drop_postgres_database, new_postgres_database
from .money_day import DAY, clock_at, hand_made_day


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = Store(Settings(database_url=sqlite_url(tmp_path / "day.db")), Bus())
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def report_of_hand_made_day(store: Store) -> DayReport:
    await hand_made_day(store)
    return await day_report(store, DAY)


async def test_the_hand_made_days_totals(store: Store, tmp_path: Path) -> None:
    report = await report_of_hand_made_day(store)
    assert report.kind == "X" and report.closed_at is None and report.currency == "USD"
    assert report.orders == 4
    assert report.sales_cents == 2475 + 1300 + 1680 + 1515 == 6970
    assert report.average_ticket_cents == 1743  # 6970 / 4 = 1742.5, half up
    assert report.gross_cents == 2300 + 1300 + 1400 + 1000
    assert report.discount_cents == 200 + 300
    assert report.tax_cents == 360 + 15 + 200 + 280 + 200
    assert report.service_charge_cents == 100
    # Every order's T: the live lines, less discounts, plus tax and service.
    assert report.gross_cents - report.discount_cents + report.tax_cents + report.service_charge_cents == 6970 - 315
    assert report.tenders_cents == 6970 and report.refunds_cents == 815 and report.tips_cents == 200
    assert report.tenders_cents - report.refunds_cents == report.sales_cents - report.refunds_cents
    assert report.cash_rounding_cents == 0 and report.open_drawers == 0


async def test_the_hand_made_days_tables(store: Store, tmp_path: Path) -> None:
    report = await report_of_hand_made_day(store)
    assert [(c.category, c.quantity, c.gross_cents) for c in report.by_category] == [
        ("Drinks", 2, 600),
        ("Mains", 5, 5000),
        ("Sides", 1, 400),
    ]
    assert [(i.name, i.quantity, i.gross_cents) for i in report.by_item] == [
        ("Burger", 5, 5000),
        ("Soda", 2, 600),
        ("Fries", 1, 400),
    ]
    assert [(t.name, t.percent_milli, t.taxable_cents, t.tax_cents) for t in report.taxes] == [
        ("VAT 20", 20_000, 1800 + 1000 + 1400 + 1000, 1040),
        ("VAT 5", 5_000, 300, 15),
    ]
    assert [(d.reason, d.comp, d.count, d.amount_cents) for d in report.discounts] == [
        ("Birthday", True, 1, 300),
        ("Staff", False, 1, 200),
    ]
    assert (report.voids.count, report.voids.value_cents) == (2, 400 + 300)
    assert [(r.tender, r.reason, r.count, r.amount_cents) for r in report.refunds] == [
        ("card", "Cold food", 1, 500),
        ("cash", "Soda returned", 1, 315),
    ]
    assert [(t.tender, t.count, t.amount_cents, t.tip_cents) for t in report.tenders] == [
        ("card", 2, 2980, 200),
        ("cash", 2, 3990, 0),
    ]
    assert [(c.channel, c.orders, c.sales_cents, c.average_ticket_cents) for c in report.by_channel] == [
        ("counter", 2, 3990, 1995),
        ("online", 1, 1680, 1680),
        ("table", 1, 1300, 1300),
    ]
    (front,) = report.drawers
    assert (front.name, front.float_cents, front.cash_in_cents, front.paid_in_cents, front.paid_out_cents) == (
        "Front",
        10000,
        2475 + 1515,
        2000,
        500,
    )
    assert (front.cash_refunds_cents, front.expected_cents, front.counted_cents) == (315, 15175, 15100)
    assert front.over_short_cents == report.over_short_cents == -75


async def test_a_day_with_nothing_is_all_zeros(store: Store) -> None:
    report = await day_report(store, "2020-01-01")
    assert report.orders == report.sales_cents == report.average_ticket_cents == report.tenders_cents == 0
    assert report.by_item == report.tenders == report.drawers == [] and report.kind == "X"


async def test_cash_rounding_is_the_cash_kept_beyond_what_was_applied(tmp_path: Path) -> None:
    """CHF cash settles to 5 centimes: a 12.37 bill paid in cash keeps 12.35 (a 20.00 note, 7.65 change);
    the report shows the 2 centimes as cash rounding, and the drawer expects what it really holds."""
    chf = Store(Settings(database_url=sqlite_url(tmp_path / "chf.db"), currency=Currency("CHF", "de_CH")), Bus())
    await chf.open()
    try:
        rösti = await menu.create_menu_item(
            chf, MenuItemIn(name="Rösti", price_cents=1237, category="Mains", station="grill")
        )
        with clock_at(DAY):
            till = await drawers.open_drawer(chf, DrawerIn(name="Till", float_cents=5000), "cashier")
            line = OrderLineIn(menu_item_id=rösti["id"], quantity=1)
            order, _ = await orders.create_order(chf, OrderIn(customer_name="Ada", channel="counter", items=[line]))
            cash = PaymentIn(tender="cash", amount_cents=1237, tendered_cents=2000, drawer_id=till["id"])
            answer, _ = await payments.take_payment(chf, order["id"], cash, "cashier", None)
            assert answer["payment"]["change_cents"] == 765  # 20.00 - 12.35
            await drawers.close_drawer(
                chf,
                till["id"],
                DrawerCloseIn(counts={"5000": 1, "1000": 1, "200": 1, "20": 1, "10": 1, "5": 1}),
                "manager",
            )
        report = await day_report(chf, DAY)
    finally:
        await chf.close()
    assert report.sales_cents == report.tenders_cents == 1237
    assert report.cash_rounding_cents == 1235 - 1237 == -2
    (drawer,) = report.drawers
    assert drawer.cash_in_cents == 1235 and drawer.expected_cents == 6235 and drawer.over_short_cents == 0


async def test_postgresql_reports_the_same_day_and_filters_its_audit_log(tmp_path: Path) -> None:
    """The same hand-made day on PostgreSQL: the same figures as on SQLite, and the audit log's
    filters read the JSON payloads there too."""
    url = new_postgres_database()
    pg = Store(Settings(database_url=url), Bus())
    try:
        await pg.open()
        await hand_made_day(pg)
        on_pg = await day_report(pg, DAY)
        by_manager = await audit_log(pg, AuditFilter(day=DAY, staff="manager"))
        drawer_events = await audit_log(pg, AuditFilter(day=DAY, kind="drawer"))
        nothing = await audit_log(pg, AuditFilter(day="2020-01-01"))
    finally:
        await pg.close()
        drop_postgres_database(url)
    lite = Store(Settings(database_url=sqlite_url(tmp_path / "day.db")), Bus())
    await lite.open()
    try:
        on_sqlite = await report_of_hand_made_day(lite)
    finally:
        await lite.close()
    assert on_pg == on_sqlite and on_pg.sales_cents == 6970
    assert [(e["type"], e["payload"].get("amount_cents")) for e in by_manager["entries"]] == [
        ("drawer.closed", None),
        ("payment.taken", 1300),
    ]
    assert [e["type"] for e in drawer_events["entries"]] == [
        "drawer.closed",
        "drawer.paid_out",
        "drawer.paid_in",
        "drawer.opened",
    ]
    assert nothing["entries"] == []
