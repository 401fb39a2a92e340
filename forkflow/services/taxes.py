"""Tax rates and the money settings, as managers change them (permission "money.settings").

Invariant: each change is one write with its money event (`tax.rate_created`, `tax.rate_updated`,
`tax.rate_deleted`, `tax.settings_changed`: who, when, the rate or the settings before and after).
A change of a rate bumps the menu's revision in the same write, so the order writer's menu cache
(services/orders.py) never prices a line with a rate that changed; removing a rate clears it from
the categories and items that named it in that write too. Orders already placed keep the tax their
lines copied and the terms they were placed under: nothing here reprices them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..config import Settings
from ..errors import Conflict, Invalid, NotFound
from ..formats import iso
from ..models import MoneySettingsIn, TaxRateIn
from ..schema import menu_categories, menu_items, money_settings, tax_rates
from ..store import Store, Tx
from .audit import money_event
from .money_settings import MoneySettings, read_money_settings
from .representation import milli_to_number, number_to_milli

_BUMP_MENU_REVISION = "UPDATE menu_revision SET revision = revision + 1"


def tax_rate_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "percent": milli_to_number(row.percent_milli),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def tax_rates_out(conn: Connection) -> dict[str, Any]:
    """Every tax rate, by name."""
    rows = conn.execute(select(tax_rates).order_by(tax_rates.c.name, tax_rates.c.id))
    return {"tax_rates": [tax_rate_out(row) for row in rows]}


async def list_tax_rates(store: Store) -> dict[str, Any]:
    return await store.query(tax_rates_out)


def _load_rate(conn: Connection, rate_id: int) -> Any:
    row = conn.execute(select(tax_rates).where(tax_rates.c.id == rate_id)).first()
    if row is None:
        raise NotFound(f"tax rate {rate_id} does not exist")
    return row


def _check_name_free(conn: Connection, name: str, rate_id: int | None = None) -> None:
    """409 naming `name` when another rate has it already."""
    taken = conn.execute(select(tax_rates.c.id).where(tax_rates.c.name == name, tax_rates.c.id != (rate_id or 0)))
    if taken.first() is not None:
        raise Conflict(f"a tax rate is already named {name!r}", {"name": "already exists"})


def check_rate_ids(conn: Connection, wanted: dict[str, int | None]) -> None:
    """422 naming each field (key of `wanted`) whose tax rate id names no rate (None: no rate)."""
    ids = {rate_id for rate_id in wanted.values() if rate_id is not None}
    known = set(conn.execute(select(tax_rates.c.id).where(tax_rates.c.id.in_(ids))).scalars()) if ids else set()
    unknown = {field: f"no tax rate {rate_id}" for field, rate_id in wanted.items() if rate_id not in known | {None}}
    if unknown:
        raise Invalid("the request names tax rates that do not exist", unknown)


def _emit(tx: Tx, kind: str, by: str, settings: Settings, rate: dict[str, Any], **more: Any) -> None:
    money_event(tx, settings, f"tax.{kind}", by, tax_rate=rate, **more)


async def create_tax_rate(store: Store, data: TaxRateIn, by: str) -> dict[str, Any]:
    """A new rate (409 for a name taken); `tax.rate_created`."""

    def unit(tx: Tx) -> dict[str, Any]:
        _check_name_free(tx.conn, data.name)
        values = {"name": data.name, "percent_milli": number_to_milli(data.percent)}
        made = insert(tax_rates).values(**values, created_at=tx.now, updated_at=tx.now).returning(tax_rates.c.id)
        rate = tax_rate_out(_load_rate(tx.conn, tx.conn.execute(made).scalar_one()))
        _emit(tx, "rate_created", by, store.settings, rate)
        return rate

    return await store.write(unit)


async def update_tax_rate(store: Store, rate_id: int, data: TaxRateIn, by: str) -> dict[str, Any]:
    """Rename or change a rate (404, 409 for a name taken): lines ordered from now on copy it;
    `tax.rate_updated` with the rate before, none when nothing changed."""

    def unit(tx: Tx) -> dict[str, Any]:
        row = _load_rate(tx.conn, rate_id)
        before = tax_rate_out(row)
        milli = number_to_milli(data.percent)
        if (row.name, row.percent_milli) == (data.name, milli):
            return before
        _check_name_free(tx.conn, data.name, rate_id)
        changed = {"name": data.name, "percent_milli": milli, "updated_at": tx.now}
        tx.conn.execute(update(tax_rates).where(tax_rates.c.id == rate_id).values(changed))
        tx.sql(_BUMP_MENU_REVISION)
        rate = tax_rate_out(_load_rate(tx.conn, rate_id))
        _emit(tx, "rate_updated", by, store.settings, rate, before=before)
        return rate

    return await store.write(unit)


async def delete_tax_rate(store: Store, rate_id: int, by: str) -> None:
    """Remove a rate (404): the categories and items that named it are untaxed from now on (an item
    falls back to its category's rate); `tax.rate_deleted`."""

    def unit(tx: Tx) -> None:
        rate = tax_rate_out(_load_rate(tx.conn, rate_id))
        for table in (menu_items, menu_categories):
            tx.conn.execute(update(table).where(table.c.tax_rate_id == rate_id).values(tax_rate_id=None))
        tx.conn.execute(delete(tax_rates).where(tax_rates.c.id == rate_id))
        tx.sql(_BUMP_MENU_REVISION)
        _emit(tx, "rate_deleted", by, store.settings, rate)

    await store.write(unit)


async def set_money_settings(store: Store, data: MoneySettingsIn, by: str) -> dict[str, Any]:
    """Replace the settings: one write with its `tax.settings_changed` event (none when nothing
    changed). Orders already placed keep the terms they were placed under."""
    new = MoneySettings(
        data.prices_include_tax,
        data.tax_rounding,
        number_to_milli(data.service_charge_percent),
        data.service_charge_min_guests,
        number_to_milli(data.cashier_discount_limit_percent),
    )

    def unit(tx: Tx) -> dict[str, Any]:
        before = read_money_settings(tx.conn)
        if before == new:
            return new.out()
        tx.conn.execute(update(money_settings).where(money_settings.c.id == 1).values(asdict(new)))
        money_event(tx, store.settings, "tax.settings_changed", by, before=before.out(), after=new.out())
        return new.out()

    return await store.write(unit)
