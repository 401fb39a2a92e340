"""Inventory service: stock kept in thousandths of its unit, never below zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..errors import Conflict, NotFound
from ..models import MAX_STOCK, InventoryIn, InventoryPatch
from ..schema import inventory
from ..store import Store, Tx
from .representation import inventory_out, milli_to_number, number_to_milli

StockItem = dict[str, Any]


def _row(conn: Connection, item_id: int) -> Any:
    row = conn.execute(select(inventory).where(inventory.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"inventory item {item_id} does not exist")
    return row


def _name_taken(conn: Connection, name: str, other_than: int | None = None) -> bool:
    query = select(inventory.c.id).where(inventory.c.item_name == name)
    if other_than is not None:
        query = query.where(inventory.c.id != other_than)
    return conn.execute(query).first() is not None


def _all(conn: Connection) -> list[StockItem]:
    return [inventory_out(row) for row in conn.execute(select(inventory).order_by(inventory.c.item_name))]


async def list_inventory(store: Store) -> list[StockItem]:
    return await store.query(_all)


async def get_inventory_item(store: Store, item_id: int) -> StockItem:
    return inventory_out(await store.query(_row, item_id))


async def create_inventory_item(store: Store, data: InventoryIn) -> StockItem:
    def unit(tx: Tx) -> StockItem:
        if _name_taken(tx.conn, data.item_name):
            raise Conflict(f"{data.item_name!r} is already in the inventory", {"item_name": "already exists"})
        values = {
            "item_name": data.item_name,
            "quantity_milli": number_to_milli(data.quantity),
            "unit": data.unit,
            "low_stock_milli": None if data.low_stock is None else number_to_milli(data.low_stock),
            "last_updated": tx.now,
        }
        item_id = tx.conn.execute(insert(inventory).values(values).returning(inventory.c.id)).scalar_one()
        item = inventory_out(_row(tx.conn, item_id))
        tx.emit("inventory.created", item)
        return item

    return await store.write(unit)


async def change_inventory_item(store: Store, item_id: int, data: InventoryPatch) -> StockItem:
    def unit(tx: Tx) -> StockItem:
        row = _row(tx.conn, item_id)
        changes: dict[str, Any] = {}
        if data.item_name is not None and data.item_name != row.item_name:
            if _name_taken(tx.conn, data.item_name, other_than=item_id):
                raise Conflict(f"{data.item_name!r} is already in the inventory", {"item_name": "already exists"})
            changes["item_name"] = data.item_name
        if data.unit is not None and data.unit != row.unit:
            changes["unit"] = data.unit
        if data.quantity is not None:
            changes["quantity_milli"] = number_to_milli(data.quantity)
        if data.delta is not None:
            new_milli = row.quantity_milli + number_to_milli(data.delta)
            if new_milli > number_to_milli(Decimal(MAX_STOCK)):
                raise Conflict(f"{row.item_name} would hold more than {MAX_STOCK} {row.unit}", {"delta": "too large"})
            if new_milli < 0:
                raise Conflict(
                    f"only {milli_to_number(row.quantity_milli)} {row.unit} of {row.item_name} in stock",
                    {"delta": "would take stock below zero"},
                )
            changes["quantity_milli"] = new_milli
        if data.changes_low_stock:
            low_stock_milli = None if data.low_stock is None else number_to_milli(data.low_stock)
            if low_stock_milli != row.low_stock_milli:
                changes["low_stock_milli"] = low_stock_milli
        if changes.get("quantity_milli") == row.quantity_milli:
            del changes["quantity_milli"]
        if not changes:
            return inventory_out(row)
        tx.conn.execute(update(inventory).where(inventory.c.id == item_id).values(changes | {"last_updated": tx.now}))
        item = inventory_out(_row(tx.conn, item_id))
        tx.emit("inventory.updated", item)
        return item

    return await store.write(unit)
