"""A test listener on `GET /events` that records what it receives."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse


@dataclass
class Received:
    id: int | str  # staff get the event's id; the public an opaque string
    type: str
    payload: dict[str, Any]


class Listener:
    def __init__(
        self,
        base_url: str,
        topics: str | None = None,
        last_event_id: int | str | None = None,
        token: str | None = None,
    ) -> None:
        self.url = f"{base_url}/events" + (f"?topics={topics}" if topics else "")
        self.headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.events: list[Received] = []
        self.ready = asyncio.Event()
        self.ready_at: int | str | None = None  # `stream.ready`'s last_event_id
        self.retry: int | None = None
        self.ended = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Listener:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
                async with aconnect_sse(client, "GET", self.url, headers=self.headers) as source:
                    source.response.raise_for_status()
                    async for sse in source.aiter_sse():
                        if sse.retry is not None:
                            self.retry = sse.retry
                        if sse.event == "stream.ready":
                            self.ready_at = json.loads(sse.data)["last_event_id"]
                            self.ready.set()
                            continue
                        if sse.event == "message" and not sse.data:
                            continue
                        async with self._arrived:
                            self.events.append(Received(_id_of(sse.id), sse.event, json.loads(sse.data)))
                            self._arrived.notify_all()
        finally:
            self.ended.set()

    def of_type(self, event_type: str) -> list[Received]:
        return [event for event in self.events if event.type == event_type]

    async def wait_for(self, count: int, event_type: str | None = None, timeout: float = 20) -> list[Received]:
        def enough() -> bool:
            matching = self.events if event_type is None else self.of_type(event_type)
            return len(matching) >= count

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(enough), timeout)
        return self.events if event_type is None else self.of_type(event_type)


def _id_of(raw: str) -> int | str:
    """Staff get event ids (at most 10 digits); the public gets 32 hex characters, kept as text."""
    return raw if len(raw) == 32 else int(raw)
