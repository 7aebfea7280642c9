"""Test helpers for devslack: a movable clock, a recording app, and a control API client.

Everything talks real HTTP on 127.0.0.1 with free ports; waiting is always on a condition
with a deadline, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from devslack import DevSlack, DevSlackConfig
from tests.support import wait_until


class MovableClock:
    """Wall-clock seconds that start at the real time and move only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    """One request the recording app got."""

    headers: dict[str, str]
    raw: bytes
    content_type: str

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw.decode(), keep_blank_values=True))

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON an interaction (payload=...) or an event (JSON body) carries."""
        if self.content_type == "application/json":
            return json.loads(self.raw)
        return json.loads(self.form["payload"])


Answer = Callable[[Received], Awaitable[web.StreamResponse]]


async def empty_ack(received: Received) -> web.StreamResponse:
    return web.Response(status=200)


@dataclass
class RecordingApp:
    """A stand-in for the app's request URL: records every request, answers via `answer`."""

    answer: Answer = empty_ack
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.StreamResponse:
            item = Received(dict(request.headers), await request.read(), request.content_type)
            self.received.append(item)
            return await self.answer(item)

        app = web.Application()
        app.router.add_post("/slack/events", handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def next(self, count: int = 1, timeout: float = 5.0) -> Received:
        """Wait until at least `count` requests arrived; return the count-th."""

        async def arrived() -> bool:
            return len(self.received) >= count

        await wait_until(arrived, timeout)
        return self.received[count - 1]


class Control:
    """A thin client of devslack's control API and Web API."""

    def __init__(self, devslack: DevSlack, session: aiohttp.ClientSession) -> None:
        self.devslack = devslack
        self.session = session
        self.base = devslack.base_url

    async def get(self, path: str, **params: str) -> Any:
        async with self.session.get(f"{self.base}/_dev/api/{path}", params=params) as response:
            assert response.status == 200, (response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        async with self.session.post(f"{self.base}/_dev/api/{path}", json=body or {}) as response:
            data = await response.json()
            assert response.status == status, (response.status, data)
            return data

    async def api(
        self, method: str, token: str | None = "bot", status: int = 200, **args: Any
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Call /api/<method> with a JSON body and the bot (or given) token."""
        headers = {}
        if token == "bot":
            token = self.devslack.env["SLACK_BOT_TOKEN"]
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.post(
            f"{self.base}/api/{method}",
            data=json.dumps(args),
            headers={**headers, "Content-Type": "application/json; charset=utf-8"},
        ) as response:
            return response.status, dict(response.headers), await response.json()

    async def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        params = {"channel": channel}
        if thread_ts:
            params["thread_ts"] = thread_ts
        return (await self.get("messages", **params))["messages"]

    async def views(self, user: str) -> list[dict[str, Any]]:
        return (await self.get("views", user=user))["views"]

    async def ephemeral(self, user: str) -> list[dict[str, Any]]:
        return (await self.get("ephemeral", user=user))["messages"]

    async def deliveries(self) -> list[dict[str, Any]]:
        return (await self.get("stats"))["deliveries"]


class LiveStream:
    """Collects the SSE events of GET /_dev/api/live in the background."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> LiveStream:
        self._task = asyncio.ensure_future(self._run())
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def _run(self) -> None:
        async with self.session.get(self.url) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            async for line in response.content:
                text = line.decode().rstrip("\n")
                if text.startswith(": connected"):
                    self._ready.set()
                if text.startswith("data: "):
                    self.events.append(json.loads(text[len("data: ") :]))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((e for e in self.events if predicate(e)), None)

        return await wait_until(found, timeout)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def start_devslack(clock: Callable[[], float] | None = None, **config: Any) -> DevSlack:
    devslack = DevSlack(DevSlackConfig(**config), clock=clock or time.time)
    await devslack.start()
    return devslack
