"""How many rows a list answers: the `?limit=` query parameter, read and documented in one place."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...errors import Invalid
from ...numbers import whole_number

LIMIT_DEFAULT, LIMIT_MOST = 100, 1000  # how many rows a list answers, unless `?limit=` says


def limit_of(request: Request) -> int:
    """`?limit=`: left out is LIMIT_DEFAULT; anything but 1 to LIMIT_MOST is 422."""
    raw = request.query_params.get("limit")
    if raw is None:
        return LIMIT_DEFAULT
    limit = whole_number(raw, 1, LIMIT_MOST)
    if limit is None:
        raise Invalid(f"limit must be a whole number from 1 to {LIMIT_MOST}", {"limit": "out of range"})
    return limit


def limit_param(what: str) -> dict[str, Any]:
    """The parameter as the OpenAPI document shows it, for a list of `what`."""
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"at most this many {what} (422 outside 1 to {LIMIT_MOST})",
        "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MOST, "default": LIMIT_DEFAULT},
    }
