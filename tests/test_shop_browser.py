"""Online ordering and order tracking in a real browser (Debian's Chromium, headless) against a real server.

Every test also fails on a JS error, a CSP violation or a request off the server (`Watch`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .browser import INIT_SCRIPT, TIMEOUT_MS, Watch, screenshot
from .conftest import Server, create_menu, seed_staff
from .test_shop_options import BURGER, FRIES, SALAD

PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 1000}

# Runs before the page's scripts: records the ready alert's tones and buzzes instead of guessing.
ALERT_PROBE = """
window.__alerts = { tones: 0, buzzes: [] };
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__alerts.tones += 1; return realStart.apply(this, args); };
Object.defineProperty(Navigator.prototype, "vibrate", {
  configurable: true,
  value: function (pattern) { window.__alerts.buzzes.push(pattern); return true; },
});
"""


# Fixtures


@pytest.fixture
def menu(server: Server) -> dict[str, dict]:
    """The conftest MENU, keyed by name."""
    return create_menu(server)


class Customers:
    """Opens public pages, each customer in a browser context (a cookie jar) of their own, and
    checks every page opened for errors at the end."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.watches: list[Watch] = []

    def open(self, path: str = "/", viewport: dict[str, int] | None = None) -> Page:
        context = self.browser.new_context(viewport=viewport or PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(INIT_SCRIPT)
        context.add_init_script(ALERT_PROBE)
        self.contexts.append(context)
        page = context.new_page()
        self.watches.append(Watch(page, self.server.url))
        page.goto(self.server.url + path)
        page.wait_for_function("() => window.__kds.open >= 1")  # the page's stream is open
        return page

    def allow(self, pattern: str) -> None:
        """An error this test expects on every page (say, the browser logging a 409 answer)."""
        for watch in self.watches:
            watch.allow(pattern)

    def check(self) -> None:
        problems = [f"page {n}: {p}" for n, watch in enumerate(self.watches) for p in watch.unexpected()]
        assert not problems, "\n".join(problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def customers(browser: Browser, server: Server) -> Iterator[Customers]:
    opened = Customers(browser, server)
    try:
        yield opened
        opened.check()
    finally:
        opened.close()


# What the tests do


def dish(page: Page, item: dict):  # noqa: ANN201  (a Locator)
    return page.locator(f"#item-{item['id']}")


def add(page: Page, item: dict, times: int = 1) -> None:
    for _ in range(times):
        before = page.locator("#cart").inner_text()
        dish(page, item).get_by_role("button", name=f"Add {item['name']} to your cart").click()
        expect(page.locator("#cart")).not_to_have_text(before)


def choose(
    page: Page,
    item: dict,
    radios: tuple[str, ...] = (),
    counts: dict[str, int] | None = None,
    ticks: tuple[str, ...] = (),
) -> None:
    """Open the dish's options (if closed) and choose: a radio button by its option's name, a
    stepper's count, a checkbox."""
    card = dish(page, item)
    if not card.locator("details.options").evaluate("details => details.open"):
        card.locator("summary").click()
    for name in radios:
        card.get_by_role("radio", name=re.compile(rf"^{re.escape(name)}(\s|$)")).check()
    for name, times in (counts or {}).items():
        card.get_by_label(f"{name}: how many").fill(str(times))
        card.get_by_label(f"{name}: how many").dispatch_event("change")
    for name in ticks:
        card.get_by_role("checkbox", name=re.compile(rf"^{re.escape(name)}(\s|$)")).check()


def add_chosen(page: Page, item: dict, times: int = 1) -> None:
    """Add the dish with the options chosen on its card."""
    for _ in range(times):
        before = page.locator("#cart").inner_text()
        dish(page, item).get_by_role("button", name=f"Add {item['name']} with these options to your cart").click()
        expect(page.locator("#cart")).not_to_have_text(before)


def cart_line(page: Page, item: dict):  # noqa: ANN201
    return page.locator(f"#cart .cart-line[data-item-id='{item['id']}']")


def checkout(page: Page, name: str, notes: str = "") -> None:
    page.get_by_role("link", name="Checkout").click()
    page.wait_for_url(re.compile(r"/checkout$"))
    page.get_by_label("Your name").fill(name)
    if notes:
        page.get_by_label("Notes for the kitchen").fill(notes)


def kitchen_moves(server: Server, order_id: int, status: str) -> None:
    response = httpx.patch(
        f"{server.url}/orders/{order_id}", json={"status": status}, headers=server.auth("kitchen"), timeout=10
    )
    assert response.status_code == 200, response.text


def sell_out(server: Server, item: dict, available: bool = False) -> None:
    response = httpx.put(
        f"{server.url}/menu/{item['id']}/availability",
        json={"available": available},
        headers=server.auth("manager"),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def orders(server: Server) -> list[dict]:
    return httpx.get(f"{server.url}/orders", headers=server.auth("manager"), timeout=10).json()


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} scrolls sideways at 360 px: {width} px wide"


def step_states(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#track-status .progress .step", "steps => steps.map(s => s.dataset.step + ':' + s.classList[1])"
    )


def keep(page: Page, name: str, full_page: bool = False) -> None:
    screenshot(page, name, full_page=full_page)


# 1. Order online, then watch it through the kitchen


def test_a_customer_orders_online_and_watches_it_get_ready(
    server: Server, menu: dict[str, dict], customers: Customers
) -> None:
    burger, fries = menu["Classic Burger"], menu["Fries"]
    page = customers.open("/")
    expect(page.locator("#cart")).to_contain_text("Your cart is empty")
    add(page, burger, 2)
    add(page, fries)
    expect(cart_line(page, burger).locator(".cart-name")).to_have_text("2 × Classic Burger")
    expect(page.locator("#cart-total")).to_have_text("$35.50")
    cart_line(page, fries).get_by_label("Notes").fill("extra crispy")
    cart_line(page, fries).get_by_role("button", name="Update").click()
    expect(page.locator("#cart .cart-status")).to_have_text("Cart updated")

    checkout(page, "Ada Lovelace", "Ring the bell")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/track/[\w-]+$"))
    (order,) = orders(server)
    assert order["channel"] == "online" and order["total_cents"] == 3550
    assert [line["notes"] for line in order["lines"]] == ["", "extra crispy"]
    page.wait_for_function("() => window.__kds.open >= 1")

    expect(page.locator("h1")).to_have_text(f"Order {order['pickup_code']}")
    expect(page.locator(".track-head .for")).to_have_text("For Ada Lovelace")
    expect(page.locator("#track-status .headline")).to_have_text("We have your order")
    assert step_states(page) == ["new:current", "preparing:todo", "ready:todo", "completed:todo"]
    expect(page.locator("#track-status .eta")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(page.locator(".ready-banner")).to_have_count(0)

    alert_me = page.get_by_role("button", name="Alert me when it’s ready")
    alert_me.click()
    expect(page.locator("#alert-me")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__alerts.tones") == 1, "a short tone says the sound works"
    page.evaluate("window.__sameDocument = true")

    kitchen_moves(server, order["id"], "preparing")
    expect(page.locator("#track-status .headline")).to_have_text("The kitchen is making your order")
    assert step_states(page) == ["new:done", "preparing:current", "ready:todo", "completed:todo"]
    assert page.evaluate("window.__alerts.tones") == 1, "no alert before it is ready"

    kitchen_moves(server, order["id"], "ready")
    banner = page.locator(".ready-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Your order is ready!")
    expect(page.locator("#track-status .headline")).to_have_count(0)  # the banner says it
    expect(banner).to_have_attribute("role", "alert")
    assert step_states(page) == ["new:done", "preparing:done", "ready:current", "completed:todo"]
    page.wait_for_function("() => window.__alerts.tones >= 4")  # the three-note chime
    assert page.evaluate("window.__alerts.buzzes") == [80, [300, 150, 300, 150, 300]]
    expect(page).to_have_title(re.compile(r"^Ready! · "))
    no_horizontal_scroll(page)
    keep(page, "tracking.png", full_page=True)

    kitchen_moves(server, order["id"], "completed")
    expect(page.locator("#track-status .headline")).to_have_text("Collected: enjoy your meal")
    expect(page.locator("#alert-me")).to_be_hidden()
    assert step_states(page) == ["new:done", "preparing:done", "ready:done", "completed:done"]
    assert page.evaluate("window.__sameDocument") is True, "the page was never reloaded"
    assert page.evaluate("window.__kds.open") == 1, "one stream, opened once"


# 2. A dish sells out while a customer has it in their cart


def test_a_dish_sold_out_shows_live_on_the_menu_and_in_the_cart_and_checkout_refuses_it(
    server: Server, menu: dict[str, dict], customers: Customers
) -> None:
    burger, fries = menu["Classic Burger"], menu["Fries"]
    page = customers.open("/")
    other = customers.open("/")  # someone just browsing
    add(page, burger)
    add(page, fries, 2)
    expect(page.locator("#cart-total")).to_have_text("$24.50")
    page.evaluate("window.__sameDocument = true")

    sell_out(server, fries)
    for p in (page, other):
        expect(dish(p, fries)).to_have_class(re.compile(r"\bsold-out\b"))
        expect(dish(p, fries).locator(".sold-out-badge")).to_have_text("Sold out")
        expect(dish(p, fries).get_by_role("button")).to_have_count(0)
    expect(cart_line(page, fries).locator(".line-warning")).to_have_text("Sold out — remove it")
    expect(page.locator("#cart-total")).to_have_text("$15.50")
    expect(cart_line(page, burger).locator(".line-warning")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True, "no reload"

    checkout(page, "Grace", "No onions")
    expect(cart_line(page, fries).locator(".line-warning")).to_have_text("Sold out — remove it")
    page.get_by_role("button", name="Place order").click()
    # The refusal is the checkout page again, with its error, answered as 409 (the browser logs it).
    customers.allow(r"status of 409 \(Conflict\) \(at http://[^ ]+/checkout\)")
    error = page.locator("#checkout-error")
    expect(error).to_have_text("Not available right now: Fries. Remove it from your cart, then place your order.")
    expect(page.get_by_label("Your name")).to_have_value("Grace")
    expect(page.get_by_label("Notes for the kitchen")).to_have_value("No onions")
    assert orders(server) == [], "no order"

    # Back on the menu it comes back, and the open checkout learns it live too.
    page.wait_for_function("() => window.__kds.open >= 1")
    sell_out(server, fries, available=True)
    expect(cart_line(page, fries).locator(".line-warning")).to_have_count(0)
    expect(page.locator("#cart-total")).to_have_text("$24.50")
    expect(dish(other, fries).get_by_role("button", name="Add Fries to your cart")).to_be_visible()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/track/[\w-]+$"))
    (order,) = orders(server)
    assert [(line["name"], line["quantity"]) for line in order["lines"]] == [("Classic Burger", 1), ("Fries", 2)]


# 3. A double tap


def test_a_double_click_on_checkout_makes_one_order(
    server: Server, menu: dict[str, dict], customers: Customers
) -> None:
    page = customers.open("/")
    add(page, menu["Lemonade"])
    checkout(page, "Linus")
    page.get_by_role("button", name="Place order").dblclick()
    page.wait_for_url(re.compile(r"/track/[\w-]+$"))
    expect(page.locator("#track-status .headline")).to_have_text("We have your order")
    assert len(orders(server)) == 1


def test_a_checkout_form_sent_twice_at_once_makes_one_order(
    server: Server, menu: dict[str, dict], customers: Customers
) -> None:
    """Past the page's own guard: the browser sends the same form twice at the same moment."""
    page = customers.open("/")
    add(page, menu["Fries"])
    checkout(page, "Margaret")
    answers = page.evaluate(
        """async () => {
            const form = document.querySelector("form.checkout");
            const send = () => fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)) });
            const answers = await Promise.all([send(), send(), send()]);
            return answers.map(a => [a.status, new URL(a.url).pathname]);
        }"""
    )
    assert len({path for _, path in answers}) == 1 and all(status == 200 for status, _ in answers), answers
    assert answers[0][1].startswith("/track/")
    assert len(orders(server)) == 1


# 4. Phones, and the screenshots


def test_no_sideways_scrolling_on_a_phone_and_screenshots(browser: Browser, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(seed_staff, db).result()
    srv = Server(db).start("--demo")  # the demo menu: five categories, long descriptions
    customers = Customers(browser, srv)
    try:
        demo = {item["name"]: item for item in httpx.get(f"{srv.url}/menu", timeout=10).json()}
        sell_out(srv, demo["Lemon Tart"])
        page = customers.open("/", viewport=PHONE)
        no_horizontal_scroll(page)
        choose(page, demo["Mushroom Burger"], radios=("No rocket",), counts={"Avocado": 1})
        no_horizontal_scroll(page)
        add_chosen(page, demo["Mushroom Burger"], 2)
        add(page, demo["Sweet Potato Fries"])
        choose(page, demo["Espresso"], radios=("Oat milk",))
        add_chosen(page, demo["Espresso"])
        expect(cart_line(page, demo["Mushroom Burger"]).locator(".line-options")).to_contain_text("Avocado")
        cart_line(page, demo["Mushroom Burger"]).get_by_label("Notes").fill("one without cheese, please, thank you")
        cart_line(page, demo["Mushroom Burger"]).get_by_role("button", name="Update").click()
        expect(page.locator("#cart .cart-status")).to_have_text("Cart updated")
        expect(page.locator(".cart-bar")).to_be_visible()
        no_horizontal_scroll(page)
        checkout(page, "Ada")
        no_horizontal_scroll(page)
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url(re.compile(r"/track/[\w-]+$"))
        page.wait_for_function("() => window.__kds.open >= 1")
        no_horizontal_scroll(page)

        wide = customers.open("/", viewport=DESKTOP)
        choose(wide, demo["Classic Burger"], radios=("Medium",))
        add_chosen(wide, demo["Classic Burger"], 2)
        for name in ("Garlic Bread", "Craft Lager"):
            add(wide, demo[name])
        expect(wide.locator("#cart-total")).to_have_text("$43.00")
        wide.evaluate("window.scrollTo(0, 0)")
        wide.mouse.move(0, 0)  # no hover on the last button tapped
        keep(wide, "menu.png")
        customers.check()
    finally:
        customers.close()
        srv.stop()


# 5. Options, allergens and the allergy confirmation


def test_a_customer_chooses_options_avoids_allergens_and_confirms_an_allergy(
    server: Server, customers: Customers
) -> None:
    """The Classic Burger, Medium-rare with Bacon; the "free from" filter through a live menu
    change; milk at checkout flags the burger, the order needs the confirmation; the tracking
    page lists the options."""
    fried_egg = {"name": "Fried egg", "price_cents": 150, "allergens": ["eggs"]}
    add_ons = {**BURGER["modifier_groups"][1], "options": [*BURGER["modifier_groups"][1]["options"], fried_egg]}
    burger_body = {
        **BURGER,
        "allergens": ["gluten", "milk", "sesame"],
        "modifier_groups": [BURGER["modifier_groups"][0], add_ons, BURGER["modifier_groups"][2]],
    }
    made = {}
    for body in (burger_body, SALAD, FRIES):
        response = httpx.post(f"{server.url}/menu", json=body, headers=server.auth("manager"), timeout=10)
        assert response.status_code == 201, response.text
        made[body["name"]] = response.json()
    burger, salad = made["Classic Burger"], made["Garden Salad"]
    options = {o["name"]: o for g in burger["modifier_groups"] for o in g["options"]}

    page = customers.open("/", viewport=DESKTOP)
    card = dish(page, burger)
    expect(card.locator(".contains")).to_have_text("Contains: Cereals containing gluten, Milk, Sesame")
    expect(dish(page, salad).locator(".tag.diet")).to_have_text("Vegetarian")

    # A required group left out is refused inline, keeping what was chosen.
    choose(page, burger, counts={"Bacon": 1})
    expect(card.locator(".chosen-price")).to_have_text("$17.50")
    customers.allow(r"status of 422 \(Unprocessable (Content|Entity)\) \(at http://[^ ]+/cart/items\)")
    card.get_by_role("button", name="Add Classic Burger with these options to your cart").click()
    expect(card.locator(".options-error")).to_have_text("Doneness: choose at least 1")
    expect(card.locator("details.options")).to_have_attribute("open", "")
    expect(card.get_by_label("Bacon: how many")).to_have_value("1")
    expect(page.locator("#cart")).to_contain_text("Your cart is empty")

    choose(page, burger, radios=("Medium-rare",))
    expect(card.locator(".options-error")).to_have_count(0)  # put right: the message goes
    expect(card.locator(".group.invalid")).to_have_count(0)
    expect(card.locator(".chosen-price")).to_have_text("$17.50")
    expect(card.get_by_role("radio", name="Medium-rare")).to_be_checked()
    card.evaluate("card => card.scrollIntoView()")
    page.mouse.move(0, 0)
    keep(page, "shop-options.png")

    # Free from eggs: the salad is hidden, the fried egg is marked; both hold through a live change.
    page.locator(".free-from summary").click()
    page.get_by_role("checkbox", name="Eggs", exact=True).check()
    expect(dish(page, salad)).to_be_hidden()
    egg = card.locator(".option", has_text="Fried egg")
    expect(egg.locator(".avoid-note")).to_be_visible()
    expect(card.locator(".option", has_text="Bacon").locator(".avoid-note")).to_be_hidden()
    assert "free_from=eggs" in page.url, "a reload keeps the filter"
    page.evaluate("window.__sameDocument = true")
    response = httpx.put(
        f"{server.url}/menu/{burger['id']}/options/{options['Fried egg']['id']}/availability",
        json={"available": False},
        headers=server.auth("manager"),
        timeout=10,
    )
    assert response.status_code == 200
    expect(egg.locator(".off-badge")).to_have_text("Sold out")  # the option 86'd, live
    expect(card.get_by_label("Fried egg: how many")).to_be_disabled()
    expect(card.locator("details.options")).to_have_attribute("open", "")  # the open form stays open
    expect(card.get_by_role("radio", name="Medium-rare")).to_be_checked()
    expect(card.get_by_label("Bacon: how many")).to_have_value("1")
    expect(dish(page, salad)).to_be_hidden()
    expect(egg.locator(".avoid-note")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    page.get_by_role("checkbox", name="Eggs", exact=True).uncheck()
    expect(dish(page, salad)).to_be_visible()

    add_chosen(page, burger)
    line = cart_line(page, burger)
    expect(line.locator(".line-options")).to_contain_text("Doneness: Medium-rare")
    expect(line.locator(".line-options")).to_contain_text("Add-ons: Bacon")
    expect(page.locator("#cart-total")).to_have_text("$17.50")

    # Checkout: milk flags the burger; placing it without the confirmation is refused inline.
    checkout(page, "Ada")
    page.get_by_role("checkbox", name="Milk", exact=True).check()
    expect(line.locator(".allergy-flag")).to_have_text("Allergy: Contains milk")
    line.get_by_label("Qty").fill("2")  # a cart change at checkout keeps the flags (its requests carry them)
    line.get_by_role("button", name="Update").click()
    expect(page.locator("#cart-total")).to_have_text("$35.00")
    expect(line.locator(".allergy-flag")).to_have_text("Allergy: Contains milk")
    confirm = page.get_by_role("checkbox", name=re.compile("I understand the flagged dishes contain milk"))
    expect(confirm).to_be_visible()
    expect(confirm).not_to_be_checked()
    page.mouse.move(0, 0)
    keep(page, "shop-checkout-allergy.png")
    customers.allow(r"status of 409 \(Conflict\) \(at http://[^ ]+/checkout\)")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#checkout-error")).to_contain_text("Some dishes contain your allergies")
    expect(page.get_by_label("Your name")).to_have_value("Ada")
    expect(page.get_by_role("checkbox", name="Milk", exact=True)).to_be_checked()
    assert orders(server) == []
    page.get_by_role("checkbox", name=re.compile("I understand the flagged dishes contain milk")).check()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/track/[\w-]+$"))
    (order,) = orders(server)
    assert order["allergies"] == ["milk"] and order["total_cents"] == 3500
    assert [(m["group"], m["name"]) for m in order["lines"][0]["modifiers"]] == [
        ("Doneness", "Medium-rare"),
        ("Add-ons", "Bacon"),
    ]
    listed = page.locator(".track-lines .line-options")
    expect(listed).to_contain_text("Doneness: Medium-rare")
    expect(listed).to_contain_text("Add-ons: Bacon +$2.00")
    expect(page.locator(".track-allergies")).to_have_text("Your allergies: Milk")
