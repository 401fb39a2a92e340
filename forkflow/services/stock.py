"""Stock that runs the menu: recipes, stock taken by orders, movements, and automatic 86.

Every function here that changes stock runs inside a write unit (it takes the `Tx`), so the
order, the stock it takes, the movements that record it and the menu items it sells out are one
transaction, and their events go out together after its commit.

A menu item is `available` when a manager has not switched it off (`switched_off`), every
ingredient of its recipe has at least one portion's worth in stock, and each of its required
modifier groups has an available option; a modifier option, when it is not switched off and stock
covers what its recipe adds. Whatever changes stock, a recipe or a switch recomputes that
(`refresh_availability`), in the same transaction, for the items and options it touches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update

from ..errors import Conflict, Invalid, NotFound
from ..formats import iso
from ..models import RecipeIn
from ..schema import (
    inventory,
    menu_items,
    modifier_groups,
    modifier_options,
    option_recipe_lines,
    recipe_lines,
    staff,
    stock_movements,
)
from ..store import Store, Tx
from .catalog import menu_items_where
from .representation import inventory_out, milli_to_number, number_to_milli

Recipe = dict[str, Any]


class OutOfStock(Conflict):
    """Stock cannot cover an order. The body names the stock items and their quantities (for staff);
    `menu_item_ids` and `option_ids` name the dishes and options of the order that need them (what
    the public is told)."""

    def __init__(
        self, message: str, fields: dict[str, str], menu_item_ids: list[int], option_ids: list[int], **extra: Any
    ) -> None:
        super().__init__(message, fields, **extra)
        self.menu_item_ids = menu_item_ids
        self.option_ids = option_ids


# Recipes


# Every recipe line with its stock item's name and unit, by menu item, then by stock item's name.
_LINES = (
    select(
        recipe_lines.c.menu_item_id,
        recipe_lines.c.inventory_id,
        recipe_lines.c.quantity_milli,
        inventory.c.item_name,
        inventory.c.unit,
    )
    .join(inventory, inventory.c.id == recipe_lines.c.inventory_id)
    .order_by(recipe_lines.c.menu_item_id, inventory.c.item_name)
)


# Every option's stock deltas, by its item's groups and options in the menu's order.
_OPTION_LINES = (
    select(
        option_recipe_lines.c.option_id,
        option_recipe_lines.c.inventory_id,
        option_recipe_lines.c.quantity_milli,
        inventory.c.item_name,
        inventory.c.unit,
    )
    .join(inventory, inventory.c.id == option_recipe_lines.c.inventory_id)
    .join(modifier_options, modifier_options.c.id == option_recipe_lines.c.option_id)
    .join(modifier_groups, modifier_groups.c.id == modifier_options.c.group_id)
    .order_by(modifier_groups.c.position, modifier_options.c.position, inventory.c.item_name)
)


def _ingredient(row: Any) -> dict[str, Any]:
    return {
        "inventory_id": row.inventory_id,
        "item_name": row.item_name,
        "unit": row.unit,
        "quantity": milli_to_number(row.quantity_milli),
    }


def _ingredients(conn: Connection, query: Select[Any]) -> dict[int, list[dict[str, Any]]]:
    """The ingredients of the recipe lines `query` selects, by menu item id."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(query):
        found[row.menu_item_id].append(_ingredient(row))
    return dict(found)


def _recipe(conn: Connection, menu_item_id: int) -> Recipe:
    if conn.execute(select(menu_items.c.id).where(menu_items.c.id == menu_item_id)).first() is None:
        raise NotFound(f"menu item {menu_item_id} does not exist")
    ingredients = _ingredients(conn, _LINES.where(recipe_lines.c.menu_item_id == menu_item_id))
    by_option: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(_OPTION_LINES.where(modifier_groups.c.menu_item_id == menu_item_id)):
        by_option[row.option_id].append(_ingredient(row))
    return {
        "menu_item_id": menu_item_id,
        "ingredients": ingredients.get(menu_item_id, []),
        "options": [{"option_id": option_id, "ingredients": lines} for option_id, lines in by_option.items()],
    }


