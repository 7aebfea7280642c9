"""The Web API at /api/<method>: Slack's shapes and error names, through slack_sdk unchanged."""

from __future__ import annotations

import json

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control


async def slack_error(call) -> SlackApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def test_auth_test_identifies_the_bot(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["user_id"] == "U0HITLBOT"
    assert response["bot_id"] == "B0HITLBOT"
    assert response["team_id"] == "T0DEVSLACK"
    assert "chat:write" in response.headers["x-oauth-scopes"]


async def test_wrong_token_is_invalid_auth(slack: Control) -> None:
    env = slack.devslack.env
    wrong = AsyncWebClient(token="xoxb-not-the-token", base_url=env["SLACK_API_URL"])
    error = await slack_error(wrong.auth_test())
    assert error.response["error"] == "invalid_auth"


async def test_missing_token_is_not_authed(slack: Control) -> None:
    status, _, body = await slack.api("chat.postMessage", token=None, channel="general", text="x")
    assert (status, body) == (200, {"ok": False, "error": "not_authed"})


async def test_token_in_form_field_is_accepted_but_not_in_json(
    slack: Control, session: aiohttp.ClientSession
) -> None:
    env = slack.devslack.env
    url = env["SLACK_API_URL"] + "auth.test"
    async with session.post(url, data={"token": env["SLACK_BOT_TOKEN"]}) as response:
        assert (await response.json())["ok"] is True
    async with session.post(url, json={"token": env["SLACK_BOT_TOKEN"]}) as response:
        assert (await response.json())["error"] == "not_authed"


async def test_app_token_and_bot_token_are_not_interchangeable(slack: Control) -> None:
    env = slack.devslack.env
    assert (await slack.api("auth.test", token=env["SLACK_APP_TOKEN"]))[2][
        "error"
    ] == "not_allowed_token_type"
    assert (await slack.api("apps.connections.open"))[2]["error"] == "not_allowed_token_type"


async def test_unknown_method(slack: Control) -> None:
    status, _, body = await slack.api("chat.postMessageX")
    assert status == 404 and body["error"] == "unknown_method"


async def test_json_without_charset_gets_a_warning(
    slack: Control, session: aiohttp.ClientSession
) -> None:
    env = slack.devslack.env
    async with session.post(
        env["SLACK_API_URL"] + "auth.test",
        data=b"{}",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {env['SLACK_BOT_TOKEN']}",
        },
    ) as response:
        body = await response.json()
    assert body["ok"] is True
    assert body["warning"] == "missing_charset"
    assert body["response_metadata"]["warnings"] == ["missing_charset"]


