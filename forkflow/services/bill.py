"""An order's stored figures, kept equal to what forkflow/money/pricing.py says it costs.

Invariant: after every write that changes an order's lines or discounts, orders.subtotal_cents,
discount_cents, tax_cents, service_charge_cents and total_cents are `price()` of its lines (with the
tax each was ordered with), its discounts not removed and its own terms (fixed when it was placed):
that write calls `reprice` in its own transaction. Every screen, the receipt and payments read these
columns; `total_cents` is what is owed (tips excluded).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from ..errors import NotFound
from ..money.pricing import Bill, DiscountIn, PricedLine, Terms, price
from ..schema import order_discounts, order_lines, orders
from ..storage.units import Tx
from ..store import Store
from ..vocabulary import Channel
from .money_settings import TAX_COLUMNS, TAX_JOIN, read_money_settings
from .representation import quote_out
from .tenders import settle

Quote = dict[str, Any]  # an order's figures (representation.BILL_KEYS) for lines not placed yet

# Plain SQL (`Tx.sql`): reprice runs in every write of an order's lines, placing ones included.
_TERMS_SQL = "SELECT prices_include_tax, tax_rounding, service_charge_milli FROM orders WHERE id = ?"
_LINES_SQL = (
    "SELECT id, unit_price_cents, quantity, tax_name, tax_milli, voided_at IS NOT NULL"
    " FROM order_lines WHERE order_id = ? ORDER BY id"
)
_DISCOUNTS_SQL = (
    "SELECT id, line_id, kind, percent_milli, amount_cents FROM order_discounts"
    " WHERE order_id = ? AND removed_at IS NULL ORDER BY id"
)
_STORE_SQL = (
    "UPDATE orders SET subtotal_cents = ?, discount_cents = ?, tax_cents = ?, service_charge_cents = ?,"
    " total_cents = ? WHERE id = ?"
)


def figures(bill: Bill) -> dict[str, int]:
    """The Bill's figures as orders' columns of the same names."""
    return {
        "subtotal_cents": bill.subtotal_cents,
        "discount_cents": bill.discount_cents,
        "tax_cents": bill.tax_cents,
        "service_charge_cents": bill.service_charge_cents,
        "total_cents": bill.total_cents,
    }


def terms_of(row: Any) -> Terms:
    """An order's pricing terms from its row (anything with orders' column names)."""
    return Terms(bool(row.prices_include_tax), row.tax_rounding, row.service_charge_milli)


def bill_of(tx: Tx, order_id: int) -> Bill:
    """Price the order as its rows are now in this transaction (404 for an unknown order)."""
    found = tx.sql(_TERMS_SQL, (order_id,)).fetchone()
    if found is None:
        raise NotFound(f"order {order_id} does not exist")
    terms = Terms(bool(found[0]), found[1], found[2])
    lines = [
        PricedLine(row[0], row[1], row[2], row[3], row[4], bool(row[5])) for row in tx.sql(_LINES_SQL, (order_id,))
    ]
    discounts = [DiscountIn(*row) for row in tx.sql(_DISCOUNTS_SQL, (order_id,))]
    return price(lines, discounts, terms)


def store_figures(tx: Tx, order_id: int, bill: Bill) -> None:
    """Write the Bill's figures onto the order."""
    tx.sql(_STORE_SQL, (*figures(bill).values(), order_id))


def reprice(tx: Tx, order_id: int) -> Bill:
    """Price the order from its rows in this transaction and store its figures; returns the Bill.

    Call it in every write that changes an order's lines or discounts, before reading the order
    back for its event. It settles the order's tenders too (services/tenders.py): a changed total
    may close or reopen its balance."""
    bill = bill_of(tx, order_id)
    store_figures(tx, order_id, bill)
    settle(tx, order_id)
    return bill


def lines_owe(conn: Connection, order_id: int, line_ids: Collection[int]) -> int:
    """What these lines add to the order's bill: its total less its total were they voided. What
    paying for them by item settles, and what voiding a paid one takes off the bill."""
    terms = terms_of(
        conn.execute(
            select(orders.c.prices_include_tax, orders.c.tax_rounding, orders.c.service_charge_milli).where(
                orders.c.id == order_id
            )
        ).one()
    )
    rows = conn.execute(
        select(
            order_lines.c.id,
            order_lines.c.unit_price_cents,
            order_lines.c.quantity,
            order_lines.c.tax_name,
            order_lines.c.tax_milli,
            order_lines.c.voided_at.is_not(None),
        )
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.id)
    ).all()
    discounts = [
        DiscountIn(*row)
        for row in conn.execute(
            select(
                order_discounts.c.id,
                order_discounts.c.line_id,
                order_discounts.c.kind,
                order_discounts.c.percent_milli,
                order_discounts.c.amount_cents,
            )
            .where(order_discounts.c.order_id == order_id, order_discounts.c.removed_at.is_(None))
            .order_by(order_discounts.c.id)
        )
    ]

    def total(without: Collection[int]) -> int:
        lines = [PricedLine(r[0], r[1], r[2], r[3], r[4], bool(r[5]) or r[0] in without) for r in rows]
        return price(lines, discounts, terms).total_cents

    return total(()) - total(line_ids)


# What a cart or a till's ticket would cost if placed now: the same `price()`, its lines' taxes and
# the terms read as placing would read them (a cart is not an order yet: nothing is stored).
_ITEM_TAXES = text(
    f"SELECT m.id, {TAX_COLUMNS} FROM menu_items m LEFT JOIN menu_categories c ON c.name = m.category{TAX_JOIN}"
    " WHERE m.id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def quote(conn: Connection, lines: Sequence[tuple[int, int, int]], channel: Channel, guests: int | None) -> Quote:
    """The figures of `lines` ((menu item id, unit price, quantity) each) as an order placed now on
    `channel` for `guests` would have them (`quote_out`'s shape)."""
    ids = sorted({item_id for item_id, _, _ in lines})
    taxes: dict[int, tuple[str, int]] = {}
    if ids:
        taxes = {row[0]: (row[1], row[2]) for row in conn.execute(_ITEM_TAXES, {"ids": ids})}
    terms = read_money_settings(conn).terms_for(channel, guests)
    priced = [
        PricedLine(i, unit, quantity, *taxes.get(item_id, ("", 0))) for i, (item_id, unit, quantity) in enumerate(lines)
    ]
    return quote_out(price(priced, (), terms), terms)


async def quote_lines(
    store: Store, lines: Sequence[tuple[int, int, int]], channel: Channel, guests: int | None = None
) -> Quote:
    return await store.query(quote, lines, channel, guests)
