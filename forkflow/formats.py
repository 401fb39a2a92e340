"""How money, moments, allergens and a line's options read on every screen and chit: one owner for
each, so the till, the shop, the kitchen (display and printed chits) and the console cannot drift
apart. `web.py` registers them as Jinja filters
(`|money`, `|percent`, `|local_time`, `|allergen`, `|dietary`); Python code that builds text (chart labels, tracking
clocks) calls them directly.

Money, percents and times read as the restaurant's currency and locale (settings.currency, with Babel). That is
a process-wide setting: `use_currency` is called once when the app starts (app.py), before any page,
chit or receipt is made, and never again; until then (a test rendering a template on its own) it is
USD in en_US. The templates' fragments are rendered outside any request (the live stream), so the
filters cannot take it from a request."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.numbers import format_percent

from .money.currency import Currency
from .vocabulary import ALLERGEN_LABELS, ALLERGENS, DIETARY_LABELS

# CLDR skeletons: what a time shows; the locale decides the order and punctuation (24-hour clock).
SHAPES = {
    "clock": "Hm",  # a time of day: the till's recent orders, the tracking page ("19:30")
    "day": "EHm",  # a time within the week: scheduled pickups ("Fri 19:30", "Fr., 19:30")
    "seconds": "Hms",  # a time of day to the second: proof of sight ("seen by grill 19:42:03")
}
# A date and time to the second (the stock movements, the receipt): the ISO date, the same in every
# locale, so stamps sort and never read as day/month in one place and month/day in another.
STAMP_DATE = "%Y-%m-%d"

_currency = Currency()


def use_currency(currency: Currency) -> None:
    """Make `currency` (and its locale) the one every screen, chit and receipt of this process reads."""
    global _currency
    _currency = currency


def currency() -> Currency:
    """The restaurant's currency, as `use_currency` set it at start."""
    return _currency


def iso(moment: datetime) -> str:
    """A stored UTC moment as every JSON answer and event carries it: ISO 8601, milliseconds, `Z`."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def money(cents: int) -> str:
    """An amount in minor units as the restaurant's locale writes its currency: "$1,234.50",
    "1.234,50 €", "￥1,234", "CHF 12.35"."""
    return _currency.format(cents)


def percent(value: Decimal | float) -> str:
    """A percent (20, 8.875: the number answers carry for a tax, discount or service charge) as the
    restaurant's locale writes one, with the decimals it has: "20%", "8.875%"; "7,5 %" in de_DE."""
    share = Decimal(str(value)).scaleb(-2)
    return str(format_percent(share, locale=_currency.locale, decimal_quantization=False))


def amount_typed(cents: int) -> str:
    """An amount as a form's input shows it for editing: the currency's decimals, no symbol, no
    grouping ("12.50"; JPY "1250"), which `amount_cents` reads back."""
    return str(_currency.major(cents))


def amount_cents(text: str) -> int:
    """An amount typed in a form ("12.50", "12,5", "$12", "12"; JPY "1250") as minor units, with at most
    the currency's decimals; anything else (a sign, an exponent, grouping) is a ValueError."""
    typed = text.strip().replace(_currency.symbol, "").strip().replace(",", ".")
    decimals = f"(?:\\.[0-9]{{1,{_currency.digits}}})?" if _currency.digits else ""
    if not re.fullmatch(f"[0-9]{{1,7}}{decimals}", typed):
        raise ValueError(f"Enter an amount like {amount_typed(1250)}")
    return _currency.minor(Decimal(typed))


def local_time(
    moment: str | datetime, zone: ZoneInfo, shape: Literal["clock", "stamp", "day", "seconds"] = "clock"
) -> str:
    """A moment (stored in UTC: an ISO string, with `Z` or `+00:00`, or an aware datetime) as the
    restaurant's local time in `zone`, shaped as one of `SHAPES`."""
    when = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    local = when.astimezone(zone)
    if shape == "stamp":
        return f"{local.strftime(STAMP_DATE)} {format_skeleton(SHAPES['seconds'], local, locale=_currency.locale)}"
    return str(format_skeleton(SHAPES[shape], local, locale=_currency.locale))


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
