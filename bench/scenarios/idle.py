"""Idle cost: what one kitchen display costs while nothing happens, against one that polls.

Ours loads `GET /kitchen/display` (as staff, with the bearer token), takes the stream URL from the
page's `sse-connect` attribute, opens it, and then sits for `idle_seconds` with the kitchen quiet
(`idle_active_orders` tickets on the rail). Every request it makes after the page and the stream
counts, and so would a reconnect if the server ended the stream. The polling display it is
compared with asks `GET /kitchen/orders` every `poll_seconds` over one keep-alive connection.
Both run at once against the same server; bytes are counted on the wire (heads and bodies, chunk
framing excluded). The real page's no-polling is proven by the browser tests; this puts a price
on the alternative.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import make_client, read_head_sized
from ..servers import HOST, forkflow_server
from ..sse_client import Traffic, listen
from ..workload import burst, create_menu, make_orders, sign_in
from . import Config

SSE_CONNECT = re.compile(r'sse-connect="([^"]+)"')


@dataclass
class Display:
    """Our kitchen display after its page load: one stream, reopened only if the server ends it."""

    path: str
    headers: dict[str, str]
    traffic: Traffic = field(default_factory=Traffic)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    requests: int = 0  # streams opened, the first one included
    frames: int = 0  # events after stream.ready (heartbeats are comments: bytes only)

    async def run(self, port: int) -> None:
        while True:
            self.requests += 1
            try:
                async for ev in listen(HOST, port, self.path, self.headers, self.traffic):
                    if ev.event == "stream.ready":
                        self.ready.set()
                    elif self.ready.is_set():
                        self.frames += 1
            except (OSError, RuntimeError):
                pass
            await asyncio.sleep(1.5)  # the page's EventSource retry


async def poller(port: int, headers: dict[str, str], every: float, seconds: float, traffic: Traffic) -> int:
    """A display that polls: GET /kitchen/orders every `every` s on one keep-alive connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET /kitchen/orders HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}\r\n".encode()
    count = 0
    start = time.perf_counter()
    try:
        while (due := start + count * every) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            writer.write(request)
            status, response_headers, head_bytes = await read_head_sized(reader)
            body = await reader.readexactly(int(response_headers["content-length"]))
            if status != 200:
                raise RuntimeError(f"GET /kitchen/orders answered {status}: {body[:200]!r}")
            traffic.bytes_out += len(request)
            traffic.bytes_in += head_bytes + len(body)
            count += 1
    finally:
        writer.close()
    return count


async def run(cfg: Config) -> dict[str, Any]:
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    with server:
        client = make_client(cfg.client, HOST, server.port, 4)
        task: asyncio.Task[None] | None = None
        try:
            headers = await sign_in(client, server.credentials)
            menu = await create_menu(client, cfg.menu_items, cfg.seed)
            await burst(client, make_orders(menu, cfg.idle_active_orders, cfg.seed, "idle"), 4)
            page = await client.request("GET", "/kitchen/display")
            found = SSE_CONNECT.search(page.body.decode())
            if page.status != 200 or found is None:
                raise RuntimeError(f"GET /kitchen/display answered {page.status} without an sse-connect URL")
            display = Display(html.unescape(found.group(1)), headers)
            task = asyncio.create_task(display.run(server.port))
            await asyncio.wait_for(display.ready.wait(), 15)
            before = Traffic(display.traffic.bytes_out, display.traffic.bytes_in)
            polling = Traffic()
            window = time.perf_counter() + cfg.idle_seconds
            polls = await poller(server.port, headers, cfg.poll_seconds, cfg.idle_seconds, polling)
            await asyncio.sleep(max(0.0, window - time.perf_counter()))  # the whole window, for both
            reopened = display.requests - 1
            minutes = cfg.idle_seconds / 60
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await client.aclose()
    streamed_in = display.traffic.bytes_in - before.bytes_in
    streamed_out = display.traffic.bytes_out - before.bytes_out
    return {
        "seconds": cfg.idle_seconds,
        "active_orders": cfg.idle_active_orders,
        "page_bytes": len(page.body),
        "stream_path": display.path,
        "ours": {
            "requests": reopened,  # during the idle window, besides the one stream
            "requests_per_min": reopened / minutes,
            "frames": display.frames,
            "bytes_in": streamed_in,
            "bytes_out": streamed_out,
            "bytes_per_min": (streamed_in + streamed_out) / minutes,
        },
        "polling": {
            "every_s": cfg.poll_seconds,
            "requests": polls,
            "requests_per_min": polls / minutes,
            "bytes_in": polling.bytes_in,
            "bytes_out": polling.bytes_out,
            "bytes_per_min": (polling.bytes_in + polling.bytes_out) / minutes,
        },
    }
