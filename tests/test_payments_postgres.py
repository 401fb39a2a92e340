"""The payment race across processes (issue 17): two ForkFlow servers on one PostgreSQL database,
two tills paying the same bill at once, never more than it owes."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import Server, order_body
from .test_postgres import _menu


async def _pay_all(server: Server, path: str, bodies: list[dict], keys: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("cashier"), timeout=30) as client:
        return await asyncio.gather(
            *[
                client.post(path, json=body, headers={"Idempotency-Key": k})
                for body, k in zip(bodies, keys, strict=True)
            ]
        )


async def test_two_tills_on_two_processes_pay_one_bill_once(postgres_pair: tuple[Server, Server]) -> None:
    first, second = postgres_pair
    menu = _menu(first)
    with httpx.Client(base_url=first.url, headers=first.auth("cashier"), timeout=10) as client:
        order = client.post("/orders", json=order_body(menu)).json()
    path, full = f"/orders/{order['id']}/payments", {"tender": "card", "amount_cents": order["total_cents"]}
    answers = await asyncio.gather(
        _pay_all(first, path, [full] * 5, [f"a-{n}" for n in range(5)]),
        _pay_all(second, path, [full] * 5, [f"b-{n}" for n in range(5)]),
    )
    made = [response for batch in answers for response in batch]
    assert sorted(response.status_code for response in made) == [201] + [409] * 9
    assert {response.json()["error"]["reason"] for response in made if response.status_code == 409} == {"closed"}
    with httpx.Client(base_url=second.url, headers=second.auth("manager"), timeout=10) as client:
        after = client.get(f"/orders/{order['id']}").json()
    assert (len(after["payments"]), after["paid_cents"], after["balance_cents"]) == (1, order["total_cents"], 0)


async def test_one_payment_key_sent_to_both_processes_at_once_is_one_payment(
    postgres_pair: tuple[Server, Server],
) -> None:
    first, second = postgres_pair
    menu = _menu(first)
    with httpx.Client(base_url=first.url, headers=first.auth("cashier"), timeout=10) as client:
        order = client.post("/orders", json=order_body(menu)).json()
    path, part = f"/orders/{order['id']}/payments", {"tender": "card", "amount_cents": 1000}
    keys = [f"split-{n}" for n in range(3)]
    answers = await asyncio.gather(_pay_all(first, path, [part] * 3, keys), _pay_all(second, path, [part] * 3, keys))
    for a, b in zip(*answers, strict=True):
        assert (a.status_code, b.status_code) == (201, 201)
        assert a.json()["payment"]["id"] == b.json()["payment"]["id"]
    with httpx.Client(base_url=second.url, headers=second.auth("manager"), timeout=10) as client:
        after = client.get(f"/orders/{order['id']}").json()
    assert (len(after["payments"]), after["balance_cents"]) == (3, order["total_cents"] - 3000)
