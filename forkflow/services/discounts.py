"""Discounts and comps: the reasons a manager keeps, and discounts given on an order or a line.

Invariant: a discount is written in one write unit with everything it changes: its
order_discounts row, the order's figures (`bill.reprice`), the order's `order.updated` (its full
new state, so every screen follows) and the money event (`discount.given` / `discount.removed`,
who, who approved, the order, what it took, the reason, the line) that the audit log reads. A
refused discount writes nothing.

Rules:
- a comp is a 100 % percent discount with a comp reason; an amount takes at most what is left of
  its line (or order) after the discounts before it;
- the cashier's limit (money_settings.cashier_discount_limit_milli) is a percent of what the
  discount applies to: a percent discount's own percent, an amount's share of what is left. Above
  it a manager approves (`approved_by`); comps follow the limit like any other discount (a comp is
  100 %, so it needs a manager unless the limit is 100 %). A manager giving one approves themself;
- only an order that is neither cancelled nor closed (paid in full) takes or loses discounts;
- a discount belongs to its order's service day (`business_date`), so the day's discounts add up
  to what its orders' figures took.
A reason in use is deactivated rather than deleted: discounts keep the reason's name as given.
Creating, changing or removing a reason is a money event of the service day it happens in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from ..config import Settings
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..formats import iso
from ..idempotency import KeyReused
from ..models import DiscountReasonIn, DiscountReasonPatch, OrderDiscountIn
from ..money.pricing import WHOLE_MILLI, Bill
from ..schema import discount_reasons, idempotency_keys, money_settings, order_discounts, orders
from ..store import Store, Tx
from ..vocabulary import DiscountKind
from .audit import money_event
from .bill import bill_of, reprice
from .orders import Order, _load
from .representation import Encoded, milli_to_number, number_to_milli

Reason = dict[str, Any]

# The `reason` of the 403 that asks for a manager's approval: the till turns it into the approval fields.
APPROVAL_NEEDED = "approval_needed"


# Reasons


def reason_out(row: Row[Any]) -> Reason:
    return {
        "id": row.id,
        "name": row.name,
        "comp": bool(row.comp),
        "active": bool(row.active),
        "created_at": iso(row.created_at),
    }


def _reasons(conn: Connection, active_only: bool) -> list[Reason]:
    query = select(discount_reasons).order_by(discount_reasons.c.comp, func.lower(discount_reasons.c.name))
    if active_only:
        query = query.where(discount_reasons.c.active.is_(True))
    return [reason_out(row) for row in conn.execute(query)]


async def list_reasons(store: Store, active_only: bool = False) -> list[Reason]:
    """The reasons, discounts first then comps, by name; `active_only`: those the till offers."""
    return await store.query(_reasons, active_only)


def _reason(conn: Connection, reason_id: int) -> Row[Any]:
    row = conn.execute(select(discount_reasons).where(discount_reasons.c.id == reason_id)).first()
    if row is None:
        raise NotFound(f"discount reason {reason_id} does not exist")
    return row


def _name_free(conn: Connection, name: str, reason_id: int | None) -> None:
    taken = conn.execute(
        # The database's lower() on both sides: SQLite's lowers ASCII only, and the same name must match.
        select(discount_reasons.c.id).where(func.lower(discount_reasons.c.name) == func.lower(name))
    ).scalar()
    if taken is not None and taken != reason_id:
        raise Conflict(f"there is already a reason called {name!r}", {"name": "taken"})


async def add_reason(store: Store, data: DiscountReasonIn, by: str) -> Reason:
    def unit(tx: Tx) -> Reason:
        _name_free(tx.conn, data.name, None)
        values = {"name": data.name, "comp": data.comp, "active": True, "created_at": tx.now}
        reason_id = tx.conn.execute(insert(discount_reasons).values(values).returning(discount_reasons.c.id)).scalar()
        assert reason_id is not None
        reason = reason_out(_reason(tx.conn, reason_id))
        money_event(tx, store.settings, "discount.reason_created", by, **reason)
        return reason

    return await store.write(unit)


async def update_reason(store: Store, reason_id: int, data: DiscountReasonPatch, by: str) -> Reason:
    """Rename, make a comp's (or a discount's) reason, or (de)activate. Discounts already given keep
    the name they were given with."""

    def unit(tx: Tx) -> Reason:
        _reason(tx.conn, reason_id)  # 404 first
        if data.name is not None:
            _name_free(tx.conn, data.name, reason_id)
        values = {name: value for name in data._CHANGES if (value := getattr(data, name)) is not None}
        tx.conn.execute(update(discount_reasons).where(discount_reasons.c.id == reason_id).values(values))
        reason = reason_out(_reason(tx.conn, reason_id))
        money_event(tx, store.settings, "discount.reason_updated", by, **reason)
        return reason

    return await store.write(unit)


async def remove_reason(store: Store, reason_id: int, by: str) -> Reason | None:
    """Delete a reason no discount was given with (None); one in use is deactivated instead (returned)."""

    def unit(tx: Tx) -> Reason | None:
        reason = reason_out(_reason(tx.conn, reason_id))
        used = tx.conn.execute(select(func.count()).where(order_discounts.c.reason == reason["name"])).scalar_one()
        if used:
            tx.conn.execute(update(discount_reasons).where(discount_reasons.c.id == reason_id).values(active=False))
            reason["active"] = False
            money_event(tx, store.settings, "discount.reason_updated", by, **reason)
            return reason
        tx.conn.execute(delete(discount_reasons).where(discount_reasons.c.id == reason_id))
        money_event(tx, store.settings, "discount.reason_deleted", by, **reason)
        return None

    return await store.write(unit)


# Discounts on orders


def limit_milli(conn: Connection) -> int:
    """The cashier's discount limit, percent × 1000 (money_settings row 1)."""
    return int(conn.execute(select(money_settings.c.cashier_discount_limit_milli)).scalar_one())


