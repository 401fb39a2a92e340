"""Idempotency keys: their format, how new ones are made, whose they are, the error for a key
reused with a different order, and how long keys are kept.

A key is the caller's own, as Stripe scopes keys to the account: another caller sending the same
key must neither get the first caller's order back (with its tracking link) nor claim the key
first. So a key is stored as sha256(scope NUL key), where the scope names the caller:

- a staff member, whether they came with a session or a token (`staff:ID`);
- an anonymous shop visitor, by the random id of their cart (forkflow/routes/shop/cart.py's signed cookie);
- an anonymous API caller, by their client address: a program placing an online order holds no
  session, and the address is what it still has when it retries after a lost answer. Keys are
  random, so only a caller at the same address who also knows the key shares its scope.

Rows stored before keys were scoped no longer match anything; they expire with the others.
The order service (services/orders.py) looks keys up and stores them in the order's own write.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from .auth.roles import Principal
from .errors import Invalid
from .schema import idempotency_keys
from .store import Tx

# What POST /orders takes as an Idempotency-Key, and what the till and the shop mint: printable
# ASCII without spaces. PATTERN is also the header's JSON Schema in the OpenAPI document.
MAX_LENGTH = 200
PATTERN = f"^[!-~]{{1,{MAX_LENGTH}}}$"
KEY_FORMAT = re.compile(PATTERN)
FORMAT_TEXT = f"1 to {MAX_LENGTH} printable ASCII characters without spaces"
# How long a key is kept; app.py purges older ones every hour. The same key sent later makes a new order.
KEPT_HOURS = 48


def is_valid(key: str | None) -> bool:
    return key is not None and KEY_FORMAT.match(key) is not None


def new_key(prefix: str) -> str:
    """A fresh key for a ticket or a checkout: `prefix-` and 144 random bits."""
    return f"{prefix}-{secrets.token_urlsafe(18)}"


def staff_scope(principal: Principal) -> str:
    return f"staff:{principal.staff_id}"


def cart_scope(cart_id: str) -> str:
    return f"cart:{cart_id}"


def address_scope(address: str) -> str:
    return f"address:{address}"


def caller_scope(principal: Principal | None, address: str) -> str:
    """The scope of a JSON API caller: the staff member, else the client address."""
    return staff_scope(principal) if principal is not None else address_scope(address)


def stored(scope: str, key: str) -> str:
    """The key as the idempotency_keys table holds it: one caller's key never matches another's."""
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


class KeyReused(Invalid):
    """422: the caller already sent this key with a different order. Its own class, so that the
    till and the shop can tell it from the order's other refusals and say it in their words."""

    reason = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different order",
            {"Idempotency-Key": "reused with a different body"},
            reason=self.reason,
        )


def purge(tx: Tx, older_than: timedelta = timedelta(hours=KEPT_HOURS)) -> int:
    """Forget keys older than `older_than`: the same key sent after that makes a new order."""
    return tx.conn.execute(
        idempotency_keys.delete().where(idempotency_keys.c.created_at < tx.now - older_than)
    ).rowcount
