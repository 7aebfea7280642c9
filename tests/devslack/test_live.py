"""The live SSE stream the UI follows, and reset."""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control, LiveStream, RecordingApp


async def test_message_events_carry_the_whole_message(
    slack: Control, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    async with LiveStream(session, slack.base + "/_dev/api/live?user=alice") as live:
        posted = await client.chat_postMessage(channel="C0GENERAL", text="hello")
        await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="edited")
        await client.chat_delete(channel="C0GENERAL", ts=posted["ts"])
        deleted = await live.wait_for(lambda e: e["type"] == "message" and e["deleted"])
    new, changed = [e for e in live.events if e["type"] == "message"][:2]
    assert new["channel"] == "C0GENERAL" and new["ts"] == posted["ts"] and new["text"] == "hello"
    assert new["deleted"] is False and new["bot_id"] == "B0HITLBOT" and new["edited"] is None
    assert changed["text"] == "edited" and changed["edited"]["user"] == "U0HITLBOT"
    assert deleted["ts"] == posted["ts"]
    assert set(new) >= {
        "ts",
        "user",
        "bot_id",
        "text",
        "blocks",
        "thread_ts",
        "reply_count",
        "edited",
        "metadata",
    }


async def test_private_events_only_reach_their_user(
    slack: Control, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    async with (
        LiveStream(session, slack.base + "/_dev/api/live?user=alice") as alice,
        LiveStream(session, slack.base + "/_dev/api/live?user=bob") as bob,
    ):
        await client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB0001", text="psst")
        await client.chat_postMessage(channel="U0BOB0001", text="dm")
        await client.views_publish(user_id="U0BOB0001", view={"type": "home", "blocks": []})
        await client.chat_postMessage(channel="C0GENERAL", text="public")
        await bob.wait_for(lambda e: e["type"] == "message" and e["text"] == "public")
        await alice.wait_for(lambda e: e["type"] == "message" and e["text"] == "public")
    ephemeral = next(e for e in bob.events if e["type"] == "ephemeral")
    assert ephemeral["channel"] == "C0GENERAL" and ephemeral["message"]["text"] == "psst"
    assert any(e["type"] == "home" and e["view"]["type"] == "home" for e in bob.events)
    assert any(e["type"] == "message" and e["channel"] == "D0BOB0001" for e in bob.events)
    assert [e["type"] for e in alice.events] == ["message"]


async def test_views_and_delivery_events(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    async with LiveStream(session, slack.base + "/_dev/api/live?user=carol") as live:
        await slack.post(
            "command", {"user": "carol", "channel": "general", "command": "/procedure"}
        )
        trigger_id = (await recorder.next()).form["trigger_id"]
        modal = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
        opened = (await client.views_open(trigger_id=trigger_id, view=modal))["view"]
        views = await live.wait_for(lambda e: e["type"] == "views")
        await slack.post("close", {"user": "carol", "view_id": opened["id"]})
        closed = await live.wait_for(lambda e: e["type"] == "views" and e["views"] == [])
    assert [v["id"] for v in views["views"]] == [opened["id"]]
    assert closed["views"] == []
    delivery = next(e for e in live.events if e["type"] == "delivery")
    assert delivery["kind"] == "slash_command" and delivery["verdict"] == "ok"
    assert {"ack_ms", "status", "verdict", "retry_num"} <= set(delivery)


async def test_reset_returns_to_the_seed(
    slack: Control, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="x")
    await slack.post("faults", {"method": "auth.test", "error": "fatal_error"})
    async with LiveStream(session, slack.base + "/_dev/api/live") as live:
        await slack.post("reset")
        await live.wait_for(lambda e: e["type"] == "reset")
    assert await slack.messages("general") == []
    assert (await slack.get("stats")) == {"deliveries": [], "methods": {}}
    assert (await client.auth_test())["ok"]


async def test_control_api_errors(slack: Control) -> None:
    assert (
        await slack.post(
            "command", {"user": "zed", "channel": "general", "command": "/procedure"}, status=404
        )
    )["error"] == "user_not_found"
    assert (
        await slack.post("message", {"user": "bob", "channel": "#nope", "text": "x"}, status=404)
    )["error"] == "channel_not_found"
    assert (
        await slack.post(
            "click", {"user": "bob", "channel": "general", "ts": "1.2", "text": "Go"}, status=404
        )
    )["error"] == "message_not_found"
    assert (await slack.post("submit", {"user": "bob", "view_id": "V0NONE"}, status=404))[
        "error"
    ] == "view_not_found"
    async with slack.session.get(slack.base + "/") as response:
        assert response.status == 200 and "html" in response.headers["Content-Type"]


async def test_stats_limit_returns_the_latest_rows(slack: Control) -> None:
    for _ in range(3):
        await slack.post("command", {"user": "bob", "channel": "general", "command": "/procedure"})
    rows = (await slack.get("stats", limit="2"))["deliveries"]
    assert [r["id"] for r in rows] == [2, 3]
