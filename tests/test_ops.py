"""Operations: /metrics, JSON logs, `forkflow backup` under load, and `--workers` on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from forkflow import cli

from .conftest import Server, order_body
from .sse import Listener

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server, role: str = "manager") -> Samples:
    response = httpx.get(f"{server.url}/metrics", headers=server.auth(role), timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def forkflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forkflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


# /metrics


def test_metrics_count_requests_orders_and_time_them_by_route_template(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    ids = []
    for _ in range(3):
        response = client.post("/orders", json=order_body(menu))
        assert response.status_code == 201
        ids.append(response.json()["id"])
    for order_id in ids[:2]:
        assert client.get(f"/orders/{order_id}").status_code == 200
    assert client.get("/orders/999999").status_code == 404
    assert client.get("/no/such/page").status_code == 404

    samples = scrape(server)
    assert value(samples, "forkflow_orders_created_total") == 3
    assert value(samples, "forkflow_http_requests_total", method="POST", route="/orders", status="201") == 3
    assert value(samples, "forkflow_http_requests_total", method="POST", route="/menu", status="201") == 4
    assert value(samples, "forkflow_http_requests_total", method="GET", route="/orders/{id}", status="200") == 2
    assert value(samples, "forkflow_http_requests_total", method="GET", route="/orders/{id}", status="404") == 1
    assert value(samples, "forkflow_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    # One series per route, never per order id or raw path.
    routes = {dict(labels).get("route") for _, labels in samples}
    assert not any(str(order_id) in (route or "") for route in routes for order_id in ids)
    assert "/no/such/page" not in routes

    histogram = "forkflow_http_request_duration_seconds"
    assert value(samples, f"{histogram}_count", route="/orders") == 3
    assert value(samples, f"{histogram}_bucket", route="/orders", le="+Inf") == 3
    assert value(samples, f"{histogram}_count", route="/orders/{id}") == 3
    total = value(samples, f"{histogram}_sum", route="/orders")
    assert total is not None and 0 < total < 30
    fast = value(samples, f"{histogram}_bucket", route="/orders", le="10.0")
    assert fast == 3

    assert value(samples, "forkflow_write_queue_depth") == 0
    assert value(samples, "forkflow_events_lag") == 0
    assert value(samples, "forkflow_sse_streams_open") == 0
    # 4 menu items and 3 orders, each one event; the bus published every one of them.
    assert value(samples, "forkflow_last_event_id") == 7

    # The scrape itself is counted by the next one.
    again = scrape(server)
    assert value(again, "forkflow_http_requests_total", method="GET", route="/metrics", status="200") == 1


async def test_open_streams_gauge_counts_an_open_event_stream_and_leaves_it_out_of_latency(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager"), timeout=10) as http:

        async def gauge() -> float | None:
            response = await http.get("/metrics")
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(response.text)
                for s in family.samples
            }
            return value(samples, "forkflow_sse_streams_open")

        assert await gauge() == 0
        async with Listener(server.url, topics="orders", token=server.tokens["manager"]):
            async with Listener(server.url, topics="menu"):
                assert await gauge() == 2
            deadline = time.monotonic() + 10
            while await gauge() != 1:
                assert time.monotonic() < deadline, "the closed stream is still counted"
                await asyncio.sleep(0.1)
        deadline = time.monotonic() + 10
        while await gauge() != 0:
            assert time.monotonic() < deadline, "the closed stream is still counted"
            await asyncio.sleep(0.1)

        text = (await http.get("/metrics")).text
    assert 'forkflow_http_request_duration_seconds_count{route="/events"}' not in text
    assert 'forkflow_http_requests_total{method="GET",route="/events",status="200"} 2.0' in text


def test_metrics_are_for_managers_only_by_default(server: Server) -> None:
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    for role in ("kitchen", "cashier"):
        response = httpx.get(f"{server.url}/metrics", headers=server.auth(role))
        assert response.status_code == 403, role
        assert "forkflow_" not in response.text
    assert httpx.get(f"{server.url}/metrics", headers=server.auth("manager")).status_code == 200


def test_metrics_are_for_managers_signed_in_in_a_browser_too(server: Server) -> None:
    from .conftest import PASSWORDS

    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = browser.post(
            "/login", data={"username": "manager", "password": PASSWORDS["manager"], "csrf_token": token}
        )
        assert signed_in.status_code in (200, 303), signed_in.text
        assert browser.get("/metrics").status_code == 200


def test_metrics_public_when_configured(tmp_path: Path) -> None:
    server = Server(tmp_path / "public.db", env={"FORKFLOW_METRICS_PUBLIC": "1"}).start()
    try:
        response = httpx.get(f"{server.url}/metrics")
        assert response.status_code == 200
        assert "forkflow_http_requests_total" in response.text
    finally:
        server.stop()


def test_metrics_route_is_not_in_the_openapi_document(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert "/metrics" not in document["paths"]


# JSON logs


@pytest.mark.parametrize("how", ["env", "option"])
def test_json_logs_are_one_json_object_per_line(tmp_path: Path, how: str) -> None:
    env = {"FORKFLOW_LOG_FORMAT": "json"} if how == "env" else {}
    server = Server(tmp_path / "logs.db", env=env)
    server.start(*(["--log-format", "json"] if how == "option" else []))
    try:
        assert httpx.get(f"{server.url}/menu").status_code == 200
        refused = httpx.post(f"{server.url}/auth/token", json={"username": "manager", "password": "wrong-password"})
        assert refused.status_code == 401
    finally:
        server.stop()

    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        assert entry["time"].endswith("Z")
    access = [e for e in entries if e["logger"] == "uvicorn.access" and e.get("path") == "/menu"]
    assert access and access[0]["method"] == "GET" and access[0]["status"] == 200
    assert any(e["logger"] == "uvicorn.error" and "Uvicorn running" in e["message"] for e in entries)
    failed = [e for e in entries if e["logger"] == "forkflow.auth"]
    assert failed and failed[0]["level"] == "WARNING" and "manager" in failed[0]["message"]
    assert any(e["logger"] == "uvicorn.error" and "Finished server process" in e["message"] for e in entries)


def test_text_logs_stay_the_default(server: Server) -> None:
    assert httpx.get(f"{server.url}/menu").status_code == 200
    log = server.log.read_text()
    assert "Uvicorn running" in log
    assert not log.lstrip().startswith("{")
    assert "INFO alembic.runtime.migration: " in log  # ForkFlow's and its libraries' lines, as before


# forkflow backup


def check_copy(copy: Path) -> int:
    """The copy is one consistent moment of the database; returns how many orders it holds."""
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        without_lines = conn.execute(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)"
        ).fetchone()[0]
        assert without_lines == 0
        dangling_events = conn.execute(
            "SELECT count(*) FROM events e WHERE e.type = 'order.created'"
            " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = json_extract(e.payload, '$.id'))"
        ).fetchone()[0]
        assert dangling_events == 0
        unannounced = conn.execute(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM events e"
            " WHERE e.type = 'order.created' AND json_extract(e.payload, '$.id') = o.id)"
        ).fetchone()[0]
        assert unannounced == 0
    assert not copy.with_name(copy.name + "-wal").exists()
    return orders


def open_with_forkflow(copy: Path) -> int:
    from forkflow.config import Settings, sqlite_url
    from forkflow.events import Bus
    from forkflow.services.orders import list_orders
    from forkflow.store import Store

    async def run() -> int:
        store = Store(Settings(database_url=sqlite_url(copy)), Bus())
        await store.open()
        try:
            orders = await list_orders(store, limit=1000)
            assert all(order["lines"] for order in orders)
            return len(orders)
        finally:
            await store.close()

    return asyncio.run(run())


async def burst(server: Server, body: dict[str, Any], clients: int = 20, orders: int = 300) -> list[int]:
    """`orders` orders from `clients` concurrent clients; returns the status codes."""
    statuses: list[int] = []
    per_client = orders // clients

    async def one_client() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=server.auth("cashier"), timeout=30) as http:
            for _ in range(per_client):
                statuses.append((await http.post("/orders", json=body)).status_code)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return statuses


def test_backup_during_an_order_burst_is_consistent(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    for _ in range(20):
        assert client.post("/orders", json=order_body(menu)).status_code == 201
    copies = server.db.parent / "copies"
    copies.mkdir()
    burst_done = threading.Event()
    during: list[Path] = []
    errors: list[BaseException] = []

    def keep_backing_up() -> None:
        from forkflow.backup import backup_sqlite

        n = 0
        try:
            while not burst_done.is_set():
                target = copies / f"copy-{n}.db"
                backup_sqlite(server.db, target, step_pages=4)  # many small steps while orders commit
                if not burst_done.is_set():
                    during.append(target)
                n += 1
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    cli_backup = subprocess.Popen(
        [sys.executable, "-m", "forkflow", "backup", str(copies / "cli.db"), "--db", str(server.db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    backer = threading.Thread(target=keep_backing_up)
    backer.start()
    try:
        time.sleep(0.2)  # let the first backups start before the burst
        statuses = asyncio.run(burst(server, order_body(menu)))
    finally:
        burst_done.set()
        backer.join(60)
    out, err = cli_backup.communicate(timeout=60)
    assert not errors, errors
    assert statuses.count(201) == 300, statuses
    assert cli_backup.returncode == 0, err
    assert "backed up" in out and "integrity_check: ok" in out

    assert len(during) >= 2, "no backup ran while the orders were coming in"
    counts = [check_copy(copy) for copy in during]
    assert any(20 < count < 320 for count in counts), counts  # at least one copy caught the burst mid-way
    assert counts == sorted(counts)  # each later copy holds at least what the one before held
    assert 20 <= counts[0] and counts[-1] <= 320
    assert 20 <= check_copy(copies / "cli.db") <= 320
    assert open_with_forkflow(during[-1]) == counts[-1]

    final = copies / "final.db"
    result = forkflow("backup", str(final), "--db", str(server.db))
    assert result.returncode == 0, result.stderr
    assert check_copy(final) == 320
    assert open_with_forkflow(final) == 320


def test_backup_refuses_to_overwrite_unless_forced(server: Server, tmp_path: Path) -> None:
    target = tmp_path / "backup.db"
    target.write_text("precious")
    refused = forkflow("backup", str(target), "--db", str(server.db))
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    assert target.read_text() == "precious"

    # A stale -wal of the old file must not be replayed onto the new one.
    target.with_name("backup.db-wal").write_bytes(b"stale")
    forced = forkflow("backup", str(target), "--force", "--db", str(server.db))
    assert forced.returncode == 0, forced.stderr
    assert not target.with_name("backup.db-wal").exists()
    check_copy(target)
    assert open_with_forkflow(target) == 0


def test_backup_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    result = forkflow("backup", str(tmp_path / "copy.db"), "--db", str(tmp_path / "missing.db"))
    assert result.returncode == 1
    assert "no database" in result.stderr
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "copy.db").exists()


def test_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {"FORKFLOW_DATABASE_URL": "postgresql+asyncpg://forkflow@localhost/forkflow"}
    result = forkflow("backup", str(tmp_path / "copy.db"), env=env)
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
    assert not (tmp_path / "copy.db").exists()


# --workers


def test_several_workers_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    result = forkflow("serve", "--workers", "2", "--db", str(tmp_path / "w.db"))
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr and "one worker" in result.stderr
    assert "postgresql+asyncpg://" in result.stderr and "--workers 2" in result.stderr
    assert not (tmp_path / "w.db").exists()


def test_several_workers_on_postgresql_run_uvicorn_workers_with_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://forkflow@db/forkflow"
    monkeypatch.setenv("FORKFLOW_DATABASE_URL", url)
    monkeypatch.setenv("FORKFLOW_LOG_FORMAT", "text")
    prepared: list[bool] = []
    ran: dict[str, Any] = {}

    async def fake_with_store(args: object, work: object) -> None:
        prepared.append(True)  # migrations and the session secret, before any worker starts

    def fake_run(app: str, **options: Any) -> None:
        environ = os.environ
        ran.update(options, app=app, env_url=environ["FORKFLOW_DATABASE_URL"], env_log=environ["FORKFLOW_LOG_FORMAT"])

    monkeypatch.setattr(cli, "_with_store", fake_with_store)
    monkeypatch.setattr(cli.logging.config, "dictConfig", lambda config: None)  # leave pytest's logging be
    monkeypatch.setattr(cli.uvicorn, "run", fake_run)
    assert cli.main(["serve", "--workers", "2", "--log-format", "json", "--port", "8123"]) == 0
    assert prepared == [True]
    assert ran["app"] == "forkflow.app:app_from_env"
    assert ran["factory"] is True and ran["workers"] == 2 and ran["port"] == 8123
    assert ran["env_url"] == url and ran["env_log"] == "json"
    assert ran["log_config"]["formatters"]["access"]["()"] == "forkflow.logs.JsonFormatter"
