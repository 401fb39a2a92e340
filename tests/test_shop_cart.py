"""The shop's cart (forkflow/routes/shop/cart.py) on its own: the signed cookie, tampering refused, the limits
a cart keeps to, the form fields it takes, and pricing from the menu as it is now."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

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


def test_new_cart_ids_are_random() -> None:
    ids = {cart.new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 20 for i in ids)


# Limits


def test_adding_a_dish_already_in_the_cart_adds_to_its_line() -> None:
    lines = cart.add([], 1, 2, LIMITS)
    lines = cart.add(lines, 2, 1, LIMITS)
    lines = cart.add(lines, 1, 3, LIMITS)
    assert lines == [CartLine(1, 5), CartLine(2, 1)]


def test_adding_keeps_a_lines_notes() -> None:
    assert cart.add([CartLine(1, 1, "no salt")], 1, 1, LIMITS) == [CartLine(1, 2, "no salt")]


def test_a_cart_never_holds_more_of_one_dish_than_a_public_order_may() -> None:
    lines = cart.add([], 1, LIMITS.per_item, LIMITS)
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 1, 1, LIMITS)
    assert refused.value.fields == {"quantity": f"at most {LIMITS.per_item}"}
    with pytest.raises(Invalid):
        cart.replace(lines, CartLine(1, LIMITS.per_item + 1), LIMITS)


def test_a_cart_never_holds_more_portions_than_a_public_order_may() -> None:
    lines = [CartLine(n, LIMITS.per_item) for n in (1, 2)] + [CartLine(3, LIMITS.per_order - 2 * LIMITS.per_item)]
    assert cart.within(lines, LIMITS, changed=3) == lines, "exactly at the limit is fine"
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 4, 1, LIMITS)
    assert refused.value.fields == {"quantity": f"at most {LIMITS.per_order} in all"}


def test_only_the_dish_changed_is_held_to_the_per_dish_limit() -> None:
    """A cart made under looser limits is not stuck: other dishes can still be changed."""
    old = [CartLine(1, 30), CartLine(2, 1)]
    assert cart.replace(old, CartLine(2, 2), LIMITS) == [CartLine(1, 30), CartLine(2, 2)]
    with pytest.raises(Invalid):
        cart.replace(old, CartLine(1, 29), LIMITS)


def test_a_cart_holds_at_most_max_lines_dishes() -> None:
    roomy = Limits(per_item=99, per_order=10_000)
    lines = [CartLine(n, 1) for n in range(1, cart.MAX_LINES + 1)]
    with pytest.raises(Invalid) as refused:
        cart.add(lines, 999, 1, roomy)
    assert refused.value.fields == {"_": "too many lines"}
    assert cart.add(lines, 1, 1, roomy)[0] == CartLine(1, 2), "a dish already in it can still grow"


def test_replace_and_remove_change_only_their_dish() -> None:
    lines = [CartLine(1, 1), CartLine(2, 2, "hot")]
    assert cart.replace(lines, CartLine(2, 3, "mild"), LIMITS) == [CartLine(1, 1), CartLine(2, 3, "mild")]
    assert cart.remove(lines, 2) == [CartLine(1, 1)]
    assert cart.remove(lines, 42) == lines


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