def fingerprint(order_id: int, data: OrderDiscountIn) -> str:
    """The same discount asked for the same order, the same fingerprint; the approval (a password)
    is left out: it is never stored, and a retry may be approved again."""
    asked = data.model_dump_json(exclude={"approval"})
    return hashlib.sha256(f"discount\0{order_id}\0{asked}".encode()).hexdigest()


_INSERT_KEY_SQL = "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)"


def _replayed(conn: Connection, key: str, order_id: int, data: OrderDiscountIn) -> Order | None:
    """The order as it is now if this key already gave this discount; 422 if it did anything else."""
    query = select(idempotency_keys.c.request_hash, idempotency_keys.c.order_id).where(idempotency_keys.c.key == key)
    found = conn.execute(query).first()
    if found is None:
        return None
    if found.request_hash != fingerprint(order_id, data) or found.order_id != order_id:
        raise KeyReused()
    return _load(conn, order_id)


async def replayed(store: Store, key: str, order_id: int, data: OrderDiscountIn) -> Order | None:
    """`_replayed` on a read connection: a retry is answered before its approval is checked again
    (and checked once more inside the write, for a twin committed in between)."""
    return await store.query(_replayed, key, order_id, data)


def _open(conn: Connection, order: Order, change: str) -> None:
    """409 for a cancelled order, or one closed (paid in full): its bill no longer changes."""
    if order["status"] == "cancelled":
        raise Conflict(f"order {order['id']} is cancelled: {change}", {"order": "cancelled"}, reason="order_cancelled")
    closed_at = conn.execute(select(orders.c.closed_at).where(orders.c.id == order["id"])).scalar()
    if closed_at is not None:
        raise Conflict(f"order {order['id']} is paid and closed: {change}", {"order": "closed"}, reason="order_closed")


