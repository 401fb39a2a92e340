"""The printers on the screens: the console's Printers section (add, edit, remove, test page, inline
errors as typed, live status on its stream) and the till (Print receipt, the live banner naming a
printer that cannot print, gone when it recovers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Server, create_menu, running_server
from .fake_printer import FakePrinter, wait_until

HX = {"HX-Request": "true"}
ENV = {
    "FORKFLOW_PRINTER_TIMEOUT_SECONDS": "1",
    "FORKFLOW_PRINTER_RETRY_SECONDS": "0.2",
    "FORKFLOW_PRINTER_RETRY_MAX_SECONDS": "0.4",
    "FORKFLOW_PRINT_POLL_SECONDS": "0.2",
}


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env=ENV) as srv:
        yield srv


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    made = FakePrinter("refuse")
    yield made
    made.close()


def _form(**fields: str) -> dict[str, str]:
    return {"name": "Grill", "host": "127.0.0.1", "port": "9100", "role": "kitchen", "stations": "grill", **fields}


def test_the_console_adds_edits_tests_and_removes_printers(fast_server: Server, printer: FakePrinter) -> None:
    with httpx.Client(base_url=fast_server.url, headers={**fast_server.auth("manager"), **HX}, timeout=10) as client:
        refused = client.post("/manage/printers", data=_form(host="http://grill", name="Grill printer"))
        assert refused.status_code == 422
        assert "host name or IPv4 address" in refused.text and 'value="Grill printer"' in refused.text
        assert client.get("/printers").json() == []
        added = client.post("/manage/printers", data=_form(port=str(printer.port)))
        assert added.status_code == 200 and "Added Grill." in added.text and "Not used yet" in added.text
        [grill] = client.get("/printers").json()
        taken = client.post("/manage/printers", data=_form(host="10.0.0.9"))
        assert taken.status_code == 409 and "exists already" in taken.text and 'value="10.0.0.9"' in taken.text
        editing = client.get(f"/manage/printers/{grill['id']}/edit")
        assert (
            editing.status_code == 200
            and "Edit Grill" in editing.text
            and f'name="id" value="{grill["id"]}"' in editing.text
        )
        saved = client.post(
            "/manage/printers", data=_form(id=str(grill["id"]), stations="grill, fry", port=str(printer.port))
        )
        assert saved.status_code == 200 and "Saved Grill." in saved.text
        assert client.get(f"/printers/{grill['id']}").json()["stations"] == ["grill", "fry"]
        tested = client.post(f"/manage/printers/{grill['id']}/test")
        assert tested.status_code == 200 and "Test page sent to Grill." in tested.text
        kept = client.post(f"/manage/printers/{grill['id']}/remove")
        assert kept.status_code == 409 and "waiting to print" in kept.text
        printer.set_mode("ok")
        printer.wait_for(1)
        wait_until(
            lambda: client.get(f"/printers/{grill['id']}").json()["queued_jobs"] == 0, what="the test page printed"
        )
        removed = client.post(f"/manage/printers/{grill['id']}/remove")
        assert removed.status_code == 200 and "Removed Grill." in removed.text
        assert client.get("/printers").json() == []


def _frames(stream: Any, wanted: str) -> Iterator[str]:
    """The data of each `wanted` event of an SSE stream (its data lines joined), as it arrives."""
    event, data = None, []
    for line in stream.iter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
        elif line == "":
            if event == wanted:
                yield "\n".join(data)
            event, data = None, []


def _until(frames: Iterator[str], check: Any) -> str:
    for data in frames:
        if check(data):
            return data
    raise AssertionError("the stream ended first")


def test_the_console_shows_a_printer_failing_and_back_live(fast_server: Server, printer: FakePrinter) -> None:
    headers = fast_server.auth("manager")
    made = httpx.post(
        f"{fast_server.url}/printers",
        json={"name": "Grill", "host": "127.0.0.1", "port": printer.port, "role": "kitchen", "stations": ["grill"]},
        headers=headers,
    ).json()
    with httpx.stream("GET", f"{fast_server.url}/manage/stream", headers=headers, timeout=20) as stream:
        frames = _frames(stream, "printers")
        assert "Not used yet" in next(frames)  # the section as it stands, at connect
        httpx.post(f"{fast_server.url}/printers/{made['id']}/test", headers=headers)
        failing = _until(frames, lambda data: "Failing" in data)
        assert "connection refused" in failing
        printer.set_mode("ok")
        back = _until(frames, lambda data: "Online" in data)
        assert "Failing" not in back


def test_the_till_prints_a_receipt_and_shows_a_failing_printer_until_it_recovers(
    fast_server: Server, printer: FakePrinter
) -> None:
    manager = fast_server.auth("manager")
    expo = FakePrinter("ok")
    try:
        backup = httpx.post(
            f"{fast_server.url}/printers",
            json={"name": "Expo", "host": "127.0.0.1", "port": expo.port, "role": "kitchen", "stations": ["expo"]},
            headers=manager,
        ).json()
        till_printer = httpx.post(
            f"{fast_server.url}/printers",
            json={
                "name": "Front",
                "host": "127.0.0.1",
                "port": printer.port,
                "role": "receipt",
                "backup_printer_id": backup["id"],
            },
            headers=manager,
        ).json()
        menu = create_menu(fast_server)
        cashier = fast_server.auth("cashier")
        body = {
            "customer_name": "Ada",
            "channel": "counter",
            "items": [{"menu_item_id": menu["Fries"]["id"], "quantity": 1}],
        }
        order = httpx.post(f"{fast_server.url}/orders", json=body, headers=cashier).json()
        page = httpx.get(f"{fast_server.url}/pos", headers=cashier)
        assert f'id="receipt-{order["id"]}"' in page.text and 'sse-swap="printers"' in page.text
        with httpx.stream("GET", f"{fast_server.url}/pos/stream", headers=cashier, timeout=20) as stream:
            frames = _frames(stream, "printers")
            assert "cannot print" not in next(frames)  # nothing failing at connect
            done = httpx.post(f"{fast_server.url}/pos/orders/{order['id']}/receipt", headers={**cashier, **HX})
            assert done.status_code == 204
            banner = _until(frames, lambda data: "cannot print" in data)
            assert "Front printer" in banner and "1 job waiting" in banner and "backup: Expo" in banner
            printer.set_mode("ok")
            _until(frames, lambda data: "cannot print" not in data)
        [job] = httpx.get(f"{fast_server.url}/print-jobs", params={"order_id": order["id"]}, headers=cashier).json()
        assert job["kind"] == "receipt" and job["printer_id"] == till_printer["id"]
        wait_until(lambda: printer.jobs, what="the receipt printed")
        assert json.loads(json.dumps(job))["copy"] == 0
    finally:
        expo.close()
