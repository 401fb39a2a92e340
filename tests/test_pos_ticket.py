"""The till's ticket (forkflow/routes/pos/ticket.py) on its own: the form it round-trips through, the taps,
the pricing, the checks before sending, and the idempotency key it carries; a line's options, the
picker that chooses them, and the customer's allergies."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData

from forkflow import choices, idempotency
from forkflow.errors import BadRequest, Conflict, Invalid
from forkflow.routes.pos.ticket import MAX_LINES, MAX_QUANTITY, Line, Pick, Ticket, bill
from forkflow.services.orders import request_fingerprint

MENU: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Burger", "price_cents": 1550, "available": True},
    2: {"id": 2, "name": "Fries", "price_cents": 450, "available": True},
    3: {"id": 3, "name": "Soup", "price_cents": 700, "available": False},
}


def form_of(ticket: Ticket) -> FormData:
    """The form the till's page posts back for `ticket` (one input per field, lines in parallel)."""
    fields = [
        ("idempotency_key", ticket.key),
        ("customer_name", ticket.customer_name),
        ("channel", ticket.channel),
        ("table", ticket.table),
        ("notes", ticket.notes),
    ]
    for line in ticket.lines:
        fields += [("line", line.uid), ("item", line.item), ("quantity", line.quantity), ("line_notes", line.notes)]
        fields += [("line_modifiers", line.modifiers)]
    fields += [("allergies", word) for word in ticket.allergies]
    if ticket.pick is not None:
        fields += [("pick_item", ticket.pick.item), ("pick_line", ticket.pick.line)]
        fields += [("pick_modifiers", ticket.pick.modifiers)]
    return FormData(fields)


def rows(ticket: Ticket) -> list[tuple[str, str, str]]:
    return [(line.item, line.quantity, line.notes) for line in ticket.lines]


def ticket_with(*lines: tuple[str, str, str], **fields: str) -> Ticket:
    made = [Line(f"{n:08x}", item, quantity, notes) for n, (item, quantity, notes) in enumerate(lines)]
    return Ticket(key="till-test", lines=made, **fields)


# The key


def test_a_new_ticket_carries_a_fresh_valid_idempotency_key() -> None:
    keys = {Ticket.new().key for _ in range(50)}
    assert len(keys) == 50, "every ticket its own key"
    assert all(idempotency.is_valid(key) and key.startswith("till-") for key in keys)


def test_the_key_and_every_field_survive_the_round_trip_through_the_page() -> None:
    ticket = Ticket.new()
    ticket.customer_name, ticket.channel, ticket.table, ticket.notes = "Ada", "table", "T4", "birthday"
    ticket.add("1", MENU)
    ticket.add("2", MENU)
    ticket.lines[1].notes = "no salt"
    again = Ticket.from_form(form_of(ticket))
    assert again == ticket
    assert again.key == ticket.key, "a resend of the same ticket is the same order"


def test_the_same_ticket_sent_twice_is_the_same_order_fingerprint() -> None:
    ticket = ticket_with(("1", "2", ""), ("2", "1", "crispy"), customer_name="Ada")
    first = Ticket.from_form(form_of(ticket)).order()
    second = Ticket.from_form(form_of(ticket)).order()
    assert request_fingerprint(first) == request_fingerprint(second)
    ticket.lines[0].quantity = "3"
    assert request_fingerprint(ticket.order()) != request_fingerprint(first), "a changed ticket is another order"


def test_a_form_with_garbled_lines_is_refused() -> None:
    good = form_of(ticket_with(("1", "1", "")))
    short = FormData([(k, v) for k, v in good.multi_items() if k != "line_notes"])
    foreign = FormData([(k, "../../x" if k == "line" else v) for k, v in good.multi_items()])
    for garbled in (short, foreign):
        with pytest.raises(BadRequest) as refused:
            Ticket.from_form(garbled)
        assert refused.value.fields == {"lines": "mismatched"}
    before_options = FormData([(k, v) for k, v in good.multi_items() if k != "line_modifiers"])
    assert Ticket.from_form(before_options).lines[0].modifiers == "", "a page from before options still works"


