"""The shop's side of modifiers and allergens against a real server: the options form on a dish
(priced by forkflow/choices.py, a broken rule refused inline keeping the choice, 86'd options
disabled), cart lines with options, the "free from" filter, checkout's allergy confirmation (the
order service's 409, then one order with its modifiers and allergies), the tracking page's lines,
and an option 86'd reaching an open menu over its stream."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator

import httpx
import pytest

from forkflow.vocabulary import ALLERGENS

from .conftest import Server
from .test_shop import HX, INLINE_SCRIPT, Customer, Stream, all_orders, cart_lines, total_of

BURGER = {
    "name": "Classic Burger",
    "price_cents": 1550,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten", "sesame"],
    "modifier_groups": [
        {
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [{"name": "Rare"}, {"name": "Medium-rare"}, {"name": "Well done"}],
        },
        {
            "name": "Add-ons",
            "min": 0,
            "max": 5,
            "options": [
                {"name": "Bacon", "price_cents": 200},
                {"name": "Extra cheese", "price_cents": 100, "allergens": ["milk"]},
            ],
        },
        {"name": "Remove", "min": 0, "max": 2, "options": [{"name": "No onions"}, {"name": "No pickles"}]},
    ],
}
SALAD = {
    "name": "Garden Salad",
    "price_cents": 900,
    "category": "Mains",
    "station": "cold",
    "allergens": ["eggs"],
    "dietary": ["vegetarian"],
}
FRIES = {"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry", "dietary": ["vegan"]}


class Dish:
    """A menu item as the API made it, with its options by name."""

    def __init__(self, item: dict) -> None:
        self.item = item
        self.id = item["id"]
        self.groups = {group["name"]: group for group in item["modifier_groups"]}
        self.options = {o["name"]: o for g in item["modifier_groups"] for o in g["options"]}

    def option(self, name: str) -> int:
        return int(self.options[name]["id"])

    def group(self, name: str) -> int:
        return int(self.groups[name]["id"])

    def form(self, doneness: str | None = None, **counts: int) -> dict[str, str]:
        """The options form's fields: the radio of Doneness, a count per add-on or removal."""
        fields = {"menu_item_id": str(self.id)}
        if doneness:
            fields[f"g{self.group('Doneness')}"] = str(self.option(doneness))
        for name, times in counts.items():
            fields[f"o{self.option(name.replace('_', ' ').capitalize())}"] = str(times)
        return fields


@pytest.fixture
def dishes(server: Server) -> dict[str, Dish]:
    made = {}
    for body in (BURGER, SALAD, FRIES):
        response = httpx.post(f"{server.url}/menu", json=body, headers=server.auth("manager"), timeout=10)
        assert response.status_code == 201, response.text
        made[body["name"]] = Dish(response.json())
    return made


@pytest.fixture
def customer(server: Server) -> Iterator[Customer]:
    c = Customer(server)
    yield c
    c.close()


def dish_html(page: str, dish: Dish) -> str:
    found = re.search(rf'<li id="item-{dish.id}" .*?</details>\s*</li>|<li id="item-{dish.id}" .*?</li>', page, re.S)
    assert found, page
    return found.group(0)


