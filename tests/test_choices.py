"""forkflow/choices.py: the group rule, the price and the allergens of a line's options."""

from __future__ import annotations

from typing import Any

from forkflow.choices import check, flagged, group_problem

BURGER: dict[str, Any] = {
    "id": 1,
    "price_cents": 1200,
    "allergens": ["gluten"],
    "modifier_groups": [
        {
            "id": 10,
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [
                {"id": 100, "name": "Rare", "price_cents": 0, "allergens": [], "available": True},
                {"id": 101, "name": "Medium", "price_cents": 0, "allergens": [], "available": False},
            ],
        },
        {
            "id": 11,
            "name": "Add-ons",
            "min": 0,
            "max": 3,
            "options": [
                {"id": 110, "name": "Bacon", "price_cents": 200, "allergens": [], "available": True},
                {"id": 111, "name": "Cheese", "price_cents": 100, "allergens": ["milk"], "available": True},
            ],
        },
    ],
}


def test_group_problem_names_the_group_and_the_rule() -> None:
    assert group_problem("Doneness", 1, 1, 0) == "Doneness: choose at least 1"
    assert group_problem("Add-ons", 0, 3, 4) == "Add-ons: choose at most 3"
    assert group_problem("Add-ons", 0, 3, 3) is None


def test_a_good_choice_is_priced_as_the_item_plus_each_option_each_time() -> None:
    line = check(BURGER, [100, 110, 110, 111])
    assert line.ok
    assert line.unit_price_cents == 1200 + 2 * 200 + 100
    assert [(choice.option["name"], choice.times) for choice in line.chosen] == [
        ("Rare", 1),
        ("Bacon", 2),
        ("Cheese", 1),
    ]
    assert line.allergens == ["gluten", "milk"]
    assert line.times(110) == 2


def test_missing_required_too_many_foreign_and_unavailable_are_each_reported() -> None:
    assert check(BURGER, []).problems == {10: "Doneness: choose at least 1"}
    assert check(BURGER, [100, 110, 110, 110, 111]).problems == {11: "Add-ons: choose at most 3"}
    assert check(BURGER, [100, 999]).foreign == (999,)
    unavailable = check(BURGER, [101])
    assert not unavailable.ok and [choice.option["id"] for choice in unavailable.unavailable] == [101]


def test_flagged_keeps_the_lines_order() -> None:
    assert flagged(["gluten", "milk"], ["milk", "peanuts"]) == ["milk"]
    assert flagged(["milk"], []) == []
