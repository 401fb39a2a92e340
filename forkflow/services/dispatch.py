"""Sends: what one write put in front of one kitchen station (issue 16).

Whenever an order's lines reach the kitchen (the order is placed and not held, a held order is
released, a course is fired, lines are added or voided after sending), the write that did it
records one *send* per station it reached, keyed by the order event that carries the change
(`record_sends`, called right after that write's `tx.emit`), and queues, in the same write, the
chits of the kitchen printers those stations have (forkflow/printing/jobs.py). Proof of sight
(services/sight.py) waits for a screen or a printer of that station to have it.

The invariant: a line reaches a station in exactly one send (placed, released, fired or added),
and its void in at most one more; status changes, rush, acknowledgements and holds send nothing.
A held order (scheduled, not yet released) sends nothing until its release, which sends every line
it has fired.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..events import Event
from ..formats import iso
from ..printing.jobs import queue_chits
from ..store import Tx
from ..vocabulary import SEND_REASONS

__all__ = ["NO_STATION", "SEND_REASONS", "Send", "print_unseen", "record_sends", "send_of_row"]

NO_STATION = ""  # the station of a dish that names none


@dataclass(frozen=True, slots=True)
class Send:
    """One station's part of one change: the lines that reached it and those voided on it, as of
    the order event `event_id` (whose payload is the order as it then stood)."""

    order_id: int
    event_id: int
    revision: int
    station: str
    reason: str  # one of SEND_REASONS
    line_ids: tuple[int, ...]  # lines arriving at the station (placed, released, fired or added)
    voided_ids: tuple[int, ...] = ()  # lines it had, voided by this change


# Plain SQL, as the order's own inserts (services/orders.py): this runs in every order's write.
_INSERT_SQL = "INSERT INTO sends (order_id, event_id, revision, station, reason, line_ids, voided_ids, sent_at) VALUES "
_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"
_SENT_SQL = "SELECT line_ids, voided_ids FROM sends WHERE order_id = ?"
_IDS_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _station(line: Mapping[str, Any]) -> str:
    return line.get("station") or NO_STATION


def _already_sent(tx: Tx, order_id: int) -> tuple[set[int], set[int]]:
    """The lines the order's earlier sends brought to their stations, and those they voided."""
    arrived: set[int] = set()
    voided: set[int] = set()
    for line_ids, voided_ids in tx.sql(_SENT_SQL, (order_id,)).fetchall():
        arrived.update(json.loads(line_ids))
        voided.update(json.loads(voided_ids))
    return arrived, voided


def _arriving(order: Mapping[str, Any], reason: str, now: str, sent: set[int]) -> Iterable[Mapping[str, Any]]:
    """The lines reaching their stations with this change: at placing or release, every fired line
    not voided; at a fire, those fired by this write; when lines are added, the fired lines of the
    order's new revision (never a line an earlier send brought)."""
    for line in order["lines"]:
        if line["fired_at"] is None or line["voided_at"] is not None:
            continue
        if reason in ("new", "released"):
            yield line
        elif line["id"] not in sent and (line["fired_at"] == now or line["revision"] == order["revision"]):
            yield line


def record_sends(tx: Tx, order: Mapping[str, Any], event: Event, reason: str) -> list[Send]:
    """Record, in the write that changed `order` (just emitted as `event`), one send per station
    that got something: the lines that reached it now and those it had that were voided now, and
    queue their chits. Nothing for an order still waiting for its release. Returns the sends, by
    station."""
    if reason not in SEND_REASONS:
        raise ValueError(f"unknown send reason {reason!r}")
    if order["held"]:
        return []
    now = iso(tx.now)
    arrived: set[int] = set()
    voided_before: set[int] = set()
    if reason not in ("new", "released"):  # (a new order has no earlier send: the hot path reads nothing)
        arrived, voided_before = _already_sent(tx, order["id"])
    lines: dict[str, list[int]] = {}
    for line in _arriving(order, reason, now, arrived):
        lines.setdefault(_station(line), []).append(line["id"])
    voids: dict[str, list[int]] = {}
    if reason == "void":
        for line in order["lines"]:
            if line["voided_at"] == now and line["fired_at"] is not None and line["id"] not in voided_before:
                voids.setdefault(_station(line), []).append(line["id"])
    stations = sorted(lines.keys() | voids.keys())
    if not stations:
        return []
    sends = [
        Send(
            order["id"],
            event.id,
            order["revision"],
            station,
            reason,
            tuple(lines.get(station, ())),
            tuple(voids.get(station, ())),
        )
        for station in stations
    ]
    values: list[Any] = []
    for send in sends:
        values += (send.order_id, send.event_id, send.revision, send.station, send.reason)
        values += (_IDS_JSON(list(send.line_ids)), _IDS_JSON(list(send.voided_ids)), tx.stored_now)
    tx.sql(_INSERT_SQL + ", ".join([_ROW] * len(sends)), values)
    queue_chits(tx, int(order["id"]), sends)
    return sends


def print_unseen(tx: Tx, send: Send) -> None:
    """Proof of sight's fallback for a send no screen showed in time: its chit, NOT SEEN ON SCREEN,
    on the station's printer (or the expo printer), once (sight.py's alarm, wired in app.py)."""
    queue_chits(tx, send.order_id, [send], unseen=True)


def send_of_row(row: Any) -> Send:
    """A `sends` row (anything with its columns) as a Send."""
    return Send(
        row.order_id,
        row.event_id,
        row.revision,
        row.station,
        row.reason,
        tuple(json.loads(row.line_ids)),
        tuple(json.loads(row.voided_ids)),
    )
