"""Kitchen and receipt printers: their set-up (add, list, read, change, remove) and live status.

Each change is one write unit with its event (`printer.created`, `printer.updated`,
`printer.deleted`, topic "kitchen") and bumps `printer_revision`, so the order writer's cached
routing (printing/jobs.py) is dropped in the same transaction. Rules:

- names are unique; stations may be any names (a printer can be set up before a dish names its
  station); a kitchen printer with none is an expo printer; a receipt printer has none;
- a backup printer must exist, not be the printer itself, and not lead back to it (no cycles);
- a printer with queued jobs cannot be removed (409): its jobs go to its backup after
  FORKFLOW_PRINTER_BACKUP_SECONDS, or print once it is back. Removing a printer deletes its job
  history, and a printer naming it as backup is left with none.

The status columns are the print worker's (printing/worker.py); printing/status.py shows a printer
(set-up and status) the same way for both. The till's "Print receipt" is here too (`print_receipt`):
it reads the order, which only services/ may.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from ..errors import Conflict, Invalid
from ..models import PrinterIn
from ..printing import jobs
from ..printing.status import all_printers, load_printer
from ..schema import print_jobs, printers
from ..store import Store, Tx
from .orders import _load

QUEUED = (print_jobs.c.status == "queued",)


def bump_revision(tx: Tx) -> None:
    """A printer's set-up changed: every write path's cached routing is stale."""
    tx.sql("UPDATE printer_revision SET revision = revision + 1 WHERE id = 1")


async def list_printers(store: Store) -> list[dict[str, Any]]:
    """Every printer, by name, with its live status and queued jobs."""
    return await store.query(all_printers)


async def get_printer(store: Store, printer_id: int) -> dict[str, Any]:
    return await store.query(load_printer, printer_id)


def _check(tx: Tx, data: PrinterIn, printer_id: int | None) -> None:
    """422/409 for what needs the database: a name taken, a backup missing, itself, or a cycle."""
    taken = tx.conn.execute(select(printers.c.id).where(printers.c.name == data.name)).scalar()
    if taken is not None and taken != printer_id:
        raise Conflict(f"a printer named {data.name!r} exists already", {"name": "taken"})
    backup = data.backup_printer_id
    if backup is None:
        return
    if backup == printer_id:
        raise Invalid("a printer cannot be its own backup", {"backup_printer_id": "the printer itself"})
    backups = dict(tx.conn.execute(select(printers.c.id, printers.c.backup_printer_id)).all())
    if backup not in backups:
        raise Invalid(f"printer {backup} does not exist", {"backup_printer_id": "no such printer"})
    seen = {backup}
    step = backups.get(backup)
    while step is not None and step not in seen:
        if step == printer_id:
            raise Invalid("the backups would go round in a circle", {"backup_printer_id": "leads back to this printer"})
        seen.add(step)
        step = backups.get(step)


def _values(data: PrinterIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "host": data.host,
        "port": data.port,
        "role": data.role,
        "stations": json.dumps(data.stations),
        "backup_printer_id": data.backup_printer_id,
    }


async def add_printer(store: Store, data: PrinterIn) -> dict[str, Any]:
    def unit(tx: Tx) -> dict[str, Any]:
        _check(tx, data, None)
        values = {**_values(data), "created_at": tx.now, "updated_at": tx.now}
        printer_id = tx.conn.execute(insert(printers).values(values).returning(printers.c.id)).scalar_one()
        bump_revision(tx)
        printer = load_printer(tx.conn, printer_id)
        tx.emit("printer.created", printer)
        return printer

    return await store.write(unit)


async def update_printer(store: Store, printer_id: int, data: PrinterIn) -> dict[str, Any]:
    def unit(tx: Tx) -> dict[str, Any]:
        load_printer(tx.conn, printer_id)  # 404 first
        _check(tx, data, printer_id)
        values = {**_values(data), "updated_at": tx.now}
        tx.conn.execute(update(printers).where(printers.c.id == printer_id).values(values))
        bump_revision(tx)
        printer = load_printer(tx.conn, printer_id)
        tx.emit("printer.updated", printer)
        return printer

    return await store.write(unit)


async def remove_printer(store: Store, printer_id: int) -> None:
    def unit(tx: Tx) -> None:
        printer = load_printer(tx.conn, printer_id)
        queued = tx.conn.execute(
            select(func.count()).where(
                *QUEUED, (print_jobs.c.target_printer_id == printer_id) | (print_jobs.c.printer_id == printer_id)
            )
        ).scalar_one()
        if queued:
            raise Conflict(
                f"{printer['name']} has {queued} job(s) waiting to print: remove it once they have printed "
                "(they go to its backup when it keeps failing)",
                reason="printer_has_jobs",
                queued_jobs=queued,
            )
        tx.conn.execute(delete(printers).where(printers.c.id == printer_id))
        bump_revision(tx)
        tx.emit("printer.deleted", {"id": printer_id, "name": printer["name"]})

    await store.write(unit)


async def print_receipt(
    store: Store, order_id: int, printer_id: int | None, idempotency_key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The till's "Print receipt" (`POST /orders/{id}/receipt`): the order as it stands, queued on
    `printer_id` or the first receipt printer, once per key (stored, scoped). (job, replayed)."""

    def unit(tx: Tx) -> tuple[dict[str, Any], bool]:
        fingerprint = f"receipt:{order_id}:{printer_id or ''}"
        if idempotency_key is not None:
            earlier = jobs.replayed(tx, idempotency_key, fingerprint)
            if earlier is not None:
                return jobs.load_job(tx.conn, earlier), True
        job_id = jobs.queue_receipt(tx, _load(tx.conn, order_id), printer_id)
        if idempotency_key is not None:
            jobs.remember(tx, idempotency_key, fingerprint, job_id, order_id)
        return jobs.load_job(tx.conn, job_id), False

    return await store.write(unit)
