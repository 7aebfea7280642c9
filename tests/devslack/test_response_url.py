"""response_url: 5 uses within 30 minutes; ephemeral, in_channel, replace/delete_original."""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.devslack.helpers import Control, MovableClock, RecordingApp

BUTTON = [
    {
        "type": "actions",
        "block_id": "b",
        "elements": [
            {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
        ],
    }
]


async def command_url(slack: Control, recorder: RecordingApp) -> str:
    await slack.post(
        "command", {"user": "alice", "channel": "general", "command": "/procedure", "text": "x"}
    )
    return (await recorder.next(len(recorder.received) or 1)).form["response_url"]


async def click_url(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> tuple[str, str]:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="pick", blocks=BUTTON)
    await slack.post(
        "click", {"user": "bob", "channel": "general", "ts": posted["ts"], "action_id": "go"}
    )
    payload = (await recorder.next()).payload
    return payload["response_url"], posted["ts"]


async def test_five_uses_then_used_url(slack: Control, recorder: RecordingApp) -> None:
    webhook = AsyncWebhookClient(await command_url(slack, recorder))
    for i in range(5):
        response = await webhook.send(text=f"reply {i}")
        assert response.status_code == 200, response.body
    sixth = await webhook.send(text="one too many")
    assert sixth.status_code == 404 and "used_url" in sixth.body
    assert [m["text"] for m in await slack.ephemeral("alice")] == [f"reply {i}" for i in range(5)]


async def test_expires_after_thirty_minutes(
    slack: Control, recorder: RecordingApp, movable_clock: MovableClock
) -> None:
    webhook = AsyncWebhookClient(await command_url(slack, recorder))
    movable_clock.advance(29 * 60)
    assert (await webhook.send(text="still fine")).status_code == 200
    movable_clock.advance(61)
    late = await webhook.send(text="too late")
    assert late.status_code == 404 and "expired_url" in late.body


async def test_in_channel_posts_visibly(slack: Control, recorder: RecordingApp) -> None:
    webhook = AsyncWebhookClient(await command_url(slack, recorder))
    await webhook.send(text="for everyone", response_type="in_channel")
    [message] = await slack.messages("general")
    assert message["text"] == "for everyone" and message["bot_id"] == "B0HITLBOT"
    assert await slack.ephemeral("alice") == []


async def test_replace_original_from_a_command_posts_a_new_message(
    slack: Control, recorder: RecordingApp
) -> None:
    webhook = AsyncWebhookClient(await command_url(slack, recorder))
    await webhook.send(text="replacement", replace_original=True)
    assert [m["text"] for m in await slack.ephemeral("alice")] == ["replacement"]


async def test_replace_and_delete_original_message(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    url, ts = await click_url(slack, recorder, client)
    webhook = AsyncWebhookClient(url)
    await webhook.send(text="decided", replace_original=True)
    [message] = await slack.messages("general")
    assert (message["ts"], message["text"], message["blocks"]) == (ts, "decided", None)
    await webhook.send(delete_original=True)
    assert await slack.messages("general") == []


async def test_replace_original_ephemeral_stays_ephemeral(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    posted = await client.chat_postEphemeral(
        channel="C0GENERAL", user="U0BOB0001", text="pick", blocks=BUTTON
    )
    await slack.post(
        "click",
        {"user": "bob", "channel": "general", "ts": posted["message_ts"], "action_id": "go"},
    )
    payload = (await recorder.next()).payload
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    webhook = AsyncWebhookClient(payload["response_url"])
    await webhook.send(text="done", replace_original=True, response_type="in_channel")
    assert [m["text"] for m in await slack.ephemeral("bob")] == ["done"]
    assert await slack.messages("general") == []


async def test_invalid_blocks_are_refused(
    slack: Control, recorder: RecordingApp, session: aiohttp.ClientSession
) -> None:
    url = await command_url(slack, recorder)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    async with session.post(url, json={"text": "x", "blocks": blocks}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_blocks"
