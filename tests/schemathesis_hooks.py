"""Schemathesis hooks for tests/test_schemathesis.py, which names this file in SCHEMATHESIS_HOOKS.

The fuzz signs in as one manager (FORKFLOW_FUZZ_STAFF_ID); every other account is fair game. Were
that account's password changed, or the account demoted or disabled (possible once the fuzz has
made a second manager), every later request would be refused and test nothing.
"""

from __future__ import annotations

import os
import re
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData

from forkflow.auth.passwords import is_common


@schemathesis.hook("filter_path_parameters").apply_to(method="PATCH", path="/staff/{id}")
def not_the_fuzzers_own_account(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> bool:
    return str(path_parameters.get("id")) != os.environ["FORKFLOW_FUZZ_STAFF_ID"]


# What no schema can say, because it depends on the data or on earlier requests, answered 422 for a
# schema-valid request: an id that names no menu item or inventory item, or no modifier group or
# option of this item, or a name that is no category of the menu (in `order` or as a key of
# `courses`; the error names the field); an
# order line's options that are not its item's (`items.N.modifiers.M`) or break one of its item's
# groups' min/max (`items.N.modifiers`): what the item's groups are is the menu's data; an
# inventory item named twice in one recipe (JSON Schema's uniqueItems compares whole items); and an
# Idempotency-Key already used for another order; a printer's backup that names no printer, itself or
# one whose backups lead back to it, and a receipt's printer that is a kitchen printer (issue 16); a
# menu item's or a category's tax rate id that names no tax rate, or a category of `taxes` that is
# none of the menu's (issue 17).
# Those answers, and only those, are dropped.
# (And a kitchen screen's `last_event_id` beyond the newest event: the event log is the data.)
# A discount (issue 17) names a reason and a line that may not exist, or be inactive or voided; its
# reason says whether it is a comp (which takes no `kind` but 100 %) or not (which needs one), and an
# amount may not be more than what is left of the bill. Paying or splitting by item names lines that
# may not be the order's live ones (`line_ids`).
_REFERENCE = re.compile(
    r"reason_id|line_ids?|kind|amount_cents"
    r"|last_event_id|items\.\d+\.menu_item_id|items\.\d+\.modifiers(\.\d+)?|ingredients\.\d+\.inventory_id|order\.\d+|courses\..+"
    r"|backup_printer_id|printer_id|tax_rate_id|taxes\..+"
    r"|modifier_groups\.\d+(\.options\.\d+)?\.id|modifier_groups\.\d+\.options\.\d+\.recipe\.\d+\.inventory_id"
)


# And what depends on the clock or compares two values (issue 15): a `pickup_at` in the past, too far
# ahead or outside the opening hours (or online ordering's `resume_at`, or a hold's `until`, in the past
# or too far ahead);
# an opening-hours interval that closes before it opens or
# overlaps the one before (JSON Schema cannot compare two strings). The error names the field or day.
_CLOCK_OR_ORDER = re.compile(r"pickup_at|resume_at|until|monday|tuesday|wednesday|thursday|friday|saturday|sunday")


def _twice(ids: list[int]) -> bool:
    return len(ids) != len(set(ids))


def _names_an_ingredient_twice(case: schemathesis.Case) -> bool:
    if case.operation.path == "/menu/{id}/recipe":
        return _twice([line["inventory_id"] for line in case.body["ingredients"]])  # a schema-valid RecipeIn
    if case.operation.path in ("/menu", "/menu/{id}") and isinstance(case.body, dict):
        options = [option for group in case.body.get("modifier_groups") or [] for option in group["options"]]
        return any(_twice([line["inventory_id"] for line in option.get("recipe") or []]) for option in options)
    return False


def _a_common_password(case: schemathesis.Case) -> bool:
    """A password on the bundled list of the 10,000 most common (data: no schema lists them)."""
    password = case.body.get("password") if isinstance(case.body, dict) else None
    return isinstance(password, str) and is_common(password)


@schemathesis.hook
def filter_failure(context: schemathesis.HookContext, failure: Failure, case: schemathesis.Case, response: Any) -> bool:
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    error = response.json()["error"]
    fields = error.get("fields", {})
    excused = (
        (fields and all(_REFERENCE.fullmatch(name) for name in fields))
        or (fields and all(_CLOCK_OR_ORDER.fullmatch(name) for name in fields))
        or error.get("reason") == "idempotency_key_reused"
        or _names_an_ingredient_twice(case)
        or (set(fields) == {"password"} and _a_common_password(case))
    )
    return not excused
