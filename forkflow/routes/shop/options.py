"""The options form on a dish: how its fields read, and what it shows after a refused add.

Fields: a group of at most one (`max` 1) is a set of radio buttons `g{group id}` whose value is an
option id; a larger group is a checkbox per option, or a stepper per option when its `max` is more
than its options (repeats are the point: double bacon; templates/shop/_item.html decides), both
`o{option id}` with a count. What
the choice means (the group rule, the price, the allergens) is forkflow/choices.py's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import choices, numbers
from ...errors import Conflict, Invalid, ServiceError
from ...models import MAX_CHOICES

FormData = Mapping[str, Any]


@dataclass
class ItemForm:
    """A dish's options form as the customer left it: shown again, open, with what went wrong."""

    chosen: dict[int, int] = field(default_factory=dict)  # option id -> times
    problems: dict[int, str] = field(default_factory=dict)  # group id -> the broken rule
    error: str | None = None
    price_cents: int | None = None
    allergens: list[str] = field(default_factory=list)

    def option_ids(self) -> list[int]:
        return [option_id for option_id, times in self.chosen.items() for _ in range(times)]


def read(item: Mapping[str, Any], form: FormData) -> ItemForm:
    """What the form chose from `item`'s groups (other fields are ignored), priced by choices.check;
    a field that is not one of the form's own values is a problem of its group."""
    read_form = ItemForm()
    for group in item.get("modifier_groups", ()):
        own = {option["id"] for option in group["options"]}
        if group["max"] == 1:
            raw = str(form.get(f"g{group['id']}") or "")
            picked = numbers.whole_number(raw, 1)
            if picked is not None and picked in own:
                read_form.chosen[picked] = 1
            elif raw:
                read_form.problems[group["id"]] = f"{group['name']}: choose one of its options"
            continue
        for option in group["options"]:
            raw = str(form.get(f"o{option['id']}") or "0").strip()
            times = numbers.whole_number(raw, 0, MAX_CHOICES)
            if times is None:
                read_form.problems[group["id"]] = f"{group['name']}: a number from 0 to {group['max']}"
            elif times:
                read_form.chosen[option["id"]] = times
    checked = choices.check(item, read_form.option_ids())
    read_form.price_cents = checked.unit_price_cents
    read_form.allergens = checked.allergens
    for group_id, problem in checked.problems.items():
        read_form.problems.setdefault(group_id, problem)
    return read_form


def refusal(item: Mapping[str, Any], read_form: ItemForm) -> ServiceError | None:
    """Why the form's choice may not go in the cart (a broken rule: 422; a sold-out option: 409),
    also kept as the form's `error`; None when it may."""
    if read_form.problems:
        read_form.error = "; ".join(read_form.problems.values())
        return Invalid(read_form.error, {f"group.{gid}": text for gid, text in read_form.problems.items()})
    off = choices.check(item, read_form.option_ids()).unavailable
    if off:
        read_form.error = ", ".join(choice.option["name"] for choice in off) + " sold out: choose another"
        return Conflict(read_form.error, {f"option.{choice.option['id']}": "sold out" for choice in off})
    return None
