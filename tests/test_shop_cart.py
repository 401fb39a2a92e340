"""The shop's cart (forkflow/routes/shop/cart.py) on its own: the signed cookie, tampering refused, the limits
a cart keeps to, the form fields it takes, and pricing from the menu as it is now."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from forkflow import numbers
from forkflow.errors import Invalid
from forkflow.public_orders import Limits
from forkflow.routes.shop import cart
from forkflow.routes.shop.cart import CartLine, ShopState

SECRET = "the shop's secret"
LIMITS = Limits(per_item=20, per_order=50)


def signed(raw: Any, secret: str = SECRET) -> str:
    """A cookie value signed exactly as the shop signs its own: for payloads the shop never makes."""
    return cart._serializer(secret).dumps(raw)


# The signed cookie


def test_a_cart_survives_the_round_trip_through_its_cookie() -> None:
    state = ShopState(
        lines=[CartLine(1, 2, "no onions"), CartLine(7, 1)],
        checkout_key="shop-abc",
        placed_key="shop-xyz",
        placed_url="/track/t0k3n",
        cart_id=cart.new_id(),
    )
    assert cart.load(cart.dump(state, SECRET), SECRET) == state


def test_a_lines_options_survive_the_cookie_and_a_line_without_options_keeps_the_old_shape() -> None:
    state = ShopState(lines=[CartLine(1, 1, "", (3, 3, 9)), CartLine(2, 1)])
    assert cart.load(cart.dump(state, SECRET), SECRET) == state
    assert cart._serializer(SECRET).loads(cart.dump(state, SECRET)) == {"lines": [[1, 1, "", [3, 3, 9]], [2, 1, ""]]}
    assert cart.load(signed({"lines": [[1, 1, "", [9, 3, 3]]]}), SECRET).lines == [CartLine(1, 1, "", (3, 3, 9))]


def test_no_cookie_is_an_empty_cart() -> None:
    assert cart.load(None, SECRET) == ShopState()
    assert cart.load("", SECRET) == ShopState()


def test_the_cookie_holds_no_price() -> None:
    value = cart.dump(ShopState([CartLine(1, 2)]), SECRET)
    assert cart._serializer(SECRET).loads(value) == {"lines": [[1, 2, ""]]}


def test_a_tampered_cookie_counts_as_an_empty_cart() -> None:
    value = cart.dump(ShopState([CartLine(1, 1)], cart_id="mine"), SECRET)
    payload, rest = value.split(".", 1)
    forged_payload = signed({"lines": [[1, 99, ""]], "id": "mine"}).split(".", 1)[0]
    middle = len(value) - 10  # inside the signature (its last character has bits no one reads)
    flipped = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    for forged in (
        f"{forged_payload}.{rest}",  # another cart under this cart's signature
        flipped,  # a signature changed by one character
        payload,  # the signature cut off
        cart.dump(ShopState([CartLine(1, 99)]), "someone else's secret"),
        URLSafeTimedSerializer(SECRET, salt="another cookie").dumps({"lines": [[1, 99, ""]]}),
        "not a cookie at all",
    ):
        assert cart.load(forged, SECRET) == ShopState(), forged


def test_a_cookie_older_than_its_lifetime_counts_as_an_empty_cart() -> None:
    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - cart.MAX_AGE_SECONDS - 60

    old = URLSafeTimedSerializer(SECRET, salt="forkflow.cart", signer=Yesterday).dumps({"lines": [[1, 1, ""]]})
    assert cart._serializer(SECRET).loads(old) == {"lines": [[1, 1, ""]]}, "validly signed, only old"
    assert cart.load(old, SECRET) == ShopState()


def test_a_signed_cookie_of_the_wrong_shape_is_read_only_as_far_as_it_is_valid() -> None:
    """Even a validly signed value (an older version's, say) never yields a line the shop could not
    have made: lines that are not three well-typed fields in bounds are left out."""
    raw = {
        "lines": [
            [1, 2, "ok"],
            [0, 1, ""],  # no such id
            [2, 0, ""],  # nothing
            [3, cart.MAX_QUANTITY + 1, ""],
            [4, 1, "x" * (cart.MAX_NOTES + 1)],
            ["5", 1, ""],
            [6, 1.5, ""],
            [7, 1],
            {"id": 8},
            [9, cart.MAX_QUANTITY, "x" * cart.MAX_NOTES],
            [10, 1, "", "5"],  # options not a list
            [11, 1, "", [0]],  # no such option
            [12, 1, "", [True]],
            [13, 1, "", [1] * (cart.MAX_MODIFIERS + 1)],
            [14, 1, "", [2, 1], "extra"],
        ],
        "id": "x" * 65,
        "key": "k" * (cart.MAX_KEY + 1),
        "placed_key": 5,
        "placed_url": "",
    }
    assert cart.load(signed(raw), SECRET) == ShopState([CartLine(1, 2, "ok"), CartLine(9, 99, "x" * cart.MAX_NOTES)])
    for not_a_cart in ([1, 2, 3], "lines", None, {"lines": "all of them"}):
        assert cart.load(signed(not_a_cart), SECRET).lines == []


def test_a_cookie_is_read_for_at_most_max_lines_lines() -> None:
    raw = {"lines": [[n, 1, ""] for n in range(1, cart.MAX_LINES + 10)]}
    assert [line.menu_item_id for line in cart.load(signed(raw), SECRET).lines] == list(range(1, cart.MAX_LINES + 1))


def test_a_cart_too_big_for_a_cookie_is_refused_and_headroom_is_kept_for_checkout() -> None:
    lines: list[CartLine] = []
    while True:  # grow the cart until the next line would not fit (random notes: no compression)
        notes = secrets.token_urlsafe(cart.MAX_NOTES)[: cart.MAX_NOTES]
        grown = [*lines, CartLine(len(lines) + 1, 1, notes)]
        try:
            cart.dump(ShopState(grown), SECRET)
        except Invalid as refused:
            assert refused.fields == {"_": "cart too large"}
            break
        lines = grown
    assert len(cart.dump(ShopState(lines), SECRET)) <= cart.MAX_COOKIE_CHARS
    with pytest.raises(Invalid):
        cart.dump(ShopState(lines), SECRET, headroom=cart.CHECKOUT_HEADROOM)
    # A cart that kept the headroom still takes its checkout key and its tracking link.
    roomy = lines
    while True:
        try:
            cart.dump(ShopState(roomy), SECRET, headroom=cart.CHECKOUT_HEADROOM)
            break
        except Invalid:
            roomy = roomy[:-1]
    full = ShopState(roomy, checkout_key="shop-" + "k" * 24, cart_id=cart.new_id())
    full.placed_key, full.placed_url = full.checkout_key, "/track/" + "t" * 32
    assert cart.load(cart.dump(full, SECRET), SECRET) == full


def test_a_cart_whose_options_outgrow_the_cookie_is_refused_clearly() -> None:
    """Options take room in the cookie too: a cart of many lines with many options is refused
    with the same clear message, never cut short."""

    def many() -> tuple[int, ...]:  # random ids: the serializer compresses, so a run of ids would fit
        return tuple(sorted(secrets.randbelow(numbers.MAX_ID) + 1 for _ in range(40)))

    lines = [CartLine(n, 1, "", many()) for n in range(1, cart.MAX_LINES + 1)]
    with pytest.raises(Invalid) as refused:
        cart.dump(ShopState(lines), SECRET, headroom=cart.CHECKOUT_HEADROOM)
    assert refused.value.fields == {"_": "cart too large"} and "options" in refused.value.message
    assert cart.load(cart.dump(ShopState(lines[:2]), SECRET), SECRET).lines == lines[:2], "a few fit"


def test_new_cart_ids_are_random() -> None:
    ids = {cart.new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 20 for i in ids)


# Limits


def test_adding_a_dish_already_in_the_cart_adds_to_its_line() -> None:
    lines = cart.add([], 1, 2, LIMITS)
    lines = cart.add(lines, 2, 1, LIMITS)
    lines = cart.add(lines, 1, 3, LIMITS)
    assert lines == [CartLine(1, 5), CartLine(2, 1)]


def test_adding_merges_only_into_a_line_with_the_same_options_and_no_notes() -> None:
    """A line is its dish, its options and its notes: a dish added again with other options, or
    beside a line with notes, is a line of its own."""
    noted = [CartLine(1, 1, "no salt")]
    assert cart.add(noted, 1, 1, LIMITS) == [CartLine(1, 1, "no salt"), CartLine(1, 1)]
    lines = cart.add([], 1, 1, LIMITS, [12, 30])
    lines = cart.add(lines, 1, 1, LIMITS, [30, 12])  # the same options, chosen in another order
    lines = cart.add(lines, 1, 2, LIMITS, [12])
    lines = cart.add(lines, 1, 1, LIMITS, [12, 12, 30])  # double 12 is another choice
    assert lines == [CartLine(1, 2, "", (12, 30)), CartLine(1, 2, "", (12,)), CartLine(1, 1, "", (12, 12, 30))]
    assert len({line.key for line in lines}) == 3


def test_a_lines_key_names_its_dish_options_and_notes() -> None:
    line = CartLine(1, 2, "rare", (4, 5))
    assert line.key == CartLine(1, 7, "rare", (4, 5)).key, "the quantity is not part of it"
    others = [CartLine(2, 2, "rare", (4, 5)), CartLine(1, 2, "", (4, 5)), CartLine(1, 2, "rare", (4,)), CartLine(1, 2)]
    assert line.key not in {other.key for other in others}
    assert len(line.key) == 16 and int(line.key, 16) >= 0


def test_lines_are_changed_and_removed_by_key_and_merge_when_they_become_the_same() -> None:
    plain, bacon = CartLine(1, 1, "", (5,)), CartLine(1, 2, "well done", (5,))
    lines = [plain, bacon, CartLine(2, 1)]
    assert cart.find(lines, bacon.key) == bacon and cart.find(lines, "0" * 16) is None
    assert cart.replace(lines, bacon.key, 3, "rare", LIMITS) == [plain, CartLine(1, 3, "rare", (5,)), CartLine(2, 1)]
    # Its notes cleared, the second line is the first: one line of 3, where the first was.
    assert cart.replace(lines, bacon.key, 2, "", LIMITS) == [CartLine(1, 3, "", (5,)), CartLine(2, 1)]
    assert cart.remove(lines, plain.key) == [bacon, CartLine(2, 1)]
    assert cart.remove(lines, "0" * 16) == lines
    assert cart.replace(lines, "0" * 16, 1, "", LIMITS) == lines


def test_a_cart_never_holds_more_of_one_dish_than_a_public_order_may() -> None:
    """Counted over all the dish's lines, whatever their options."""
    lines = cart.add([], 1, LIMITS.per_item, LIMITS)
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 1, 1, LIMITS)
    assert refused.value.fields == {"quantity": f"at most {LIMITS.per_item}"}
    with pytest.raises(Invalid):
        cart.add(lines, 1, 1, LIMITS, [7])
    with pytest.raises(Invalid):
        cart.replace(lines, lines[0].key, LIMITS.per_item + 1, "", LIMITS)


