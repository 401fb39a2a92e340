"""Where a card terminal or an online payment provider would plug in. None is shipped.

ForkFlow records tenders; it does not process cards. At the till the card terminal is a separate
device: the cashier charges it there and types its reference into the payment
(`POST /orders/{id}/payments`, `tender: "card"`, `reference`). Online orders are "pay at pickup"
unless a provider is configured (`provider_of` answers None: the shop says so at checkout).

An integration implements `PaymentProvider` and is returned by `provider_of`. Its contract:
charge and refund are idempotent on the key ForkFlow passes (the payment's or refund's own
Idempotency-Key), so a retry after a lost answer never charges twice; the `reference` it returns
is stored on the payment (`payments.reference`) and is what a refund names. The charge happens
before the payment's write unit (never inside it: the writer must not wait on the network); the
payment is then recorded with that reference, with the same key, so a retry finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charged:
    """A provider's answer to a charge or a refund: its reference for it, and the amount it took."""

    reference: str
    amount_cents: int


class PaymentProvider(Protocol):
    """A card terminal's or an online provider's integration."""

    name: str

    async def charge(self, idempotency_key: str, amount_cents: int, currency: str, description: str) -> Charged:
        """Take `amount_cents`; the same key again answers the first charge, never a second one."""
        ...

    async def refund(self, idempotency_key: str, reference: str, amount_cents: int) -> Charged:
        """Give back up to what the charge `reference` took; idempotent on the key like `charge`."""
        ...


def provider_of(settings: object) -> PaymentProvider | None:
    """The provider the app's settings configure: none ships with ForkFlow, so online orders are
    paid at pickup. (`settings` is config.Settings, untyped here: config imports money/.)"""
    return None


def pays_at_pickup(settings: object) -> bool:
    """Whether online orders are paid at the counter (no provider configured)."""
    return provider_of(settings) is None
