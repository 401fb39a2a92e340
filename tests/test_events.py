"""The event bus (forkflow/events.py) on its own: topics, bounded queues, dropping a slow
subscriber, close, published_through, and the internal auth events that end owned streams."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from forkflow.events import (
    ALL_TOPICS,
    AUTH_TOPIC,
    SESSION_ENDED,
    STAFF_CHANGED,
    TOKEN_REVOKED,
    TOPICS,
    Bus,
    Event,
    Owner,
    Subscription,
    topic_of,
)
from forkflow.public_ids import PublicIds

_ids = iter(range(1, 1_000_000))


def event(event_type: str, payload: dict[str, Any] | None = None, event_id: int | None = None) -> Event:
    data = json.dumps(payload if payload is not None else {"id": 1}, separators=(",", ":"))
    return Event(event_id if event_id is not None else next(_ids), event_type, data, datetime.now(UTC))


def queued(sub: Subscription) -> list[Event | object]:
    """What is waiting in a subscription right now, taken without waiting."""
    items = []
    while not sub._queue.empty():
        items.append(sub._queue.get_nowait())
    return items


async def drain(sub: Subscription, timeout: float = 1.0) -> list[Event]:
    """Everything a subscription yields until it ends; fails if it does not end within `timeout`."""

    async def read() -> list[Event]:
        return [item async for item in sub]

    return await asyncio.wait_for(read(), timeout)


async def next_event(sub: Subscription, timeout: float = 1.0) -> Event:
    return await asyncio.wait_for(anext(aiter(sub)), timeout)


# Events


def test_every_event_type_belongs_to_the_topic_named_by_its_prefix() -> None:
    assert topic_of("order.created") == "orders"
    assert topic_of("order.updated") == "orders"
    assert topic_of("menu.availability") == "menu"
    assert topic_of("inventory.adjusted") == "inventory"
    assert topic_of(SESSION_ENDED) == topic_of(TOKEN_REVOKED) == topic_of(STAFF_CHANGED) == AUTH_TOPIC
    assert AUTH_TOPIC not in TOPICS and set(ALL_TOPICS) == {*TOPICS, AUTH_TOPIC}
    with pytest.raises(KeyError):
        topic_of("nonsense.created")


def test_an_events_frame_is_one_sse_message_with_its_id_type_and_data() -> None:
    e = event("order.created", {"id": 3, "note": "a\nb"}, event_id=7)
    assert e.frame() == b'id: 7\r\nevent: order.created\r\ndata: {"id":3,"note":"a\\nb"}\r\n\r\n'
    assert e.frame() is e.frame(), "encoded once for every listener"
    assert e.payload == {"id": 3, "note": "a\nb"} and e.topic == "orders"


def test_the_public_frame_hides_the_id_behind_the_servers_key() -> None:
    ids, other = PublicIds("secret"), PublicIds("another secret")
    e = event("menu.updated", {"id": 5}, event_id=42)
    public = e.public_frame(ids).decode()
    opaque = public.split("\r\n", 1)[0].removeprefix("id: ")
    assert "42" not in opaque and ids.reveal(opaque) == 42
    assert public.split("\r\n", 1)[1] == e.frame().decode().split("\r\n", 1)[1], "the same event and data"
    assert e.public_frame(ids) is e.public_frame(ids), "cached per key"
    assert e.public_frame(other) != e.public_frame(ids), "another key, another opaque id"


def test_subject_id_comes_from_the_payload_unless_given() -> None:
    assert event("order.updated", {"id": 9}).subject_id == 9
    assert event("menu.deleted", {"name": "x"}).subject_id is None
    given = Event(1, "order.updated", '{"id": 9}', datetime.now(UTC), subject_id=4)
    assert given.subject_id == 4, "the writer passes it in, so the payload is not parsed again"


# Topics


async def test_a_subscriber_gets_only_the_topics_it_asked_for_in_publish_order() -> None:
    bus = Bus()
    menu_only = bus.subscribe(["menu"])
    everything = bus.subscribe()
    published = [event("order.created"), event("menu.updated"), event("inventory.adjusted"), event("menu.created")]
    for e in published:
        bus.publish(e)
    assert queued(menu_only) == [published[1], published[3]]
    assert queued(everything) == published


async def test_the_default_subscription_never_receives_auth_events() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.publish(event(STAFF_CHANGED, {"staff_id": 1}))
    bus.publish(event("menu.updated"))
    assert [e.type for e in queued(sub)] == ["menu.updated"]
    assert sub.topics == frozenset(TOPICS)


# Bounded queues


async def test_a_subscriber_that_falls_behind_is_dropped_and_its_stream_ends() -> None:
    bus = Bus(queue_size=3)
    slow = bus.subscribe()
    keen = bus.subscribe()
    got: list[Event] = []
    for n in range(5):
        e = event("order.created", {"id": n})
        bus.publish(e)  # never waits: a full queue is the subscriber's problem
        got.append(await next_event(keen))
    assert slow.dropped and not keen.dropped
    assert await drain(slow) == [], "what it had queued is dropped too: it replays from the table"
    assert bus.dropped == 1 and bus.subscriber_count == 1 and bus.subscriptions() == [keen]
    assert [e.payload["id"] for e in got] == [0, 1, 2, 3, 4]
    bus.publish(event("order.created"))
    assert slow.idle, "a dropped subscriber gets nothing more"


async def test_a_full_queue_holds_exactly_queue_size_events() -> None:
    bus = Bus(queue_size=3)
    sub = bus.subscribe()
    for _ in range(3):
        bus.publish(event("menu.updated"))
    assert not sub.dropped and bus.subscriber_count == 1
    bus.publish(event("menu.updated"))
    assert sub.dropped and bus.subscriber_count == 0


async def test_a_subscriber_reading_along_is_never_dropped() -> None:
    bus = Bus(queue_size=2)
    sub = bus.subscribe()
    for n in range(50):
        bus.publish(event("order.created", {"id": n}))
        assert (await next_event(sub)).payload["id"] == n
    assert not sub.dropped and bus.published == 50 and bus.dropped == 0


# Close and unsubscribe


async def test_close_ends_every_stream_and_forgets_every_subscriber() -> None:
    bus = Bus()
    subs = [bus.subscribe(), bus.subscribe(["menu"]), bus.subscribe(ALL_TOPICS)]
    bus.own(subs[0], Owner(1, "session", 10, "cashier"), deadline=1e12)
    bus.publish(event("menu.updated"))
    bus.close()
    for sub in subs:
        assert await drain(sub) == []
    assert bus.subscriber_count == 0 and bus.owned() == []
    assert not any(sub.dropped for sub in subs), "closing is not dropping"


async def test_an_unsubscribed_listener_gets_nothing_more_and_forgets_its_owner() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.own(sub, Owner(1, "token", 3, "manager"), deadline=1e12)
    bus.unsubscribe(sub)
    bus.publish(event("order.created"))
    assert sub.idle and bus.owned() == [] and bus._owned == {}
    bus.unsubscribe(sub)  # twice is harmless


async def test_owning_a_subscription_already_gone_does_not_keep_it() -> None:
    """A stream that was dropped before it said whose it is must not linger in the owned index."""
    bus = Bus()
    sub = bus.subscribe()
    bus.unsubscribe(sub)
    bus.own(sub, Owner(1, "session", 1, "kitchen"), deadline=123.0)
    assert bus.owned() == [] and sub.owner is None and sub.deadline == 123.0


# published_through


async def test_published_through_is_true_at_once_for_an_event_already_published() -> None:
    bus = Bus()
    bus.publish(event("menu.updated", event_id=5))
    assert await bus.published_through(5, timeout=0) is True
    assert await bus.published_through(3, timeout=0) is True


async def test_published_through_waits_for_the_event_to_be_published() -> None:
    bus = Bus()
    waiting = asyncio.create_task(bus.published_through(8, timeout=5))
    await asyncio.sleep(0)
    bus.publish(event("menu.updated", event_id=7))
    await asyncio.sleep(0)
    assert not waiting.done(), "an earlier event is not enough"
    bus.publish(event("menu.updated", event_id=9))  # a later one is: ids only grow
    assert await asyncio.wait_for(waiting, 1) is True
    assert bus._waiters == []


async def test_published_through_gives_up_after_its_timeout_and_leaves_no_waiter() -> None:
    bus = Bus()
    assert await bus.published_through(1, timeout=0.05) is False
    assert bus._waiters == []


async def test_last_event_id_never_goes_back() -> None:
    bus = Bus()
    bus.publish(event("menu.updated", event_id=10))
    bus.publish(event("menu.updated", event_id=4))
    assert bus.last_event_id == 10
    assert bus.state() == {"subscribers": 0, "published": 2, "dropped_subscribers": 0, "last_event_id": 10}


# Auth events end the streams of the credential they name


def owned_streams(bus: Bus) -> dict[str, Subscription]:
    """Streams of two staff members: Ana (id 1) with two sessions and a token, Ben (id 2) with a
    session whose id is the same number as Ana's token, and one anonymous stream."""
    owners = {
        "ana_session_10": Owner(1, "session", 10, "cashier"),
        "ana_session_11": Owner(1, "session", 11, "cashier"),
        "ana_token_10": Owner(1, "token", 10, "cashier"),
        "ben_session_10": Owner(2, "session", 10, "manager"),
    }
    streams = {}
    for name, owner in owners.items():
        streams[name] = bus.subscribe()
        bus.own(streams[name], owner, deadline=1e12)
    streams["anonymous"] = bus.subscribe()
    return streams