def eighty_six(server: Server, dish: Dish, option: str, available: bool = False) -> None:
    response = httpx.put(
        f"{server.url}/menu/{dish.id}/options/{dish.option(option)}/availability",
        json={"available": available},
        headers=server.auth("manager"),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def fieldset(card: str, group_id: int) -> str:
    found = re.search(rf'data-group-id="{group_id}".*?</fieldset>', card, re.S)
    assert found, card
    return found.group(0)


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


# The options form


def test_a_dish_with_options_has_its_options_form_with_allergens_and_price_differences(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger, salad, fries = dishes["Classic Burger"], dishes["Garden Salad"], dishes["Fries"]
    page = customer.open("/").text
    card = dish_html(page, burger)
    assert '<details class="options"' in card and 'action="/cart/items"' in card
    assert 'aria-label="Add Classic Burger to your cart"' not in card, "no plain Add: options come first"
    doneness = fieldset(card, burger.group("Doneness"))
    assert "Required" in doneness and doneness.count('type="radio"') == 3, "max 1: radio buttons, no 'none'"
    add_ons = fieldset(card, burger.group("Add-ons"))
    assert "Required" not in add_ons and add_ons.count('class="stepper"') == 2, "max 5 of 2: steppers (double bacon)"
    assert "+$2.00" in add_ons and "+$1.00" in add_ons and "adds Milk" in add_ons
    assert 'data-contains="milk"' in add_ons
    removals = fieldset(card, burger.group("Remove"))
    assert removals.count('type="checkbox"') == 2
    assert "Contains: Cereals containing gluten, Sesame" in card and 'data-contains="gluten sesame"' in card
    assert f'id="chosen-{burger.id}"' in card and "$15.50" in card
    salad_card, fries_card = dish_html(page, salad), dish_html(page, fries)
    assert "Vegetarian" in salad_card and "Contains: Eggs" in salad_card and "<details" not in salad_card
    assert (
        "Vegan" in fries_card and "Contains:" not in fries_card and 'aria-label="Add Fries to your cart"' in fries_card
    )
    assert not INLINE_SCRIPT.search(page) and " style=" not in page


def test_the_price_of_the_options_chosen_is_the_servers(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger = dishes["Classic Burger"]
    chosen = customer.http.get(
        f"/menu/items/{burger.id}/price", params=burger.form("Rare", bacon=2, extra_cheese=1), headers=HX
    )
    assert chosen.status_code == 200
    assert "$20.50" in chosen.text and "Contains: Cereals containing gluten, Milk, Sesame" in chosen.text
    plain = customer.http.get(f"/menu/items/{burger.id}/price", headers=HX)
    assert "$15.50" in plain.text and "Milk" not in plain.text
    assert customer.http.get("/menu/items/999999/price").status_code == 404


def test_a_broken_rule_is_refused_inline_keeping_what_was_chosen(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger = dishes["Classic Burger"]
    # htmx: the dish's form comes back, open, over the dish (HX-Retarget), with the group's message.
    no_doneness = customer.post("/cart/items", burger.form(bacon=2, no_onions=1))
    assert no_doneness.status_code == 422
    assert no_doneness.headers["HX-Retarget"] == f"#item-{burger.id}"
    assert no_doneness.headers["HX-Reswap"] == "outerHTML"
    assert "Doneness: choose at least 1" in no_doneness.text and '<details class="options" open' in no_doneness.text
    assert f'name="o{burger.option("Bacon")}" value="2"' in no_doneness.text, "the count typed is kept"
    assert re.search(rf'name="o{burger.option("No onions")}" value="1" checked', no_doneness.text)
    assert 'class="chosen-price">$19.50<' in no_doneness.text, "priced as chosen (choices.check)"
    too_many = customer.post("/cart/items", burger.form("Rare", bacon=4, extra_cheese=2))
    assert too_many.status_code == 422 and "Add-ons: choose at most 5" in too_many.text
    assert re.search(rf'value="{burger.option("Rare")}" checked', too_many.text), "the radio chosen is kept"
    nonsense = customer.post("/cart/items", {**burger.form("Rare"), f"o{burger.option('Bacon')}": "lots"})
    assert nonsense.status_code == 422 and "Add-ons: a number from 0 to 5" in nonsense.text
    foreign = customer.post(
        "/cart/items", {**burger.form(), f"g{burger.group('Doneness')}": str(burger.option("Bacon"))}
    )
    assert foreign.status_code == 422 and "Doneness: choose one of its options" in foreign.text

    # Without JavaScript: the whole menu page, the dish's form open with the same message and choice.
    plain = customer.post("/cart/items", burger.form(bacon=1), htmx=False)
    assert plain.status_code == 422 and "<h1>Order online</h1>" in plain.text
    card = dish_html(plain.text, burger)
    assert "Doneness: choose at least 1" in card and '<details class="options" open' in card
    assert f'name="o{burger.option("Bacon")}" value="1"' in card and 'name="csrf_token"' in card
    assert cart_lines(customer.cart()) == [], "nothing was added"


def test_an_86d_option_is_disabled_and_marked_and_refused(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger = dishes["Classic Burger"]
    eighty_six(server, burger, "Bacon")
    card = dish_html(customer.open("/").text, burger)
    bacon = re.search(r'<label class="option off".*?</label>', card, re.S)
    assert bacon and "Bacon" in bacon.group(0) and " disabled" in bacon.group(0) and "Sold out" in bacon.group(0)
    refused = customer.post("/cart/items", burger.form("Rare", bacon=1))
    assert refused.status_code == 409 and "Bacon sold out: choose another" in refused.text
    assert refused.headers["HX-Retarget"] == f"#item-{burger.id}"
    assert cart_lines(customer.cart()) == []


# Cart lines with options


def test_cart_lines_with_options_are_priced_merged_changed_and_removed_apart(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger = dishes["Classic Burger"]
    first = customer.post("/cart/items", burger.form("Medium-rare", bacon=1))
    assert first.status_code == 200 and "Added 1 × Classic Burger (Medium-rare, Bacon)" in first.text
    assert "Doneness:</span> Medium-rare" in first.text and "Add-ons:</span> Bacon" in first.text
    assert total_of(first) == "$17.50"
    again = customer.post("/cart/items", burger.form("Medium-rare", bacon=1))
    assert cart_lines(again) == ["2 × Classic Burger"] and total_of(again) == "$35.00", "the same choice: one line"
    other = customer.post("/cart/items", burger.form("Rare", bacon=2, extra_cheese=1))
    assert cart_lines(other) == ["2 × Classic Burger", "1 × Classic Burger"] and total_of(other) == "$55.50"
    assert "Bacon × 2" in other.text and "+$4.00" in other.text

    # Each line is changed and removed on its own.
    second = customer.line(burger.item, 1)
    noted = customer.post(second, {"quantity": "2", "notes": "cut in half"})
    assert noted.status_code == 200 and total_of(noted) == "$76.00"
    assert cart_lines(noted) == ["2 × Classic Burger", "2 × Classic Burger"]
    removed = customer.post(customer.line(burger.item, 0) + "/remove", {})
    assert cart_lines(removed) == ["2 × Classic Burger"] and total_of(removed) == "$41.00"
    assert "cut in half" in removed.text and "Bacon × 2" in removed.text

    # An option 86'd after it was chosen blocks the line until it is removed.
    eighty_six(server, burger, "Extra cheese")
    blocked = customer.cart()
    assert "Extra cheese sold out — remove it and choose again" in blocked.text and total_of(blocked) == "$0.00"


def test_the_cart_refuses_lines_that_outgrow_its_cookie_clearly(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    """Lines with options and notes fill the cookie: when the next change would not fit, the cart
    says so and keeps what it had."""
    burger = dishes["Classic Burger"]
    refused = None
    for n in range(30):
        added = customer.post("/cart/items", burger.form("Rare", bacon=1, no_onions=1))
        if added.status_code != 200:
            refused = added
            break
        noted = customer.post(customer.line(burger.item, n), {"quantity": "1", "notes": secrets.token_urlsafe(150)})
        if noted.status_code != 200:
            refused = noted
            break
    assert refused is not None, "a cookie cannot hold 30 lines of options and random notes"
    assert refused.status_code == 422
    assert "The cart is full: remove something, or shorten the notes or the options" in refused.text
    kept = cart_lines(customer.cart())
    assert kept == cart_lines(refused) and len(kept) >= 5


# "Free from"


def test_the_free_from_filter_is_rules_on_the_pages_allergen_words(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    page = customer.open("/?free_from=milk&free_from=eggs&free_from=nonsense").text
    for word in ALLERGENS:
        assert f'id="free-from-{word}" name="free_from" value="{word}"' in page
    ticked = re.findall(r'id="free-from-(\w+)" name="free_from" value="\w+" checked', page)
    assert ticked == ["eggs", "milk"]
    assert '<link rel="stylesheet" href="/shop/free-from.css">' in page
    salad = dish_html(page, dishes["Garden Salad"])
    assert 'data-contains="eggs"' in salad
    css = customer.http.get("/shop/free-from.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for word in ALLERGENS:
        assert (
            f'.shop-page:has(#free-from-{word}:checked) .dish[data-contains~="{word}"] {{ display: none; }}' in css.text
        )
        assert f'.shop-page:has(#free-from-{word}:checked) .option[data-contains~="{word}"]' in css.text


# Checkout with allergies


def test_checkout_flags_allergies_needs_a_confirmation_and_places_one_order_with_modifiers(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    burger, fries = dishes["Classic Burger"], dishes["Fries"]
    customer.post("/cart/items", burger.form("Medium-rare", bacon=1, extra_cheese=1))
    customer.add(fries.item)
    form = customer.checkout_form()

    # The cart panel flags the lines as the allergies are ticked (and swaps the confirmation in).
    panel = customer.http.get("/cart", params={"view": "checkout", "allergies": ["milk", "fish"]}, headers=HX)
    assert panel.status_code == 200
    flagged = re.findall(r'<li class="cart-line flagged"\s+data-item-id="(\d+)"', panel.text)
    assert flagged == [str(burger.id)] and "Contains milk" in panel.text
    assert 'id="allergy-confirm" hx-swap-oob="true"' in panel.text
    assert "I understand the flagged dishes contain milk" in panel.text
    calm = customer.http.get("/cart", params={"view": "checkout", "allergies": "fish"}, headers=HX)
    assert "flagged" not in calm.text and "allergies_confirmed" not in calm.text

    # Sent without the confirmation: the order service's 409, shown inline; the form is kept.
    fields = {**form, "customer_name": "Ada", "notes": "by 7", "allergies": ["milk"]}
    refused = customer.http.post("/checkout", data={"csrf_token": customer.csrf, **fields})
    assert refused.status_code == 409
    assert "Some dishes contain your allergies" in refused.text
    assert 'value="Ada"' in refused.text and ">by 7</textarea>" in refused.text
    assert 'name="allergies" value="milk" checked' in refused.text
    assert "Allergy:</strong> Contains milk" in refused.text
    assert re.search(r'name="allergies_confirmed" value="yes">', refused.text), "the box is there, not ticked"
    assert all_orders(server) == []

    # Confirmed but nameless: refused, and what was ticked stays ticked.
    confirmed = {**fields, "allergies_confirmed": "yes"}
    nameless = customer.http.post("/checkout", data={"csrf_token": customer.csrf, **confirmed, "customer_name": ""})
    assert nameless.status_code == 422 and 'id="name-error"' in nameless.text
    assert 'name="allergies_confirmed" value="yes" checked' in nameless.text
    assert 'name="allergies" value="milk" checked' in nameless.text

    # Confirmed: one order, with the options and the allergies; sent again, the same order.
    placed = customer.http.post("/checkout", data={"csrf_token": customer.csrf, **confirmed})
    assert placed.status_code == 303
    tracking = placed.headers["location"]
    again = customer.http.post("/checkout", data={"csrf_token": customer.csrf, **confirmed})
    assert again.status_code == 303 and again.headers["location"] == tracking
    (order,) = all_orders(server)
    assert order["allergies"] == ["milk"] and order["total_cents"] == 1550 + 200 + 100 + 450
    burger_line, fries_line = order["lines"]
    assert [(m["group"], m["name"], m["count"]) for m in burger_line["modifiers"]] == [
        ("Doneness", "Medium-rare", 1),
        ("Add-ons", "Bacon", 1),
        ("Add-ons", "Extra cheese", 1),
    ]
    assert burger_line["allergy_flags"] == ["milk"] and fries_line["modifiers"] == []

    # The tracking page lists each line's options, and the allergies given.
    page = customer.open(tracking).text
    lines = text_of(re.search(r'<ul class="track-lines">.*</ul>', page, re.S).group(0))  # type: ignore[union-attr]
    assert "Doneness: Medium-rare" in lines and "Add-ons: Bacon +$2.00" in lines and "Extra cheese +$1.00" in lines
    assert "Contains milk (you told us)" in lines
    assert "Your allergies: Milk" in text_of(page)


def test_checkout_refuses_allergy_words_it_does_not_know(
    server: Server, dishes: dict[str, Dish], customer: Customer
) -> None:
    customer.add(dishes["Fries"].item)
    form = customer.checkout_form()
    answer = customer.http.post(
        "/checkout",
        data={"csrf_token": customer.csrf, **form, "customer_name": "Ada", "allergies": ["gluten", "kryptonite"]},
    )
    assert answer.status_code == 303, "words not on the list are not read; the rest go with the order"
    (order,) = all_orders(server)
    assert order["allergies"] == ["gluten"]


# Live


def test_an_option_86d_reaches_an_open_menu_with_the_option_disabled(server: Server, dishes: dict[str, Dish]) -> None:
    burger = dishes["Classic Burger"]
    stream = Stream(server, "/menu/stream")
    ((kind, _, prelude),) = stream.wait(1)
    assert kind == "menu" and " disabled" not in dish_html(prelude, burger)
    eighty_six(server, burger, "Bacon")
    kind, _, item = stream.wait(2)[1]
    eighty_six(server, burger, "Bacon", available=True)
    kind_back, _, back = stream.wait(3)[2]
    stream.close()
    assert kind == "item" and f'id="item-{burger.id}"' in item and "csrf_token" not in item
    bacon = re.search(r'<label class="option off".*?</label>', item, re.S)
    assert bacon and "Bacon" in bacon.group(0) and " disabled" in bacon.group(0) and "Sold out" in bacon.group(0)
    assert kind_back == "item" and 'class="option off"' not in back