def test_an_empty_form_is_an_empty_counter_ticket() -> None:
    ticket = Ticket.from_form(FormData([]))
    assert ticket == Ticket(key="", channel="counter")


# Taps


def test_adding_a_dish_puts_it_on_a_line_of_one() -> None:
    ticket = Ticket.new()
    ticket.add("2", MENU)
    assert rows(ticket) == [("2", "1", "")]
    assert len(ticket.lines[0].uid) == 8


def test_adding_a_dish_again_counts_up_its_line_without_notes() -> None:
    ticket = ticket_with(("1", "1", "no onions"))
    ticket.add("1", MENU)
    assert rows(ticket) == [("1", "1", "no onions"), ("1", "1", "")], "a line with notes is its own"
    ticket.add("1", MENU)
    assert rows(ticket) == [("1", "1", "no onions"), ("1", "2", "")]


def test_a_line_with_a_typo_in_its_quantity_is_not_counted_up_but_kept() -> None:
    ticket = ticket_with(("1", "2x", ""))
    ticket.add("1", MENU)
    assert rows(ticket) == [("1", "2x", ""), ("1", "1", "")]


def test_a_refused_add_changes_nothing() -> None:
    ticket = ticket_with(("1", str(MAX_QUANTITY), ""))
    before = rows(ticket)
    cases = [("3", Conflict, "not available"), ("99", Invalid, "unknown item"), ("abc", Invalid, "unknown item")]
    cases.append(("1", Invalid, "too many"))
    for raw, error, reason in cases:
        with pytest.raises(error) as refused:
            ticket.add(raw, MENU)
        assert refused.value.fields == {"add": reason}
        assert rows(ticket) == before


def test_a_ticket_holds_at_most_max_lines_lines() -> None:
    ticket = ticket_with(*[("1", "1", f"note {n}") for n in range(MAX_LINES)])
    with pytest.raises(Invalid) as refused:
        ticket.add("2", MENU)
    assert refused.value.fields == {"add": "too many lines"} and len(ticket.lines) == MAX_LINES


def test_steppers_count_a_line_up_and_down_and_take_it_off_at_zero() -> None:
    ticket = ticket_with(("1", "2", ""), ("2", "1", ""))
    first, second = (line.uid for line in ticket.lines)
    ticket.step(f"inc:{first}")
    assert rows(ticket) == [("1", "3", ""), ("2", "1", "")]
    ticket.step(f"dec:{first}")
    assert rows(ticket) == [("1", "2", ""), ("2", "1", "")]
    ticket.step(f"dec:{second}")
    assert rows(ticket) == [("1", "2", "")]
    ticket.step(f"remove:{first}")
    assert ticket.lines == []


def test_a_stepper_finds_its_line_by_name_not_by_position() -> None:
    """A tap queued behind another that removed a line still changes the line it was made on."""
    ticket = ticket_with(("1", "1", ""), ("2", "1", ""))
    fries = ticket.lines[1].uid
    ticket.step(f"remove:{ticket.lines[0].uid}")
    ticket.step(f"inc:{fries}")
    assert rows(ticket) == [("2", "2", "")]


def test_a_stepper_on_a_line_no_longer_there_or_a_made_up_op_is_refused() -> None:
    ticket = ticket_with(("1", "1", ""))
    for op in ("inc:deadbeef", "dec:", f"double:{ticket.lines[0].uid}", "inc:DEADBEEF", ""):
        with pytest.raises(Invalid) as refused:
            ticket.step(op)
        assert refused.value.fields == {"op": "unknown line"}
    assert rows(ticket) == [("1", "1", "")]


def test_counting_up_stops_at_max_quantity_and_a_typo_counts_as_zero() -> None:
    ticket = ticket_with(("1", str(MAX_QUANTITY), ""), ("2", "lots", ""))
    full, typo = (line.uid for line in ticket.lines)
    with pytest.raises(Invalid) as refused:
        ticket.step(f"inc:{full}")
    assert refused.value.fields == {"lines.0.quantity": "too many"} and ticket.lines[0].quantity == "99"
    ticket.step(f"inc:{typo}")
    assert ticket.lines[1].quantity == "1"
    ticket.step(f"dec:{typo}")
    assert len(ticket.lines) == 1


