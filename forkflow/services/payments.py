"""Payments: tenders taken toward an order's bill (cash with change, card with the terminal's
reference, other), split by amount, evenly by guests or by item.

Invariant: a payment is one write that reads the order's balance, refuses or inserts the payment,
settles the order (services/tenders.py) and emits `payment.taken` and `order.updated`; writes run
one at a time (the SQLite writer, PostgreSQL's write lock), so two tills paying the same bill at
once cannot both pass the balance check: the balance never goes below zero.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from ..config import Settings
from ..errors import Conflict, Invalid, NotFound
from ..idempotency import KeyReused
from ..models import PaymentIn
from ..schema import payments
from ..store import Store, Tx
from . import bill
from .audit import money_event
from .drawers import cash_drawer
from .orders import Order, business_date, live_lines, load_order
from .representation import Encoded, payment_out
from .tenders import settle

Answer = dict[str, Any]


def fingerprint(order_id: int, data: Any) -> str:
    """Same order, same validated body: same hash (a retried payment or refund)."""
    return hashlib.sha256(f"{order_id}\0{data.model_dump_json()}".encode()).hexdigest()


def replayed(tx: Tx, table: Any, key: str | None, request_hash: str) -> Row[Any] | None:
    """The row an earlier request with this key wrote, or None; 422 when its body was another."""
    if key is None:
        return None
    row = tx.conn.execute(select(table).where(table.c.idempotency_key == key)).first()
    if row is not None and row.request_hash != request_hash:
        raise KeyReused()
    return row


def payable(order: Order) -> None:
    """409 unless the order can take money: not cancelled, not closed."""
    if order["status"] == "cancelled":
        raise Conflict(f"order {order['id']} is cancelled: nothing to pay", {"order": "cancelled"}, reason="cancelled")
    if order["closed"] or order["balance_cents"] == 0:
        raise Conflict(f"order {order['id']} is paid: its balance is 0", {"order": "closed"}, reason="closed")


def lines_owe(conn: Connection, order: Order, line_ids: list[int]) -> int:
    """What the lines owe of the bill (services/bill.py `lines_owe`: what they add to it); 422 for
    a line that is not one of the order's live ones."""
    live = {line["id"] for line in live_lines(order)}
    unknown = [line_id for line_id in line_ids if line_id not in live]
    if unknown:
        raise Invalid(
            f"order {order['id']} has no live line {', '.join(map(str, unknown))}",
            {"line_ids": "a line of this order, not voided"},
        )
    return bill.lines_owe(conn, order["id"], line_ids)


def paid_by_item(order: Order) -> set[int]:
    return {line_id for payment in order["payments"] for line_id in payment["line_ids"] or ()}


def _by_item(conn: Connection, order: Order, line_ids: list[int]) -> int:
    """What paying for these lines settles: their share, at most the balance; 409 if one was paid."""
    twice = sorted(set(line_ids) & paid_by_item(order))
    if twice:
        raise Conflict(
            f"line {', '.join(map(str, twice))} was already paid by item",
            {"line_ids": "already paid"},
            reason="line_paid",
        )
    return min(lines_owe(conn, order, line_ids), int(order["balance_cents"]))


@dataclass(frozen=True)
class Applied:
    """How a tender meets the bill: `amount` goes to the bill, `cash_due` is the cash it costs
    (with the tip, after cash rounding), `change` what goes back from `tendered`."""

    amount: int
    cash_due: int | None
    tendered: int | None
    change: int


def applied(data: PaymentIn, balance: int, target: int, settings: Settings) -> Applied:
    """`target`: what the tender is meant to settle (the balance, or the lines paid by item). Cash
    settling it may pay its cash-rounded amount (CHF to 5 centimes); a card or other tender may
    not pay more than the balance; paying by item pays exactly what the lines owe."""
    cash = data.tender == "cash"
    rounded = settings.currency.cash_rounded(target) if cash else target
    settling = data.amount_cents in (target, rounded)
    if data.line_ids is not None and not settling:
        raise Invalid(f"those lines owe {target}", {"amount_cents": f"the lines owe {target}"})
    if not settling and data.amount_cents > balance:
        raise Conflict(
            f"{data.amount_cents} is more than the balance, {balance}",
            {"amount_cents": f"at most {balance}"},
            reason="more_than_owed",
            balance_cents=balance,
        )
    amount = target if settling else data.amount_cents
    if not cash:
        return Applied(amount, None, None, 0)
    due = (rounded if settling else amount) + data.tip_cents
    tendered = due if data.tendered_cents is None else data.tendered_cents
    if tendered < due:
        raise Invalid(f"{tendered} handed over is less than {due} due", {"tendered_cents": f"at least {due}"})
    return Applied(amount, due, tendered, tendered - due)


