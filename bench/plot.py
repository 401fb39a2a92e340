"""The results as one SVG picture, written by hand (no plotting dependency on a two-core box).

Top: throughput per scenario next to its ceilings (log scale: ForkFlow and the ceilings can differ
by an order of magnitude; the burst's target tick is its share of ceiling F). Bottom: latency
distribution per scenario as p50 / p95 / p99 / max bands (log scale), with the issue's target
marked where there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from .targets import BURST_P99_MS, MODIFIERS_SLOWDOWN, RATIO_TO_CEILING_F, RUSH_P99_MS

WIDTH = 1000
LABEL_W = 290  # left column for row labels
PLOT_W = WIDTH - LABEL_W - 170  # room on the right for the figures
ROW_H = 22
FORKFLOW, CEILING, TARGET = "#2b6cb0", "#a0aec0", "#c53030"
BANDS = ("#1a365d", "#2b6cb0", "#63b3ed")  # up to p50, p50-p95, p95-p99
PG_BAR = "#c05621"  # ForkFlow on PostgreSQL: the same rows in orange, right under SQLite's
PG_BANDS = ("#7b341e", "#c05621", "#f6ad55")
PG = " [PG]"


@dataclass
class Bar:
    label: str
    value: float
    ceiling: bool = False
    target: float | None = None
    pg: bool = False


@dataclass
class Spread:
    label: str
    p50: float
    p95: float
    p99: float
    max: float
    target: float | None = None
    pg: bool = False


def _throughput(scen: dict[str, Any]) -> list[Bar]:
    bars: list[Bar] = []
    ceilings = scen.get("ceilings") or {}
    a, f = ceilings.get("a"), ceilings.get("f")
    for i, r in enumerate((scen.get("burst") or {}).get("runs", [])):
        target = RATIO_TO_CEILING_F * f["orders_per_s"] if f and i == 0 else None
        bars.append(Bar(f"burst, {r['concurrency']} clients", r["orders_per_s"], target=target))
    mods = scen.get("modifiers")
    if mods and "error" not in mods:
        plain = mods["kinds"]["plain"]["orders_per_s"]
        at = f"{mods['concurrency']} clients"
        bars.append(Bar(f"burst without modifiers, {at} (same server)", plain))
        target = (1 - MODIFIERS_SLOWDOWN) * plain
        bars.append(Bar(f"burst with modifiers, {at}", mods["kinds"]["modifiers"]["orders_per_s"], target=target))
    if f:
        bars.append(Bar(f"ceiling F: Starlette, no database, {f['concurrency']} clients", f["orders_per_s"], True))
    if a:
        bars.append(Bar(f"ceiling A: Starlette+aiosqlite, {a['concurrency']} clients", a["orders_per_s"], True))
    for b in ceilings.get("b", []):
        if "orders_per_s" in b:
            bars.append(Bar(f"ceiling B: raw sqlite3, {b['name']}", b["orders_per_s"], True))
    for r in (scen.get("retry") or {}).get("runs", []):
        bars.append(Bar(f"retry storm, {r['concurrency']} clients (keys/s)", r["keys_per_s"]))
    for r in (scen.get("growth") or {}).get("runs", []):
        bars.append(Bar(f"growth: burst on {r['history_orders']:,} orders", r["orders_per_s"]))
    return [b for b in bars if b.value > 0]


def _spread(label: str, s: dict[str, Any], target: float | None = None) -> Spread | None:
    if not s or not s.get("count"):
        return None
    return Spread(label, s["p50"], s["p95"], s["p99"], s["max"], target)


def _latencies(scen: dict[str, Any]) -> list[Spread]:
    rows: list[Spread | None] = []
    for r in (scen.get("burst") or {}).get("runs", []):
        rows.append(
            _spread(f"burst {r['concurrency']}: POST /orders", r["latency_ms"], BURST_P99_MS.get(r["concurrency"]))
        )
    mods = scen.get("modifiers")
    if mods and "error" not in mods:
        for kind, label in (("plain", "without"), ("modifiers", "with")):
            rows.append(_spread(f"burst {label} modifiers: POST /orders", mods["kinds"][kind]["latency_ms"]))
    for key in ("f", "a"):
        if (scen.get("ceilings") or {}).get(key):
            c = scen["ceilings"][key]
            rows.append(_spread(f"ceiling {key.upper()} {c['concurrency']}: POST /orders", c["latency_ms"]))
    for r in (scen.get("retry") or {}).get("runs", []):
        rows.append(_spread(f"retry storm {r['concurrency']}: every request", r["latency_ms"]))
    if scen.get("sse") and "error" not in scen["sse"]:
        rows.append(_spread("sse: commit to listener", scen["sse"]["delivery_ms"]))
    rush = scen.get("rush")
    if rush and "error" not in rush:
        rows.append(_spread("rush: commit to displays + trackers", rush["delivery_ms"], RUSH_P99_MS))
        rows.append(_spread("rush: commit to kitchen displays", rush["by_client"]["display"]["latency_ms"]))
        rows.append(_spread("rush: commit to tracking pages", rush["by_client"]["tracker"]["latency_ms"]))
        rows.append(_spread("rush: POST /orders (from due time)", rush["post_latency_ms"]))
        rows.append(_spread("rush: PATCH /orders/{id}", rush["patch_latency_ms"]))
    fanout = scen.get("fanout")
    if fanout and "error" not in fanout:
        for step in fanout["steps"]:
            rows.append(
                _spread(f"fan-out {step['connections']:,}: commit to every client", step["delivery_ms"], 1000.0)
            )
    for r in (scen.get("growth") or {}).get("runs", []):
        rows.append(_spread(f"growth {r['history_orders']:,}: GET /kitchen/orders", r["kitchen_quiet_ms"]))
    return [r for r in rows if r is not None]


class _Log:
    """A log10 axis over whole decades covering [low, high]."""

    def __init__(self, low: float, high: float) -> None:
        self.lo = math.floor(math.log10(max(low, 1e-3)))
        self.hi = max(self.lo + 1, math.ceil(math.log10(max(high, 1e-3))))

    def x(self, value: float) -> float:
        v = min(max(math.log10(max(value, 10.0**self.lo)), self.lo), self.hi)
        return LABEL_W + PLOT_W * (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        return [10.0**d for d in range(self.lo, self.hi + 1)]


def _text(
    x: float, y: float, s: str, size: int = 12, anchor: str = "start", fill: str = "#1a202c", weight: str = "normal"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
        f' font-weight="{weight}">{escape(s)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1.0) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" stroke-width="{width}"/>'


def _rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{fill}"/>'


def _axis(axis: _Log, top: float, bottom: float, unit: str) -> list[str]:
    out = []
    for tick in axis.ticks():
        x = axis.x(tick)
        out.append(_line(x, top, x, bottom, "#e2e8f0"))
        label = f"{tick:,.0f}" if tick >= 1 else f"{tick:g}"
        out.append(_text(x, bottom + 14, f"{label} {unit}", 10, "middle", "#4a5568"))
    return out


def _throughput_panel(bars: list[Bar], top: float) -> tuple[list[str], float]:
    out = [
        _text(20, top + 16, "Throughput: orders/s (log scale); grey = ceiling, red tick = target", 14, weight="bold")
    ]
    top += 28
    if not bars:
        return [*out, _text(20, top + 14, "(no throughput measured)")], top + 30
    axis = _Log(min(b.value for b in bars) / 2, max(b.value for b in bars) * 1.5)
    bottom = top + ROW_H * len(bars)
    out += _axis(axis, top, bottom, "/s")
    for i, bar in enumerate(bars):
        y = top + i * ROW_H
        x0, x1 = axis.x(10.0**axis.lo), axis.x(bar.value)
        out.append(_text(LABEL_W - 8, y + 15, bar.label, 12, "end"))
        color = CEILING if bar.ceiling else PG_BAR if bar.pg else FORKFLOW
        out.append(_rect(x0, y + 4, max(1.0, x1 - x0), ROW_H - 8, color))
        out.append(_text(x1 + 5, y + 15, f"{bar.value:,.0f}", 11, fill="#2d3748"))
        if bar.target is not None:
            xt = axis.x(bar.target)
            out.append(_line(xt, y + 1, xt, y + ROW_H - 1, TARGET, 2))
    return out, bottom + 24


def _latency_panel(rows: list[Spread], top: float) -> tuple[list[str], float]:
    out = [
        _text(
            20,
            top + 16,
            "Latency: p50 | p95 | p99 bands, line to max (ms, log scale); red tick = target",
            14,
            weight="bold",
        )
    ]
    top += 28
    if not rows:
        return [*out, _text(20, top + 14, "(no latency measured)")], top + 30
    axis = _Log(min(r.p50 for r in rows) / 2, max(max(r.max, r.target or 0) for r in rows) * 1.2)
    bottom = top + ROW_H * len(rows)
    out += _axis(axis, top, bottom, "ms")
    for i, r in enumerate(rows):
        y = top + i * ROW_H
        mid = y + ROW_H / 2
        out.append(_text(LABEL_W - 8, y + 15, r.label, 12, "end"))
        x0, x50, x95, x99, xmax = (axis.x(v) for v in (10.0**axis.lo, r.p50, r.p95, r.p99, r.max))
        out.append(_line(x99, mid, xmax, mid, "#718096", 1.5))
        out.append(_line(xmax, mid - 4, xmax, mid + 4, "#718096", 1.5))
        for (a, b), color in zip(((x0, x50), (x50, x95), (x95, x99)), PG_BANDS if r.pg else BANDS, strict=True):
            out.append(_rect(a, y + 5, max(0.5, b - a), ROW_H - 10, color))
        right = xmax
        if r.target is not None:
            xt = axis.x(r.target)
            out.append(_line(xt, y + 1, xt, y + ROW_H - 1, TARGET, 2))
            right = max(right, xt)
        out.append(_text(right + 6, y + 15, f"{r.p50:,.1f} / {r.p99:,.1f} / {r.max:,.0f}", 10, fill="#2d3748"))
    legend_y = bottom + 30
    x = LABEL_W
    for color, label in zip(BANDS, ("up to p50", "p50 to p95", "p95 to p99"), strict=True):
        out.append(_rect(x, legend_y - 9, 14, 10, color))
        out.append(_text(x + 18, legend_y, label, 10, fill="#4a5568"))
        x += 100
    out.append(_line(x, legend_y - 4, x + 14, legend_y - 4, "#718096", 1.5))
    out.append(_text(x + 18, legend_y, "p99 to max", 10, fill="#4a5568"))
    out.append(_text(x + 110, legend_y, "figures: p50 / p99 / max ms", 10, fill="#4a5568"))
    return out, legend_y + 10


def _beside(lite: list[Any], pg: list[Any]) -> list[Any]:
    """PostgreSQL's rows (marked, labelled " [PG]") each right under SQLite's of the same label."""
    for row in pg:
        row.pg, row.label = True, row.label + PG
    by_label = {row.label[: -len(PG)]: row for row in pg}
    out = []
    for row in lite:
        out.append(row)
        if row.label in by_label:
            out.append(by_label.pop(row.label))
    return out + list(by_label.values())


def write_svg(results: dict[str, Any]) -> str:
    """The whole picture as SVG text."""
    meta, scen = results["meta"], results["scenarios"]
    kind = " (quick)" if meta["quick"] else " (smoke)" if meta.get("smoke") else ""
    body = [_text(20, 24, f"ForkFlow bench{kind}, {meta['started']}: {meta['forkflow']}", 15, weight="bold")]
    body.append(_text(20, 42, f"{meta['cpus']} CPUs, {meta['cpu_layout']}", 11, fill="#4a5568"))
    ok = {name: r for name, r in scen.items() if "error" not in r}
    pg = {name: r for name, r in results.get("postgres", {}).get("scenarios", {}).items() if "error" not in r}
    if pg:
        workers = results["postgres"]["workers"]
        body.append(
            _text(20, 56, f"blue: SQLite, 1 process; orange [PG]: PostgreSQL, {workers} workers", 11, fill=PG_BAR)
        )
    panel, y = _throughput_panel(_beside(_throughput(ok), _throughput(pg)), 62 if pg else 56)
    body += panel
    panel, y = _latency_panel(_beside(_latencies(ok), _latencies(pg)), y + 10)
    body += panel
    height = int(y + 16)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        ' font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )
