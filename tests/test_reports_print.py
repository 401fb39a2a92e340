"""The day's X/Z report on the receipt printer: `POST /reports/day/print` and the report page's
button, on a real server over hand-made days (tests/test_day_report.py), printed on a fake ESC/POS
printer (tests/fake_printer.py) and read back as a person reads the paper."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow.formats import local_time, money, percent
from forkflow.printing.chits import WIDTH
from forkflow.store import _alembic_config

from .conftest import OLD_NOW, Server, csrf_from, database_at, running_server
from .escpos_decode import Chit
from .fake_printer import FakePrinter
from .money_day import write_days
from .test_print_jobs import FAST, add_printer
from .test_reports_api import signed_in

DAY, TO_CLOSE = "2026-11-30", "2026-11-27"
ZONE = "Europe/Paris"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env={**FAST, "FORKFLOW_TIMEZONE": ZONE}) as srv:
        write_days(srv.db, {"day": DAY}, {"day": TO_CLOSE})
        yield srv


@pytest.fixture
def till() -> Iterator[FakePrinter]:
    printer = FakePrinter()
    yield printer
    printer.close()


def print_report(server: Server, role: str = "manager", **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/reports/day/print", json=body, headers=server.auth(role), timeout=10)


def report(server: Server, day: str) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/reports/day", params={"date": day}, headers=server.auth("manager"), timeout=10)
    assert answer.status_code == 200, answer.text
    figures: dict[str, Any] = answer.json()
    return figures


def payload_of(server: Server, event_id: int) -> dict[str, Any]:
    with sqlite3.connect(server.db) as db:
        kind, payload = db.execute("SELECT type, payload FROM events WHERE id = ?", (event_id,)).fetchone()
    assert kind == "print.report"
    found: dict[str, Any] = json.loads(payload)
    return found


def written(server: Server) -> tuple[int, int]:
    """How many events and print jobs the database holds."""
    with sqlite3.connect(server.db) as db:
        return (
            db.execute("SELECT count(*) FROM events").fetchone()[0],
            db.execute("SELECT count(*) FROM print_jobs").fetchone()[0],
        )


def columns(left: str, right: str, indent: int = 0) -> str:
    """A row as the report prints it: the label at the left, the amount at the right end."""
    return " " * indent + left + right.rjust(WIDTH - indent - len(left))


def expected_rows(r: dict[str, Any]) -> list[str]:
    """Rows the paper must hold, built from the JSON report's figures."""
    found = [
        columns("Orders", str(r["orders"])),
        columns("Sales", money(r["sales_cents"])),
        columns("Average ticket", money(r["average_ticket_cents"])),
        columns("Items before discounts", money(r["gross_cents"])),
        columns("Discounts and comps", "-" + money(r["discount_cents"])),
        columns("Taxes", money(r["tax_cents"])),
        columns("Service charges", money(r["service_charge_cents"])),
        columns("Tenders", money(r["tenders_cents"])),
        columns("Refunds", "-" + money(r["refunds_cents"])),
        columns("Tips", money(r["tips_cents"])),
        columns("Cash over/short", money(r["over_short_cents"])),
    ]
    for c in r["by_channel"]:
        orders = f"{c['orders']} order" + ("" if c["orders"] == 1 else "s")
        found += [
            columns(f"{c['channel'].capitalize()}, {orders}", money(c["sales_cents"])),
            columns("average ticket", money(c["average_ticket_cents"]), 3),
        ]
    found += [columns(f"{c['quantity']}x {c['category']}", money(c["gross_cents"])) for c in r["by_category"]]
    found += [columns(f"{i['quantity']}x {i['name']}", money(i["gross_cents"])) for i in r["by_item"]]
    for t in r["taxes"]:
        found += [
            columns(f"{t['name']} {percent(t['percent_milli'] / 1000)}", money(t["tax_cents"])),
            columns("taxable", money(t["taxable_cents"]), 3),
        ]
    for d in r["discounts"]:
        found.append(
            columns(f"{d['count']}x {d['reason']}" + (" (comp)" if d["comp"] else ""), "-" + money(d["amount_cents"]))
        )
    if r["voids"]["count"]:
        found.append(columns(f"{r['voids']['count']} lines voided", money(r["voids"]["value_cents"])))
    for f in r["refunds"]:
        found.append(
            columns(f"{f['count']}x {f['tender'].capitalize()}, {f['reason']}", "-" + money(f["amount_cents"]))
        )
    for t in r["tenders"]:
        found += [
            columns(f"{t['count']}x {t['tender'].capitalize()}", money(t["amount_cents"])),
            columns("tips", money(t["tip_cents"]), 3),
        ]
    for drawer in r["drawers"]:
        found += [
            drawer["name"],
            columns("expected", money(drawer["expected_cents"]), 3),
            columns("counted", money(drawer["counted_cents"]), 3),
            columns("over/short", money(drawer["over_short_cents"]), 3),
        ]
    return found