def _answer(tx: Tx, payment: Row[Any]) -> Answer:
    order = load_order(tx.conn, payment.order_id)
    refunded = next(p["refunded_cents"] for p in order["payments"] if p["id"] == payment.id)
    return {"payment": payment_out(payment, refunded), "order": order}


async def take_payment(store: Store, order_id: int, data: PaymentIn, by: str, key: str | None) -> tuple[Answer, bool]:
    """Take a tender toward the order's bill; returns (answer, replayed). A key sent again with the
    same body answers the first payment and writes nothing."""
    request_hash = fingerprint(order_id, data)
    settings = store.settings

    def unit(tx: Tx) -> tuple[Answer, bool]:
        earlier = replayed(tx, payments, key, request_hash)
        if earlier is not None:
            return _answer(tx, earlier), True
        order = load_order(tx.conn, order_id)
        payable(order)
        balance = order["balance_cents"]
        target = balance if data.line_ids is None else _by_item(tx.conn, order, data.line_ids)
        met = applied(data, balance, target, settings)
        drawer_id = cash_drawer(tx, data.drawer_id) if data.tender == "cash" else None
        values = {
            "order_id": order_id,
            "tender": data.tender,
            "amount_cents": met.amount,
            "tip_cents": data.tip_cents,
            "tendered_cents": met.tendered,
            "change_cents": met.change,
            "reference": data.reference,
            "line_ids": None if data.line_ids is None else json.dumps(data.line_ids),
            "drawer_id": drawer_id,
            "taken_by": by,
            "business_date": business_date(tx.now, settings),
            "idempotency_key": key,
            "request_hash": request_hash,
            "created_at": tx.now,
        }
        payment_id = tx.conn.execute(insert(payments).values(values).returning(payments.c.id)).scalar_one()
        settle(tx, order_id)
        payment = tx.conn.execute(select(payments).where(payments.c.id == payment_id)).one()
        answer = _answer(tx, payment)
        money_event(
            tx,
            settings,
            "payment.taken",
            by,
            order_id,
            payment_id=payment_id,
            tender=data.tender,
            amount_cents=met.amount,
            tip_cents=data.tip_cents,
            tendered_cents=met.tendered,
            change_cents=met.change,
            cash_rounding_cents=0 if met.cash_due is None else met.amount + data.tip_cents - met.cash_due,
            reference=data.reference,
            line_ids=data.line_ids,
            drawer_id=drawer_id,
            balance_cents=answer["order"]["balance_cents"],
        )
        order = answer["order"]
        answer["order"] = Encoded(order, tx.emit("order.updated", order).data)
        return answer, False

    return await store.write(unit)


def even_shares(order: Order, guests: int) -> Answer:
    """The bill (T less amount refunds) in `guests` shares, remainder cents to the first; each
    share's `due_cents` is what is still owed of it, counting payments toward the shares in turn."""
    owed = order["balance_cents"] + order["paid_cents"]
    base, extra = divmod(owed, guests)
    shares, start = [], 0
    for n in range(guests):
        amount = base + (1 if n < extra else 0)
        due = max(0, min(amount, start + amount - order["paid_cents"]))
        shares.append({"amount_cents": amount, "due_cents": due, "paid": due == 0})
        start += amount
    return {"order_id": order["id"], "balance_cents": order["balance_cents"], "guests": guests, "shares": shares}


def item_share(conn: Connection, order_id: int, line_ids: list[int]) -> Answer:
    """What paying for these lines would settle, or 409 if one of them was paid by item."""
    order = load_order(conn, order_id)
    return {
        "order_id": order["id"],
        "balance_cents": order["balance_cents"],
        "line_ids": line_ids,
        "amount_cents": _by_item(conn, order, line_ids),
    }


async def split(store: Store, order_id: int, guests: int | None, line_ids: list[int] | None) -> Answer:
    if line_ids is None:  # evenly; by nobody in particular: one share, the whole bill
        return even_shares(await store.query(load_order, order_id), guests or 1)
    return await store.query(item_share, order_id, line_ids)


def find_payment(order: Order, payment_id: int) -> dict[str, Any]:
    found: dict[str, Any] | None = next((payment for payment in order["payments"] if payment["id"] == payment_id), None)
    if found is None:
        raise NotFound(f"order {order['id']} has no payment {payment_id}")
    return found
