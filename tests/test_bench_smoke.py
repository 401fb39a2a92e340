"""The benchmark suite's smoke run: tiny sizes, correctness only (0 errors, 0 duplicates, 0 missing
events), against the code in this checkout, on SQLite and then on PostgreSQL (a fresh database per
server, 2 uvicorn workers). Speed is not judged here; `python bench/run.py` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.long
def test_bench_smoke(tmp_path: Path) -> None:
    results = tmp_path / "smoke.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--smoke",
            "--backend",
            "both",
            "--ref",
            "worktree",
            "--no-pin",
            "--json",
            str(results),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang: a loaded CI machine takes over 300 s
    )
    assert done.returncode == 0, f"bench smoke run failed:\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    figures = json.loads(results.read_text())
    verdicts = figures["targets"]
    assert verdicts and all(v["ok"] for v in verdicts), done.stdout[-6000:]
    assert {v["kind"] for v in verdicts} == {"correctness"}
    # Every scenario but the (SQLite-only) ceilings ran on PostgreSQL too, and was judged.
    ran = set(figures["scenarios"]) - {"ceilings"}
    assert ran and set(figures["postgres"]["scenarios"]) == ran
    judged = {v["scenario"].split()[1] for v in verdicts if v["scenario"].startswith("pg ")}
    assert judged >= {"burst", "modifiers", "retry", "sse", "rush", "fanout", "idle", "growth"}, judged
    # The burst with modifiers sent its orders of each kind, and every line with modifiers was checked.
    for scenarios in (figures["scenarios"], figures["postgres"]["scenarios"]):
        modifiers = scenarios["modifiers"]
        assert {kind: r["ok"] for kind, r in modifiers["kinds"].items()} == {
            "plain": modifiers["orders"],
            "three": modifiers["orders"],
            "modifiers": modifiers["orders"],
        }
        assert modifiers["checks"]["lines"] == 3 * modifiers["orders"]
    # The rush fired every held course and the server released every scheduled order, once each.
    for scenarios in (figures["scenarios"], figures["postgres"]["scenarios"]):
        rush = scenarios["rush"]
        assert rush["fires_sent"] == rush["held_orders"] > 0
        assert rush["released"] == rush["scheduled_sent"] > 0 and rush["not_released_once"] == 0
