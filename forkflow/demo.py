"""Demo data for `forkflow serve --demo`: a small bistro's menu and stock."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from .models import CategoryOrderIn, DiscountReasonIn, InventoryIn, MenuItemIn, RecipeIn, StaffIn
from .schema import inventory, menu_items, staff
from .services import create_inventory_item, create_menu_item, order_categories, set_recipe
from .services.discounts import add_reason
from .services.staff import add_staff
from .store import Store

log = logging.getLogger("forkflow.demo")

# (name, description, price in cents, category, station)
MENU: list[tuple[str, str, int, str, str]] = [
    ("Garlic Bread", "Sourdough, roasted garlic butter, parsley", 550, "Starters", "fry"),
    ("Crispy Calamari", "Lemon aioli, chilli salt", 950, "Starters", "fry"),
    ("Burrata", "Heirloom tomatoes, basil oil, grilled bread", 1150, "Starters", "cold"),
    ("Soup of the Day", "Ask your server; served with bread", 750, "Starters", "cold"),
    ("Chicken Wings", "Six wings, house hot sauce, blue cheese dip", 1050, "Starters", "fry"),
    ("Classic Burger", "Beef patty, cheddar, pickles, brioche bun, fries", 1550, "Mains", "grill"),
    ("Mushroom Burger", "Portobello, halloumi, rocket, fries", 1450, "Mains", "grill"),
    ("Ribeye Steak", "300 g, peppercorn sauce, fries", 3200, "Mains", "grill"),
    ("Grilled Salmon", "Crushed potatoes, salsa verde", 2250, "Mains", "grill"),
    ("Fish and Chips", "Beer-battered haddock, mushy peas, tartare", 1750, "Mains", "fry"),
    ("Chicken Caesar", "Grilled chicken, cos, parmesan, croutons", 1450, "Mains", "cold"),
    ("Margherita Pizza", "Tomato, fior di latte, basil", 1250, "Mains", "grill"),
    ("Fries", "Skin-on, sea salt", 450, "Sides", "fry"),
    ("Sweet Potato Fries", "Smoked paprika mayo", 550, "Sides", "fry"),
    ("House Salad", "Leaves, radish, mustard dressing", 500, "Sides", "cold"),
    ("Onion Rings", "Beer batter, ketchup", 500, "Sides", "fry"),
    ("Chocolate Brownie", "Warm, vanilla ice cream", 750, "Desserts", "cold"),
    ("Sticky Toffee Pudding", "Toffee sauce, clotted cream", 800, "Desserts", "cold"),
    ("Lemon Tart", "Creme fraiche, raspberries", 700, "Desserts", "cold"),
    ("Lemonade", "House-made, still or sparkling", 350, "Drinks", "bar"),
    ("Iced Tea", "Peach, brewed daily", 350, "Drinks", "bar"),
    ("Craft Lager", "Pint, local brewery", 650, "Drinks", "bar"),
    ("Espresso", "Double shot", 300, "Drinks", "bar"),
]

# Each category's course (services/courses.py): drinks as soon as possible, sides with the mains.
COURSES = {"Drinks": 0, "Starters": 1, "Mains": 2, "Sides": 2, "Desserts": 3}


# menu item -> (prep minutes, kitchen load per portion): a steak takes longest, a drink is poured
# (0 minutes, no load); an order's prep time is its longest line's (scheduled orders, fire by prep time).
PREP: dict[str, tuple[int, int]] = {
    "Garlic Bread": (6, 1),
    "Crispy Calamari": (8, 1),
    "Burrata": (4, 1),
    "Soup of the Day": (3, 1),
    "Chicken Wings": (12, 2),
    "Classic Burger": (12, 2),
    "Mushroom Burger": (11, 2),
    "Ribeye Steak": (18, 3),
    "Grilled Salmon": (15, 2),
    "Fish and Chips": (12, 2),
    "Chicken Caesar": (8, 1),
    "Margherita Pizza": (10, 2),
    "Fries": (6, 1),
    "Sweet Potato Fries": (7, 1),
    "House Salad": (3, 1),
    "Onion Rings": (6, 1),
    "Chocolate Brownie": (4, 1),
    "Sticky Toffee Pudding": (5, 1),
    "Lemon Tart": (2, 1),
    "Lemonade": (0, 0),
    "Iced Tea": (0, 0),
    "Craft Lager": (1, 0),
    "Espresso": (1, 0),
}

# (item name, quantity, unit, low-stock level)
STOCK: list[tuple[str, str, str, str]] = [
    ("Beef patties", "60", "pcs", "15"),
    ("Brioche buns", "80", "pcs", "20"),
    ("Ribeye steaks", "12", "pcs", "4"),
    ("Salmon fillets", "18", "pcs", "5"),
    ("Haddock fillets", "20", "pcs", "5"),
    ("Potatoes", "40", "kg", "8"),
    ("Chicken wings", "15.5", "kg", "3"),
    ("Pizza dough balls", "30", "pcs", "8"),
    ("Burrata", "10", "pcs", "3"),
    ("Lager keg", "48.5", "l", "10"),
    ("Bacon rashers", "40", "pcs", "10"),
    ("Cheddar slices", "50", "pcs", "10"),
]

# menu item -> its allergens (every dish declares its own) and dietary tags
ALLERGENS: dict[str, list[str]] = {
    "Garlic Bread": ["gluten", "milk"],
    "Crispy Calamari": ["gluten", "eggs", "molluscs"],
    "Burrata": ["gluten", "milk"],
    "Soup of the Day": ["celery", "gluten", "milk"],
    "Chicken Wings": ["celery", "milk"],
    "Classic Burger": ["gluten", "eggs", "milk", "mustard", "sesame"],
    "Mushroom Burger": ["gluten", "eggs", "milk", "sesame"],
    "Ribeye Steak": ["sulphites"],
    "Grilled Salmon": ["fish", "mustard"],
    "Fish and Chips": ["gluten", "eggs", "fish"],
    "Chicken Caesar": ["gluten", "eggs", "fish", "milk"],
    "Margherita Pizza": ["gluten", "milk"],
    "Fries": ["gluten"],  # fried alongside the battered fish
    "Sweet Potato Fries": ["gluten", "eggs", "mustard"],
    "House Salad": ["mustard"],
    "Onion Rings": ["gluten"],
    "Chocolate Brownie": ["gluten", "eggs", "milk", "soya"],
    "Sticky Toffee Pudding": ["gluten", "eggs", "milk"],
    "Lemon Tart": ["gluten", "eggs", "milk"],
    "Lemonade": [],
    "Iced Tea": [],
    "Craft Lager": ["gluten"],
    "Espresso": [],
}
DIETARY: dict[str, list[str]] = {
    "Garlic Bread": ["vegetarian"],
    "Burrata": ["vegetarian"],
    "Mushroom Burger": ["vegetarian"],
    "Margherita Pizza": ["vegetarian"],
    "Fries": ["vegetarian", "vegan"],
    "Sweet Potato Fries": ["vegetarian"],
    "House Salad": ["vegetarian", "vegan"],
    "Onion Rings": ["vegetarian", "vegan"],
    "Chocolate Brownie": ["vegetarian"],
    "Sticky Toffee Pudding": ["vegetarian"],
    "Lemon Tart": ["vegetarian"],
    "Lemonade": ["vegetarian", "vegan"],
    "Iced Tea": ["vegetarian", "vegan"],
    "Espresso": ["vegetarian", "vegan"],
}

# An option: (name, price in cents, allergens it adds, what it takes from stock {stock item: quantity})
Option = tuple[str, int, list[str], dict[str, str]]
# A group: (name, min, max, options)
Group = tuple[str, int, int, list[Option]]
DONENESS: Group = (
    "Doneness",
    1,
    1,
    [("Rare", 0, [], {}), ("Medium-rare", 0, [], {}), ("Medium", 0, [], {}), ("Well done", 0, [], {})],
)
BURGER_ADD_ONS: Group = (
    "Add-ons",
    0,
    5,
    [("Bacon", 200, [], {"Bacon rashers": "2"}), ("Extra cheese", 100, ["milk"], {"Cheddar slices": "1"})],
)
SIZE: Group = ("Size", 1, 1, [("Regular", 0, [], {}), ("Large", 100, [], {})])
GROUPS: dict[str, list[Group]] = {
    "Classic Burger": [
        DONENESS,
        BURGER_ADD_ONS,
        ("Remove", 0, 2, [("No onions", 0, [], {}), ("No pickles", 0, [], {})]),
    ],
    "Mushroom Burger": [
        ("Add-ons", 0, 5, [("Extra cheese", 100, ["milk"], {"Cheddar slices": "1"}), ("Avocado", 150, [], {})]),
        ("Remove", 0, 1, [("No rocket", 0, [], {})]),
    ],
    "Ribeye Steak": [
        DONENESS,
        (
            "Sauce",
            1,
            1,
            [("Peppercorn", 0, ["milk"], {}), ("Bearnaise", 0, ["eggs", "milk"], {}), ("Chimichurri", 0, [], {})],
        ),
    ],
    "Margherita Pizza": [
        (
            "Extra toppings",
            0,
            5,
            [("Nduja", 250, [], {}), ("Olives", 100, [], {}), ("Extra mozzarella", 150, ["milk"], {})],
        ),
    ],
    "House Salad": [("Add protein", 0, 1, [("Grilled chicken", 300, [], {}), ("Halloumi", 250, ["milk"], {})])],
    "Lemonade": [SIZE, ("Style", 1, 1, [("Still", 0, [], {}), ("Sparkling", 0, [], {})])],
    "Iced Tea": [SIZE],
    "Espresso": [("Milk", 0, 1, [("Oat milk", 50, [], {}), ("Whole milk", 0, ["milk"], {})])],
}

# How the kitchen reads each group (vocabulary.MODIFIER_KINDS); the others are choices.
KINDS: dict[str, str] = {"Remove": "remove", "Add-ons": "add", "Extra toppings": "add", "Add protein": "add"}

# menu item -> what one portion takes from stock
RECIPES: dict[str, dict[str, str]] = {
    "Classic Burger": {"Beef patties": "1", "Brioche buns": "1", "Potatoes": "0.2"},
    "Mushroom Burger": {"Brioche buns": "1", "Potatoes": "0.2"},
    "Ribeye Steak": {"Ribeye steaks": "1", "Potatoes": "0.2"},
    "Grilled Salmon": {"Salmon fillets": "1", "Potatoes": "0.15"},
    "Fish and Chips": {"Haddock fillets": "1", "Potatoes": "0.25"},
    "Chicken Wings": {"Chicken wings": "0.4"},
    "Margherita Pizza": {"Pizza dough balls": "1"},
    "Burrata": {"Burrata": "1"},
    "Fries": {"Potatoes": "0.25"},
    "Craft Lager": {"Lager keg": "0.568"},
}


# The reasons the till offers for discounts, and for comps (100 % off).
DISCOUNT_REASONS = [("Regular guest", False), ("Staff meal", False), ("Kitchen mistake", True)]


async def seed_demo(store: Store) -> bool:
    """Fill an empty database; a database that already has a menu is left alone."""
    async with store.read() as conn:
        has_menu = (await conn.execute(select(func.count()).select_from(menu_items))).scalar_one() > 0
        has_stock = (await conn.execute(select(func.count()).select_from(inventory))).scalar_one() > 0
    if has_menu or has_stock:
        return False
    stock = {}
    for item_name, quantity, unit, low in STOCK:
        data = InventoryIn(item_name=item_name, quantity=Decimal(quantity), unit=unit, low_stock=Decimal(low))
        stock[item_name] = await create_inventory_item(store, data)

    def option(name: str, price: int, allergens: list[str], takes: dict[str, str]) -> dict[str, Any]:
        recipe = [{"inventory_id": stock[item]["id"], "quantity": Decimal(qty)} for item, qty in takes.items()]
        return {"name": name, "price_cents": price, "allergens": allergens, "recipe": recipe}

    dishes = {}
    for name, description, price, category, station in MENU:
        groups = [
            {
                "name": group,
                "kind": KINDS.get(group, "choice"),
                "min": least,
                "max": most,
                "options": [option(*choice) for choice in choices],
            }
            for group, least, most, choices in GROUPS.get(name, [])
        ]
        item = {"name": name, "description": description, "price_cents": price, "category": category}
        item |= {"station": station, "allergens": ALLERGENS[name], "dietary": DIETARY.get(name, [])}
        item |= dict(zip(("prep_minutes", "prep_load"), PREP[name], strict=True))
        dishes[name] = await create_menu_item(store, MenuItemIn.model_validate(item | {"modifier_groups": groups}))
    await order_categories(store, CategoryOrderIn(courses=COURSES))
    for dish, ingredients in RECIPES.items():
        lines = [{"inventory_id": stock[name]["id"], "quantity": Decimal(qty)} for name, qty in ingredients.items()]
        await set_recipe(store, dishes[dish]["id"], RecipeIn.model_validate({"ingredients": lines}))
    for reason, comp in DISCOUNT_REASONS:
        await add_reason(store, DiscountReasonIn(name=reason, comp=comp), "demo")
    log.info("demo data added: %d menu items, %d stock items, %d recipes", len(MENU), len(STOCK), len(RECIPES))
    return True


async def seed_demo_staff(store: Store) -> dict[str, str] | None:
    """One account per role, named after it, with a random password shown once (returned)."""
    async with store.read() as conn:
        if (await conn.execute(select(func.count()).select_from(staff))).scalar_one() > 0:
            return None
    passwords = {}
    for role in ("kitchen", "cashier", "manager"):
        password = secrets.token_urlsafe(9)
        await add_staff(store, StaffIn(name=role, role=role, password=password))
        passwords[role] = password
    return passwords
