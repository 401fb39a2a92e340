"""`GET /events`: every committed change as Server-Sent Events, with replay from Last-Event-ID
(how a stream neither skips nor repeats an event: forkflow/live.py).

Staff get the events table's ids. A caller who is not signed in gets them opaque (`public_ids`),
and its position is its own topics' newest event rather than the table's head: nothing in a public
stream counts the events it does not show.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.roles import can, principal_of, require
from ..errors import BadRequest
from ..events import TOPICS, Event, Subscription
from ..live import CaughtUp, Frames, Render, Start, open_stream, parse_last_event_id, ready_frame
from ..public_ids import PublicIds
from ..request import store_of

# What reading each topic takes; menu events are public.
TOPIC_PERMISSION = {"orders": "orders.read", "inventory": "inventory", "menu": None}


def allowed_topics(request: Request) -> frozenset[str]:
    """The topics asked for, each checked (401/403); by default every topic the caller may read."""
    raw = request.query_params.get("topics")
    if not raw:
        principal = principal_of(request)
        return frozenset(
            t for t, permission in TOPIC_PERMISSION.items() if permission is None or can(principal, permission)
        )
    topics = parse_topics(raw)
    for topic in sorted(topics):
        permission = TOPIC_PERMISSION[topic]
        if permission is not None:
            require(request, permission)
    return topics


def parse_topics(raw: str) -> frozenset[str]:
    topics = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = topics - set(TOPICS)
    if unknown or not topics:
        raise BadRequest(
            f"unknown topics: {', '.join(sorted(unknown)) or '(none given)'}",
            {"topics": f"choose from {', '.join(TOPICS)}"},
        )
    return topics


def public_ids_of(request: Request) -> PublicIds | None:
    """How event ids are hidden from this caller: None for staff, who see them as they are."""
    return None if principal_of(request) is not None else request.app.state.public_ids


async def _as_stored(event: Event, settled: bool) -> Frames:
    return [event.frame()]


async def _ready(last_event_id: int) -> Frames:
    return [ready_frame(last_event_id)]


def _as_seen_by_public(ids: PublicIds) -> tuple[Render, CaughtUp]:
    async def render(event: Event, settled: bool) -> Frames:
        return [event.public_frame(ids)]  # encoded once per event, for every public listener

    async def ready(last_event_id: int) -> Frames:
        return [ready_frame(ids.hide(last_event_id))]

    return render, ready


async def events(request: Request) -> Response:
    store = store_of(request)
    topics = allowed_topics(request)
    last_id = parse_last_event_id(request)
    public = public_ids_of(request)

    async def snapshot(sub: Subscription) -> Start:
        if last_id is not None:
            after = last_id
        elif public is None:
            after = await store.last_event_id()
        else:
            # The public's position is the newest event of its topics, not the table's head: a
            # `stream.ready` that followed the head would change with every order placed.
            after = await store.last_event_id(topics=topics)
        if public is None:
            return Start(after, _as_stored, _ready)
        return Start(after, *_as_seen_by_public(public))

    return await open_stream(request, topics, snapshot)


routes = [Route("/events", events, methods=["GET"])]
