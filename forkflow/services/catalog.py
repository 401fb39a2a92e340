"""The menu as the API and every screen read it: items with their modifier groups and options, in
the menu's own order (category position, then item position, then name; groups and options by
their position). The one reader of those tables, for reads and write units alike."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from ..errors import NotFound
from ..numbers import MAX_ID
from ..schema import menu_categories, menu_items, modifier_groups, modifier_options
from .representation import group_out, menu_item_out, option_out

MenuItem = dict[str, Any]

# A category without a row (never the case once services/menu.py has written) goes last: after
# any position the database can hold.
_LAST = MAX_ID
# The menu's order as ORDER BY columns, for any query joining menu_items to menu_categories (on
# `IN_CATEGORY`, outer: see above): the all-day panel sorts its counts by it too.
IN_CATEGORY = menu_categories.c.name == menu_items.c.category
MENU_ORDER = (
    func.coalesce(menu_categories.c.position, _LAST),
    menu_items.c.category,
    menu_items.c.position,
    menu_items.c.name,
    menu_items.c.id,
)


def _groups(conn: Connection, where: ColumnElement[bool] | None) -> dict[int, list[dict[str, Any]]]:
    """The modifier groups (with their options) of the items `where` selects, by menu item id."""
    groups = select(modifier_groups).order_by(modifier_groups.c.position, modifier_groups.c.id)
    options = (
        select(modifier_options)
        .join(modifier_groups, modifier_groups.c.id == modifier_options.c.group_id)
        .order_by(modifier_options.c.position, modifier_options.c.id)
    )
    if where is not None:
        groups = groups.where(modifier_groups.c.menu_item_id.in_(select(menu_items.c.id).where(where)))
        options = options.where(modifier_groups.c.menu_item_id.in_(select(menu_items.c.id).where(where)))
    options_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(options):
        options_of[row.group_id].append(option_out(row))
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(groups):
        found[row.menu_item_id].append(group_out(row, options_of[row.id]))
    return found


def menu_items_where(conn: Connection, where: ColumnElement[bool] | None = None) -> list[MenuItem]:
    """The items `where` selects (all without it), whole, in the menu's order."""
    query = select(menu_items).outerjoin(menu_categories, IN_CATEGORY)
    if where is not None:
        query = query.where(where)
    groups = _groups(conn, where)
    return [menu_item_out(row, groups.get(row.id, [])) for row in conn.execute(query.order_by(*MENU_ORDER))]


def load_item(conn: Connection, item_id: int) -> MenuItem:
    found = menu_items_where(conn, menu_items.c.id == item_id)
    if not found:
        raise NotFound(f"menu item {item_id} does not exist")
    return found[0]


def categories_out(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(select(menu_categories).order_by(menu_categories.c.position, menu_categories.c.name))
    return {
        "categories": [
            {"name": row.name, "position": row.position, "course": row.course, "tax_rate_id": row.tax_rate_id}
            for row in rows
        ]
    }
