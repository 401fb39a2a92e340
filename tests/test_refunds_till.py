"""Refunds at the till (routes/pos/refunds.py) against a real server on SQLite: the Pay panel's
"Refund" and "Void & refund" forms, with a manager's approval typed on the cashier's screen; each
refusal is said inline and writes nothing, a double submit of one form is one refund, and a
manager at the till approves themself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from forkflow.models import RefundIn
from forkflow.services.payments import fingerprint

from .conftest import PASSWORDS, Server, csrf_from, page_client
from .money import open_drawer, pay, place, scalar, written
from .test_pos import sign_in

BILL = 3550  # 2 × Classic Burger 1550 + Fries 450
HX = {"HX-Request": "true"}
MANAGER = {"approval_name": "manager", "approval_password": PASSWORDS["manager"]}


@pytest.fixture
def till(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("cashier")) as c:
        yield c


@pytest.fixture
def cashier(server: Server) -> Iterator[httpx.Client]:
    with page_client(server) as web:
        sign_in(web, "cashier")
        yield web


def opened(web: httpx.Client, order_id: int, **query: int) -> dict[str, str]:
    """The refund form as the till opens it: its hidden fields and typed defaults."""
    response = web.get(f"/pos/orders/{order_id}/refunds", params=query, headers=HX)
    assert response.status_code == 200, response.text
    form = response.text[response.text.index('id="refund-form"') :]
    fields = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', form))
    fields["csrf_token"] = csrf_from(form)
    return fields


def submit(web: httpx.Client, order_id: int, fields: dict[str, str]) -> httpx.Response:
    headers = {**HX, "X-CSRF-Token": fields["csrf_token"]}
    return web.post(f"/pos/orders/{order_id}/refunds", data=fields, headers=headers)


def paid_by_card(till: httpx.Client, menu: list, tip: int = 200) -> tuple[dict, dict]:
    order = place(till, menu)
    answer = pay(till, order["id"], tender="card", amount_cents=BILL, tip_cents=tip, reference="T-77").json()
    return answer["order"], answer["payment"]


def test_the_pay_panel_lists_each_payment_with_a_refund_and_each_paid_line_with_a_void(
    till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    order, payment = paid_by_card(till, menu)
    page = cashier.get(f"/pos/orders/{order['id']}/pay").text
    assert f'id="refund-payment-{payment["id"]}"' in page and "T-77" in page and "tip $2.00" in page
    assert all(f'id="void-refund-{line["id"]}"' in page for line in order["lines"]), "paid in full: every line"
    form = opened(cashier, order["id"], payment=payment["id"])
    assert (form["amount"], form["payment_id"]) == ("35.50", str(payment["id"])), "default: what is left"
    assert form["idempotency_key"].startswith("refund-") and "approval_name" in form
    unpaid = place(till, menu)
    assert 'id="void-refund-' not in cashier.get(f"/pos/orders/{unpaid['id']}/pay").text
    assert cashier.get(f"/pos/orders/{order['id']}/refunds", params={"payment": 999}, headers=HX).status_code == 404
    cancelled = cashier.get(f"/pos/orders/{order['id']}/pay", headers=HX).text  # the form's Cancel
    assert "<html" not in cancelled and 'id="bill-summary"' in cancelled and 'id="refund-form"' not in cancelled


def test_a_cashier_refunds_part_of_a_card_payment_with_a_managers_approval(
    server: Server, till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    order, payment = paid_by_card(till, menu)
    form = opened(cashier, order["id"], payment=payment["id"])
    response = submit(cashier, order["id"], {**form, "amount": "5", "tip": "2", "reason": "cold soup", **MANAGER})
    assert response.status_code == 201, response.text
    assert 'id="refund-done"' in response.text and "$7.00 refunded to card" in response.text
    assert 'id="bill-refunded">$5.00<' in response.text and 'id="bill-paid">$30.50<' in response.text
    assert "Paid in full" in response.text and 'id="refund-form"' not in response.text, "the form closes"
    assert "cashier, approved by manager" in response.text and "refunded $5.00 + tip $2.00" in response.text
    row = (
        "SELECT amount_cents || ',' || tip_cents || ',' || reason || ',' || given_by || ',' || approved_by FROM refunds"
    )
    assert scalar(server, row) == "500,200,cold soup,cashier,manager"
    asked = RefundIn(payment_id=payment["id"], amount_cents=500, tip_cents=200, reason="cold soup")
    assert scalar(server, "SELECT request_hash FROM refunds") == fingerprint(order["id"], asked), "no password in it"
    assert cashier.get("/pos").status_code == 200, "the cashier is still the one signed in"
    again = opened(cashier, order["id"], payment=payment["id"])
    assert again["amount"] == "30.50" and again["idempotency_key"] != form["idempotency_key"]


def test_each_bad_refund_is_said_inline_and_writes_nothing(
    server: Server, till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    order, payment = paid_by_card(till, menu)
    form = {**opened(cashier, order["id"], payment=payment["id"]), "reason": "cold"}
    before = written(server)

    def refused(status: int, **fields: str) -> str:
        response = submit(cashier, order["id"], {**form, **fields})
        assert response.status_code == status, response.text
        assert 'id="refund-form"' in response.text, "the form stays open"
        return response.text

    assert "A refund needs a manager&#39;s approval" in refused(422)
    assert "name or password" in refused(422, approval_name="manager", approval_password="wrong").lower()
    not_a_manager = refused(422, approval_name="cashier", approval_password=PASSWORDS["cashier"])
    assert "cashier is not a manager" in not_a_manager.lower()
    assert "Enter the manager&#39;s name and password" in refused(422, approval_name="manager")
    assert "Only $35.50 is left to refund" in refused(409, amount="35.51", **MANAGER)
    assert "Only $2.00 of the tip is left" in refused(409, amount="1", tip="2.01", **MANAGER)
    typo = refused(422, amount="1.234", **MANAGER)
    assert 'id="refund-amount" name="amount" inputmode="decimal" autocomplete="off" value="1.234" aria-invalid' in typo
    assert 'id="refund-reason-error"' in refused(422, reason=" ", **MANAGER)
    assert "enter the amount" in refused(422, amount="", **MANAGER).lower()
    assert "the form was not the till" in refused(422, idempotency_key="", **MANAGER).lower()
    assert written(server) == before


def test_a_cash_refund_without_an_open_drawer_is_refused(
    server: Server, till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    drawer = open_drawer(till)
    order = place(till, menu)
    payment = pay(till, order["id"], tender="cash", amount_cents=BILL).json()["payment"]
    closed = till.post(f"/drawers/{drawer['id']}/close", json={"counts": {}, "other_cents": 10000 + BILL})
    assert closed.status_code == 200, closed.text
    before = written(server)
    form = {**opened(cashier, order["id"], payment=payment["id"]), "amount": "5", "reason": "cold", **MANAGER}
    response = submit(cashier, order["id"], form)
    assert response.status_code == 409 and "Open a drawer first: a cash refund comes out of a drawer" in response.text
    assert written(server) == before


def test_a_double_submit_of_one_form_is_one_refund(
    server: Server, till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    order, payment = paid_by_card(till, menu)
    form = {**opened(cashier, order["id"], payment=payment["id"]), "amount": "10", "reason": "cold", **MANAGER}
    first, second = submit(cashier, order["id"], form), submit(cashier, order["id"], form)
    assert (first.status_code, second.status_code) == (201, 201)
    assert scalar(server, "SELECT COUNT(*) || ',' || SUM(amount_cents) FROM refunds") == "1,1000"
    assert 'id="bill-refunded">$10.00<' in second.text


def test_void_and_refund_voids_the_paid_line_and_refunds_it_in_one_write(
    server: Server, till: httpx.Client, cashier: httpx.Client, menu: list
) -> None:
    drawer = open_drawer(till)
    order = place(till, menu)
    burger, fries = order["lines"]
    cash = pay(till, order["id"], tender="cash", amount_cents=450, line_ids=[fries["id"]]).json()["payment"]
    pay(till, order["id"], tender="card", amount_cents=BILL - 450).raise_for_status()
    form = opened(cashier, order["id"], line=fries["id"])
    assert "selected>Cash $4.50" in cashier.get(f"/pos/orders/{order['id']}/refunds?line={fries['id']}").text
    assert (form["line_id"], "amount" in form) == (str(fries["id"]), False)
    response = submit(cashier, order["id"], {**form, "payment_id": str(cash["id"]), "reason": "cold", **MANAGER})
    assert response.status_code == 201, response.text
    assert "1 × Fries voided; $4.50 refunded to cash: give it back from the drawer" in response.text
    assert 'id="bill-total">$31.00<' in response.text and 'id="bill-balance" class="balance">$0.00<' in response.text
    assert (
        f'id="void-refund-{fries["id"]}"' not in response.text and f'id="void-refund-{burger["id"]}"' in response.text
    )
    assert scalar(server, "SELECT void_reason FROM order_lines WHERE id = ?", fries["id"]) == "cold"
    assert till.get("/drawers").json()["drawers"][0]["expected_cents"] == 10000 + 450 - 450
    assert drawer["float_cents"] == 10000
    before = written(server)
    twice = submit(cashier, order["id"], {**form, "payment_id": str(cash["id"]), "reason": "cold", **MANAGER})
    assert twice.status_code == 201 and written(server) == before, "the same form again: the same refund"
    other = {**opened(cashier, order["id"], line=burger["id"]), "reason": "cold", **MANAGER}
    more = submit(cashier, order["id"], {**other, "payment_id": str(cash["id"])})
    assert more.status_code == 409 and 'id="refund-payment-error"' in more.text, "cash has nothing left"
    assert written(server) == before


def test_a_manager_at_the_till_approves_themself(server: Server, till: httpx.Client, menu: list) -> None:
    order, payment = paid_by_card(till, menu)
    with page_client(server) as web:
        sign_in(web, "manager")
        form = opened(web, order["id"], payment=payment["id"])
        assert "approval_name" not in form
        response = submit(web, order["id"], {**form, "amount": "1", "reason": "goodwill"})
        assert response.status_code == 201, response.text
    assert scalar(server, "SELECT given_by || ',' || approved_by FROM refunds") == "manager,manager"
