"""Discounts and comps over the JSON API (issue 17): the reasons a manager keeps, the cashier's
limit and a manager's approval on the spot, every refusal writing nothing, idempotent retries, the
approval's throttle, and the money events the audit log reads. (The till's: test_discounts_browser.py.)"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest

from .conftest import PASSWORDS, Server, csrf_from, order_body

MANAGER = {"name": "manager", "password": PASSWORDS["manager"]}


@pytest.fixture
def cashier(server: Server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("cashier")) as c:
        yield c


@pytest.fixture
def reasons(client: httpx.Client) -> dict[str, int]:
    made = {}
    for name, comp in (("Loyalty", False), ("Staff meal", False), ("Cold food", True)):
        response = client.post("/discount-reasons", json={"name": name, "comp": comp})
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    return made


@pytest.fixture
def order(client: httpx.Client, menu: list[dict]) -> dict:
    """Two burgers (15.50) and fries (4.50): 35.50, untaxed."""
    response = client.post("/orders", json=order_body(menu))
    assert response.status_code == 201
    assert response.json()["total_cents"] == 3550
    return response.json()


def snapshot(server: Server, order_id: int) -> tuple[Any, ...]:
    """Everything a discount could write: its rows, the order's figures, the events, the keys."""
    with sqlite3.connect(server.db) as db:
        return (
            db.execute("SELECT count(*) FROM order_discounts").fetchone(),
            db.execute(
                "SELECT subtotal_cents, discount_cents, total_cents, updated_at FROM orders WHERE id = ?", (order_id,)
            ).fetchone(),
            db.execute("SELECT max(id) FROM events").fetchone(),
            db.execute("SELECT count(*) FROM idempotency_keys").fetchone(),
        )


def events_of(server: Server, kind: str) -> list[dict]:
    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT payload FROM events WHERE type = ? ORDER BY id", (kind,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def discount_rows(server: Server) -> list[sqlite3.Row]:
    with sqlite3.connect(server.db) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM order_discounts ORDER BY id").fetchall()


def give(c: httpx.Client, order_id: int, key: str | None = None, **body: Any) -> httpx.Response:
    return c.post(f"/orders/{order_id}/discounts", json=body, headers={"Idempotency-Key": key} if key else {})


# Reasons


