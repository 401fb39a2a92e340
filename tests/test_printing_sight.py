"""Printers and proof of sight together, end to end on a real server: the order's own write queues
its chits (one per station printer, one whole order for the expo), a station's printed chit counts as
that station's sight of the ticket, and a station with neither screen nor printer gets the alarm and
its chit on the expo printer, NOT SEEN ON SCREEN, once (the expo's paper is not the station's sight:
the alert stays up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Server, create_menu, running_server
from .fake_printer import FakePrinter, wait_until
from .test_print_jobs import FAST, add_printer, place

UNSEEN_SECONDS = 1.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env={**FAST, "FORKFLOW_UNSEEN_SECONDS": str(UNSEEN_SECONDS)}) as srv:
        yield srv


@pytest.fixture
def grill_and_expo() -> Iterator[tuple[FakePrinter, FakePrinter]]:
    grill, expo = FakePrinter(), FakePrinter()
    yield grill, expo
    grill.close()
    expo.close()


def sightings(server: Server, order_id: int) -> dict[str, dict[str, Any]]:
    order = httpx.get(f"{server.url}/orders/{order_id}", headers=server.auth("manager"), timeout=10).json()
    return {sighting["station"]: sighting for sighting in order["sightings"]}


def test_an_order_prints_its_chits_and_a_station_without_screen_or_printer_falls_back_to_the_expo(
    server: Server, grill_and_expo: tuple[FakePrinter, FakePrinter]
) -> None:
    grill, expo = grill_and_expo
    add_printer(server, "Grill", grill.port, stations=["grill"])
    add_printer(server, "Expo", expo.port, stations=[])
    menu = create_menu(server)
    order = place(server, menu)  # 2 Classic Burger (grill), 1 Fries (fry: no screen, no printer)

    grill.wait_for(1)
    [chit] = grill.chits()
    assert f"#{order['ticket_no']}" in chit.text and "2x Classic Burger" in chit.text
    assert "Fries" not in chit.text
    wait_until(lambda: sightings(server, order["id"])["grill"]["seen_by"] == "printer Grill", what="grill's sight")

    # The fry station has no screen and no printer: the alarm, and its chit on the expo.
    def fallback() -> list[str]:
        return [one.text for one in expo.chits() if "NOT SEEN ON SCREEN" in one.text]

    wait_until(fallback, timeout=UNSEEN_SECONDS + 10, what="the fallback chit on the expo")
    [text] = fallback()
    assert f"#{order['ticket_no']}" in text and "1x Fries" in text and "Classic Burger" not in text
    fry = sightings(server, order["id"])["fry"]
    assert fry["alarmed_at"] is not None
    assert fry["seen_by"] is None  # the pass has it on paper; fry itself still does not: the alert stays
    whole = [one.text for one in expo.chits() if "NOT SEEN ON SCREEN" not in one.text]
    assert len(whole) == 1 and "Classic Burger" in whole[0] and "Fries" in whole[0]  # the pass's own

    # Nothing more comes out: no second fallback, no second chit, the grill never alarmed.
    time.sleep(UNSEEN_SECONDS + 1)
    assert len(grill.jobs) == 1 and len(expo.jobs) == 2
    assert sightings(server, order["id"])["grill"]["alarmed_at"] is None
