"""`GET /events`: every committed change as Server-Sent Events, with replay from Last-Event-ID
(how a stream neither skips nor repeats an event: forkflow/live.py).

Staff get the events table's ids. A caller who is not signed in gets them opaque (`public_ids`),
and its position is its own topics' newest event rather than the table's head: nothing in a public
stream counts the events it does not show.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..auth.roles import can, principal_of, require
from ..errors import BadRequest
from ..events import TOPICS, Event, Subscription
from ..live import CaughtUp, Frames, Render, Start, open_stream, parse_last_event_id, ready_frame
from ..openapi import REF
from ..operation import ApiRoute, Operation, roles_text
from ..public_ids import PublicIds
from ..request import store_of

# What reading each topic takes; menu events are public.
TOPIC_PERMISSION = {
    "orders": "orders.read",
    "inventory": "inventory",
    "menu": None,
    "kitchen": "orders.read",
    "money": "reports",
}


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


# What the document says of the stream.

_TOPIC_ROLES = {topic: roles_text(permission) for topic, permission in TOPIC_PERMISSION.items() if permission}
_TOPICS_PARAM = {
    "name": "topics",
    "in": "query",
    "required": False,
    "description": (
        f"comma-separated topics out of `{','.join(TOPICS)}`. Left out: every topic the caller may read "
        "(the public: `menu`). An unknown topic is 400; a topic the caller may not read is 401 or 403."
    ),
    "schema": {"type": "string", "pattern": f"^\\s*({'|'.join(TOPICS)})\\s*(,\\s*({'|'.join(TOPICS)})\\s*)*$"},
    "example": "orders,menu",
}
_OPAQUE_ID = {
    "type": "string",
    "pattern": "^[0-9a-f]{32}$",
    "description": "an event id as the public sees it: opaque, 32 hex characters",
}
_LAST_EVENT_ID_QUERY = {
    "name": "last_event_id",
    "in": "query",
    "required": False,
    "description": (
        "replay every stored event after this id, then go on live: for a client that keeps its own "
        "position (a new `EventSource` sends no `Last-Event-ID` header). The header wins if both are sent. "
        "The public sends back the opaque id it was sent (or 0: from the start)."
    ),
    "schema": {"anyOf": [{"type": "integer", "minimum": 0}, _OPAQUE_ID]},
}
_LAST_EVENT_ID_HEADER = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": (
        "sent by a reconnecting `EventSource` by itself: replay every stored event after this id, in order, "
        "then go on live, with no gap and no duplicate. Not a whole number (staff) or an opaque id this "
        "server sent (the public; or 0): 400."
    ),
    "schema": {"anyOf": [{"type": "integer", "minimum": 0}, _OPAQUE_ID]},
}

_EVENTS_DESCRIPTION = """\
A Server-Sent Events stream of every committed change, for as long as the connection is open.

Each event is

```
id: 36
event: order.updated
data: {"id": 1, "ticket_no": 1, "status": "preparing", ..., "lines": [...]}
```

- `id`: the event's row id in the events table; `event`: its type; `data`: the full new state of
  what changed, exactly as the JSON API returns it. A caller who is not signed in gets the id
  opaque (32 hex characters, e.g. `id: 5f0c...e1`): it counts nothing, and is only good for sending
  back as `Last-Event-ID` / `last_event_id`.
