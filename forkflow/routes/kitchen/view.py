"""What a kitchen display shows: which tickets, which lines, and what one tap on a ticket does.

The same functions serve the first page load and every fragment sent over the stream, so a ticket
looks the same however it arrived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ...errors import BadRequest
from ...formats import marks  # (the kitchen's words for options: one owner, the chits use it too)
from ...services.courses import rail_order
from ...vocabulary import ACTIVE_STATUSES, COOKING_STATUSES

EXPO = "expo"
_STATION = re.compile(r"^[A-Za-z0-9 _-]{1,40}$")


@dataclass(frozen=True)
class View:
    """Every station's lines (the default), one station's lines, or expo (whole tickets with each
    station's progress, where ready needs every line done)."""

    station: str | None = None
    expo: bool = False

    @classmethod
    def from_query(cls, raw: str | None) -> View:
        if not raw:
            return cls()
        if raw == EXPO:
            return cls(expo=True)
        if not _STATION.match(raw):
            raise BadRequest("unknown station", {"station": "letters, digits, spaces, _ and -"})
        return cls(station=raw)

    @property
    def key(self) -> str:
        return EXPO if self.expo else self.station or ""

    @property
    def title(self) -> str:
        return "Expo" if self.expo else (self.station or "All stations").capitalize()


@dataclass(frozen=True)
class Action:
    """The bump button: its label, and whether expo must override to use it."""

    label: str
    blocked_by: tuple[str, ...] = ()  # stations with lines not done yet (expo only)


def _cooked(line: dict[str, Any]) -> bool:
    """Whether the kitchen makes the line: every line but a voided one (events written before
    migration 0013 have no `voided_at`)."""
    return line.get("voided_at") is None


def _progress(lines: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    stations: dict[str, list[int]] = {}
    for line in filter(_cooked, lines):
        done_total = stations.setdefault(line.get("station") or "", [0, 0])
        done_total[0] += line.get("done_at") is not None
        done_total[1] += 1
    return [(station, done, total) for station, (done, total) in sorted(stations.items())]


def action(order: dict[str, Any], view: View) -> Action:
    status = order["status"]
    if status == "new":
        return Action("Start")
    if view.station is not None:
        return Action("Done")
    if status == "preparing":
        waiting = tuple(station for station, done, total in _progress(fired(order)) if done < total)
        return Action("Ready", waiting if view.expo else ())
    return Action("Bump")


@dataclass(frozen=True)
class Change:
    """How a line changed after the order was sent, as the ticket marks it: `word` is ADD (added
    at a later revision) or VOID (taken off; `reason` says why)."""

    word: str
    revision: int
    reason: str = ""


def change(line: dict[str, Any]) -> Change | None:
    """VOID for a voided line, ADD for one added after sending, None for a line sent with the order."""
    revision = line.get("revision", 1)
    if not _cooked(line):
        return Change("VOID", revision, line.get("void_reason") or "")
    if revision > 1:
        return Change("ADD", revision)
    return None


def fired(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines the kitchen cooks now: those of fired courses (a held course waits, greyed; events
    written before migration 0011 have no `fired_at`: everything was fired)."""
    return [line for line in order["lines"] if line.get("fired_at", True)]


def held(order: dict[str, Any]) -> list[tuple[int, list[dict[str, Any]]]]:
    """The held lines by course, lowest first: shown greyed, not cooked, not bumpable (a held line
    voided before it was fired is not shown: no station ever saw it)."""
    return [
        (
            course,
            [
                line
                for line in order["lines"]
                if line["course"] == course and not line.get("fired_at") and _cooked(line)
            ],
        )
        for course in order.get("held_courses", ())
    ]


def sort_key(order: dict[str, Any]) -> tuple[bool, int]:
    return rail_order(bool(order.get("rush")), order["id"])


@dataclass(frozen=True)
class Start:
    """When a cook should start a line so that it is ready with its order's longest (fire by prep
    time): `iso` for the display's countdown, `text` ("4:00", or "now") as rendered."""

    iso: str
    text: str


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def starts(order: dict[str, Any], now: datetime) -> dict[int, Start]:
    """Fire by prep time: each line not done whose prep time is shorter than the longest of its
    course, with when to start it: from when the kitchen got the course (the order's release or
    creation, or the course's firing if later) plus the difference. Held and voided lines wait."""
    if order["status"] not in COOKING_STATUSES:
        return {}
    cooking = [line for line in fired(order) if _cooked(line) and line.get("prep_minutes") is not None]
    longest: dict[int, int] = {}
    for line in cooking:
        course = line.get("course", 1)
        longest[course] = max(longest.get(course, 0), line["prep_minutes"])
    opened = _when(order.get("released_at") or order["created_at"])
    found = {}
    for line in cooking:
        prep, most = line["prep_minutes"], longest[line.get("course", 1)]
        if prep >= most or line.get("done_at"):
            continue
        began = max(opened, _when(line["fired_at"])) if line.get("fired_at") else opened
        at = began + timedelta(minutes=most - prep)
        left = max(0, int((at - now).total_seconds()))
        text = f"{left // 60}:{left % 60:02d}" if left else "now"
        found[line["id"]] = Start(at.isoformat(timespec="seconds").replace("+00:00", "Z"), text)
    return found


def ticket(order: dict[str, Any], view: View, pacing: bool = False) -> dict[str, Any] | None:
    """The ticket this view shows for `order`, or None when the order is not on its rail. A
    station sees only its fired lines: a station whose lines are all held or done has no ticket;
    the other views show the held courses in their own greyed section. With `pacing`
    (settings.fire_by_prep_time), lines shorter than their course's longest say when to start."""
    if order["status"] not in ACTIVE_STATUSES or order.get("held"):  # (held: scheduled for later)
        return None
    lines = fired(order)
    if view.station is not None:
        lines = [line for line in lines if line.get("station") == view.station]
        # Off the station once each of its lines is done; a voided one too (VOID shown) until the
        # station's Done marks it seen, so that nobody keeps cooking a voided dish.
        if not lines or all(line.get("done_at") for line in lines):
            return None
    shown = lines if view.station is not None else order["lines"]
    return {
        "order": order,
        "lines": lines,
        "held": held(order) if view.station is None else [],
        "marks": {line["id"]: marks(line) for line in shown},
        "changes": {line["id"]: change(line) for line in shown},
        "progress": _progress(fired(order)) if view.expo else [],
        "action": action(order, view),
        "starts": starts(order, datetime.now(UTC)) if pacing and not view.expo else {},
    }
