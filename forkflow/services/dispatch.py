"""Sends: what one write put in front of one kitchen station (issue 16).

Whenever an order's lines reach the kitchen (the order is placed and not held, a held order is
released, a course is fired, lines are added or voided after sending), the write that did it
records one *send* per station it reached, keyed by the order event that carries the change. The
kitchen's printers print a chit per send, and proof of sight waits for a screen or a printer of
that station to have it.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_STATION = ""  # the station of a dish that names none

# Why a send happened, as the chit's header and the screens say it.
SEND_REASONS = ("new", "released", "fired", "added", "void")


@dataclass(frozen=True, slots=True)
class Send:
    """One station's part of one change: the lines that reached it and those voided on it, as of
    the order event `event_id` (whose payload is the order as it then stood)."""

    order_id: int
    event_id: int
    revision: int
    station: str
    reason: str  # one of SEND_REASONS
    line_ids: tuple[int, ...]  # lines arriving at the station (placed, released, fired or added)
    voided_ids: tuple[int, ...] = ()  # lines it had, voided by this change
