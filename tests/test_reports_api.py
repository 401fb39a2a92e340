"""GET /reports/day (JSON and CSV), POST /reports/day/close and GET /audit on a real server, over
hand-made days made in its database through the services (tests/money_day.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORDS, Server, csrf_from, page_client, running_server
from .money_day import write_days

DAY, OPEN_DRAWER_DAY, TO_CLOSE = "2026-11-30", "2026-11-28", "2026-11-27"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("reports")) as server:
        # The last: one open drawer per name.
        write_days(server.db, {"day": DAY}, {"day": TO_CLOSE}, {"day": OPEN_DRAWER_DAY, "close_drawer": False})
        yield server


def get(server: Server, path: str, role: str = "manager", **params: str) -> httpx.Response:
    return httpx.get(server.url + path, params=params, headers=server.auth(role), timeout=10)


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """The CSV's sections: a title row, a header row, then rows until a blank one."""
    found: dict[str, list[dict[str, str]]] = {}
    for block in text.strip().split("\n\n"):
        title, *table = list(csv.reader(io.StringIO(block)))
        found[title[0]] = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    return found


def test_the_json_and_the_csv_say_the_same(shop: Server) -> None:
    report = get(shop, "/reports/day", date=DAY)
    assert report.status_code == 200, report.text
    figures = report.json()
    assert figures["kind"] == "X" and figures["sales_cents"] == 6970 and figures["over_short_cents"] == -75
    sheet = get(shop, "/reports/day.csv", date=DAY)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert f"x-report-{DAY}.csv" in sheet.headers["content-disposition"]
    tables = sections(sheet.text)
    summary = {row["figure"]: row["value"] for row in tables["summary"]}
    assert summary["sales"] == "69.70" and summary["orders"] == "4" and summary["over_short"] == "-0.75"
    for key, value in figures.items():
        if key.endswith("_cents"):
            assert Decimal(summary[key.removesuffix("_cents")]) * 100 == value, key
    assert [(t["tender"], t["count"], t["amount"], t["tip"]) for t in tables["tenders"]] == [
        ("card", "2", "29.80", "2.00"),
        ("cash", "2", "39.90", "0.00"),
    ]
    assert [(t["name"], t["percent"], t["tax"]) for t in tables["taxes"]] == [
        ("VAT 20", "20.000", "10.40"),
        ("VAT 5", "5.000", "0.15"),
    ]
    assert len(tables["by_item"]) == len(figures["by_item"]) and tables["voids"] == [{"count": "2", "value": "7.00"}]


def test_reports_are_for_managers_and_a_bad_date_is_422(shop: Server) -> None:
    for path in ("/reports/day", "/reports/day.csv", "/audit"):
        assert get(shop, path, role="cashier").status_code == 403
        assert httpx.get(shop.url + path, timeout=10).status_code == 401
    bad = get(shop, "/reports/day", date="30/11/2026")
    assert bad.status_code == 422 and bad.json()["error"]["fields"] == {"date": "expected YYYY-MM-DD"}
    today = get(shop, "/reports/day").json()
    assert today["orders"] == 0 and today["business_date"] > DAY  # the current service day


def close(server: Server, day: object, role: str = "manager") -> httpx.Response:
    return httpx.post(server.url + "/reports/day/close", json={"date": day}, headers=server.auth(role), timeout=10)


def test_closing_a_day_makes_its_report_final_once(shop: Server) -> None:
    assert close(shop, TO_CLOSE, role="cashier").status_code == 403
    closed = close(shop, TO_CLOSE)
    assert closed.status_code == 200, closed.text
    z = closed.json()
    assert z["kind"] == "Z" and z["closed_by"] == "manager" and z["sales_cents"] == 6970
    assert get(shop, "/reports/day", date=TO_CLOSE).json() == z
    again = close(shop, TO_CLOSE)
    assert again.status_code == 409 and "already closed" in again.json()["error"]["message"]
    (event,) = get(shop, "/audit", kind="day.closed").json()["entries"]
    assert event["payload"] | {"at": None} == {
        "at": None,
        "by": "manager",
        "approved_by": None,
        "order_id": None,
        "business_date": TO_CLOSE,
        "currency": "USD",
        "orders": 4,
        "sales_cents": 6970,
        "refunds_cents": 815,
        "tenders_cents": 6970,
        "tips_cents": 200,
        "tax_cents": 1055,
        "over_short_cents": -75,
    }


def test_a_day_with_an_open_drawer_or_not_begun_is_not_closed(shop: Server) -> None:
    refused = close(shop, OPEN_DRAWER_DAY)
    assert refused.status_code == 409 and "close the drawers first" in refused.json()["error"]["message"]
    future = close(shop, "2999-01-01")
    assert future.status_code == 409 and future.json()["error"]["reason"] == "day_not_begun"
    assert close(shop, "yesterday").status_code == 422 and close(shop, 0).status_code == 422  # (no epoch days)
    for day in (OPEN_DRAWER_DAY, "2999-01-01"):
        assert get(shop, "/reports/day", date=day).json()["kind"] == "X"
    assert get(shop, "/audit", kind="day.closed", date=OPEN_DRAWER_DAY).json()["entries"] == []


