"""Beyond one process: two ForkFlow servers on different ports sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from forkflow.events import Event
from forkflow.storage.postgres import notification

from .conftest import MENU, POSTGRES, Server, drop_postgres_database, new_postgres_database, order_body
from .sse import Listener


def _menu(server: Server) -> list[dict]:
    with httpx.Client(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        return [client.post("/menu", json=item).json() for item in MENU]


async def _place(server: Server, bodies: list[dict], keys: list[str] | None = None) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("cashier"), timeout=30) as client:
        return await asyncio.gather(
            *[
                client.post("/orders", json=body, headers={"Idempotency-Key": keys[i]} if keys else {})
                for i, body in enumerate(bodies)
            ]
        )


def _assert_every_event_once_in_order(listener: Listener, expected_ids: set[int]) -> None:
    ids = [event.id for event in listener.events]
    assert ids == sorted(ids), "in id order"
    assert len(ids) == len(set(ids)), "each event once"
    assert expected_ids <= set(ids), f"missing {sorted(expected_ids - set(ids))[:10]}"


async def test_orders_posted_to_both_reach_listeners_on_both_once_each_in_id_order(
    postgres_pair: tuple[Server, Server],
) -> None:
    first, second = postgres_pair
    menu = _menu(first)
    listeners = [
        Listener(srv.url, topics="orders", token=srv.tokens["kitchen"]) for srv in (first, second) for _ in range(3)
    ]
    for listener in listeners:
        await listener.__aenter__()
    try:
        answers = await asyncio.gather(
            _place(first, [order_body(menu, customer_name=f"A{n}") for n in range(60)]),
            _place(second, [order_body(menu, customer_name=f"B{n}") for n in range(60)]),
        )
        made = [response for batch in answers for response in batch]
        assert [response.status_code for response in made] == [201] * 120
        orders = {response.json()["id"] for response in made}
        for listener in listeners:
            await listener.wait_for(120, "order.created", timeout=20)
        # The events' ids, as the table holds them: every listener on either process saw all of them.
        with httpx.Client(base_url=first.url, headers=first.auth("manager"), timeout=10) as client:
            assert {o["id"] for o in client.get("/orders", params={"limit": 1000}).json()} == orders
        expected = {event.id for event in listeners[0].events}
        for listener in listeners:
            assert {event.payload["id"] for event in listener.of_type("order.created")} == orders
            _assert_every_event_once_in_order(listener, expected)
        # Replay works on either process: resuming from the middle gives exactly the rest.
        middle = sorted(expected)[len(expected) // 2]
        for srv in (first, second):
            async with Listener(srv.url, "orders", last_event_id=middle, token=srv.tokens["kitchen"]) as late:
                await late.wait_for(len([i for i in expected if i > middle]), timeout=10)
                assert [e.id for e in late.events] == sorted(i for i in expected if i > middle)
    finally:
        for listener in listeners:
            await listener.close()


async def test_one_idempotency_key_sent_to_both_processes_at_once_makes_one_order(
    postgres_pair: tuple[Server, Server],
) -> None:
    first, second = postgres_pair
    menu = _menu(first)
    keys = [f"till-{n}" for n in range(40)]
    bodies = [order_body(menu, customer_name=f"K{n}") for n in range(40)]
    answers = await asyncio.gather(_place(first, bodies, keys), _place(second, bodies, keys))
    for a, b in zip(*answers, strict=True):
        assert (a.status_code, b.status_code) == (201, 201)
        assert a.json()["id"] == b.json()["id"], "the same order from both"
        assert sorted([a.headers.get("Idempotent-Replayed"), b.headers.get("Idempotent-Replayed")], key=str) == [
            None,
            "true",
        ]
    with httpx.Client(base_url=second.url, headers=second.auth("manager"), timeout=10) as client:
        assert len(client.get("/orders", params={"limit": 1000}).json()) == 40


async def test_the_stock_race_holds_across_processes(postgres_pair: tuple[Server, Server]) -> None:
    first, second = postgres_pair
    with httpx.Client(base_url=first.url, headers=first.auth("manager"), timeout=10) as client:
        dish = client.post("/menu", json=MENU[0]).json()
        patty = client.post("/inventory", json={"item_name": "Patty", "quantity": 10, "unit": "pcs"}).json()
        recipe = {"ingredients": [{"inventory_id": patty["id"], "quantity": 1}]}
        client.put(f"/menu/{dish['id']}/recipe", json=recipe).raise_for_status()
    body = {"customer_name": "Rush", "channel": "counter", "items": [{"menu_item_id": dish["id"], "quantity": 1}]}
    answers = await asyncio.gather(_place(first, [body] * 50), _place(second, [body] * 50))
    codes = sorted(response.status_code for batch in answers for response in batch)
    assert codes == [201] * 10 + [409] * 90
    with httpx.Client(base_url=second.url, headers=second.auth("manager"), timeout=10) as client:
        assert client.get(f"/inventory/{patty['id']}").json()["quantity"] == 0
        assert client.get(f"/menu/{dish['id']}").json()["available"] is False


async def _terminate_listen_connections(database: str) -> int:
    admin = await asyncpg.connect(POSTGRES)
    try:
        pids = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'", database
        )
        for row in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
        return len(pids)
    finally:
        await admin.close()


async def test_killing_the_listen_connection_during_a_stream_of_orders_loses_nothing(
    postgres_pair: tuple[Server, Server],
) -> None:
    first, second = postgres_pair
    menu = _menu(first)
    database = first.database_url.rsplit("/", 1)[1] if first.database_url else ""
    listeners = [Listener(srv.url, topics="orders", token=srv.tokens["kitchen"]) for srv in (first, second)]
    for listener in listeners:
        await listener.__aenter__()
    try:

        async def stream_of_orders() -> list[httpx.Response]:
            made = []
            for n in range(40):
                made += await _place(first if n % 2 else second, [order_body(menu, customer_name=f"S{n}")] * 2)
                await asyncio.sleep(0.02)
            return made

        placing = asyncio.create_task(stream_of_orders())
        killed = 0
        for _ in range(3):  # kill both processes' LISTEN connections, three times, mid-stream
            await asyncio.sleep(0.25)
            killed += await _terminate_listen_connections(database)
        made = await placing
        assert killed >= 2, "the LISTEN connections were found and ended"
        assert [response.status_code for response in made] == [201] * 80
        orders = {response.json()["id"] for response in made}
        for listener in listeners:
            await listener.wait_for(80, "order.created", timeout=30)
            assert {event.payload["id"] for event in listener.of_type("order.created")} == orders
            _assert_every_event_once_in_order(listener, {event.id for event in listeners[0].events})
    finally:
        for listener in listeners:
            await listener.close()


async def test_serve_with_two_workers_shares_every_event(tmp_path: Path) -> None:
    """`forkflow serve --workers 2`: two processes on one port; each stream, whichever worker it
    landed on, gets every order placed through either."""
    url = new_postgres_database()
    server = Server(tmp_path / "workers.db", database_url=url)
    try:
        server.start("--workers", "2")
        assert server.process is not None
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        assert len(children) >= 2, "two worker processes (and multiprocessing's resource tracker)"
        menu = _menu(server)
        listeners = [Listener(server.url, topics="orders", token=server.tokens["kitchen"]) for _ in range(6)]
        for listener in listeners:
            await listener.__aenter__()
        try:
            answers = await _place(server, [order_body(menu, customer_name=f"W{n}") for n in range(60)])
            assert [response.status_code for response in answers] == [201] * 60
            orders = {response.json()["id"] for response in answers}
            for listener in listeners:
                await listener.wait_for(60, "order.created", timeout=20)
                assert {event.payload["id"] for event in listener.of_type("order.created")} == orders
                _assert_every_event_once_in_order(listener, {event.id for event in listeners[0].events})
        finally:
            for listener in listeners:
                await listener.close()
    finally:
        if server.process is not None:
            server.stop()
        drop_postgres_database(url)


async def test_an_event_too_big_for_a_notification_is_read_back(postgres_pair: tuple[Server, Server]) -> None:
    """NOTIFY payloads stop at 8,000 bytes: a big order goes by id and is read from the table."""
    first, second = postgres_pair
    menu = _menu(first)
    lines = [{"menu_item_id": menu[n % len(menu)]["id"], "quantity": 1, "notes": "x" * 190} for n in range(60)]
    big = {"customer_name": "Big table", "channel": "table", "table": "40", "notes": "y" * 500, "items": lines}
    listeners = [Listener(srv.url, topics="orders", token=srv.tokens["kitchen"]) for srv in (first, second)]
    for listener in listeners:
        await listener.__aenter__()
    try:
        (small,) = await _place(second, [order_body(menu)])
        (made,) = await _place(first, [big])
        (after,) = await _place(second, [order_body(menu)])
        assert len(made.content) > 8000
        for listener in listeners:
            events = await listener.wait_for(3, "order.created", timeout=10)
            assert [e.payload["id"] for e in events] == [small.json()["id"], made.json()["id"], after.json()["id"]]
            assert events[1].payload == made.json()
    finally:
        for listener in listeners:
            await listener.close()


# The payload rule of PostgreSQL's NOTIFY (storage/postgres.py): no database needed


def test_a_notification_carries_the_whole_event_when_it_fits_else_only_its_id() -> None:
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    small = Event(5, "menu.updated", '{"id":3,"name":"Soup"}', created)
    assert json.loads(notification(small)) == {
        "id": 5,
        "type": "menu.updated",
        "created_at": created.isoformat(),
        "data": {"id": 3, "name": "Soup"},
    }
    # 7,900 bytes at most, counted in bytes: 4,000 "é" are 4,000 characters but 8,000 bytes.
    for text in ("x" * 8000, "é" * 4000):
        big = Event(6, "menu.updated", json.dumps({"id": 3, "description": text}, ensure_ascii=False), created)
        assert notification(big) == '{"id":6}'
    fits = Event(7, "menu.updated", json.dumps({"d": "é" * 3000}, ensure_ascii=False), created)
    assert len(notification(fits).encode()) <= 7900 and json.loads(notification(fits))["data"]["d"] == "é" * 3000
