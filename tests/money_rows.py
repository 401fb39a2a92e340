"""Money rows written straight into a database, for the report's and the audit log's tests.

The payments, refunds, discounts and drawers services are other parts of issue 17; until they are
merged these helpers write their rows (and their events) as those services define them (forkflow/
schema.py, the bill's algebra). Every helper is here, so swapping them for the real services is one
file. Each takes a sync SQLAlchemy connection to the test's database (SQLite file or PostgreSQL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from forkflow.formats import iso
from forkflow.money.pricing import DiscountIn, PricedLine, Terms, price
from forkflow.schema import (
    discount_reasons,
    drawer_movements,
    drawers,
    events,
    menu_items,
    order_discounts,
    order_lines,
    orders,
    payments,
    refunds,
)

NOW = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)


def engine_for(url: str) -> sa.Engine:
    """A sync engine on the test's database (sqlite:///file or postgresql://)."""
    return sa.create_engine(url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg"))


def item(conn: sa.Connection, name: str, price_cents: int, category: str) -> int:
    values = {"name": name, "price_cents": price_cents, "category": category, "station": "grill"}
    return int(
        conn.execute(menu_items.insert().values(**values, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]
    )


def order(
    conn: sa.Connection,
    day: str,
    ticket: int,
    lines: list[tuple[int, str, int, int, str, int]],
    channel: str = "counter",
    status: str = "completed",
    service_charge_milli: int = 0,
) -> tuple[int, list[int]]:
    """An order of `day` and its lines (item id, name, unit price, quantity, tax name, tax milli);
    its figures as pricing makes them. Returns its id and its lines' ids."""
    values = {
        "business_date": day,
        "ticket_no": ticket,
        "customer_name": f"Guest {ticket}",
        "channel": channel,
        "table_label": "T1" if channel == "table" else None,
        "status": status,
        "total_cents": 0,
        "created_at": NOW,
        "updated_at": NOW,
        "service_charge_milli": service_charge_milli,
    }
    order_id = int(conn.execute(orders.insert().values(**values)).inserted_primary_key[0])
    ids = []
    for item_id, name, unit, quantity, tax_name, tax_milli in lines:
        row = {"order_id": order_id, "menu_item_id": item_id, "name": name, "unit_price_cents": unit}
        row |= {"quantity": quantity, "tax_name": tax_name, "tax_milli": tax_milli}
        ids.append(int(conn.execute(order_lines.insert().values(**row)).inserted_primary_key[0]))
    reprice(conn, order_id)
    return order_id, ids


def reprice(conn: sa.Connection, order_id: int) -> int:
    """Store the order's figures as pricing says (services/bill.py's reprice, on a sync connection)."""
    o = conn.execute(sa.select(orders).where(orders.c.id == order_id)).one()
    lines = [
        PricedLine(r.id, r.unit_price_cents, r.quantity, r.tax_name, r.tax_milli, r.voided_at is not None)
        for r in conn.execute(
            sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.id)
        )
    ]
    live = (order_discounts.c.order_id == order_id) & order_discounts.c.removed_at.is_(None)
    given = [
        DiscountIn(d.id, d.line_id, d.kind, d.percent_milli, d.amount_cents)
        for d in conn.execute(sa.select(order_discounts).where(live).order_by(order_discounts.c.id))
    ]
    bill = price(lines, given, Terms(bool(o.prices_include_tax), o.tax_rounding, o.service_charge_milli))
    figures = {
        "subtotal_cents": bill.subtotal_cents,
        "discount_cents": bill.discount_cents,
        "tax_cents": bill.tax_cents,
        "service_charge_cents": bill.service_charge_cents,
        "total_cents": bill.total_cents,
    }
    conn.execute(orders.update().where(orders.c.id == order_id).values(**figures))
    return bill.total_cents


def money_event(conn: sa.Connection, kind: str, by: str, day: str, order_id: int | None, **amounts: Any) -> None:
    """A money event as the services emit it: who, when, the order, the approver and the amounts."""
    payload = {"at": iso(NOW), "by": by, "approved_by": None, "order_id": order_id, "business_date": day, **amounts}
    row = {"type": kind, "topic": "money", "payload": json.dumps(payload), "created_at": NOW}
    conn.execute(events.insert().values(**row))


def discount(
    conn: sa.Connection,
    order_id: int,
    day: str,
    reason: str,
    percent_milli: int,
    line_id: int | None = None,
    comp: bool = False,
) -> int:
    if conn.execute(sa.select(discount_reasons.c.id).where(discount_reasons.c.name == reason)).first() is None:
        conn.execute(discount_reasons.insert().values(name=reason, comp=comp, active=True, created_at=NOW))
    row = {"order_id": order_id, "line_id": line_id, "kind": "percent", "percent_milli": percent_milli}
    row |= {"comp": comp, "reason": reason, "given_by": "cashier", "business_date": day, "created_at": NOW}
    found = int(conn.execute(order_discounts.insert().values(**row)).inserted_primary_key[0])
    reprice(conn, order_id)
    money_event(conn, "discount.given", "cashier", day, order_id, percent_milli=percent_milli, reason=reason)
    return found


def drawer(conn: sa.Connection, day: str, name: str, float_cents: int) -> int:
    row = {"name": name, "business_date": day, "float_cents": float_cents, "opened_by": "cashier", "opened_at": NOW}
    found = int(conn.execute(drawers.insert().values(**row)).inserted_primary_key[0])
    money_event(conn, "drawer.opened", "cashier", day, None, drawer=name, float_cents=float_cents)
    return found


def movement(conn: sa.Connection, drawer_id: int, kind: str, amount_cents: int, reason: str) -> None:
    row = {"drawer_id": drawer_id, "kind": kind, "amount_cents": amount_cents, "reason": reason, "by": "manager"}
    conn.execute(drawer_movements.insert().values(**row, created_at=NOW))


def close_drawer(conn: sa.Connection, drawer_id: int, counted_cents: int) -> None:
    values = {"closed_by": "manager", "closed_at": NOW, "counted_cents": counted_cents, "counts": "{}"}
    conn.execute(drawers.update().where(drawers.c.id == drawer_id).values(**values))


def payment(
    conn: sa.Connection,
    order_id: int,
    day: str,
    tender: str,
    amount_cents: int,
    tip_cents: int = 0,
    tendered_cents: int | None = None,
    drawer_id: int | None = None,
    by: str = "cashier",
) -> int:
    change = 0 if tendered_cents is None else tendered_cents - amount_cents - tip_cents
    row = {"order_id": order_id, "tender": tender, "amount_cents": amount_cents, "tip_cents": tip_cents}
    row |= {"tendered_cents": tendered_cents, "change_cents": change, "reference": "", "drawer_id": drawer_id}
    row |= {"taken_by": by, "business_date": day, "created_at": NOW}
    found = int(conn.execute(payments.insert().values(**row)).inserted_primary_key[0])
    money_event(conn, "payment.taken", by, day, order_id, tender=tender, amount_cents=amount_cents, tip_cents=tip_cents)
    return found


def refund(
    conn: sa.Connection,
    payment_id: int,
    day: str,
    amount_cents: int,
    reason: str,
    line_id: int | None = None,
    drawer_id: int | None = None,
) -> None:
    order_id = conn.execute(sa.select(payments.c.order_id).where(payments.c.id == payment_id)).scalar_one()
    row = {"order_id": order_id, "payment_id": payment_id, "amount_cents": amount_cents, "tip_cents": 0}
    row |= {"line_id": line_id, "reason": reason, "given_by": "cashier", "approved_by": "manager"}
    row |= {"drawer_id": drawer_id, "business_date": day, "created_at": NOW}
    conn.execute(refunds.insert().values(**row))
    if line_id is not None:
        conn.execute(order_lines.update().where(order_lines.c.id == line_id).values(voided_at=NOW, voided_by="manager"))
        reprice(conn, order_id)
    money_event(
        conn, "refund.given", "cashier", day, order_id, amount_cents=amount_cents, reason=reason, approved_by="manager"
    )


def void(conn: sa.Connection, order_id: int, line_id: int) -> None:
    conn.execute(order_lines.update().where(order_lines.c.id == line_id).values(voided_at=NOW, voided_by="cashier"))
    reprice(conn, order_id)
