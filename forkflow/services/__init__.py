"""The one write path: the JSON API, the htmx pages and the CLI all call these functions."""

from .estimates import estimate_for, prep_time
from .inventory import change_inventory_item, create_inventory_item, get_inventory_item, list_inventory
from .menu import (
    create_menu_item,
    get_menu_item,
    list_categories,
    list_menu,
    list_stations,
    order_categories,
    set_availability,
    set_option_availability,
    update_menu_item,
)
from .orders import (
    acknowledge_allergies,
    bump,
    change_status,
    create_order,
    get_order,
    get_tracked_order,
    kitchen_orders,
    kitchen_snapshot,
    list_orders,
    mark_lines_done,
    recall_last,
    tracked_snapshot,
)
from .stock import get_recipe, list_movements, list_recipes, set_recipe

__all__ = [
    "acknowledge_allergies",
    "bump",
    "change_inventory_item",
    "change_status",
    "create_inventory_item",
    "create_menu_item",
    "create_order",
    "estimate_for",
    "get_inventory_item",
    "get_menu_item",
    "get_order",
    "get_recipe",
    "get_tracked_order",
    "kitchen_orders",
    "kitchen_snapshot",
    "list_categories",
    "list_inventory",
    "list_menu",
    "list_movements",
    "list_orders",
    "list_recipes",
    "list_stations",
    "mark_lines_done",
    "order_categories",
    "prep_time",
    "recall_last",
    "tracked_snapshot",
    "set_availability",
    "set_option_availability",
    "set_recipe",
    "update_menu_item",
]
