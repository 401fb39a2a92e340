"""The notes and coins a till counts, per currency, in minor units, largest first: facts for the
drawer's count form. A currency not listed is counted as one free amount (`other_cents`)."""

from __future__ import annotations

DENOMINATIONS: dict[str, tuple[int, ...]] = {
    "USD": (10000, 5000, 2000, 1000, 500, 200, 100, 25, 10, 5, 1),
    "EUR": (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
    "GBP": (5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
    "JPY": (10000, 5000, 2000, 1000, 500, 100, 50, 10, 5, 1),
    "CHF": (100000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5),
}


def denominations(code: str) -> tuple[int, ...]:
    """The currency's notes and coins, largest first; empty when it has no table here."""
    return DENOMINATIONS.get(code, ())