- Types, by topic:
  - `orders` (roles: {orders}): `order.created`, `order.updated` (data: `OrderOut`; also for lines added
    or voided after sending, with the order's next `revision`, and courses fired), `order.released` (a
    scheduled order went to the kitchen; data: `OrderOut`)
  - `menu` (public): `menu.created`, `menu.updated`, `menu.availability` (data: `MenuItemOut`, the whole
    item; an option's 86 is its item's `menu.availability`), `menu.categories` (data: `MenuCategoriesOut`),
    `menu.hours` (data: `HoursOut`, the opening hours), `menu.online` (data: `OnlineOut`, online
    ordering's pace)
  - `inventory` (roles: {inventory}): `inventory.created`, `inventory.updated`, `inventory.low` (data:
    `InventoryItemOut`), `inventory.recipe` (data: `RecipeOut`)
  - `kitchen` (roles: {orders}): proof of sight: `sight.seen` (data: `SightSeenOut`, sends a screen or
    printer has just seen), `sight.unseen` (data: `SightingOut`, the alarm: a send no screen or printer
    of its station saw within `FORKFLOW_UNSEEN_SECONDS`), `screen.online`, `screen.offline` (data:
    `ScreenOut`)
- `stream.ready` (data: `StreamReady`, `{"last_event_id": N}`; opaque for the public) is sent once
  the replay of stored events is done: from there on events are live.
- The stream opens with `retry: 1500` (browsers reconnect within 1.5 s) and sends a heartbeat
  comment every 15 s (`FORKFLOW_SSE_PING_SECONDS`) on idle connections.
- Without `Last-Event-ID` or `last_event_id` the stream starts from now.
- A listener that cannot keep up is disconnected; it reconnects with `Last-Event-ID` and replays
  what it missed. `x-events` below maps each event type to the schema of its data.
""".replace("{orders}", _TOPIC_ROLES["orders"]).replace("{inventory}", _TOPIC_ROLES["inventory"])

routes = [
    ApiRoute(
        "GET",
        "/events",
        events,
        Operation(
            "The live event stream (Server-Sent Events)",
            "events",
            access="optional",
            parameters=(_TOPICS_PARAM, _LAST_EVENT_ID_QUERY, _LAST_EVENT_ID_HEADER),
            description=_EVENTS_DESCRIPTION
            + f"\n**Public** for the `menu` topic; `orders` needs one of: {_TOPIC_ROLES['orders']}; "
            + f"`inventory` needs one of: {_TOPIC_ROLES['inventory']}.",
            content={
                "text/event-stream": {
                    "schema": {"type": "string", "description": "Server-Sent Events frames (id, event, data)"},
                    "example": 'id: 36\nevent: order.updated\ndata: {"id": 1, "status": "preparing"}\n\n',
                }
            },
            headers={
                "Cache-Control": {"schema": {"type": "string", "enum": ["no-cache"]}},
                "X-Accel-Buffering": {"description": "stops proxies from buffering", "schema": {"type": "string"}},
            },
            extensions={
                "x-events": {
                    **{
                        name: {"topic": "orders", "data": {"$ref": REF.format(model="OrderOut")}}
                        for name in ("order.created", "order.updated", "order.released")
                    },
                    **{
                        name: {"topic": "menu", "data": {"$ref": REF.format(model="MenuItemOut")}}
                        for name in ("menu.created", "menu.updated", "menu.availability")
                    },
                    "menu.categories": {"topic": "menu", "data": {"$ref": REF.format(model="MenuCategoriesOut")}},
                    "menu.hours": {"topic": "menu", "data": {"$ref": REF.format(model="HoursOut")}},
                    "menu.online": {"topic": "menu", "data": {"$ref": REF.format(model="OnlineOut")}},
                    "inventory.recipe": {"topic": "inventory", "data": {"$ref": REF.format(model="RecipeOut")}},
                    **{
                        name: {"topic": "inventory", "data": {"$ref": REF.format(model="InventoryItemOut")}}
                        for name in ("inventory.created", "inventory.updated", "inventory.low")
                    },
                    "sight.seen": {"topic": "kitchen", "data": {"$ref": REF.format(model="SightSeenOut")}},
                    "sight.unseen": {"topic": "kitchen", "data": {"$ref": REF.format(model="SightingOut")}},
                    **{
                        name: {"topic": "kitchen", "data": {"$ref": REF.format(model="ScreenOut")}}
                        for name in ("screen.online", "screen.offline")
                    },
                    "stream.ready": {"topic": None, "data": {"$ref": REF.format(model="StreamReady")}},
                }
            },
            errors={
                400: "An unknown topic, or a `Last-Event-ID` / `last_event_id` that is not an event id "
                "(for the public: not one this server sent, or 0).",
                401: "A topic other than `menu` asked for without signing in; or the bearer token is not valid.",
                403: "A topic asked for that the caller's role may not read.",
            },
        ),
    ),
]
