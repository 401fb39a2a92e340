"""An order's stored figures, kept equal to what forkflow/money/pricing.py says it costs.

Invariant: after every write that changes an order's lines or discounts, orders.subtotal_cents,
discount_cents, tax_cents, service_charge_cents and total_cents are `price()` of its lines (with the
tax each was ordered with), its discounts not removed and its own terms (fixed when it was placed):
that write calls `reprice` in its own transaction. Every screen, the receipt and payments read these
columns; `total_cents` is what is owed (tips excluded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from ..errors import NotFound
from ..money.pricing import Bill, DiscountIn, PricedLine, Terms, price
from ..storage.units import Tx
from ..store import Store
from ..vocabulary import Channel
from .money_settings import TAX_COLUMNS, TAX_JOIN, read_money_settings
from .representation import quote_out

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
    back for its event."""
    bill = bill_of(tx, order_id)
    store_figures(tx, order_id, bill)
    return bill


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
