"""Cash drawers: opened with a float, paid in and out with a reason, closed with a count by
denomination against the cash expected.

Invariant: expected cash = float + cash kept from payments (tendered - change) + paid in - paid
out - cash refunds (amount + tip), always derived from the rows, never a running total; a drawer
closes once (its count and expected are fixed then). Each change is one write with its
`drawer.*` event."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from ..errors import Conflict, NotFound
from ..formats import iso, iso_or_none
from ..models import DrawerCloseIn, DrawerIn, DrawerMovementIn
from ..money.denominations import denominations
from ..schema import drawer_movements, drawers, payments, refunds, utcnow
from ..store import Store, Tx
from .audit import money_event
from .orders import business_date

Drawer = dict[str, Any]


def _total(conn: Connection, table: Any, column: Any, drawer_id: int, *where: Any) -> int:
    query = select(func.coalesce(func.sum(column), 0)).where(table.c.drawer_id == drawer_id, *where)
    return int(conn.execute(query).scalar_one())


def expected_cash(conn: Connection, row: Any) -> int:
    """What the drawer should hold: its float and every cash movement through it, from the rows."""
    kept = _total(
        conn, payments, payments.c.tendered_cents - payments.c.change_cents, row.id, payments.c.tender == "cash"
    )
    moved_in = _total(
        conn, drawer_movements, drawer_movements.c.amount_cents, row.id, drawer_movements.c.kind == "paid_in"
    )
    moved_out = _total(
        conn, drawer_movements, drawer_movements.c.amount_cents, row.id, drawer_movements.c.kind == "paid_out"
    )
    given_back = _total(conn, refunds, refunds.c.amount_cents + refunds.c.tip_cents, row.id)
    return int(row.float_cents) + kept + moved_in - moved_out - given_back


def drawer_out(conn: Connection, row: Any) -> Drawer:
    expected = row.expected_cents if row.closed_at is not None else expected_cash(conn, row)
    counted = row.counted_cents
    return {
        "id": row.id,
        "name": row.name,
        "business_date": row.business_date,
        "float_cents": row.float_cents,
        "opened_by": row.opened_by,
        "opened_at": iso(row.opened_at),
        "closed_by": row.closed_by,
        "closed_at": iso_or_none(row.closed_at),
        "expected_cents": expected,
        "counts": json.loads(row.counts) if row.counts else None,
        "counted_cents": counted,
        "over_short_cents": None if counted is None else counted - expected,
    }


def open_drawer_ids(conn: Connection, *where: Any) -> list[int]:
    """The open drawers (those also matching `where`), oldest first: the one place that says which
    drawers are open."""
    query = select(drawers.c.id).where(drawers.c.closed_at.is_(None), *where).order_by(drawers.c.id)
    return [int(found) for found in conn.execute(query).scalars()]


def cash_drawer(tx: Tx, drawer_id: int | None) -> int:
    """The open drawer cash goes into or out of: the one named, else the only one open; 409 else."""
    found = open_drawer_ids(tx.conn, *([] if drawer_id is None else [drawers.c.id == drawer_id]))
    if drawer_id is not None and not found:
        raise Conflict(f"drawer {drawer_id} is not open", {"drawer_id": "not open"}, reason="drawer_not_open")
    if not found:
        raise Conflict(
            "open a drawer first: cash goes into a drawer", {"drawer_id": "no open drawer"}, reason="no_drawer"
        )
    if len(found) > 1:
        raise Conflict("several drawers are open: name one", {"drawer_id": "which drawer"}, reason="which_drawer")
    return found[0]


def _row(conn: Connection, drawer_id: int) -> Any:
    row = conn.execute(select(drawers).where(drawers.c.id == drawer_id)).first()
    if row is None:
        raise NotFound(f"drawer {drawer_id} does not exist")
    return row


def _open_row(conn: Connection, drawer_id: int) -> Any:
    row = _row(conn, drawer_id)
    if row.closed_at is not None:
        raise Conflict(f"drawer {row.name} is closed", {"drawer": "closed"}, reason="drawer_closed")
    return row


async def open_drawer(store: Store, data: DrawerIn, by: str) -> Drawer:
    """Open a drawer with its float; 409 if one of that name is open."""
    settings = store.settings

    def unit(tx: Tx) -> Drawer:
        taken = Conflict(f"a drawer named {data.name} is open", {"name": "already open"}, reason="drawer_open")
        if open_drawer_ids(tx.conn, drawers.c.name == data.name):
            raise taken
        values = {
            "name": data.name,
            "business_date": business_date(tx.now, settings),
            "float_cents": data.float_cents,
            "opened_by": by,
            "opened_at": tx.now,
        }
        # (Writes run one at a time: the check above holds; the unique index on open names backs it.)
        drawer_id = tx.conn.execute(insert(drawers).values(values).returning(drawers.c.id)).scalar_one()
        drawer = drawer_out(tx.conn, _row(tx.conn, drawer_id))
        money_event(
            tx, settings, "drawer.opened", by, None, drawer_id=drawer_id, name=data.name, float_cents=data.float_cents
        )
        return drawer

    return await store.write(unit)


async def move_cash(store: Store, drawer_id: int, data: DrawerMovementIn, by: str) -> Drawer:
    """Cash paid into or out of an open drawer, not for an order (change bought, a supplier paid)."""
    settings = store.settings

    def unit(tx: Tx) -> Drawer:
        row = _open_row(tx.conn, drawer_id)
        values = {**data.model_dump(), "drawer_id": drawer_id, "by": by, "created_at": tx.now}
        tx.conn.execute(insert(drawer_movements).values(values))
        drawer = drawer_out(tx.conn, row)
        money_event(
            tx,
            settings,
            f"drawer.{data.kind}",
            by,
            None,
            drawer_id=drawer_id,
            name=row.name,
            amount_cents=data.amount_cents,
            reason=data.reason,
        )
        return drawer

    return await store.write(unit)


def counted(data: DrawerCloseIn) -> int:
    return sum(int(value) * count for value, count in data.counts.items()) + data.other_cents


async def close_drawer(store: Store, drawer_id: int, data: DrawerCloseIn, by: str) -> Drawer:
    """Close with the count: counted, expected (fixed now) and over/short; 409 if already closed."""
    settings = store.settings

    def unit(tx: Tx) -> Drawer:
        row = _open_row(tx.conn, drawer_id)
        expected = expected_cash(tx.conn, row)
        total = counted(data)
        counts = {**data.counts, **({"other": data.other_cents} if data.other_cents else {})}
        values = {
            "closed_by": by,
            "closed_at": tx.now,
            "counts": json.dumps(counts),
            "counted_cents": total,
            "expected_cents": expected,
        }
        tx.conn.execute(update(drawers).where(drawers.c.id == drawer_id).values(values))
        drawer = drawer_out(tx.conn, _row(tx.conn, drawer_id))
        money_event(
            tx,
            settings,
            "drawer.closed",
            by,
            None,
            drawer_id=drawer_id,
            name=row.name,
            float_cents=row.float_cents,
            counted_cents=total,
            expected_cents=expected,
            over_short_cents=total - expected,
            counts=counts,
        )
        return drawer

    return await store.write(unit)


def _listed(conn: Connection, today: str) -> list[Drawer]:
    query = select(drawers).where(or_(drawers.c.closed_at.is_(None), drawers.c.business_date == today))
    return [drawer_out(conn, row) for row in conn.execute(query.order_by(drawers.c.id))]


async def list_drawers(store: Store) -> dict[str, Any]:
    """The open drawers and today's closed ones, each with its expected cash so far, and the
    currency's notes and coins for the count form."""
    settings = store.settings
    today = business_date(utcnow(), settings)
    found = await store.query(_listed, today)
    return {
        "currency": settings.currency.code,
        "denominations": list(denominations(settings.currency.code)),
        "drawers": found,
    }
