"""What the printers print (issue 16, forkflow/printing/chits.py): kitchen chits for a station and for
expo, receipts and test pages, read back with tests/escpos_decode.py as a cook would read the paper.

The orders are real: made through the API of a running server (a burger with its options, fries, a
held dessert course, an allergy), then added to, voided, fired and rushed there; each chit is
rendered from the payload the server answered (the order as its event carries it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from forkflow.config import Settings
from forkflow.formats import local_time, money
from forkflow.printing.chits import WIDTH, kitchen_chit, receipt
from forkflow.printing.chits import test_page as render_test_page  # (named test_*: pytest would collect it)
from forkflow.services.dispatch import Send

from .conftest import running_server
from .escpos_decode import Chit, decode, one_chit

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = Settings(timezone=PARIS)
HEADERS = ("REPRINT", "BACKUP FOR Grill printer", "NOT SEEN ON SCREEN")
LONG_NAME = "Slow-roasted heritage pork belly with cider-glazed apples and crackling"

BURGER: dict[str, Any] = {
    "name": "Classic Burger",
    "price_cents": 1500,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten", "milk"],
    "modifier_groups": [
        {"name": "Doneness", "min": 1, "max": 1, "options": [{"name": "Medium-rare"}, {"name": "Well done"}]},
        {"name": "Sauce", "max": 2, "options": [{"name": "Ketchup"}, {"name": "Mayo", "allergens": ["eggs"]}]},
        {
            "name": "Add-ons",
            "kind": "add",
            "max": 5,
            "options": [{"name": "Bacon", "price_cents": 200}, {"name": "Extra cheese", "price_cents": 100}],
        },
        {"name": "Remove", "kind": "remove", "max": 2, "options": [{"name": "No onions"}, {"name": "No pickles"}]},
    ],
}
DISHES: list[dict[str, Any]] = [
    BURGER,
    {"name": "Fries", "price_cents": 400, "category": "Sides", "station": "fry"},
    {"name": "Crème brûlée", "price_cents": 650, "category": "Desserts", "station": "pastry", "allergens": ["milk"]},
    {"name": LONG_NAME, "price_cents": 2200, "category": "Mains", "station": "grill"},
]


class Kitchen:
    """A running server with the menu above, and a client signed in as its manager."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.menu: dict[str, dict[str, Any]] = {}
        for dish in DISHES:
            made = client.post("/menu", json=dish)
            assert made.status_code == 201, made.text
            self.menu[dish["name"]] = made.json()

    def line(self, name: str, *options: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
        item = self.menu[name]
        ids = {option["name"]: option["id"] for group in item["modifier_groups"] for option in group["options"]}
        return {"menu_item_id": item["id"], "quantity": quantity, "modifiers": [ids[o] for o in options], **extra}

    def post(self, path: str, body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
        answer = self.client.post(path, json=body)
        assert answer.status_code == expect, answer.text
        return dict(answer.json())

    def burger_order(self, **extra: Any) -> dict[str, Any]:
        """A table's burger (medium-rare, ketchup, double bacon, no onions) and fries now, a crème
        brûlée as course 2 (held); the customer is allergic to milk, which the burger contains."""
        body = {
            "customer_name": "Zoë Müller",
            "channel": "table",
            "table": "7",
            "notes": "Birthday: bring the dessert with a candle",
            "allergies": ["milk"],
            "allergies_confirmed": True,
            "items": [
                self.line(
                    "Classic Burger", "Medium-rare", "Ketchup", "Bacon", "Bacon", "No onions", notes="cut in half"
                ),
                self.line("Fries", quantity=2),
                self.line("Crème brûlée", course=2),
            ],
            **extra,
        }
        return self.post("/orders", body, 201)


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kitchen]:
    directory: Path = tmp_path_factory.mktemp("printing")
    with running_server(directory) as server:
        with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as client:
            yield Kitchen(client)


def _ids(order: dict[str, Any], station: str) -> tuple[int, ...]:
    return tuple(line["id"] for line in order["lines"] if line["station"] == station and line["fired_at"])


def _send(order: dict[str, Any], station: str, reason: str = "new", **fields: Any) -> Send:
    line_ids = fields.pop("line_ids", _ids(order, station))
    return Send(order["id"], 1, order["revision"], station, reason, line_ids, **fields)


def _chit(order: dict[str, Any], send: Send | None, station: str | None, **extra: Any) -> Chit:
    return one_chit(kitchen_chit(order, send, station=station, settings=SETTINGS, **extra))


def test_a_station_chit_has_the_order_around_only_that_stations_lines(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    chit = _chit(order, _send(order, "grill"), "grill")
    number = chit.row(f"#{order['ticket_no']}")
    assert number.style.big and number.style.align == "center"
    assert chit.lines[0] == f"#{order['ticket_no']}"  # first: no header was asked for
    assert chit.styled("TABLE 7").bold
    assert f"Ordered {local_time(order['created_at'], PARIS)}" in chit.lines  # the restaurant's time
    assert "Zoë Müller" in chit.lines and "GRILL" in chit.lines
    dish = chit.styled("1x Classic Burger")
    assert dish.bold and dish.double_height
    # The exactly-one answer prominent by the dish; ADD and NO as words; the other choice by its group.
    assert chit.styled("   — MEDIUM-RARE").bold
    assert "   ADD 2x Bacon" in chit.lines and "   NO onions" in chit.lines and "   Sauce: Ketchup" in chit.lines
    assert "   Note: cut in half" in chit.lines
    assert chit.styled("!! CONTAINS MILK").inverted  # the line holds the customer's allergen
    # Only the grill's lines: neither the fries (fry) nor the held dessert (pastry).
    assert "Fries" not in chit.text and "brûlée" not in chit.text
    allergy = chit.styled("ALLERGY: MILK")
    assert allergy.inverted and allergy.bold
    notes = chit.lines.index("NOTES: Birthday: bring the dessert with a")  # wrapped at 42, hanging
    assert chit.lines[notes + 1] == "       candle" and chit.styled("NOTES:").bold
    # Top to bottom as a cook reads it: who and where, the dish, then the allergy and the notes.
    at = {text: next(i for i, line in enumerate(chit.lines) if text in line) for text in ("#", "TABLE", "Burger")}
    assert at["#"] < at["TABLE"] < at["Burger"] < chit.lines.index("ALLERGY: MILK")


def test_the_fry_station_gets_its_own_chit_and_an_expo_printer_the_whole_order_by_station(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    fry = _chit(order, _send(order, "fry"), "fry")
    assert "2x Fries" in fry.lines and "Burger" not in fry.text and "FRY" in fry.lines
    expo = _chit(order, None, None)
    assert "EXPO - WHOLE ORDER" in expo.lines
    groups = [expo.lines.index("[FRY]"), expo.lines.index("[GRILL]")]
    assert groups == sorted(groups)
    assert groups[0] < expo.lines.index("2x Fries") < groups[1] < expo.lines.index("1x Classic Burger")
    assert "brûlée" not in expo.text  # course 2 is held: not being cooked yet
    assert expo.styled("[GRILL]").bold


@pytest.mark.parametrize("header", HEADERS)
def test_each_header_comes_first_inverted_and_big(kitchen: Kitchen, header: str) -> None:
    order = kitchen.burger_order()
    chit = _chit(order, _send(order, "grill"), "grill", headers=(header,))
    banner = chit.rows[0].style
    assert banner.inverted and banner.big and banner.bold
    # A banner wider than 21 columns in double width wraps; its words all print, in order, before the number.
    number = chit.lines.index(f"#{order['ticket_no']}")
    assert " ".join(chit.lines[:number]) == header
    assert all(chit.rows[i].style.inverted for i in range(number))


def test_several_headers_print_in_the_order_given(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    chit = _chit(order, _send(order, "grill"), "grill", headers=("REPRINT", "NOT SEEN ON SCREEN"))
    assert chit.lines[:3] == ["REPRINT", "NOT SEEN ON SCREEN", f"#{order['ticket_no']}"]


def test_rush_is_a_banner_under_the_number(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    rushed = kitchen.client.patch(f"/orders/{order['id']}", json={"rush": True})
    assert rushed.status_code == 200, rushed.text
    chit = _chit(rushed.json(), _send(rushed.json(), "grill"), "grill")
    assert chit.lines[:2] == [f"#{order['ticket_no']}", "RUSH"]
    assert chit.styled("RUSH").inverted and chit.styled("RUSH").big
    assert "RUSH" not in _chit(order, _send(order, "grill"), "grill").lines


def test_added_lines_print_alone_under_added(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    before = {line["id"] for line in order["lines"]}
    added = kitchen.post(f"/orders/{order['id']}/lines", {"items": [kitchen.line("Fries", quantity=3)]})
    new = tuple(line["id"] for line in added["lines"] if line["id"] not in before)
    chit = _chit(added, _send(added, "fry", "added", line_ids=new), "fry")
    assert chit.lines[1] == "ADDED" and chit.styled("ADDED").big
    assert "3x Fries" in chit.lines and "2x Fries" not in chit.lines  # only what was added
    assert any(line.startswith("Ordered ") and ", sent " in line for line in chit.lines)


def test_a_voided_line_prints_as_void_with_its_reason(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    fries = next(line for line in order["lines"] if line["name"] == "Fries")
    voided = kitchen.post(f"/orders/{order['id']}/lines/{fries['id']}/void", {"reason": "sent back: cold"})
    chit = _chit(voided, _send(voided, "fry", "void", line_ids=(), voided_ids=(fries["id"],)), "fry")
    assert chit.lines[1] == "VOID"
    row = chit.row("VOID 2x Fries")
    assert row.text == "VOID 2x Fries" and row.style.bold
    assert "     Reason: sent back: cold" in chit.lines
    # A reprint of the station afterwards (no send) has nothing voided on it.
    assert "Fries" not in _chit(voided, None, "fry").text


def test_firing_a_course_prints_fire_course_with_its_lines(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    fired = kitchen.post(f"/orders/{order['id']}/fire", {"course": 2})
    chit = _chit(fired, _send(fired, "pastry", "fired"), "pastry")
    assert chit.lines[1] == "FIRE COURSE 2"
    assert "1x Crème brûlée" in chit.lines and "PASTRY" in chit.lines
    assert "   !! CONTAINS MILK" in chit.lines


def test_a_released_order_says_released_or_the_pickup_it_is_scheduled_for(kitchen: Kitchen) -> None:
    order = kitchen.burger_order(channel="counter", table=None)
    released = _chit(order, _send(order, "grill", "released"), "grill")
    assert released.lines[1] == "RELEASED" and "COUNTER" in released.lines
    scheduled = {**order, "pickup_at": "2026-07-01T17:30:00.000Z"}  # 19:30 in Paris in summer
    chit = _chit(scheduled, _send(scheduled, "grill", "released"), "grill")
    assert chit.lines[1] == "SCHEDULED FOR 19:30" and chit.styled("SCHEDULED FOR 19:30").big
    assert "Pickup Wed 19:30" in chit.lines


def test_long_names_and_notes_wrap_within_the_paper(kitchen: Kitchen) -> None:
    note = "please no salt at all on the crackling, the guest is on a strict low-sodium diet " * 2
    order = kitchen.burger_order(notes=note.strip())
    grown = kitchen.post(f"/orders/{order['id']}/lines", {"items": [kitchen.line(LONG_NAME, notes=note[:120])]})
    chit = _chit(grown, None, "grill", headers=("BACKUP FOR The very long grill printer name",))
    for row in chit.rows:
        assert len(row.text) <= (WIDTH // 2 if row.style.double_width else WIDTH), row
    words = " ".join(line.strip() for line in chit.lines).split()
    assert " ".join(f"1x {LONG_NAME}".split()) in " ".join(words)
    assert " ".join(note.split()) in " ".join(words)
    # The name's second row hangs under the name, not under the quantity.
    first = next(i for i, line in enumerate(chit.lines) if LONG_NAME.split()[0] in line)
    assert chit.lines[first + 1].startswith("   ") and not chit.lines[first + 1].startswith("    ")


def test_non_ascii_text_prints_in_the_printers_code_pages(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    fired = kitchen.post(f"/orders/{order['id']}/fire", {"course": 2})
    data = kitchen_chit(fired, _send(fired, "pastry", "fired"), station="pastry", settings=SETTINGS)
    assert b"\x1bt" in data  # ESC t: python-escpos switched code pages for é, û, ë, ü
    chit = one_chit(data)
    assert "1x Crème brûlée" in chit.lines and "Zoë Müller" in chit.lines
    # Whatever a name holds, nothing crashes, and a CJK word (which python-escpos sends as GB18030,
    # for printers with a Chinese font) does not spoil the rest of its row.
    named = {**fired, "customer_name": "Ana €5 ñ ø ł Ω 寿司 Bé"}
    row = one_chit(kitchen_chit(named, None, station="pastry", settings=SETTINGS)).row("Ana €5 ñ ø ł Ω ")
    assert row.text.endswith(" Bé")


def test_control_characters_in_text_never_reach_the_printer_as_commands(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    hostile = copy.deepcopy(order)
    hostile["notes"] = "first\x1dV\x00cut here\x1b@ and \x10\x04\x01 status"
    hostile["lines"][0]["notes"] = "\x1dB\x01inverted?"
    decoded = decode(kitchen_chit(hostile, None, station="grill", settings=SETTINGS))
    assert decoded.cuts == 1 and decoded.status_requests == 0
    chit = decoded.chits[0]
    assert chit.row("NOTES: first V cut here @ and").style.bold
    assert not chit.styled("inverted?").inverted


def test_the_receipt_lists_what_is_charged_and_the_total(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    fries = next(line for line in order["lines"] if line["name"] == "Fries")
    voided = kitchen.post(f"/orders/{order['id']}/lines/{fries['id']}/void", {"reason": "not wanted"})
    chit = one_chit(receipt(voided, settings=SETTINGS))
    assert chit.lines[0] == "ForkFlow" and chit.styled("ForkFlow").big
    assert f"Ticket #{order['ticket_no']}" in chit.lines
    assert local_time(order["created_at"], PARIS, "stamp") in chit.lines
    burger = next(line for line in voided["lines"] if line["name"] == "Classic Burger")
    assert burger["unit_price_cents"] == 1500 + 2 * 200  # the options are in the unit price
    assert chit.row("1x Classic Burger").text.endswith(" " + money(burger["unit_price_cents"]))
    assert chit.row("ADD 2x Bacon").text.endswith("+$4.00") and "   NO onions" in chit.lines
    assert chit.row("1x Crème brûlée").text.endswith(" $6.50")
    assert "Fries" not in chit.text  # voided: not charged, not printed
    assert voided["total_cents"] == 1900 + 650
    total = chit.row("TOTAL")
    assert total.text == "TOTAL".ljust(WIDTH - len("$25.50")) + "$25.50" and total.style.bold
    assert all(len(line) <= WIDTH for line in chit.lines)
    assert chit.lines[-1] == "Thank you"


def test_a_receipt_shows_each_unit_price_for_several(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    chit = one_chit(receipt(order, settings=SETTINGS))
    assert chit.row("2x Fries").text.endswith(" $8.00") and "   2 @ $4.00" in chit.lines
    assert chit.row("TOTAL").text.endswith(money(order["total_cents"]))


def test_the_test_page_names_the_printer_and_the_time() -> None:
    from datetime import UTC, datetime

    chit = one_chit(render_test_page("Grill printer", settings=SETTINGS, now=datetime(2026, 7, 1, 17, 30, tzinfo=UTC)))
    assert chit.lines[0] == "ForkFlow test page" and chit.styled("ForkFlow test page").big
    assert "Printer: Grill printer" in chit.lines and "Printed 2026-07-01 19:30:00" in chit.lines
    assert "123456789012345678901234567890123456789012" in chit.lines  # the full width of the paper
    assert "Crème brûlée, Müsli, Jalapeño: 4.50 €" in chit.lines


def test_every_document_ends_with_exactly_one_cut(kitchen: Kitchen) -> None:
    order = kitchen.burger_order()
    documents = [
        kitchen_chit(order, _send(order, "grill"), station="grill", settings=SETTINGS),
        kitchen_chit(order, None, station=None, headers=HEADERS, settings=SETTINGS),
        kitchen_chit(order, _send(order, "pastry", "fired", line_ids=()), station="pastry", settings=SETTINGS),
        receipt(order, settings=SETTINGS),
        render_test_page("Bar", settings=SETTINGS),
    ]
    for data in documents:
        decoded = decode(data)
        assert decoded.cuts == 1 and len(decoded.chits) == 1 and decoded.partial.rows == []
        assert data.startswith(b"\x1b@") and data.endswith(b"\x1dV\x00")  # reset first, the cut last
    # Two chits sent back to back read as two, each cut once.
    assert [len(chit.rows) > 3 for chit in decode(documents[0] + documents[3]).chits] == [True, True]


def test_the_decoder_skips_what_is_not_text_and_follows_status_requests() -> None:
    """Images, barcodes, QR codes, the cash drawer, line spacing, tabs and real-time status requests
    (all as python-escpos sends them) never read as text; the style around them still applies."""
    from escpos.printer import Dummy
    from PIL import Image

    printer = Dummy(profile="TM-T88V")
    printer.hw("INIT")
    printer.textln("before")
    printer.image(Image.new("1", (40, 8), 1), impl="bitImageRaster")
    printer.image(Image.new("1", (16, 8), 1), impl="bitImageColumn")
    printer.image(Image.new("1", (16, 8), 1), impl="graphics")
    printer.barcode("4006381333931", "EAN13", function_type="A")
    printer.barcode("{BHELLO", "CODE128", function_type="B")
    printer.qr("https://example.com/x", native=True)
    printer.cashdraw(2)
    printer.line_spacing(30)
    printer.control("HT")
    printer.set(font="b", underline=1, smooth=True, flip=True, density=4)
    printer._raw(b"\x10\x04\x01\x10\x04\x04")  # DLE EOT 1, DLE EOT 4: the printer's and the paper's status
    printer.set(bold=True, custom_size=True, width=2, height=3)
    printer.textln("after")
    printer.cut()
    printer.textln("next chit, not cut yet")
    decoded = decode(printer.output)
    # (A column image ends its band of dots with a line feed: a row without text.)
    assert [[line for line in chit.lines if line] for chit in decoded.chits] == [["before", "after"]]
    after = decoded.chits[0].styled("after")
    assert after.bold and after.double_width and after.double_height and after.underline and after.upside_down
    assert decoded.status_requests == 2 and decoded.partial.lines == ["next chit, not cut yet"]
    assert decode(b"\x1b\x07\x1dz\x01x\n\x1dV\x00").chits[0].lines == ["x"]  # unknown: command byte skipped


def test_a_dish_without_a_station_is_keyed_as_the_sends_key_it(kitchen: Kitchen) -> None:
    from forkflow.printing import chits
    from forkflow.services import dispatch

    assert chits.NO_STATION == dispatch.NO_STATION  # (read, not imported: see chits.Send)
    order = copy.deepcopy(kitchen.burger_order())
    order["lines"][1]["station"] = None  # the fries, from a dish that names no station
    expo = _chit(order, None, None)
    assert expo.lines.index("[NO STATION]") < expo.lines.index("2x Fries") < expo.lines.index("[GRILL]")
    alone = _chit(order, _send(order, "", line_ids=(order["lines"][1]["id"],)), dispatch.NO_STATION)
    assert "NO STATION" in alone.lines and "2x Fries" in alone.lines and "Burger" not in alone.text


def test_the_same_order_prints_the_same_bytes_whatever_was_printed_before(kitchen: Kitchen) -> None:
    """A retry or a reprint sends what the first attempt would have (no state is kept between
    documents but python-escpos's fixed code page tables)."""
    order = kitchen.burger_order()
    first = kitchen_chit(order, None, station=None, settings=SETTINGS)
    other = {**order, "customer_name": "Ωμέγα Łódź €"}  # other code pages in between
    kitchen_chit(other, None, station=None, settings=SETTINGS)
    receipt(other, settings=SETTINGS)
    assert kitchen_chit(order, None, station=None, settings=SETTINGS) == first
