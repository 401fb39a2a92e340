"""The print-job queue's writes: chits for sends, receipts, day reports, test pages and reprints.

Every function here runs inside the caller's write unit (a `Tx`), so a job is committed with the
change that needs it, or not at all; each queues under the exactly-once key (forkflow/printing/
__init__.py, point 1) and emits one `print.queued` per call that queued anything, which wakes the
print worker of every process.

The order writer calls `queue_chits` for every order it sends, so the printers' routing (who prints
which station) is kept in the write path's cache between orders while `printer_revision` (bumped by
services/printers.py with every set-up change) has not moved: one one-row read per call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, insert, select

from ..errors import Conflict, Invalid, NotFound
from ..formats import iso, iso_or_none
from ..schema import print_jobs, printers
from ..store import Store, Tx

NOT_SEEN = "NOT SEEN ON SCREEN"
REPRINT = "REPRINT"
BACKUP_FOR = "BACKUP FOR "
# A chit job's station when it prints the whole order (an expo printer's). A kitchen printer's
# stations are never "", so no chit job for a station is ever keyed so; an "unseen" job's "" is
# services/dispatch.py's NO_STATION (dishes that name no station), as its send said.
WHOLE_ORDER = ""


class Send(Protocol):
    """What queueing needs of services/dispatch.py's `Send` (read, not imported: services/ calls
    this package, so it imports nothing of services/)."""

    @property
    def order_id(self) -> int: ...
    @property
    def event_id(self) -> int: ...
    @property
    def revision(self) -> int: ...
    @property
    def station(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def line_ids(self) -> tuple[int, ...]: ...
    @property
    def voided_ids(self) -> tuple[int, ...]: ...


@dataclass(frozen=True, slots=True)
class WholeOrder:
    """One event's sends as one (an expo printer's chit: every station's lines)."""

    order_id: int
    event_id: int
    revision: int
    station: str
    reason: str
    line_ids: tuple[int, ...]
    voided_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """What routing needs of one printer."""

    id: int
    name: str
    role: str
    stations: frozenset[str]

    @property
    def expo(self) -> bool:
        return self.role == "kitchen" and not self.stations


@dataclass(frozen=True, slots=True)
class Routes:
    revision: int
    printers: tuple[Route, ...]


_REVISION_SQL = "SELECT revision FROM printer_revision WHERE id = 1"
_ROUTES_SQL = "SELECT id, name, role, stations FROM printers ORDER BY id"
_INSERT_SQL = (
    "INSERT INTO print_jobs (printer_id, target_printer_id, kind, order_id, event_id, revision, station, "
    "send, headers, copy, status, attempts, next_attempt_at, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'queued', 0, ?, ?) ON CONFLICT DO NOTHING RETURNING id"
)


def routes(tx: Tx) -> tuple[Route, ...]:
    """The printers as routing sees them, from the write path's cache while their revision holds."""
    revision = tx.sql(_REVISION_SQL).fetchone()[0]
    cached = tx.cache.get("printers")
    if not isinstance(cached, Routes) or cached.revision != revision:
        found = tuple(
            Route(row[0], row[1], row[2], frozenset(json.loads(row[3]))) for row in tx.sql(_ROUTES_SQL).fetchall()
        )
        cached = tx.cache["printers"] = Routes(revision, found)
    return cached.printers


def send_json(send: Send) -> str:
    """What a chit needs of its send besides the order (the renderer rebuilds the `Send`)."""
    return json.dumps({"reason": send.reason, "line_ids": list(send.line_ids), "voided_ids": list(send.voided_ids)})


def _insert(
    tx: Tx, printer_id: int, kind: str, order_id: int | None, send: Send, station: str, headers: list[str]
) -> int | None:
    row = tx.sql(
        _INSERT_SQL,
        (
            printer_id,
            printer_id,
            kind,
            order_id,
            send.event_id,
            send.revision,
            station,
            send_json(send),
            json.dumps(headers),
            tx.stored_now,
            tx.stored_now,
        ),
    ).fetchone()
    return None if row is None else int(row[0])


def _queued(tx: Tx, ids: list[int], order_id: int | None) -> list[int]:
    if ids:
        tx.emit("print.queued", {"order_id": order_id, "jobs": ids})
    return ids


def _whole(sends: Sequence[Send]) -> WholeOrder:
    first = sends[0]
    lines = tuple(line for send in sends for line in send.line_ids)
    voided = tuple(line for send in sends for line in send.voided_ids)
    return WholeOrder(first.order_id, first.event_id, first.revision, WHOLE_ORDER, first.reason, lines, voided)