async def get_recipe(store: Store, menu_item_id: int) -> Recipe:
    return await store.query(_recipe, menu_item_id)


async def list_recipes(store: Store) -> dict[int, list[dict[str, Any]]]:
    """Every recipe's ingredients by menu item id, in one query (an item without a recipe is absent)."""
    return await store.query(_ingredients, _LINES)


async def set_recipe(store: Store, menu_item_id: int, data: RecipeIn) -> Recipe:
    """Replace what one portion takes from stock; the item's availability follows at once."""

    def unit(tx: Tx) -> Recipe:
        _recipe(tx.conn, menu_item_id)  # 404 for an unknown item
        wanted = [line.inventory_id for line in data.ingredients]
        found = set(tx.conn.execute(select(inventory.c.id).where(inventory.c.id.in_(wanted))).scalars())
        missing = {
            f"ingredients.{i}.inventory_id": f"no inventory item {line.inventory_id}"
            for i, line in enumerate(data.ingredients)
            if line.inventory_id not in found
        }
        if missing:
            raise Invalid("the recipe names stock that is not in the inventory", missing)
        tx.conn.execute(delete(recipe_lines).where(recipe_lines.c.menu_item_id == menu_item_id))
        if data.ingredients:
            rows = [
                {"menu_item_id": menu_item_id, "inventory_id": line.inventory_id, "quantity_milli": milli}
                for line in data.ingredients
                if (milli := number_to_milli(line.quantity))
            ]
            tx.conn.execute(insert(recipe_lines), rows)
        recipe = _recipe(tx.conn, menu_item_id)
        tx.emit("inventory.recipe", recipe)  # recipes are the managers', like stock
        refresh_availability(tx, menu_item_ids=[menu_item_id])
        return recipe

    return await store.write(unit)


# Availability


def _short_for_item() -> Any:
    """How many ingredients of the item (correlated to `menu_items`) have less than a portion in stock."""
    return (
        select(func.count())
        .select_from(recipe_lines.join(inventory, inventory.c.id == recipe_lines.c.inventory_id))
        .where(
            recipe_lines.c.menu_item_id == menu_items.c.id, inventory.c.quantity_milli < recipe_lines.c.quantity_milli
        )
        .scalar_subquery()
    )


def _unmet_groups() -> Any:
    """How many required groups (min >= 1) of the item (correlated) have no available option left."""
    any_available = (
        select(modifier_options.c.id)
        .where(modifier_options.c.group_id == modifier_groups.c.id, modifier_options.c.available)
        .exists()
    )
    return (
        select(func.count())
        .select_from(modifier_groups)
        .where(modifier_groups.c.menu_item_id == menu_items.c.id, modifier_groups.c.min_choices >= 1, ~any_available)
        .scalar_subquery()
    )


def _short_for_option() -> Any:
    """How many stock items an option (correlated) takes more of than stock holds (gives back: never short)."""
    lines = option_recipe_lines
    return (
        select(func.count())
        .select_from(lines.join(inventory, inventory.c.id == lines.c.inventory_id))
        .where(
            lines.c.option_id == modifier_options.c.id,
            lines.c.quantity_milli > 0,
            inventory.c.quantity_milli < lines.c.quantity_milli,
        )
        .scalar_subquery()
    )