def test_the_audit_log_filters_by_day_staff_and_kind_newest_first(shop: Server) -> None:
    day = get(shop, "/audit", date=DAY).json()["entries"]
    assert len(day) == 4 + 2 + 4 + 2  # the drawer opened, paid in and out, closed; discounts, payments, refunds
    assert [e["id"] for e in day] == sorted((e["id"] for e in day), reverse=True)
    assert all(e["payload"]["business_date"] == DAY for e in day)
    by_manager = get(shop, "/audit", date=DAY, staff="manager").json()["entries"]
    assert [(e["type"], e["payload"].get("amount_cents"), e["payload"].get("tip_cents")) for e in by_manager] == [
        ("drawer.closed", None, None),
        ("payment.taken", 1300, 200),
    ]
    refunds = get(shop, "/audit", date=DAY, kind="refund.given").json()["entries"]
    assert [(e["payload"]["amount_cents"], e["payload"]["approved_by"]) for e in refunds] == [
        (315, "manager"),
        (500, "manager"),
    ]
    drawers = get(shop, "/audit", date=DAY, kind="drawer").json()["entries"]
    assert [e["type"] for e in drawers] == ["drawer.closed", "drawer.paid_out", "drawer.paid_in", "drawer.opened"]


def test_the_audit_log_pages_with_before(shop: Server) -> None:
    everything = get(shop, "/audit", date=DAY).json()["entries"]
    assert len(everything) == 12
    first = get(shop, "/audit", date=DAY, limit="5").json()
    assert first["entries"] == everything[:5] and first["next_before"] == everything[4]["id"]
    second = get(shop, "/audit", date=DAY, limit="5", before=str(first["next_before"])).json()
    assert second["entries"] == everything[5:10]
    last = get(shop, "/audit", date=DAY, limit="5", before=str(everything[9]["id"])).json()
    assert last["entries"] == everything[10:] and last["next_before"] is None
    assert get(shop, "/audit", before="x").status_code == 422 and get(shop, "/audit", limit="0").status_code == 422


def test_the_day_report_lists_in_the_openapi_document(shop: Server, tmp_path: Path) -> None:
    paths = httpx.get(shop.url + "/openapi.json", timeout=10).json()["paths"]
    assert {"/reports/day", "/reports/day.csv", "/reports/day/close", "/audit"} <= set(paths)
    assert "text/csv" in paths["/reports/day.csv"]["get"]["responses"]["200"]["content"]


def signed_in(server: Server, role: str) -> httpx.Client:
    """A browser-like client signed in as `role` (cookies and the CSRF token of its session)."""
    browser = page_client(server)
    credentials = {"username": role, "password": PASSWORDS[role], "next": "/"}
    signed = browser.post("/login", data={**credentials, "csrf_token": csrf_from(browser.get("/login").text)})
    assert signed.status_code == 303
    return browser


def test_the_page_shows_the_x_report_then_closing_makes_it_z(shop: Server) -> None:
    day = "2026-11-26"
    write_days(shop.db, {"day": day, "drawer": "Bar"})  # (the open-drawer day keeps "Front" open)
    browser = signed_in(shop, "manager")
    try:
        x = browser.get("/manage/reports", params={"date": day})
        assert x.status_code == 200 and f"X-report (so far) · {day}" in x.text
        assert 'id="total-sales">$69.70<' in x.text and 'id="total-over-short">-$0.75<' in x.text
        assert "VAT 20 20%" in x.text and "Birthday (comp)" in x.text and f"Yes, close {day}" in x.text
        closed = browser.post("/manage/reports/close", data={"date": day, "csrf_token": csrf_from(x.text)})
        assert closed.status_code == 303 and closed.headers["location"] == f"/manage/reports?date={day}"
        z = browser.get(closed.headers["location"])
        assert f"Z-report · {day}" in z.text and "Day closed by manager" in z.text and "Yes, close" not in z.text
        again = browser.post("/manage/reports/close", data={"date": day, "csrf_token": csrf_from(x.text)})
        assert again.status_code == 409 and "already closed" in again.text
        audit = browser.get("/manage/audit", params={"date": day, "kind": "day.closed", "staff": ""})
        assert audit.status_code == 200 and audit.text.count('class="kind">day.closed<') == 1
        assert "sales: $69.70" in audit.text
    finally:
        browser.close()
    cashier = signed_in(shop, "cashier")
    try:
        assert cashier.get("/manage/reports").status_code == 403
        assert cashier.get("/manage/audit").status_code == 403
    finally:
        cashier.close()