def still_open(bus: Bus, streams: dict[str, Subscription]) -> set[str]:
    live = set(bus.subscriptions())
    return {name for name, sub in streams.items() if sub in live}


async def test_signing_out_ends_only_that_sessions_streams() -> None:
    bus = Bus()
    streams = owned_streams(bus)
    bus.publish(event(SESSION_ENDED, {"staff_id": 1, "session_id": 10}))
    assert still_open(bus, streams) == {"ana_session_11", "ana_token_10", "ben_session_10", "anonymous"}
    assert await drain(streams["ana_session_10"]) == []
    assert bus.ended == 1 and not streams["ana_session_10"].dropped


async def test_revoking_a_token_ends_only_that_tokens_streams() -> None:
    bus = Bus()
    streams = owned_streams(bus)
    bus.publish(event(TOKEN_REVOKED, {"staff_id": 1, "token_id": 10}))
    assert still_open(bus, streams) == {"ana_session_10", "ana_session_11", "ben_session_10", "anonymous"}


async def test_a_staff_change_ends_every_stream_of_that_person_and_no_one_elses() -> None:
    bus = Bus()
    streams = owned_streams(bus)
    bus.publish(event(STAFF_CHANGED, {"staff_id": 1}))
    assert still_open(bus, streams) == {"ben_session_10", "anonymous"}
    assert bus.ended == 3 and [sub.owner for sub in bus.owned()] == [Owner(2, "session", 10, "manager")]