def assert_prints(chit: Chit, figures: dict[str, Any]) -> None:
    """Every figure of the JSON report is on the paper, formatted, in the order the page shows them."""
    lines = chit.lines
    at = -1
    for wanted in expected_rows(figures):
        matches = [i for i, line in enumerate(lines) if line == wanted and i > at]
        assert matches, f"{wanted!r} not on the report (after row {at}):\n{chit.text}"
        at = matches[0]


def test_an_x_report_prints_the_figures_of_the_json_report_then_a_cut(server: Server, till: FakePrinter) -> None:
    add_printer(server, "Till", till.port, role="receipt")
    answer = print_report(server, date=DAY)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["kind"], job["order_id"], job["headers"], job["copy"]) == ("report", None, [], 0)
    till.wait_for(1)
    [paper] = till.chits()  # one piece of paper, ended by its one cut (one_chit checks)
    assert paper.cut
    figures = report(server, DAY)
    payload = payload_of(server, job["event_id"])
    assert {k: v for k, v in payload.items() if k != "printed_at"} == figures  # the report as printed
    assert paper.styled("ForkFlow").big and paper.styled("X REPORT — so far").big
    assert paper.row(f"Service day {DAY}").style.bold
    printed = local_time(payload["printed_at"], ZoneInfo(ZONE), "stamp")
    assert paper.row("Printed ").text == f"Printed {printed}"
    assert_prints(paper, figures)
    assert paper.lines[-1] == "The day is open: these figures are so far."
    assert max(len(line) for line in paper.lines) <= WIDTH


def test_a_z_report_and_a_second_copy_marked_reprint(server: Server, till: FakePrinter) -> None:
    add_printer(server, "Till", till.port, role="receipt")
    assert print_report(server, date=TO_CLOSE).json()["headers"] == []  # the X-report so far
    closed = httpx.post(
        f"{server.url}/reports/day/close", json={"date": TO_CLOSE}, headers=server.auth("manager"), timeout=10
    )
    assert closed.status_code == 200, closed.text
    z = print_report(server, date=TO_CLOSE).json()
    assert z["headers"] == [] and z["copy"] == 0  # another kind of report: not a reprint
    again = print_report(server, date=TO_CLOSE).json()
    assert again["headers"] == ["REPRINT"] and again["copy"] == 1 and again["event_id"] != z["event_id"]
    till.wait_for(3)
    _, first, second = till.chits()
    figures = report(server, TO_CLOSE)
    assert figures["kind"] == "Z"
    assert first.styled("Z REPORT").big and "REPRINT" not in first.text
    closed_at = local_time(figures["closed_at"], ZoneInfo(ZONE), "stamp")
    assert first.row("Closed ").text == f"Closed {closed_at} by manager"
    assert_prints(first, figures)
    assert first.lines[-1] == "These figures are final."
    assert second.lines[0] == "REPRINT" and second.styled("REPRINT").big and second.text.count("REPRINT") == 1
    assert_prints(second, figures)
    # A reprint of a job prints the very same paper, figures and printed time, under REPRINT.
    headers = {**server.auth("manager"), "Idempotency-Key": "reprint-z"}
    copy = httpx.post(f"{server.url}/print-jobs/{z['id']}/reprint", headers=headers, timeout=10)
    assert copy.status_code == 202 and copy.json()["kind"] == "report", copy.text
    till.wait_for(4)
    assert till.chits()[3].lines[1:] == first.lines