# Pricing


def test_the_bill_prices_every_line_from_the_menu_as_it_is_now() -> None:
    ticket = ticket_with(("1", "2", ""), ("2", "3", "crispy"))
    priced = bill(ticket, MENU)
    assert [(row.name, row.unit_cents, row.total_cents) for row in priced.lines] == [
        ("Burger", 1550, 3100),
        ("Fries", 450, 1350),
    ]
    assert priced.total_cents == 4450 and priced.sold_out == []
    dearer = {**MENU, 2: {**MENU[2], "price_cents": 500}}
    assert bill(ticket, dearer).total_cents == 3100 + 1500, "no price is ever taken from the form"


def test_the_total_leaves_out_lines_without_a_price_or_a_valid_quantity() -> None:
    ticket = ticket_with(("1", "1", ""), ("2", "0", ""), ("2", "100", ""), ("42", "1", ""), ("2", " 2 ", ""))
    priced = bill(ticket, MENU)
    assert [row.total_cents for row in priced.lines] == [1550, None, None, None, 900]
    assert priced.lines[3].name == "Unknown item 42" and priced.lines[3].unit_cents is None
    assert priced.total_cents == 1550 + 900


def test_the_bill_names_each_sold_out_dish_once() -> None:
    ticket = ticket_with(("3", "1", ""), ("1", "1", ""), ("3", "2", "hot"))
    priced = bill(ticket, MENU)
    assert priced.sold_out == ["Soup"]
    assert [row.sold_out for row in priced.lines] == [True, False, True]
    assert priced.total_cents == 700 + 1550 + 1400, "still priced: the ticket says what is wrong"


def test_an_unknown_items_name_on_the_bill_is_cut_short() -> None:
    ticket = ticket_with(("9" * 50, "1", ""))
    assert bill(ticket, MENU).lines[0].name == "Unknown item " + "9" * 20


# Checks and sending


def test_check_lines_marks_bad_quantities_unknown_items_and_an_unknown_channel() -> None:
    ticket = ticket_with(("1", "1", ""), ("2", "zero", ""), ("77", "1", ""), channel="drive-in")
    ticket.check_lines(MENU)
    assert ticket.errors == {
        "lines.1.quantity": f"a whole number from 1 to {MAX_QUANTITY}",
        "lines.2.item": "not on the menu",
        "channel": "counter or table",
    }


def test_sending_builds_the_order_the_json_api_validates() -> None:
    ticket = ticket_with(("1", "2", ""), ("2", "1", "crispy"), customer_name=" Ada ", notes="quick")
    order = ticket.order()
    assert order.customer_name == "Ada" and order.channel == "counter" and order.table is None
    assert [(i.menu_item_id, i.quantity, i.notes) for i in order.items] == [(1, 2, ""), (2, 1, "crispy")]
    assert order.notes == "quick"


def test_a_counter_order_drops_the_table_a_table_order_needs_one() -> None:
    counter = ticket_with(("1", "1", ""), customer_name="Ada", table="T9")
    assert counter.order().table is None
    table = ticket_with(("1", "1", ""), customer_name="Ada", channel="table", table="T9")
    assert table.order().table == "T9"
    table.table = "  "
    with pytest.raises(Invalid) as refused:
        table.order()
    assert refused.value.fields["table"] == "enter the table"


def test_an_empty_ticket_cannot_be_sent() -> None:
    with pytest.raises(Invalid) as refused:
        ticket_with(customer_name="Ada").order()
    assert refused.value.fields == {"items": "empty"}


def test_sending_names_every_problem_at_once() -> None:
    ticket = ticket_with(("1", "100", ""), ("x", "1", "\u202eevil"), channel="online")
    with pytest.raises(Invalid) as refused:
        ticket.order()
    fields = refused.value.fields
    assert fields["customer_name"] == "enter the customer's name"
    assert fields["channel"] == "counter or table", "the till does not take online orders"
    assert {"items.0.quantity", "items.1.menu_item_id", "items.1.notes"} <= set(fields)


