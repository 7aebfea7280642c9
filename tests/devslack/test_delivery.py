"""Deliveries to the app's request URL: encoding, signing, payload fields, ack deadline,
slash command replies, response_action, events and their retries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import (
    Control,
    LiveStream,
    MovableClock,
    Received,
    RecordingApp,
    wait_until,
)


def json_ack(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    async def answer(received: Received) -> web.StreamResponse:
        return web.json_response(body)

    return answer


INPUT_MODAL = {
    "type": "modal",
    "callback_id": "form",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Send"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "private_metadata": "ctx-1",
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {
                "type": "plain_text_input",
                "action_id": "name_input",
                "initial_value": "x",
            },
        },
        {
            "type": "input",
            "block_id": "size",
            "optional": True,
            "label": {"type": "plain_text", "text": "Size"},
            "element": {
                "type": "static_select",
                "action_id": "size_select",
                "options": [
                    {"text": {"type": "plain_text", "text": "Small"}, "value": "s"},
                    {"text": {"type": "plain_text", "text": "Large"}, "value": "l"},
                ],
            },
        },
    ],
}


async def open_modal(
    slack: Control,
    recorder: RecordingApp,
    client: AsyncWebClient,
    view: dict[str, Any] = INPUT_MODAL,
) -> dict[str, Any]:
    await slack.post("command", {"user": "alice", "channel": "general", "command": "/procedure"})
    trigger_id = (await recorder.next(len(recorder.received))).form["trigger_id"]
    return (await client.views_open(trigger_id=trigger_id, view=view))["view"]


# ---------------------------------------------------------------------------- encoding


async def test_slash_command_is_form_encoded_and_signed(
    slack: Control, recorder: RecordingApp
) -> None:
    await slack.post(
        "command",
        {
            "user": "bob",
            "channel": "#incidents",
            "command": "/procedure",
            "text": "show payload now",
        },
    )
    received = await recorder.next()
    assert received.content_type == "application/x-www-form-urlencoded"
    verifier = SignatureVerifier(slack.devslack.env["SLACK_SIGNING_SECRET"])
    assert verifier.is_valid_request(received.raw, received.headers)
    assert not SignatureVerifier("another-secret").is_valid_request(received.raw, received.headers)
    form = received.form
    assert form["text"] == "show payload now"  # the word "payload" survives the encoding
    assert b"payload=" not in received.raw
    assert received.raw.startswith(b"token=")
    assert form["command"] == "/procedure" and b"command=%2Fprocedure" in received.raw
    assert (form["user_id"], form["user_name"]) == ("U0BOB0001", "bob")
    assert (form["channel_id"], form["channel_name"]) == ("C0INCIDNT", "incidents")
    assert (form["team_id"], form["team_domain"], form["api_app_id"]) == (
        "T0DEVSLACK",
        "devslack",
        "A0DEVAPP01",
    )
    assert form["response_url"].startswith(slack.devslack.base_url)
    assert form["trigger_id"].count(".") == 2
    assert received.headers["User-Agent"].startswith("Slackbot")


async def test_unknown_command_and_non_member_are_refused(
    slack: Control, recorder: RecordingApp
) -> None:
    refused = await slack.post(
        "command", {"user": "bob", "channel": "general", "command": "/nope"}, status=404
    )
    assert refused["error"] == "command_not_found"
    outsider = {"user": "alice", "channel": "D0BOB0001", "command": "/procedure"}
    assert (await slack.post("command", outsider, status=400))["error"] == "not_in_channel"
    assert recorder.received == []


async def test_block_actions_payload(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    blocks = [
        {
            "type": "actions",
            "block_id": "pick",
            "elements": [
                {
                    "type": "button",
                    "action_id": "ok",
                    "text": {"type": "plain_text", "text": "OK"},
                    "value": "v1",
                    "style": "primary",
                },
                {
                    "type": "static_select",
                    "action_id": "env",
                    "placeholder": {"type": "plain_text", "text": "Environment"},
                    "options": [
                        {"text": {"type": "plain_text", "text": "Staging"}, "value": "stg"},
                        {"text": {"type": "plain_text", "text": "Production"}, "value": "prd"},
                    ],
                },
            ],
        }
    ]
    posted = await client.chat_postMessage(channel="C0DEPLOYS", text="choose", blocks=blocks)
    await slack.post(
        "click",
        {
            "user": "carol",
            "channel": "deploys",
            "ts": posted["ts"],
            "action_id": "env",
            "value": "Production",
        },
    )
    await slack.post(
        "click", {"user": "carol", "channel": "deploys", "ts": posted["ts"], "text": "OK"}
    )
    select, button = (await recorder.next(1)), (await recorder.next(2))
    verifier = SignatureVerifier(slack.devslack.env["SLACK_SIGNING_SECRET"])
    assert verifier.is_valid_request(button.raw, button.headers)
    assert button.raw.startswith(b"payload=")
    payload = button.payload
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0CAROL01",
        "username": "carol",
        "name": "carol",
        "team_id": "T0DEVSLACK",
    }
    assert payload["team"] == {"id": "T0DEVSLACK", "domain": "devslack"}
    assert payload["api_app_id"] == "A0DEVAPP01"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0DEPLOYS",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0DEPLOYS", "name": "deploys"}
    assert (
        payload["message"]["ts"] == posted["ts"]
        and payload["message"]["blocks"][0]["block_id"] == "pick"
    )
    assert payload["trigger_id"] and payload["response_url"]
    [action] = payload["actions"]
    assert {k: action[k] for k in ("type", "action_id", "block_id", "value", "style")} == {
        "type": "button",
        "action_id": "ok",
        "block_id": "pick",
        "value": "v1",
        "style": "primary",
    }
    assert action["text"]["text"] == "OK" and action["action_ts"]
    selected = select.payload["actions"][0]["selected_option"]
    assert selected == {"text": {"type": "plain_text", "text": "Production"}, "value": "prd"}
    assert payload["state"]["values"]["pick"]["env"]["selected_option"]["value"] == "prd"


async def test_click_unknown_element_is_404(slack: Control, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0DEPLOYS", text="plain")
    missing = await slack.post(
        "click",
        {"user": "bob", "channel": "deploys", "ts": posted["ts"], "text": "Nope"},
        status=404,
    )
    assert missing["error"] == "element_not_found"


# ---------------------------------------------------------------------------- the 3 s deadline


async def test_ack_after_3_2_s_is_late_and_the_user_sees_the_error(
    slack: Control, recorder: RecordingApp, session: aiohttp.ClientSession
) -> None:
    async def slow(received: Received) -> web.StreamResponse:
        await asyncio.sleep(3.2)
        return web.json_response({"text": "too late to show"})

    recorder.answer = slow
    async with LiveStream(session, slack.base + "/_dev/api/live?user=alice") as live:
        result = await slack.post(
            "command", {"user": "alice", "channel": "general", "command": "/procedure"}
        )
        error = await live.wait_for(lambda e: e["type"] == "error")
        delivery = await live.wait_for(lambda e: e["type"] == "delivery")
    assert result["ok"] is False and result["verdict"] == "late"
    assert 3200 <= result["ack_ms"] < 8000  # the real wait; generous for a loaded machine
    assert error["text"] == "This slash command experienced a problem: 'Timeout was reached'"
    assert error["channel"] == "C0GENERAL"
    assert delivery["verdict"] == "late" and delivery["kind"] == "slash_command"
    [row] = await slack.deliveries()
    assert row["verdict"] == "late" and row["status"] == 200
    assert await slack.ephemeral("alice") == []  # a late reply is not shown


async def test_non_2xx_ack_is_failed(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient, session: aiohttp.ClientSession
) -> None:
    async def broken(received: Received) -> web.StreamResponse:
        return web.json_response({"error": "unhandled request"}, status=404)

    recorder.answer = broken
    posted = await client.chat_postMessage(
        channel="C0DEPLOYS",
        text="x",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "A"},
                    }
                ],
            }
        ],
    )
    async with LiveStream(session, slack.base + "/_dev/api/live?user=bob") as live:
        click = await slack.post(
            "click", {"user": "bob", "channel": "deploys", "ts": posted["ts"], "action_id": "a"}
        )
        error = await live.wait_for(lambda e: e["type"] == "error")
    assert (click["ok"], click["verdict"], click["status"]) == (False, "failed", 404)
    assert "didn't respond" in error["text"]
    command = await slack.post(
        "command", {"user": "bob", "channel": "deploys", "command": "/procedure"}
    )
    assert command["verdict"] == "failed"
    verdicts = [(d["kind"], d["verdict"], d["status"]) for d in await slack.deliveries()]
    assert verdicts == [("block_actions", "failed", 404), ("slash_command", "failed", 404)]


async def test_interactions_are_not_retried(slack: Control, recorder: RecordingApp) -> None:
    async def broken(received: Received) -> web.StreamResponse:
        return web.Response(status=500)

    recorder.answer = broken
    await slack.post("command", {"user": "bob", "channel": "deploys", "command": "/procedure"})
    await asyncio.sleep(0.3)  # several event-retry delays: a retry would have arrived
    assert len(recorder.received) == 1
    assert [d["retry_num"] for d in await slack.deliveries()] == [0]


# ---------------------------------------------------------------------------- slash command replies


async def test_command_ack_text_becomes_an_ephemeral_reply(
    slack: Control, recorder: RecordingApp
) -> None:
    async def text(received: Received) -> web.StreamResponse:
        return web.Response(text="Working on it")

    recorder.answer = text
    result = await slack.post(
        "command", {"user": "dave", "channel": "general", "command": "/procedure"}
    )
    assert result["response"] == "Working on it"
    assert [m["text"] for m in await slack.ephemeral("dave")] == ["Working on it"]
    assert await slack.messages("general") == []


async def test_command_ack_in_channel_shows_command_and_reply(
    slack: Control, recorder: RecordingApp
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Started*"}}]
    recorder.answer = json_ack({"response_type": "in_channel", "text": "Started", "blocks": blocks})
    await slack.post(
        "command", {"user": "dave", "channel": "general", "command": "/procedure", "text": "go"}
    )
    invocation, reply = await slack.messages("general")
    assert (invocation["user"], invocation["text"], invocation["bot_id"]) == (
        "U0DAVE001",
        "/procedure go",
        None,
    )
    assert reply["bot_id"] == "B0HITLBOT" and reply["blocks"][0]["text"]["text"] == "*Started*"


async def test_command_ack_with_invalid_blocks_is_an_error(
    slack: Control, recorder: RecordingApp
) -> None:
    recorder.answer = json_ack(
        {
            "text": "x",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        }
    )
    result = await slack.post(
        "command", {"user": "dave", "channel": "general", "command": "/procedure"}
    )
    assert result["ok"] is False and result["error"] == "invalid_blocks"
    assert await slack.ephemeral("dave") == []


# ---------------------------------------------------------------------------- modals


async def test_view_submission_payload_and_empty_ack_closes(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    result = await slack.post(
        "submit", {"user": "alice", "view_id": view["id"], "values": {"Size": "Large"}}
    )
    assert result["ok"] and result["response_action"] is None
    payload = (await recorder.next(2)).payload
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view["id"] and payload["view"]["type"] == "modal"
    assert (
        payload["view"]["callback_id"] == "form" and payload["view"]["private_metadata"] == "ctx-1"
    )
    assert payload["view"]["root_view_id"] == view["id"] and payload["view"]["hash"] == view["hash"]
    assert payload["view"]["app_id"] == "A0DEVAPP01" and payload["view"]["team_id"] == "T0DEVSLACK"
    assert payload["view"]["state"]["values"] == {
        "name": {"name_input": {"type": "plain_text_input", "value": "x"}},
        "size": {
            "size_select": {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": "Large"}, "value": "l"},
            }
        },
    }
    assert payload["response_urls"] == [] and payload["trigger_id"]
    assert await slack.views("alice") == []


async def test_required_field_is_checked_before_sending(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    result = await slack.post(
        "submit", {"user": "alice", "view_id": view["id"], "values": {"name": ""}}
    )
    assert result["ok"] is False and result["errors"] == {"name": "Please fill out this field."}
    assert len(recorder.received) == 1  # only the command: nothing was submitted


async def test_response_action_errors(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    recorder.answer = json_ack({"response_action": "errors", "errors": {"name": "Taken"}})
    result = await slack.post(
        "submit", {"user": "alice", "view_id": view["id"], "values": {"name": "bob"}}
    )
    assert result["response_action"] == "errors" and result["errors"] == {"name": "Taken"}
    [still] = await slack.views("alice")
    assert still["errors"] == {"name": "Taken"}
    assert still["state"]["values"]["name"]["name_input"]["value"] == "bob"


async def test_response_action_errors_must_name_input_blocks(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    recorder.answer = json_ack({"response_action": "errors", "errors": {"nope": "x"}})
    result = await slack.post("submit", {"user": "alice", "view_id": view["id"]})
    assert result["ok"] is False and "nope" in result["error"]


async def test_response_action_update(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    done = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Done"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Thanks"}}],
    }
    recorder.answer = json_ack({"response_action": "update", "view": done})
    result = await slack.post("submit", {"user": "alice", "view_id": view["id"]})
    assert result["ok"] and result["response_action"] == "update"
    [updated] = await slack.views("alice")
    assert updated["id"] == view["id"] and updated["title"]["text"] == "Done"
    assert updated["hash"] != view["hash"]


async def test_response_action_push_and_clear(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    recorder.answer = json_ack({"response_action": "push", "view": INPUT_MODAL})
    assert (await slack.post("submit", {"user": "alice", "view_id": view["id"]}))["ok"]
    root, pushed = await slack.views("alice")
    assert pushed["previous_view_id"] == root["id"] == view["id"]
    assert (await slack.post("submit", {"user": "alice", "view_id": pushed["id"]}))["ok"]
    assert len(await slack.views("alice")) == 3
    top = (await slack.views("alice"))[-1]
    refused = await slack.post("submit", {"user": "alice", "view_id": top["id"]})
    assert refused["ok"] is False and "push_limit_reached" in refused["error"]
    assert len(await slack.views("alice")) == 3
    recorder.answer = json_ack({"response_action": "clear"})
    assert (await slack.post("submit", {"user": "alice", "view_id": top["id"]}))[
        "response_action"
    ] == "clear"
    assert await slack.views("alice") == []


async def test_only_the_top_view_can_be_submitted(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    recorder.answer = json_ack({"response_action": "push", "view": INPUT_MODAL})
    await slack.post("submit", {"user": "alice", "view_id": view["id"]})
    refused = await slack.post("submit", {"user": "alice", "view_id": view["id"]}, status=400)
    assert refused["error"] == "view_not_active"


async def test_close_sends_view_closed_when_asked(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client, {**INPUT_MODAL, "notify_on_close": True})
    result = await slack.post("close", {"user": "alice", "view_id": view["id"]})
    assert result["notified"] is True and result["ok"]
    payload = (await recorder.next(2)).payload
    assert payload["type"] == "view_closed" and payload["is_cleared"] is False
    assert payload["view"]["id"] == view["id"]
    assert await slack.views("alice") == []


async def test_close_without_notify_sends_nothing(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = await open_modal(slack, recorder, client)
    assert (await slack.post("close", {"user": "alice", "view_id": view["id"]}))[
        "notified"
    ] is False
    assert len(recorder.received) == 1


async def test_block_actions_in_a_modal_and_block_suggestion(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Pick"},
        "blocks": [
            {
                "type": "section",
                "block_id": "who",
                "text": {"type": "mrkdwn", "text": "Owner"},
                "accessory": {
                    "type": "external_select",
                    "action_id": "owner",
                    "placeholder": {"type": "plain_text", "text": "Owner"},
                },
            },
            {
                "type": "actions",
                "block_id": "act",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "refresh",
                        "text": {"type": "plain_text", "text": "Refresh"},
                    }
                ],
            },
        ],
    }
    view = await open_modal(slack, recorder, client, modal)
    options = [{"text": {"type": "plain_text", "text": "Bob"}, "value": "bob"}]
    recorder.answer = json_ack({"options": options})
    suggested = await slack.post(
        "suggest", {"user": "alice", "view_id": view["id"], "action_id": "owner", "value": "bo"}
    )
    assert suggested["ok"] and suggested["options"] == options
    suggestion = (await recorder.next(2)).payload
    assert (
        suggestion["type"],
        suggestion["value"],
        suggestion["action_id"],
        suggestion["block_id"],
    ) == ("block_suggestion", "bo", "owner", "who")
    recorder.answer = json_ack({})
    await slack.post("click", {"user": "alice", "view_id": view["id"], "text": "Refresh"})
    clicked = (await recorder.next(3)).payload
    assert clicked["container"] == {"type": "view", "view_id": view["id"]}
    assert clicked["view"]["id"] == view["id"] and "response_url" not in clicked


# ---------------------------------------------------------------------------- events


async def test_events_are_json_envelopes_and_signed(slack: Control, recorder: RecordingApp) -> None:
    await slack.post(
        "message", {"user": "alice", "channel": "general", "text": "hey @hitlbot, status?"}
    )
    received = await recorder.next()
    assert received.content_type == "application/json"
    assert SignatureVerifier(slack.devslack.env["SLACK_SIGNING_SECRET"]).is_valid_request(
        received.raw, received.headers
    )
    envelope = json.loads(received.raw)
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["api_app_id"] == "A0DEVAPP01" and isinstance(envelope["event_time"], int)
    assert envelope["authorizations"][0]["user_id"] == "U0HITLBOT"
    event = envelope["event"]
    assert event["type"] == "app_mention" and event["user"] == "U0ALICE01"
    assert event["text"] == "hey <@U0HITLBOT>, status?" and event["channel"] == "C0GENERAL"
    assert "X-Slack-Retry-Num" not in received.headers


async def test_message_im_and_app_home_opened(slack: Control, recorder: RecordingApp) -> None:
    await slack.post("message", {"user": "bob", "channel": "D0BOB0001", "text": "hello"})
    event = (await recorder.next(1)).payload["event"]
    assert (event["type"], event["channel_type"], event["channel"], event["text"]) == (
        "message",
        "im",
        "D0BOB0001",
        "hello",
    )
    await slack.post("message", {"user": "bob", "channel": "general", "text": "no mention"})
    await slack.post("home", {"user": "bob"})
    home = (await recorder.next(2)).payload["event"]
    assert (home["type"], home["user"], home["tab"], home["channel"]) == (
        "app_home_opened",
        "U0BOB0001",
        "home",
        "D0BOB0001",
    )


async def test_unacked_events_are_retried_with_headers_until_acked(
    slack: Control, recorder: RecordingApp
) -> None:
    async def fail_twice(received: Received) -> web.StreamResponse:
        return web.Response(status=500 if len(recorder.received) <= 2 else 200)

    recorder.answer = fail_twice
    await slack.post("message", {"user": "carol", "channel": "D0CAROL01", "text": "ping"})
    await recorder.next(3)
    ids = {r.payload["event_id"] for r in recorder.received}
    assert len(ids) == 1
    headers = [
        (r.headers.get("X-Slack-Retry-Num"), r.headers.get("X-Slack-Retry-Reason"))
        for r in recorder.received
    ]
    assert headers == [(None, None), ("1", "http_error"), ("2", "http_error")]

    async def settled() -> list:
        rows = await slack.deliveries()
        return rows if len(rows) == 3 and rows[-1]["verdict"] == "ok" else []

    rows = await wait_until(settled)
    assert [(r["retry_num"], r["verdict"]) for r in rows] == [
        (0, "failed"),
        (1, "failed"),
        (2, "ok"),
    ]
    assert len(recorder.received) == 3


async def test_event_retries_stop_after_three_or_on_no_retry(
    slack: Control, recorder: RecordingApp
) -> None:
    async def always_fail(received: Received) -> web.StreamResponse:
        return web.Response(status=503)

    recorder.answer = always_fail
    await slack.post("message", {"user": "carol", "channel": "D0CAROL01", "text": "ping"})
    await recorder.next(4)

    async def four_failed() -> bool:
        return [r["verdict"] for r in await slack.deliveries()] == ["failed"] * 4

    await wait_until(four_failed)
    assert [r.headers.get("X-Slack-Retry-Num") for r in recorder.received] == [None, "1", "2", "3"]

    async def refuse(received: Received) -> web.StreamResponse:
        return web.Response(status=500, headers={"X-Slack-No-Retry": "1"})

    recorder.answer = refuse
    await slack.post("message", {"user": "carol", "channel": "D0CAROL01", "text": "again"})
    await recorder.next(5)

    async def five_rows() -> bool:
        return len(await slack.deliveries()) == 5

    await wait_until(five_rows)
    await asyncio.sleep(0.3)  # several retry delays: a retry would have arrived
    assert len(recorder.received) == 5


# ---------------------------------------------------------------------------- replays


async def test_a_replay_resends_the_same_bytes_timestamp_and_signature(
    slack: Control, recorder: RecordingApp, movable_clock: MovableClock
) -> None:
    sent = await slack.post(
        "command", {"user": "bob", "channel": "general", "command": "/procedure", "text": "hi"}
    )
    first = await recorder.next()
    movable_clock.advance(2)
    replayed = await slack.post("replay", {"delivery_id": sent["delivery_id"]})
    again = await recorder.next(2)
    assert again.raw == first.raw
    for header in ("X-Slack-Request-Timestamp", "X-Slack-Signature"):
        assert again.headers[header] == first.headers[header]
    assert replayed["ok"] and replayed["verdict"] == "ok"
    assert replayed["delivery_id"] != sent["delivery_id"]
    rows = {row["id"]: row for row in await slack.deliveries()}
    assert rows[replayed["delivery_id"]]["replay_of"] == sent["delivery_id"]
    assert await slack.ephemeral("bob") == []  # an ack to a replay changes nothing


async def test_replaying_an_unknown_delivery_is_refused(slack: Control) -> None:
    refused = await slack.post("replay", {"delivery_id": 999}, status=404)
    assert refused["error"] == "not_found"
    await slack.post("replay", {"delivery_id": "1"}, status=400)
