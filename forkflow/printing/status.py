"""Printers as the API, the screens and their events show them: set-up and live status.

One owner for a printer's representation (schemas_out.PrinterOut), read by services/printers.py
(set-up changes) and the print worker (status changes) alike. `online`: true when its last attempt
succeeded, false while it is failing (`failing_since`), null when it has never been used.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from ..errors import NotFound
from ..formats import iso_or_none
from ..schema import print_jobs, printers


def printer_out(row: Any, queued: int) -> dict[str, Any]:
    """A printers row, with its count of jobs waiting to print on it."""
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


def queued_counts(conn: Connection) -> dict[int, int]:
    """Jobs waiting, by the printer they go to now."""
    rows = conn.execute(
        select(print_jobs.c.target_printer_id, func.count())
        .where(print_jobs.c.status == "queued")
        .group_by(print_jobs.c.target_printer_id)
    )
    return {int(printer_id): int(count) for printer_id, count in rows}


def load_printer(conn: Connection, printer_id: int) -> dict[str, Any]:
    row = conn.execute(select(printers).where(printers.c.id == printer_id)).mappings().first()
    if row is None:
        raise NotFound(f"printer {printer_id} does not exist")
    return printer_out(row, queued_counts(conn).get(printer_id, 0))


def all_printers(conn: Connection) -> list[dict[str, Any]]:
    """Every printer, by name."""
    counts = queued_counts(conn)
    rows = conn.execute(select(printers).order_by(printers.c.name, printers.c.id)).mappings().all()
    return [printer_out(row, counts.get(row["id"], 0)) for row in rows]
