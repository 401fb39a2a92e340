"""The issue's targets, each figure judged PASS or MISS.

Two kinds: correctness (errors, duplicates, missing events: must hold at any size and speed; a
miss makes `bench/run.py` exit 1) and speed (throughput, latency, memory: judged only on full
and quick runs, never on `--smoke`, whose sizes say nothing about speed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

CORRECTNESS, SPEED = "correctness", "speed"
# A speed figure on PostgreSQL: printed against the same target, never judged (the targets are
# SQLite's, one process on one core); its correctness figures are judged like SQLite's.
INFO = "speed, info"
BURST_P99_MS = {50: 50.0, 200: 200.0}
# Issue 18: the burst at the first concurrency against ceiling F, the bare framework in the same
# run (ceiling A, with its database row, is printed beside it for information, not judged).
RATIO_TO_CEILING_F = 0.60
RUSH_P99_MS = 25.0
FANOUT_CONNECTIONS = 5000
FANOUT_KIB = 60.0
GROWTH_SLOWDOWN = 0.20
MODIFIERS_SLOWDOWN = 0.10  # issue 14: orders of 3 lines with 2 modifiers each, against the burst's own


@dataclass(frozen=True)
class Verdict:
    scenario: str
    figure: str
    value: str
    target: str
    ok: bool
    kind: str


def _zero(scenario: str, figure: str, count: int) -> Verdict:
    return Verdict(scenario, figure, f"{count:,}", "0", count == 0, CORRECTNESS)


def _burst(r: dict[str, Any], ceilings: dict[str, Any] | None, ratio_at: int) -> Iterator[Verdict]:
    c, name = r["checks"], f"burst {r['concurrency']} clients"
    if r["concurrency"] == ratio_at and ceilings and "f" in ceilings:
        ratio = r["orders_per_s"] / ceilings["f"]["orders_per_s"]
        yield Verdict(
            name,
            "orders/s / ceiling F (framework)",
            f"{ratio:.2f}",
            f">= {RATIO_TO_CEILING_F:.2f}",
            ratio >= RATIO_TO_CEILING_F,
            SPEED,
        )
    if r["concurrency"] in BURST_P99_MS:
        most = BURST_P99_MS[r["concurrency"]]
        p99 = r["latency_ms"]["p99"]
        yield Verdict(name, "p99 latency", f"{p99:,.1f} ms", f"<= {most:.0f} ms", p99 <= most, SPEED)
    yield _zero(name, "errors", r["errors"])
    yield _zero(name, "duplicates", c["duplicates"])
    other = c["replayed"] + c["duplicate_ticket_numbers"] + c["wrong_totals"] + c["missing_from_kitchen"]
    yield _zero(name, "replays, ticket clashes, wrong totals, not in kitchen", other)


def _modifiers(r: dict[str, Any]) -> Iterator[Verdict]:
    c, name = r["checks"], f"modifiers (burst, {r['concurrency']} clients)"
    slowdown = 1 - r["ratio"]
    yield Verdict(
        name,
        "orders/s slowdown vs without modifiers",
        f"{100 * slowdown:+.0f}% ({r['ratio']:.2f})",
        f"<= {100 * MODIFIERS_SLOWDOWN:.0f}%",
        slowdown <= MODIFIERS_SLOWDOWN,
        SPEED,
    )
    yield _zero(name, "errors", r["errors"])
    yield _zero(name, "duplicates", c["duplicates"])
    other = c["replayed"] + c["duplicate_ticket_numbers"] + c["wrong_totals"] + c["missing_from_kitchen"]
    yield _zero(name, "replays, ticket clashes, wrong totals, not in kitchen", other)
    wrong = c["lines_with_wrong_options"] + c["lines_priced_without_options"]
    yield _zero(name, "lines without their options or their prices", wrong)


def _retry(r: dict[str, Any]) -> Iterator[Verdict]:
    c, name = r["checks"], f"retry storm {r['concurrency']} clients"
    yield _zero(name, "keys with more than one order", c["keys_with_several_orders"])
    yield _zero(name, "answers other than 201", r["errors"])
    yield _zero(name, "keys whose replays were not flagged right", c["keys_with_wrong_replay_flags"])
    yield _zero(name, "replays with another body", c["replays_with_different_body"])
    off = abs(c["kitchen_orders"] - c["kitchen_expected"]) + c["missing_from_kitchen"]
    yield _zero(name, "kitchen count off by", off)


def _sse(r: dict[str, Any]) -> Iterator[Verdict]:
    yield _zero("sse", "events missing, duplicated, out of order", r["missing"] + r["duplicates"] + r["out_of_order"])
    yield _zero("sse", "POST errors, streams ended early", r["errors"] + len(r["streams_ended_early"]))


def _rush(r: dict[str, Any]) -> Iterator[Verdict]:
    p99 = r["delivery_ms"]["p99"]
    yield Verdict(
        "rush", "commit-to-delivery p99", f"{p99:,.1f} ms", f"<= {RUSH_P99_MS:.0f} ms", p99 <= RUSH_P99_MS, SPEED
    )
    yield _zero("rush", "events missing", r["missing"])
    yield _zero("rush", "events duplicated or wrong", r["duplicates"] + r["wrong"] + r["answered_without_event"])
    yield _zero("rush", "request errors", r["errors"])
    yield _zero("rush", "scheduled orders not released exactly once", r.get("not_released_once", 0))
    yield _zero("rush", "streams failed or ended early", len(r["streams_failed"]) + len(r["streams_ended_early"]))
    if "chits" in r:  # --printers: every write that sent lines to a station printed one chit there
        c = r["chits"]
        yield _zero("rush", "chits missing, duplicated or unknown", c["missing"] + c["duplicates"] + c["unknown"])


def _fanout(r: dict[str, Any], full: bool) -> Iterator[Verdict]:
    steps = r["steps"]
    first = steps[0] if steps else None
    lost = (first["missing"] + first["failed_to_open"] + first["ended_early"]) if first else 1
    yield _zero("fanout", f"lost at {first['connections'] if first else '?'} connections", lost)
    wanted = FANOUT_CONNECTIONS if full else max(r["targets"])
    yield Verdict(
        "fanout",
        "connections, every event to all within 1 s",
        f"{r['largest_passed']:,}",
        f">= {wanted:,}" + ("" if full else " (short run)"),
        r["largest_passed"] >= wanted,
        SPEED,
    )
    kib = r["kib_per_connection"]
    if kib is not None:
        yield Verdict(
            "fanout", "memory per connection", f"{kib:.1f} KiB", f"<= {FANOUT_KIB:.0f} KiB", kib <= FANOUT_KIB, SPEED
        )


def _idle(r: dict[str, Any]) -> Iterator[Verdict]:
    ours = r["ours"]["requests_per_min"]
    yield Verdict("idle", "display requests/min besides its stream", f"{ours:.1f}", "0", ours == 0, CORRECTNESS)


def _growth(r: dict[str, Any]) -> Iterator[Verdict]:
    runs = r["runs"]
    for run in runs:
        name = f"growth {run['history_orders']:,} orders"
        yield _zero(name, "errors and duplicates", run["errors"] + run["checks"]["duplicates"])
    if len(runs) > 1:
        last = runs[-1]
        name = f"growth {last['history_orders']:,} orders"
        for key, figure in (
            ("orders_per_s", "orders/s slowdown vs empty"),
            ("kitchen_quiet_p50", "/kitchen/orders p50 slowdown"),
        ):
            value = last["slowdown"][key]
            yield Verdict(
                name,
                figure,
                f"{100 * value:+.0f}%",
                f"<= {100 * GROWTH_SLOWDOWN:.0f}%",
                value <= GROWTH_SLOWDOWN,
                SPEED,
            )


def evaluate(results: dict[str, Any]) -> list[Verdict]:
    """Every target that the scenarios run can say something about; speed only on non-smoke runs.
    PostgreSQL's figures (scenarios named "pg ...") are judged for correctness; their speed
    figures are shown against the same targets as INFO, not judged."""
    meta = results["meta"]
    verdicts = _evaluate(results["scenarios"], meta, results["scenarios"].get("ceilings"))
    pg = results.get("postgres")
    if pg:
        for v in _evaluate(pg["scenarios"], meta, results["scenarios"].get("ceilings")):
            kind = INFO if v.kind == SPEED else v.kind
            verdicts.append(Verdict(f"pg {v.scenario}", v.figure, v.value, v.target, v.ok, kind))
    return verdicts


def _evaluate(scen: dict[str, Any], meta: dict[str, Any], ceilings: dict[str, Any] | None) -> list[Verdict]:
    full = not meta["quick"] and not meta.get("smoke")
    verdicts: list[Verdict] = []
    for name, r in scen.items():
        if "error" in r:
            verdicts.append(Verdict(name, "scenario ran to the end", "crashed", "ran", False, CORRECTNESS))
    judged = {
        "burst": lambda r: (v for run in r["runs"] for v in _burst(run, ceilings, meta["config"]["concurrencies"][0])),
        "modifiers": _modifiers,
        "retry": lambda r: (v for run in r["runs"] for v in _retry(run)),
        "sse": _sse,
        "rush": _rush,
        "fanout": lambda r: _fanout(r, full),
        "idle": _idle,
        "growth": _growth,
    }
    for name, judge in judged.items():
        if name in scen and "error" not in scen[name]:
            verdicts += judge(scen[name])
    if meta.get("smoke"):
        verdicts = [v for v in verdicts if v.kind == CORRECTNESS]
    return verdicts


def as_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]