def test_a_refusal_is_shown_next_to_the_ticket_fields_it_names() -> None:
    ticket = ticket_with(("1", "1", ""), channel="table")
    ticket.fail(
        Invalid(
            "the order is not valid",
            {"items.0.quantity": "too many", "items.0.notes": "bad", "items.3.price": "x", "_": "needs a table"},
        )
    )
    assert ticket.message == "The order is not valid"
    assert ticket.errors == {
        "lines.0.quantity": "too many",
        "lines.0.notes": "bad",
        "items.3.price": "x",
        "table": "needs a table",
    }
    counter = ticket_with(("1", "1", ""))
    counter.fail(Conflict("sold out", {"_": "whole order"}))
    assert counter.errors == {"_": "whole order"}


# A line's options and the picker


def _option(id_: int, name: str, cents: int = 0, allergens: tuple[str, ...] = (), available: bool = True) -> dict:
    return {"id": id_, "name": name, "price_cents": cents, "allergens": list(allergens), "available": available}


BURGER: dict[str, Any] = {
    "id": 4,
    "name": "Classic Burger",
    "price_cents": 1550,
    "available": True,
    "allergens": ["gluten", "eggs"],
    "modifier_groups": [
        {
            "id": 10,
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [_option(100, "Rare"), _option(101, "Medium-rare"), _option(102, "Well done")],
        },
        {
            "id": 11,
            "name": "Add-ons",
            "min": 0,
            "max": 3,
            "options": [
                _option(110, "Bacon", 200),
                _option(111, "Extra cheese", 100, ("milk",)),
                _option(112, "Truffle", 500, available=False),
            ],
        },
    ],
}
CHOOSING = {**MENU, 4: BURGER}


def picked(ticket: Ticket, *ops: str) -> Ticket:
    for op in ops:
        ticket.apply(op, CHOOSING)
    return ticket


def test_a_dish_with_options_opens_the_picker_instead_of_adding_a_line() -> None:
    ticket = Ticket.new()
    ticket.add("4", CHOOSING)
    assert ticket.lines == [] and ticket.pick == Pick("4")
    ticket.add("2", CHOOSING)
    assert rows(ticket) == [("2", "1", "")], "a dish without options is added with one tap, as before"


def test_a_single_choice_is_replaced_by_the_next_tap_and_taken_back_by_a_second() -> None:
    ticket = picked(Ticket.new(), "cancel")
    ticket.add("4", CHOOSING)
    picked(ticket, "choose:100")
    assert ticket.pick and ticket.pick.option_ids == [100]
    picked(ticket, "choose:101")
    assert ticket.pick.option_ids == [101], "Doneness holds one choice: the tap moves it"
    picked(ticket, "choose:101")
    assert ticket.pick.option_ids == []


def test_a_repeatable_option_counts_up_to_its_groups_max_and_down_again() -> None:
    ticket = Ticket.new()
    ticket.add("4", CHOOSING)
    picked(ticket, "choose:110", "choose:101", "choose:110")
    assert ticket.pick and ticket.pick.modifiers == "101,110,110", "kept in the menu's order"
    picked(ticket, "choose:111")
    with pytest.raises(Invalid) as refused:
        picked(ticket, "choose:110")
    assert refused.value.message == "Add-ons: choose at most 3" == choices.group_problem("Add-ons", 0, 3, 4)
    assert refused.value.fields == {"pick.11": "Add-ons: choose at most 3"}
    assert ticket.pick.modifiers == "101,110,110,111", "a refused tap changes nothing"
    picked(ticket, "unchoose:110", "unchoose:111", "unchoose:111")
    assert ticket.pick.modifiers == "101,110"


def test_an_86d_or_foreign_option_cannot_be_chosen() -> None:
    ticket = Ticket.new()
    ticket.add("4", CHOOSING)
    with pytest.raises(Conflict) as off:
        picked(ticket, "choose:112")
    assert off.value.message == "Truffle is not available right now"
    for raw in ("999", "0"):
        with pytest.raises(Invalid):
            picked(ticket, f"choose:{raw}")
    assert ticket.pick == Pick("4")


