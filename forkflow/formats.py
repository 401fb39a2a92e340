"""How money, moments and allergens read on every screen: one owner for each, so the till, the
shop, the kitchen and the console cannot drift apart. `web.py` registers them as Jinja filters
(`|money`, `|local_time`, `|allergen`, `|dietary`); Python code that builds text (chart labels, tracking
clocks) calls them directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from .vocabulary import ALLERGEN_LABELS, ALLERGENS, DIETARY_LABELS

SHAPES = {
    "clock": "%H:%M",  # a time of day: the till's recent orders, the tracking page
    "stamp": "%Y-%m-%d %H:%M:%S",  # a date and time to the second: the stock movements
    "day": "%a %H:%M",  # a time within the week: scheduled pickups ("Fri 19:30")
    "seconds": "%H:%M:%S",  # a time of day to the second: proof of sight ("seen by grill 19:42:03")
}


def money(cents: int, grouped: bool = False) -> str:
    """Integer cents as units with two decimals (`1250` -> `12.50`); `grouped` adds thousands
    separators (`1,234.50`), for the console's totals, which run into thousands."""
    return f"{cents / 100:,.2f}" if grouped else f"{cents / 100:.2f}"


def local_time(
    moment: str | datetime, zone: ZoneInfo, shape: Literal["clock", "stamp", "day", "seconds"] = "clock"
) -> str:
    """A moment (stored in UTC: an ISO string, with `Z` or `+00:00`, or an aware datetime) as the
    restaurant's local time in `zone`, shaped as one of `SHAPES`."""
    when = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    return when.astimezone(zone).strftime(SHAPES[shape])


_ALLERGENS: dict[str, str] = {str(word): label for word, label in ALLERGEN_LABELS.items()}


def allergen(word: str) -> str:
    """An allergen as a person reads it ("tree_nuts" is "Tree nuts"): the vocabulary's label."""
    return _ALLERGENS.get(word, word)


_DIETARY: dict[str, str] = {str(word): label for word, label in DIETARY_LABELS.items()}


def contains(words: Iterable[str]) -> str:
    """What a flagged line says, on the till, the shop and in the order's 409: "contains milk,
    tree nuts" (in the law's order, as a sentence reads them)."""
    wanted = set(words)
    return "contains " + ", ".join(allergen(word).lower() for word in ALLERGENS if word in wanted)


def dietary(word: str) -> str:
    """A dietary tag as a person reads it ("vegan" is "Vegan"): the vocabulary's label."""
    return _DIETARY.get(word, word)
