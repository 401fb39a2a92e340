"""Dinner rush against a real server: concurrent writers, live listeners, a reader, and retries."""

from __future__ import annotations

import asyncio
import random

import httpx

from .conftest import Server, on_both_backends, order_body, pooled
from .sse import Listener

pytestmark = on_both_backends


async def test_500_orders_from_100_clients_reach_every_listener_in_commit_order(
    server: Server, menu: list[dict]
) -> None:
    listeners = [Listener(server.url, topics="orders", token=server.tokens["kitchen"]) for _ in range(20)]
    for listener in listeners:
        await listener.__aenter__()
    stop_reading = asyncio.Event()
    kitchen_reads: list[int] = []

    async def read_kitchen(client: httpx.AsyncClient) -> None:
        while not stop_reading.is_set():
            response = await client.get("/kitchen/orders")
            kitchen_reads.append(response.status_code)

    async def place(client: httpx.AsyncClient, numbers: list[int]) -> list[httpx.Response]:
        responses = []
        for n in numbers:
            body = order_body(menu, customer_name=f"Guest {n}")
            responses.append(await client.post("/orders", json=body, headers={"Idempotency-Key": f"rush-{n}"}))
        return responses

    limits = pooled(200)
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, limits=limits, headers=server.auth("cashier")
    ) as client:
        reader = asyncio.create_task(read_kitchen(client))
        per_client = [list(range(i, 500, 100)) for i in range(100)]
        results = await asyncio.gather(*(place(client, numbers) for numbers in per_client))
        stop_reading.set()
        await reader
        responses = [r for batch in results for r in batch]
        assert [r.status_code for r in responses] == [201] * 500, {r.status_code for r in responses}
        created_ids = {r.json()["id"] for r in responses}
        assert len(created_ids) == 500

        stored = (await client.get("/orders", params={"limit": 1000})).json()
        assert len(stored) == 500
        assert {o["id"] for o in stored} == created_ids
        assert kitchen_reads and set(kitchen_reads) == {200}

    try:
        for listener in listeners:
            received = await listener.wait_for(500, "order.created")
            assert len(received) == 500
            assert {e.payload["id"] for e in received} == created_ids
            event_ids = [e.id for e in received]
            assert event_ids == sorted(event_ids), "events must arrive in commit order"
            order_ids = [e.payload["id"] for e in received]
            assert order_ids == sorted(order_ids), "orders were committed in id order"
            ticket_numbers = [e.payload["ticket_no"] for e in received]
            assert ticket_numbers == list(range(1, 501))
    finally:
        for listener in listeners:
            await listener.close()


async def test_each_order_sent_three_times_at_once_is_made_once(server: Server, menu: list[dict]) -> None:
    rng = random.Random(7)
    bodies = {
        f"retry-{n}": order_body(
            menu,
            customer_name=f"Guest {n}",
            items=[{"menu_item_id": rng.choice(menu)["id"], "quantity": rng.randint(1, 5)}],
        )
        for n in range(200)
    }
    sends = [(key, body) for key, body in bodies.items() for _ in range(3)]
    rng.shuffle(sends)
    limits = pooled(150)
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, limits=limits, headers=server.auth("cashier")
    ) as client:
        responses = await asyncio.gather(
            *(client.post("/orders", json=body, headers={"Idempotency-Key": key}) for key, body in sends)
        )
        assert {r.status_code for r in responses} == {201}
        ids_by_key: dict[str, set[int]] = {}
        for (key, _), response in zip(sends, responses, strict=True):
            ids_by_key.setdefault(key, set()).add(response.json()["id"])
        assert all(len(ids) == 1 for ids in ids_by_key.values()), "one key, one order"
        replayed = sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses)
        assert replayed == 400

        stored = (await client.get("/orders", params={"limit": 1000})).json()
        assert len(stored) == 200
        health = (await client.get("/health", headers=server.auth("manager"))).json()
        # 4 menu items + 200 orders: no event for any replay.
        assert health["bus"]["last_event_id"] == 204
