"""The burst with modifiers (issue 14): orders of 3 lines each carrying 2 modifiers must stay within
10 % of the burst's orders/s without modifiers, measured in the same run, on the same server.

Three kinds of orders, all from `cfg.concurrency` clients in a closed loop, as in `burst`:

* `plain`: the burst's own orders (1 to 3 lines, no modifiers) on the burst's menu: the figure
  the target compares with;
* `three`: 3 lines each, no modifiers, on the same menu: tells the cost of more lines from the
  cost of modifiers (shown, not judged);
* `modifiers`: 3 lines each, every line with one option of a required single-choice group and
  one add-on, on a second menu whose items carry those two groups (bench/workload.py).

One server holds both menus. After a warm-up round of each kind, legs of `cfg.orders / 2` orders
run in the order plain, three, modifiers, modifiers, three, plain: each kind gets `cfg.orders`
orders, and a machine that drifts at a steady pace (a VM's neighbours) or a database that grows
costs every kind alike. A kind's figure is its orders divided by its legs' time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..servers import HOST, forkflow_server
from ..workload import OrderRequest, Outcome, burst, create_menu, create_modifier_menu, make_orders, sign_in
from . import Config
from .burst import Burst, get_json, order_checks, speed

KINDS = ("plain", "three", "modifiers")
LEGS = ("plain", "three", "modifiers", "modifiers", "three", "plain")


def _merged(outcomes: list[Outcome]) -> Outcome:
    return Outcome([s for o in outcomes for s in o.sent], sum(o.wall_seconds for o in outcomes))


def _cpu(legs: list[tuple[Outcome, dict[str, float]]]) -> dict[str, float]:
    """Each leg's CPU figures, weighted by its time."""
    wall = sum(outcome.wall_seconds for outcome, _ in legs) or 1.0
    keys = legs[0][1].keys()
    return {key: sum(cpu[key] * outcome.wall_seconds for outcome, cpu in legs) / wall for key in keys}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def modifier_checks(menu: dict[int, int], orders: list[OrderRequest], outcome: Outcome) -> dict[str, int]:
    """What the answers kept of each line's modifiers: the options sent, and a unit price that is the
    dish's plus its options' (the order's total is checked against the menu by `order_checks`)."""
    sent = {order.key: json.loads(order.body)["items"] for order in orders}
    lines = wrong_options = wrong_prices = 0
    for s in outcome.ok:
        assert s.order is not None
        for wanted, line in zip(sent[s.key], s.order["lines"], strict=True):
            lines += 1
            got = line["modifiers"]
            if sorted(m["option_id"] for m in got for _ in range(m["count"])) != sorted(wanted["modifiers"]):
                wrong_options += 1
            options = sum(m["price_cents"] * m["count"] for m in got)
            if not got or line["unit_price_cents"] != menu[line["menu_item_id"]] + options:
                wrong_prices += 1
    return {"lines": lines, "lines_with_wrong_options": wrong_options, "lines_priced_without_options": wrong_prices}


async def run(cfg: Config) -> dict[str, Any]:
    concurrency = cfg.concurrency
    leg_orders = max(1, cfg.orders // 2)
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    with server:
        client: Client = make_client(cfg.client, HOST, server.port, concurrency)
        try:
            await sign_in(client, server.credentials)
            menu = await create_menu(client, cfg.menu_items, cfg.seed)
            option_menu, options = await create_modifier_menu(client, cfg.menu_items, cfg.seed)
            menus = {"plain": menu, "three": menu, "modifiers": option_menu}

            def orders_of(kind: str, count: int, seed: int, tag: str) -> list[OrderRequest]:
                if kind == "plain":
                    return make_orders(menu, count, seed, tag)
                return make_orders(
                    menus[kind], count, seed, tag, lines=3, options=options if kind == "modifiers" else None
                )

            warmups = {}
            for kind in KINDS:  # opens the connections, fills the server's caches for each kind; not timed
                warmups[kind] = await burst(
                    client, orders_of(kind, concurrency, cfg.seed + 1, f"mod-{kind}-warm"), concurrency
                )
            planned = [orders_of(kind, leg_orders, cfg.seed + n, f"mod-{kind}-{n}") for n, kind in enumerate(LEGS)]
            legs: list[tuple[str, list[OrderRequest], Outcome, dict[str, float]]] = []
            for kind, orders in zip(LEGS, planned, strict=True):
                meter = CpuMeter(server)
                outcome = await burst(client, orders, concurrency)
                legs.append((kind, orders, outcome, meter.percent()))
            kitchen = await get_json(client, "/kitchen/orders")
        finally:
            await client.aclose()

    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [(outcome, cpu) for k, _, outcome, cpu in legs if k == kind]
        outcome = _merged([outcome for outcome, _ in mine])
        figures = speed(outcome, _cpu(mine))
        # The server's CPU time per order: steadier than orders/s on a shared machine, though not immune.
        server_s = figures["server_cpu_pct"] / 100 * figures["wall_s"]
        figures["server_cpu_ms_per_order"] = 1000 * server_s / figures["ok"] if figures["ok"] else None
        kinds[kind] = figures | {
            "orders": len(outcome.sent),
            "warmup_errors": len(warmups[kind].sent) - len(warmups[kind].ok),
        }
    # Correctness over every order of the server: one check, so ticket numbers are compared across kinds.
    every = [order for _, orders, _, _ in legs for order in orders]
    everything = _merged([outcome for _, _, outcome, _ in legs])
    warmed = _merged(list(warmups.values()))
    checks = order_checks(Burst(menu, warmed, every, everything, {}), kitchen, len(every))
    modified = [(orders, outcome) for kind, orders, outcome, _ in legs if kind == "modifiers"]
    checks |= modifier_checks(
        option_menu, [o for orders, _ in modified for o in orders], _merged([out for _, out in modified])
    )
    plain, three, mods = (kinds[kind]["orders_per_s"] for kind in KINDS)
    return {
        "orders": 2 * leg_orders,  # of each kind
        "leg_orders": leg_orders,
        "legs": [
            {"kind": kind, "orders_per_s": len(outcome.ok) / outcome.wall_seconds if outcome.wall_seconds else 0.0}
            for kind, _, outcome, _ in legs
        ],
        "concurrency": concurrency,
        "client": cfg.client,
        "kinds": kinds,
        "errors": sum(kinds[kind]["errors"] for kind in KINDS),
        "warmup_errors": sum(kinds[kind]["warmup_errors"] for kind in KINDS),
        "checks": checks,
        # with modifiers / without: the judged ratio is against the burst's own orders (`plain`)
        "ratio": mods / plain if plain else 0.0,
        "ratio_to_three_lines": mods / three if three else 0.0,
        "cpu_ratio": _ratio(kinds["modifiers"]["server_cpu_ms_per_order"], kinds["plain"]["server_cpu_ms_per_order"]),
        "shutdown_s": server.shutdown_seconds,
        "killed_at_shutdown": server.killed,
    }