def test_a_cart_never_holds_more_portions_than_a_public_order_may() -> None:
    lines = [CartLine(n, LIMITS.per_item) for n in (1, 2)] + [CartLine(3, LIMITS.per_order - 2 * LIMITS.per_item)]
    assert cart.within(lines, LIMITS, changed=3) == lines, "exactly at the limit is fine"
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 4, 1, LIMITS)
    assert refused.value.fields == {"quantity": f"at most {LIMITS.per_order} in all"}


def test_only_the_dish_changed_is_held_to_the_per_dish_limit() -> None:
    """A cart made under looser limits is not stuck: other dishes can still be changed."""
    old = [CartLine(1, 30), CartLine(2, 1)]
    assert cart.replace(old, old[1].key, 2, "", LIMITS) == [CartLine(1, 30), CartLine(2, 2)]
    with pytest.raises(Invalid):
        cart.replace(old, old[0].key, 29, "", LIMITS)


def test_a_cart_holds_at_most_max_lines_dishes() -> None:
    roomy = Limits(per_item=99, per_order=10_000)
    lines = [CartLine(n, 1) for n in range(1, cart.MAX_LINES + 1)]
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 999, 1, roomy)
    assert refused.value.fields == {"_": "too many lines"}
    assert cart.add(lines, 1, 1, roomy)[0] == CartLine(1, 2), "a dish already in it can still grow"


