"""The kitchen display's server side over HTTP: the page, its fragment stream, and the cooks' taps.
(The browser tests are in test_kitchen_display.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .conftest import Server, on_both_backends, order_body

pytestmark = on_both_backends

HX = {"HX-Request": "true"}


def stream_frames(server: Server, query: str, stop_at: str = "stream.ready", role: str = "kitchen") -> list[dict]:
    """The frames of /kitchen/stream up to the first `stop_at` event, as {event, id, data}."""
    frames, current = [], {"data": []}
    with httpx.stream("GET", f"{server.url}/kitchen/stream?{query}", headers=server.auth(role), timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line == "":
                if "event" in current:
                    frames.append({**current, "data": "\n".join(current["data"])})
                    if current["event"] == stop_at:
                        break
                current = {"data": []}
            elif line.startswith("data: "):
                current["data"].append(line[6:])
            elif line.startswith(("event: ", "id: ")):
                key, _, value = line.partition(": ")
                current[key] = value
    return frames


def head(server: Server) -> int:
    return httpx.get(f"{server.url}/health", headers=server.auth("manager")).json()["bus"]["last_event_id"]


def place(server: Server, menu: list[dict]) -> dict:
    return httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()


def order_of(server: Server, order_id: int) -> dict:
    return httpx.get(f"{server.url}/orders/{order_id}", headers=server.auth("kitchen")).json()


def tap(server: Server, path: str, role: str = "kitchen", **form: str) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", data=form, headers={**server.auth(role), **HX})


def test_the_display_is_for_kitchen_staff_and_up(server: Server) -> None:
    anonymous = httpx.get(f"{server.url}/kitchen/display", headers={"accept": "text/html"})
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/kitchen/display"
    for role in ("kitchen", "cashier", "manager"):
        page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth(role))
        assert page.status_code == 200 and 'id="rail"' in page.text
    assert httpx.get(f"{server.url}/kitchen/stream").status_code == 401


def test_the_page_resumes_its_stream_where_its_snapshot_ends(server: Server, menu: list[dict]) -> None:
    first = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert f'id="ticket-{first["id"]}"' in page
    assert f"last_event_id={head(server)}" in page


def test_the_stream_replays_ticket_fragments_after_the_last_id(server: Server, menu: list[dict]) -> None:
    since = head(server)
    order = place(server, menu)
    tap(server, f"/kitchen/tickets/{order['id']}/bump", status="new")
    frames = stream_frames(server, f"last_event_id={since}")
    tickets = [f for f in frames if f["event"] == "ticket"]
    assert [int(f["id"]) for f in tickets] == [since + 1, since + 2]
    assert 'class="ticket status-new"' in tickets[0]["data"] and "status-preparing" in tickets[1]["data"]
    assert [f["event"] for f in frames[-2:]] == ["allday", "stream.ready"]
    assert "rail" not in [f["event"] for f in frames]


def test_a_display_without_a_position_gets_the_whole_rail(server: Server, menu: list[dict]) -> None:
    orders = [
        httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
        for _ in range(3)
    ]
    frames = stream_frames(server, "")
    assert frames[0]["event"] == "rail" and int(frames[0]["id"]) == head(server)
    assert all(f'id="ticket-{o["id"]}"' in frames[0]["data"] for o in orders)


def test_fragments_escape_what_customers_typed(server: Server, menu: list[dict]) -> None:
    since = head(server)
    attack = "<img src=x onerror=alert(1)>"
    body = order_body(menu, channel="online", customer_name=attack, notes=attack)
    body["items"][0]["notes"] = attack
    assert httpx.post(f"{server.url}/orders", json=body).status_code == 201
    ticket = next(f for f in stream_frames(server, f"last_event_id={since}") if f["event"] == "ticket")
    assert "<img" not in ticket["data"]
    assert ticket["data"].count("&lt;img src=x onerror=alert(1)&gt;") == 3
    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert "<img" not in page


def test_a_station_sees_only_its_lines_and_its_bump_finishes_them(server: Server, menu: list[dict]) -> None:
    grill, fry = menu[0], menu[1]  # grill and fry items
    order = place(server, menu)
    grill_page = httpx.get(f"{server.url}/kitchen/display?station=grill", headers=server.auth("kitchen")).text
    assert grill["name"] in grill_page and fry["name"] not in grill_page.split('id="allday"')[0]

    assert tap(server, f"/kitchen/tickets/{order['id']}/bump", status="new", station="grill").status_code == 204
    assert tap(server, f"/kitchen/tickets/{order['id']}/bump", status="preparing", station="grill").status_code == 204
    after = order_of(server, order["id"])
    assert after["status"] == "preparing"
    assert {line["station"]: line["done_at"] is not None for line in after["lines"]} == {"grill": True, "fry": False}
    grill_page = httpx.get(f"{server.url}/kitchen/display?station=grill", headers=server.auth("kitchen")).text
    assert f'id="ticket-{order["id"]}"' not in grill_page, "done on the grill: off the grill's rail"


def test_expo_bumps_to_ready_only_when_every_line_is_done_or_overridden(server: Server, menu: list[dict]) -> None:
    order = place(server, menu)
    tap(server, f"/kitchen/tickets/{order['id']}/bump", status="new", station="expo")
    refused = tap(server, f"/kitchen/tickets/{order['id']}/bump", status="preparing", station="expo")
    assert refused.status_code == 409
    assert refused.json()["error"]["waiting"] == ["fry", "grill"]
    expo_page = httpx.get(f"{server.url}/kitchen/display?station=expo", headers=server.auth("kitchen")).text
    assert "Ready anyway" in expo_page and "waiting on fry, grill" in expo_page

    line = order["lines"][0]
    assert tap(server, f"/kitchen/tickets/{order['id']}/lines/{line['id']}", done="1").status_code == 204
    overridden = tap(server, f"/kitchen/tickets/{order['id']}/bump", status="preparing", station="expo", override="1")
    assert overridden.status_code == 204
    assert order_of(server, order["id"])["status"] == "ready"


def test_a_tap_on_a_ticket_another_screen_moved_is_refused(server: Server, menu: list[dict]) -> None:
    order = place(server, menu)
    assert tap(server, f"/kitchen/tickets/{order['id']}/bump", status="new").status_code == 204
    again = tap(server, f"/kitchen/tickets/{order['id']}/bump", status="new")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"ticket {order['ticket_no']} is already preparing"
    assert (
        httpx.get(f"{server.url}/orders/{order['id']}", headers=server.auth("kitchen")).json()["status"] == "preparing"
    )


def test_a_line_can_be_marked_done_and_undone(server: Server, menu: list[dict]) -> None:
    order = place(server, menu)
    line = order["lines"][1]
    path = f"/kitchen/tickets/{order['id']}/lines/{line['id']}"
    tap(server, path, done="1")
    lines = order_of(server, order["id"])["lines"]
    assert lines[1]["done_at"] is not None and lines[0]["done_at"] is None
    tap(server, path, done="0")
    lines = order_of(server, order["id"])["lines"]
    assert lines[1]["done_at"] is None
    assert tap(server, f"/kitchen/tickets/{order['id']}/lines/999999", done="1").status_code == 404


def test_recall_brings_back_the_last_bumped_ticket_within_ten_minutes(server: Server, menu: list[dict]) -> None:
    assert tap(server, "/kitchen/recall").status_code == 404, "nothing bumped yet"
    made = [
        httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
        for _ in range(2)
    ]
    for order in made:
        for seen in ("new", "preparing", "ready"):
            assert tap(server, f"/kitchen/tickets/{order['id']}/bump", status=seen).status_code == 204
    assert tap(server, "/kitchen/recall").status_code == 204
    statuses = {
        o["id"]: o["status"] for o in httpx.get(f"{server.url}/kitchen/orders", headers=server.auth("kitchen")).json()
    }
    assert statuses == {made[1]["id"]: "ready"}, "the last one bumped comes back, as ready"

    # Completed more than ten minutes ago: no longer recallable, by the display or the API.
    eleven_minutes_ago = datetime.now(UTC) - timedelta(minutes=11)
    server.execute("UPDATE orders SET completed_at = ? WHERE id = ?", eleven_minutes_ago, made[0]["id"])
    assert tap(server, f"/kitchen/tickets/{made[1]['id']}/bump", status="ready").status_code == 204
    server.execute("UPDATE orders SET completed_at = ? WHERE id = ?", eleven_minutes_ago, made[1]["id"])
    assert tap(server, "/kitchen/recall").status_code == 404
    late = httpx.patch(f"{server.url}/orders/{made[0]['id']}", json={"status": "ready"}, headers=server.auth("kitchen"))
    assert late.status_code == 409 and late.json()["error"]["allowed"] == []


def test_taps_need_the_right_role(server: Server, menu: list[dict]) -> None:
    order = place(server, menu)
    anonymous = httpx.post(f"{server.url}/kitchen/tickets/{order['id']}/bump", json={"status": "new"})
    assert anonymous.status_code == 401
    assert httpx.post(f"{server.url}/kitchen/recall", headers=HX).status_code == 401