async def test_post_message_and_history(client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="#deploys", text="one")
    second = await client.chat_postMessage(channel="C0DEPLOYS", text="two", mrkdwn=False)
    assert first["channel"] == second["channel"] == "C0DEPLOYS"
    assert first["message"]["bot_id"] == "B0HITLBOT" and first["message"]["user"] == "U0HITLBOT"
    history = await client.conversations_history(channel="C0DEPLOYS", limit=1)
    assert [m["text"] for m in history["messages"]] == ["two"]
    assert history["has_more"] is True
    rest = await client.conversations_history(
        channel="C0DEPLOYS", cursor=history["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["one"] and rest["has_more"] is False


async def test_post_message_to_a_user_lands_in_the_app_dm(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U0CAROL01", text="psst")
    opened = await client.conversations_open(users="U0CAROL01")
    assert posted["channel"] == opened["channel"]["id"] == "D0CAROL01"
    info = await client.conversations_info(channel="D0CAROL01")
    assert info["channel"]["is_im"] and info["channel"]["user"] == "U0CAROL01"


async def test_threads_broadcast_and_replies(client: AsyncWebClient, slack: Control) -> None:
    parent = await client.chat_postMessage(channel="general", text="parent")
    await client.chat_postMessage(channel="general", text="reply", thread_ts=parent["ts"])
    broadcast = await client.chat_postMessage(
        channel="general", text="loud reply", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert broadcast["message"]["subtype"] == "thread_broadcast"
    replies = await client.conversations_replies(channel="C0GENERAL", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply", "loud reply"]
    assert replies["messages"][0]["reply_count"] == 2
    top_level = [m["text"] for m in await slack.messages("general")]
    assert top_level == ["parent", "loud reply"]
    thread = await slack.messages("general", thread_ts=parent["ts"])
    assert [m["text"] for m in thread] == ["parent", "reply", "loud reply"]
    error = await slack_error(client.conversations_replies(channel="C0GENERAL", ts="123.456"))
    assert error.response["error"] == "thread_not_found"


async def test_metadata_round_trips(client: AsyncWebClient, slack: Control) -> None:
    metadata = {"event_type": "approval", "event_payload": {"run": "r1"}}
    posted = await client.chat_postMessage(channel="general", text="m", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    assert (await slack.messages("general"))[0]["metadata"] == metadata
    bad = await slack_error(client.chat_postMessage(channel="general", text="m", metadata={"x": 1}))
    assert bad.response["error"] == "invalid_metadata_format"


async def test_unknown_channel_is_channel_not_found(client: AsyncWebClient) -> None:
    for call in (
        client.chat_postMessage(channel="#nope", text="x"),
        client.conversations_info(channel="C0NOPE"),
        client.chat_update(channel="C0NOPE", ts="1.2", text="x"),
    ):
        assert (await slack_error(call)).response["error"] == "channel_not_found"


async def test_chat_update_refuses_channel_names(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="general", text="x")
    error = await slack_error(client.chat_update(channel="general", ts=posted["ts"], text="y"))
    assert error.response["error"] == "channel_not_found"


async def test_unknown_ts_is_message_not_found(client: AsyncWebClient) -> None:
    error = await slack_error(
        client.chat_update(channel="C0GENERAL", ts="1700000000.000001", text="x")
    )
    assert error.response["error"] == "message_not_found"
    error = await slack_error(client.chat_delete(channel="C0GENERAL", ts="1700000000.000001"))
    assert error.response["error"] == "message_not_found"


async def test_updating_someone_elses_message_is_cant_update_message(
    slack: Control, client: AsyncWebClient
) -> None:
    posted = await slack.post("message", {"user": "alice", "channel": "#general", "text": "mine"})
    error = await slack_error(
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="hijacked")
    )
    assert error.response["error"] == "cant_update_message"
    error = await slack_error(client.chat_delete(channel="C0GENERAL", ts=posted["ts"]))
    assert error.response["error"] == "cant_delete_message"
    assert (await slack.messages("general"))[0]["text"] == "mine"


async def test_chat_update_replaces_text_and_drops_blocks(
    client: AsyncWebClient, slack: Control
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "old"}}]
    posted = await client.chat_postMessage(channel="general", text="old", blocks=blocks)
    updated = await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="new")
    assert updated["text"] == "new" and "blocks" not in updated["message"]
    [message] = await slack.messages("general")
    assert message["text"] == "new" and message["blocks"] is None
    assert message["edited"]["user"] == "U0HITLBOT"


async def test_invalid_blocks_are_refused_with_slack_messages(
    client: AsyncWebClient, slack: Control
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    error = await slack_error(client.chat_postMessage(channel="general", text="t", blocks=blocks))
    assert error.response["error"] == "invalid_blocks"
    messages = error.response["response_metadata"]["messages"]
    assert (
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]" in messages
    )
    posted = await client.chat_postMessage(channel="general", text="t")
    error = await slack_error(
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="t", blocks=blocks)
    )
    assert error.response["error"] == "invalid_blocks"
    assert (await slack.messages("general"))[0]["text"] == "t"


async def test_blocks_that_are_not_json_are_invalid_blocks_format(
    slack: Control, session: aiohttp.ClientSession
) -> None:
    env = slack.devslack.env
    async with session.post(
        env["SLACK_API_URL"] + "chat.postMessage",
        data={"token": env["SLACK_BOT_TOKEN"], "channel": "general", "text": "x", "blocks": "[{"},
    ) as response:
        assert (await response.json())["error"] == "invalid_blocks_format"


async def test_text_limits_are_msg_too_long(client: AsyncWebClient) -> None:
    error = await slack_error(client.chat_postMessage(channel="general", text="x" * 40_001))
    assert error.response["error"] == "msg_too_long"
    posted = await client.chat_postMessage(channel="general", text="x" * 4_001)
    error = await slack_error(
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="y" * 4_001)
    )
    assert error.response["error"] == "msg_too_long"


