"""The audit log: every money action (topic "money": payments, refunds, discounts, drawers, taxes,
the day's close) with who, when, the order, who approved it and the amounts.

Invariant: it is read from the events table and nowhere else; the events are written in the same
transaction as the rows they describe, so the log holds exactly what happened. One query, by the
(topic, id) index, newest first; filters read the payload's own fields (business_date, by).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from ..formats import iso
from ..schema import events
from ..store import Store

MONEY_TOPIC = "money"
MAX_LIMIT = 500


def audit_record(
    at: datetime,
    by: str,
    business_date: str | None,
    *,
    approved_by: str | None = None,
    order_id: int | None = None,
    **about: Any,
) -> dict[str, Any]:
    """A money event's payload: first what every one says (the log's filters read it): when, who,
    who approved it, the order and the service day; then what the action is about."""
    head = {"at": iso(at), "by": by, "approved_by": approved_by, "order_id": order_id, "business_date": business_date}
    return head | about


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
