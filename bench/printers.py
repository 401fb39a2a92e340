"""Fake ESC/POS kitchen printers for the rush (`--printers`): one per station, on loopback, in the
bench process, and the chit figures they give.

A printer is an asyncio TCP server that reads what it is sent, answers each real-time status
request (DLE EOT n) with one status byte as a real printer does (0x12: online, no error), and
records each chit when its cut (GS V) has arrived: the wall-clock time then, and the ticket number
found in it (the row that is just "#123", which kitchen chits print large near their top; a minimal
parse of the bench's own, independent of the tests' decoder). Chits are matched to the writes that
sent lines to the printer's station (an order placed, released, or a course fired), each write's
commit time being what the rush's commit-to-delivery measure takes: the event payload's
`created_at` (placed) or `updated_at`. Latency is (chit complete at the printer) - (commit).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .client import Client
from .servers import HOST
from .stats import epoch, summary

STATUS_OK = b"\x12"  # DLE EOT 1..4 answer: bits 1 and 4 always set, nothing wrong
_STATUS_REQUEST = re.compile(rb"\x10\x04[\x01-\x04]")
_CUT = re.compile(rb"\x1dV(?:[\x00\x01\x30\x31]|[\x41\x42\x61\x62].)", re.DOTALL)
# The ticket number's row: "#123" right after a command (its last byte a control byte), then LF.
_TICKET = re.compile(rb"(?:^|[\x00-\x1f])#(\d+)\n")


@dataclass(frozen=True, slots=True)
class Chit:
    station: str
    ticket_no: int | None  # None: no "#123" row found
    received: float  # time.time() when the read holding its cut returned
    size: int


def ticket_of(chit: bytes) -> int | None:
    found = _TICKET.search(chit)
    return int(found.group(1)) if found else None


@dataclass
class FakePrinter:
    """One station's printer: `chits` in the order their cuts arrived."""

    station: str
    port: int = 0
    chits: list[Chit] = field(default_factory=list)
    status_requests: int = 0
    connections: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> FakePrinter:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        buffer, asked_at = b"", 0  # bytes since the last cut; where status requests were last looked for
        try:
            while data := await reader.read(65536):
                received = time.time()
                buffer += data
                requests = len(_STATUS_REQUEST.findall(buffer, max(0, asked_at - 2)))
                if requests:
                    self.status_requests += requests
                    writer.write(STATUS_OK * requests)
                    await writer.drain()
                asked_at = len(buffer)
                while cut := _CUT.search(buffer):
                    chit, buffer = buffer[: cut.end()], buffer[cut.end() :]
                    self.chits.append(Chit(self.station, ticket_of(chit), received, len(chit)))
                    asked_at = len(buffer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def start_printers(stations: Iterable[str]) -> list[FakePrinter]:
    return [await FakePrinter(station).start() for station in stations]


async def register(client: Client, printers: list[FakePrinter]) -> None:
    """Add each printer to ForkFlow the way a manager does: `POST /printers` (issue 16's API). A
    ForkFlow without that API answers 404: say so plainly rather than measure nothing."""
    for printer in printers:
        body = {
            "name": f"Bench {printer.station}",
            "host": HOST,
            "port": printer.port,
            "role": "kitchen",
            "stations": [printer.station],
        }
        resp = await client.request("POST", "/printers", json.dumps(body).encode())
        if resp.status == 404:
            raise RuntimeError(
                "--printers: POST /printers answered 404: this version of ForkFlow has no printers API"
                " (issue 16); run the rush without --printers (--no-printers on a full run)"
            )
        if resp.status not in (200, 201):
            raise RuntimeError(f"--printers: POST /printers answered {resp.status}: {resp.body[:300]!r}")


def _fired(order: dict[str, Any]) -> dict[int, str]:
    """The lines of `order` in front of the kitchen: fired, not voided (line id -> station)."""
    return {
        line["id"]: line.get("station") or ""
        for line in order.get("lines", ())
        if line.get("fired_at", True) and line.get("voided_at") is None
    }


def expected_sends(
    placed_before: Iterable[dict[str, Any]], written: dict[int, tuple[str, dict[str, Any], float]]
) -> dict[tuple[int, str], list[tuple[float, bool]]]:
    """Per (ticket number, station), each write that put lines in front of that station: (commit
    time, measured). Orders placed before the run (`placed_before`, their POST answers) count but
    are not measured; then every order event of the run in id order (`written`, the reference
    listener's): a placed order not held sends its fired lines, a held one nothing until it is
    released (then all), and an update sends the lines it fired (a course)."""
    last: dict[int, dict[str, Any]] = {}
    sends: dict[tuple[int, str], list[tuple[float, bool]]] = defaultdict(list)
    events = [(order, epoch(order["created_at"]), False) for order in placed_before]
    events += [(payload, stamp, True) for t, payload, stamp in written.values() if t.startswith("order.")]
    for order, stamp, measured in events:
        before = last.get(order["id"])
        now = {} if order.get("held") else _fired(order)
        if before is not None and not before.get("held"):
            now = {line: station for line, station in now.items() if line not in _fired(before)}
        for station in set(now.values()):
            sends[(order["ticket_no"], station)].append((stamp, measured))
        last[order["id"]] = order
    return sends


def chit_figures(printers: list[FakePrinter], sends: dict[tuple[int, str], list[tuple[float, bool]]]) -> dict[str, Any]:
    """Chits against the writes that should each have printed one: missing, duplicates (more chits
    than writes for a ticket at a station), unknown (no ticket number, or a ticket or station no
    write sent), and the latency of each measured write's chit (the k-th chit of a ticket at a
    station is the k-th write's)."""
    got: dict[tuple[int, str], list[float]] = defaultdict(list)
    unknown = 0
    for printer in printers:
        for chit in printer.chits:
            if chit.ticket_no is None or (chit.ticket_no, chit.station) not in sends:
                unknown += 1
            else:
                got[(chit.ticket_no, chit.station)].append(chit.received)
    delays: list[float] = []
    missing = duplicates = 0
    for key, writes in sends.items():
        chits = sorted(got.get(key, []))
        missing += max(0, len(writes) - len(chits))
        duplicates += max(0, len(chits) - len(writes))
        for (stamp, measured), received in zip(sorted(writes), chits, strict=False):
            if measured:
                delays.append((received - stamp) * 1000)
    return {
        "printers": len(printers),
        "expected": sum(len(writes) for writes in sends.values()),
        "printed": sum(len(printer.chits) for printer in printers),
        "missing": missing,
        "duplicates": duplicates,
        "unknown": unknown,
        "status_requests": sum(printer.status_requests for printer in printers),
        "latency_ms": summary(delays),
    }


async def wait_for_chits(
    printers: list[FakePrinter], sends: dict[tuple[int, str], list[tuple[float, bool]]], quiet: float = 3.0
) -> None:
    """Until every write has its chit, or no chit has arrived for `quiet` seconds (at most 120 s)."""
    wanted = sum(len(writes) for writes in sends.values())
    started = last_change = time.monotonic()
    count = -1
    while time.monotonic() - last_change < quiet and time.monotonic() - started < 120:
        now = sum(len(printer.chits) for printer in printers)
        if now >= wanted:
            return
        if now != count:
            count, last_change = now, time.monotonic()
        await asyncio.sleep(0.1)
