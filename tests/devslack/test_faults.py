"""Fault injection: each kind, per method and for every method, at start and while running."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control, start_devslack


async def test_error_fault_returns_the_configured_slack_error(
    slack: Control, client: AsyncWebClient
) -> None:
    await slack.post("faults", {"method": "chat.postMessage", "error": "fatal_error"})
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#general", text="hi")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "fatal_error"
    assert (await client.auth_test())["ok"]  # other methods are untouched


async def test_status_fault_answers_5xx(slack: Control) -> None:
    await slack.post("faults", {"method": "users.info", "status": 503})
    status, _, body = await slack.api("users.info", user="U0ALICE01")
    assert status == 503
    assert body == {"ok": False, "error": "service_unavailable"}


async def test_ratelimit_storm_lasts_count_calls(slack: Control) -> None:
    await slack.post("faults", {"method": "*", "ratelimit": {"retry_after": 7, "count": 2}})
    for _ in range(2):
        status, headers, body = await slack.api("auth.test")
        assert (status, headers["Retry-After"], body["error"]) == (429, "7", "ratelimited")
    status, _, body = await slack.api("auth.test")
    assert status == 200 and body["ok"]
    assert (await slack.get("stats"))["methods"]["auth.test"]["ratelimited"] == 2


async def test_latency_is_added(slack: Control) -> None:
    await slack.post("faults", {"method": "auth.test", "latency_ms": 300})
    started = time.monotonic()
    status, _, body = await slack.api("auth.test")
    assert status == 200 and body["ok"]
    assert time.monotonic() - started >= 0.3


async def test_drop_closes_the_connection_without_an_answer(slack: Control) -> None:
    await slack.post("faults", {"method": "chat.postMessage", "drop": True})
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await fresh.post(
                slack.devslack.env["SLACK_API_URL"] + "chat.postMessage",
                data={
                    "token": slack.devslack.env["SLACK_BOT_TOKEN"],
                    "channel": "general",
                    "text": "x",
                },
            )
    assert await slack.messages("general") == []


async def test_error_rate_fails_only_some_calls(slack: Control) -> None:
    await slack.post(
        "faults", {"method": "users.info", "error_rate": 0.5, "error": "internal_error", "seed": 7}
    )
    results = [(await slack.api("users.info", user="U0BOB0001"))[2]["ok"] for _ in range(40)]
    assert 5 < results.count(False) < 35


async def test_clear_removes_the_fault(slack: Control) -> None:
    await slack.post("faults", {"method": "auth.test", "error": "fatal_error"})
    assert (await slack.api("auth.test"))[2]["error"] == "fatal_error"
    assert (await slack.get("faults"))["faults"]["auth.test"]["error"] == "fatal_error"
    await slack.post("faults", {"method": "auth.test", "clear": True})
    assert (await slack.api("auth.test"))[2]["ok"]


async def test_invalid_fault_spec_is_refused(slack: Control) -> None:
    body = await slack.post("faults", {"method": "auth.test", "status": 200}, status=400)
    assert body["ok"] is False


async def test_faults_given_at_start_apply_and_survive_reset(
    session: aiohttp.ClientSession,
) -> None:
    devslack = await start_devslack(
        app_url="http://127.0.0.1:9/", faults={"method": "auth.test", "error": "team_added_to_org"}
    )
    try:
        ctl = Control(devslack, session)
        assert (await ctl.api("auth.test"))[2]["error"] == "team_added_to_org"
        await ctl.post("reset")
        assert (await ctl.api("auth.test"))[2]["error"] == "team_added_to_org"
    finally:
        await devslack.stop()
