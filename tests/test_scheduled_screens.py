"""Scheduled orders on the screens (issue 15): the till's phone order for later and its Scheduled
list, the console's prep fields, opening hours and "Send now", an order staff hold until a time
on both lists, the kitchen's "start in" (fire by prep time), and the pickup times checkout offers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from forkflow.config import Settings
from forkflow.routes.kitchen.view import View, starts, ticket
from forkflow.services.estimates import PrepTime, estimate_for
from forkflow.services.hours import is_open, pickup_problem, pickup_times

from .conftest import Server
from .test_pos import HX, Till, build, dishes

LUNCH_AND_DINNER = [("11:30", "14:30"), ("17:30", "22:00")]


def _week(**days: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {day: days.get(day, []) for day in names}


# The rules (services/hours.py)


def test_opening_hours_are_local_half_open_intervals() -> None:
    settings = Settings(timezone=ZoneInfo("Europe/Berlin"))
    week = _week(friday=LUNCH_AND_DINNER)
    friday = datetime(2026, 5, 1, tzinfo=ZoneInfo("Europe/Berlin"))  # a Friday
    assert is_open(week, friday.replace(hour=11, minute=30), settings)
    assert is_open(week, friday.replace(hour=21, minute=59), settings)
    assert not is_open(week, friday.replace(hour=22), settings)  # closes at 22:00
    assert not is_open(week, friday.replace(hour=15), settings)
    assert is_open(week, datetime(2026, 5, 1, 17, 45, tzinfo=UTC), settings)  # 19:45 in Berlin
    assert not is_open(week, (friday + timedelta(days=1)).replace(hour=12), settings)  # Saturday: closed
    now = friday.replace(hour=10)
    assert pickup_problem(week, friday.replace(hour=9), now, settings) == "the pickup time has passed"
    assert pickup_problem(week, friday.replace(hour=12), now, settings) is None
    assert (
        pickup_problem(week, now + timedelta(days=8), now, settings) == "orders can be scheduled at most 7 days ahead"
    )
    assert pickup_problem(week, friday.replace(hour=16), now, settings) == (
        "we are not open then (Friday: 11:30–14:30, 17:30–22:00)"
    )


def test_checkout_offers_quarter_hours_of_today_and_tomorrow_within_the_hours() -> None:
    zone = ZoneInfo("Europe/Berlin")
    settings = Settings(timezone=zone)
    week = _week(friday=LUNCH_AND_DINNER, saturday=[("12:00", "13:00")])
    now = datetime(2026, 5, 1, 13, 50, tzinfo=zone)
    offered = [
        moment.astimezone(zone).strftime("%a %H:%M")
        for moment in pickup_times(week, now, settings, timedelta(minutes=15))
    ]
    assert offered[:3] == ["Fri 14:15", "Fri 17:30", "Fri 17:45"]  # not before now + the lead
    assert "Fri 22:00" not in offered and offered[offered.index("Fri 21:45") + 1] == "Sat 12:00"
    assert offered[-1] == "Sat 12:45"
    # On the night the clocks go forward, 02:00-03:00 does not exist and is never offered.
    spring = datetime(2026, 3, 29, 0, 0, tzinfo=zone)
    night = pickup_times(_week(sunday=[("01:00", "04:00")]), spring, settings, timedelta(0))
    clocks = [moment.astimezone(zone).strftime("%H:%M") for moment in night]
    assert clocks == ["01:00", "01:15", "01:30", "01:45", "03:00", "03:15", "03:30", "03:45"]


# The kitchen: fire by prep time


def _order(**overrides: object) -> dict:
    created = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
    lines = [
        {"id": 1, "station": "grill", "prep_minutes": 12, "done_at": None, "modifiers": []},
        {"id": 2, "station": "fry", "prep_minutes": 4, "done_at": None, "modifiers": []},
        {"id": 3, "station": "bar", "prep_minutes": None, "done_at": None, "modifiers": []},
    ]
    return {
        "id": 7,
        "status": "new",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "released_at": None,
        "held": False,
        "lines": lines,
        **overrides,
    }


def test_a_shorter_line_says_when_to_start_it() -> None:
    now = datetime(2026, 5, 1, 18, 2, 30, tzinfo=UTC)
    found = starts(_order(), now)
    assert list(found) == [2]  # the longest line starts now; a line without a prep time says nothing
    assert (found[2].iso, found[2].text) == ("2026-05-01T18:08:00Z", "5:30")
    assert starts(_order(), datetime(2026, 5, 1, 18, 9, tzinfo=UTC))[2].text == "now"
    released = _order(released_at="2026-05-01T19:00:00.000Z")  # a scheduled order counts from its release
    assert starts(released, now)[2].iso == "2026-05-01T19:08:00Z"
    assert starts(_order(status="ready"), now) == {}
    assert ticket(_order(), View(station="fry"))["starts"] == {}  # the setting off: nothing shown
    assert list(ticket(_order(), View(station="fry"), pacing=True)["starts"]) == [2]
    assert ticket(_order(held=True), View(), pacing=True) is None  # held: on no rail


def test_the_station_view_shows_start_in_for_the_shorter_line(server: Server) -> None:
    food = dishes(server)
    manager = server.auth("manager")
    for name, minutes, station in (("Burger", 12, "grill"), ("Fries", 4, "fry")):
        item = food[name]
        fields = {k: item[k] for k in ("name", "price_cents", "category")}
        changed = {**fields, "station": station, "prep_minutes": minutes}
        food[name] = httpx.put(f"{server.url}/menu/{item['id']}", json=changed, headers=manager).json()
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [
            {"menu_item_id": food["Burger"]["id"], "quantity": 1},
            {"menu_item_id": food["Fries"]["id"], "quantity": 1},
        ],
    }
    order = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier")).json()
    fry = httpx.get(f"{server.url}/kitchen/display?station={food['Fries']['station']}", headers=server.auth("kitchen"))
    start = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00")) + timedelta(minutes=8)
    expected = start.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert re.search(rf'class="start-in" data-start-at="{expected}">start in <b>[78]:[0-5][0-9]</b>', fry.text)
    grill = httpx.get(
        f"{server.url}/kitchen/display?station={food['Burger']['station']}", headers=server.auth("kitchen")
    )
    assert f'id="ticket-{order["id"]}"' in grill.text and "data-start-at" not in grill.text


# The till: a phone order for later


def test_the_till_takes_a_phone_order_for_later_and_lists_it_as_scheduled(server: Server) -> None:
    food = dishes(server)
    till = Till(server)
    build(till, food, "Burger")
    till.type(customer_name="Grace", pickup_at="yesterday")
    refused = till.send()
    assert refused.status_code == 422 and "enter a date and time" in refused.text
    later = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    till.type(pickup_at=later.strftime("%Y-%m-%dT%H:%M"))  # the test server's local time is UTC
    sent = till.send()
    assert sent.status_code == 201, sent.text
    (order,) = httpx.get(f"{server.url}/orders", headers=server.auth("manager")).json()
    assert order["pickup_at"] == later.isoformat().replace("+00:00", ".000Z") and order["held"] is True
    page = httpx.get(f"{server.url}/pos", headers=server.auth("cashier")).text
    scheduled = page.split('id="scheduled"', 1)[1].split("</ol>", 1)[0]
    assert f'id="scheduled-{order["id"]}"' in scheduled and "Grace" in scheduled
    assert later.strftime("%a %H:%M") in scheduled


# The console: prep fields, opening hours, Send now


def test_the_console_sets_prep_hours_and_sends_a_scheduled_order_now(server: Server) -> None:
    food = dishes(server)
    with httpx.Client(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        burger = food["Burger"]
        typed = {"name": "Burger", "price": "15.50", "category": "Mains", "station": burger["station"]}
        refused = client.post(f"/manage/menu/{burger['id']}", data={**typed, "prep_minutes": "300"}, headers=HX)
        assert refused.status_code == 422 and 'id="menu-prep_minutes-error">' in refused.text
        saved = client.post(
            f"/manage/menu/{burger['id']}", data={**typed, "prep_minutes": "14", "prep_load": "2"}, headers=HX
        )
        assert saved.status_code == 200, saved.text
        item = client.get(f"/menu/{burger['id']}").json()
        assert (item["prep_minutes"], item["prep_load"]) == (14, 2)
        kept = client.post(f"/manage/menu/{burger['id']}", data=typed, headers=HX)  # left empty: kept
        assert kept.status_code == 200 and client.get(f"/menu/{burger['id']}").json()["prep_minutes"] == 14

        hours = client.get("/settings/hours").json()
        bad = {day: "11:30-14:30, 17:30-22:00" for day in hours} | {"tuesday": "noon till late"}
        refused = client.post("/manage/hours", data=bad, headers=HX)
        assert refused.status_code == 422 and 'id="hours-tuesday-error">' in refused.text
        assert 'value="noon till late"' in refused.text
        overlapping = bad | {"tuesday": "11:00-15:00, 14:00-22:00"}
        assert client.post("/manage/hours", data=overlapping, headers=HX).status_code == 422
        assert client.get("/settings/hours").json() == hours  # nothing written
        good = bad | {"tuesday": "", "sunday": "9:00-12:00"}
        saved = client.post("/manage/hours", data=good, headers=HX)
        assert saved.status_code == 200 and "Opening hours saved." in saved.text
        week = client.get("/settings/hours").json()
        assert week["monday"] == [["11:30", "14:30"], ["17:30", "22:00"]]
        assert week["tuesday"] == [] and week["sunday"] == [["09:00", "12:00"]]

        client.put("/settings/hours", json=hours).raise_for_status()
        pickup = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
        body = {
            "customer_name": "Ada",
            "channel": "counter",
            "items": [{"menu_item_id": burger["id"], "quantity": 1}],
            "pickup_at": pickup,
        }
        order = client.post("/orders", json=body).json()
        page = client.get("/manage").text
        assert f'id="scheduled-{order["id"]}"' in page
        sent = client.post(f"/manage/orders/{order['id']}/release", headers=HX)
        assert sent.status_code == 200 and f"Ticket #{order['ticket_no']} went to the kitchen." in sent.text
        assert f'id="scheduled-{order["id"]}"' not in sent.text
        assert client.get(f"/orders/{order['id']}").json()["held"] is False
        again = client.post(f"/manage/orders/{order['id']}/release", headers=HX)
        assert again.status_code == 200  # released already: nothing changes


def test_a_scheduled_order_is_estimated_from_its_release() -> None:
    prep = PrepTime(timedelta(minutes=15), 20)
    order = {"status": "new", "created_at": "2026-05-01T10:00:00.000Z", "released_at": "2026-05-01T18:00:00.000Z"}
    estimate = estimate_for(order, prep, datetime(2026, 5, 1, 18, 5, tzinfo=UTC))
    assert estimate.ready_by == datetime(2026, 5, 1, 18, 15, tzinfo=UTC) and not estimate.overdue


def test_the_consoles_scheduled_list_follows_new_scheduled_orders_live(server: Server) -> None:
    food = dishes(server)
    body = {
        "customer_name": "Linus",
        "channel": "counter",
        "items": [{"menu_item_id": food["Salad"]["id"], "quantity": 1}],
        "pickup_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
    }
    seen: list[tuple[str, str]] = []
    event, data = "", []
    with httpx.stream("GET", f"{server.url}/manage/stream", headers=server.auth("manager"), timeout=10) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                seen.append((event, "\n".join(data)))
                event, data = "", []
                if seen[-1][0] == "schedule" and len([e for e, _ in seen if e == "schedule"]) == 1:
                    assert "No orders are waiting for a later pickup." in seen[-1][1]
                    made = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"))
                    assert made.status_code == 201
                    order = made.json()
                elif seen[-1][0] == "schedule":
                    assert f'id="scheduled-{order["id"]}"' in seen[-1][1] and "Linus" in seen[-1][1]
                    break


def test_an_order_held_until_a_time_is_listed_live_on_the_console_and_the_till(server: Server) -> None:
    food = dishes(server)
    body = {
        "customer_name": "Table four",
        "channel": "counter",
        "items": [{"menu_item_id": food["Salad"]["id"], "quantity": 1}],
    }
    order = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier")).json()
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    schedules: list[str] = []
    event, data = "", []
    with httpx.stream("GET", f"{server.url}/manage/stream", headers=server.auth("manager"), timeout=10) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                if event == "schedule":
                    schedules.append("\n".join(data))
                    if len(schedules) == 1:
                        assert f'id="scheduled-{order["id"]}"' not in schedules[0]
                        hold = {"until": until.isoformat()}
                        held = httpx.post(
                            f"{server.url}/orders/{order['id']}/hold", json=hold, headers=server.auth("kitchen")
                        )
                        assert held.status_code == 200, held.text
                    else:
                        break
                event, data = "", []
    assert f'id="scheduled-{order["id"]}"' in schedules[1] and "As soon as sent" in schedules[1]
    page = httpx.get(f"{server.url}/pos", headers=server.auth("cashier")).text
    scheduled = page.split('id="scheduled"', 1)[1].split("</ol>", 1)[0]
    assert f'id="scheduled-{order["id"]}"' in scheduled and "Table four" in scheduled
    assert "held until <time datetime=" in scheduled and until.strftime("%a %H:%M") in scheduled
