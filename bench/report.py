"""The printed tables. They show the JSON results; nothing here computes a figure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .targets import RATIO_TO_CEILING_F

LAT = ["p50 ms", "p95 ms", "p99 ms", "max ms"]


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(r: dict[str, Any], key: str) -> str:
    return _f(r.get(key), 0) + "%"


def _lat(summary: dict[str, Any]) -> list[str]:
    return [_f(summary[k]) for k in ("p50", "p95", "p99", "max")]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]


def _burst_row(name: str, r: dict[str, Any]) -> list[str]:
    return [
        name,
        _f(r["orders_per_s"]),
        *_lat(r["latency_ms"]),
        str(r["errors"]),
        *(_pct(r, k) for k in ("server_cpu_pct", "driver_cpu_pct", "other_cpu_pct")),
    ]


CEILINGS = {"f": "Starlette, no database", "a": "Starlette+aiosqlite"}  # the HTTP ceilings, as rows


def burst_section(burst: dict[str, Any] | None, ceilings: dict[str, Any] | None) -> list[str]:
    runs = (burst or {}).get("runs", [])
    ref = runs[0] if runs else (ceilings or {}).get("a")
    if ref is None:
        return []
    clients = ", ".join(str(r["concurrency"]) for r in runs) or str(ref["concurrency"])
    out = [
        f"Order burst: {ref['orders']} orders from {clients} concurrent clients ({ref['client']} client, each"
        " concurrency on a fresh server), 1-3 lines, a unique Idempotency-Key each"
    ]
    rows = [_burst_row(f"forkflow, {r['concurrency']} clients", r) for r in runs]
    ceilings = ceilings or {}
    for key, what in CEILINGS.items():
        if key in ceilings:
            rows.append(
                _burst_row(f"ceiling {key.upper()}: {what}, {ceilings[key]['concurrency']} clients", ceilings[key])
            )
    out += _table(["server", "orders/s", *LAT, "errors", "server CPU", "load CPU", "other CPU"], rows)
    notes = {"f": f"judged: target >= {RATIO_TO_CEILING_F:.2f}", "a": "for information, not judged"}
    for key, note in notes.items():
        if runs and key in ceilings:
            ratio = runs[0]["orders_per_s"] / ceilings[key]["orders_per_s"]
            out.append(f"forkflow / ceiling {key.upper()} at {runs[0]['concurrency']} clients = {ratio:.2f} ({note})")
    for b in ceilings.get("b", []):
        if "error" in b:
            out.append(f"ceiling B ({b['name']}): not measured, {b['error']}")
        else:
            out.append(
                f"ceiling B, raw sqlite3, {b['name']}: {_f(b['orders_per_s'])} orders/s"
                f" (no HTTP; {_f(b['cpu_pct'], 0)}% CPU, other {_f(b['other_cpu_pct'], 0)}%)"
            )
    for r in runs:
        c, w = r["checks"], r["writer"]
        out.append(
            f"{r['concurrency']} clients: distinct ids {c['distinct_ids']}"
            f" (= N: {'yes' if c['distinct_ids_equals_n'] else 'NO'}),"
            f" duplicates {c['duplicates']}, replayed {c['replayed']},"
            f" duplicate tickets {c['duplicate_ticket_numbers']}, wrong totals {c['wrong_totals']},"
            f" kitchen {c['kitchen_orders']}/{c['kitchen_expected']} (missing {c['missing_from_kitchen']});"
            + (
                f" {w['units']} write units in {w['commits']} commits ({_f(w['units_per_commit'])} per commit);"
                if w
                else " write units per commit: per worker, not shown;"
            )
            + f" shutdown {_f(r['shutdown_s'], 2)} s"
        )
        for sample in r["error_samples"]:
            out.append(f"  error: {sample}")
    return out


MODIFIER_KINDS = {
    "plain": "without modifiers (the burst's orders, 1-3 lines)",
    "three": "without modifiers, 3 lines each",
    "modifiers": "with modifiers, 3 lines x 2 options each",
}


def modifiers_section(r: dict[str, Any]) -> list[str]:
    out = [
        f"Burst with modifiers: {r['orders']} orders of each kind from {r['concurrency']} clients on one server,"
        f" in legs of {r['leg_orders']} ({', '.join(leg['kind'] for leg in r['legs'])})"
    ]
    rows = [_burst_row(label, r["kinds"][kind]) for kind, label in MODIFIER_KINDS.items()]
    out += _table(["orders", "orders/s", *LAT, "errors", "server CPU", "load CPU", "other CPU"], rows)
    legs = ", ".join(f"{leg['kind']} {_f(leg['orders_per_s'], 0)}" for leg in r["legs"])
    out.append(
        f"with / without modifiers = {r['ratio']:.2f} ({100 * (1 - r['ratio']):+.0f}% slower);"
        f" with modifiers / 3 lines without = {r['ratio_to_three_lines']:.2f}; legs' orders/s: {legs}"
    )
    cpu = ", ".join(f"{kind} {_f(r['kinds'][kind]['server_cpu_ms_per_order'], 3)}" for kind in MODIFIER_KINDS)
    ratio = "-" if r.get("cpu_ratio") is None else f"{r['cpu_ratio']:.2f}"
    out.append(f"server CPU ms per order: {cpu} (with / without modifiers = {ratio})")
    c = r["checks"]
    out.append(
        f"distinct ids {c['distinct_ids']} (= N: {'yes' if c['distinct_ids_equals_n'] else 'NO'}),"
        f" duplicates {c['duplicates']}, replayed {c['replayed']}, duplicate tickets {c['duplicate_ticket_numbers']},"
        f" wrong totals {c['wrong_totals']}, kitchen {c['kitchen_orders']}/{c['kitchen_expected']}"
        f" (missing {c['missing_from_kitchen']}); modifier lines {c['lines']}: wrong options"
        f" {c['lines_with_wrong_options']}, unit price not dish + options {c['lines_priced_without_options']}"
    )
    for kind in MODIFIER_KINDS:
        for sample in r["kinds"][kind]["error_samples"]:
            out.append(f"  error ({kind}): {sample}")
    return out


def retry_section(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    first = runs[0]
    out = [
        f"Retry storm: {first['keys']} keys, each sent twice at once and again after"
        f" 0-{first['max_delay_s'] * 1000:.0f} ms (same key, same body)"
    ]
    rows = [
        [
            f"{x['concurrency']} clients",
            f"{x['requests']:,}",
            _f(x["keys_per_s"]),
            _f(x["requests_per_s"]),
            *_lat(x["latency_ms"]),
            str(x["errors"]),
            _pct(x, "server_cpu_pct"),
            _pct(x, "driver_cpu_pct"),
            _pct(x, "other_cpu_pct"),
        ]
        for x in runs
    ]
    out += _table(
        ["clients", "requests", "orders/s", "requests/s", *LAT, "errors", "server CPU", "load CPU", "other CPU"], rows
    )
    for x in runs:
        c = x["checks"]
        out.append(
            f"{x['concurrency']} clients: keys with several orders {c['keys_with_several_orders']},"
            f" not answered 201 three times {c['keys_not_answered_201_thrice']},"
            f" replay flags wrong {c['keys_with_wrong_replay_flags']}, replays with another body"
            f" {c['replays_with_different_body']}, kitchen {c['kitchen_orders']}/{c['kitchen_expected']};"
            f" status codes {x['statuses']}"
        )
        for sample in x["error_samples"]:
            out.append(f"  error: {sample}")
    return out


def sse_section(r: dict[str, Any]) -> list[str]:
    out = [
        f"Commit-to-event latency: {r['listeners']} listeners, {_f(r['rate'], 0)} orders/s for {_f(r['seconds'], 0)} s"
        f" from {r['senders']} clients (sent {r['sent']}, achieved {_f(r['achieved_rate'])}/s)"
    ]
    post, d = r["post_latency_ms"], r["delivery_ms"]
    out += _table(
        ["measure", "samples", *LAT],
        [
            ["receipt - created_at", str(d["count"]), *_lat(d)],
            ["POST /orders latency", str(post["count"]), *_lat(post)],
        ],
    )
    out.append(
        f"deliveries {d['count']}/{r['expected_deliveries']}: missing {r['missing']},"
        f" duplicates {r['duplicates']}, out of order {r['out_of_order']},"
        f" streams ended early {len(r['streams_ended_early'])}; POST errors {r['errors']}"
    )
    out.append(
        f"server CPU {_pct(r, 'server_cpu_pct')}, load CPU {_pct(r, 'driver_cpu_pct')},"
        f" other CPU {_pct(r, 'other_cpu_pct')};"
        f" shutdown with {r['listeners']} streams open took {_f(r['shutdown_s'], 2)} s"
        f" ({r['streams_ended_by_shutdown']} streams ended by the server)"
        + (" and had to be KILLED" if r["killed_at_shutdown"] else "")
    )
    for sample in [*r["error_samples"], *r["streams_ended_early"]]:
        out.append(f"  error: {sample}")
    return out


def rush_section(r: dict[str, Any]) -> list[str]:
    out = [
        f"Rush mix: {_f(r['seconds'], 0)} s of {_f(r['rate'], 0)} orders/s, {_f(r['status_rate'], 0)} status changes/s,"
        f" {_f(r['toggle_rate'], 0)} availability toggle/s; {r['displays']} kitchen displays, {r['trackers']} tracking"
        f" pages, 1 reference listener ({r['events']} events)"
    ]
    by = r["by_client"]
    rows = [["delivery, displays + trackers", str(r["delivery_ms"]["count"]), *_lat(r["delivery_ms"]), "", "", ""]]
    for kind, label in (
        ("display", "  kitchen displays"),
        ("tracker", "  tracking pages"),
        ("reference", "reference /events"),
    ):
        k = by[kind]
        rows.append(
            [
                f"{label} ({k['streams']})",
                str(k["latency_ms"]["count"]),
                *_lat(k["latency_ms"]),
                f"{k['missing']}/{k['expected']}",
                str(k["duplicates"]),
                str(k["wrong"]),
            ]
        )
    for key, label in (
        ("post_latency_ms", "POST /orders"),
        ("patch_latency_ms", "PATCH /orders/{id}"),
        ("toggle_latency_ms", "PUT /menu/{id}/availability"),
        ("fire_latency_ms", "POST /orders/{id}/fire"),
        ("scheduled_latency_ms", "POST /orders (scheduled)"),
    ):
        if key in r:  # (results of a run from before issue 15 have no fires)
            rows.append([label, str(r[key]["count"]), *_lat(r[key]), "", "", ""])
    if "chits" in r:  # (--printers: the dup column counts extra chits, wrong those of no known write)
        c = r["chits"]
        rows.append(
            [
                f"chits at the printers ({c['printers']})",
                str(c["latency_ms"]["count"]),
                *_lat(c["latency_ms"]),
                f"{c['missing']}/{c['expected']}",
                str(c["duplicates"]),
                str(c["unknown"]),
            ]
        )
    out += _table(["measure (receipt - write time)", "samples", *LAT, "missing", "dup", "wrong"], rows)
    out.append(
        f"request errors {r['errors']}; answered without an event {r['answered_without_event']};"
        f" streams failed {len(r['streams_failed'])}, ended early {len(r['streams_ended_early'])};"
        f" server CPU {_pct(r, 'server_cpu_pct')}, load CPU {_pct(r, 'driver_cpu_pct')},"
        f" other CPU {_pct(r, 'other_cpu_pct')}"
    )
    if "fires_sent" in r:
        out.append(
            f"paced kitchen: {r['held_orders']} table orders with a held course, {r['fires_sent']} fires;"
            f" {r['scheduled_sent']} scheduled orders, {r['released']} released exactly once,"
            f" {r['not_released_once']} not"
        )
    for kind in r.get("not_served", []):
        out.append(f"  not measured: this version answers 404 to every {kind} stream")
    for sample in [*r["error_samples"], *r["streams_failed"][:3], *r["streams_ended_early"][:3]]:
        out.append(f"  error: {sample}")
    return out


def fanout_section(r: dict[str, Any]) -> list[str]:
    out = [
        f"Fan-out: open /events?topics=menu streams in steps, a few availability toggles at each; a step passes when"
        f" every client gets every toggle within {_f(r['within_s'], 0)} s"
    ]
    rows = [
        [
            f"{s['connections']:,}",
            f"{s['open']:,}",
            _f(s["open_s"]),
            *_lat(s["delivery_ms"]),
            str(s["late"]),
            str(s["missing"]),
            _f(s["rss_mib"]),
            _f(s["kib_per_connection"]),
            _pct(s, "server_cpu_pct"),
            _pct(s, "driver_cpu_pct"),
            "pass" if s["passed"] else "FAIL",
        ]
        for s in r["steps"]
    ]
    out += _table(
        [
            "connections",
            "open",
            "open s",
            *LAT,
            "late",
            "missing",
            "RSS MiB",
            "KiB/conn",
            "server CPU",
            "load CPU",
            "step",
        ],
        rows,
    )
    out.append(
        f"largest step passed: {r['largest_passed']:,} connections; server RSS {_f(r['baseline_rss_mib'])} MiB before"
        f" the first; dropped subscribers {r['dropped_subscribers']}; shutdown {_f(r['shutdown_s'], 2)} s"
        + (" (KILLED)" if r["killed_at_shutdown"] else "")
    )
    return out


def idle_section(r: dict[str, Any]) -> list[str]:
    ours, poll = r["ours"], r["polling"]
    out = [
        f"Idle cost: one kitchen display for {_f(r['seconds'], 0)} s with {r['active_orders']} tickets on the rail and"
        " nothing happening"
    ]
    out += _table(
        ["display", "requests", "requests/min", "bytes in", "bytes out", "bytes/min"],
        [
            [
                "ours: one event stream (besides it)",
                str(ours["requests"]),
                _f(ours["requests_per_min"]),
                f"{ours['bytes_in']:,}",
                f"{ours['bytes_out']:,}",
                f"{ours['bytes_per_min']:,.0f}",
            ],
            [
                f"polling GET /kitchen/orders every {_f(poll['every_s'], 0)} s",
                str(poll["requests"]),
                _f(poll["requests_per_min"]),
                f"{poll['bytes_in']:,}",
                f"{poll['bytes_out']:,}",
                f"{poll['bytes_per_min']:,.0f}",
            ],
        ],
    )
    out.append(f"page load (both): {r['page_bytes']:,} bytes; stream {r['stream_path']}")
    return out


def growth_section(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    out = [
        f"Growth: the burst ({runs[0]['orders']} orders, {runs[0]['concurrency']} clients) on a database with history"
        f" ({runs[0]['prefill']['active']} orders on the line in each); /kitchen/orders timed quiet (before) and during"
    ]
    rows = [
        [
            f"{x['history_orders']:,}",
            _f(x["prefill"]["db_mib"], 0),
            _f(x["prefill"]["seconds"]),
            _f(x["orders_per_s"]),
            _f(x["latency_ms"]["p50"]),
            _f(x["latency_ms"]["p99"]),
            _f(x["kitchen_quiet_ms"]["p50"]),
            _f(x["kitchen_quiet_ms"]["p99"]),
            _f(x["kitchen_during_ms"]["p50"]),
            _f(x["kitchen_during_ms"]["p99"]),
            f"{100 * x['slowdown']['orders_per_s']:+.0f}%",
            f"{100 * x['slowdown']['kitchen_quiet_p50']:+.0f}%",
            str(x["errors"] + x["checks"]["duplicates"]),
        ]
        for x in runs
    ]
    out += _table(
        [
            "history",
            "DB MiB",
            "fill s",
            "orders/s",
            "p50 ms",
            "p99 ms",
            "kitchen p50",
            "kitchen p99",
            "during p50",
            "during p99",
            "slower",
            "kitchen slower",
            "errors+dup",
        ],
        rows,
    )
    return out


def targets_section(results: dict[str, Any]) -> list[str]:
    verdicts = results.get("targets", [])
    if not verdicts:
        return []
    rows = [
        [f"{v['scenario']}: {v['figure']}", v["value"], v["target"], v["kind"], "PASS" if v["ok"] else "MISS"]
        for v in verdicts
    ]
    failed = sum(1 for v in verdicts if v["kind"] == "correctness" and not v["ok"])
    missed = sum(1 for v in verdicts if v["kind"] == "speed" and not v["ok"])
    info = sum(1 for v in verdicts if v["kind"] == "speed, info" and not v["ok"])
    return [
        'Targets ("pg ...": ForkFlow on PostgreSQL; its speed figures are informational, not judged)',
        *_table(["figure", "value", "target", "kind", "verdict"], rows),
        f"correctness misses: {failed}; speed misses: {missed}"
        + (f"; PostgreSQL speed, informational: {info} over" if info else ""),
    ]


def _headline(scen: dict[str, Any]) -> dict[str, str]:
    """The figures compared side by side, by label; what a backend did not run is absent."""
    out: dict[str, str] = {}
    ok = {name: r for name, r in scen.items() if "error" not in r}
    for name, r in scen.items():
        if "error" in r:
            out[f"{name}: ran"] = "CRASHED"
    for r in (ok.get("burst") or {}).get("runs", []):
        c, at = r["checks"], f"burst, {r['concurrency']} clients"
        out[f"{at}: orders/s"] = _f(r["orders_per_s"], 0)
        out[f"{at}: p50 / p99 / max ms"] = " / ".join(_f(r["latency_ms"][k]) for k in ("p50", "p99", "max"))
        out[f"{at}: errors, duplicates, missing"] = f"{r['errors']}, {c['duplicates']}, {c['missing_from_kitchen']}"
        out[f"{at}: CPU ForkFlow / postgres / load"] = _cpu(r)
    if "modifiers" in ok:
        r = ok["modifiers"]
        at = f"burst with modifiers, {r['concurrency']} clients"
        out[f"{at}: orders/s without / with"] = " / ".join(
            _f(r["kinds"][kind]["orders_per_s"], 0) for kind in ("plain", "modifiers")
        )
        out[f"{at}: ratio"] = f"{r['ratio']:.2f}"
        out[f"{at}: errors, duplicates, missing"] = (
            f"{r['errors']}, {r['checks']['duplicates']}, {r['checks']['missing_from_kitchen']}"
        )
    for r in (ok.get("retry") or {}).get("runs", []):
        c, at = r["checks"], f"retry storm, {r['concurrency']} clients"
        out[f"{at}: keys/s (requests/s)"] = f"{_f(r['keys_per_s'], 0)} ({_f(r['requests_per_s'], 0)})"
        out[f"{at}: several orders, non-201, flags wrong"] = (
            f"{c['keys_with_several_orders']}, {c['keys_not_answered_201_thrice']}, {c['keys_with_wrong_replay_flags']}"
        )
    if "sse" in ok:
        r = ok["sse"]
        d = r["delivery_ms"]
        out["sse: receipt - created_at p50 / p99 / max ms"] = " / ".join(_f(d[k]) for k in ("p50", "p99", "max"))
        out["sse: missing, duplicates, out of order"] = f"{r['missing']}, {r['duplicates']}, {r['out_of_order']}"
    if "rush" in ok:
        r = ok["rush"]
        for label, s in (
            ("displays + trackers", r["delivery_ms"]),
            ("kitchen displays", r["by_client"]["display"]["latency_ms"]),
            ("tracking pages", r["by_client"]["tracker"]["latency_ms"]),
        ):
            out[f"rush: {label} p50 / p99 / max ms"] = " / ".join(_f(s[k]) for k in ("p50", "p99", "max"))
        out["rush: missing, dup + wrong, request errors"] = (
            f"{r['missing']}, {r['duplicates'] + r['wrong']}, {r['errors']}"
        )
        if "chits" in r:
            c = r["chits"]
            out["rush: chits, commit to printer p50 / p99 / max ms"] = " / ".join(
                _f(c["latency_ms"][k]) for k in ("p50", "p99", "max")
            )
            out["rush: chits missing, dup, unknown"] = f"{c['missing']}, {c['duplicates']}, {c['unknown']}"
        out["rush: CPU ForkFlow / postgres / load"] = _cpu(r)
    if "fanout" in ok:
        r = ok["fanout"]
        out["fan-out: connections, all events within 1 s"] = f"{r['largest_passed']:,}"
        out["fan-out: server memory per connection"] = _f(r["kib_per_connection"]) + " KiB"
    if "idle" in ok:
        r = ok["idle"]["ours"]
        out["idle: requests/min besides the stream, bytes/min"] = (
            f"{_f(r['requests_per_min'])}, {r['bytes_per_min']:,.0f}"
        )
    for r in (ok.get("growth") or {}).get("runs", []):
        at = f"growth, {r['history_orders']:,} orders"
        out[f"{at}: orders/s; kitchen p50 ms"] = f"{_f(r['orders_per_s'], 0)}; {_f(r['kitchen_quiet_ms']['p50'])}"
        out[f"{at}: fill s, DB MiB"] = f"{_f(r['prefill']['seconds'])}, {_f(r['prefill']['db_mib'], 0)}"
    return out


def _cpu(r: dict[str, Any]) -> str:
    pg = r.get("postgres_cpu_pct")
    return f"{_pct(r, 'server_cpu_pct')} / {'-' if pg is None else _f(pg, 0) + '%'} / {_pct(r, 'driver_cpu_pct')}"


def compare_section(results: dict[str, Any]) -> list[str]:
    """SQLite and PostgreSQL next to each other, for every scenario both ran."""
    pg = results.get("postgres")
    if not pg:
        return []
    lite, post = _headline(results["scenarios"]), _headline(pg["scenarios"])
    labels = [*lite, *(k for k in post if k not in lite)]
    rows = [[label, lite.get(label, "-"), post.get(label, "-")] for label in labels]
    return [
        f"SQLite (1 process) and PostgreSQL ({pg['workers']} uvicorn workers) side by side. CPU in % of one core:"
        " ForkFlow's processes (pinned as the run says), every `postgres` process on the machine (not pinned),"
        " the load generator. Ceilings are SQLite's only",
        *_table(["figure", "SQLite", f"PostgreSQL, {pg['workers']} workers"], rows),
    ]


def _busy_warning(results: dict[str, Any]) -> list[str]:
    """Name the runs during which other processes took over a tenth of a core (on PostgreSQL,
    "other" leaves out every `postgres` process, which is counted apart)."""
    runs = _timed_runs(results["scenarios"])
    runs |= {f"pg {name}": r for name, r in _timed_runs(results.get("postgres", {}).get("scenarios", {})).items()}
    busy = [f"{name} {r['other_cpu_pct']:.0f}%" for name, r in runs.items() if r and r.get("other_cpu_pct", 0) > 10]
    if not busy:
        return []
    return [f"WARNING: other processes used CPU during: {', '.join(busy)} (of one core); figures are not clean", ""]


def _timed_runs(scen: dict[str, Any]) -> dict[str, Any]:
    runs: dict[str, Any] = {f"burst {r['concurrency']}": r for r in (scen.get("burst") or {}).get("runs", [])}
    runs |= {
        "ceiling A": (scen.get("ceilings") or {}).get("a"),
        "ceiling F": (scen.get("ceilings") or {}).get("f"),
        "event latency": scen.get("sse"),
        "rush": scen.get("rush"),
    }
    runs |= {f"ceiling B {b['name']}": b for b in (scen.get("ceilings") or {}).get("b", [])}
    runs |= {f"modifiers {kind}": r for kind, r in (scen.get("modifiers") or {}).get("kinds", {}).items()}
    runs |= {f"retry {r['concurrency']}": r for r in (scen.get("retry") or {}).get("runs", [])}
    runs |= {f"growth {r['history_orders']:,}": r for r in (scen.get("growth") or {}).get("runs", [])}
    return runs


def _calibration(results: dict[str, Any]) -> str:
    every = [*results["scenarios"].values(), *results.get("postgres", {}).get("scenarios", {}).values()]
    figures = [f"{r['calibration_ms']:.1f}" for r in every if r.get("calibration_ms")]
    if not figures:
        return "not taken (smoke run)"
    return "/".join(figures) + " ms (lower is a faster machine; see README)"


def _sections(scen: dict[str, Any]) -> list[list[str]]:
    ok = {name: r for name, r in scen.items() if "error" not in r}
    sections = [burst_section(ok.get("burst"), ok.get("ceilings"))]
    sections += [render_one(ok[name]) for name, render_one in SECTIONS.items() if name in ok]
    sections += [[f"{name}: CRASHED: {r['error']}"] for name, r in scen.items() if "error" in r]
    return sections


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "modifiers": modifiers_section,
    "retry": retry_section,
    "sse": sse_section,
    "rush": rush_section,
    "fanout": fanout_section,
    "idle": idle_section,
    "growth": growth_section,
}


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    kind = "(smoke) " if meta.get("smoke") else "(quick) " if meta["quick"] else ""
    lines = [
        f"ForkFlow bench {kind}{meta['started']}  forkflow: {meta['forkflow']}",
        f"Python {meta['python']}, {meta['cpus']} CPUs; load generator: 1 process, {meta['client']} client,"
        f" {meta['loop']} loop; {meta['cpu_layout']}; took {_f(meta.get('seconds'), 0)} s",
        f"calibration {_calibration(results)}",
        "",
        *_busy_warning(results),
    ]
    sections = _sections(results["scenarios"])
    pg = results.get("postgres")
    if pg:
        if results["scenarios"]:
            sections.insert(0, ["=== SQLite: one process ==="])
        sections += [[f"=== PostgreSQL: a fresh database per server, {pg['workers']} uvicorn workers ==="]]
        sections += _sections(pg["scenarios"])
        sections.append(compare_section(results))
    sections.append(targets_section(results))
    for section in sections:
        if section:
            lines += [*section, ""]
    return "\n".join(lines)
