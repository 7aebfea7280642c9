"""Rate limits: chat.postMessage per channel with a burst, per-method tiers, 429 + Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control, MovableClock, start_devslack


async def test_post_message_burst_then_429_then_recovery(
    slack: Control, client: AsyncWebClient, movable_clock: MovableClock
) -> None:
    for i in range(5):  # the burst allowance
        await client.chat_postMessage(channel="C0DEPLOYS", text=f"m{i}")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0DEPLOYS", text="too fast")
    response = caught.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert response.headers["retry-after"] == "1"
    # Another channel has its own budget.
    assert (await client.chat_postMessage(channel="C0GENERAL", text="elsewhere"))["ok"]
    movable_clock.advance(1.0)
    assert (await client.chat_postMessage(channel="C0DEPLOYS", text="later"))["ok"]
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0DEPLOYS", text="again too fast")
    stats = (await slack.get("stats"))["methods"]["chat.postMessage"]
    assert stats == {"calls": 9, "ratelimited": 2, "errors": 2}
    assert len(await slack.messages("deploys")) == 6


async def test_tier_2_method_allows_20_per_minute(
    slack: Control, client: AsyncWebClient, movable_clock: MovableClock
) -> None:
    for _ in range(20):
        await client.users_list()
    with pytest.raises(SlackApiError) as caught:
        await client.users_list()
    assert caught.value.response.status_code == 429
    assert int(caught.value.response.headers["retry-after"]) == 3  # one call per 3 s refills
    assert (await client.users_info(user="U0BOB0001"))["ok"]  # limits are per method
    movable_clock.advance(3)
    assert (await client.users_list())["ok"]


async def test_reset_clears_rate_limit_counters(slack: Control, client: AsyncWebClient) -> None:
    for _ in range(20):
        await client.usergroups_list()
    with pytest.raises(SlackApiError):
        await client.usergroups_list()
    await slack.post("reset")
    assert (await client.usergroups_list())["ok"]


@pytest.fixture
async def unlimited(session: aiohttp.ClientSession) -> AsyncIterator[Control]:
    devslack = await start_devslack(app_url="http://127.0.0.1:9/", rate_limits=False)
    yield Control(devslack, session)
    await devslack.stop()


async def test_rate_limits_can_be_turned_off(unlimited: Control) -> None:
    for i in range(30):
        status, _, body = await unlimited.api("chat.postMessage", channel="general", text=str(i))
        assert status == 200 and body["ok"]
