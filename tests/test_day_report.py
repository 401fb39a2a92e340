"""The day's report from a hand-made day: every figure equals the value worked out by hand below,
and the tenders reconcile with sales and refunds (the bill's algebra)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.schemas_out import DayReport
from forkflow.services.audit import AuditFilter, audit_log
from forkflow.services.day_report import day_report
from forkflow.store import Store

from . import money_rows as rows
from .conftest import drop_postgres_database, new_postgres_database

DAY = "2026-11-30"
VAT20, VAT5 = ("VAT 20", 20_000), ("VAT 5", 5_000)


def hand_made_day(conn: sa.Connection, day: str = DAY, close_drawer: bool = True, drawer: str = "Front") -> None:
    """Prices exclude tax, taxes rounded per line.

    1 counter: 2 Burger (10.00, VAT 20) 10 % staff discount, 1 Soda (3.00, VAT 5): 1800 + 360 + 300 + 15
      = 2475, paid cash 30.00 (change 5.25) into the drawer.
    2 table, 10 % service charge: Burger, Fries (voided before paying), Soda comped (birthday):
      1000 + 200 tax + 100 service = 1300, paid card with 2.00 tip.
    3 online: Burger, Fries (4.00, VAT 20): 1400 + 280 = 1680, paid card; 5.00 refunded (cold food).
    4 counter: Burger, Soda: 1515, paid cash 20.00 into the drawer; then the soda voided and refunded in
      cash (3.15): T = 1200, its sales T + R_line = 1515.
    5 counter, cancelled: counts nowhere.
    Drawer "Front": float 100.00, paid in 20.00, paid out 5.00; expected 100 + 24.75 + 15.15 + 20 - 5
      - 3.15 = 151.75, counted 151.00: 0.75 short.
    """
    burger = rows.item(conn, "Burger", 1000, "Mains")
    fries = rows.item(conn, "Fries", 400, "Sides")
    soda = rows.item(conn, "Soda", 300, "Drinks")
    b, f, s = (burger, "Burger", 1000), (fries, "Fries", 400), (soda, "Soda", 300)
    front = rows.drawer(conn, day, drawer, 10000)
    rows.movement(conn, front, "paid_in", 2000, "change")
    rows.movement(conn, front, "paid_out", 500, "supplies")

    one, (burgers, _) = rows.order(conn, day, 1, [(*b, 2, *VAT20), (*s, 1, *VAT5)])
    rows.discount(conn, one, day, "Staff", 10_000, line_id=burgers)
    rows.payment(conn, one, day, "cash", 2475, tendered_cents=3000, drawer_id=front)

    two, (_, fries2, soda2) = rows.order(
        conn, day, 2, [(*b, 1, *VAT20), (*f, 1, *VAT20), (*s, 1, *VAT5)], channel="table", service_charge_milli=10_000
    )
    rows.void(conn, two, fries2)
    rows.discount(conn, two, day, "Birthday", 100_000, line_id=soda2, comp=True)
    rows.payment(conn, two, day, "card", 1300, tip_cents=200, by="manager")

    three, _ = rows.order(conn, day, 3, [(*b, 1, *VAT20), (*f, 1, *VAT20)], channel="online")
    card = rows.payment(conn, three, day, "card", 1680)
    rows.refund(conn, card, day, 500, "Cold food")

    four, (_, soda4) = rows.order(conn, day, 4, [(*b, 1, *VAT20), (*s, 1, *VAT5)])
    cash = rows.payment(conn, four, day, "cash", 1515, tendered_cents=2000, drawer_id=front)
    rows.refund(conn, cash, day, 315, "Soda returned", line_id=soda4, drawer_id=front)

    rows.order(conn, day, 5, [(*b, 3, *VAT20)], status="cancelled")
    rows.order(conn, "2000-01-01", 100 + int(day[-2:]), [(*b, 1, *VAT20)])  # another day: not in this report
    if close_drawer:
        rows.close_drawer(conn, front, 15100)


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = Store(Settings(database_url=sqlite_url(tmp_path / "day.db")), Bus())
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def report_of_hand_made_day(store: Store, tmp_path: Path) -> DayReport:
    engine = rows.engine_for(f"sqlite:///{tmp_path / 'day.db'}")
    with engine.begin() as conn:
        hand_made_day(conn)
    engine.dispose()
    return await day_report(store, DAY)


async def test_the_hand_made_days_totals(store: Store, tmp_path: Path) -> None:
    report = await report_of_hand_made_day(store, tmp_path)
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
    report = await report_of_hand_made_day(store, tmp_path)
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


async def test_cash_rounding_is_the_cash_kept_beyond_what_was_applied(store: Store, tmp_path: Path) -> None:
    """CHF cash settles to 5 centimes: a 12.37 bill paid in cash keeps 12.35 (a 20.00 note, 7.65 change);
    the report shows the 2 centimes as cash rounding, and the drawer expects what it really holds."""
    engine = rows.engine_for(f"sqlite:///{tmp_path / 'day.db'}")
    with engine.begin() as conn:
        rösti = rows.item(conn, "Rösti", 1237, "Mains")
        till = rows.drawer(conn, DAY, "Till", 5000)
        order, _ = rows.order(conn, DAY, 1, [(rösti, "Rösti", 1237, 1, "", 0)])
        rows.payment(conn, order, DAY, "cash", 1237, tendered_cents=2000, drawer_id=till)
        conn.execute(sa.text("UPDATE payments SET change_cents = 765"))  # 20.00 - 12.35
        rows.close_drawer(conn, till, 5000 + 1235)
    engine.dispose()
    report = await day_report(store, DAY)
    assert report.sales_cents == report.tenders_cents == 1237
    assert report.cash_rounding_cents == 1235 - 1237 == -2
    (drawer,) = report.drawers
    assert drawer.cash_in_cents == 1235 and drawer.expected_cents == 6235 and drawer.over_short_cents == 0


async def test_postgresql_reports_the_same_day_and_filters_its_audit_log(tmp_path: Path) -> None:
    """The same hand-made day on PostgreSQL (its rows written in one write unit): the same figures as
    on SQLite, and the audit log's filters read the JSON payloads there too."""
    url = new_postgres_database()
    pg = Store(Settings(database_url=url), Bus())
    try:
        await pg.open()
        await pg.write(lambda tx: hand_made_day(tx.conn))
        on_pg = await day_report(pg, DAY)
        by_manager = await audit_log(pg, AuditFilter(day=DAY, staff="manager"))
        drawers = await audit_log(pg, AuditFilter(day=DAY, kind="drawer"))
        nothing = await audit_log(pg, AuditFilter(day="2020-01-01"))
    finally:
        await pg.close()
        drop_postgres_database(url)
    lite = Store(Settings(database_url=sqlite_url(tmp_path / "day.db")), Bus())
    await lite.open()
    try:
        on_sqlite = await report_of_hand_made_day(lite, tmp_path)
    finally:
        await lite.close()
    assert on_pg == on_sqlite and on_pg.sales_cents == 6970
    assert [(e["type"], e["payload"]["amount_cents"]) for e in by_manager["entries"]] == [("payment.taken", 1300)]
    assert [e["type"] for e in drawers["entries"]] == ["drawer.opened"] and nothing["entries"] == []
