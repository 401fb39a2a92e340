"""Money, local time, allergens and dietary tags: the one formatter of each, as the templates' filters use them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from forkflow.formats import local_time, money
from forkflow.vocabulary import ALLERGEN_LABELS, DIETARY_LABELS
from forkflow.web import templates

PARIS = ZoneInfo("Europe/Paris")


def test_money_is_the_currency_as_the_locale_writes_it_usd_in_en_us_by_default() -> None:
    assert [money(0), money(5), money(1250), money(123456)] == ["$0.00", "$0.05", "$12.50", "$1,234.56"]


def test_local_time_reads_utc_strings_and_datetimes_alike_in_the_restaurant_zone() -> None:
    summer = datetime(2024, 7, 1, 11, 5, 9, tzinfo=UTC)  # Paris is UTC+2 in summer
    assert local_time(summer, PARIS) == "13:05"
    assert local_time("2024-07-01T11:05:09Z", PARIS) == "13:05"
    assert local_time("2024-07-01T11:05:09.123456+00:00", PARIS, "stamp") == "2024-07-01 13:05:09"
    assert local_time("2024-01-01T23:30:00Z", PARIS, "stamp") == "2024-01-02 00:30:00"  # winter, next day


def test_the_templates_have_both_as_filters() -> None:
    page = templates.env.from_string("{{ cents|money }} at {{ moment|local_time(zone) }}")
    assert page.render(cents=1550, moment="2024-01-01T12:00:00Z", zone=PARIS) == "$15.50 at 13:00"


def test_allergens_and_dietary_tags_read_as_the_vocabularys_labels_in_templates() -> None:
    render = templates.env.from_string("{{ a|map('allergen')|join(', ') }} / {{ d|map('dietary')|join(', ') }}").render
    assert render(a=["gluten", "tree_nuts"], d=["vegan"]) == "Cereals containing gluten, Tree nuts / Vegan"
    assert all(templates.env.filters["dietary"](word) == label for word, label in DIETARY_LABELS.items())
    assert all(templates.env.filters["allergen"](word) == label for word, label in ALLERGEN_LABELS.items())
