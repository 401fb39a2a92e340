"""Run the ForkFlow benchmarks: `python bench/run.py [--quick] [--json PATH]` from the repository root.

Every server under test runs in its own subprocess on 127.0.0.1 with a fresh database; this
process is the load generator. Prints a table and writes the full figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `bench` importable as a package
    sys.path.insert(0, str(REPO))

from bench.client import CLIENT_KINDS  # noqa: E402
from bench.cpu import calibrate, wait_until_quiet  # noqa: E402
from bench.report import render  # noqa: E402
from bench.scenarios import Config, burst, ceilings, sse_latency  # noqa: E402
from bench.servers import WORKDIRS, forkflow_source  # noqa: E402

Scenario = Callable[[Config], Coroutine[Any, Any, dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {"burst": burst.run, "ceilings": ceilings.run, "sse": sse_latency.run}


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
    parser.add_argument("--quick", action="store_true", help="smaller run: 1000 orders, 5 s of events")
    parser.add_argument(
        "--json",
        type=Path,
        default=REPO / "bench" / "results" / "latest.json",
        help="where to write the results (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated scenarios to run, from: {', '.join(SCENARIOS)}"
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
    parser.add_argument("--concurrency", type=int, help="concurrent clients in the burst (default 50)")
    args = parser.parse_args(argv)

    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    source_dir, source = forkflow_source(args.ref)
    server_cpus, layout = _pin(not args.no_pin)
    cfg = Config.make(
        args.quick, args.client, str(source_dir), server_cpus, orders=args.orders, concurrency=args.concurrency
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
            "config": asdict(cfg),
        },
        "scenarios": {},
    }
    try:
        run_scenarios(cfg, chosen, args.wait_quiet, results)
    except BaseException:
        print(f"failed; databases and server logs kept in: {', '.join(map(str, WORKDIRS))}", file=sys.stderr)
        raise
    if not args.keep:
        for path in WORKDIRS:
            shutil.rmtree(path, ignore_errors=True)

    print(render(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 0


def run_scenarios(cfg: Config, chosen: list[str], wait_quiet: float, results: dict[str, Any]) -> None:
    for name in SCENARIOS:  # in a fixed order, whatever order --only named them in
        if name in chosen:
            busy = wait_until_quiet(wait_quiet)
            speed = calibrate()
            print(
                f"running {name} (machine busy {busy:.0f}% of a core just before; calibration {speed:.1f} ms) ...",
                file=sys.stderr,
                flush=True,
            )
            results["scenarios"][name] = asyncio.run(SCENARIOS[name](cfg)) | {
                "machine_busy_before_pct": busy,
                "calibration_ms": speed,
            }


if __name__ == "__main__":
    raise SystemExit(main())