def refresh_options(tx: Tx, inventory_ids: Iterable[int] = (), menu_item_ids: Iterable[int] = ()) -> set[int]:
    """Bring options' `available` in line with their switch and stock, for the options whose recipes
    use these inventory items and the options of these menu items; the menu items whose options
    flipped are returned (their events are the caller's, with the whole item)."""
    inventory_ids, menu_item_ids = list(inventory_ids), list(menu_item_ids)
    users = select(option_recipe_lines.c.option_id).where(option_recipe_lines.c.inventory_id.in_(inventory_ids))
    rows = tx.conn.execute(
        select(
            modifier_options.c.id,
            modifier_groups.c.menu_item_id,
            modifier_options.c.available,
            modifier_options.c.switched_off,
            _short_for_option(),
        )
        .join(modifier_groups, modifier_groups.c.id == modifier_options.c.group_id)
        .where(modifier_options.c.id.in_(users) | modifier_groups.c.menu_item_id.in_(menu_item_ids))
    ).all()
    touched = set()
    for option_id, menu_item_id, available, switched_off, short_count in rows:
        should_be = not switched_off and short_count == 0
        if bool(available) != should_be:
            option = modifier_options.c.id == option_id
            tx.conn.execute(update(modifier_options).where(option).values(available=should_be))
            touched.add(menu_item_id)
    return touched


