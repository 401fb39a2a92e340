"""Payments (issue 17) against a real server on SQLite: tenders, change, cash rounding, splits,
idempotency, the refusals (each writes nothing) and the race of two tills paying one bill."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forkflow.config import Settings
from forkflow.money.providers import pays_at_pickup, provider_of

from .conftest import Server, csrf_from, page_client, running_server
from .money import events_of, key, open_drawer, pay, place, refused, scalar, written
from .test_pos import sign_in

BILL = 3550  # order_body: 2 × 1550 + 450


@pytest.fixture
def till(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("cashier")) as c:
        yield c


def test_a_card_payment_settles_the_bill_and_closes_the_order(server: Server, till: httpx.Client, menu: list) -> None:
    order = place(till, menu)
    assert (order["balance_cents"], order["paid_cents"], order["closed"], order["payments"]) == (BILL, 0, False, [])
    response = pay(till, order["id"], tender="card", amount_cents=BILL, tip_cents=300, reference="T-881")
    assert response.status_code == 201, response.text
    payment, after = response.json()["payment"], response.json()["order"]
    assert payment["tender"] == "card" and payment["reference"] == "T-881" and payment["taken_by"] == "cashier"
    assert (payment["amount_cents"], payment["tip_cents"], payment["change_cents"]) == (BILL, 300, 0)
    assert (after["balance_cents"], after["paid_cents"], after["closed"]) == (0, BILL, True)
    assert after["closed_at"] is not None
    assert till.get(f"/orders/{order['id']}").json()["payments"] == [payment]
    [event] = events_of(server, "payment.taken")
    assert (event["by"], event["order_id"], event["amount_cents"], event["tip_cents"]) == (
        "cashier",
        order["id"],
        BILL,
        300,
    )
    assert event["at"].endswith("Z") and event["business_date"] == order["business_date"]
    assert events_of(server, "order.updated")[-1]["closed"] is True


def test_cash_gives_change_and_goes_into_the_open_drawer(till: httpx.Client, menu: list) -> None:
    drawer = open_drawer(till)
    order = place(till, menu)
    payment = pay(till, order["id"], tender="cash", amount_cents=BILL, tendered_cents=5000).json()["payment"]
    assert (payment["tendered_cents"], payment["change_cents"]) == (5000, 5000 - BILL)
    listed = till.get("/drawers").json()["drawers"]
    assert [(d["id"], d["expected_cents"]) for d in listed] == [(drawer["id"], 10000 + BILL)]


def test_several_tenders_by_amount_until_the_balance_is_zero(till: httpx.Client, menu: list) -> None:
    open_drawer(till)
    order = place(till, menu)
    first = pay(till, order["id"], tender="cash", amount_cents=1000).json()["order"]
    assert (first["balance_cents"], first["closed"]) == (BILL - 1000, False)
    second = pay(till, order["id"], tender="other", amount_cents=BILL - 1000, reference="voucher 12").json()["order"]
    assert (second["balance_cents"], second["paid_cents"], second["closed"]) == (0, BILL, True)


def test_one_key_sent_twice_is_one_payment(server: Server, till: httpx.Client, menu: list) -> None:
    order = place(till, menu)
    headers = key()
    first = pay(till, order["id"], headers, tender="card", amount_cents=1000)
    again = pay(till, order["id"], headers, tender="card", amount_cents=1000)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["payment"] == first.json()["payment"]
    assert scalar(server, "SELECT COUNT(*) FROM payments") == 1
    other = pay(till, order["id"], headers, tender="card", amount_cents=999)
    assert refused(other, 422)["reason"] == "idempotency_key_reused"
    assert refused(pay(till, order["id"], {}, tender="card", amount_cents=5), 400)["fields"] == {
        "Idempotency-Key": "missing"
    }


def test_bad_payments_answer_the_error_json_and_write_nothing(server: Server, till: httpx.Client, menu: list) -> None:
    order = place(till, menu)
    before = written(server)
    assert refused(pay(till, order["id"], tender="card", amount_cents=BILL + 1), 409)["reason"] == "more_than_owed"
    assert refused(pay(till, order["id"], tender="other", amount_cents=BILL + 1), 409)["balance_cents"] == BILL
    assert "amount_cents" in refused(pay(till, order["id"], tender="card", amount_cents=-5), 422)["fields"]
    assert "amount_cents" in refused(pay(till, order["id"], tender="card", amount_cents=0), 422)["fields"]
    assert "amount_cents" in refused(pay(till, order["id"], tender="card", amount_cents=12.5), 422)["fields"]
    assert "tip_cents" in refused(pay(till, order["id"], tender="card", amount_cents=5, tip_cents=-1), 422)["fields"]
    assert "tender" in refused(pay(till, order["id"], tender="iou", amount_cents=5), 422)["fields"]
    assert refused(pay(till, order["id"], tender="cash", amount_cents=5), 409)["reason"] == "no_drawer"
    open_drawer(till)
    after_drawer = written(server)
    short = pay(till, order["id"], tender="cash", amount_cents=BILL, tendered_cents=2000)
    assert "tendered_cents" in refused(short, 422)["fields"]
    assert refused(pay(till, 999, tender="card", amount_cents=5), 404)
    assert written(server) == after_drawer and after_drawer[:2] == before[:2]


def test_a_cancelled_order_or_a_paid_one_cannot_be_paid(server: Server, till: httpx.Client, menu: list) -> None:
    cancelled = place(till, menu)
    till.patch(f"/orders/{cancelled['id']}", json={"status": "cancelled"}).raise_for_status()
    paid = place(till, menu)
    pay(till, paid["id"], tender="card", amount_cents=BILL).raise_for_status()
    before = written(server)
    assert refused(pay(till, cancelled["id"], tender="card", amount_cents=100), 409)["reason"] == "cancelled"
    assert refused(pay(till, paid["id"], tender="card", amount_cents=100), 409)["reason"] == "closed"
    assert written(server) == before


def test_split_evenly_three_ways_sums_to_the_balance_exactly(till: httpx.Client, menu: list) -> None:
    order = place(till, menu, items=[{"menu_item_id": menu[0]["id"], "quantity": 1}])  # 1550: not divisible by 3
    split = till.get(f"/orders/{order['id']}/split", params={"guests": 3}).json()
    shares = [share["amount_cents"] for share in split["shares"]]
    assert shares == [517, 517, 516] and sum(shares) == 1550 == split["balance_cents"]
    pay(till, order["id"], tender="card", amount_cents=517).raise_for_status()
    after = till.get(f"/orders/{order['id']}/split", params={"guests": 3}).json()
    assert [(s["due_cents"], s["paid"]) for s in after["shares"]] == [(0, True), (517, False), (516, False)]
    assert refused(till.get(f"/orders/{order['id']}/split", params={"guests": 0}), 422)
    whole = till.get(f"/orders/{order['id']}/split").json()  # neither: one share, the whole bill
    assert [(s["amount_cents"], s["due_cents"]) for s in whole["shares"]] == [(1550, 1550 - 517)]


def test_paying_by_item_pays_what_the_lines_owe_once(server: Server, till: httpx.Client, menu: list) -> None:
    order = place(till, menu)
    burger, fries = (line["id"] for line in order["lines"])
    share = till.get(f"/orders/{order['id']}/split", params={"line_ids": str(fries)}).json()
    assert share["amount_cents"] == 450
    wrong = pay(till, order["id"], tender="card", amount_cents=400, line_ids=[fries])
    assert "amount_cents" in refused(wrong, 422)["fields"]
    paid = pay(till, order["id"], tender="card", amount_cents=450, line_ids=[fries]).json()
    assert paid["payment"]["line_ids"] == [fries] and paid["order"]["balance_cents"] == BILL - 450
    before = written(server)
    assert refused(pay(till, order["id"], tender="card", amount_cents=450, line_ids=[fries]), 409)["reason"] == (
        "line_paid"
    )
    assert refused(till.get(f"/orders/{order['id']}/split", params={"line_ids": f"{burger},{fries}"}), 409)
    assert "line_ids" in refused(pay(till, order["id"], tender="card", amount_cents=5, line_ids=[99999]), 422)["fields"]
    assert written(server) == before


def test_chf_cash_settles_the_rounded_balance(tmp_path: Path) -> None:
    with (
        running_server(tmp_path, env={"FORKFLOW_CURRENCY": "CHF", "FORKFLOW_LOCALE": "de_CH"}) as server,
        httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as client,
    ):
        made = client.post(
            "/menu", json={"name": "Rosti", "price_cents": 1237, "category": "Mains", "station": "grill"}
        )
        assert made.status_code == 201, made.text
        dish = made.json()
        order = place(client, [dish, dish], items=[{"menu_item_id": dish["id"], "quantity": 1}])
        drawer = open_drawer(client, float_cents=0)
        response = pay(client, order["id"], tender="cash", amount_cents=1235, tendered_cents=2000)
        assert response.status_code == 201, response.text
        payment, after = response.json()["payment"], response.json()["order"]
        assert (payment["amount_cents"], payment["change_cents"]) == (1237, 765), "the bill settled, cash 12.35"
        assert (after["balance_cents"], after["closed"]) == (0, True)
        assert client.get("/drawers").json()["drawers"][0]["expected_cents"] == 1235
        assert drawer["float_cents"] == 0
        assert events_of(server, "payment.taken")[0]["cash_rounding_cents"] == 2


def test_two_tills_paying_one_bill_at_once_make_one_payment(server: Server, till: httpx.Client, menu: list) -> None:
    order = place(till, menu)

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, headers=server.auth("cashier"), timeout=30) as client:
            body = {"tender": "card", "amount_cents": BILL}
            path = f"/orders/{order['id']}/payments"
            return await asyncio.gather(*[client.post(path, json=body, headers=key()) for _ in range(8)])

    answers = asyncio.run(both())
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    assert all(r.json()["error"]["reason"] == "closed" for r in answers if r.status_code == 409)
    assert scalar(server, "SELECT COUNT(*), SUM(amount_cents) FROM payments") == 1
    assert till.get(f"/orders/{order['id']}").json()["paid_cents"] == BILL


def test_a_line_added_to_a_paid_order_reopens_its_balance(till: httpx.Client, menu: list) -> None:
    order = place(till, menu)
    pay(till, order["id"], tender="card", amount_cents=BILL).raise_for_status()
    added = till.post(f"/orders/{order['id']}/lines", json={"items": [{"menu_item_id": menu[3]["id"], "quantity": 1}]})
    assert added.status_code == 200, added.text
    after = added.json()
    assert (after["balance_cents"], after["closed"], after["closed_at"]) == (350, False, None)
    paid = pay(till, order["id"], tender="card", amount_cents=350).json()["order"]
    assert (paid["balance_cents"], paid["closed"]) == (0, True)


# The till's Pay form and drawer form (routes/pos/pay.py): the same writes, errors said inline.

HX = {"HX-Request": "true"}


def _form(web: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    page = web.get(path).text
    token = csrf_from(page)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    data = {**fields, "csrf_token": token, **({"idempotency_key": key.group(1)} if key else {})}
    return web.post(path, data=data, headers={**HX, "X-CSRF-Token": token})


def test_the_pay_form_says_what_is_wrong_inline_and_writes_nothing(
    server: Server, till: httpx.Client, menu: list
) -> None:
    order = place(till, menu)
    with page_client(server) as web:
        sign_in(web, "cashier")
        before = written(server)
        path = f"/pos/orders/{order['id']}/pay"
        typo = _form(web, path, {"tender": "card", "amount": "12.345"})
        assert typo.status_code == 422 and 'id="pay-error"' in typo.text and "at most 2 decimals" in typo.text
        too_much = _form(web, path, {"tender": "card", "amount": "99"})
        assert too_much.status_code == 409 and "more than the balance" in too_much.text
        no_drawer = _form(web, path, {"tender": "cash", "amount": "35.50"})
        assert no_drawer.status_code == 409 and "open a drawer first" in no_drawer.text
        assert written(server) == before
        drawers = _form(web, "/pos/drawers", {"action": "open", "name": "Bar", "float": "50"})
        assert drawers.status_code == 200 and "$50.00" in drawers.text
        paid = _form(web, path, {"tender": "cash", "amount": "35.50", "tendered": "40"})
        assert paid.status_code == 201 and 'id="change">$4.50<' in paid.text and "Paid in full" in paid.text


def test_the_checkout_says_online_orders_are_paid_at_pickup() -> None:
    assert pays_at_pickup(Settings()) and provider_of(Settings()) is None
