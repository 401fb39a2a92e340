"""The rush's fake printers (bench/printers.py, `bench/run.py --printers`): a chit is recorded when
its cut arrives, however the bytes are split; status requests are answered; chits are matched to
the writes that sent lines to each station (placed, released, a course fired), with none missing,
doubled or unknown; and a ForkFlow without `POST /printers` makes `--printers` fail plainly."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest

from bench.client import make_client
from bench.printers import (
    Chit,
    FakePrinter,
    chit_figures,
    expected_sends,
    register,
    start_printers,
    ticket_of,
)
from bench.stats import epoch
from forkflow.config import Settings
from forkflow.printing.chits import kitchen_chit

from .conftest import Server

SETTINGS = Settings()


def _line(line_id: int, station: str, fired: str | None = "2026-12-01T12:00:00.000Z", **extra: Any) -> dict[str, Any]:
    return {"id": line_id, "name": f"Dish {line_id}", "quantity": 1, "station": station, "fired_at": fired, **extra}


def _order(order_id: int, ticket: int, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "ticket_no": ticket,
        "channel": "counter",
        "customer_name": "Ada",
        "created_at": "2026-12-01T12:00:00.000Z",
        "updated_at": "2026-12-01T12:00:00.000Z",
        "held": False,
        "lines": lines,
        **extra,
    }


async def _send(port: int, *pieces: bytes, answers: int = 0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.01)
    answered = await asyncio.wait_for(reader.readexactly(answers), 5) if answers else b""
    writer.close()
    await writer.wait_closed()
    return answered


async def _until(printer: FakePrinter, count: int) -> None:
    for _ in range(500):
        if len(printer.chits) >= count:
            return
        await asyncio.sleep(0.01)


async def test_a_chit_is_recorded_at_its_cut_and_status_requests_are_answered() -> None:
    (printer,) = await start_printers(["grill"])
    try:
        first = kitchen_chit(_order(1, 41, [_line(1, "grill")]), None, station="grill", settings=SETTINGS)
        second = kitchen_chit(
            _order(2, 42, [_line(2, "grill")], customer_name="#7"),
            None,
            station="grill",
            headers=("BACKUP FOR Printer #3",),
            settings=SETTINGS,
        )
        # A status request first and one mid-job, the chits split anywhere, even inside the cut.
        answered = await _send(
            printer.port,
            *(b"\x10\x04\x01", first[:-2], first[-2:] + second[:7] + b"\x10", b"\x04\x04" + second[7:]),
            answers=2,
        )
        assert answered == b"\x12\x12"  # one status byte each, as a real printer answers
        await _until(printer, 2)
        assert [(c.ticket_no, c.station) for c in printer.chits] == [(41, "grill"), (42, "grill")]
        assert printer.status_requests == 2
        assert await _send(printer.port, b"\x10\x04\x01", answers=1) == b"\x12"
        assert await _send(printer.port, b"text without a cut") == b"" and len(printer.chits) == 2
    finally:
        await printer.stop()
    assert ticket_of(b"\x1b@no number here\n\x1dV\x00") is None


def test_chits_are_matched_to_the_writes_that_sent_lines_to_each_station() -> None:
    placed = _order(1, 11, [_line(1, "grill"), _line(2, "fryer"), _line(3, "cold", None, course=2)])
    fired = copy.deepcopy(placed)
    fired["lines"][2]["fired_at"] = "2026-12-01T12:00:05.000Z"
    fired["updated_at"] = "2026-12-01T12:00:05.000Z"
    moved = {**fired, "status": "preparing", "updated_at": "2026-12-01T12:00:06.000Z"}  # no lines sent
    held = _order(2, 12, [_line(4, "cold")], held=True, created_at="2026-12-01T12:00:01.000Z")
    released = {**held, "held": False, "updated_at": "2026-12-01T12:00:09.000Z"}
    before = _order(3, 13, [_line(5, "bar")])  # placed before the run: counted, not measured
    written = {
        10: ("order.updated", fired, epoch(fired["updated_at"])),
        11: ("order.updated", moved, epoch(moved["updated_at"])),
        12: ("order.created", held, epoch(held["created_at"])),
        13: ("order.released", released, epoch(released["updated_at"])),
        14: ("menu.item_updated", {"id": 5}, 0.0),
    }
    sends = expected_sends([placed, before], written)
    assert {key: len(writes) for key, writes in sends.items()} == {
        (11, "grill"): 1,
        (11, "fryer"): 1,
        (11, "cold"): 1,  # the fire of course 2
        (12, "cold"): 1,  # at its release, not when placed
        (13, "bar"): 1,
    }
    assert sends[(12, "cold")] == [(epoch(released["updated_at"]), True)]
    assert sends[(11, "grill")] == [(epoch(placed["created_at"]), False)]

    printers = [FakePrinter(station) for station in ("grill", "fryer", "cold", "bar")]
    at = epoch(released["updated_at"]) + 0.25
    printers[0].chits += [Chit("grill", 11, at, 100)]
    printers[2].chits += [Chit("cold", 11, at, 100), Chit("cold", 12, at, 100), Chit("cold", 12, at + 1, 100)]
    printers[3].chits += [Chit("bar", 13, at, 100), Chit("bar", None, at, 100), Chit("bar", 99, at, 100)]
    figures = chit_figures(printers, sends)
    assert (figures["expected"], figures["printed"]) == (5, 7)
    assert (figures["missing"], figures["duplicates"], figures["unknown"]) == (1, 1, 2)  # fryer; 12 twice; 2
    # Measured: the fire (printed 4.25 s after it) and the release (0.25 s); the rest were before the run.
    assert figures["latency_ms"]["count"] == 2 and figures["latency_ms"]["max"] == pytest.approx(4250, abs=1)


async def test_real_orders_printed_once_per_station_match_with_nothing_missing(server: Server) -> None:
    """Orders from a real server, each send rendered by forkflow.printing and sent to the station's
    fake printer as the print worker would: every write is matched to its chit."""
    headers = server.auth("manager")
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        dishes = {}
        for name, station in (("Burger", "grill"), ("Fries", "fryer"), ("Soup", "cold")):
            made = http.post("/menu", json={"name": name, "price_cents": 500, "category": "Mains", "station": station})
            dishes[name] = made.json()["id"]
        items = [{"menu_item_id": dishes["Burger"], "quantity": 1}, {"menu_item_id": dishes["Fries"], "quantity": 2}]
        table = http.post(
            "/orders",
            json={
                "customer_name": "T1",
                "channel": "table",
                "table": "1",
                "items": [*items, {"menu_item_id": dishes["Soup"], "quantity": 1, "course": 2}],
            },
        ).json()
        counter = http.post("/orders", json={"customer_name": "Bo", "channel": "counter", "items": items}).json()
        fired = http.post(f"/orders/{table['id']}/fire", json={"course": 2}).json()
    assert table["held_courses"] == [2] and fired["held_courses"] == []
    written = {1: ("order.created", counter, epoch(counter["created_at"]))}
    written[2] = ("order.updated", fired, epoch(fired["updated_at"]))
    sends = expected_sends([table], written)
    assert sorted(sends) == sorted(
        [(table["ticket_no"], s) for s in ("grill", "fryer", "cold")]
        + [(counter["ticket_no"], s) for s in ("grill", "fryer")]
    )
    printers = await start_printers(["grill", "fryer", "cold"])
    by_station = {printer.station: printer for printer in printers}
    try:
        jobs = [(table, "grill", ()), (table, "fryer", ("REPRINT",)), (counter, "grill", ()), (counter, "fryer", ())]
        jobs.append((fired, "cold", ("NOT SEEN ON SCREEN",)))
        for order, station, banner in jobs:
            chit = kitchen_chit(order, None, station=station, headers=banner, settings=SETTINGS)
            await _send(by_station[station].port, chit)
        for printer, count in zip(printers, (2, 2, 1), strict=True):
            await _until(printer, count)
        figures = chit_figures(printers, sends)
        assert (figures["expected"], figures["printed"]) == (5, 5)
        assert (figures["missing"], figures["duplicates"], figures["unknown"]) == (0, 0, 0)
        assert figures["latency_ms"]["count"] == 3  # the counter order's two and the fire; the table's were before
    finally:
        for printer in printers:
            await printer.stop()


async def test_printers_fail_plainly_where_forkflow_has_no_printers_api() -> None:
    """A server answering 404 to `POST /printers` (a ForkFlow from before issue 16's printers)."""

    async def answer_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found")
        await writer.drain()
        writer.close()

    stub = await asyncio.start_server(answer_404, "127.0.0.1", 0)
    client = make_client("raw", "127.0.0.1", stub.sockets[0].getsockname()[1], 1)
    printers = await start_printers(["grill"])
    try:
        with pytest.raises(RuntimeError, match="POST /printers answered 404.*without --printers"):
            await register(client, printers)
    finally:
        await client.aclose()
        for printer in printers:
            await printer.stop()
        stub.close()
        await stub.wait_closed()
