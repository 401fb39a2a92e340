"""Menu service: every change is one write unit that also emits its event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..errors import NotFound
from ..models import MenuItemIn, MenuItemUpdate
from ..schema import menu_items
from ..store import Store, Tx
from .representation import menu_item_out
from .stock import covered

MenuItem = dict[str, Any]


def _load(conn: Connection, item_id: int) -> MenuItem:
    row = conn.execute(select(menu_items).where(menu_items.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"menu item {item_id} does not exist")
    return menu_item_out(row)


def _all(conn: Connection) -> list[MenuItem]:
    query = select(menu_items).order_by(menu_items.c.category, menu_items.c.name, menu_items.c.id)
    return [menu_item_out(row) for row in conn.execute(query)]


async def list_menu(store: Store) -> list[MenuItem]:
    return await store.query(_all)


def _stations(conn: Connection) -> list[str]:
    return list(conn.execute(select(menu_items.c.station).distinct().order_by(menu_items.c.station)).scalars())


async def list_stations(store: Store) -> list[str]:
    """The kitchen's stations: those the menu's items are made at, by name."""
    return await store.query(_stations)


async def get_menu_item(store: Store, item_id: int) -> MenuItem:
    return await store.query(_load, item_id)


async def create_menu_item(store: Store, data: MenuItemIn) -> MenuItem:
    def unit(tx: Tx) -> MenuItem:
        # A new item has no recipe yet, so only the switch decides.
        values = data.model_dump() | {"switched_off": not data.available, "created_at": tx.now, "updated_at": tx.now}
        item_id = tx.conn.execute(insert(menu_items).values(values).returning(menu_items.c.id)).scalar_one()
        item = _load(tx.conn, item_id)
        tx.emit("menu.created", item)
        return item

    return await store.write(unit)


def _change(tx: Tx, item_id: int, changes: dict[str, Any], event_type: str) -> MenuItem:
    """Apply `changes`; `available` in them is a manager's switch: off stays off through restocks,
    and on means available only if stock covers a portion (else it comes on when restocked)."""
    before = _load(tx.conn, item_id)
    if "available" in changes:
        switched_on = changes.pop("available")
        changes["switched_off"] = not switched_on
        changes["available"] = switched_on and covered(tx.conn, item_id)
    if all(before[key] == value for key, value in changes.items()):
        return before  # nothing changed: nothing to tell anyone
    tx.conn.execute(update(menu_items).where(menu_items.c.id == item_id).values(changes | {"updated_at": tx.now}))
    item = _load(tx.conn, item_id)
    tx.emit(event_type, item)
    return item


async def update_menu_item(store: Store, item_id: int, data: MenuItemUpdate) -> MenuItem:
    changes = data.model_dump(exclude_none=True)
    return await store.write(lambda tx: _change(tx, item_id, changes, "menu.updated"))


async def set_availability(store: Store, item_id: int, available: bool) -> MenuItem:
    return await store.write(lambda tx: _change(tx, item_id, {"available": available}, "menu.availability"))
