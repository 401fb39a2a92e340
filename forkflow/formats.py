"""How money, moments, allergens and a line's options read on every screen and chit: one owner for
each, so the till, the shop, the kitchen (display and printed chits) and the console cannot drift
apart. `web.py` registers them as Jinja filters
(`|money`, `|local_time`, `|allergen`, `|dietary`); Python code that builds text (chart labels, tracking
clocks) calls them directly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .vocabulary import ALLERGEN_LABELS, ALLERGENS, DIETARY_LABELS

SHAPES = {
    "clock": "%H:%M",  # a time of day: the till's recent orders, the tracking page
    "stamp": "%Y-%m-%d %H:%M:%S",  # a date and time to the second: the stock movements
    "day": "%a %H:%M",  # a time within the week: scheduled pickups ("Fri 19:30")
    "seconds": "%H:%M:%S",  # a time of day to the second: proof of sight ("seen by grill 19:42:03")
}


def iso(moment: datetime) -> str:
    """A stored UTC moment as every JSON answer and event carries it: ISO 8601, milliseconds, `Z`."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


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


@dataclass(frozen=True)
class Tag:
    """One chosen option under a line, as a cook reads it: `word` ("NO", "ADD", or the group's name
    for a choice) before `text` ("onions", "2× Bacon", "Peppercorn"); `kind` styles it."""

    kind: str
    word: str
    text: str


def _without(prefix: str, name: str) -> str:
    """ "No onions" under NO reads "onions": the word is not said twice."""
    rest = name[len(prefix) :].lstrip() if name.lower().startswith(prefix) else ""
    return rest or name


def marks(line: Mapping[str, Any], times_sign: str = "×") -> tuple[list[str], list[Tag]]:
    """A line's options as the kitchen shows them: the answers of its exactly-one choice groups
    (Doneness, Size: shown big by the item's name), and the rest as tags under it, in menu order.
    The kinds and "exactly one" are the line's snapshot: an old ticket reads as it did. A printed
    chit passes `times_sign="x"` ("2x Bacon"): every printer's code page has an x."""
    headline: list[str] = []
    tags: list[Tag] = []
    for m in line.get("modifiers", ()):
        times = f"{m['count']}{times_sign} " if m["count"] > 1 else ""
        kind = m.get("kind", "choice")
        if kind == "remove":
            tags.append(Tag("remove", "NO", times + _without("no ", m["name"])))
        elif kind == "add":
            tags.append(Tag("add", "ADD", times + _without("add ", m["name"])))
        elif m.get("exactly_one"):
            headline.append(m["name"])
        else:
            tags.append(Tag("choice", f"{m['group']}:", times + m["name"]))
    return headline, tags
