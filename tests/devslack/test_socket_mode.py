"""Socket Mode from the wire: apps.connections.open, hello, envelopes, acks, several connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.devslack.helpers import Control, start_devslack, wait_until


@pytest.fixture
async def socket_slack(session: aiohttp.ClientSession) -> AsyncIterator[Control]:
    devslack = await start_devslack(socket_mode=True)
    yield Control(devslack, session)
    await devslack.stop()


async def connect(slack: Control) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    status, _, body = await slack.api(
        "apps.connections.open", token=slack.devslack.env["SLACK_APP_TOKEN"]
    )
    assert status == 200 and body["ok"], body
    assert body["url"].startswith("ws://127.0.0.1:") and "app_id=A0DEVAPP01" in body["url"]
    ws = await slack.session.ws_connect(body["url"])
    hello = json.loads((await ws.receive()).data)
    return ws, hello


async def test_hello_envelope_and_ack_with_payload(socket_slack: Control) -> None:
    ws, hello = await connect(socket_slack)
    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": "A0DEVAPP01"}

    async def app() -> dict[str, Any]:
        envelope = json.loads((await ws.receive()).data)
        reply = {"envelope_id": envelope["envelope_id"], "payload": {"text": "Got it"}}
        await ws.send_str(json.dumps(reply))
        return envelope

    app_task = asyncio.ensure_future(app())
    result = await socket_slack.post(
        "command",
        {"user": "alice", "channel": "general", "command": "/procedure", "text": "payload=1&x"},
    )
    envelope = await app_task
    assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
    assert (
        envelope["payload"]["text"] == "payload=1&x"
        and envelope["payload"]["command"] == "/procedure"
    )
    assert result["ok"] and result["verdict"] == "ok" and result["response"] == {"text": "Got it"}
    assert [m["text"] for m in await socket_slack.ephemeral("alice")] == ["Got it"]
    await ws.close()


async def test_events_and_interactions_envelopes(socket_slack: Control) -> None:
    ws, _ = await connect(socket_slack)
    received: list[dict[str, Any]] = []

    async def app() -> None:
        async for message in ws:
            envelope = json.loads(message.data)
            received.append(envelope)
            await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))

    app_task = asyncio.ensure_future(app())
    await socket_slack.post("message", {"user": "bob", "channel": "D0BOB0001", "text": "hi"})
    _, _, posted = await socket_slack.api(
        "chat.postMessage",
        channel="C0GENERAL",
        text="x",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "b",
                        "text": {"type": "plain_text", "text": "B"},
                    }
                ],
            }
        ],
    )
    await socket_slack.post(
        "click", {"user": "bob", "channel": "general", "ts": posted["ts"], "action_id": "b"}
    )

    async def two() -> bool:
        return len(received) == 2

    await wait_until(two)
    event, interaction = sorted(received, key=lambda e: e["type"])
    assert event["type"] == "events_api" and event["accepts_response_payload"] is False
    assert (event["retry_attempt"], event["retry_reason"]) == (0, "")
    assert event["payload"]["event"]["type"] == "message"
    assert interaction["type"] == "interactive" and interaction["accepts_response_payload"] is False
    assert interaction["payload"]["type"] == "block_actions"

    async def acked() -> bool:
        return [d["verdict"] for d in await socket_slack.deliveries()] == ["ok", "ok"]

    await wait_until(acked)
    app_task.cancel()
    await ws.close()


async def test_each_payload_goes_to_one_connection(socket_slack: Control) -> None:
    sockets = [(await connect(socket_slack))[0] for _ in range(3)]
    counts = [0, 0, 0]

    async def app(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            envelope = json.loads(message.data)
            counts[i] += 1
            await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))

    tasks = [asyncio.ensure_future(app(i, ws)) for i, ws in enumerate(sockets)]
    for _ in range(12):
        result = await socket_slack.post(
            "command", {"user": "carol", "channel": "general", "command": "/procedure"}
        )
        assert result["ok"]
    assert sum(counts) == 12
    for task in tasks:
        task.cancel()
    for ws in sockets:
        await ws.close()


async def test_without_a_connection_the_delivery_fails(socket_slack: Control) -> None:
    result = await socket_slack.post(
        "command", {"user": "carol", "channel": "general", "command": "/procedure"}
    )
    assert (result["ok"], result["verdict"]) == (False, "failed")


async def test_unknown_ticket_is_refused(socket_slack: Control) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await socket_slack.session.ws_connect(
            socket_slack.base.replace("http", "ws") + "/link/?ticket=forged"
        )


async def test_connection_closed_before_the_ack_fails_the_delivery(socket_slack: Control) -> None:
    ws, _ = await connect(socket_slack)

    async def app() -> None:
        await ws.receive()  # the envelope arrives; the app goes away without acking
        await ws.close()

    app_task = asyncio.ensure_future(app())
    result = await socket_slack.post(
        "command", {"user": "dave", "channel": "general", "command": "/procedure"}
    )
    await app_task
    assert (result["ok"], result["verdict"]) == (False, "failed")
    assert result["ack_ms"] is None


async def test_a_replay_sends_the_same_payload_in_a_new_envelope(socket_slack: Control) -> None:
    ws, _ = await connect(socket_slack)

    async def app() -> dict[str, Any]:
        envelope = json.loads((await ws.receive()).data)
        await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
        return envelope

    task = asyncio.ensure_future(app())
    body = {"user": "alice", "channel": "general", "command": "/procedure", "text": "go"}
    sent = await socket_slack.post("command", body)
    first = await task
    task = asyncio.ensure_future(app())
    replayed = await socket_slack.post("replay", {"delivery_id": sent["delivery_id"]})
    again = await task
    assert replayed["verdict"] == "ok"
    assert again["payload"] == first["payload"]
    assert again["envelope_id"] != first["envelope_id"]
    await ws.close()