def refresh_availability(
    tx: Tx, inventory_ids: Iterable[int] = (), menu_item_ids: Iterable[int] = (), announce: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """Bring `available` in line with the switches and the stock for the menu items (and their
    options) that use these inventory items, or are named, emitting `menu.availability` with the
    whole item for each item that flips, whose options flipped, or that is in `announce`.

    An item is available when it is not switched off, stock covers a portion of its recipe, and
    each of its required groups has an available option; an option, when it is not switched off
    and stock covers what it adds."""
    inventory_ids, menu_item_ids = list(inventory_ids), list(menu_item_ids)
    touched = refresh_options(tx, inventory_ids, menu_item_ids) | set(announce)
    users = select(recipe_lines.c.menu_item_id).where(recipe_lines.c.inventory_id.in_(inventory_ids))
    candidates = menu_items.c.id.in_([*menu_item_ids, *touched]) | menu_items.c.id.in_(users)
    rows = tx.conn.execute(
        select(
            menu_items.c.id, menu_items.c.available, menu_items.c.switched_off, _short_for_item(), _unmet_groups()
        ).where(candidates)
    )
    changed = []
    for item_id, available, switched_off, short_count, unmet in rows.all():
        should_be = not switched_off and short_count == 0 and unmet == 0
        if bool(available) != should_be:
            tx.conn.execute(
                update(menu_items).where(menu_items.c.id == item_id).values(available=should_be, updated_at=tx.now)
            )
            changed.append(item_id)
        elif item_id in touched:
            changed.append(item_id)
    announced = menu_items_where(tx.conn, menu_items.c.id.in_(changed)) if changed else []
    for item in sorted(announced, key=lambda item: item["id"]):
        tx.emit("menu.availability", item)
    return announced


def can_be_made(conn: Connection, menu_item_id: int) -> bool:
    """Whether stock holds one portion of the item's recipe and each required group has an
    available option (the switch aside)."""
    query = select(_short_for_item(), _unmet_groups()).where(menu_items.c.id == menu_item_id)
    short, unmet = conn.execute(query).one()
    return bool(short == 0 and unmet == 0)


# Movements


def move_stock(
    tx: Tx,
    inventory_id: int,
    kind: str,
    delta_milli: int,
    *,
    order_id: int | None = None,
    staff_id: int | None = None,
    note: str = "",
) -> None:
    """Change one item's stock by `delta_milli` and record it; refuses to go below zero. Emits
    `inventory.updated`, and `inventory.low` when this change takes it to its low-stock level."""
    before = tx.conn.execute(select(inventory).where(inventory.c.id == inventory_id)).first()
    if before is None:
        raise NotFound(f"inventory item {inventory_id} does not exist")
    after_milli = before.quantity_milli + delta_milli
    if after_milli < 0:
        raise Conflict(
            f"only {milli_to_number(before.quantity_milli)} {before.unit} of {before.item_name} in stock",
            {"delta": "would take stock below zero"},
        )
    # Conditional on the quantity read: with several writers (PostgreSQL) a concurrent change makes
    # this update miss instead of overwriting it.
    changed = tx.conn.execute(
        update(inventory)
        .where(inventory.c.id == inventory_id, inventory.c.quantity_milli == before.quantity_milli)
        .values(quantity_milli=after_milli, last_updated=tx.now)
    ).rowcount
    if changed != 1:
        raise Conflict(f"the stock of {before.item_name} changed meanwhile; try again")
    tx.conn.execute(
        insert(stock_movements).values(
            inventory_id=inventory_id,
            kind=kind,
            delta_milli=delta_milli,
            quantity_milli=after_milli,
            order_id=order_id,
            staff_id=staff_id,
            note=note,
            created_at=tx.now,
        )
    )
    after = tx.conn.execute(select(inventory).where(inventory.c.id == inventory_id)).one()
    item = inventory_out(after)
    tx.emit("inventory.updated", item)
    threshold = after.low_stock_milli
    if threshold is not None and after_milli <= threshold < before.quantity_milli:
        tx.emit("inventory.low", item)


def _in(ids: Iterable[int]) -> str:
    return ", ".join("?" * len(list(ids)))


def _needs(
    tx: Tx, portions: dict[int, int], chosen: dict[int, int]
) -> tuple[list[Any], list[Any], dict[int, int], dict[int, tuple[str, str, int]]]:
    """What `portions` ({menu item id: count}) and `chosen` options ({option id: times, line
    quantities counted}) take from stock by their recipes now: the recipe rows and option rows read,
    the net thousandths per stock item, and each stock item's (name, unit, quantity in stock)."""
    rows = tx.sql(
        "SELECT r.menu_item_id, r.inventory_id, r.quantity_milli, i.item_name, i.unit, i.quantity_milli "
        f"FROM recipe_lines r JOIN inventory i ON i.id = r.inventory_id WHERE r.menu_item_id IN ({_in(portions)})",
        list(portions),
    ).fetchall()
    option_rows = []
    if chosen:
        option_rows = tx.sql(
            "SELECT r.option_id, r.inventory_id, r.quantity_milli, i.item_name, i.unit, i.quantity_milli "
            "FROM option_recipe_lines r JOIN inventory i ON i.id = r.inventory_id "
            f"WHERE r.option_id IN ({_in(chosen)})",
            list(chosen),
        ).fetchall()
    net: dict[int, int] = defaultdict(int)
    stock: dict[int, tuple[str, str, int]] = {}
    for menu_item_id, inventory_id, per_portion, name, unit_name, quantity in rows:
        net[inventory_id] += per_portion * portions[menu_item_id]
        stock[inventory_id] = (name, unit_name, quantity)
    for option_id, inventory_id, delta, name, unit_name, quantity in option_rows:
        net[inventory_id] += delta * chosen[option_id]
        stock[inventory_id] = (name, unit_name, quantity)
    return rows, option_rows, net, stock


def take_for_order(tx: Tx, order_id: int, portions: dict[int, int], options: dict[int, int] | None = None) -> None:
    """Take the recipes of `portions` ({menu item id: count}) and the stock deltas of `options`
    ({option id: times chosen, line quantities counted}) off stock for an order, or refuse the whole
    order with 409 naming what ran out (nothing taken). A negative delta takes less of a stock item
    ("no cheese"); an order never adds to stock. Sells out what can no longer be made."""
    rows, option_rows, net, stock = _needs(tx, portions, options or {})
    needed = {inventory_id: milli for inventory_id, milli in net.items() if milli > 0}
    if not needed:
        return
    short_ids = {i for i in needed if needed[i] > stock[i][2]}
    short = [(stock[i], needed[i]) for i in sorted(short_ids)]
    if short:
        ran_out = ", ".join(
            f"{name} (needs {milli_to_number(need)} {unit_name}, {milli_to_number(have)} left)"
            for (name, unit_name, have), need in short
        )
        dishes = sorted({menu_item_id for menu_item_id, inventory_id, *_ in rows if inventory_id in short_ids})
        takers = sorted(
            {option_id for option_id, inventory_id, delta, *_ in option_rows if inventory_id in short_ids and delta > 0}
        )
        raise OutOfStock(
            f"not enough stock for this order: {ran_out}",
            {"items": "not enough stock"},
            dishes,
            takers,
            out_of_stock=[
                {"item_name": name, "unit": unit_name, "needed": milli_to_number(need), "left": milli_to_number(have)}
                for (name, unit_name, have), need in short
            ],
        )
    for inventory_id in sorted(needed):
        move_stock(tx, inventory_id, "order", -needed[inventory_id], order_id=order_id)
    refresh_availability(tx, inventory_ids=needed)


def return_for_order(tx: Tx, order_id: int, staff_id: int | None = None) -> None:
    """Put back exactly what an order took (whatever its recipes say now)."""
    taken = tx.conn.execute(
        select(stock_movements.c.inventory_id, func.sum(stock_movements.c.delta_milli))
        .where(stock_movements.c.order_id == order_id, stock_movements.c.kind.in_(("order", "cancel")))
        .group_by(stock_movements.c.inventory_id)
        .order_by(stock_movements.c.inventory_id)
    ).all()
    returned = []
    for inventory_id, net in taken:
        if net < 0:
            move_stock(tx, inventory_id, "cancel", -net, order_id=order_id, staff_id=staff_id)
            returned.append(inventory_id)
    refresh_availability(tx, inventory_ids=returned)


def return_for_line(tx: Tx, order_id: int, menu_item_id: int, quantity: int, options: dict[int, int]) -> None:
    """Put back what one voided line of an order takes by its recipe and its chosen `options`
    ({option id: times per portion}) now, as `cancel` movements of the order (noted as a void):
    never more of a stock item than the order still holds of it, so a later cancel of the whole
    order (`return_for_order`) gives back only the rest."""
    chosen = {option_id: times * quantity for option_id, times in options.items()}
    _, _, net, _ = _needs(tx, {menu_item_id: quantity}, chosen)
    held = dict(
        tx.conn.execute(
            select(stock_movements.c.inventory_id, -func.sum(stock_movements.c.delta_milli))
            .where(stock_movements.c.order_id == order_id, stock_movements.c.kind.in_(("order", "cancel")))
            .group_by(stock_movements.c.inventory_id)
        ).all()
    )
    returned = []
    for inventory_id in sorted(net):
        back = min(net[inventory_id], held.get(inventory_id, 0))
        if back > 0:
            move_stock(tx, inventory_id, "cancel", back, order_id=order_id, note="line voided")
            returned.append(inventory_id)
    refresh_availability(tx, inventory_ids=returned)


def _movements(conn: Connection, inventory_id: int, limit: int) -> list[dict[str, Any]]:
    if conn.execute(select(inventory.c.id).where(inventory.c.id == inventory_id)).first() is None:
        raise NotFound(f"inventory item {inventory_id} does not exist")
    query = (
        select(stock_movements, staff.c.name.label("staff_name"))
        .outerjoin(staff, staff.c.id == stock_movements.c.staff_id)
        .where(stock_movements.c.inventory_id == inventory_id)
        .order_by(stock_movements.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "inventory_id": row.inventory_id,
            "kind": row.kind,
            "delta": milli_to_number(row.delta_milli),
            "quantity": milli_to_number(row.quantity_milli),
            "order_id": row.order_id,
            "staff": row.staff_name,
            "note": row.note,
            "created_at": iso(row.created_at),
        }
        for row in conn.execute(query)
    ]


async def list_movements(store: Store, inventory_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    return await store.query(_movements, inventory_id, limit)