# Form fields


def test_a_whole_number_field_takes_ascii_digits_in_bounds_only() -> None:
    assert cart.whole_number(" 7 ", "quantity", 1, 20) == 7
    for raw in ("0", "21", "-1", "1.5", "²", "٣", "", None, "9" * 30):
        with pytest.raises(Invalid) as refused:
            cart.whole_number(raw, "quantity", 1, 20)
        assert refused.value.fields == {"quantity": "1 to 20"}


def test_notes_are_trimmed_bounded_and_free_of_control_characters() -> None:
    assert cart.notes_field("  no onions ") == "no onions"
    assert cart.notes_field(None) == ""
    assert cart.notes_field("x" * cart.MAX_NOTES) == "x" * cart.MAX_NOTES
    for bad in ("x" * (cart.MAX_NOTES + 1), "no\nonions", "\u202eenoino", "bell\x07"):
        with pytest.raises(Invalid) as refused:
            cart.notes_field(bad)
        assert set(refused.value.fields or {}) == {"notes"}


# Pricing


MENU = [
    {"id": 1, "name": "Burger", "price_cents": 1550, "available": True},
    {"id": 2, "name": "Soup", "price_cents": 700, "available": False},
]


def test_the_cart_is_priced_from_the_menu_as_it_is_now() -> None:
    priced = cart.price([CartLine(1, 2, "rare")], MENU)
    (line,) = priced.lines
    assert (line.name, line.unit_price_cents, line.line_total_cents, line.notes) == ("Burger", 1550, 3100, "rare")
    assert priced.total_cents == 3100 and priced.count == 2 and priced.blocked == []
    cheaper = [{**MENU[0], "price_cents": 1000}]
    assert cart.price([CartLine(1, 2)], cheaper).total_cents == 2000


