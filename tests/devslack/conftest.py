"""Fixtures for devslack tests: a running devslack whose deliveries go to a recording app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control, MovableClock, RecordingApp, start_devslack

#: Short Events API retry delays so retry tests finish fast (Slack: ~0 s, 1 min, 5 min).
FAST_RETRIES = (0.05, 0.05, 0.05)


@pytest.fixture
def movable_clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def recorder() -> AsyncIterator[RecordingApp]:
    app = RecordingApp()
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def slack(
    recorder: RecordingApp, movable_clock: MovableClock, session: aiohttp.ClientSession
) -> AsyncIterator[Control]:
    """devslack on the movable clock, delivering over HTTP to `recorder`."""
    devslack = await start_devslack(
        movable_clock, app_url=recorder.url, event_retry_delays=FAST_RETRIES
    )
    yield Control(devslack, session)
    await devslack.stop()


@pytest.fixture
def client(slack: Control) -> AsyncWebClient:
    """slack_sdk's AsyncWebClient, unchanged, pointed at devslack."""
    env = slack.devslack.env
    return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
