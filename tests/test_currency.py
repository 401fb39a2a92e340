"""The restaurant's currency: minor units and cash rounding from CLDR, money as the locale writes it."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from forkflow.money.currency import Currency


@pytest.mark.parametrize(
    ("code", "locale", "digits", "cash", "shown"),
    [
        ("USD", "en_US", 2, 1, "$1,234.57"),
        ("EUR", "de_DE", 2, 1, "1.234,57\xa0€"),
        ("GBP", "en_GB", 2, 1, "£1,234.57"),
        ("JPY", "ja_JP", 0, 1, "￥123,457"),
        ("CHF", "de_CH", 2, 5, "CHF\xa01'234.57"),
    ],
)
def test_each_currency_has_its_minor_units_cash_rounding_and_format(
    code: str, locale: str, digits: int, cash: int, shown: str
) -> None:
    currency = Currency(code, locale)
    assert (currency.digits, currency.cash_increment) == (digits, cash)
    assert currency.format(123457) == shown


def test_swiss_cash_rounds_half_up_to_five_centimes() -> None:
    chf = Currency("CHF", "de_CH")
    assert [chf.cash_rounded(amount) for amount in (1235, 1237, 1238, 1242, 1243)] == [1235, 1235, 1240, 1240, 1245]
    assert Currency("EUR", "fr_FR").cash_rounded(1237) == 1237


def test_decimals_convert_exactly_or_not_at_all() -> None:
    assert Currency("USD").minor(Decimal("12.50")) == 1250
    assert Currency("JPY", "ja_JP").minor(Decimal("1200")) == 1200
    with pytest.raises(ValueError, match="more than 0 decimals"):
        Currency("JPY", "ja_JP").minor(Decimal("12.5"))
    assert Currency("JPY", "ja_JP").major(1200) == Decimal(1200)


@pytest.mark.parametrize(("variable", "value"), [("FORKFLOW_CURRENCY", "XYZ"), ("FORKFLOW_LOCALE", "xx_NOPE")])
def test_an_unknown_currency_or_locale_stops_the_server_at_start(variable: str, value: str) -> None:
    env = {"PATH": "/usr/bin:/bin", variable: value}
    code = "from forkflow.config import Settings; Settings.from_env()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert variable in result.stderr