def test_without_a_receipt_printer_it_is_409_and_nothing_is_written(server: Server, till: FakePrinter) -> None:
    kitchen = add_printer(server, "Grill", till.port, stations=["grill"])
    before = written(server)
    refused = print_report(server, date=DAY)
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "no_receipt_printer"
    assert print_report(server, date="30/11/2026").status_code == 422
    assert print_report(server, date="2026-02-30").json()["error"]["fields"] == {"date": "expected YYYY-MM-DD"}
    not_receipt = print_report(server, date=DAY, printer_id=kitchen["id"])
    assert not_receipt.status_code == 422 and not_receipt.json()["error"]["fields"] == {
        "printer_id": "not a receipt printer"
    }
    assert print_report(server, date=DAY, printer_id=999).status_code == 404
    assert print_report(server, role="cashier", date=DAY).status_code == 403
    assert written(server) == before
    assert till.jobs == []


def test_the_pages_button_prints_and_says_so_inline(server: Server, till: FakePrinter) -> None:
    page = signed_in(server, "manager")
    try:
        shown = page.get("/manage/reports", params={"date": DAY})
        assert shown.status_code == 200 and 'id="print-report"' in shown.text
        form = {"date": DAY, "csrf_token": csrf_from(shown.text)}
        htmx = {"HX-Request": "true", "X-CSRF-Token": form["csrf_token"]}
        before = written(server)
        refused = page.post("/manage/reports/print", data=form, headers=htmx)
        assert refused.status_code == 409 and 'id="print-report-error"' in refused.text
        assert "No receipt printer is set up" in refused.text and written(server) == before
        add_printer(server, "Front till", till.port, role="receipt")
        sent = page.post("/manage/reports/print", data=form, headers=htmx)
        assert sent.status_code == 200 and '<span id="print-report-sent">Sent to Front till.</span>' in sent.text
        assert "<html" not in sent.text  # the line only
        plain = page.post("/manage/reports/print", data=form)  # without JavaScript: the page again
        assert plain.status_code == 200 and f"X-report (so far) · {DAY}" in plain.text
        assert "Sent to Front till (a reprint)." in plain.text
        till.wait_for(2)
        assert [chit.lines[0] for chit in till.chits()] == ["ForkFlow", "REPRINT"]
    finally:
        page.close()
    cashier = signed_in(server, "cashier")
    try:
        token = csrf_from(cashier.get("/pos").text)
        refused = cashier.post("/manage/reports/print", data={"date": DAY, "csrf_token": token})
        assert refused.status_code == 403 and written(server)[1] == 2
    finally:
        cashier.close()


def _job(conn: sa.Connection, kind: str, event_id: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO print_jobs (printer_id, target_printer_id, kind, order_id, event_id, revision, station, "
            "send, headers, copy, status, attempts, next_attempt_at, created_at) "
            "VALUES (1, 1, :kind, NULL, :event, 0, '', '{}', '[]', 0, 'printed', 1, :t, :t)"
        ),
        {"kind": kind, "event": event_id, "t": OLD_NOW},
    )


def test_migration_0018_lets_print_jobs_be_reports_and_keeps_the_jobs(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with database_at(db, "0017") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO printers (id, name, host, port, role, stations, created_at, updated_at) "
                "VALUES (1, 'Till', '127.0.0.1', 9100, 'receipt', '[]', :t, :t)"
            ),
            {"t": OLD_NOW},
        )
        _job(conn, "test", 1)
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            _job(conn, "report", 2)  # refused before 0018
        command.upgrade(_alembic_config(conn), "0018")
        _job(conn, "report", 2)
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            _job(conn, "receipts", 3)  # still a closed list
        assert conn.execute(sa.text("SELECT kind FROM print_jobs ORDER BY id")).scalars().all() == ["test", "report"]
        command.downgrade(_alembic_config(conn), "0017")
        assert conn.execute(sa.text("SELECT kind FROM print_jobs")).scalars().all() == ["test"]
