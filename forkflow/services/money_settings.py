"""The restaurant's money settings as read (row 1 of `money_settings`): whether menu prices include
tax, how tax is rounded, the service charge and the tables it applies to, the cashier's discount limit.

Invariant: an order copies the terms it is priced under (`MoneySettings.terms_for`) when it is
placed, in its own write; changing the settings (services/taxes.py) never reprices an order already
placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ..money.pricing import Terms
from ..schema import money_settings
from ..store import Store, Tx
from ..vocabulary import Channel, TaxRounding
from .representation import milli_to_number


@dataclass(frozen=True)
class MoneySettings:
    """The settings as stored (percents × 1000)."""

    prices_include_tax: bool
    tax_rounding: TaxRounding
    service_charge_milli: int
    service_charge_min_guests: int | None
    cashier_discount_limit_milli: int

    def out(self) -> dict[str, Any]:
        """As the API, the console and the event show them (percents as numbers)."""
        return {
            "prices_include_tax": self.prices_include_tax,
            "tax_rounding": self.tax_rounding,
            "service_charge_percent": milli_to_number(self.service_charge_milli),
            "service_charge_min_guests": self.service_charge_min_guests,
            "cashier_discount_limit_percent": milli_to_number(self.cashier_discount_limit_milli),
        }

    def service_charge_for(self, channel: Channel, guests: int | None) -> int:
        """The service charge rate (× 1000) of an order placed now: table orders only, and with
        at least the minimum of guests when one is set (an order that gave none has too few)."""
        if channel != "table":
            return 0
        least = self.service_charge_min_guests
        if least is not None and (guests is None or guests < least):
            return 0
        return self.service_charge_milli

    def terms_for(self, channel: Channel, guests: int | None) -> Terms:
        """The terms an order placed now is priced under, for good."""
        return Terms(self.prices_include_tax, self.tax_rounding, self.service_charge_for(channel, guests))


_COLUMNS = (
    money_settings.c.prices_include_tax,
    money_settings.c.tax_rounding,
    money_settings.c.service_charge_milli,
    money_settings.c.service_charge_min_guests,
    money_settings.c.cashier_discount_limit_milli,
)
# An item's tax rate, for SQL reading menu_items `m` joined to its menu_categories `c`: its own
# rate, else its category's (`TAX_COLUMNS`: the rate's name, "" for none, and percent × 1000).
TAX_JOIN = " LEFT JOIN tax_rates t ON t.id = COALESCE(m.tax_rate_id, c.tax_rate_id)"
TAX_COLUMNS = "COALESCE(t.name, ''), COALESCE(t.percent_milli, 0)"
# In the order's write: plain SQL (`Tx.sql`), as services/orders.py's create_order.
_FOR_ORDER_SQL = (
    "SELECT prices_include_tax, tax_rounding, service_charge_milli, service_charge_min_guests,"
    " cashier_discount_limit_milli FROM money_settings WHERE id = 1"
)


def _settings(row: Any) -> MoneySettings:
    return MoneySettings(bool(row[0]), row[1], row[2], row[3], row[4])


def read_money_settings(conn: Connection) -> MoneySettings:
    return _settings(conn.execute(select(*_COLUMNS).where(money_settings.c.id == 1)).one())


def money_settings_in(tx: Tx) -> MoneySettings:
    """The settings as a write reads them (the order's, on its hot path)."""
    return _settings(tx.sql(_FOR_ORDER_SQL).fetchone())


async def get_money_settings(store: Store) -> MoneySettings:
    return await store.query(read_money_settings)
