"""Cash drawers (issue 17) against a real server on SQLite: open with a float, paid in and out,
close with a count by denomination against the expected cash; refusals write nothing."""

from __future__ import annotations

import httpx

from .conftest import Server
from .money import events_of, open_drawer, pay, place, refused, written


def test_expected_is_float_plus_cash_in_less_change_and_cash_out(
    server: Server, client: httpx.Client, menu: list
) -> None:
    drawer = open_drawer(client, float_cents=10000)
    moves = f"/drawers/{drawer['id']}/movements"
    assert client.post(moves, json={"kind": "paid_in", "amount_cents": 2000, "reason": "coins"}).status_code == 200
    out = client.post(moves, json={"kind": "paid_out", "amount_cents": 1500, "reason": "milk"}).json()
    assert out["expected_cents"] == 10000 + 2000 - 1500
    order = place(client, menu)
    pay(client, order["id"], tender="cash", amount_cents=3550, tip_cents=50, tendered_cents=4000).raise_for_status()
    pay(client, place(client, menu)["id"], tender="card", amount_cents=3550).raise_for_status()  # not cash
    expected = 10000 + 2000 - 1500 + 3600  # 4000 handed over, 400 change: 3550 and the 50 tip stay
    assert [d["expected_cents"] for d in client.get("/drawers").json()["drawers"]] == [expected]
    counts = {"10000": 1, "2000": 2, "500": 1, "100": 5}  # 150.00: 1.00 over
    closed = client.post(f"/drawers/{drawer['id']}/close", json={"counts": counts, "other_cents": 100})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["counted_cents"], body["expected_cents"], body["over_short_cents"]) == (
        15100,
        expected,
        15100 - expected,
    )
    assert body["closed_by"] == "manager" and body["counts"] == {**counts, "other": 100}
    [event] = events_of(server, "drawer.closed")
    assert (event["by"], event["drawer_id"], event["over_short_cents"]) == ("manager", drawer["id"], 15100 - expected)
    assert [(e["amount_cents"], e["reason"]) for e in events_of(server, "drawer.paid_out")] == [(1500, "milk")]


def test_closing_twice_or_a_second_open_drawer_of_a_name_is_409_and_writes_nothing(
    server: Server, client: httpx.Client
) -> None:
    drawer = open_drawer(client)
    before = written(server)
    assert refused(client.post("/drawers", json={"name": "Till 1", "float_cents": 0}), 409)["reason"] == "drawer_open"
    assert written(server) == before
    close = f"/drawers/{drawer['id']}/close"
    assert client.post(close, json={"counts": {"5000": 2}}).status_code == 200
    after_close = written(server)
    assert refused(client.post(close, json={"counts": {"5000": 2}}), 409)["reason"] == "drawer_closed"
    moved = client.post(
        f"/drawers/{drawer['id']}/movements", json={"kind": "paid_in", "amount_cents": 1, "reason": "x"}
    )
    assert refused(moved, 409)["reason"] == "drawer_closed"
    assert refused(client.post("/drawers/999/close", json={"counts": {}}), 404)
    assert written(server) == after_close
    # The name is free again once closed.
    assert open_drawer(client)["id"] != drawer["id"]


def test_bad_drawer_input_is_422(server: Server, client: httpx.Client) -> None:
    drawer = open_drawer(client)
    before = written(server)
    assert "float_cents" in refused(client.post("/drawers", json={"name": "B", "float_cents": -1}), 422)["fields"]
    moves = f"/drawers/{drawer['id']}/movements"
    assert refused(client.post(moves, json={"kind": "paid_in", "amount_cents": 0, "reason": "x"}), 422)
    assert refused(client.post(moves, json={"kind": "stolen", "amount_cents": 5, "reason": "x"}), 422)
    assert refused(client.post(moves, json={"kind": "paid_out", "amount_cents": 5, "reason": " "}), 422)
    close = f"/drawers/{drawer['id']}/close"
    assert refused(client.post(close, json={"counts": {"0": 1}}), 422)
    assert refused(client.post(close, json={"counts": {"500": -1}}), 422)
    assert written(server) == before


def test_the_count_form_knows_the_currency_s_notes_and_coins(client: httpx.Client) -> None:
    listed = client.get("/drawers").json()
    assert listed["currency"] == "USD" and listed["denominations"][:3] == [10000, 5000, 2000]
    assert listed["drawers"] == []
