"""The print-job queue and its worker, against fake ESC/POS printers on loopback (tests/fake_printer.py):
each chit printed exactly once, on an ok printer, through refused, hung and dropped connections (on
the backup, headed BACKUP FOR), across a restart, and with two server processes on one PostgreSQL.

Jobs are queued by the orders' own writes (services/dispatch.py); where a test queues them itself
(again, or proof of sight's fallback), it calls `queue_chits` in a write unit of its own Store on
the server's database, with the sends of a real order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.printing.jobs import queue_chits
from forkflow.services.dispatch import Send
from forkflow.store import Store

from .conftest import Server, _in_own_loop, create_menu, postgres_servers, running_server
from .fake_printer import FakePrinter, wait_until

FAST = {
    "FORKFLOW_PRINT_POLL_SECONDS": "0.2",
    "FORKFLOW_PRINTER_TIMEOUT_SECONDS": "1",
    "FORKFLOW_PRINTER_RETRY_SECONDS": "0.2",
    "FORKFLOW_PRINTER_RETRY_MAX_SECONDS": "0.4",
    "FORKFLOW_PRINTER_BACKUP_SECONDS": "1",
}


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env=FAST) as srv:
        yield srv


@pytest.fixture
def printers() -> Iterator[dict[str, FakePrinter]]:
    made: dict[str, FakePrinter] = {}
    yield made
    for printer in made.values():
        printer.close()


def fake(made: dict[str, FakePrinter], name: str, mode: str = "ok") -> FakePrinter:
    made[name] = FakePrinter(mode)
    return made[name]


def add_printer(server: Server, name: str, port: int, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "host": "127.0.0.1", "port": port, "role": "kitchen", **fields}
    response = httpx.post(f"{server.url}/printers", json=body, headers=server.auth("manager"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def place(server: Server, menu: dict[str, dict]) -> dict[str, Any]:
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [
            {"menu_item_id": menu["Classic Burger"]["id"], "quantity": 2},
            {"menu_item_id": menu["Fries"]["id"], "quantity": 1},
        ],
    }
    response = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def sends_of(server: Server, order: dict[str, Any]) -> list[Send]:
    """One send per station of the order, keyed by its `order.created` event (as dispatch records them)."""
    event_id = last_event_id(server, "order.created")
    stations: dict[str, list[int]] = {}
    for line in order["lines"]:
        stations.setdefault(line["station"], []).append(line["id"])
    return [Send(order["id"], event_id, 1, station, "new", tuple(ids)) for station, ids in stations.items()]


def last_event_id(server: Server, event_type: str) -> int:
    with sqlite3.connect(server.db) as db:
        return int(db.execute("SELECT max(id) FROM events WHERE type = ?", (event_type,)).fetchone()[0])


def store_url(server: Server) -> str:
    return server.database_url or sqlite_url(server.db)


def queue(server: Server, order: dict[str, Any], sends: list[Send], **options: Any) -> list[int]:
    """`queue_chits` in a write unit of this process's own Store on the server's database."""

    async def run() -> list[int]:
        store = Store(Settings(database_url=store_url(server)), Bus())
        await store.open(migrate=False)
        try:
            return await store.write(lambda tx: queue_chits(tx, int(order["id"]), sends, **options))
        finally:
            await store.close()

    result: list[int] = _in_own_loop(run)
    return result


def jobs_of(server: Server, order_id: int) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/print-jobs", params={"order_id": order_id}, headers=server.auth("cashier"), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def printed(server: Server, order_id: int, count: int) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        jobs = jobs_of(server, order_id)
        return jobs if len(jobs) == count and all(job["status"] == "printed" for job in jobs) else None

    found: list[dict[str, Any]] = wait_until(done, what=f"{count} job(s) of order {order_id} printed")  # type: ignore[assignment]
    return found


def test_a_chit_prints_once_per_station_printer_and_the_expo_gets_the_whole_order(
    fast_server: Server, printers: dict[str, FakePrinter]
) -> None:
    grill = fake(printers, "grill")
    expo = fake(printers, "expo")
    add_printer(fast_server, "Grill", grill.port, stations=["grill"])
    add_printer(fast_server, "Expo", expo.port)
    order = place(fast_server, create_menu(fast_server))  # its write queues its chits
    # grill's send on the grill printer; the whole order on the expo (fry has no printer)
    jobs = printed(fast_server, order["id"], 2)
    assert queue(fast_server, order, sends_of(fast_server, order)) == []  # the same sends again: no new job
    assert grill.wait_for(1) and expo.wait_for(1)
    assert {job["station"] for job in jobs} == {"grill", ""}
    [grill_chit], [expo_chit] = grill.chits(), expo.chits()
    assert "Classic Burger" in grill_chit.text and "Fries" not in grill_chit.text
    assert "Classic Burger" in expo_chit.text and "Fries" in expo_chit.text  # every station's lines
    assert grill_chit.styled(f"#{order['ticket_no']}").big
    asyncio.run(asyncio.sleep(0.6))  # several polls later: still once each
    assert len(grill.jobs) == 1 and len(expo.jobs) == 1


def test_an_unseen_send_prints_once_headed_not_seen_on_its_station_printer_or_the_expo(
    fast_server: Server, printers: dict[str, FakePrinter]
) -> None:
    grill = fake(printers, "grill")
    expo = fake(printers, "expo")
    order = place(fast_server, create_menu(fast_server))  # before the printers: it printed nothing
    add_printer(fast_server, "Grill", grill.port, stations=["grill"])
    add_printer(fast_server, "Expo", expo.port)
    by_station = {send.station: send for send in sends_of(fast_server, order)}
    assert len(queue(fast_server, order, [by_station["grill"]], unseen=True)) == 1  # its station's printer
    assert len(queue(fast_server, order, [by_station["fry"]], unseen=True)) == 1  # no fry printer: the expo
    assert queue(fast_server, order, [by_station["grill"]], unseen=True) == []  # once
    jobs = printed(fast_server, order["id"], 2)
    assert {(job["kind"], job["station"]) for job in jobs} == {("unseen", "grill"), ("unseen", "fry")}
    grill.wait_for(1)
    expo.wait_for(1)
    [on_grill], [on_expo] = grill.chits(), expo.chits()
    assert on_grill.styled("NOT SEEN ON SCREEN").inverted and "Classic Burger" in on_grill.text
    assert "NOT SEEN ON SCREEN" in on_expo.text and "Fries" in on_expo.text and "Classic Burger" not in on_expo.text


@pytest.mark.parametrize("mode", ["refuse", "hang", "drop"])
def test_a_printer_that_cannot_print_sends_the_chit_to_its_backup_once(
    fast_server: Server, printers: dict[str, FakePrinter], mode: str
) -> None:
    grill = fake(printers, "grill", mode)
    backup = fake(printers, "backup")
    spare = add_printer(fast_server, "Spare", backup.port, stations=["spare"])
    first = add_printer(fast_server, "Grill", grill.port, stations=["grill"], backup_printer_id=spare["id"])
    order = place(fast_server, create_menu(fast_server))
    [job] = printed(fast_server, order["id"], 1)
    assert job["printed_on"] == spare["id"] and job["printer_id"] == first["id"]
    assert job["headers"] == ["BACKUP FOR Grill"] and job["attempts"] >= 1
    backup.wait_for(1)
    [chit] = backup.chits()
    assert chit.styled("BACKUP FOR Grill").inverted and "Classic Burger" in chit.text
    assert chit.lines[0].strip() == "BACKUP FOR Grill"  # the header comes first
    status = httpx.get(f"{fast_server.url}/printers/{first['id']}", headers=fast_server.auth("manager")).json()
    assert status["online"] is False and status["failing_since"] and status["last_error"]
    grill.set_mode("ok")  # it comes back: nothing is printed there a second time
    asyncio.run(asyncio.sleep(1))
    assert grill.jobs == [] and len(backup.jobs) == 1


def test_a_reprint_is_a_second_copy_marked_reprint(fast_server: Server, printers: dict[str, FakePrinter]) -> None:
    grill = fake(printers, "grill")
    add_printer(fast_server, "Grill", grill.port, stations=["grill"])
    order = place(fast_server, create_menu(fast_server))
    [job] = printed(fast_server, order["id"], 1)
    headers = {**fast_server.auth("kitchen"), "Idempotency-Key": "reprint-1"}
    response = httpx.post(f"{fast_server.url}/print-jobs/{job['id']}/reprint", headers=headers)
    assert response.status_code == 202, response.text
    again = httpx.post(f"{fast_server.url}/print-jobs/{job['id']}/reprint", headers=headers)
    assert again.json()["id"] == response.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    copy = response.json()
    assert copy["copy"] == 1 and copy["headers"] == ["REPRINT"] and copy["station"] == "grill"
    printed(fast_server, order["id"], 2)
    grill.wait_for(2)
    first, second = grill.chits()
    assert "REPRINT" not in first.text and second.styled("REPRINT").inverted
    assert second.lines[1:] == first.lines  # the very same chit, under its REPRINT header
    asyncio.run(asyncio.sleep(0.6))
    assert len(grill.jobs) == 2


def test_a_retried_receipt_request_prints_once(fast_server: Server, printers: dict[str, FakePrinter]) -> None:
    till = fake(printers, "till")
    add_printer(fast_server, "Till", till.port, role="receipt")
    order = place(fast_server, create_menu(fast_server))
    url = f"{fast_server.url}/orders/{order['id']}/receipt"
    headers = {**fast_server.auth("cashier"), "Idempotency-Key": "receipt-abc"}
    answers = [httpx.post(url, json={}, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["id"] for a in answers}) == 1
    printed(fast_server, order["id"], 1)
    till.wait_for(1)
    [receipt] = till.chits()
    assert "REPRINT" not in receipt.text and "Classic Burger" in receipt.text
    other = httpx.post(url, json={}, headers={**fast_server.auth("cashier"), "Idempotency-Key": "receipt-abd"})
    assert other.json()["headers"] == ["REPRINT"]
    printed(fast_server, order["id"], 2)
    till.wait_for(2)
    assert till.chits()[1].text.count("REPRINT") == 1
    reused = httpx.post(f"{fast_server.url}/orders/{order['id']}/receipt", json={"printer_id": 999}, headers=headers)
    assert reused.status_code == 422


def test_no_job_is_lost_or_printed_twice_across_a_restart(tmp_path: Path, printers: dict[str, FakePrinter]) -> None:
    grill = fake(printers, "grill", "refuse")
    with running_server(tmp_path, env=FAST) as server:
        add_printer(server, "Grill", grill.port, stations=["grill"])
        menu = create_menu(server)
        orders = [place(server, menu) for _ in range(3)]
        # (A printer's jobs go in id order: the later ones wait behind the first one's retries.)
        wait_until(lambda: jobs_of(server, orders[0]["id"])[0]["attempts"] >= 1, what="a failed attempt")
        server.stop()
        grill.set_mode("ok")
        server.start()
        for order in orders:
            printed(server, order["id"], 1)
        assert len(grill.wait_for(3)) == 3
        asyncio.run(asyncio.sleep(0.6))
        assert len(grill.jobs) == 3


def test_a_graceful_stop_finishes_and_records_the_send_in_flight(
    tmp_path: Path, printers: dict[str, FakePrinter]
) -> None:
    grill = fake(printers, "grill", "slow")
    grill.slow_seconds = 1.5
    env = {**FAST, "FORKFLOW_PRINTER_TIMEOUT_SECONDS": "4"}
    with running_server(tmp_path, env=env) as server:
        add_printer(server, "Grill", grill.port, stations=["grill"])
        place(server, create_menu(server))
        wait_until(lambda: grill.connections >= 1, what="the send in flight")
        server.stop()  # while the printer has not answered yet
        assert len(grill.jobs) == 1  # the send was finished ...
        with sqlite3.connect(server.db) as db:  # ... and recorded before the process exited
            assert db.execute("SELECT status FROM print_jobs").fetchall() == [("printed",)]
        grill.set_mode("ok")
        server.start()
        asyncio.run(asyncio.sleep(1))
        assert len(grill.jobs) == 1 and grill.connections == 1  # not sent again


def test_two_servers_on_one_postgresql_print_each_job_once(tmp_path: Path, printers: dict[str, FakePrinter]) -> None:
    grill = fake(printers, "grill")
    expo = fake(printers, "expo")
    with postgres_servers(tmp_path, env=FAST) as (first, second):
        add_printer(first, "Grill", grill.port, stations=["grill"])
        add_printer(second, "Expo", expo.port)
        menu = create_menu(first)
        orders = [place((first, second)[n % 2], menu) for n in range(12)]
        grill.wait_for(12)
        expo.wait_for(12)
        asyncio.run(asyncio.sleep(1))
        assert len(grill.jobs) == 12 and len(expo.jobs) == 12
        for order in orders:
            assert all(job["status"] == "printed" for job in jobs_of(first, order["id"]))
