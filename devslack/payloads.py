"""The payloads Slack sends to an app, field for field, built from workspace objects.

Bolt routes and matches on these fields (type, view.type, callback_id, actions[0],
container...), and apps read ids from them, so they follow Slack's documented shapes
(docs.slack.dev: slash commands, interaction payloads, Events API envelopes).
"""

from __future__ import annotations

import secrets
from typing import Any

from devslack.model import Channel, Message, User, View
from devslack.workspace import Workspace


def team_obj(ws: Workspace) -> dict[str, Any]:
    return {"id": ws.team["id"], "domain": ws.team["domain"]}


def user_obj(ws: Workspace, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team["id"]}


def _channel_name(channel: Channel) -> str:
    if channel.is_im:
        return "directmessage"
    if channel.is_mpim or channel.is_private:
        return "privategroup"
    return channel.name


def slash_command(
    ws: Workspace,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command, in Slack's order (all strings)."""
    return {
        "token": ws.verification_token,
        "team_id": ws.team["id"],
        "team_domain": ws.team["domain"],
        "channel_id": channel.id,
        "channel_name": _channel_name(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app["id"],
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def _interaction_base(ws: Workspace, kind: str, user: User) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user_obj(ws, user),
        "api_app_id": ws.app["id"],
        "token": ws.verification_token,
        "team": team_obj(ws),
        "enterprise": None,
        "is_enterprise_install": False,
    }


def block_actions_in_message(
    ws: Workspace,
    user: User,
    channel: Channel,
    *,
    message: Message | None,
    message_ts: str,
    is_ephemeral: bool,
    action: dict[str, Any],
    state: dict[str, Any],
    trigger_id: str,
    response_url: str,
) -> dict[str, Any]:
    """block_actions from a message (or an ephemeral message, which carries no `message`)."""
    payload = _interaction_base(ws, "block_actions", user)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel.id,
        "is_ephemeral": is_ephemeral,
    }
    if message is not None and message.thread_ts:
        container["thread_ts"] = message.thread_ts
    payload["container"] = container
    payload["trigger_id"] = trigger_id
    payload["channel"] = {"id": channel.id, "name": _channel_name(channel)}
    if message is not None:
        payload["message"] = message.to_slack()
    payload["state"] = {"values": state}
    payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def block_actions_in_view(
    ws: Workspace, user: User, view: View, *, action: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    """block_actions from a modal or the Home tab (no response_url, no channel)."""
    payload = _interaction_base(ws, "block_actions", user)
    payload["container"] = {"type": "view", "view_id": view.id}
    payload["trigger_id"] = trigger_id
    payload["view"] = view.to_slack()
    payload["actions"] = [action]
    return payload


def view_submission(
    ws: Workspace,
    user: User,
    view: View,
    *,
    trigger_id: str,
    response_urls: list[dict[str, Any]],
) -> dict[str, Any]:
    payload = _interaction_base(ws, "view_submission", user)
    payload["trigger_id"] = trigger_id
    payload["view"] = view.to_slack()
    payload["response_urls"] = response_urls
    return payload


def view_closed(ws: Workspace, user: User, view: View, *, is_cleared: bool) -> dict[str, Any]:
    payload = _interaction_base(ws, "view_closed", user)
    payload["view"] = view.to_slack()
    payload["is_cleared"] = is_cleared
    return payload


def block_suggestion(
    ws: Workspace,
    user: User,
    *,
    block_id: str,
    action_id: str,
    value: str,
    view: View | None,
    channel: Channel | None,
    message: Message | None,
) -> dict[str, Any]:
    payload = _interaction_base(ws, "block_suggestion", user)
    payload.update({"action_id": action_id, "block_id": block_id, "value": value})
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.id}
        payload["view"] = view.to_slack()
    elif channel is not None and message is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel.id, "name": _channel_name(channel)}
        payload["message"] = message.to_slack()
    return payload


def event_envelope(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """The Events API `event_callback` envelope around one event."""
    now = ws.clock()
    return {
        "token": ws.verification_token,
        "team_id": ws.team["id"],
        "context_team_id": ws.team["id"],
        "context_enterprise_id": None,
        "api_app_id": ws.app["id"],
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team["id"],
                "user_id": ws.bot.id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(16),
    }


def user_message_event(ws: Workspace, message: Message, channel: Channel) -> dict[str, Any]:
    """`message` event (message.im) for a user's message."""
    event = message.to_slack()
    event["channel"] = channel.id
    event["event_ts"] = message.ts
    event["channel_type"] = "im" if channel.is_im else ("mpim" if channel.is_mpim else "channel")
    return event


def app_mention_event(ws: Workspace, message: Message, channel: Channel) -> dict[str, Any]:
    event = message.to_slack()
    event["type"] = "app_mention"
    event["channel"] = channel.id
    event["event_ts"] = message.ts
    return event


def app_home_opened_event(
    ws: Workspace, user: User, channel: Channel, view: View | None, tab: str = "home"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": channel.id,
        "tab": tab,
        "event_ts": ws.new_ts(),
    }
    if view is not None:
        event["view"] = view.to_slack()
    return event
