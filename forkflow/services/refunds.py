"""Refunds: money given back on one payment's tender, with a reason and a manager's approval;
with `line_id`, a paid line voided and refunded what it took off the bill, in the same write.

Invariant: a refund never gives back more than its payment has left (its amount, and its tip,
less earlier refunds on it); a cash refund comes out of an open drawer; the refund, the void, the
order's settling and the events (`refund.given`, `order.updated`) are one write.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from ..errors import Conflict
from ..models import RefundIn
from ..schema import payments, refunds
from ..store import Store, Tx
from ..vocabulary import COOKING_STATUSES
from .audit import money_event
from .dispatch import record_sends
from .drawers import cash_drawer
from .orders import business_date, load_order, void_paid_line
from .payments import Answer, find_payment, fingerprint, replayed
from .representation import Encoded, refund_out
from .tenders import settle


def _tip_left(tx: Tx, payment_id: int) -> int:
    tip = tx.conn.execute(select(payments.c.tip_cents).where(payments.c.id == payment_id)).scalar_one()
    given = tx.conn.execute(select(refunds.c.tip_cents).where(refunds.c.payment_id == payment_id)).scalars()
    return int(tip) - sum(int(given_tip) for given_tip in given)


def _within(what: str, asked: int, left: int) -> None:
    if asked > left:
        raise Conflict(
            f"the payment has {left} {what} left to refund, not {asked}",
            {"amount_cents" if what == "paid" else "tip_cents": f"at most {left}"},
            reason="more_than_paid",
            left_cents=left,
        )


def _drawer_of(tx: Tx, payment_id: int) -> int:
    """A cash refund's drawer: the payment's own if still open, else the only open one."""
    own = tx.conn.execute(select(payments.c.drawer_id).where(payments.c.id == payment_id)).scalar_one()
    try:
        return cash_drawer(tx, own)
    except Conflict:
        return cash_drawer(tx, None)


async def give_refund(
    store: Store, order_id: int, data: RefundIn, by: str, approved_by: str, key: str | None
) -> tuple[Answer, bool]:
    """Refund on a payment of the order; returns (answer, replayed): the refund and the order."""
    # The approval (a password) is left out, as for discounts: it is never stored, even hashed.
    request_hash = fingerprint(order_id, data.model_copy(update={"approval": None}))
    settings = store.settings

    def unit(tx: Tx) -> tuple[Answer, bool]:
        earlier = replayed(tx, refunds, key, request_hash)
        if earlier is not None:
            return {"refund": refund_out(earlier), "order": load_order(tx.conn, order_id)}, True
        order = load_order(tx.conn, order_id)
        payment = find_payment(order, data.payment_id)
        if data.line_id is not None:
            amount = void_paid_line(tx, order, data.line_id, data.reason, by)
        else:
            amount = data.amount_cents or 0
        _within("paid", amount, payment["amount_cents"] - payment["refunded_cents"])
        _within("tip", data.tip_cents, _tip_left(tx, payment["id"]))
        drawer_id = _drawer_of(tx, payment["id"]) if payment["tender"] == "cash" else None
        values = {
            "order_id": order_id,
            "payment_id": payment["id"],
            "amount_cents": amount,
            "tip_cents": data.tip_cents,
            "line_id": data.line_id,
            "reason": data.reason,
            "given_by": by,
            "approved_by": approved_by,
            "drawer_id": drawer_id,
            "business_date": business_date(tx.now, settings),
            "idempotency_key": key,
            "request_hash": request_hash,
            "created_at": tx.now,
        }
        refund_id = tx.conn.execute(insert(refunds).values(values).returning(refunds.c.id)).scalar_one()
        settle(tx, order_id)
        refund = refund_out(tx.conn.execute(select(refunds).where(refunds.c.id == refund_id)).one())
        after = load_order(tx.conn, order_id)
        money_event(
            tx,
            settings,
            "refund.given",
            by,
            order_id,
            approved_by=approved_by,
            refund_id=refund_id,
            payment_id=payment["id"],
            tender=payment["tender"],
            amount_cents=amount,
            tip_cents=data.tip_cents,
            line_id=data.line_id,
            reason=data.reason,
            drawer_id=drawer_id,
        )
        event = tx.emit("order.updated", after)
        if data.line_id is not None and after["status"] in COOKING_STATUSES:
            record_sends(tx, after, event, "void")  # the kitchen stops cooking it
        return {"refund": refund, "order": Encoded(after, event.data)}, False

    return await store.write(unit)
