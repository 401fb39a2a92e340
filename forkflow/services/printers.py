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

The status columns are the print worker's (printing/worker.py); `printer_out` shows them as
`online` (true: its last attempt succeeded; false: failing; null: never used yet).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ..errors import Conflict, Invalid, NotFound
from ..models import PrinterIn
from ..schema import print_jobs, printers
from ..store import Store, Tx
from .representation import iso_or_none

QUEUED = (print_jobs.c.status == "queued",)


def bump_revision(tx: Tx) -> None:
    """A printer's set-up changed: every write path's cached routing is stale."""
    tx.sql("UPDATE printer_revision SET revision = revision + 1 WHERE id = 1")


def printer_out(row: Any, queued: int) -> dict[str, Any]:
    """A printer as the API, the console and its events show it (schemas_out.PrinterOut)."""
    online = None if row["last_ok_at"] is None and row["failing_since"] is None else row["failing_since"] is None
    return {
        "id": row["id"],
        "name": row["name"],
        "host": row["host"],
        "port": row["port"],
        "role": row["role"],
        "stations": json.loads(row["stations"]),
        "backup_printer_id": row["backup_printer_id"],
        "online": online,
        "last_ok_at": iso_or_none(row["last_ok_at"]),
        "last_error": row["last_error"],
        "last_error_at": iso_or_none(row["last_error_at"]),
        "failing_since": iso_or_none(row["failing_since"]),
        "queued_jobs": queued,
    }


def _queued_counts(conn: Connection) -> dict[int, int]:
    rows = conn.execute(
        select(print_jobs.c.target_printer_id, func.count()).where(*QUEUED).group_by(print_jobs.c.target_printer_id)
    )
    return {int(printer_id): int(count) for printer_id, count in rows}


def load_printer(conn: Connection, printer_id: int) -> dict[str, Any]:
    row = conn.execute(select(printers).where(printers.c.id == printer_id)).mappings().first()
    if row is None:
        raise NotFound(f"printer {printer_id} does not exist")
    return printer_out(row, _queued_counts(conn).get(printer_id, 0))


def _all(conn: Connection) -> list[dict[str, Any]]:
    counts = _queued_counts(conn)
    rows = conn.execute(select(printers).order_by(printers.c.name, printers.c.id)).mappings().all()
    return [printer_out(row, counts.get(row["id"], 0)) for row in rows]


async def list_printers(store: Store) -> list[dict[str, Any]]:
    """Every printer, by name, with its live status and queued jobs."""
    return await store.query(_all)


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
