"""Server-Sent Events fan-out for the web UI (`GET /_dev/api/live?user=U`).

The UI must see what a Slack client would see as it happens (a late ack's error, a message
edited by the bot, a modal replaced by response_action). Events carrying one user's private
state (ephemeral messages, modals, Home tab, errors) reach only that user's streams; a stream
opened without `user` sees everything (useful for tests and operators).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: How many events a slow stream may lag behind before it is dropped (the UI reconnects).
QUEUE_LIMIT = 5000
#: Comment lines keep proxies and the browser from closing an idle stream.
KEEPALIVE_SECONDS = 15.0


@dataclass(eq=False)
class _Subscriber:
    user: str | None
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


class LiveHub:
    """Holds the open SSE streams and publishes events to the right ones."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    def publish(self, event: dict[str, Any], audience: Collection[str] | None = None) -> None:
        """Queue `event` for every stream whose user is in `audience` (None = all streams)."""
        if not self._subscribers:
            return
        data = "data: " + json.dumps(event, separators=(",", ":")) + "\n\n"
        for sub in list(self._subscribers):
            if audience is not None and sub.user is not None and sub.user not in audience:
                continue
            try:
                sub.queue.put_nowait(data)
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: _Subscriber) -> None:
        """End a stream that cannot keep up; its client reconnects and refetches."""
        self._subscribers.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    async def stream(self, request: web.Request, user: str | None) -> web.StreamResponse:
        """Serve one SSE stream until the client goes away or the hub closes."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        sub = _Subscriber(user)
        self._subscribers.add(sub)  # before the headers go out: no event is missed after "open"
        try:
            await response.prepare(request)
            await response.write(b": connected\n\n")
            while not self._closed:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is None:
                    break
                await response.write(item.encode())
        except ConnectionResetError:
            return response
        finally:
            self._subscribers.discard(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self._closed = True
        for sub in list(self._subscribers):
            self._drop(sub)
