"""Inventory service: stock kept in thousandths of its unit, never below zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..errors import Conflict, NotFound
from ..models import MAX_STOCK, InventoryIn, InventoryPatch
from ..schema import inventory, stock_movements
from ..store import Store, Tx
from .representation import inventory_out, number_to_milli
from .stock import move_stock, refresh_availability

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


async def create_inventory_item(store: Store, data: InventoryIn, staff_id: int | None = None) -> StockItem:
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
        opening = {
            "inventory_id": item_id,
            "kind": "count",
            "delta_milli": values["quantity_milli"],
            "quantity_milli": values["quantity_milli"],
            "staff_id": staff_id,
            "note": "opening stock",
            "created_at": tx.now,
        }
        tx.conn.execute(insert(stock_movements).values(opening))
        item = inventory_out(_row(tx.conn, item_id))
        tx.emit("inventory.created", item)
        return item

    return await store.write(unit)


def _movement_kind(data: InventoryPatch, delta_milli: int) -> str:
    """What a stock change is, for its movement: as stated, or read from what was sent."""
    if data.reason is not None:
        return data.reason
    if data.quantity is not None:
        return "count"
    return "restock" if delta_milli > 0 else "waste"


async def change_inventory_item(
    store: Store, item_id: int, data: InventoryPatch, staff_id: int | None = None
) -> StockItem:
    """Rename, re-unit, set the low-stock level, or change the quantity: a count (`quantity`) or a
    restock or waste (`delta`), recorded as a movement; what the new stock can or cannot make
    comes back on, or sells out, in the same transaction."""

    def unit(tx: Tx) -> StockItem:
        row = _row(tx.conn, item_id)
        changes: dict[str, Any] = {}
        if data.item_name is not None and data.item_name != row.item_name:
            if _name_taken(tx.conn, data.item_name, other_than=item_id):
                raise Conflict(f"{data.item_name!r} is already in the inventory", {"item_name": "already exists"})
            changes["item_name"] = data.item_name
        if data.unit is not None and data.unit != row.unit:
            changes["unit"] = data.unit
        if data.changes_low_stock:
            low_stock_milli = None if data.low_stock is None else number_to_milli(data.low_stock)
            if low_stock_milli != row.low_stock_milli:
                changes["low_stock_milli"] = low_stock_milli
        delta_milli = 0
        if data.quantity is not None:
            delta_milli = number_to_milli(data.quantity) - row.quantity_milli
        if data.delta is not None:
            delta_milli = number_to_milli(data.delta)
            if row.quantity_milli + delta_milli > number_to_milli(Decimal(MAX_STOCK)):
                raise Conflict(f"{row.item_name} would hold more than {MAX_STOCK} {row.unit}", {"delta": "too large"})
        if not changes and not delta_milli:
            return inventory_out(row)
        if changes:
            tx.conn.execute(
                update(inventory).where(inventory.c.id == item_id).values(changes | {"last_updated": tx.now})
            )
        if delta_milli:
            kind = _movement_kind(data, delta_milli)
            move_stock(tx, item_id, kind, delta_milli, staff_id=staff_id, note=data.note)
            refresh_availability(tx, inventory_ids=[item_id])
        else:
            tx.emit("inventory.updated", inventory_out(_row(tx.conn, item_id)))
        return inventory_out(_row(tx.conn, item_id))

    return await store.write(unit)