def test_sold_out_and_vanished_dishes_block_checkout_and_are_not_counted() -> None:
    priced = cart.price([CartLine(1, 1), CartLine(2, 3), CartLine(9, 4)], MENU)
    assert [(line.name, line.on_menu, line.available) for line in priced.blocked] == [
        ("Soup", True, False),
        ("A dish no longer on the menu", False, False),
    ]
    assert priced.total_cents == 1550 and priced.count == 1


BURGER = {
    "id": 1,
    "name": "Burger",
    "price_cents": 1550,
    "available": True,
    "allergens": ["gluten"],
    "modifier_groups": [
        {
            "id": 1,
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [
                {"id": 11, "name": "Rare", "price_cents": 0, "allergens": [], "available": True},
                {"id": 12, "name": "Medium-rare", "price_cents": 0, "allergens": [], "available": True},
            ],
        },
        {
            "id": 2,
            "name": "Add-ons",
            "min": 0,
            "max": 5,
            "options": [
                {"id": 21, "name": "Bacon", "price_cents": 200, "allergens": [], "available": True},
                {"id": 22, "name": "Extra cheese", "price_cents": 100, "allergens": ["milk"], "available": True},
            ],
        },
    ],
}


def test_a_line_with_options_is_priced_and_its_allergens_listed_by_choices_check() -> None:
    priced = cart.price([CartLine(1, 2, "", (12, 21, 21, 22))], [BURGER])
    (line,) = priced.lines
    assert line.unit_price_cents == 1550 + 2 * 200 + 100 and line.line_total_cents == 2 * 2050
    assert [(o.group, o.name, o.times, o.price_cents) for o in line.options] == [
        ("Doneness", "Medium-rare", 1, 0),
        ("Add-ons", "Bacon", 2, 400),
        ("Add-ons", "Extra cheese", 1, 100),
    ]
    assert line.allergens == ("gluten", "milk") and line.orderable
    assert priced.flags(["milk", "fish"]) == {line.key: ["milk"]}
    assert priced.flags(["fish"]) == {}


def test_a_line_whose_options_no_longer_fit_the_menu_blocks_checkout() -> None:
    eighty_sixed = {
        **BURGER,
        "modifier_groups": [
            BURGER["modifier_groups"][0],
            {
                **BURGER["modifier_groups"][1],
                "options": [{**BURGER["modifier_groups"][1]["options"][0], "available": False}],
            },
        ],
    }
    lines = [CartLine(1, 1, "", (12, 21)), CartLine(1, 1), CartLine(1, 1, "", (12, 99))]
    priced = cart.price(lines, [eighty_sixed])
    assert [line.problem for line in priced.lines] == [
        "Bacon sold out",
        "Doneness: choose at least 1",
        "an option is no longer on the menu",
    ]
    assert priced.blocked == list(priced.lines) and priced.total_cents == 0
