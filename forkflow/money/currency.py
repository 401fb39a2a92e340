"""The restaurant's currency and locale, set once (FORKFLOW_CURRENCY, FORKFLOW_LOCALE): how many
minor units an amount has, how cash is rounded, and how money reads on every screen and paper.

All of it comes from the Unicode CLDR data that Babel ships, so nothing about a currency is
written here: JPY has no minor unit, CHF cash rounds to 5 centimes, DKK cash to 50 øre.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    is_currency,
)


@dataclass(frozen=True)
class Currency:
    """An ISO 4217 code and the locale that formats it (a Babel locale name: "en_US", "de_CH")."""

    code: str = "USD"
    locale: str = "en_US"

    def __post_init__(self) -> None:
        try:
            Locale.parse(self.locale)
        except (ValueError, UnknownLocaleError) as exc:
            raise ValueError(f"unknown locale {self.locale!r} (a name such as en_US or de_CH)") from exc
        if not is_currency(self.code):
            raise ValueError(f"unknown currency {self.code!r} (an ISO 4217 code such as USD, EUR or JPY)")

    @property
    def digits(self) -> int:
        """Minor units per major unit, as a power of ten: 2 for USD (cents), 0 for JPY."""
        return int(get_currency_precision(self.code))

    @property
    def cash_increment(self) -> int:
        """The smallest amount cash can settle, in minor units: 1 for most, 5 for CHF."""
        fractions = get_global("currency_fractions")
        _, _, cash_digits, cash_rounding = fractions.get(self.code, fractions["DEFAULT"])
        return int(max(1, cash_rounding) * 10 ** (self.digits - cash_digits))

    def cash_rounded(self, amount: int) -> int:
        """`amount` rounded half-up to what cash can pay (CHF 12.37 -> 12.35, 12.38 -> 12.40)."""
        step = self.cash_increment
        return int((Decimal(amount) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step

    @property
    def symbol(self) -> str:
        """How the locale writes the currency's sign: "$", "€", "CHF"."""
        return str(get_currency_symbol(self.code, locale=self.locale))

    def major(self, amount: int) -> Decimal:
        """Minor units as an exact decimal of major ones (1250 -> Decimal("12.50"))."""
        return Decimal(amount).scaleb(-self.digits)

    def minor(self, value: Decimal) -> int:
        """An exact decimal of major units as minor units; more decimals than the currency has is an error."""
        scaled = value.scaleb(self.digits)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.digits} decimals for {self.code}")
        return int(scaled)

    def format(self, amount: int) -> str:
        """With its symbol, as the locale writes it: "$1,234.50", "1.234,50 €", "￥1,234"."""
        return str(format_currency(self.major(amount), self.code, locale=self.locale))

    def number(self, amount: int) -> str:
        """Without the symbol (columns of figures, CSV for people): "1,234.50"."""
        places = "#,##0" + ("." + "0" * self.digits if self.digits else "")
        return str(format_decimal(self.major(amount), format=places, locale=self.locale))
