"""The Web API methods devslack implements, with Slack's arguments, results and errors.

Each method takes the merged request arguments (query, form or JSON body) and returns
Slack's success body, or raises SlackError with Slack's error name. HTTP plumbing
(tokens, faults, rate limits) lives in webapi.py.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from devslack import limits
from devslack.errors import SlackError
from devslack.model import Channel, Message
from devslack.socket_mode import SocketHub
from devslack.workspace import Workspace

Args = dict[str, Any]
Method = Callable[[Args], dict[str, Any]]

#: Methods that take the app-level (xapp-) token instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


def _str(args: Args, name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _bool(args: Args, name: str, default: bool = False) -> bool:
    value = args.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "yes")


def _int(args: Args, name: str, default: int) -> int:
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_arguments") from exc


def _cursor(position: str) -> str:
    return base64.b64encode(f"next_ts:{position}".encode()).decode()


def _uncursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc
    if not decoded.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return decoded[len("next_ts:") :]


class Methods:
    """Method name -> implementation, bound to one workspace."""

    def __init__(self, ws: Workspace, hub: SocketHub) -> None:
        self.ws = ws
        self.hub = hub
        self.table: dict[str, Method] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.delete": self.chat_delete,
            "chat.getPermalink": self.chat_get_permalink,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "conversations.open": self.conversations_open,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "usergroups.list": self.usergroups_list,
            "usergroups.users.list": self.usergroups_users_list,
            "apps.connections.open": self.apps_connections_open,
        }

    # ------------------------------------------------------------------ helpers

    def _readable(self, channel: Channel) -> Channel:
        """The bot can read/write private channels and DMs only as a member."""
        if (
            channel.is_private or channel.is_im or channel.is_mpim
        ) and self.ws.bot.id not in channel.member_set:
            raise SlackError("channel_not_found")
        return channel

    def _post_target(self, ref: str | None) -> Channel:
        """chat.postMessage accepts a channel id or name, or a user id (the app's DM)."""
        ws = self.ws
        if not ref:
            raise SlackError("channel_not_found")
        user = ws.users.get(ref)
        if user is not None and not user.is_bot:
            return ws.dm_channel(user.id)
        channel = ws.channels.get(ref) or ws.channel_named(ref)
        if channel is None:
            raise SlackError("channel_not_found")
        return self._readable(channel)

    def _metadata(self, args: Args) -> dict[str, Any] | None:
        raw = args.get("metadata")
        if raw is None or raw == "":
            return None
        metadata = limits.parse_json_arg(raw, "invalid_metadata_format")
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}

    def _own_message(self, args: Args, error: str) -> Message:
        ws = self.ws
        channel = self._readable(ws.channel(_str(args, "channel") or "", allow_names=False))
        message = ws.message(channel.id, _str(args, "ts") or "")
        if message.user != ws.bot.id or message.subtype == "tombstone":
            raise SlackError(error)
        return message

    # ------------------------------------------------------------------ auth / apps

    def auth_test(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        return {
            "ok": True,
            "url": f"https://{ws.team['domain']}.slack.com/",
            "team": ws.team["name"],
            "user": ws.bot.name,
            "team_id": ws.team["id"],
            "user_id": ws.bot.id,
            "bot_id": ws.bot.bot_id,
            "is_enterprise_install": False,
        }

    def apps_connections_open(self, args: Args) -> dict[str, Any]:
        return {"ok": True, "url": self.hub.new_url(self.ws.base_url)}

    # ------------------------------------------------------------------ chat.*

    def chat_post_message(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._post_target(_str(args, "channel"))
        text = _str(args, "text")
        blocks = limits.parse_blocks(args.get("blocks"))
        attachments = limits.parse_attachments(args.get("attachments"))
        limits.check_message(text, blocks, attachments)
        icons = {k: str(args[k]) for k in ("icon_emoji", "icon_url") if args.get(k)}
        message = ws.post_message(
            channel,
            author=ws.bot,
            text=text or "",
            blocks=blocks,
            attachments=attachments,
            thread_ts=_str(args, "thread_ts") or None,
            reply_broadcast=_bool(args, "reply_broadcast"),
            metadata=self._metadata(args),
            mrkdwn=_bool(args, "mrkdwn", True),
            username=_str(args, "username") or None,
            icons=icons or None,
        )
        return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.to_slack()}

    def chat_update(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        message = self._own_message(args, "cant_update_message")
        text = _str(args, "text")
        blocks = limits.parse_blocks(args.get("blocks"))
        attachments = limits.parse_attachments(args.get("attachments"))
        metadata = self._metadata(args)
        if text is None and blocks is None and attachments is None and metadata is None:
            raise SlackError("no_text")
        limits.check_message(
            text, blocks, attachments, text_limit=limits.UPDATE_TEXT_LIMIT, require_content=False
        )
        ws.update_message(
            message,
            text=text,
            blocks=blocks if blocks is not None or "blocks" not in args else [],
            attachments=attachments,
            metadata=metadata,
            editor=ws.bot,
            keep_blocks=text is None,
        )
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_slack(),
        }

    def chat_post_ephemeral(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._post_target(_str(args, "channel"))
        user = ws.user(_str(args, "user") or "")
        if user.id not in channel.member_set:
            raise SlackError("user_not_in_channel")
        text = _str(args, "text")
        blocks = limits.parse_blocks(args.get("blocks"))
        attachments = limits.parse_attachments(args.get("attachments"))
        limits.check_message(text, blocks, attachments)
        ephemeral = ws.post_ephemeral(
            channel,
            user,
            text=text or "",
            blocks=blocks,
            thread_ts=_str(args, "thread_ts") or None,
            attachments=attachments,
        )
        return {"ok": True, "message_ts": ephemeral.ts}

    def chat_delete(self, args: Args) -> dict[str, Any]:
        message = self._own_message(args, "cant_delete_message")
        self.ws.delete_message(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def chat_get_permalink(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._readable(ws.channel(_str(args, "channel") or "", allow_names=False))
        message = ws.message(channel.id, _str(args, "message_ts") or "")
        link = f"{ws.base_url}/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"ok": True, "channel": channel.id, "permalink": link}

    # ------------------------------------------------------------------ views.*

    def _view_arg(self, args: Args) -> dict[str, Any]:
        view = limits.parse_view(args.get("view"))
        limits.check_view(view)
        return view

    def _trigger(self, args: Args) -> str | None:
        return _str(args, "trigger_id") or _str(args, "interactivity_pointer")

    def views_open(self, args: Args) -> dict[str, Any]:
        view = self._view_arg(args)
        user = self.ws.use_trigger(self._trigger(args))
        return {"ok": True, "view": self.ws.open_view(user, view).to_slack()}

    def views_push(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        view = self._view_arg(args)
        trigger = ws.triggers.get(self._trigger(args) or "")
        if trigger is not None and len(ws.stacks.get(trigger.user) or []) >= 3:
            raise SlackError("push_limit_reached")
        user = ws.use_trigger(self._trigger(args))
        return {"ok": True, "view": ws.push_view(user, view).to_slack()}

    def views_update(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        view = self._view_arg(args)
        target = ws.find_view(_str(args, "view_id"), _str(args, "external_id"))
        updated = ws.update_view(target, view, _str(args, "hash") or None)
        return {"ok": True, "view": updated.to_slack()}

    def views_publish(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        view = self._view_arg(args)
        user = ws.user(_str(args, "user_id") or "")
        if user.is_bot:
            raise SlackError("user_not_found")
        published = ws.publish_home(user, view, _str(args, "hash") or None)
        return {"ok": True, "view": published.to_slack()}

    # ------------------------------------------------------------------ conversations.*

    def conversations_open(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel_ref = _str(args, "channel")
        users_arg = args.get("users")
        if channel_ref:
            channel = self._readable(ws.channel(channel_ref, allow_names=False))
        elif users_arg:
            refs = users_arg if isinstance(users_arg, list) else str(users_arg).split(",")
            ids = []
            for ref in (r.strip() for r in refs if str(r).strip()):
                user = ws.users.get(ref)
                if user is None:
                    raise SlackError("user_not_found")
                if user.is_bot:
                    raise SlackError("cannot_dm_bot")
                ids.append(user.id)
            if not ids:
                raise SlackError("users_list_not_supplied")
            if len(set(ids)) > 8:
                raise SlackError("too_many_users")
            channel = ws.dm_channel(ids[0]) if len(set(ids)) == 1 else ws.mpim(sorted(set(ids)))
        else:
            raise SlackError("users_list_not_supplied")
        body: dict[str, Any] = {"ok": True, "no_op": True, "already_open": True}
        if _bool(args, "return_im") or channel.is_mpim:
            body["channel"] = channel.to_slack(ws.bot.id)
        else:
            body["channel"] = {"id": channel.id}
        return body

    def conversations_info(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._readable(ws.channel(_str(args, "channel") or "", allow_names=False))
        data = channel.to_slack(ws.bot.id)
        if _bool(args, "include_num_members"):
            data["num_members"] = len(channel.members)
        return {"ok": True, "channel": data}

    def conversations_history(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._readable(ws.channel(_str(args, "channel") or "", allow_names=False))
        if ws.bot.id not in channel.member_set:
            raise SlackError("not_in_channel")
        limit = max(1, min(_int(args, "limit", 100), 999))
        page, next_before = ws.history_page(
            channel,
            latest=_str(args, "latest") or None,
            oldest=_str(args, "oldest") or None,
            inclusive=_bool(args, "inclusive"),
            limit=limit,
            before=_uncursor(_str(args, "cursor")),
        )
        body: dict[str, Any] = {
            "ok": True,
            "messages": [m.to_slack() for m in page],
            "has_more": next_before is not None,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if next_before is not None:
            body["response_metadata"] = {"next_cursor": _cursor(next_before)}
        return body

    def conversations_replies(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._readable(ws.channel(_str(args, "channel") or "", allow_names=False))
        message = ws.messages.get((channel.id, _str(args, "ts") or ""))
        if message is None:
            raise SlackError("thread_not_found")
        if message.thread_ts:
            message = ws.message(channel.id, message.thread_ts)
        keys = [message.ts, *message.replies]
        start = 0
        position = _uncursor(_str(args, "cursor"))
        if position is not None:
            if position not in keys:
                raise SlackError("invalid_cursor")
            start = keys.index(position)
        limit = max(1, min(_int(args, "limit", 1000), 1000))
        chunk = keys[start : start + limit]
        body: dict[str, Any] = {
            "ok": True,
            "messages": [ws.messages[(channel.id, ts)].to_slack() for ts in chunk],
            "has_more": start + limit < len(keys),
        }
        if body["has_more"]:
            body["response_metadata"] = {"next_cursor": _cursor(keys[start + limit])}
        return body

    # ------------------------------------------------------------------ users / usergroups

    def users_info(self, args: Args) -> dict[str, Any]:
        user = self.ws.users.get(_str(args, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": user.to_slack()}

    def users_list(self, args: Args) -> dict[str, Any]:
        members = list(self.ws.users.values())
        limit = _int(args, "limit", 0)
        start = 0
        position = _uncursor(_str(args, "cursor"))
        ids = [u.id for u in members]
        if position is not None:
            if position not in ids:
                raise SlackError("invalid_cursor")
            start = ids.index(position)
        end = len(members) if limit <= 0 else min(len(members), start + limit)
        next_cursor = _cursor(ids[end]) if end < len(members) else ""
        return {
            "ok": True,
            "members": [u.to_slack() for u in members[start:end]],
            "cache_ts": int(self.ws.clock()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def usergroups_list(self, args: Args) -> dict[str, Any]:
        include = _bool(args, "include_users")
        team = self.ws.team["id"]
        return {
            "ok": True,
            "usergroups": [g.to_slack(team, include) for g in self.ws.usergroups.values()],
        }

    def usergroups_users_list(self, args: Args) -> dict[str, Any]:
        ref = _str(args, "usergroup")
        if not ref or ref not in self.ws.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.ws.usergroups[ref].users)}
