"""An order's tenders: reading its payments and refunds for its answer (`order_out`), and
settling its `paid_cents` and `closed_at` from them (the bill's algebra, docs in README).

Invariant: after every write that changes an order's total, payments or refunds, `settle` has run
in that write: paid_cents = P - R, and closed_at is set exactly when the balance is zero and
something was paid. Every order loaded reads its payments in one statement per batch (on the
payments' order index); refunds are read only for the orders that have payments."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, update

from ..schema import orders, payments, refunds
from ..store import Tx

_PAYMENTS_OF = select(payments).where(payments.c.order_id.in_(bindparam("ids", expanding=True))).order_by(payments.c.id)
_REFUNDS_OF = select(refunds).where(refunds.c.order_id.in_(bindparam("ids", expanding=True))).order_by(refunds.c.id)

Rows = dict[int, list[Row[Any]]]


def tenders_of(conn: Connection, order_ids: list[int]) -> tuple[Rows, Rows]:
    """The payments' rows and the refunds' rows of each order, oldest first, by order id."""
    paid: Rows = defaultdict(list)
    refunded: Rows = defaultdict(list)
    if not order_ids:
        return paid, refunded
    for row in conn.execute(_PAYMENTS_OF, {"ids": order_ids}):
        paid[row.order_id].append(row)
    if paid:
        for row in conn.execute(_REFUNDS_OF, {"ids": list(paid)}):
            refunded[row.order_id].append(row)
    return paid, refunded


def _sum(column: Any, table: Any, order_id: int, *where: Any) -> Any:
    return select(func.coalesce(func.sum(column), 0)).where(table.c.order_id == order_id, *where).scalar_subquery()


def settle(tx: Tx, order_id: int) -> None:
    """The order's paid_cents (P - R) and closed_at (balance T - P + R_line zero, and P > 0) again
    from its rows, in the caller's write. A change that reopens the balance clears closed_at."""
    paid = _sum(payments.c.amount_cents, payments, order_id)
    refunded = _sum(refunds.c.amount_cents, refunds, order_id)
    lines = _sum(refunds.c.amount_cents, refunds, order_id, refunds.c.line_id.is_not(None))
    row = tx.conn.execute(
        select(orders.c.total_cents, orders.c.closed_at, paid, refunded, lines).where(orders.c.id == order_id)
    ).one()
    total, closed_at, p, r, r_line = row
    closed = p > 0 and total - p + r_line == 0
    values = {"paid_cents": p - r, "closed_at": (closed_at or tx.now) if closed else None}
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
