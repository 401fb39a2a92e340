"""A Server-Sent Events listener on a raw asyncio socket, timestamping each event on arrival.

Frames are parsed here rather than with httpx-sse so the receipt time is taken as soon as the
bytes are read, with as little client work in between as possible (20 listeners share one core
with the order senders). It handles what the SSE spec allows for line endings: CRLF, LF, CR.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .client import read_chunk, read_head_sized


class StreamRefused(RuntimeError):
    """The server answered the stream's GET with something other than 200."""

    def __init__(self, path: str, status: int) -> None:
        super().__init__(f"GET {path} answered {status}")
        self.status = status


@dataclass(slots=True)
class Traffic:
    """Bytes a stream moved: the request, and the response head and body (chunk framing excluded)."""

    bytes_out: int = 0
    bytes_in: int = 0


@dataclass(slots=True)
class SseEvent:
    event: str  # "message" when the frame names none
    id: str | None
    data: str
    received: float  # time.time() when the chunk holding the frame's end was read


def parse_frames(buffer: str) -> tuple[list[tuple[str, str | None, str]], str]:
    """Complete frames in `buffer` as (event, id, data), and the unparsed rest.

    Comment-only frames (heartbeats) and `retry:` lines yield nothing.
    """
    # A lone CR at the very end may be the first half of a CRLF split across chunks: keep it.
    held = ""
    if buffer.endswith("\r"):
        buffer, held = buffer[:-1], "\r"
    text = buffer.replace("\r\n", "\n").replace("\r", "\n")
    *complete, rest = text.split("\n\n")
    frames = []
    for block in complete:
        event, event_id, data = "message", None, []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
        if data or event != "message":
            frames.append((event, event_id, "\n".join(data)))
    return frames, rest + held


async def listen(
    host: str, port: int, path: str, headers: dict[str, str] | None = None, traffic: Traffic | None = None
) -> AsyncIterator[SseEvent]:
    """Yield events from GET `path` until the server ends the stream or the caller stops."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Cache-Control: no-cache\r\n{extra}\r\n".encode()
        )
        writer.write(request)
        status, headers, head_bytes = await read_head_sized(reader)
        if traffic is not None:
            traffic.bytes_out += len(request)
            traffic.bytes_in += head_bytes
        if status != 200:
            raise StreamRefused(path, status)
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        decoder = codecs.getincrementaldecoder("utf-8")()
        buffer = ""
        while True:
            raw = await read_chunk(reader) if chunked else await reader.read(65536)
            if not raw:
                return
            received = time.time()
            if traffic is not None:
                traffic.bytes_in += len(raw)
            frames, buffer = parse_frames(buffer + decoder.decode(raw))
            for event, event_id, data in frames:
                yield SseEvent(event, event_id, data, received)
    finally:
        writer.close()
