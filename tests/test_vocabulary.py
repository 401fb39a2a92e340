"""The closed word lists (forkflow/vocabulary.py) are the ones the tables, the models, the
permission table and the screens use: adding a role or a status in one place and not the others
fails here, not in production."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import CheckConstraint, text

from forkflow import models
from forkflow import schemas_out as out
from forkflow.auth.roles import PERMISSIONS, STAFF
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.routes.login import HOME
from forkflow.routes.manage.view import STOCK_REASON_LABELS
from forkflow.routes.pos.ticket import CHANNELS as TILL_CHANNELS
from forkflow.schema import metadata
from forkflow.store import Store
from forkflow.vocabulary import (
    ACTIVE_STATUSES,
    CHANNELS,
    COOKING_STATUSES,
    DISCOUNT_KINDS,
    DRAWER_MOVEMENT_KINDS,
    MODIFIER_KINDS,
    MOVEMENT_KINDS,
    ORDER_STATUSES,
    PRINT_KINDS,
    PRINT_STATUSES,
    PRINTER_ROLES,
    ROLES,
    SEND_REASONS,
    SIGN_IN_OUTCOMES,
    STOCK_REASONS,
    TAX_ROUNDINGS,
    TENDERS,
    TRANSITIONS,
    spoken,
)

# Every column that holds a word of a closed list, and its list.
CHECKED: dict[tuple[str, str], tuple[str, ...]] = {
    ("orders", "channel"): CHANNELS,
    ("orders", "status"): ORDER_STATUSES,
    ("stock_movements", "kind"): MOVEMENT_KINDS,
    ("staff", "role"): ROLES,
    ("sign_in_attempts", "outcome"): SIGN_IN_OUTCOMES,
    ("modifier_groups", "kind"): MODIFIER_KINDS,
    ("order_line_modifiers", "group_kind"): MODIFIER_KINDS,
    ("printers", "role"): PRINTER_ROLES,
    ("print_jobs", "kind"): PRINT_KINDS,
    ("print_jobs", "status"): PRINT_STATUSES,
    ("sends", "reason"): SEND_REASONS,
    ("payments", "tender"): TENDERS,
    ("order_discounts", "kind"): DISCOUNT_KINDS,
    ("money_settings", "tax_rounding"): TAX_ROUNDINGS,
    ("drawer_movements", "kind"): DRAWER_MOVEMENT_KINDS,
}
_IN_CHECK = re.compile(r"(\w+) IN \(([^)]*)\)")


def _words_checked(sql: str) -> dict[str, tuple[str, ...]]:
    """`column IN ('a', 'b')` clauses of a CHECK or CREATE TABLE statement, as column -> words."""
    return {column: tuple(re.findall(r"'([^']*)'", words)) for column, words in _IN_CHECK.findall(sql)}


def test_the_tables_check_the_vocabulary() -> None:
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                for column, words in _words_checked(str(constraint.sqltext)).items():
                    found[(table.name, column)] = words
    assert found == CHECKED


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "store.db")), Bus())
    await s.open()
    yield s
    await s.close()


async def test_the_migrated_database_checks_the_same_words(store: Store) -> None:
    """Migrations are history and keep their own copies of the lists: the database they make must
    still refuse exactly what the vocabulary leaves out (a new word needs a migration)."""
    tables = sorted({table for table, _ in CHECKED})
    async with store.read() as conn:
        result = await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        ddl = {name: sql for name, sql in result if name in tables}
    assert sorted(ddl) == tables
    found = {(table, column): words for table, sql in ddl.items() for column, words in _words_checked(sql).items()}
    assert found == CHECKED


def _enum(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """The words a model's field takes, as its JSON Schema (and so the OpenAPI document) says."""
    schema: dict[str, Any] = model.model_json_schema()["properties"][field]
    for choice in schema.get("anyOf", [schema]):
        if "enum" in choice:
            return tuple(choice["enum"])
    raise AssertionError(f"{model.__name__}.{field} takes no closed list: {schema}")


@pytest.mark.parametrize(
    ("model", "field", "words"),
    [
        (models.OrderIn, "channel", CHANNELS),
        (models.StatusIn, "status", ORDER_STATUSES),
        (models.InventoryPatch, "reason", STOCK_REASONS),
        (models.StaffIn, "role", ROLES),
        (models.ModifierGroupIn, "kind", MODIFIER_KINDS),
        (out.ModifierGroupOut, "kind", MODIFIER_KINDS),
        (out.LineModifierOut, "kind", MODIFIER_KINDS),
        (models.StaffPatch, "role", ROLES),
        (out.OrderOut, "channel", CHANNELS),
        (out.OrderOut, "status", ORDER_STATUSES),
        (out.TrackedOrderOut, "status", ORDER_STATUSES),
        (out.StockMovementOut, "kind", MOVEMENT_KINDS),
        (out.StaffOut, "role", ROLES),
        (out.TokenOut, "role", ROLES),
        (out.TokenInfo, "role", ROLES),
    ],
)
def test_the_models_take_the_vocabulary(model: type[BaseModel], field: str, words: tuple[str, ...]) -> None:
    assert _enum(model, field) == words


def test_the_permission_table_names_only_roles_and_every_role_is_staff() -> None:
    assert STAFF == set(ROLES)
    for permission, roles in PERMISSIONS.items():
        assert roles and roles <= set(ROLES), permission


def test_the_screens_offer_the_vocabulary() -> None:
    assert list(HOME) == list(ROLES), "every role lands on its own screen"
    assert set(STOCK_REASON_LABELS) == set(STOCK_REASONS), "the console's stock form offers every reason"
    assert set(TILL_CHANNELS) == set(CHANNELS) - {"online"}, "the till takes every channel but the shop's"


def test_the_status_machine_and_the_subsets_are_made_of_statuses() -> None:
    assert tuple(TRANSITIONS) == ORDER_STATUSES
    for targets in TRANSITIONS.values():
        assert set(targets) <= set(ORDER_STATUSES)
    assert set(COOKING_STATUSES) <= set(ACTIVE_STATUSES) <= set(ORDER_STATUSES)
    assert set(STOCK_REASONS) <= set(MOVEMENT_KINDS)


def test_a_choice_is_spoken_as_a_person_says_it() -> None:
    assert spoken(["restock"]) == "restock"
    assert spoken(["counter", "table"]) == "counter or table"
    assert spoken(ACTIVE_STATUSES) == "new, preparing or ready"
