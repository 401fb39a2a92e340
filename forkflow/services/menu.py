"""Menu service: every change is one write unit that also emits its event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFound
from ..models import MenuItemIn, MenuItemUpdate
from ..schema import menu_items
from ..store import Store, Tx
from .representation import menu_item_out

MenuItem = dict[str, Any]


async def _load(conn: AsyncConnection, item_id: int) -> MenuItem:
    row = (await conn.execute(select(menu_items).where(menu_items.c.id == item_id))).first()
    if row is None:
        raise NotFound(f"menu item {item_id} does not exist")
    return menu_item_out(row)


async def list_menu(store: Store) -> list[MenuItem]:
    query = select(menu_items).order_by(menu_items.c.category, menu_items.c.name, menu_items.c.id)
    async with store.read() as conn:
        return [menu_item_out(row) for row in await conn.execute(query)]


async def get_menu_item(store: Store, item_id: int) -> MenuItem:
    async with store.read() as conn:
        return await _load(conn, item_id)


async def create_menu_item(store: Store, data: MenuItemIn) -> MenuItem:
    async def unit(tx: Tx) -> MenuItem:
        values = data.model_dump() | {"created_at": tx.now, "updated_at": tx.now}
        item_id = (await tx.conn.execute(insert(menu_items).values(values).returning(menu_items.c.id))).scalar_one()
        item = await _load(tx.conn, item_id)
        await tx.emit("menu.created", item)
        return item

    return await store.write(unit)


async def update_menu_item(store: Store, item_id: int, data: MenuItemUpdate) -> MenuItem:
    async def unit(tx: Tx) -> MenuItem:
        before = await _load(tx.conn, item_id)
        changes = data.model_dump(exclude_none=True)
        if all(before[key] == value for key, value in changes.items()):
            return before  # nothing changed: nothing to tell anyone
        await tx.conn.execute(
            update(menu_items).where(menu_items.c.id == item_id).values(changes | {"updated_at": tx.now})
        )
        item = await _load(tx.conn, item_id)
        await tx.emit("menu.updated", item)
        return item

    return await store.write(unit)


async def set_availability(store: Store, item_id: int, available: bool) -> MenuItem:
    async def unit(tx: Tx) -> MenuItem:
        before = await _load(tx.conn, item_id)
        if before["available"] == available:
            return before
        await tx.conn.execute(
            update(menu_items).where(menu_items.c.id == item_id).values(available=available, updated_at=tx.now)
        )
        item = await _load(tx.conn, item_id)
        await tx.emit("menu.availability", item)
        return item

    return await store.write(unit)