def test_add_to_ticket_is_refused_with_the_groups_rule_until_it_is_met() -> None:
    ticket = Ticket.new()
    ticket.add("4", CHOOSING)
    picked(ticket, "choose:110")
    with pytest.raises(Invalid) as refused:
        picked(ticket, "save")
    assert refused.value.message == "Doneness: choose at least 1"
    assert refused.value.fields == {"pick.10": "Doneness: choose at least 1"}
    assert ticket.lines == [] and ticket.pick is not None
    picked(ticket, "choose:101", "choose:110", "save")
    assert ticket.pick is None
    assert [(line.item, line.quantity, line.modifiers) for line in ticket.lines] == [("4", "1", "101,110,110")]


def test_equal_choices_count_up_one_line_different_ones_stay_separate() -> None:
    ticket = Ticket.new()
    for ops in (("choose:110", "choose:101"), ("choose:101", "choose:110"), ("choose:100",)):
        ticket.add("4", CHOOSING)
        picked(ticket, *ops, "save")
    assert [(line.quantity, line.modifiers) for line in ticket.lines] == [("2", "101,110"), ("1", "100")]


def test_tapping_a_line_opens_the_picker_on_its_options_and_saving_changes_only_them() -> None:
    ticket = ticket_with(("4", "3", "no pickles"), ("2", "1", ""))
    ticket.lines[0].modifiers = "101"
    uid = ticket.lines[0].uid
    picked(ticket, f"edit:{uid}")
    assert ticket.pick == Pick("4", uid, "101")
    picked(ticket, "choose:102", "choose:111", "save")
    assert rows(ticket) == [("4", "3", "no pickles"), ("2", "1", "")]
    assert ticket.lines[0].modifiers == "102,111" and ticket.lines[0].uid == uid
    picked(ticket, f"edit:{uid}", "choose:110", "cancel")
    assert ticket.pick is None and ticket.lines[0].modifiers == "102,111", "Cancel changes nothing"
    with pytest.raises(Invalid) as refused:
        picked(ticket, f"edit:{ticket.lines[1].uid}")
    assert refused.value.fields == {"op": "no options"}


def test_a_picker_tap_with_the_picker_closed_or_its_line_gone_is_refused() -> None:
    ticket = ticket_with(("4", "1", ""))
    with pytest.raises(Invalid) as closed:
        picked(ticket, "choose:100")
    assert closed.value.fields == {"pick": "closed"}
    picked(ticket, f"edit:{ticket.lines[0].uid}", "choose:100")
    ticket.lines.clear()
    with pytest.raises(Invalid) as gone:
        picked(ticket, "save")
    assert gone.value.fields == {"pick": "unknown line"}


def test_the_bill_prices_each_line_with_its_options_through_choices() -> None:
    ticket = ticket_with(("4", "2", ""), ("4", "1", ""), ("2", "1", ""))
    ticket.lines[0].modifiers = "101,110,110"
    ticket.lines[1].modifiers = "100,112"
    ticket.add("4", CHOOSING)
    picked(ticket, "choose:101", "choose:111")
    priced = bill(ticket, CHOOSING)
    first = choices.check(BURGER, [101, 110, 110])
    assert priced.lines[0].unit_cents == first.unit_price_cents == 1550 + 400
    assert [row.total_cents for row in priced.lines] == [2 * 1950, 2050, 450]
    assert priced.total_cents == 3900 + 2050 + 450
    assert [(c.option["name"], c.times, c.price_cents) for c in priced.lines[0].choices.chosen] == [  # type: ignore[union-attr]
        ("Medium-rare", 1, 0),
        ("Bacon", 2, 400),
    ]
    assert priced.off == ["Truffle (Classic Burger)"] and priced.lines[1].off == ["Truffle"]
    assert priced.picker is not None and priced.picker.total_cents == 1650 and priced.picker.quantity == 1
    picked(ticket, "cancel", f"edit:{ticket.lines[0].uid}")
    assert bill(ticket, CHOOSING).picker.total_cents == 2 * 1950  # type: ignore[union-attr]