@dataclass(frozen=True)
class Asked:
    """A discount as it will be written: its kind and figure, checked against its reason."""

    line_id: int | None
    kind: DiscountKind
    percent_milli: int | None
    amount_cents: int | None
    comp: bool
    reason: str

    @classmethod
    def of(cls, data: OrderDiscountIn, reason: Row[Any]) -> Asked:
        """A comp reason makes it 100 % off (422 for any other figure); a discount reason needs a kind."""
        if reason.comp:
            if data.kind == "amount" or (data.kind == "percent" and data.percent != 100):
                raise Invalid(
                    f"{reason.name} is a comp's reason: a comp is 100 % off",
                    {"kind": "a comp is a 100 % discount: leave kind out, or send percent 100"},
                )
            return cls(data.line_id, "percent", WHOLE_MILLI, None, True, reason.name)
        if data.kind is None:
            raise Invalid("say the kind of discount: percent or amount", {"kind": "required with a discount reason"})
        percent = None if data.percent is None else number_to_milli(data.percent)
        return cls(data.line_id, data.kind, percent, data.amount_cents, False, reason.name)

    def share_milli(self, left: int) -> int:
        """What it takes of `left`, percent × 1000, rounded up (so 10.0004 % counts above 10 %)."""
        if self.percent_milli is not None:
            return self.percent_milli
        assert self.amount_cents is not None
        return -(-self.amount_cents * WHOLE_MILLI // left)


def _left(bill: Bill, order: Order, line_id: int | None) -> int:
    """What is left of the line (or the order) after the discounts already on it: the discount's base."""
    if line_id is None:
        return sum(line.net_cents for line in bill.lines)
    line = next((line for line in order["lines"] if line["id"] == line_id), None)
    if line is None:
        raise Invalid(f"order {order['id']} has no line {line_id}", {"line_id": "not a line of this order"})
    if line["voided_at"] is not None:
        raise Conflict(f"line {line_id} is voided", {"line_id": "voided"}, reason="line_voided")
    return next(billed.net_cents for billed in bill.lines if billed.id == line_id)


def _check(tx: Tx, order: Order, asked: Asked, bill: Bill, by: str, approver: str | None) -> str | None:
    """Refuse what cannot be given (409/422), or what needs a manager who did not approve (403);
    returns who approved it (None: within the cashier's limit, and nobody was asked)."""
    left = _left(bill, order, asked.line_id)
    what = "the order" if asked.line_id is None else f"line {asked.line_id}"
    if left <= 0:
        raise Conflict(
            f"nothing is left of {what} to discount", {"line_id" if asked.line_id else "order": "nothing left"}
        )
    if asked.amount_cents is not None and asked.amount_cents > left:
        raise Invalid(
            f"{asked.amount_cents} is more than what is left of {what} ({left})",
            {"amount_cents": f"at most {left}"},
        )
    limit = limit_milli(tx.conn)
    if asked.share_milli(left) <= limit:
        return approver
    if approver is None:
        raise Forbidden(
            f"{by} may give up to {milli_to_number(limit)} % off; a manager must approve this",
            {"approval": "a manager's name and password"},
            reason=APPROVAL_NEEDED,
            limit_percent=milli_to_number(limit),
        )
    return approver


def discount_event(
    tx: Tx, settings: Settings, kind: str, row: Row[Any], order: Order, taken: int, by: str, approved_by: str | None
) -> None:
    """The audit log's record of a discount given or removed: who, when, the order (whose service
    day it belongs to), what it took."""
    money_event(
        tx,
        settings,
        kind,
        by,
        order["id"],
        approved_by=approved_by,
        business_date=row.business_date,
        id=row.id,
        ticket_no=order["ticket_no"],
        line_id=row.line_id,
        kind=row.kind,
        percent=None if row.percent_milli is None else milli_to_number(row.percent_milli),
        amount_cents=taken,
        comp=bool(row.comp),
        reason=row.reason,
        total_cents=order["total_cents"],
    )


def _row(conn: Connection, discount_id: int) -> Row[Any] | None:
    return conn.execute(select(order_discounts).where(order_discounts.c.id == discount_id)).first()


async def give_discount(
    store: Store,
    order_id: int,
    data: OrderDiscountIn,
    by: str,
    approver: str | None,
    idempotency_key: str | None = None,
) -> tuple[Order, bool]:
    """Give a discount or a comp; returns (the order, replayed). `approver`: the manager who
    approved it (checked by services/approvals.py), or the giver when they are a manager."""

    def unit(tx: Tx) -> tuple[Order, bool]:
        if idempotency_key is not None:
            earlier = _replayed(tx.conn, idempotency_key, order_id, data)
            if earlier is not None:
                return earlier, True
        order = _load(tx.conn, order_id)
        _open(tx.conn, order, "it takes no discount")
        reason = tx.conn.execute(select(discount_reasons).where(discount_reasons.c.id == data.reason_id)).first()
        if reason is None or not reason.active:
            raise Invalid(f"discount reason {data.reason_id} is not one the till offers", {"reason_id": "unknown"})
        asked = Asked.of(data, reason)
        approved_by = _check(tx, order, asked, bill_of(tx, order_id), by, approver)
        values = {
            "order_id": order_id,
            "line_id": asked.line_id,
            "kind": asked.kind,
            "percent_milli": asked.percent_milli,
            "amount_cents": asked.amount_cents,
            "comp": asked.comp,
            "reason": asked.reason,
            "given_by": by,
            "approved_by": approved_by,
            "business_date": order["business_date"],
            "created_at": tx.now,
        }
        discount_id = tx.conn.execute(insert(order_discounts).values(values).returning(order_discounts.c.id)).scalar()
        assert discount_id is not None
        taken = reprice(tx, order_id).discounts[discount_id]
        after = _touched(tx, order_id)
        _not_below_paid(after)
        if idempotency_key is not None:
            tx.sql(_INSERT_KEY_SQL, (idempotency_key, fingerprint(order_id, data), order_id, tx.stored_now))
        return _emitted(tx, store.settings, after, discount_id, "discount.given", taken, by, approved_by), False

    return await store.write(unit)


def _not_below_paid(order: Order) -> None:
    """409 when the discount would leave the bill below what was already paid: money back is a
    refund (with a manager's approval), not a discount."""
    if order["balance_cents"] < 0:
        raise Conflict(
            f"order {order['id']} has been paid more than it would owe: refund instead",
            {"order": "paid beyond the discounted total"},
            reason="refund_needed",
        )


def _touched(tx: Tx, order_id: int) -> Order:
    """The order, marked updated now and loaded (once) in its new state."""
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=tx.now))
    return _load(tx.conn, order_id)


