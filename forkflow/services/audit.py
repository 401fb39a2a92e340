"""The audit log: every money action (topic "money": payments, refunds, discounts, drawers, taxes,
the day's close) with who, when, the order, who approved it and the amounts.

Invariant: it is read from the events table and nowhere else; the events are written in the same
transaction as the rows they describe, so the log holds exactly what happened. One query, by the
(topic, id) index, newest first; filters read the payload's own fields (business_date, by).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from ..config import Settings
from ..formats import iso
from ..schema import events
from ..store import Store, Tx
from .orders import business_date as service_day

MONEY_TOPIC = "money"
MAX_LIMIT = 500


def money_event(
    tx: Tx,
    settings: Settings,
    kind: str,
    by: str,
    order_id: int | None = None,
    /,
    *,
    approved_by: str | None = None,
    business_date: str | None = None,
    **about: Any,
) -> None:
    """Emit a money event (the one way every money action writes its record): first what every one
    says, as the log's filters read it (when, who, who approved it, the order, the service day:
    `business_date`, else the day `tx.now` falls in), then what the action is about (its fields
    may be named `kind` or `by` too: the leading arguments are positional)."""
    day = business_date or service_day(tx.now, settings)
    head = {"at": iso(tx.now), "by": by, "approved_by": approved_by, "order_id": order_id, "business_date": day}
    tx.emit(kind, head | about)


@dataclass(frozen=True)
class AuditFilter:
    """What to list: a service day, a staff name, a kind (an event type, "payment.taken", or its
    prefix, "drawer"), at most `limit` entries older than event id `before`."""

    day: str | None = None
    staff: str | None = None
    kind: str | None = None
    limit: int = 100
    before: int | None = None


def _field(conn: Connection, name: str) -> ColumnElement[Any]:
    """A payload's top-level field as text, as each backend reads JSON held in a text column."""
    if conn.dialect.name == "postgresql":
        text: ColumnElement[Any] = cast(events.c.payload, JSONB)[name].astext
        return text
    return cast(func.json_extract(events.c.payload, f"$.{name}"), String)


def _entries(conn: Connection, wanted: AuditFilter) -> list[dict[str, Any]]:
    query = select(events.c.id, events.c.type, events.c.payload, events.c.created_at).where(
        events.c.topic == MONEY_TOPIC
    )
    if wanted.before is not None:
        query = query.where(events.c.id < wanted.before)
    if wanted.day:
        query = query.where(_field(conn, "business_date") == wanted.day)
    if wanted.staff:
        query = query.where(_field(conn, "by") == wanted.staff)
    if wanted.kind:
        query = query.where(or_(events.c.type == wanted.kind, events.c.type.like(literal(wanted.kind + ".%"))))
    rows = conn.execute(query.order_by(events.c.id.desc()).limit(wanted.limit))
    return [{"id": r.id, "type": r.type, "at": iso(r.created_at), "payload": json.loads(r.payload)} for r in rows]


async def audit_log(store: Store, wanted: AuditFilter) -> dict[str, Any]:
    """A page of the log, newest first, and the `before` that asks for the next one (None: no more)."""
    entries = await store.query(_entries, wanted)
    more = entries[-1]["id"] if len(entries) == wanted.limit else None
    return {"entries": entries, "next_before": more}
