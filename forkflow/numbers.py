"""Whole numbers typed by clients (query strings, headers, form fields), parsed in one place.

`str.isdigit()` is True for '²' and for Arabic-Indic digits, which `int()` then refuses or takes,
and `int()` of 5,000 digits raises: each was a 500. Here only ASCII digits count, never more of
them than an id has, and the value must lie in the caller's bounds. Ids are bounded by what the
database holds: the schema's INTEGER keys are 32-bit on PostgreSQL (64-bit on SQLite), so an id
above 2^31 - 1 is refused before it reaches a query (asyncpg would raise on it).
"""

from __future__ import annotations

import re

MAX_ID = 2**31 - 1
_DIGITS = re.compile(f"[0-9]{{1,{len(str(MAX_ID))}}}")


def whole_number(raw: object, low: int = 0, high: int = MAX_ID) -> int | None:
    """`raw` as an int when it is ASCII digits with a value in [low, high]; otherwise None."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def at_most_regex(limit: int) -> str:
    """A regular expression matching exactly the whole numbers 1 to `limit`, without leading zeros
    (for a path convertor: a larger id does not match the route, so it is a 404)."""
    digits = str(limit)
    choices = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []  # fewer digits
    for i, digit in enumerate(digits):  # as many digits: equal up to i, smaller at i
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - i - 1
            choices.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


# A menu item's prep time in minutes and its kitchen load per portion (migration 0012): the
# database's CHECKs, the menu's validation and its forms all read these bounds.
MAX_PREP_MINUTES = 240
MAX_PREP_LOAD = 100
DEFAULT_PREP_MINUTES = 10
DEFAULT_PREP_LOAD = 1

# Online ordering (migration 0014): the busy delay's and a pickup slot's capacity's bounds, read
# by the settings' validation, the console's form and the API's document.
MAX_BUSY_MINUTES = 240
MAX_SLOT_ORDERS = 1000
MAX_SLOT_LOAD = 100_000
