"""`GET /events` on a real server: replay, live, filters, headers, heartbeats, shutdown, restart."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from .conftest import Server, on_both_backends, order_body
from .sse import Listener

pytestmark = on_both_backends


async def _post_orders(server: Server, menu: list[dict], count: int, prefix: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.auth("cashier")) as client:
        orders = []
        for n in range(count):
            response = await client.post("/orders", json=order_body(menu, customer_name=f"{prefix} {n}"))
            assert response.status_code == 201
            orders.append(response.json())
        return orders


async def test_reconnect_with_last_event_id_gets_exactly_what_was_missed_then_live(
    server: Server, menu: list[dict]
) -> None:
    async with Listener(server.url, topics="orders", token=server.tokens["manager"]) as first:
        await _post_orders(server, menu, 3, "before")
        seen = await first.wait_for(3)
    last_seen = seen[-1].id

    missed = await _post_orders(server, menu, 10, "while away")

    async with Listener(server.url, topics="orders", last_event_id=last_seen, token=server.tokens["manager"]) as again:
        replayed = await again.wait_for(10)
        assert [e.payload["id"] for e in replayed] == [o["id"] for o in missed]
        assert all(e.type == "order.created" for e in replayed)
        live = await _post_orders(server, menu, 2, "after")
        events = await again.wait_for(12)
        await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
        assert len(again.events) == 12
        assert [e.payload["id"] for e in events[10:]] == [o["id"] for o in live]
        ids = [e.id for e in again.events]
        assert ids == sorted(set(ids)), "no duplicates, in order"
        assert ids[0] > last_seen


async def test_last_event_id_as_query_parameter_for_a_fresh_event_source(server: Server, menu: list[dict]) -> None:
    await _post_orders(server, menu, 2, "first")
    head = httpx.get(f"{server.url}/health", headers=server.auth("manager")).json()["bus"]["last_event_id"]
    missed = await _post_orders(server, menu, 4, "missed")
    listener = Listener(server.url, token=server.tokens["manager"])
    listener.url = f"{server.url}/events?topics=orders&last_event_id={head}"
    async with listener:
        events = await listener.wait_for(4)
        assert [e.payload["id"] for e in events] == [o["id"] for o in missed]


async def test_without_last_event_id_only_new_events_arrive(server: Server, menu: list[dict]) -> None:
    await _post_orders(server, menu, 2, "old")
    async with Listener(server.url, token=server.tokens["manager"]) as listener:
        assert listener.events == []
        fresh = await _post_orders(server, menu, 1, "new")
        events = await listener.wait_for(1)
        assert events[0].payload == fresh[0]


async def test_topics_filter_and_payload_is_the_api_representation(server: Server, menu: list[dict]) -> None:
    async with (
        Listener(server.url, topics="menu", last_event_id=0, token=server.tokens["manager"]) as menu_only,
        Listener(server.url, topics="orders,inventory", last_event_id=0, token=server.tokens["manager"]) as others,
    ):
        replayed = await menu_only.wait_for(len(menu))
        assert [e.type for e in replayed] == ["menu.created"] * len(menu)
        assert [e.payload for e in replayed] == menu

        async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager")) as client:
            toggled = (await client.put(f"/menu/{menu[0]['id']}/availability", json={"available": False})).json()
            stock = (await client.post("/inventory", json={"item_name": "Buns", "quantity": 10, "unit": "pcs"})).json()
            changed = (await client.patch(f"/inventory/{stock['id']}", json={"delta": -2.5})).json()
            order = (await client.post("/orders", json=order_body(menu[1:]))).json()
            moved = (await client.patch(f"/orders/{order['id']}", json={"status": "preparing"})).json()
            edited = (await client.put(f"/menu/{menu[1]['id']}", json={**menu[1], "price_cents": 500})).json()

        menu_events = await menu_only.wait_for(len(menu) + 2)
        assert [(e.type, e.payload) for e in menu_events[len(menu) :]] == [
            ("menu.availability", toggled),
            ("menu.updated", edited),
        ]
        other_events = await others.wait_for(4)
        assert [(e.type, e.payload) for e in other_events] == [
            ("inventory.created", stock),
            ("inventory.updated", changed),
            ("order.created", order),
            ("order.updated", moved),
        ]
        assert changed["quantity"] == 7.5


def test_stream_headers_retry_and_heartbeat(server: Server) -> None:
    with httpx.stream("GET", f"{server.url}/events", timeout=10, headers=server.auth("kitchen")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        text = ""
        started = time.monotonic()
        for chunk in response.iter_text():
            text += chunk
            if ": ping" in text or time.monotonic() - started > 5:
                break
    assert "retry: 1500" in text
    assert ": ping" in text, "a heartbeat comment arrives on an idle stream (ping set to 1 s in tests)"


def test_bad_stream_parameters_are_400(server: Server) -> None:
    bad_topic = httpx.get(f"{server.url}/events?topics=orders,gossip", headers=server.auth("manager"))
    assert bad_topic.status_code == 400
    assert bad_topic.json()["error"]["fields"] == {"topics": "choose from orders, menu, inventory, kitchen, money"}
    bad_id = httpx.get(f"{server.url}/events", headers={"Last-Event-ID": "abc"})
    assert bad_id.status_code == 400
    assert bad_id.json()["error"]["code"] == "bad_request"


async def test_ctrl_c_ends_open_streams_promptly(server: Server) -> None:
    listeners = [Listener(server.url, token=server.tokens["manager"]) for _ in range(5)]
    for listener in listeners:
        await listener.__aenter__()
    took = await asyncio.to_thread(server.stop)
    assert took < 5, f"shutdown took {took:.1f} s with streams open"
    for listener in listeners:
        await asyncio.wait_for(listener.ended.wait(), 5)
    assert "ASGI callable returned without completing response" not in server.log.read_text()


async def test_replay_across_a_server_restart(server: Server, menu: list[dict]) -> None:
    async with Listener(server.url, topics="orders", token=server.tokens["manager"]) as listener:
        await _post_orders(server, menu, 2, "before restart")
        seen = await listener.wait_for(2)
        last_seen = seen[-1].id
        await asyncio.to_thread(server.stop)
        await asyncio.wait_for(listener.ended.wait(), 5)

    server.start()
    made_after = await _post_orders(server, menu, 5, "after restart")
    async with Listener(server.url, topics="orders", last_event_id=last_seen, token=server.tokens["manager"]) as again:
        events = await again.wait_for(5)
        assert [e.payload["id"] for e in events] == [o["id"] for o in made_after]
        assert events[0].id == last_seen + 1, "event ids continue across restarts"


def test_head_on_the_stream_leaves_no_listener_behind(server: Server) -> None:
    response = httpx.head(f"{server.url}/events")
    assert response.status_code == 200
    assert httpx.get(f"{server.url}/health", headers=server.auth("manager")).json()["bus"]["subscribers"] == 0


def test_a_tracking_link_streams_its_order_and_nothing_else(server: Server, menu: list[dict]) -> None:
    cashier = server.auth("cashier")
    mine = httpx.post(f"{server.url}/orders", json=order_body(menu, channel="online")).json()
    mine_id = httpx.get(f"{server.url}/orders", headers=cashier).json()[0]["id"]  # the public answer has none
    other = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=cashier).json()
    frames: list[tuple[str, dict]] = []
    with httpx.stream("GET", f"{server.url}{mine['tracking_url']}/events", timeout=10) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        event = None
        for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "order":
                frames.append((event, json.loads(line[6:])))
                if len(frames) == 1:  # the state now; then the kitchen moves both orders
                    for order_id in (other["id"], mine_id, other["id"]):
                        httpx.patch(f"{server.url}/orders/{order_id}", json={"status": "preparing"}, headers=cashier)
                if len(frames) == 2:
                    break
    assert [data["status"] for _, data in frames] == ["new", "preparing"]
    assert all("id" not in data and data["pickup_code"] == mine["pickup_code"] for _, data in frames)
    assert httpx.get(f"{server.url}/track/not-a-token/events").status_code == 404
