"""The Idempotency-Key rule on its own (forkflow/idempotency.py): the format, the keys the till and
the shop mint, scopes, the reuse error as its own class with the answer it always had, and purging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from forkflow import idempotency
from forkflow.auth.roles import Principal
from forkflow.config import Settings, sqlite_url
from forkflow.errors import Invalid
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.openapi import openapi_document
from forkflow.routes import routes
from forkflow.schema import idempotency_keys
from forkflow.services import create_menu_item, create_order
from forkflow.store import Store, Tx


@pytest.mark.parametrize("key", ["a", "till-1-ticket-77", "x" * idempotency.MAX_LENGTH, "!~';DROP_TABLE--"])
def test_a_key_is_printable_ascii_without_spaces(key: str) -> None:
    assert idempotency.is_valid(key)


@pytest.mark.parametrize("key", [None, "", "has space", "x" * (idempotency.MAX_LENGTH + 1), "tab\there", "é"])
def test_anything_else_is_no_key(key: str | None) -> None:
    assert not idempotency.is_valid(key)


def test_minted_keys_are_valid_and_fresh() -> None:
    keys = {idempotency.new_key("web") for _ in range(100)}
    assert len(keys) == 100 and all(idempotency.is_valid(key) and key.startswith("web-") for key in keys)


def test_the_document_states_the_rule_the_server_checks() -> None:
    (parameter,) = [
        p for p in openapi_document(routes)["paths"]["/orders"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    ]
    assert parameter["schema"]["pattern"] == idempotency.PATTERN
    assert idempotency.FORMAT_TEXT in parameter["description"]
    assert f"kept for {idempotency.KEPT_HOURS} hours" in parameter["description"]


def test_one_callers_key_is_not_anothers() -> None:
    ada = Principal(1, "ada", "cashier", "session")
    bob = Principal(2, "bob", "cashier", "token")
    scopes = [
        idempotency.staff_scope(ada),
        idempotency.staff_scope(bob),
        idempotency.cart_scope("c1"),
        idempotency.address_scope("10.0.0.1"),
    ]
    assert len({idempotency.stored(scope, "same-key") for scope in scopes}) == len(scopes)
    assert idempotency.caller_scope(ada, "10.0.0.1") == idempotency.staff_scope(ada)
    assert idempotency.caller_scope(None, "10.0.0.1") == idempotency.address_scope("10.0.0.1")


def test_a_reused_key_is_answered_as_it_always_was() -> None:
    error = idempotency.KeyReused()
    assert isinstance(error, Invalid) and error.status == 422
    assert error.to_dict() == {
        "error": {
            "code": "invalid",
            "message": "this Idempotency-Key was already used for a different order",
            "fields": {"Idempotency-Key": "reused with a different body"},
            "reason": "idempotency_key_reused",
        }
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "store.db")), Bus())
    await s.open()
    yield s
    await s.close()


async def _order(store: Store, name: str) -> OrderIn:
    dish = await create_menu_item(store, MenuItemIn(name="Soup", price_cents=500, category="Mains", station="hot"))
    return OrderIn(customer_name=name, channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}])


async def test_the_order_service_raises_the_class_for_a_key_sent_with_another_order(store: Store) -> None:
    first = await _order(store, "Ada")
    order, replayed = await create_order(store, first, "k1")
    assert not replayed
    again, replayed = await create_order(store, first, "k1")
    assert replayed and again["id"] == order["id"]
    with pytest.raises(idempotency.KeyReused):
        await create_order(store, first.model_copy(update={"customer_name": "Bob"}), "k1")


async def test_keys_are_purged_once_older_than_they_are_kept(store: Store) -> None:
    body = await _order(store, "Ada")
    await create_order(store, body, "old")
    await create_order(store, body, "recent")

    kept = timedelta(hours=idempotency.KEPT_HOURS)

    def age(tx: Tx) -> None:
        tx.conn.execute(update(idempotency_keys).values(created_at=tx.now - kept + timedelta(minutes=1)))
        old = idempotency_keys.c.key == "old"
        tx.conn.execute(update(idempotency_keys).where(old).values(created_at=tx.now - kept - timedelta(minutes=1)))

    await store.write(age)
    assert await store.write(idempotency.purge) == 1
    async with store.read() as conn:
        left = await conn.execute(select(idempotency_keys.c.key, func.count()).group_by(idempotency_keys.c.key))
        assert [tuple(row) for row in left] == [("recent", 1)]