def queue_chits(tx: Tx, order_id: int, sends: Sequence[Send], *, unseen: bool = False) -> list[int]:
    """Queue the chits of `sends` (one write's, for order `order_id`): one job per send for each kitchen
    printer of its station, and one whole-order job per event for each expo printer. With `unseen`
    (proof of sight's fallback for a send no screen showed in time): the station's printers, else
    the expo printers, headed NOT SEEN ON SCREEN, under their own key (kind "unseen"): once.
    Returns the ids of the jobs queued now (none for a send already queued)."""
    kitchen = [route for route in routes(tx) if route.role == "kitchen"]
    if not kitchen or not sends:
        return []
    expo = [route for route in kitchen if route.expo]
    ids: list[int | None] = []
    for send in sends:
        station = [route for route in kitchen if send.station in route.stations]
        if unseen:
            for route in station or expo:
                ids.append(_insert(tx, route.id, "unseen", send.order_id, send, send.station, [NOT_SEEN]))
        else:
            for route in station:
                ids.append(_insert(tx, route.id, "chit", send.order_id, send, send.station, []))
    if not unseen and expo:
        by_event: dict[int, list[Send]] = {}
        for send in sends:
            by_event.setdefault(send.event_id, []).append(send)
        for grouped in by_event.values():
            whole = _whole(grouped)
            for route in expo:
                ids.append(_insert(tx, route.id, "chit", whole.order_id, whole, WHOLE_ORDER, []))
    return _queued(tx, [job for job in ids if job is not None], order_id)


def _printer(tx: Tx, printer_id: int) -> Any:
    row = tx.conn.execute(select(printers).where(printers.c.id == printer_id)).mappings().first()
    if row is None:
        raise NotFound(f"printer {printer_id} does not exist")
    return row


def _receipt_printer(tx: Tx, printer_id: int | None) -> int:
    """The receipt printer asked for, or the first one: 409 when none is set up, 404 for no such
    printer, 422 for a kitchen printer."""
    if printer_id is None:
        first = tx.conn.execute(select(func.min(printers.c.id)).where(printers.c.role == "receipt")).scalar_one()
        if first is None:
            raise Conflict("no receipt printer is set up: add one in the console first", reason="no_receipt_printer")
        return int(first)
    printer = _printer(tx, printer_id)
    if printer["role"] != "receipt":
        raise Invalid(f"{printer['name']} is a kitchen printer", {"printer_id": "not a receipt printer"})
    return printer_id


def queue_receipt(tx: Tx, order: Mapping[str, Any], printer_id: int | None) -> int:
    """Queue a customer receipt of `order` (as the caller just read it in this transaction; its
    `print.receipt` event carries it) on the given receipt printer, or the first one. A second
    receipt of an order is copy n+1, marked REPRINT."""
    printer_id = _receipt_printer(tx, printer_id)
    order_id = int(order["id"])
    event = tx.emit("print.receipt", dict(order))
    earlier = tx.conn.execute(
        select(func.count()).where(print_jobs.c.kind == "receipt", print_jobs.c.order_id == order_id)
    ).scalar_one()
    headers = [REPRINT] if earlier else []
    job_id = _insert_job(tx, printer_id, "receipt", order_id, event.id, int(order["revision"]), headers, int(earlier))
    _queued(tx, [job_id], order_id)
    return job_id


def queue_report(tx: Tx, printer_id: int | None, report: Mapping[str, Any]) -> int:
    """Queue a service day's report (`report`: the DayReport JSON, as the caller just computed it in
    this transaction) on the given receipt printer, or the first one. Its `print.report` event
    carries the report and the moment it was asked for, so a retry or a reprint prints the very same
    figures; the job's key is that event. A second report of the same day and kind (X or Z) is copy
    n+1, marked REPRINT."""
    printer_id = _receipt_printer(tx, printer_id)
    event = tx.emit("print.report", {**report, "printed_at": iso(tx.now)})
    which = json.dumps({"business_date": report["business_date"], "kind": report["kind"]})
    earlier = int(
        tx.conn.execute(
            select(func.count()).where(print_jobs.c.kind == "report", print_jobs.c.send == which)
        ).scalar_one()
    )
    headers = [REPRINT] if earlier else []
    job_id = _insert_job(tx, printer_id, "report", None, event.id, 0, headers, earlier, send=which)
    _queued(tx, [job_id], None)
    return job_id


def _insert_job(
    tx: Tx,
    printer_id: int,
    kind: str,
    order_id: int | None,
    event_id: int,
    revision: int,
    headers: list[str],
    copy: int,
    station: str = "",
    send: str = "{}",
) -> int:
    values = {
        "printer_id": printer_id,
        "target_printer_id": printer_id,
        "kind": kind,
        "order_id": order_id,
        "event_id": event_id,
        "revision": revision,
        "station": station,
        "send": send,
        "headers": json.dumps(headers),
        "copy": copy,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": tx.now,
        "created_at": tx.now,
    }
    return int(tx.conn.execute(insert(print_jobs).values(values).returning(print_jobs.c.id)).scalar_one())


