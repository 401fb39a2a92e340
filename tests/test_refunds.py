"""Refunds (issue 17) against a real server on SQLite: on one payment's tender, with a manager's
approval, never above what it has left; a paid line voided and refunded in one write; and the
existing void endpoint refusing to void a paid line. Each refusal writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import PASSWORDS, Server
from .money import events_of, key, open_drawer, pay, place, refused, scalar, written

BILL = 3550
MANAGER = {"name": "manager", "password": PASSWORDS["manager"]}


@pytest.fixture
def till(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("cashier")) as c:
        yield c


def refund(client: httpx.Client, order_id: int, **body: object) -> httpx.Response:
    return client.post(f"/orders/{order_id}/refunds", json={"reason": "cold", **body}, headers=key())


def paid_order(till: httpx.Client, menu: list, tender: str = "card", tip: int = 0) -> tuple[dict, dict]:
    order = place(till, menu)
    answer = pay(till, order["id"], tender=tender, amount_cents=BILL, tip_cents=tip).json()
    return answer["order"], answer["payment"]


def test_a_cashier_refunds_part_of_a_card_payment_with_a_managers_approval(
    server: Server, till: httpx.Client, menu: list
) -> None:
    order, payment = paid_order(till, menu, tip=200)
    response = refund(till, order["id"], payment_id=payment["id"], amount_cents=500, tip_cents=200, approval=MANAGER)
    assert response.status_code == 201, response.text
    given, after = response.json()["refund"], response.json()["order"]
    assert (given["amount_cents"], given["tip_cents"], given["given_by"], given["approved_by"]) == (
        500,
        200,
        "cashier",
        "manager",
    )
    assert (after["paid_cents"], after["refunded_cents"], after["balance_cents"], after["closed"]) == (
        BILL - 500,
        500,
        0,
        True,
    )
    assert after["payments"][0]["refunded_cents"] == 500 and after["refunds"] == [given]
    [event] = events_of(server, "refund.given")
    assert (event["by"], event["approved_by"], event["order_id"], event["amount_cents"]) == (
        "cashier",
        "manager",
        order["id"],
        500,
    )


def test_bad_refunds_answer_the_error_json_and_write_nothing(server: Server, till: httpx.Client, menu: list) -> None:
    order, payment = paid_order(till, menu, tip=100)
    before = written(server)
    wrong = {"name": "manager", "password": "not-the-password"}
    assert refused(refund(till, order["id"], payment_id=payment["id"], amount_cents=5, approval=wrong), 401)
    assert refused(refund(till, order["id"], payment_id=payment["id"], amount_cents=5), 401)["fields"] == {
        "approval": "a manager's name and password"
    }
    cashier = {"name": "cashier", "password": PASSWORDS["cashier"]}
    assert refused(refund(till, order["id"], payment_id=payment["id"], amount_cents=5, approval=cashier), 403)
    above = refund(till, order["id"], payment_id=payment["id"], amount_cents=BILL + 1, approval=MANAGER)
    assert refused(above, 409)["left_cents"] == BILL
    tip = refund(till, order["id"], payment_id=payment["id"], amount_cents=1, tip_cents=101, approval=MANAGER)
    assert refused(tip, 409)["fields"] == {"tip_cents": "at most 100"}
    assert refused(refund(till, order["id"], payment_id=payment["id"], amount_cents=-1, approval=MANAGER), 422)
    both = refund(till, order["id"], payment_id=payment["id"], amount_cents=1, line_id=1, approval=MANAGER)
    assert refused(both, 422)
    assert refused(refund(till, order["id"], payment_id=999, amount_cents=1, approval=MANAGER), 404)
    assert written(server) == before


def test_refunds_never_exceed_what_the_payment_has_left(till: httpx.Client, menu: list) -> None:
    order, payment = paid_order(till, menu)
    assert refund(till, order["id"], payment_id=payment["id"], amount_cents=3000, approval=MANAGER).status_code == 201
    again = refund(till, order["id"], payment_id=payment["id"], amount_cents=551, approval=MANAGER)
    assert refused(again, 409)["left_cents"] == 550


def test_a_manager_refunding_approves_themself(server: Server, client: httpx.Client, menu: list) -> None:
    order = place(client, menu)
    payment = pay(client, order["id"], tender="card", amount_cents=BILL).json()["payment"]
    given = refund(client, order["id"], payment_id=payment["id"], amount_cents=50).json()["refund"]
    assert given["approved_by"] == given["given_by"] == "manager"


def test_refunding_a_paid_line_voids_it_in_the_same_write(server: Server, till: httpx.Client, menu: list) -> None:
    order, payment = paid_order(till, menu)
    fries = order["lines"][1]
    response = refund(till, order["id"], payment_id=payment["id"], line_id=fries["id"], approval=MANAGER)
    assert response.status_code == 201, response.text
    given, after = response.json()["refund"], response.json()["order"]
    assert (given["line_id"], given["amount_cents"]) == (fries["id"], 450)
    voided = after["lines"][1]
    assert voided["voided_at"] is not None and (voided["void_reason"], voided["voided_by"]) == ("cold", "cashier")
    assert (after["total_cents"], after["paid_cents"], after["balance_cents"], after["closed"]) == (
        BILL - 450,
        BILL - 450,
        0,
        True,
    )
    before = written(server)
    twice = refund(till, order["id"], payment_id=payment["id"], line_id=fries["id"], approval=MANAGER)
    assert refused(twice, 409)["reason"] == "already_voided"
    assert written(server) == before


def test_the_void_endpoint_refuses_a_paid_line_and_points_at_the_refund(
    server: Server, till: httpx.Client, menu: list
) -> None:
    order = place(till, menu)
    burger, fries = order["lines"]
    pay(till, order["id"], tender="card", amount_cents=450, line_ids=[fries["id"]]).raise_for_status()
    before = written(server)
    voided = till.post(f"/orders/{order['id']}/lines/{fries['id']}/void", json={"reason": "cold"})
    assert refused(voided, 409)["reason"] == "refund_needed"
    assert "/refunds" in voided.json()["error"]["message"]
    assert written(server) == before
    # An unpaid line, with what is paid still covered, voids as before.
    pay(till, order["id"], tender="card", amount_cents=100).raise_for_status()
    other = place(till, menu)
    unpaid = till.post(f"/orders/{other['id']}/lines/{other['lines'][1]['id']}/void", json={"reason": "no"})
    assert unpaid.status_code == 200 and unpaid.json()["balance_cents"] == BILL - 450
    not_paid = refund(till, other["id"], payment_id=1, line_id=other["lines"][0]["id"], approval=MANAGER)
    assert refused(not_paid, 404), "payment 1 is another order's"
    assert scalar(server, "SELECT COUNT(*) FROM refunds") == 0


def test_a_cash_refund_comes_out_of_the_open_drawer(till: httpx.Client, menu: list) -> None:
    open_drawer(till, float_cents=1000)
    order, payment = paid_order(till, menu, tender="cash")
    assert refund(till, order["id"], payment_id=payment["id"], amount_cents=550, approval=MANAGER).status_code == 201
    assert till.get("/drawers").json()["drawers"][0]["expected_cents"] == 1000 + BILL - 550