async def test_no_text_nor_blocks_is_no_text(slack: Control) -> None:
    _, _, body = await slack.api("chat.postMessage", channel="general", text="")
    assert body == {"ok": False, "error": "no_text"}


async def test_post_ephemeral_only_reaches_that_user(
    client: AsyncWebClient, slack: Control
) -> None:
    posted = await client.chat_postEphemeral(channel="C0INCIDNT", user="U0DAVE001", text="only you")
    [ephemeral] = await slack.ephemeral("dave")
    assert ephemeral == {
        "ts": posted["message_ts"],
        "channel": "C0INCIDNT",
        "text": "only you",
        "blocks": None,
        "thread_ts": None,
    }
    assert await slack.ephemeral("alice") == []
    assert await slack.messages("incidents") == []
    error = await slack_error(
        client.chat_postEphemeral(channel="C0INCIDNT", user="U0NOBODY", text="x")
    )
    assert error.response["error"] == "user_not_found"


async def test_delete_and_permalink(
    client: AsyncWebClient, slack: Control, session: aiohttp.ClientSession
) -> None:
    posted = await client.chat_postMessage(channel="general", text="bye")
    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C0GENERAL/p" + posted["ts"].replace(".", ""))
    async with session.get(link["permalink"], allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"/?channel=C0GENERAL&ts={posted['ts']}"
    deleted = await client.chat_delete(channel="C0GENERAL", ts=posted["ts"])
    assert deleted["ts"] == posted["ts"]
    assert await slack.messages("general") == []


async def test_users_and_usergroups(client: AsyncWebClient) -> None:
    bob = await client.users_info(user="U0BOB0001")
    assert bob["user"]["name"] == "bob" and bob["user"]["profile"]["display_name"] == "Bob"
    members = (await client.users_list())["members"]
    assert {m["name"] for m in members} == {"alice", "bob", "carol", "dave", "hitlbot"}
    page = await client.users_list(limit=2)
    assert len(page["members"]) == 2 and page["response_metadata"]["next_cursor"]
    groups = (await client.usergroups_list(include_users=True))["usergroups"]
    assert [(g["handle"], g["users"]) for g in groups] == [("oncall", ["U0BOB0001", "U0CAROL01"])]
    users = await client.usergroups_users_list(usergroup=groups[0]["id"])
    assert users["users"] == ["U0BOB0001", "U0CAROL01"]
    error = await slack_error(client.users_info(user="U0NOBODY"))
    assert error.response["error"] == "user_not_found"
    error = await slack_error(client.usergroups_users_list(usergroup="S0NOPE"))
    assert error.response["error"] == "no_such_subteam"


async def test_conversations_open_for_a_group_dm(client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U0ALICE01,U0BOB0001")
    assert opened["channel"]["is_mpim"] is True
    again = await client.conversations_open(users=["U0BOB0001", "U0ALICE01"])
    assert again["channel"]["id"] == opened["channel"]["id"]
    error = await slack_error(client.conversations_open(users="U0HITLBOT"))
    assert error.response["error"] == "cannot_dm_bot"


async def test_workspace_describes_seed(slack: Control) -> None:
    workspace = await slack.get("workspace")
    assert workspace["team"]["id"] == "T0DEVSLACK"
    assert workspace["app"] == {"id": "A0DEVAPP01", "bot_user_id": "U0HITLBOT", "name": "hitlbot"}
    names = {u["name"] for u in workspace["users"]}
    assert names == {"alice", "bob", "carol", "dave", "hitlbot"}
    channels = {c["name"]: c for c in workspace["channels"]}
    assert {"general", "deploys", "incidents", "alice", "bob", "carol", "dave"} <= set(channels)
    assert channels["alice"]["is_im"] and channels["alice"]["id"].startswith("D")
    assert workspace["usergroups"][0]["handle"] == "oncall"
    assert workspace["commands"] == ["/procedure"]
    assert json.dumps(workspace)  # JSON all the way down


async def test_post_message_channel_names_but_not_user_names(slack: Control) -> None:
    for ref in ("general", "#general", "C0GENERAL"):
        assert (await slack.api("chat.postMessage", channel=ref, text=ref))[2][
            "channel"
        ] == "C0GENERAL"
    assert (await slack.api("chat.postMessage", channel="bob", text="x"))[2][
        "error"
    ] == "channel_not_found"
