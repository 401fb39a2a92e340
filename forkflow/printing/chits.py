"""The bytes of what ForkFlow prints: a kitchen chit, a customer receipt, a day's X/Z report, a
printer's test page.

Each function is pure: the same order (or report), send, headers and settings give the same bytes (no
clock is read but the test page's), so a retried or reprinted job prints what the first would have. The
bytes come from python-escpos's `Dummy` printer (its `text` picks the printer's code page for é, ü,
€ on its own), never from hand-written codes. Invariants: every document ends with exactly one cut,
no row is wider than `WIDTH` columns (half that in double width), and text from people (names,
notes) can never become a printer command: each control character in it prints as a space.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from escpos.printer import Dummy

from ..config import Settings
from ..figures import bill_rows
from ..formats import allergen, contains, local_time, marks, money, percent

# Epson TM-T88 (and its compatibles), font A on 80 mm paper: 42 columns; 21 in double width.
WIDTH = 42
PROFILE = "TM-T88V"  # python-escpos's printer profile: which code pages `text` may switch to
TITLE = "ForkFlow"  # the receipt's heading (Settings names no restaurant)
RULE = "-" * WIDTH
NO_STATION = ""  # a dish that names no station (as services/dispatch.py keys its sends)


class Send(Protocol):
    """What a chit needs of services/dispatch.py's `Send` (read, not imported: services/ may import
    this package to print, so this package imports nothing of services/)."""

    @property
    def reason(self) -> str: ...  # dispatch.SEND_REASONS: new, released, fired, added, void
    @property
    def line_ids(self) -> tuple[int, ...]: ...
    @property
    def voided_ids(self) -> tuple[int, ...]: ...


# python-escpos sends any text holding one of these as GB18030 (for printers with a Chinese font),
# bypassing the code pages: each run of them is written apart, so the rest of its row still reads.
_CJK = re.compile(r"([\u4e00-\u9fa5]+)")


def _clean(text: str) -> str:
    """People's text as printable characters: a control character (ESC, GS, a line feed) in a note
    or a name would otherwise reach the printer as a command; each becomes a space. A fullwidth form
    (the yen sign Japanese money is written with, ￥) becomes its plain one (¥), which code pages have."""
    return "".join(" " if unicodedata.category(char) == "Cc" else _plain(char) for char in text)


def _plain(char: str) -> str:
    return unicodedata.normalize("NFKC", char) if "\uff00" <= char <= "\uffef" else char


def _rows(text: str, columns: int, indent: int = 0, hang: int = 0) -> list[str]:
    """`text` wrapped to `columns` (long words broken), its first row indented by `indent` and the
    rest by `indent + hang`; a line break in it starts a new row."""
    rows: list[str] = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):  # (not splitlines: it splits at GS too)
        wrapped = textwrap.wrap(
            _clean(paragraph),
            columns,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + hang),
            break_on_hyphens=False,
        )
        rows.extend(wrapped or [""])
    return rows


_CODE_PAGE_MAPS: dict[str, dict[str, int]] = {}  # code page -> {character: byte}, filled as used


class _Paper:
    """One document being written on python-escpos's Dummy printer, a row at a time, each row in
    one style (so that a reader of the bytes, a person or tests/escpos_decode.py, sees it whole)."""

    def __init__(self) -> None:
        self._printer = Dummy(profile=PROFILE)
        # python-escpos builds each code page's character map per printer object, which is most of a
        # chit's cost; the maps are fixed data, so every document shares them. (Which code pages a
        # document already used stays its own: the same input still gives the same bytes.)
        self._printer.magic.encoder.available_characters = _CODE_PAGE_MAPS
        self._printer.hw("INIT")  # ESC @: whatever the last job left set, start from the defaults

    def print(
        self,
        text: str,
        *,
        bold: bool = False,
        big: bool = False,
        tall: bool = False,
        inverted: bool = False,
        centre: bool = False,
        indent: int = 0,
        hang: int = 0,
    ) -> None:
        """`big` is double width and height (half the columns), `tall` double height only."""
        self._printer.set(
            align="center" if centre else "left",
            bold=bold,
            invert=inverted,
            normal_textsize=not (big or tall),
            double_width=big,
            double_height=big or tall,
        )
        for row in _rows(text, WIDTH // 2 if big else WIDTH, indent, hang):
            self._row(row)

    def _row(self, row: str) -> None:
        for run in _CJK.split(row):
            if run:
                self._printer.text(run)
        self._printer.text("\n")

    def columns(self, left: str, right: str, *, bold: bool = False, tall: bool = False, indent: int = 0) -> None:
        """`left` wrapped, with `right` (a price) at the right end of its last row."""
        right = _clean(right)
        rows = _rows(left, WIDTH - len(right) - 1, indent, 3)
        rows[-1] = rows[-1].ljust(WIDTH - len(right)) + right
        self._printer.set(align="left", bold=bold, invert=False, normal_textsize=not tall, double_height=tall)
        for row in rows:
            self._row(row)

    def rule(self) -> None:
        self.print(RULE)

    def cut(self) -> bytes:
        """The document, fed past the cutter and cut once."""
        self._printer.set_with_default()
        self._printer.cut()
        return bytes(self._printer.output)


def _banner(paper: _Paper, text: str) -> None:
    """A header nobody can miss: REPRINT, BACKUP FOR <printer>, NOT SEEN ON SCREEN, RUSH."""
    paper.print(text, big=True, bold=True, inverted=True, centre=True)


def _station(line: Mapping[str, Any]) -> str:
    return line.get("station") or NO_STATION


def _station_label(station: str | None) -> str:
    if station is None:
        return "EXPO - WHOLE ORDER"
    return station.upper() if station != NO_STATION else "NO STATION"


def _where(order: Mapping[str, Any]) -> str:
    """Channel and table, as the kitchen display says them ("TABLE 5", "COUNTER", "ONLINE 7KQ2XD":
    an online order's pickup code, which the customer shows)."""
    channel = order.get("channel") or ""
    if channel == "table":
        return f"TABLE {order.get('table') or '?'}"
    code = f" {order['pickup_code']}" if channel == "online" and order.get("pickup_code") else ""
    return channel.upper() + code


def _reason(order: Mapping[str, Any], send: Send | None, lines: Sequence[Mapping[str, Any]], zone: Any) -> str | None:
    """Why this chit prints, when it is not simply a new order: ADDED, VOID, FIRE COURSE 2,
    RELEASED (or SCHEDULED FOR 19:30 for a scheduled pickup released to the kitchen)."""
    if send is None or send.reason == "new":
        return None
    if send.reason == "released":
        pickup = order.get("pickup_at")
        return f"SCHEDULED FOR {local_time(pickup, zone)}" if pickup else "RELEASED"
    if send.reason == "fired":
        courses = sorted({int(line.get("course") or 1) for line in lines})
        return "FIRE COURSE " + ", ".join(map(str, courses)) if courses else "FIRE"
    return {"added": "ADDED", "void": "VOID"}.get(send.reason, send.reason.upper())


def _chosen(
    order: Mapping[str, Any], send: Send | None, station: str | None
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The lines arriving and those voided, on `station` (every station's for None): the send's,
    or without one (a reprint of the ticket) every line the kitchen is cooking now: fired (events
    before courses have no `fired_at`: everything was) and not voided."""
    lines: list[Mapping[str, Any]] = list(order.get("lines", ()))
    here = [line for line in lines if station is None or _station(line) == station]
    if send is None:
        return [line for line in here if line.get("voided_at") is None and line.get("fired_at", True)], []
    arriving, voided = set(send.line_ids), set(send.voided_ids)
    return [line for line in here if line["id"] in arriving], [line for line in here if line["id"] in voided]


def _dish(paper: _Paper, line: Mapping[str, Any]) -> None:
    """One line as a cook reads it: quantity and name big, the exactly-one answers beside it in
    capitals, NO and ADD as words, what it contains of the order's allergies, its note."""
    headline, tags = marks(line, times_sign="x")
    paper.print(f"{line['quantity']}x {line['name']}", bold=True, tall=True, hang=3)
    for answer in headline:
        paper.print(f"— {answer.upper()}", bold=True, tall=True, indent=3, hang=2)
    for tag in tags:
        paper.print(f"{tag.word} {tag.text}", bold=tag.kind != "choice", indent=3, hang=2)
    if line.get("allergy_flags"):
        paper.print(f"!! {contains(line['allergy_flags']).upper()}", bold=True, inverted=True, indent=3)
    if line.get("notes"):
        paper.print(f"Note: {line['notes']}", indent=3, hang=6)


def _void(paper: _Paper, line: Mapping[str, Any]) -> None:
    paper.print(f"VOID {line['quantity']}x {line['name']}", bold=True, tall=True, hang=5)
    headline, _ = marks(line, times_sign="x")
    for answer in headline:
        paper.print(f"— {answer.upper()}", indent=5, hang=2)
    if line.get("void_reason"):
        paper.print(f"Reason: {line['void_reason']}", indent=5, hang=8)


def _by_station(lines: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        grouped.setdefault(_station(line), []).append(line)
    return grouped


def kitchen_chit(
    order: Mapping[str, Any],
    send: Send | None,
    *,
    station: str | None,
    headers: Sequence[str] = (),
    settings: Settings,
) -> bytes:
    """The chit for one station (`station`; None: an expo printer's, every station's lines grouped
    by station) of `order` (an order event's payload, services/representation.py `order_out`):
    the lines `send` brought and voided, or without a send every line being cooked (a reprint).
    `headers` ("REPRINT", "BACKUP FOR Grill", "NOT SEEN ON SCREEN") print first, inverted."""
    zone = settings.timezone
    arriving, voided = _chosen(order, send, station)
    paper = _Paper()
    for header in headers:
        _banner(paper, header)
    paper.print(f"#{order['ticket_no']}", big=True, bold=True, centre=True)
    if order.get("rush"):
        _banner(paper, "RUSH")
    reason = _reason(order, send, arriving, zone)
    if reason:
        paper.print(reason, big=True, bold=True, centre=True)
    paper.print(_where(order), bold=True, tall=True)
    sent = order.get("updated_at") if send is not None and send.reason != "new" else None
    when = f"Ordered {local_time(order['created_at'], zone)}"
    paper.print(when + (f", sent {local_time(sent, zone)}" if sent else ""))
    if order.get("pickup_at"):
        paper.print(f"Pickup {local_time(order['pickup_at'], zone, 'day')}", bold=True)
    if order.get("customer_name"):
        paper.print(str(order["customer_name"]), bold=True)
    paper.print(_station_label(station), bold=True)
    paper.rule()
    arrive_at, void_at = _by_station(arriving), _by_station(voided)
    for name in sorted(set(arrive_at) | set(void_at)):
        if station is None:
            paper.print(f"[{_station_label(name)}]", bold=True)
        for line in arrive_at.get(name, []):
            _dish(paper, line)
        for line in void_at.get(name, []):
            _void(paper, line)
    paper.rule()
    allergies = order.get("allergies") or []
    if allergies:
        paper.print("ALLERGY: " + ", ".join(allergen(word).upper() for word in allergies), bold=True, inverted=True)
    if order.get("notes"):
        paper.print(f"NOTES: {order['notes']}", bold=True, hang=7)
    return paper.cut()


def receipt(order: Mapping[str, Any], *, settings: Settings) -> bytes:
    """The customer's receipt: each line not voided with its quantity, options and price (options
    are in the unit price already; a priced option shows what it adds), the order's figures
    (subtotal, discounts, taxes, service charge: figures.py's rows) and its total."""
    zone = settings.timezone
    paper = _Paper()
    paper.print(TITLE, big=True, bold=True, centre=True)
    paper.print(f"Ticket #{order['ticket_no']}", bold=True, centre=True)
    paper.print(local_time(order["created_at"], zone, "stamp"), centre=True)
    paper.print(_where(order).title(), centre=True)
    if order.get("customer_name"):
        paper.print(str(order["customer_name"]), centre=True)
    paper.rule()
    for line in order.get("lines", ()):
        if line.get("voided_at") is not None:
            continue
        quantity, unit = line["quantity"], line["unit_price_cents"]
        paper.columns(f"{quantity}x {line['name']}", money(unit * quantity))
        if quantity > 1:
            paper.print(f"{quantity} @ {money(unit)}", indent=3)
        for modifier in line.get("modifiers", ()):
            cents = modifier.get("price_cents", 0) * modifier.get("count", 1)
            word = _option(modifier)
            if cents:
                paper.columns(word, f"+{money(cents)}", indent=3)
            else:
                paper.print(word, indent=3, hang=2)
    paper.rule()
    for row in bill_rows(order):
        paper.columns(row.label, f"-{money(row.cents)}" if row.kind == "discount" else money(row.cents))
    paper.columns("TOTAL", money(order["total_cents"]), bold=True, tall=True)
    paper.print("")
    paper.print("Thank you", bold=True, centre=True)
    return paper.cut()


def _option(modifier: Mapping[str, Any]) -> str:
    """One chosen option in the kitchen's words ("Medium-rare", "ADD 2x Bacon", "NO onions")."""
    headline, tags = marks({"modifiers": [modifier]}, times_sign="x")
    return headline[0] if headline else f"{tags[0].word} {tags[0].text}"


REPORT_TITLES = {"X": "X REPORT — so far", "Z": "Z REPORT"}


def _minus(cents: int) -> str:
    """An amount taken off (discounts, refunds), as the receipt writes one."""
    return f"-{money(cents)}"


def _section(paper: _Paper, title: str, rows: Sequence[tuple[str, str, int]]) -> None:
    """A titled list of (label, amount, indent) rows (no amount: a heading, in bold); "None." when
    it is empty (as the page says)."""
    paper.print("")
    paper.print(title.upper(), bold=True)
    for label, amount, indent in rows:
        if amount:
            paper.columns(label, amount, indent=indent)
        else:
            paper.print(label, bold=True, indent=indent)
    if not rows:
        paper.print("None.", indent=3)


def _orders(count: int) -> str:
    return f"{count} order" if count == 1 else f"{count} orders"


def _totals(r: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    rows = [
        ("Orders", str(r["orders"]), 0),
        ("Sales", money(r["sales_cents"]), 0),
        ("Average ticket", money(r["average_ticket_cents"]), 0),
        ("Items before discounts", money(r["gross_cents"]), 0),
        ("Discounts and comps", _minus(r["discount_cents"]), 0),
        ("Taxes", money(r["tax_cents"]), 0),
        ("Service charges", money(r["service_charge_cents"]), 0),
        ("Tenders", money(r["tenders_cents"]), 0),
        ("Refunds", _minus(r["refunds_cents"]), 0),
        ("Tips", money(r["tips_cents"]), 0),
    ]
    if r["cash_rounding_cents"]:
        rows.append(("Cash rounding", money(r["cash_rounding_cents"]), 0))
    rows.append(("Cash over/short", money(r["over_short_cents"]), 0))
    return rows


def _report_sections(r: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """The page's sections (/manage/reports), each row's count and name at the left, its amount at
    the right, and what the page shows in further columns on indented rows below."""
    voids = r["voids"]
    return [
        (
            "By channel",
            [
                row
                for c in r["by_channel"]
                for row in (
                    (f"{c['channel'].capitalize()}, {_orders(c['orders'])}", money(c["sales_cents"]), 0),
                    ("average ticket", money(c["average_ticket_cents"]), 3),
                )
            ],
        ),
        (
            "Sales by category",
            [(f"{c['quantity']}x {c['category']}", money(c["gross_cents"]), 0) for c in r["by_category"]],
        ),
        ("Sales by item", [(f"{i['quantity']}x {i['name']}", money(i["gross_cents"]), 0) for i in r["by_item"]]),
        (
            "Taxes by rate",
            [
                row
                for t in r["taxes"]
                for row in (
                    (f"{t['name']} {percent(t['percent_milli'] / 1000)}", money(t["tax_cents"]), 0),
                    ("taxable", money(t["taxable_cents"]), 3),
                )
            ],
        ),
        (
            "Discounts and comps by reason",
            [
                (f"{d['count']}x {d['reason']}" + (" (comp)" if d["comp"] else ""), _minus(d["amount_cents"]), 0)
                for d in r["discounts"]
            ],
        ),
        ("Voids", [(f"{voids['count']} lines voided", money(voids["value_cents"]), 0)] if voids["count"] else []),
        (
            "Refunds",
            [
                row
                for f in r["refunds"]
                for row in (
                    (f"{f['count']}x {f['tender'].capitalize()}, {f['reason']}", _minus(f["amount_cents"]), 0),
                    *([("tips", _minus(f["tip_cents"]), 3)] if f["tip_cents"] else []),
                )
            ],
        ),
        (
            "Tenders",
            [
                row
                for t in r["tenders"]
                for row in (
                    (f"{t['count']}x {t['tender'].capitalize()}", money(t["amount_cents"]), 0),
                    ("tips", money(t["tip_cents"]), 3),
                )
            ],
        ),
        (
            "Drawers closed",
            [
                row
                for d in r["drawers"]
                for row in (
                    (str(d["name"]), "", 0),
                    ("float", money(d["float_cents"]), 3),
                    ("cash in", money(d["cash_in_cents"]), 3),
                    ("paid in", money(d["paid_in_cents"]), 3),
                    ("paid out", _minus(d["paid_out_cents"]), 3),
                    ("cash refunds", _minus(d["cash_refunds_cents"]), 3),
                    ("expected", money(d["expected_cents"]), 3),
                    ("counted", money(d["counted_cents"]), 3),
                    ("over/short", money(d["over_short_cents"]), 3),
                )
            ],
        ),
    ]


def day_report(data: Mapping[str, Any], *, settings: Settings) -> bytes:
    """A service day's X-report (so far) or Z-report (closed) as the manager's page shows it: `data`
    is its `print.report` event's payload, the DayReport JSON with `printed_at` (when it was asked
    for: the time it prints, so a retry prints the same paper). Amounts in the restaurant's currency."""
    zone = settings.timezone
    paper = _Paper()
    paper.print(TITLE, big=True, bold=True, centre=True)
    paper.print(REPORT_TITLES[data["kind"]], big=True, bold=True, centre=True)
    paper.print(f"Service day {data['business_date']}", bold=True, centre=True)
    paper.print(f"Printed {local_time(data['printed_at'], zone, 'stamp')}", centre=True)
    if data["kind"] == "Z":
        paper.print(f"Closed {local_time(data['closed_at'], zone, 'stamp')} by {data['closed_by']}", centre=True)
    elif data["open_drawers"]:
        paper.print(f"Drawers still open: {data['open_drawers']}", centre=True)
    paper.rule()
    for label, amount, _ in _totals(data):
        paper.columns(label, amount, bold=label == "Sales")
    for title, rows in _report_sections(data):
        _section(paper, title, rows)
    paper.rule()
    final = "These figures are final." if data["kind"] == "Z" else "The day is open: these figures are so far."
    paper.print(final, centre=True)
    return paper.cut()


def test_page(printer_name: str, *, settings: Settings, now: datetime | None = None) -> bytes:
    """A page that proves the printer prints and cuts, and shows its styles and code pages."""
    paper = _Paper()
    paper.print("ForkFlow test page", big=True, bold=True, centre=True)
    paper.print(f"Printer: {printer_name}", bold=True)
    paper.print(f"Printed {local_time(now or datetime.now(UTC), settings.timezone, 'stamp')}")
    paper.rule()
    paper.print(("1234567890" * 5)[:WIDTH])
    paper.print("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmn")
    paper.print("Crème brûlée, Müsli, Jalapeño: 4.50 €")
    paper.print("Bold", bold=True)
    paper.print("Tall", tall=True)
    paper.print("Inverted", inverted=True)
    paper.print("Big", big=True)
    paper.rule()
    return paper.cut()
