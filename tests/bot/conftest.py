"""Fixtures for bot tests: an in-process devslack over real HTTP, its control API, stores.

Reuse them from any test under tests/bot/:

- `vclock`: a `VirtualClock` (epoch seconds that move only when code sleeps on it or a test
  advances it). Pass it as devslack's clock AND as the bot's clock/sleep so rate-limit
  windows, Retry-After waits and backoff all run on virtual time: no test sleeps for real.
- `devslack`: devslack on the REAL clock (trigger ids expire after 3 real seconds, rate limits
  refill in real time), Web API only (no app_url: deliveries would go over Socket Mode).
- `devslack_v`: the same on `vclock` (what tests of pacing, 429s and outages want).
- `start_devslack`: a factory, `await start_devslack(clock=..., app_url=..., faults=...)`, for
  any other DevSlackConfig (an app URL for flow tests, initial faults...); all are stopped at
  teardown.
- `slack_control` / `slack_control_v`: a `SlackControl` (control API: messages, stats,
  faults, reset) for `devslack` / `devslack_v`.
- `web_client` / `web_client_v`: a plain slack_sdk `AsyncWebClient` pointed at that devslack
  (slack-sdk defaults: no 429 retries; wrap it in `SlackIO` for the bot's behaviour).
- `memory_store`, `sql_store` (SQLite in tmp_path), and `any_store` (parametrised: each test
  using it runs once per store).

The name `clock` is taken by tests/conftest.py (a datetime FakeClock), hence `vclock`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.sql import SqlStore
from devslack import DevSlack, DevSlackConfig
from runtime.memory_store import MemoryStore
from runtime.protocols import RunStore

#: Seed ids (devslack/seed.yaml), so tests need not look them up.
ALICE, BOB, CAROL, DAVE = "U0ALICE01", "U0BOB0001", "U0CAROL01", "U0DAVE001"
GENERAL, DEPLOYS, INCIDENTS = "C0GENERAL", "C0DEPLOYS", "C0INCIDNT"
ONCALL = "S0ONCALL1"  # @oncall: bob and carol


class VirtualClock:
    """Epoch seconds that pass only when code sleeps on them (or a test advances them).

    `sleep(d)` really sleeps `d * scale` (1/100 by default), then moves the clock to (time of
    the call + d), never backwards. The scaled real sleep keeps concurrent sleepers waking in
    the order of their targets, with a little real time between them for their HTTP calls:
    a virtual clock that jumped straight to the last sleeper's target would bunch 50 paced
    posts into one instant.
    """

    def __init__(self, start: float | None = None, scale: float = 0.01) -> None:
        self.now = time.time() if start is None else start
        self.scale = scale
        self.slept = 0.0  # total requested sleep, for assertions on backoff

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        target = self.now + seconds
        self.slept += seconds
        await asyncio.sleep(seconds * self.scale)
        self.now = max(self.now, target)


class SlackControl:
    """A thin client of devslack's control API (/_dev/api/)."""

    def __init__(self, devslack: DevSlack, session: aiohttp.ClientSession) -> None:
        self.devslack = devslack
        self.session = session

    @property
    def base(self) -> str:
        return self.devslack.base_url + "/_dev/api/"

    async def get(self, path: str, **params: str) -> Any:
        async with self.session.get(self.base + path, params=params) as response:
            assert response.status == 200, (response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.session.post(self.base + path, json=body or {}) as response:
            data = await response.json()
            assert response.status == 200, (response.status, data)
            return data

    async def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages of a channel (oldest first), or one thread's messages."""
        params = {"channel": channel, **({"thread_ts": thread_ts} if thread_ts else {})}
        return (await self.get("messages", **params))["messages"]

    async def method_stats(self, method: str) -> dict[str, int]:
        """{calls, ratelimited, errors} of one Web API method (zeros when never called)."""
        methods = (await self.get("stats"))["methods"]
        return methods.get(method, {"calls": 0, "ratelimited": 0, "errors": 0})

    async def fault(self, **rule: Any) -> None:
        """POST /_dev/api/faults, e.g. fault(method="chat.postMessage", status=503)."""
        await self.post("faults", rule)

    async def clear_faults(self, method: str | None = None) -> None:
        await self.post("faults", {"clear": True, **({"method": method} if method else {})})

    async def reset(self) -> None:
        await self.post("reset")

    async def ephemeral(self, user: str) -> list[dict[str, Any]]:
        return (await self.get("ephemeral", user=user))["messages"]


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def start_devslack() -> AsyncIterator[Callable[..., Awaitable[DevSlack]]]:
    started: list[DevSlack] = []

    async def start(clock: Callable[[], float] | None = None, **config: Any) -> DevSlack:
        devslack = DevSlack(DevSlackConfig(**config), clock=clock or time.time)
        await devslack.start()
        started.append(devslack)
        return devslack

    yield start
    for devslack in started:
        await devslack.stop()


@pytest.fixture
async def devslack(start_devslack: Callable[..., Awaitable[DevSlack]]) -> DevSlack:
    return await start_devslack()


@pytest.fixture
async def devslack_v(
    start_devslack: Callable[..., Awaitable[DevSlack]], vclock: VirtualClock
) -> DevSlack:
    return await start_devslack(clock=vclock)


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def slack_control(devslack: DevSlack, http_session: aiohttp.ClientSession) -> SlackControl:
    return SlackControl(devslack, http_session)


@pytest.fixture
def slack_control_v(devslack_v: DevSlack, http_session: aiohttp.ClientSession) -> SlackControl:
    return SlackControl(devslack_v, http_session)


def client_for(devslack: DevSlack) -> AsyncWebClient:
    env = devslack.env
    return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


@pytest.fixture
def web_client(devslack: DevSlack) -> AsyncWebClient:
    return client_for(devslack)


@pytest.fixture
def web_client_v(devslack_v: DevSlack) -> AsyncWebClient:
    return client_for(devslack_v)


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def sql_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    yield store
    store.close()


@pytest.fixture(params=["memory", "sql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.db'}")
    yield store
    store.close()
