"""Socket Mode: the WebSocket endpoint apps.connections.open points at, and envelope acks.

Slack sends each payload as an envelope to ONE of the app's open connections and waits for
`{"envelope_id", "payload"?}` back; that ack carries the same meaning (and the same 3 s
deadline) as an HTTP response body in HTTP mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
from typing import Any

from aiohttp import WSMsgType, web

#: Slack allows an app up to 10 simultaneous Socket Mode connections.
MAX_CONNECTIONS = 10


class SocketHub:
    """Open Socket Mode connections, issued tickets and envelopes awaiting their ack."""

    def __init__(self, app_id: str, rng: random.Random | None = None) -> None:
        self.app_id = app_id
        self.rng = rng or random.Random()
        self.connections: list[web.WebSocketResponse] = []
        self.tickets: set[str] = set()
        self._pending: dict[str, asyncio.Future[tuple[float, Any]]] = {}
        self._sent_on: dict[str, web.WebSocketResponse] = {}

    def new_url(self, base_url: str) -> str:
        """A URL for apps.connections.open (ws:// on devslack's own port)."""
        ticket = secrets.token_hex(16)
        self.tickets.add(ticket)
        ws_base = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{ws_base}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def open_connections(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self.connections if not ws.closed]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /link/?ticket=...: accept the WebSocket, say hello, collect acks."""
        if request.query.get("ticket") not in self.tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        if len(self.open_connections) >= MAX_CONNECTIONS:
            return web.json_response({"ok": False, "error": "too_many_websockets"}, status=409)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": len(self.open_connections),
                        "debug_info": {
                            "host": "devslack",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            with contextlib.suppress(ValueError):
                self.connections.remove(ws)
            self._fail_pending(ws)
        return ws

    def _fail_pending(self, ws: web.WebSocketResponse) -> None:
        """Envelopes sent on a connection that closed will never be acked: fail them now."""
        for envelope_id, sent_on in list(self._sent_on.items()):
            if sent_on is ws:
                future = self._pending.get(envelope_id)
                if future is not None and not future.done():
                    future.set_exception(ConnectionResetError("Socket Mode connection closed"))

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        future = self._pending.get(str(message.get("envelope_id")))
        if future is not None and not future.done():
            future.set_result((asyncio.get_running_loop().time(), message.get("payload")))

    async def send(self, envelope: dict[str, Any]) -> asyncio.Future[tuple[float, Any]] | None:
        """Send to one open connection (chosen at random, as Slack does); the future resolves
        with (loop time, ack payload). None when no connection is open."""
        connections = self.open_connections
        if not connections:
            return None
        ws = self.rng.choice(connections)
        future: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope["envelope_id"]] = future
        self._sent_on[envelope["envelope_id"]] = ws
        try:
            await ws.send_str(json.dumps(envelope))
        except (ConnectionResetError, RuntimeError):
            self.forget(envelope["envelope_id"])
            return None
        return future

    def forget(self, envelope_id: str) -> None:
        """Stop waiting for an envelope's ack."""
        self._sent_on.pop(envelope_id, None)
        future = self._pending.pop(envelope_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def close(self) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.close()
        self.connections.clear()
        for envelope_id in list(self._pending):
            self.forget(envelope_id)