def test_lines_containing_the_customers_allergies_are_flagged() -> None:
    ticket = ticket_with(("4", "1", ""), ("4", "1", ""), ("2", "1", ""))
    ticket.lines[0].modifiers = "101,111"
    ticket.lines[1].modifiers = "101"
    assert bill(ticket, CHOOSING).flagged == []
    picked(ticket, "allergy:milk", "allergy:eggs")
    assert ticket.allergies == ["eggs", "milk"], "in the vocabulary's order"
    priced = bill(ticket, CHOOSING)
    assert [row.flags for row in priced.lines] == [["eggs", "milk"], ["eggs"], []]
    picked(ticket, "allergy:eggs")
    assert [row.index for row in bill(ticket, CHOOSING).flagged] == [0], "the cheese brings the milk"
    with pytest.raises(Invalid):
        picked(ticket, "allergy:gluten_free")


def test_check_lines_marks_options_that_no_longer_fit_the_dish() -> None:
    ticket = ticket_with(("4", "1", ""), ("4", "1", ""), ("4", "1", ""))
    ticket.lines[0].modifiers = "101"
    ticket.lines[1].modifiers = "110"
    ticket.lines[2].modifiers = "101,555"
    ticket.check_lines(CHOOSING)
    assert ticket.errors == {
        "lines.1.modifiers": "Doneness: choose at least 1",
        "lines.2.modifiers": "an option is no longer on the menu",
    }


def test_the_order_carries_each_lines_options_and_the_allergies() -> None:
    ticket = ticket_with(("4", "2", ""), ("2", "1", ""), customer_name="Ada")
    ticket.lines[0].modifiers = "101,110,110"
    plain = ticket.order()
    assert [line.modifiers for line in plain.items] == [[101, 110, 110], []]
    assert plain.allergies == [] and plain.allergies_confirmed is False
    ticket.allergies = ["milk"]
    assert ticket.order().allergies == ["milk"] and not ticket.order().allergies_confirmed
    assert ticket.order(allergies_confirmed=True).allergies_confirmed
    assert request_fingerprint(Ticket.from_form(form_of(ticket)).order()) == request_fingerprint(ticket.order())


def test_the_form_carries_options_allergies_and_the_open_picker_and_refuses_garbled_ones() -> None:
    ticket = ticket_with(("4", "1", ""), customer_name="Ada")
    ticket.lines[0].modifiers = "101,110,110"
    ticket.allergies = ["eggs", "milk"]
    ticket.pick = Pick("4", ticket.lines[0].uid, "100")
    assert Ticket.from_form(form_of(ticket)) == ticket
    good = form_of(ticket).multi_items()
    for name, bad in (
        ("line_modifiers", "101;drop"),
        ("line_modifiers", "0"),
        ("line_modifiers", "101,9999999999"),  # past the largest id
        ("line_modifiers", ",".join(["110"] * 401)),
        ("allergies", "gluten-free"),
        ("pick_item", "x"),
        ("pick_line", "../x"),
        ("pick_modifiers", "1,,2"),
    ):
        with pytest.raises(BadRequest):
            Ticket.from_form(FormData([(k, bad if k == name else v) for k, v in good]))


def test_the_orders_allergy_409_becomes_a_confirmation_and_an_86_names_its_option() -> None:
    ticket = ticket_with(("2", "1", ""), ("4", "1", ""), ("4", "1", ""))
    ticket.lines[1].modifiers = "101,110,112"
    asked = Conflict(
        "confirm", {"items.1": "contains milk", "items.2": "contains eggs"}, reason="allergy_confirmation_needed"
    )
    ticket.fail(asked)
    assert ticket.confirm == {1: "contains milk", 2: "contains eggs"} and ticket.message == "" and ticket.errors == {}
    off = Conflict("not available right now: Truffle (Classic Burger)", {"items.1.modifiers.2": "not available"})
    ticket.fail(off)
    assert ticket.message == "Not available right now: Truffle (Classic Burger)"
    assert ticket.errors == {"lines.1.option.112": "not available"}
    ticket.fail(Invalid("no", {"items.2.modifiers": "Doneness: choose at least 1"}))
    assert ticket.errors["lines.2.modifiers"] == "Doneness: choose at least 1"