def _emitted(
    tx: Tx, settings: Settings, order: Order, discount_id: int, kind: str, taken: int, by: str, approved_by: str | None
) -> Order:
    """The money event and the order's new state (`_touched`), in the write that changed it."""
    row = _row(tx.conn, discount_id)
    assert row is not None
    discount_event(tx, settings, kind, row, order, taken, by, approved_by)
    return Encoded(order, tx.emit("order.updated", order).data)


async def remove_discount(store: Store, order_id: int, discount_id: int, by: str) -> Order:
    """Take a discount off (it stays, with `removed_at` and `removed_by`): the bill grows back. No
    approval: it only ever adds to what is owed."""

    def unit(tx: Tx) -> Order:
        order = _load(tx.conn, order_id)
        row = _row(tx.conn, discount_id)
        if row is None or row.order_id != order_id:
            raise NotFound(f"order {order_id} has no discount {discount_id}")
        if row.removed_at is not None:
            removed = {"discount_id": "already removed"}
            raise Conflict(f"discount {discount_id} was already removed", removed, reason="already_removed")
        _open(tx.conn, order, "its discounts stay as they are")
        taken = bill_of(tx, order_id).discounts.get(discount_id, 0)
        tx.conn.execute(
            update(order_discounts).where(order_discounts.c.id == discount_id).values(removed_at=tx.now, removed_by=by)
        )
        reprice(tx, order_id)
        return _emitted(tx, store.settings, _touched(tx, order_id), discount_id, "discount.removed", taken, by, None)

    return await store.write(unit)
