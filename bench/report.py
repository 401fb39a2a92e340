"""The printed tables. They show the JSON results; nothing here computes a figure."""

from __future__ import annotations

from typing import Any


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]


def _burst_row(name: str, r: dict[str, Any]) -> list[str]:
    lat = r["latency_ms"]
    return [
        name,
        _f(r["orders_per_s"]),
        _f(lat["p50"]),
        _f(lat["p95"]),
        _f(lat["p99"]),
        _f(lat["max"]),
        str(r["errors"]),
        *(_f(r[k], 0) + "%" for k in ("server_cpu_pct", "driver_cpu_pct", "other_cpu_pct")),
    ]


def burst_section(burst: dict[str, Any] | None, ceilings: dict[str, Any] | None) -> list[str]:
    ref = burst or (ceilings or {}).get("a")
    if ref is None:
        return []
    out = [
        f"Order burst: {ref['orders']} orders, {ref['concurrency']} concurrent clients ({ref['client']} client),"
        " 1-3 lines, a unique Idempotency-Key each"
    ]
    rows = []
    if burst:
        rows.append(_burst_row("forkflow", burst))
    if ceilings:
        rows.append(_burst_row("ceiling A: Starlette+aiosqlite", ceilings["a"]))
    out += _table(
        ["server", "orders/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "server CPU", "load CPU", "other CPU"],
        rows,
    )
    if burst and ceilings:
        ratio = burst["orders_per_s"] / ceilings["a"]["orders_per_s"]
        out.append(f"forkflow / ceiling A = {ratio:.2f}")
    if ceilings:
        for b in ceilings["b"]:
            if "error" in b:
                out.append(f"ceiling B ({b['name']}): not measured, {b['error']}")
            else:
                out.append(
                    f"ceiling B, raw sqlite3, {b['name']}: {_f(b['orders_per_s'])} orders/s"
                    f" (no HTTP; {_f(b['cpu_pct'], 0)}% CPU, other {_f(b['other_cpu_pct'], 0)}%)"
                )
    if burst:
        c = burst["checks"]
        w = burst["writer"]
        out.append(
            f"checks: distinct ids {c['distinct_ids']} (= N: {'yes' if c['distinct_ids_equals_n'] else 'NO'}),"
            f" duplicates {c['duplicates']}, replayed {c['replayed']},"
            f" duplicate tickets {c['duplicate_ticket_numbers']}, wrong totals {c['wrong_totals']},"
            f" kitchen {c['kitchen_orders']}/{c['kitchen_expected']} (missing {c['missing_from_kitchen']})"
        )
        out.append(
            f"writer: {w['units']} write units in {w['commits']} commits"
            f" ({_f(w['units_per_commit'])} per commit); status codes {burst['statuses']};"
            f" server {_f(burst['server_sys_cpu_pct'], 0)}% of a core in the kernel;"
            f" shutdown {_f(burst['shutdown_s'], 2)} s"
        )
        for sample in burst["error_samples"]:
            out.append(f"  error: {sample}")
    return out


def sse_section(r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return []
    out = [
        f"Commit-to-event latency: {r['listeners']} listeners, {_f(r['rate'], 0)} orders/s for {_f(r['seconds'], 0)} s"
        f" from {r['senders']} clients (sent {r['sent']}, achieved {_f(r['achieved_rate'])}/s)"
    ]
    post, d = r["post_latency_ms"], r["delivery_ms"]
    out += _table(
        ["measure", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            ["receipt - created_at", str(d["count"]), _f(d["p50"]), _f(d["p95"]), _f(d["p99"]), _f(d["max"])],
            [
                "POST /orders latency",
                str(post["count"]),
                _f(post["p50"]),
                _f(post["p95"]),
                _f(post["p99"]),
                _f(post["max"]),
            ],
        ],
    )
    out.append(
        f"deliveries {d['count']}/{r['expected_deliveries']}: missing {r['missing']},"
        f" duplicates {r['duplicates']}, out of order {r['out_of_order']},"
        f" streams ended early {len(r['streams_ended_early'])}; POST errors {r['errors']}"
    )
    out.append(
        f"server CPU {_f(r['server_cpu_pct'], 0)}%, load CPU {_f(r['driver_cpu_pct'], 0)}%,"
        f" other CPU {_f(r['other_cpu_pct'], 0)}%;"
        f" shutdown with {r['listeners']} streams open took {_f(r['shutdown_s'], 2)} s"
        f" ({r['streams_ended_by_shutdown']} streams ended by the server)"
        + (" and had to be KILLED" if r["killed_at_shutdown"] else "")
    )
    for sample in [*r["error_samples"], *r["streams_ended_early"]]:
        out.append(f"  error: {sample}")
    return out


def _busy_warning(results: dict[str, Any]) -> list[str]:
    """Name the runs during which other processes took over a tenth of a core."""
    scen = results["scenarios"]
    runs = {
        "forkflow burst": scen.get("burst"),
        "ceiling A": (scen.get("ceilings") or {}).get("a"),
        "event latency": scen.get("sse"),
    }
    runs |= {f"ceiling B {b['name']}": b for b in (scen.get("ceilings") or {}).get("b", [])}
    busy = [f"{name} {r['other_cpu_pct']:.0f}%" for name, r in runs.items() if r and r.get("other_cpu_pct", 0) > 10]
    if not busy:
        return []
    return [f"WARNING: other processes used CPU during: {', '.join(busy)} (of one core); figures are not clean", ""]


def _calibration(results: dict[str, Any]) -> str:
    figures = [f"{r['calibration_ms']:.1f}" for r in results["scenarios"].values() if "calibration_ms" in r]
    return "/".join(figures) + " ms (lower is a faster machine; see README)"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"ForkFlow bench {'(quick) ' if meta['quick'] else ''}{meta['started']}  forkflow: {meta['forkflow']}",
        f"Python {meta['python']}, {meta['cpus']} CPUs; load generator: 1 process, {meta['client']} client,"
        f" {meta['loop']} loop; {meta['cpu_layout']}",
        f"calibration {_calibration(results)}",
        "",
        *_busy_warning(results),
    ]
    scen = results["scenarios"]
    for section in (burst_section(scen.get("burst"), scen.get("ceilings")), sse_section(scen.get("sse"))):
        if section:
            lines += [*section, ""]
    return "\n".join(lines)
