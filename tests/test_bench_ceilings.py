"""The bench's HTTP ceilings (bench/ceiling_app.py, started by bench/servers.py as `bench/run.py
--only ceilings` does; the smoke run skips them): ceiling F, the framework alone, parses an order
and answers 201 without making any database, ceiling A commits it; and the burst is judged
against ceiling F (issue 18) while its ratio to ceiling A is only printed."""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest

from bench.report import burst_section
from bench.servers import ceiling_server
from bench.targets import SPEED, evaluate

ORDER = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": 3, "quantity": 2}]}


@pytest.mark.parametrize("database", [False, True], ids=["ceiling F", "ceiling A"])
def test_a_ceiling_answers_an_order_201_and_only_ceiling_a_keeps_it(database: bool) -> None:
    server = ceiling_server(database=database)
    try:
        with server:
            answered = httpx.post(f"{server.base_url}/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
            refused = httpx.post(
                f"{server.base_url}/orders", content=b"{", headers={"Content-Type": "application/json"}
            )
            health = httpx.get(f"{server.base_url}/health").json()
        assert answered.status_code == 201
        body = answered.json()
        assert body == {"id": 1, "created_at": body["created_at"], **ORDER} and body["created_at"].endswith("Z")
        assert refused.status_code == 400
        made = sorted(path.name for path in server.workdir.iterdir())
        if database:
            assert health == {"status": "ok", "rows": 1} and "ceiling.db" in made
        else:
            assert health == {"status": "ok", "answered": 1}
            assert made == ["ceiling-f.log"]  # its log, and no database file
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)


def _run(orders_per_s: float) -> dict[str, Any]:
    return {
        "orders": 1000,
        "concurrency": 50,
        "client": "raw",
        "orders_per_s": orders_per_s,
        "latency_ms": dict.fromkeys(("p50", "p95", "p99", "max"), 10.0),
        "errors": 0,
        "error_samples": [],
    }


@pytest.mark.parametrize(("forkflow", "ok"), [(600.0, True), (590.0, False)])
def test_the_burst_is_judged_against_ceiling_f_and_shown_against_ceiling_a(forkflow: float, ok: bool) -> None:
    checks = dict.fromkeys(("duplicates", "replayed", "duplicate_ticket_numbers", "wrong_totals"), 0) | {
        "missing_from_kitchen": 0,
        "distinct_ids": 1000,
        "distinct_ids_equals_n": True,
        "kitchen_orders": 1050,
        "kitchen_expected": 1050,
    }
    burst = _run(forkflow) | {"checks": checks, "writer": None, "shutdown_s": 0.1}
    ceilings = {"a": _run(800.0), "f": _run(1000.0), "b": []}
    results = {
        "meta": {"quick": True, "smoke": False, "config": {"concurrencies": [50]}},
        "scenarios": {"burst": {"runs": [burst]}, "ceilings": ceilings},
    }
    speed = [v for v in evaluate(results) if v.kind == SPEED and "ceiling" in v.figure]
    assert [(v.figure, v.value, v.target, v.ok) for v in speed] == [
        ("orders/s / ceiling F (framework)", f"{forkflow / 1000:.2f}", ">= 0.60", ok)
    ]
    printed = burst_section(results["scenarios"]["burst"], ceilings)
    assert f"forkflow / ceiling F at 50 clients = {forkflow / 1000:.2f} (judged: target >= 0.60)" in printed
    assert f"forkflow / ceiling A at 50 clients = {forkflow / 800:.2f} (for information, not judged)" in printed
