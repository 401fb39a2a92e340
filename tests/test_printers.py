"""Printers' set-up through the API: validation, add/read/change/remove, roles, live status, events
(topic kitchen), and migration 0015."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.store import Store, _alembic_config

from .conftest import Server, old_database, running_server
from .fake_printer import FakePrinter, wait_until

GRILL = {"name": "Grill", "host": "192.168.1.50", "port": 9100, "role": "kitchen", "stations": ["grill"]}


def _post(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/printers", json={**GRILL, **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"name": "   "}, "name"),
        ({"host": "http://printer"}, "host"),
        ({"host": "two words"}, "host"),
        ({"host": "printer:9100"}, "host"),
        ({"host": ""}, "host"),
        ({"host": " 10.0.0.7"}, "host"),
        ({"host": "::1"}, "host"),
        ({"host": "a" * 64}, "host"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"port": "9100"}, "port"),
        ({"role": "bar"}, "role"),
        ({"stations": [""]}, "stations.0"),
        ({"backup_printer_id": 999}, "backup_printer_id"),
    ],
)
def test_bad_set_ups_are_422_naming_the_field_and_nothing_is_written(
    client: httpx.Client, fields: dict[str, Any], field: str
) -> None:
    response = _post(client, **fields)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert client.get("/printers").json() == []


def test_a_receipt_printer_prints_for_no_station(client: httpx.Client) -> None:
    response = _post(client, role="receipt", stations=["grill"])
    assert response.status_code == 201 and response.json()["stations"] == []


def test_hosts_take_names_and_addresses(client: httpx.Client) -> None:
    for n, host in enumerate(["grill-printer.lan", "10.0.0.7", "PRINTER"]):
        response = _post(client, name=f"P{n}", host=host)
        assert response.status_code == 201, response.text
    assert [p["host"] for p in client.get("/printers").json()] == ["grill-printer.lan", "10.0.0.7", "printer"]


def test_a_printer_is_added_read_changed_and_removed(client: httpx.Client) -> None:
    created = _post(client)
    assert created.status_code == 201, created.text
    grill = created.json()
    assert created.headers["Location"] == f"/printers/{grill['id']}"
    assert grill | {"id": 0} == {
        **GRILL,
        "id": 0,
        "backup_printer_id": None,
        "online": None,
        "last_ok_at": None,
        "last_error": None,
        "last_error_at": None,
        "failing_since": None,
        "queued_jobs": 0,
    }
    assert _post(client).status_code == 409  # the name is taken
    expo = _post(client, name="Expo", stations=[], port=9101).json()
    changed = client.put(f"/printers/{grill['id']}", json={**GRILL, "backup_printer_id": expo["id"]})
    assert changed.status_code == 200 and changed.json()["backup_printer_id"] == expo["id"]
    assert client.get(f"/printers/{grill['id']}").json()["backup_printer_id"] == expo["id"]
    assert [p["name"] for p in client.get("/printers").json()] == ["Expo", "Grill"]
    assert client.delete(f"/printers/{expo['id']}").status_code == 204
    assert client.get(f"/printers/{grill['id']}").json()["backup_printer_id"] is None  # its backup went with it
    assert client.get(f"/printers/{expo['id']}").status_code == 404
    assert client.put("/printers/999", json=GRILL).status_code == 404
    assert client.delete("/printers/999").status_code == 404


def test_backups_cannot_go_round_in_a_circle(client: httpx.Client) -> None:
    a = _post(client, name="A").json()
    b = _post(client, name="B", backup_printer_id=a["id"]).json()
    c = _post(client, name="C", backup_printer_id=b["id"]).json()
    itself = client.put(f"/printers/{a['id']}", json={**GRILL, "name": "A", "backup_printer_id": a["id"]})
    assert itself.status_code == 422 and "backup_printer_id" in itself.json()["error"]["fields"]
    circle = client.put(f"/printers/{a['id']}", json={**GRILL, "name": "A", "backup_printer_id": c["id"]})
    assert circle.status_code == 422 and "backup_printer_id" in circle.json()["error"]["fields"]
    assert client.get(f"/printers/{a['id']}").json()["backup_printer_id"] is None


def test_only_managers_set_printers_up_and_staff_read_them(server: Server) -> None:
    for role in ("kitchen", "cashier"):
        response = httpx.post(f"{server.url}/printers", json=GRILL, headers=server.auth(role))
        assert response.status_code == 403
        assert httpx.get(f"{server.url}/printers", headers=server.auth(role)).status_code == 200
    assert httpx.get(f"{server.url}/printers").status_code == 401


def test_a_printer_with_jobs_waiting_cannot_be_removed_and_its_status_is_live(tmp_path: Path) -> None:
    env = {"FORKFLOW_PRINTER_TIMEOUT_SECONDS": "1", "FORKFLOW_PRINTER_RETRY_SECONDS": "0.2"}
    printer = FakePrinter("refuse")
    try:
        with (
            running_server(tmp_path, env=env) as server,
            httpx.Client(base_url=server.url, headers=server.auth("manager"), timeout=10) as client,
        ):
            made = client.post("/printers", json={**GRILL, "host": "127.0.0.1", "port": printer.port}).json()
            with client.stream("GET", "/events", params={"topics": "kitchen"}) as stream:
                assert client.post(f"/printers/{made['id']}/test").status_code == 202
                seen = _events_until(stream, "printer.status")
            failing = seen["printer.status"]
            assert failing["online"] is False and "refused" in failing["last_error"] and failing["queued_jobs"] == 1
            assert "print.queued" in seen and "print.test" in seen
            refused = client.delete(f"/printers/{made['id']}")
            assert refused.status_code == 409 and refused.json()["error"]["reason"] == "printer_has_jobs"
            printer.set_mode("ok")
            wait_until(lambda: client.get(f"/printers/{made['id']}").json()["online"], what="the printer back online")
            back = client.get(f"/printers/{made['id']}").json()
            assert back["queued_jobs"] == 0 and back["failing_since"] is None and back["last_ok_at"]
            assert len(printer.wait_for(1)) == 1
            assert client.delete(f"/printers/{made['id']}").status_code == 204
    finally:
        printer.close()


def _events_until(stream: Any, wanted: str) -> dict[str, Any]:
    import json

    seen: dict[str, Any] = {}
    event = None
    for line in stream.iter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event is not None:
            seen[event] = json.loads(line.split(":", 1)[1])
            if event == wanted:
                return seen
    raise AssertionError(f"no {wanted} event")


async def test_migration_0015_makes_the_printer_tables_on_a_database_at_0014(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_database(db, "0014")
    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT revision FROM printer_revision").fetchall() == [(0,)]
        assert conn.execute("SELECT count(*) FROM print_jobs").fetchone() == (0,)
        assert conn.execute("SELECT customer_name FROM orders").fetchall() == [("Ada",)]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0014")
    engine.dispose()
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"printers", "print_jobs", "printer_revision"} & tables
    await asyncio.sleep(0)
