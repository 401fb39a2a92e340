"""Run the ForkFlow benchmarks: `python bench/run.py [--quick | --smoke]` from the repository root.

Every server under test runs in its own subprocess on 127.0.0.1 with a fresh database; this
process is the load generator. Prints a table with each figure against its target, writes the
full figures as JSON and a plot as SVG. Exits 1 when a correctness target (errors, duplicates,
missing events) was missed, or a scenario crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `bench` importable as a package
    sys.path.insert(0, str(REPO))

from bench.client import CLIENT_KINDS  # noqa: E402
from bench.cpu import calibrate, wait_until_quiet  # noqa: E402
from bench.pg import WORKERS as PG_WORKERS  # noqa: E402
from bench.plot import write_svg  # noqa: E402
from bench.report import render  # noqa: E402
from bench.scenarios import (  # noqa: E402
    Config,
    burst,
    ceilings,
    fanout,
    growth,
    idle,
    modifiers,
    retry,
    rush,
    sse_latency,
)
from bench.servers import WORKDIRS, forkflow_source  # noqa: E402
from bench.targets import CORRECTNESS, as_json, evaluate  # noqa: E402

Scenario = Callable[[Config], Coroutine[Any, Any, dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {  # run in this order
    "burst": burst.run,
    "modifiers": modifiers.run,
    "ceilings": ceilings.run,
    "retry": retry.run,
    "sse": sse_latency.run,
    "rush": rush.run,
    "fanout": fanout.run,
    "idle": idle.run,
    "growth": growth.run,
}
SMOKE_SKIPS = {"ceilings"}  # says nothing about correctness
SQLITE_ONLY = {"ceilings"}  # A and B are SQLite's (bare aiosqlite, raw sqlite3); F has no database: once is enough
BACKENDS = {"sqlite": ("sqlite",), "postgres": ("postgres",), "both": ("sqlite", "postgres")}


def _event_loop() -> str:
    """uvloop when installed (uvicorn picks it for the servers too), so the client is as cheap as it gets."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def _pin(wanted: bool) -> tuple[tuple[int, ...], str]:
    """Servers on the last CPU, this process on the others: the server is one process and mostly
    one thread's work, and kept on one core it does not pay for its threads (the event loop and
    aiosqlite's one thread per connection) handing the GIL back and forth across cores."""
    cpus = sorted(os.sched_getaffinity(0))
    if not wanted or len(cpus) < 2:
        return (), "processes placed by the kernel"
    server, load = (cpus[-1],), set(cpus[:-1])
    os.sched_setaffinity(0, load)
    return server, f"servers pinned to CPU {server[0]}, load generator to CPU {','.join(map(str, sorted(load)))}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller run, about 3 minutes (see README)")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, correctness only (errors, duplicates, missing events), no waiting for a quiet machine",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=REPO / "bench" / "results" / "latest.json",
        help="where to write the results (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        help="where to write the SVG plot (default: bench/results/bench.svg; none on --smoke unless given)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated scenarios to run, from: {', '.join(SCENARIOS)} (default all; --smoke skips ceilings)",
    )
    parser.add_argument(
        "--client",
        choices=CLIENT_KINDS,
        default="raw",
        help="load generator's HTTP client (default raw: see README for why)",
    )
    parser.add_argument(
        "--ref",
        default="HEAD",
        help="git ref whose forkflow/ is benchmarked (default HEAD), or 'worktree' for the files as they are now",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each scenario, wait up to this long for the machine to be idle (default 60)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the kernel place the processes (default: servers on the last CPU, load generator on the rest)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases and server logs")
    parser.add_argument("--orders", type=int, help="orders in the burst (default 5000, --quick 1000)")
    parser.add_argument(
        "--concurrency",
        help="concurrent clients in the burst, comma-separated, each on a fresh server (default 50,200);"
        " ceilings A and F run at the first",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="sqlite",
        help="sqlite (default: one process), postgres (a fresh database per server, 2 uvicorn workers),"
        " or both: every scenario on SQLite, then on PostgreSQL",
    )
    printers = parser.add_mutually_exclusive_group()
    printers.add_argument(
        "--printers",
        action="store_true",
        default=None,
        help="rush: a fake ESC/POS printer per station, registered with POST /printers; reports chit latency"
        " and count (default on the full run; fails if the server has no printers API)",
    )
    printers.add_argument(
        "--no-printers", dest="printers", action="store_false", help="rush without printers (even on a full run)"
    )
    args = parser.parse_args(argv)

    default = [name for name in SCENARIOS if not (args.smoke and name in SMOKE_SKIPS)]
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else default
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    concurrencies = tuple(int(c) for c in args.concurrency.split(",")) if args.concurrency else None
    source_dir, source = forkflow_source(args.ref)
    server_cpus, layout = _pin(not args.no_pin)
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    cfg = Config.make(
        size,
        args.client,
        str(source_dir),
        server_cpus,
        orders=args.orders,
        concurrencies=concurrencies,
        rush_printers=args.printers,
    )
    loop = _event_loop()
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "forkflow": source,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "client": cfg.client,
            "loop": loop,
            "cpu_layout": layout,
            "quick": cfg.quick,
            "smoke": cfg.smoke,
            "config": asdict(cfg),
            "backends": list(BACKENDS[args.backend]),
        },
        "scenarios": {},  # SQLite's
    }
    started = time.perf_counter()
    try:
        for backend in BACKENDS[args.backend]:
            if backend == "sqlite":
                run_scenarios(cfg, chosen, args.wait_quiet, results["scenarios"])
            else:
                # Same scenarios and sizes; ForkFlow's processes pinned as on SQLite, PostgreSQL's not.
                results["postgres"] = {"workers": PG_WORKERS, "scenarios": {}}
                pg_cfg = replace(cfg, backend="postgres")
                pg_chosen = [name for name in chosen if name not in SQLITE_ONLY]
                run_scenarios(pg_cfg, pg_chosen, args.wait_quiet, results["postgres"]["scenarios"])
    except BaseException:
        print(f"stopped; databases and server logs kept in: {', '.join(map(str, WORKDIRS))}", file=sys.stderr)
        raise
    results["meta"]["seconds"] = time.perf_counter() - started
    verdicts = evaluate(results)
    results["targets"] = as_json(verdicts)
    failed = [v for v in verdicts if v.kind == CORRECTNESS and not v.ok]
    crashed = any(
        "error" in r
        for r in [*results["scenarios"].values(), *results.get("postgres", {}).get("scenarios", {}).values()]
    )
    if crashed or failed:
        print(f"databases and server logs kept in: {', '.join(map(str, WORKDIRS))}", file=sys.stderr)
    elif not args.keep:
        for path in WORKDIRS:
            shutil.rmtree(path, ignore_errors=True)

    print(render(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.json}")
    plot = args.plot or (None if cfg.smoke else REPO / "bench" / "results" / "bench.svg")
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot.write_text(write_svg(results))
        print(f"plot written to {plot}")
    return 1 if failed else 0


def run_scenarios(cfg: Config, chosen: list[str], wait_quiet: float, results: dict[str, Any]) -> None:
    """Each scenario in turn, in a fixed order whatever order --only named them in. One that
    crashes is recorded (and fails the run) and the others still run."""
    for name in SCENARIOS:
        if name not in chosen:
            continue
        # A smoke run judges correctness only: no waiting for a quiet machine, no calibration.
        busy = None if cfg.smoke else wait_until_quiet(wait_quiet)
        speed = None if cfg.smoke else calibrate()
        note = "" if busy is None else f" (machine busy {busy:.0f}% of a core just before; calibration {speed:.1f} ms)"
        on = "" if cfg.backend == "sqlite" else f" on {cfg.backend}"
        print(f"running {name}{on}{note} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figures = asyncio.run(SCENARIOS[name](cfg))
        except Exception as exc:
            traceback.print_exc()
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        results[name] = figures | {
            "machine_busy_before_pct": busy,
            "calibration_ms": speed,
            "scenario_s": time.perf_counter() - started,
        }


if __name__ == "__main__":
    raise SystemExit(main())