def queue_test_page(tx: Tx, printer_id: int) -> int:
    """Queue a test page on the printer (its `print.test` event names it)."""
    printer = _printer(tx, printer_id)
    event = tx.emit("print.test", {"id": printer_id, "name": printer["name"]})
    job_id = _insert_job(tx, printer_id, "test", None, event.id, 0, [], 0)
    _queued(tx, [job_id], None)
    return job_id


def job_out(row: Any) -> dict[str, Any]:
    """A job as the API answers it (schemas_out.PrintJobOut)."""
    return {
        "id": row["id"],
        "printer_id": row["printer_id"],
        "target_printer_id": row["target_printer_id"],
        "kind": row["kind"],
        "order_id": row["order_id"],
        "event_id": row["event_id"],
        "revision": row["revision"],
        "station": row["station"],
        "headers": json.loads(row["headers"]),
        "copy": row["copy"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso_or_none(row["next_attempt_at"]),
        "first_failed_at": iso_or_none(row["first_failed_at"]),
        "printed_at": iso_or_none(row["printed_at"]),
        "printed_on": row["printed_on"],
        "error": row["error"],
        "created_at": iso_or_none(row["created_at"]),
    }


def load_job(tx_or_conn: Any, job_id: int) -> dict[str, Any]:
    row = tx_or_conn.execute(select(print_jobs).where(print_jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"print job {job_id} does not exist")
    return job_out(row)


async def reprint(store: Store, job_id: int, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """A new job for the same print, copy n+1, headed REPRINT, on the printer it was meant for.
    With `idempotency_key` (stored, scoped), a retry answers the same new job. (job, replayed)."""

    def unit(tx: Tx) -> tuple[dict[str, Any], bool]:
        row = tx.conn.execute(select(print_jobs).where(print_jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"print job {job_id} does not exist")
        fingerprint = f"reprint:{job_id}"
        if idempotency_key is not None:
            earlier = replayed(tx, idempotency_key, fingerprint)
            if earlier is not None:
                return load_job(tx.conn, earlier), True
        same = (
            print_jobs.c.kind == row["kind"],
            print_jobs.c.event_id == row["event_id"],
            print_jobs.c.station == row["station"],
            print_jobs.c.printer_id == row["printer_id"],
        )
        copy = int(tx.conn.execute(select(func.max(print_jobs.c.copy)).where(*same)).scalar_one()) + 1
        headers = [h for h in json.loads(row["headers"]) if not h.startswith(BACKUP_FOR) and h != REPRINT]
        new_id = _insert_job(
            tx,
            row["printer_id"],
            row["kind"],
            row["order_id"],
            row["event_id"],
            row["revision"],
            [*headers, REPRINT],
            copy,
            row["station"],
            row["send"],
        )
        _queued(tx, [new_id], row["order_id"])
        if idempotency_key is not None and row["order_id"] is not None:
            remember(tx, idempotency_key, fingerprint, new_id, row["order_id"])
        return load_job(tx.conn, new_id), False

    return await store.write(unit)


# Idempotency keys of the POSTs that queue a print (forkflow/idempotency.py scopes and stores them):
# the stored request hash is the request's fingerprint and the job it queued, so a retry answers it.


def replayed(tx: Tx, key: str, fingerprint: str) -> int | None:
    """The job an earlier request with this key queued, or None; 422 if the key was used for
    something else."""
    from ..idempotency import KeyReused

    found = tx.sql("SELECT request_hash FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
    if found is None:
        return None
    stored, _, job = str(found[0]).rpartition("#")
    if stored != fingerprint or not job.isdigit():
        raise KeyReused()
    return int(job)


def remember(tx: Tx, key: str, fingerprint: str, job_id: int, order_id: int) -> None:
    tx.sql(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
        (key, f"{fingerprint}#{job_id}", order_id, tx.stored_now),
    )


async def print_test_page(store: Store, printer_id: int) -> dict[str, Any]:
    return await store.write(lambda tx: load_job(tx.conn, queue_test_page(tx, printer_id)))


async def order_jobs(store: Store, order_id: int) -> list[dict[str, Any]]:
    """The print jobs of an order, oldest first, with their status."""

    async with store.read() as conn:
        rows = (
            (await conn.execute(select(print_jobs).where(print_jobs.c.order_id == order_id).order_by(print_jobs.c.id)))
            .mappings()
            .all()
        )
    return [job_out(row) for row in rows]


async def waiting_jobs(store: Store) -> list[dict[str, Any]]:
    """Every job not printed (queued or failed), oldest first, up to 500."""

    async with store.read() as conn:
        rows = (
            (
                await conn.execute(
                    select(print_jobs).where(print_jobs.c.status != "printed").order_by(print_jobs.c.id).limit(500)
                )
            )
            .mappings()
            .all()
        )
    return [job_out(row) for row in rows]
