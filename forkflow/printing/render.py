"""A claimed job's bytes: the stored event's payload, rendered by chits.py (h16a's renderer).

Chits and unseen chits render the order as of their send with the job's headers (an expo printer's
chit: every station's lines); receipts, day reports and test pages get their headers (REPRINT,
BACKUP FOR ...) printed above them. What is rendered is a pure function of the job row and its
event, so a retry prints the very same chit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from escpos.printer import Dummy

from ..config import Settings
from . import chits
from .jobs import WHOLE_ORDER, WholeOrder


def _headed(headers: Sequence[str], body: bytes) -> bytes:
    if not headers:
        return body
    block = Dummy()
    block.set(bold=True, double_height=True, double_width=True)
    for header in headers:
        block.text(header + "\n")
    block.set(normal_textsize=True)
    head: bytes = block.output
    return head + body


def render(job: Mapping[str, Any], payload: str, settings: Settings) -> bytes:
    """`job`: a print_jobs row; `payload`: its event's JSON text."""
    data: dict[str, Any] = json.loads(payload)
    headers: list[str] = json.loads(job["headers"])
    kind = job["kind"]
    if kind == "test":
        return _headed(headers, chits.test_page(str(data["name"]), settings=settings))
    if kind == "receipt":
        return _headed(headers, chits.receipt(data, settings=settings))
    if kind == "report":
        return _headed(headers, chits.day_report(data, settings=settings))
    stored = json.loads(job["send"])
    send = WholeOrder(
        order_id=int(data["id"]),
        event_id=int(job["event_id"]),
        revision=int(job["revision"]),
        station=job["station"],
        reason=stored.get("reason", "new"),
        line_ids=tuple(stored.get("line_ids", ())),
        voided_ids=tuple(stored.get("voided_ids", ())),
    )
    # An expo printer's chit (the whole order): every station's lines, grouped by station.
    station = None if kind == "chit" and job["station"] == WHOLE_ORDER else job["station"]
    return chits.kitchen_chit(data, send, station=station, headers=headers, settings=settings)
