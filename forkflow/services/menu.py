"""Menu service: every change is one write unit that also emits its event.

An item's modifier groups and options are written with the item: a group or option sent with its
`id` keeps it (orders name options by id), one sent without is new, and those left out are deleted
(an order keeps its own snapshot of what was chosen). Every id and stock item named is checked
before anything is written. The categories' order (`menu_categories`) follows the items' writes: a
new category goes last, an emptied one goes away.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ..errors import Invalid, NotFound
from ..models import CategoryOrderIn, MenuItemIn, MenuItemUpdate, ModifierGroupIn
from ..schema import inventory, menu_categories, menu_items, modifier_groups, modifier_options, option_recipe_lines
from ..store import Store, Tx
from ..vocabulary import ALLERGENS, DIETARY
from .catalog import MenuItem, categories_out, load_item, menu_items_where
from .representation import joined, number_to_milli
from .stock import can_be_made, refresh_availability, refresh_options
from .taxes import check_rate_ids


async def list_menu(store: Store) -> list[MenuItem]:
    return await store.query(menu_items_where)


def _stations(conn: Connection) -> list[str]:
    return list(conn.execute(select(menu_items.c.station).distinct().order_by(menu_items.c.station)).scalars())


async def list_stations(store: Store) -> list[str]:
    """The kitchen's stations: those the menu's items are made at, by name."""
    return await store.query(_stations)


async def get_menu_item(store: Store, item_id: int) -> MenuItem:
    return await store.query(load_item, item_id)


# Categories


def _sync_categories(conn: Connection) -> None:
    """A row for each category that has items (a new one last), none for a category without."""
    used = select(menu_items.c.category).distinct()
    conn.execute(delete(menu_categories).where(menu_categories.c.name.not_in(used)))
    known = set(conn.execute(select(menu_categories.c.name)).scalars())
    last = conn.execute(select(func.coalesce(func.max(menu_categories.c.position), -1))).scalar_one()
    for name in sorted(set(conn.execute(used).scalars()) - known):
        last += 1
        conn.execute(insert(menu_categories).values(name=name, position=last))


async def list_categories(store: Store) -> dict[str, Any]:
    return await store.query(categories_out)


async def order_categories(store: Store, data: CategoryOrderIn) -> dict[str, Any]:
    """Put the categories in `order` first, in the order sent (the others follow in their current
    order), set each category's default course in `courses` and tax rate in `taxes`: one write,
    one `menu.categories` event when anything changed (a rate's change bumps the menu's revision:
    the table's trigger)."""
    named = data.order or []
    courses = data.courses or {}
    taxes = data.taxes or {}

    def unit(tx: Tx) -> dict[str, Any]:
        before = categories_out(tx.conn)
        current = [c["name"] for c in before["categories"]]
        problems = {f"order.{i}": f"no category {name!r}" for i, name in enumerate(named) if name not in current}
        # (names sent differently, the same once trimmed: " Mains" and "Mains")
        problems |= {f"order.{i}": "named twice" for i, name in enumerate(named) if name in named[:i]}
        problems |= {f"courses.{name}": f"no category {name!r}" for name in courses if name not in current}
        problems |= {f"taxes.{name}": f"no category {name!r}" for name in taxes if name not in current}
        if problems:
            raise Invalid("the request names categories that are not on the menu, or one twice", problems)
        check_rate_ids(tx.conn, {f"taxes.{name}": rate_id for name, rate_id in taxes.items()})
        wanted = named + [name for name in current if name not in named]
        was = {c["name"]: c for c in before["categories"]}
        for position, name in enumerate(wanted):
            old = was[name]
            values = {
                "position": position,
                "course": courses.get(name, old["course"]),
                "tax_rate_id": taxes.get(name, old["tax_rate_id"]),
            }
            if values != {key: old[key] for key in values}:
                tx.conn.execute(update(menu_categories).where(menu_categories.c.name == name).values(values))
        categories = categories_out(tx.conn)
        if categories != before:
            tx.emit("menu.categories", categories)
        return categories

    return await store.write(unit)


# Modifier groups


def _check_groups(conn: Connection, item_id: int | None, groups: list[ModifierGroupIn]) -> None:
    """Each id sent names one of this item's groups (an option id: one of that group's options), at
    most once, and each recipe names stock that exists: else 422 naming every such field."""
    own: dict[int, set[int]] = {}
    if item_id is not None:
        rows = conn.execute(
            select(modifier_groups.c.id, modifier_options.c.id)
            .outerjoin(modifier_options, modifier_options.c.group_id == modifier_groups.c.id)
            .where(modifier_groups.c.menu_item_id == item_id)
        )
        for group_id, option_id in rows:
            own.setdefault(group_id, set())
            if option_id is not None:
                own[group_id].add(option_id)
    named = {line.inventory_id for group in groups for option in group.options for line in option.recipe or ()}
    stock = set(conn.execute(select(inventory.c.id).where(inventory.c.id.in_(named))).scalars()) if named else set()
    problems: dict[str, str] = {}
    seen_groups: set[int] = set()
    seen_options: set[int] = set()
    for i, group in enumerate(groups):
        if group.id is not None:
            if group.id not in own or group.id in seen_groups:
                problems[f"modifier_groups.{i}.id"] = f"group {group.id} is not one of this item's, or is sent twice"
            seen_groups.add(group.id)
        for j, option in enumerate(group.options):
            where = f"modifier_groups.{i}.options.{j}"
            if option.id is not None:
                if option.id not in own.get(group.id or 0, set()) or option.id in seen_options:
                    problems[f"{where}.id"] = f"option {option.id} is not one of this group's, or is sent twice"
                seen_options.add(option.id)
            for k, line in enumerate(option.recipe or ()):
                if line.inventory_id not in stock:
                    problems[f"{where}.recipe.{k}.inventory_id"] = f"no inventory item {line.inventory_id}"
    if problems:
        raise Invalid("the modifier groups name what this item does not have", problems)


def _write_groups(conn: Connection, item_id: int, groups: list[ModifierGroupIn]) -> None:
    """Make the item's groups and options exactly these (checked by `_check_groups` first)."""
    kept = [group.id for group in groups if group.id is not None]
    conn.execute(
        delete(modifier_groups).where(modifier_groups.c.menu_item_id == item_id, modifier_groups.c.id.not_in(kept))
    )
    for position, group in enumerate(groups):
        values = {
            "name": group.name,
            "kind": group.kind,
            "position": position,
            "min_choices": group.min,
            "max_choices": group.max,
        }
        group_id = group.id
        if group_id is None:
            made = insert(modifier_groups).values(values | {"menu_item_id": item_id}).returning(modifier_groups.c.id)
            group_id = conn.execute(made).scalar_one()
        else:
            conn.execute(update(modifier_groups).where(modifier_groups.c.id == group_id).values(values))
        kept = [option.id for option in group.options if option.id is not None]
        conn.execute(
            delete(modifier_options).where(modifier_options.c.group_id == group_id, modifier_options.c.id.not_in(kept))
        )
        for option_position, option in enumerate(group.options):
            option_values = {
                "name": option.name,
                "position": option_position,
                "price_cents": option.price_cents,
                "allergens": joined(option.allergens, ALLERGENS),
            }
            option_id = option.id
            if option_id is None:
                made = (
                    insert(modifier_options)
                    .values(option_values | {"group_id": group_id, "available": True, "switched_off": False})
                    .returning(modifier_options.c.id)
                )
                option_id = conn.execute(made).scalar_one()
            else:
                conn.execute(update(modifier_options).where(modifier_options.c.id == option_id).values(option_values))
            if option.recipe is not None:
                conn.execute(delete(option_recipe_lines).where(option_recipe_lines.c.option_id == option_id))
                lines = [
                    {"option_id": option_id, "inventory_id": line.inventory_id, "quantity_milli": milli}
                    for line in option.recipe
                    if (milli := number_to_milli(line.quantity))
                ]
                if lines:
                    conn.execute(insert(option_recipe_lines), lines)


# Items


def _last_position(conn: Connection, category: str) -> int:
    """The position after the category's last item."""
    query = select(func.coalesce(func.max(menu_items.c.position) + 1, 0)).where(menu_items.c.category == category)
    position: int = conn.execute(query).scalar_one()
    return position


def _columns(data: MenuItemIn) -> dict[str, Any]:
    """The item's own columns among what was sent (left out of a PUT: not among them)."""
    values = data.model_dump(
        include={"name", "description", "price_cents", "category", "station", "position", "prep_minutes", "prep_load"}
    )
    if data.allergens is not None:
        values["allergens"] = joined(data.allergens, ALLERGENS)
    if data.dietary is not None:
        values["dietary"] = joined(data.dietary, DIETARY)
    values = {key: value for key, value in values.items() if value is not None}
    if "tax_rate_id" in data.model_fields_set:  # (null: its category's rate)
        values["tax_rate_id"] = data.tax_rate_id
    return values


async def create_menu_item(store: Store, data: MenuItemIn) -> MenuItem:
    def unit(tx: Tx) -> MenuItem:
        _check_groups(tx.conn, None, data.modifier_groups)
        check_rate_ids(tx.conn, {"tax_rate_id": data.tax_rate_id})
        values = _columns(data) | {
            "available": data.available,
            "switched_off": not data.available,
            "created_at": tx.now,
            "updated_at": tx.now,
        }
        values.setdefault("position", _last_position(tx.conn, data.category))
        item_id = tx.conn.execute(insert(menu_items).values(values).returning(menu_items.c.id)).scalar_one()
        _write_groups(tx.conn, item_id, data.modifier_groups)
        _sync_categories(tx.conn)
        # A new item has no recipe yet: its switch, and its options' stock for its required groups.
        refresh_options(tx, menu_item_ids=[item_id])
        _settle(tx.conn, item_id, data.available)
        item = load_item(tx.conn, item_id)
        tx.emit("menu.created", item)
        return item

    return await store.write(unit)


def _settle(conn: Connection, item_id: int, switched_on: bool) -> None:
    """`available` from the switch, the stock and the required groups, without an event."""
    available = switched_on and can_be_made(conn, item_id)
    conn.execute(
        update(menu_items).where(menu_items.c.id == item_id).values(switched_off=not switched_on, available=available)
    )


def _unchanged(before: MenuItem, after: MenuItem) -> bool:
    return {**before, "updated_at": None} == {**after, "updated_at": None}


def _change(tx: Tx, item_id: int, data: MenuItemUpdate | None, switched_on: bool | None, event_type: str) -> MenuItem:
    """Apply the sent fields (`data`) and the switch (`switched_on`: a manager's 86; off stays off
    through restocks, on means available once stock and the required groups allow)."""
    before = load_item(tx.conn, item_id)
    if data is not None:
        if data.modifier_groups is not None:
            _check_groups(tx.conn, item_id, data.modifier_groups)
        check_rate_ids(tx.conn, {"tax_rate_id": data.tax_rate_id})
        values = _columns(data)
        if "position" not in values and data.category != before["category"]:
            values["position"] = _last_position(tx.conn, data.category)
        tx.conn.execute(update(menu_items).where(menu_items.c.id == item_id).values(values))
        if data.modifier_groups is not None:
            _write_groups(tx.conn, item_id, data.modifier_groups)
        _sync_categories(tx.conn)
    refresh_options(tx, menu_item_ids=[item_id])
    _settle(tx.conn, item_id, not before["switched_off"] if switched_on is None else switched_on)
    after = load_item(tx.conn, item_id)
    if _unchanged(before, after):
        return before  # nothing changed: nothing to tell anyone
    tx.conn.execute(update(menu_items).where(menu_items.c.id == item_id).values(updated_at=tx.now))
    item = load_item(tx.conn, item_id)
    tx.emit(event_type, item)
    return item


async def move_menu_item(store: Store, item_id: int, step: int) -> list[MenuItem]:
    """Move an item `step` places within its category (stopping at either end), in one write: the
    category's items are numbered in their new order, and each whose position changed is told
    (`menu.updated`). Returns the category's items in their order."""

    def unit(tx: Tx) -> list[MenuItem]:
        item = load_item(tx.conn, item_id)  # 404 before anything else
        siblings = menu_items_where(tx.conn, menu_items.c.category == item["category"])
        order = [other["id"] for other in siblings]
        index = order.index(item_id)
        target = min(max(index + step, 0), len(order) - 1)
        if target == index:
            return siblings
        order.insert(target, order.pop(index))
        positions = {other["id"]: other["position"] for other in siblings}
        for position, other_id in enumerate(order):
            if positions[other_id] != position:
                moved = update(menu_items).where(menu_items.c.id == other_id)
                tx.conn.execute(moved.values(position=position, updated_at=tx.now))
                tx.emit("menu.updated", load_item(tx.conn, other_id))
        return menu_items_where(tx.conn, menu_items.c.category == item["category"])

    return await store.write(unit)


async def update_menu_item(store: Store, item_id: int, data: MenuItemUpdate) -> MenuItem:
    return await store.write(lambda tx: _change(tx, item_id, data, data.available, "menu.updated"))


async def set_availability(store: Store, item_id: int, available: bool) -> MenuItem:
    return await store.write(lambda tx: _change(tx, item_id, None, available, "menu.availability"))


async def set_option_availability(store: Store, item_id: int, option_id: int, available: bool) -> MenuItem:
    """A manager's 86 of one option: off stays off through restocks; on, it is available once stock
    covers it. The item follows (a required group left with nothing available takes it off)."""

    def unit(tx: Tx) -> MenuItem:
        found = tx.conn.execute(
            select(modifier_options.c.switched_off)
            .join(modifier_groups, modifier_groups.c.id == modifier_options.c.group_id)
            .where(modifier_options.c.id == option_id, modifier_groups.c.menu_item_id == item_id)
        ).first()
        if found is None:
            load_item(tx.conn, item_id)  # 404 naming the item when that is what is missing
            raise NotFound(f"menu item {item_id} has no option {option_id}")
        if bool(found.switched_off) == (not available):
            return load_item(tx.conn, item_id)  # nothing changed: nothing to tell anyone
        tx.conn.execute(
            update(modifier_options).where(modifier_options.c.id == option_id).values(switched_off=not available)
        )
        refresh_availability(tx, menu_item_ids=[item_id], announce=[item_id])
        return load_item(tx.conn, item_id)

    return await store.write(unit)
