"""A customer's tracking link against a real server: the page's live status panel; and the
estimates it shows, from the recent prep times of a real store."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.routes.track.status import track_status
from forkflow.schema import orders
from forkflow.services.estimates import DEFAULT_PREP, estimate_for, prep_time, typical_prep
from forkflow.store import Store, Tx

from .conftest import Server, order_body
from .test_shop import Customer, Stream, all_orders


@pytest.fixture
def customer(server: Server) -> Iterator[Customer]:
    c = Customer(server)
    yield c
    c.close()


def test_the_tracking_page_streams_its_status_panel(server: Server, menu: list[dict], customer: Customer) -> None:
    customer.add(menu[0])
    placed = customer.post("/checkout", {**customer.checkout_form(), "customer_name": "Ada"}, htmx=False)
    tracking = placed.headers["location"]
    (order,) = all_orders(server)
    other = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
    stream = Stream(server, f"{tracking}/live")
    stream.wait(1)
    for target, status in ((other, "preparing"), (order, "preparing"), (order, "ready")):
        response = httpx.patch(
            f"{server.url}/orders/{target['id']}", json={"status": status}, headers=server.auth("kitchen")
        )
        assert response.status_code == 200
    frames = stream.wait(3)
    stream.close()
    assert [kind for kind, _, _ in frames] == ["status"] * 3
    statuses = [re.search(r'data-status="(\w+)"', data).group(1) for _, _, data in frames]  # type: ignore[union-attr]
    assert statuses == ["new", "preparing", "ready"]
    assert 'aria-current="step"' in frames[1][2] and "Expected ready around" in frames[1][2]
    assert "Your order is ready!" in frames[2][2] and 'role="alert"' in frames[2][2]
    assert httpx.get(f"{server.url}/track/not-a-token/live").status_code == 404
    # The JSON of the link is unchanged.
    assert httpx.get(f"{server.url}{tracking}.json").json()["status"] == "ready"


# The estimates service, on a real store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "estimates.db")), Bus())
    await s.open()
    yield s
    await s.close()


async def _ready_order(store: Store, dish: dict, prep_minutes: float) -> dict:
    order, _ = await services.create_order(
        store, OrderIn(customer_name="Ada", channel="online", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    )
    await services.change_status(store, order["id"], "preparing")
    ready = await services.change_status(store, order["id"], "ready")
    placed = datetime.fromisoformat(ready["ready_at"].replace("Z", "+00:00")) - timedelta(minutes=prep_minutes)

    def backdate(tx: Tx) -> None:
        tx.conn.execute(update(orders).where(orders.c.id == order["id"]).values(created_at=placed))

    await store.write(backdate)
    return order


async def test_estimates_without_history_use_the_default(store: Store) -> None:
    prep = await prep_time(store, max_age=0)
    assert prep.typical == DEFAULT_PREP and prep.samples == 0 and not prep.from_history
    dish = await services.create_menu_item(
        store, MenuItemIn(name="Soup", price_cents=500, category="Starters", station="cold")
    )
    # Two orders ready are not history enough; orders not ready yet do not count at all.
    for minutes in (4, 40):
        await _ready_order(store, dish, minutes)
    await services.create_order(
        store, OrderIn(customer_name="Bo", channel="online", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    )
    assert (await prep_time(store, max_age=0)).samples == 0


async def test_estimates_take_the_median_of_recent_prep_times(store: Store) -> None:
    dish = await services.create_menu_item(
        store, MenuItemIn(name="Soup", price_cents=500, category="Starters", station="cold")
    )
    for minutes in (6, 8, 10, 12, 95):  # one forgotten ticket does not swing it
        await _ready_order(store, dish, minutes)
    prep = await prep_time(store, max_age=0)
    assert prep.samples == 5 and prep.from_history
    assert abs(prep.typical.total_seconds() - 10 * 60) <= 1
    # Cached for a moment: many trackers, one query.
    await _ready_order(store, dish, 60)
    assert await prep_time(store) == prep
    assert (await prep_time(store, max_age=0)).samples == 6

    order, _ = await services.create_order(
        store, OrderIn(customer_name="Cy", channel="online", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    )
    placed = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
    estimate = estimate_for(order, prep, now=placed + timedelta(minutes=1))
    assert estimate.ready_by == placed + prep.typical and not estimate.overdue
    assert estimate_for(order, prep, now=placed + timedelta(minutes=11)).overdue
    # Shown as the restaurant's local clock time.
    shown = track_status(order, prep, placed, ZoneInfo("Europe/Paris"))
    assert shown.expected is not None
    assert shown.expected.local == (placed + prep.typical).astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    assert [step.state for step in shown.steps] == ["current", "todo", "todo", "todo"]
    ready = await services.change_status(store, order["id"], "cancelled")
    assert estimate_for(ready, prep, now=placed).ready_by is None


def test_typical_prep_is_a_median_of_non_negative_durations() -> None:
    minutes = [timedelta(minutes=m) for m in (5, 7, 30)]
    assert typical_prep(minutes).typical == timedelta(minutes=7)
    assert typical_prep(minutes[:2]).typical == DEFAULT_PREP
    assert typical_prep([*minutes, timedelta(minutes=-3)]).samples == 3
    assert typical_prep([]).samples == 0
    now = datetime.now(UTC)
    assert (
        track_status(
            {
                "status": "completed",
                "created_at": "2024-01-01T12:00:00.000Z",
                "completed_at": "2024-01-01T12:20:00.000Z",
            },
            typical_prep(minutes),
            now,
            ZoneInfo("UTC"),
        ).completed_at.local
        == "12:20"
    )  # type: ignore[union-attr]


def test_the_tracking_page_follows_the_queue_ahead_of_its_order(server: Server) -> None:
    """Another order leaving the grill moves this order's expected time earlier, live; the frame
    says nothing of the other order."""
    steak = {"name": "Steak", "price_cents": 2000, "category": "Mains", "station": "grill", "prep_minutes": 12}
    dish = httpx.post(f"{server.url}/menu", json=steak, headers=server.auth("manager")).json()

    def place(name: str, quantity: int) -> dict:
        body = {
            "customer_name": name,
            "channel": "counter",
            "items": [{"menu_item_id": dish["id"], "quantity": quantity}],
        }
        response = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"))
        assert response.status_code == 201, response.text
        return response.json()

    def move(order: dict, *statuses: str) -> None:
        for status in statuses:
            moved = httpx.patch(
                f"{server.url}/orders/{order['id']}", json={"status": status}, headers=server.auth("kitchen")
            )
            assert moved.status_code == 200, moved.text

    now = datetime.now(UTC)
    for n in range(6):  # the grill's last half hour: a 12-minute steak every 6 minutes, a pace of 2
        done = place("Earlier", 1)
        move(done, "preparing", "ready")
        server.execute(
            "UPDATE order_lines SET done_at = ? WHERE order_id = ?", now - timedelta(minutes=6 * n), done["id"]
        )
    ahead = place("Zed Ahead", 5)  # 60 cook-minutes: 60 / 2 - 12 = 18 minutes before the grill gets to ours
    mine = place("Ada", 1)
    stream = Stream(server, f"{mine['tracking_url']}/live")
    (first,) = stream.wait(1)
    move(ahead, "preparing")  # the queue has not moved: no frame
    move(ahead, "ready")  # off the grill: ours is next
    frames = stream.wait(2)
    stream.close()

    def eta(data: str) -> datetime:
        found = re.search(r'class="eta" datetime="([^"]+)"', data)
        assert found is not None, data
        return datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))

    placed = datetime.fromisoformat(mine["created_at"].replace("Z", "+00:00"))
    assert abs(eta(first[2]) - (now + timedelta(minutes=18 + 12))) < timedelta(seconds=30)
    assert "queue and pace" in first[2]
    assert len(frames) == 2 and frames[1][0] == "status"
    assert abs(eta(frames[1][2]) - (placed + timedelta(minutes=12))) < timedelta(seconds=2)
    assert "Zed" not in frames[1][2] and "Ahead" not in frames[1][2], "only this order's own status"
    assert stream.frames == frames, "one frame for the move, none for the status change that left the queue as it was"


def test_checkout_quotes_as_soon_as_possible_from_the_kitchen(server: Server, menu: list[dict]) -> None:
    """The cart's dishes behind the kitchen's queue: with no pace yet, its longest prep time from now."""
    customer = Customer(server)
    try:
        customer.add(menu[0])
        page = customer.open("/checkout").text
    finally:
        customer.close()
    found = re.search(r'<option value="">As soon as possible \(ready around (\d\d):(\d\d)\)</option>', page)
    assert found is not None, page
    zone = ZoneInfo((os.environ.get("FORKFLOW_TIMEZONE") or os.environ.get("TZ") or "UTC").lstrip(":"))  # the server's
    expected = (datetime.now(UTC) + timedelta(minutes=menu[0]["prep_minutes"])).astimezone(zone)
    quoted = expected.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=0, microsecond=0)
    assert timedelta(0) <= expected - quoted < timedelta(minutes=2)
