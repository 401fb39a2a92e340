"""A line's chosen options against its menu item: the group rule, the price and the allergens.

The one owner of what a choice means. The order's write unit (services/orders.py) enforces it;
the till's picker and the shop's item page ask it before sending, so a cashier or a customer sees
the same words the API would answer with, and the same price. Works on the menu as
services/catalog.py returns it (items with `modifier_groups`, each with `options`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .vocabulary import ALLERGENS

MenuItem = Mapping[str, Any]


def group_problem(name: str, least: int, most: int, chosen: int) -> str | None:
    """What is wrong with choosing `chosen` times from a group of `least`..`most`, or None."""
    if chosen < least:
        return f"{name}: choose at least {least}"
    if chosen > most:
        return f"{name}: choose at most {most}"
    return None


@dataclass(frozen=True)
class Choice:
    """One option on a line, as many `times` as chosen, with its group."""

    group: Mapping[str, Any]
    option: Mapping[str, Any]
    times: int

    @property
    def price_cents(self) -> int:
        return int(self.option["price_cents"]) * self.times


@dataclass(frozen=True)
class Choices:
    """A line's options checked against its item: in the item's order, with what is wrong."""

    item: MenuItem
    chosen: tuple[Choice, ...]
    foreign: tuple[int, ...]  # option ids that are not this item's
    problems: Mapping[int, str]  # group id -> the broken rule

    @property
    def unit_price_cents(self) -> int:
        return int(self.item["price_cents"]) + sum(choice.price_cents for choice in self.chosen)

    @property
    def allergens(self) -> list[str]:
        """The item's allergens and those its chosen options add, once each."""
        found = set(self.item.get("allergens", ()))
        for choice in self.chosen:
            found.update(choice.option.get("allergens", ()))
        return [word for word in ALLERGENS if word in found]  # in the law's order, as every screen lists them

    @property
    def unavailable(self) -> list[Choice]:
        return [choice for choice in self.chosen if not choice.option.get("available", True)]

    @property
    def ok(self) -> bool:
        return not self.foreign and not self.problems and not self.unavailable

    @property
    def misfit(self) -> str | None:
        """What is wrong with the choice itself (an option not the item's, a group's rule), or None:
        it stays wrong until the line is changed, whatever is 86'd."""
        if self.foreign:
            return "an option is no longer on the menu"
        if self.problems:
            return "; ".join(self.problems.values())
        return None

    @property
    def problem(self) -> str | None:
        """Why this line cannot be sent now, in the words the till and the shop show, or None."""
        if self.foreign or not self.unavailable:
            return self.misfit
        return ", ".join(choice.option["name"] for choice in self.unavailable) + " sold out"

    def times(self, option_id: int) -> int:
        return sum(choice.times for choice in self.chosen if choice.option["id"] == option_id)


def check(item: MenuItem, option_ids: Iterable[int]) -> Choices:
    """`option_ids` (repeats allowed: double bacon) against `item`'s groups."""
    counts = Counter(option_ids)
    chosen: list[Choice] = []
    problems: dict[int, str] = {}
    own: set[int] = set()
    for group in item.get("modifier_groups", ()):
        in_group = 0
        for option in group["options"]:
            own.add(option["id"])
            if counts[option["id"]]:
                chosen.append(Choice(group, option, counts[option["id"]]))
                in_group += counts[option["id"]]
        problem = group_problem(group["name"], group["min"], group["max"], in_group)
        if problem is not None:
            problems[group["id"]] = problem
    foreign = tuple(option_id for option_id in counts if option_id not in own)
    return Choices(item, tuple(chosen), foreign, problems)


def flagged(allergens: Sequence[str], allergies: Iterable[str]) -> list[str]:
    """Which of a line's `allergens` are among the order's `allergies`, in the line's order."""
    wanted = set(allergies)
    return [word for word in allergens if word in wanted]
