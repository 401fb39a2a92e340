"""Reads ESC/POS bytes back as a person would read the paper, for tests and the fake printer.

`decode(data)` turns a byte stream into the chits it prints, one per cut (GS V), each a list of
text rows with the style active when each row's first character was printed (bold, double width
and height, inverted, underlined, alignment), plus `partial`: what was printed after the last cut.
It follows the printer's state as a real one does: ESC @ resets it, ESC ! sets size, bold and
underline at once, ESC t switches the code page (decoded with python-escpos's own tables, so é and
€ read back as they were written). Commands it does not know are skipped: for ESC and GS the
command byte and, for the ones with known parameters, those; nothing unknown ever becomes text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C


@dataclass(frozen=True)
class Style:
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    inverted: bool = False
    underline: bool = False
    upside_down: bool = False
    align: str = "left"

    @property
    def big(self) -> bool:
        """Double width and double height: the ticket number, the banners."""
        return self.double_width and self.double_height


@dataclass(frozen=True)
class Line:
    text: str
    style: Style


@dataclass
class Chit:
    """One piece of paper: its rows, and whether it was cut (False only for `Decoded.partial`)."""

    rows: list[Line] = field(default_factory=list)
    cut: bool = True

    @property
    def lines(self) -> list[str]:
        return [row.text for row in self.rows]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def row(self, text: str) -> Line:
        """The first row containing `text` (AssertionError, with the chit, if none does)."""
        for row in self.rows:
            if text in row.text:
                return row
        raise AssertionError(f"{text!r} not on the chit:\n{self.text}")

    def styled(self, text: str) -> Style:
        """The style of the first row containing `text`."""
        return self.row(text).style


@dataclass
class Decoded:
    chits: list[Chit]
    partial: Chit  # rows printed after the last cut (not cut yet)
    status_requests: int = 0  # DLE EOT n seen: a printer answers each with one status byte
    cuts: int = 0


def _code_pages() -> dict[int, str]:
    """ESC t's numbers to python-escpos's code page names (the default profile's and the TM-T88's)."""
    pages: dict[int, str] = {}
    for profile in ("default", "TM-T88V"):
        for name, number in get_profile(profile).get_code_pages().items():
            if name != "Unknown":
                pages.setdefault(int(number), name)
    return pages


_PAGES = _code_pages()
_TABLES: dict[int, list[str]] = {}


def _char(page: int, byte: int) -> str:
    if byte < 0x80:
        return chr(byte)
    if page not in _TABLES:
        try:
            _TABLES[page] = Encoder._get_codepage_char_list(_PAGES[page])
        except (KeyError, LookupError):
            _TABLES[page] = ["?"] * 128
    return _TABLES[page][byte - 0x80]


# Commands with a fixed number of parameter bytes after the command byte.
_ESC_ARGS = {
    ord(c): n
    for c, n in {
        "!": 1, "E": 1, "G": 1, "-": 1, "M": 1, "a": 1, "t": 1, "d": 1, "J": 1, "e": 1, "{": 1, "V": 1,
        "R": 1, "3": 1, "+": 1, "A": 1, " ": 1, "c": 2, "p": 3, "=": 1, "r": 1, "U": 1, "S": 0, "L": 0,
        "2": 0, "@": 0, "i": 0, "m": 0, "<": 0, "T": 1, "$": 2, "\\": 2, "%": 1, "?": 1,
    }.items()
}  # fmt: skip
_GS_ARGS = {
    ord(c): n
    for c, n in {
        "!": 1, "B": 1, "b": 1, "h": 1, "w": 1, "H": 1, "f": 1, "L": 2, "W": 2, "a": 1, "r": 1, "I": 1,
        "P": 2, "$": 2, "\\": 2, "^": 3, ":": 0, "T": 1,
    }.items()
}  # fmt: skip


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.style = Style()
        self.page = 0
        self.chits: list[Chit] = []
        self.current = Chit()
        self.text = ""
        self.row_style: Style | None = None
        self.status_requests = 0
        self.cuts = 0

    def take(self, n: int) -> bytes:
        got = self.data[self.at : self.at + n]
        self.at += n
        return got

    def byte(self) -> int:
        got = self.take(1)
        return got[0] if got else 0

    def put(self, char: str) -> None:
        if self.row_style is None:
            self.row_style = self.style
        self.text += char

    def end_row(self, even_empty: bool = True) -> None:
        if self.text or even_empty:
            self.current.rows.append(Line(self.text, self.row_style or self.style))
        self.text, self.row_style = "", None

    def cut(self) -> None:
        self.end_row(even_empty=False)
        self.chits.append(self.current)
        self.current = Chit()
        self.cuts += 1

    def run(self) -> Decoded:
        while self.at < len(self.data):
            b = self.byte()
            if b == 0x0A:
                self.end_row()
            elif b == ESC:
                self.esc(self.byte())
            elif b == GS:
                self.gs(self.byte())
            elif b == DLE:
                self.dle(self.byte())
            elif b == FS:
                self.take(1)  # FS commands (kanji, NV images) this decoder does not follow
            elif b == 0x09:
                self.put(" ")
            elif b == 0x0C:  # FF: in page mode prints the page; here ends a row
                self.end_row(even_empty=False)
            elif b >= 0x20:
                self.put(_char(self.page, b))
        self.end_row(even_empty=False)
        self.current.cut = False
        return Decoded(self.chits, self.current, self.status_requests, self.cuts)

    def esc(self, command: int) -> None:
        if command == ord("@"):
            self.end_row(even_empty=False)
            self.style, self.page = Style(), 0
            return
        if command == ord("D"):  # ESC D n1 ... NUL: tab positions
            while self.at < len(self.data) and self.byte() != 0:
                pass
            return
        if command == ord("*"):  # ESC * m nL nH: a bit image, 1 or 3 bytes a column
            m, low, high = self.take(3).ljust(3, b"\0")
            self.take((low + 256 * high) * (3 if m >= 32 else 1))
            return
        args = self.take(_ESC_ARGS.get(command, 0))
        n = args[0] if args else 0
        if command == ord("!"):
            self.style = replace(
                self.style,
                bold=bool(n & 0x08),
                double_height=bool(n & 0x10),
                double_width=bool(n & 0x20),
                underline=bool(n & 0x80),
            )
        elif command in (ord("E"), ord("G")):
            self.style = replace(self.style, bold=bool(n & 1))
        elif command == ord("-"):
            self.style = replace(self.style, underline=n in (1, 2, 49, 50))
        elif command == ord("{"):
            self.style = replace(self.style, upside_down=bool(n & 1))
        elif command == ord("a"):
            self.style = replace(self.style, align={0: "left", 1: "center", 2: "right"}.get(n % 48, "left"))
        elif command == ord("t"):
            self.page = n
        elif command in (ord("d"), ord("J"), ord("e")):
            self.end_row(even_empty=False)  # print and feed: what is buffered prints

    def gs(self, command: int) -> None:
        if command == ord("V"):
            mode = self.byte()
            if mode in (65, 66, 97, 98, 103, 104):
                self.take(1)  # the feed before the cut
            self.cut()
            return
        if command == ord("("):  # GS ( x pL pH data: a length-prefixed function (images, QR codes)
            self.take(1)
            low, high = self.byte(), self.byte()
            self.take(low + 256 * high)
            return
        if command == ord("v"):  # GS v 0 m xL xH yL yH: a raster image, xL+256xH bytes a row
            self.take(2)
            xl, xh, yl, yh = self.take(4).ljust(4, b"\0")
            self.take((xl + 256 * xh) * (yl + 256 * yh))
            return
        if command == ord("8"):  # GS 8 L p1 p2 p3 p4: graphics with a 4-byte length
            self.take(1)
            self.take(int.from_bytes(self.take(4).ljust(4, b"\0"), "little"))
            return
        if command == ord("k"):  # a barcode: NUL-terminated (m <= 6) or length-prefixed
            m = self.byte()
            if m <= 6:
                while self.at < len(self.data) and self.byte() != 0:
                    pass
            else:
                self.take(self.byte())
            return
        args = self.take(_GS_ARGS.get(command, 0))
        n = args[0] if args else 0
        if command == ord("!"):
            self.style = replace(self.style, double_width=(n >> 4) > 0, double_height=(n & 0x0F) > 0)
        elif command == ord("B"):
            self.style = replace(self.style, inverted=bool(n & 1))

    def dle(self, command: int) -> None:
        if command == 0x04:  # DLE EOT n: a real-time status request
            self.take(1)
            self.status_requests += 1
        elif command == 0x14:  # DLE DC4 fn m t: real-time pulse and the like
            self.take(3)
        elif command == 0x05:  # DLE ENQ n: real-time request to the printer
            self.take(1)


def decode(data: bytes) -> Decoded:
    """What `data` prints: its chits, one per cut, and what follows the last cut."""
    return _Reader(data).run()


def chits(data: bytes) -> list[Chit]:
    """The cut chits of `data` (AssertionError if anything was printed after the last cut)."""
    decoded = decode(data)
    assert not decoded.partial.rows, f"printed after the last cut:\n{decoded.partial.text}"
    return decoded.chits


def one_chit(data: bytes) -> Chit:
    """The single chit `data` prints, which must end with its one cut."""
    found = chits(data)
    assert len(found) == 1, f"{len(found)} chits"
    return found[0]