def test_a_manager_keeps_the_reasons_and_cashiers_read_them(
    server: Server, client: httpx.Client, cashier: httpx.Client
) -> None:
    made = client.post("/discount-reasons", json={"name": "Loyalty"})
    assert made.status_code == 201 and made.headers["location"] == f"/discount-reasons/{made.json()['id']}"
    assert made.json() | {"created_at": None} == {
        "id": made.json()["id"],
        "name": "Loyalty",
        "comp": False,
        "active": True,
        "created_at": None,
    }
    comp = client.post("/discount-reasons", json={"name": "Cold food", "comp": True}).json()
    assert [r["name"] for r in cashier.get("/discount-reasons").json()] == ["Loyalty", "Cold food"]
    refused = cashier.post("/discount-reasons", json={"name": "Mine"})
    assert refused.status_code == 403
    assert client.post("/discount-reasons", json={"name": "loyalty"}).status_code == 409
    accented = client.post("/discount-reasons", json={"name": "Ñandú"})
    assert accented.status_code == 201
    assert client.post("/discount-reasons", json={"name": "Ñandú"}).status_code == 409  # the same name: not a 500
    assert client.delete(f"/discount-reasons/{accented.json()['id']}").status_code == 204
    assert client.get("/discount-reasons?active=yes").status_code == 422
    assert client.post("/discount-reasons", json={"name": "  "}).status_code == 422
    renamed = client.patch(f"/discount-reasons/{comp['id']}", json={"name": "Cold dish"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Cold dish"
    assert client.patch(f"/discount-reasons/{comp['id']}", json={}).status_code == 422
    assert client.patch("/discount-reasons/999", json={"active": False}).status_code == 404
    assert client.delete(f"/discount-reasons/{comp['id']}").status_code == 204
    assert [r["name"] for r in client.get("/discount-reasons").json()] == ["Loyalty"]
    created = events_of(server, "discount.reason_created")
    assert [(e["name"], e["by"], e["order_id"]) for e in created] == [
        ("Loyalty", "manager", None),
        ("Cold food", "manager", None),
        ("Ñandú", "manager", None),
    ]
    assert [e["name"] for e in events_of(server, "discount.reason_deleted")] == ["Ñandú", "Cold dish"]
    # Each is a money event of today's service day, like every other: the audit log finds them by day.
    today = client.get("/reports/day").json()["business_date"]
    logged = client.get("/audit", params={"date": today, "kind": "discount"}).json()["entries"]
    assert [(e["type"], e["payload"]["name"]) for e in reversed(logged)] == [
        ("discount.reason_created", "Loyalty"),
        ("discount.reason_created", "Cold food"),
        ("discount.reason_created", "Ñandú"),
        ("discount.reason_deleted", "Ñandú"),
        ("discount.reason_updated", "Cold dish"),
        ("discount.reason_deleted", "Cold dish"),
    ]


def test_a_reason_in_use_is_deactivated_not_deleted(
    server: Server, client: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    assert give(client, order["id"], kind="percent", percent=5, reason_id=reasons["Loyalty"]).status_code == 201
    assert client.delete(f"/discount-reasons/{reasons['Loyalty']}").status_code == 204
    listed = {r["name"]: r for r in client.get("/discount-reasons").json()}
    assert listed["Loyalty"]["active"] is False
    assert "Loyalty" not in [r["name"] for r in client.get("/discount-reasons?active=true").json()]
    again = give(client, order["id"], kind="percent", percent=5, reason_id=reasons["Loyalty"])
    assert again.status_code == 422 and again.json()["error"]["fields"] == {"reason_id": "unknown"}


# Giving discounts


def test_a_cashier_gives_a_discount_within_the_limit(
    server: Server, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    response = give(cashier, order["id"], "k1", kind="percent", percent=10, reason_id=reasons["Loyalty"])
    assert response.status_code == 201, response.text
    assert response.json()["total_cents"] == 3195
    with sqlite3.connect(server.db) as db:
        figures = db.execute("SELECT subtotal_cents, discount_cents, total_cents FROM orders").fetchone()
    assert figures == (3550, 355, 3195)
    [row] = discount_rows(server)
    assert (row["kind"], row["percent_milli"], row["given_by"], row["approved_by"], row["comp"]) == (
        "percent",
        10000,
        "cashier",
        None,
        0,
    )
    assert row["business_date"] == order["business_date"]
    [given] = events_of(server, "discount.given")
    assert given | {"at": None} == {
        "at": None,
        "by": "cashier",
        "approved_by": None,
        "order_id": order["id"],
        "business_date": order["business_date"],
        "id": row["id"],
        "ticket_no": order["ticket_no"],
        "line_id": None,
        "kind": "percent",
        "percent": 10,
        "amount_cents": 355,
        "comp": False,
        "reason": "Loyalty",
        "total_cents": 3195,
    }
    assert events_of(server, "order.updated")[-1]["total_cents"] == 3195


def test_a_line_discount_by_amount_takes_from_its_line(
    server: Server, client: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    fries = order["lines"][1]
    response = give(
        client, order["id"], kind="amount", amount_cents=150, line_id=fries["id"], reason_id=reasons["Loyalty"]
    )
    assert response.status_code == 201
    assert response.json()["total_cents"] == 3400
    assert events_of(server, "discount.given")[0]["line_id"] == fries["id"]


def test_above_the_limit_a_cashier_needs_a_manager_and_nothing_is_written_without_one(
    server: Server, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    before = snapshot(server, order["id"])
    asked = {"kind": "percent", "percent": 10.001, "reason_id": reasons["Loyalty"]}
    refused = give(cashier, order["id"], "k1", **asked)
    assert refused.status_code == 403
    assert refused.json()["error"]["reason"] == "approval_needed" and refused.json()["error"]["limit_percent"] == 10
    # An amount is measured against what is left: 3.56 of 35.50 is above 10 %.
    refused = give(cashier, order["id"], "k2", kind="amount", amount_cents=356, reason_id=reasons["Loyalty"])
    assert refused.status_code == 403
    wrong = give(cashier, order["id"], "k3", **asked, approval={"name": "manager", "password": "not-it"})
    assert wrong.status_code == 401
    not_a_manager = give(
        cashier, order["id"], "k4", **asked, approval={"name": "cashier", "password": PASSWORDS["cashier"]}
    )
    assert not_a_manager.status_code == 403
    assert snapshot(server, order["id"]) == before
    approved = give(cashier, order["id"], "k5", **asked, approval=MANAGER)
    assert approved.status_code == 201
    assert approved.json()["total_cents"] == 3550 - 355  # 10.001 % of 35.50 is 3.55 to the cent
    assert [(r["given_by"], r["approved_by"]) for r in discount_rows(server)] == [("cashier", "manager")]
    assert events_of(server, "discount.given")[0]["approved_by"] == "manager"


def test_a_managers_own_discount_needs_no_approval(
    server: Server, client: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    response = give(client, order["id"], kind="percent", percent=50, reason_id=reasons["Staff meal"])
    assert response.status_code == 201 and response.json()["total_cents"] == 1775
    assert [(r["given_by"], r["approved_by"]) for r in discount_rows(server)] == [("manager", "manager")]


def test_a_comp_is_a_hundred_percent_off_and_follows_the_limit(
    server: Server, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    burger = order["lines"][0]
    comp = {"line_id": burger["id"], "reason_id": reasons["Cold food"]}
    assert give(cashier, order["id"], **comp).status_code == 403
    assert give(cashier, order["id"], **comp, kind="percent", percent=50).status_code == 422
    assert give(cashier, order["id"], **comp, kind="amount", amount_cents=100).status_code == 422
    response = give(cashier, order["id"], **comp, approval=MANAGER)
    assert response.status_code == 201 and response.json()["total_cents"] == 450
    [row] = discount_rows(server)
    assert (row["kind"], row["percent_milli"], row["comp"], row["reason"]) == ("percent", 100000, 1, "Cold food")
    assert events_of(server, "discount.given")[0]["comp"] is True


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "percent", "percent": 100.5}, 422, "percent"),
        ({"kind": "percent", "percent": 0}, 422, "percent"),
        ({"kind": "percent", "percent": -5}, 422, "percent"),
        ({"kind": "percent", "percent": 5.0001}, 422, "percent"),
        ({"kind": "percent", "percent": "5"}, 422, "percent"),
        ({"kind": "amount", "amount_cents": 0}, 422, "amount_cents"),
        ({"kind": "amount", "amount_cents": -100}, 422, "amount_cents"),
        ({"kind": "amount", "amount_cents": 3551}, 422, "amount_cents"),
        ({"kind": "amount", "percent": 5}, 422, "_"),
        ({"percent": 5}, 422, "_"),
        ({}, 422, "kind"),
        ({"kind": "percent", "percent": 5, "line_id": 999}, 422, "line_id"),
        ({"kind": "percent", "percent": 5, "reason_id": 999}, 422, "reason_id"),
    ],
)
def test_bad_discounts_are_refused_and_write_nothing(
    server: Server, client: httpx.Client, reasons: dict[str, int], order: dict, body: dict, status: int, field: str
) -> None:
    before = snapshot(server, order["id"])
    response = give(client, order["id"], "key", **{"reason_id": reasons["Loyalty"], **body})
    assert response.status_code == status, response.text
    assert field in response.json()["error"]["fields"]
    assert snapshot(server, order["id"]) == before


def test_no_discount_on_a_voided_line_a_cancelled_or_a_closed_order(
    server: Server, client: httpx.Client, reasons: dict[str, int], order: dict, menu: list[dict]
) -> None:
    percent = {"kind": "percent", "percent": 5, "reason_id": reasons["Loyalty"]}
    fries = order["lines"][1]["id"]
    assert client.post(f"/orders/{order['id']}/lines/{fries}/void", json={"reason": "sent back"}).status_code == 200
    before = snapshot(server, order["id"])
    voided = give(client, order["id"], **percent, line_id=fries)
    assert voided.status_code == 409 and voided.json()["error"]["reason"] == "line_voided"
    assert snapshot(server, order["id"]) == before
    assert client.patch(f"/orders/{order['id']}", json={"status": "cancelled"}).status_code == 200
    before = snapshot(server, order["id"])
    cancelled = give(client, order["id"], **percent)
    assert cancelled.status_code == 409 and cancelled.json()["error"]["reason"] == "order_cancelled"
    assert snapshot(server, order["id"]) == before
    paid = client.post("/orders", json=order_body(menu)).json()
    server.execute("UPDATE orders SET closed_at = updated_at WHERE id = ?", paid["id"])
    before = snapshot(server, paid["id"])
    closed = give(client, paid["id"], **percent)
    assert closed.status_code == 409 and closed.json()["error"]["reason"] == "order_closed"
    assert snapshot(server, paid["id"]) == before
    assert give(client, 999, **percent).status_code == 404


def test_the_same_request_twice_with_one_key_is_one_discount(
    server: Server, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    asked = {"kind": "percent", "percent": 20, "reason_id": reasons["Loyalty"], "approval": MANAGER}
    first = give(cashier, order["id"], "same-key", **asked)
    assert first.status_code == 201
    # The retry is answered without checking the approval again (a wrong one is not even tried).
    again = give(cashier, order["id"], "same-key", **{**asked, "approval": {"name": "manager", "password": "x"}})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["total_cents"] == first.json()["total_cents"] == 2840
    assert len(discount_rows(server)) == 1 and len(events_of(server, "discount.given")) == 1
    other = give(cashier, order["id"], "same-key", **{**asked, "percent": 25})
    assert other.status_code == 422 and other.json()["error"]["reason"] == "idempotency_key_reused"
    assert give(cashier, order["id"], "bad key", **asked).status_code == 400


def test_removing_a_discount_gives_the_bill_back(
    server: Server, client: httpx.Client, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    given = give(client, order["id"], kind="amount", amount_cents=1000, reason_id=reasons["Staff meal"]).json()
    assert given["total_cents"] == 2550
    [row] = discount_rows(server)
    removed = cashier.delete(f"/orders/{order['id']}/discounts/{row['id']}")
    assert removed.status_code == 200 and removed.json()["total_cents"] == 3550
    [row] = discount_rows(server)
    assert row["removed_by"] == "cashier" and row["removed_at"] is not None
    [event] = events_of(server, "discount.removed")
    assert (event["by"], event["amount_cents"], event["order_id"], event["total_cents"]) == (
        "cashier",
        1000,
        order["id"],
        3550,
    )
    before = snapshot(server, order["id"])
    assert cashier.delete(f"/orders/{order['id']}/discounts/{row['id']}").status_code == 409
    assert cashier.delete(f"/orders/{order['id']}/discounts/999").status_code == 404
    assert snapshot(server, order["id"]) == before


def test_the_kitchen_may_not_discount(server: Server, reasons: dict[str, int], order: dict) -> None:
    kitchen = httpx.post(
        f"{server.url}/orders/{order['id']}/discounts",
        json={"kind": "percent", "percent": 5, "reason_id": reasons["Loyalty"]},
        headers=server.auth("kitchen"),
    )
    assert kitchen.status_code == 403 and discount_rows(server) == []


def test_approvals_are_throttled_like_sign_ins(
    server: Server, cashier: httpx.Client, reasons: dict[str, int], order: dict
) -> None:
    asked = {"kind": "percent", "percent": 50, "reason_id": reasons["Loyalty"]}
    wrong = {"name": "manager", "password": "guessing"}
    answers = [give(cashier, order["id"], **asked, approval=wrong).status_code for _ in range(5)]
    assert answers == [401] * 5
    held = give(cashier, order["id"], **asked, approval=MANAGER)
    assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
    assert discount_rows(server) == []


def test_an_approval_leaves_the_cashiers_session_as_it_was(
    server: Server, reasons: dict[str, int], order: dict
) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        token = csrf_from(web.get("/login").text)
        signed = web.post("/login", data={"username": "cashier", "password": PASSWORDS["cashier"], "csrf_token": token})
        assert signed.status_code == 303
        session = web.cookies["forkflow_session"]
        csrf = csrf_from(web.get("/pos").text)
        approved = web.post(
            f"/orders/{order['id']}/discounts",
            json={"kind": "percent", "percent": 30, "reason_id": reasons["Loyalty"], "approval": MANAGER},
            headers={"X-CSRF-Token": csrf, "accept": "application/json"},
        )
        assert approved.status_code == 201, approved.text
        assert "forkflow_session" not in approved.headers.get("set-cookie", "")
        assert web.cookies["forkflow_session"] == session
        assert web.get("/pos").status_code == 200  # still the cashier, still signed in
        mine = web.get(f"/orders/{order['id']}", headers={"accept": "application/json"})
        assert mine.status_code == 200 and mine.json()["total_cents"] == 3550 - 1065
    [row] = discount_rows(server)
    assert (row["given_by"], row["approved_by"]) == ("cashier", "manager")


# The console's reasons panel


def test_the_console_keeps_the_reasons_with_errors_inline(server: Server, client: httpx.Client) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        token = csrf_from(web.get("/login").text)
        web.post("/login", data={"username": "manager", "password": PASSWORDS["manager"], "csrf_token": token})
        page = web.get("/manage")
        assert page.status_code == 200 and 'id="reasons-panel"' in page.text
        headers = {"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)}
        added = web.post("/manage/discount-reasons", data={"name": "Cold food", "comp": "1"}, headers=headers)
        assert added.status_code == 200 and "Added Cold food." in added.text and "Comp (100%)" in added.text
        taken = web.post("/manage/discount-reasons", data={"name": "cold FOOD"}, headers=headers)
        assert taken.status_code == 409 and 'id="reason-name-error"' in taken.text
        blank = web.post("/manage/discount-reasons", data={"name": " "}, headers=headers)
        assert blank.status_code == 422 and 'aria-invalid="true"' in blank.text
        [reason] = client.get("/discount-reasons").json()
        assert (reason["name"], reason["comp"], reason["active"]) == ("Cold food", True, True)
        rename = f"/manage/discount-reasons/{reason['id']}/name"
        renamed = web.post(rename, data={"name": "Cold dish"}, headers=headers)
        assert renamed.status_code == 200 and "Renamed to Cold dish." in renamed.text
        assert f'id="reason-rename-{reason["id"]}" name="name" value="Cold dish"' in renamed.text
        web.post("/manage/discount-reasons", data={"name": "Loyalty"}, headers=headers).raise_for_status()
        before = client.get("/discount-reasons").json()
        for typed, status in ((" ", 422), ("loyalty", 409), ("N" * 61, 422)):
            refused = web.post(rename, data={"name": typed}, headers=headers)
            assert refused.status_code == status, refused.text
            row_error = f'id="reason-rename-{reason["id"]}-error"'
            assert row_error in refused.text and 'aria-invalid="true"' in refused.text
            assert f'value="{typed}"' in refused.text  # kept as typed, in its row
        assert client.get("/discount-reasons").json() == before
        loyalty = next(r for r in before if r["name"] == "Loyalty")
        assert web.post(f"/manage/discount-reasons/{loyalty['id']}/remove", headers=headers).status_code == 200
        off = web.post(f"/manage/discount-reasons/{reason['id']}/active", data={"active": "0"}, headers=headers)
        assert off.status_code == 200 and "Switched off" in off.text
        assert client.get("/discount-reasons?active=true").json() == []
        gone = web.post(f"/manage/discount-reasons/{reason['id']}/remove", headers=headers)
        assert gone.status_code == 200 and "Removed." in gone.text
        assert client.get("/discount-reasons").json() == []
    kinds = [e["by"] for e in events_of(server, "discount.reason_created")]
    assert kinds == ["manager", "manager"] and len(events_of(server, "discount.reason_deleted")) == 2
    renamed = events_of(server, "discount.reason_updated")[0]  # (then switched off)
    assert (renamed["by"], renamed["name"]) == ("manager", "Cold dish")


def test_a_cashier_cannot_change_the_reasons_from_a_page(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        token = csrf_from(web.get("/login").text)
        web.post("/login", data={"username": "cashier", "password": PASSWORDS["cashier"], "csrf_token": token})
        csrf = csrf_from(web.get("/pos").text)
        refused = web.post(
            "/manage/discount-reasons", data={"name": "Mine"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT count(*) FROM discount_reasons").fetchone() == (0,)