async def test_an_auth_event_for_someone_without_streams_ends_nothing() -> None:
    bus = Bus()
    streams = owned_streams(bus)
    bus.publish(event(STAFF_CHANGED, {"staff_id": 99}))
    assert still_open(bus, streams) == set(streams) and bus.ended == 0


async def test_auth_listeners_hear_each_auth_event_after_its_streams_have_ended() -> None:
    bus = Bus()
    streams = owned_streams(bus)
    heard: list[tuple[str, set[str]]] = []
    bus.auth_listeners.append(lambda e: heard.append((e.type, still_open(bus, streams))))
    bus.publish(event("order.created"))
    bus.publish(event(STAFF_CHANGED, {"staff_id": 2}))
    assert heard == [(STAFF_CHANGED, {"ana_session_10", "ana_session_11", "ana_token_10", "anonymous"})]


async def test_an_auth_event_from_another_process_ends_streams_without_being_published() -> None:
    """The CLI writes on SQLite from its own process: the server applies what it reads back."""
    bus = Bus()
    streams = owned_streams(bus)
    listening = bus.subscribe(ALL_TOPICS)
    bus.credential_ended(event(STAFF_CHANGED, {"staff_id": 1}, event_id=77))
    assert still_open(bus, streams) == {"ben_session_10", "anonymous"}
    assert bus.published == 0 and bus.last_event_id == 0 and listening.idle
    bus.credential_ended(event(STAFF_CHANGED, {"staff_id": 1}, event_id=77))  # twice is harmless
    assert bus.ended == 3


async def test_ending_a_stream_discards_what_it_had_queued() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.own(sub, Owner(3, "session", 1, "kitchen"), deadline=1e12)
    for _ in range(5):
        bus.publish(event("order.created"))
    bus.end(sub)
    assert await drain(sub) == [], "the client reconnects, is authenticated again, and replays"
