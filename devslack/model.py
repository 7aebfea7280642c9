"""The objects a workspace holds (users, channels, messages, views...) and their Slack shapes.

Each object renders itself the way Slack's API returns it (`to_slack`) and the way the
control API reports it (`control`), so the two views of the same state cannot drift apart.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    id: str
    name: str
    display_name: str
    real_name: str
    team_id: str
    email: str = ""
    tz: str = "Europe/London"
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False

    def brief(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.display_name,
            "real_name": self.real_name,
            "is_bot": self.is_bot,
        }

    def to_slack(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "team": self.team_id,
            "status_text": "",
            "status_emoji": "",
            "image_48": "",
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot:
            profile.update(
                {"bot_id": self.bot_id, "api_app_id": self.app_id, "always_active": True}
            )
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 0,
        }


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    created: int
    is_im: bool = False
    is_mpim: bool = False
    is_private: bool = False
    is_general: bool = False
    purpose: str = ""
    topic: str = ""
    user: str | None = None  # the other party of a DM

    def __post_init__(self) -> None:
        self.member_set = set(self.members)

    def brief(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "members": list(self.members),
        }

    def to_slack(self, bot_user_id: str) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_mpim,
            "is_group": self.is_private and not self.is_mpim,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": False,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": bot_user_id in self.member_set,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
        }


@dataclass
class Usergroup:
    id: str
    handle: str
    name: str
    users: list[str]
    description: str = ""

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "handle": self.handle, "name": self.name, "users": list(self.users)}

    def to_slack(self, team_id: str, include_users: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": self.name,
            "description": self.description,
            "handle": self.handle,
            "is_external": False,
            "date_create": 0,
            "date_update": 0,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "",
            "updated_by": "",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(self.users),
        }
        if include_users:
            data["users"] = list(self.users)
        return data


@dataclass
class Message:
    """A channel message; thread replies reference their parent through `thread_ts`."""

    channel: str
    ts: str
    text: str
    user: str
    team: str
    bot_id: str | None = None
    app_id: str | None = None
    bot_profile: dict[str, Any] | None = None
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None  # set on replies (the parent's ts)
    replies: list[str] = field(default_factory=list)  # reply ts, oldest first (parents only)
    reply_users: list[str] = field(default_factory=list)
    edited: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    subtype: str | None = None
    username: str | None = None
    icons: dict[str, str] | None = None
    client_msg_id: str | None = None
    mrkdwn: bool = True
    in_channel: bool = True  # top-level or broadcast reply: shown in the channel timeline
    parent_user_id: str | None = None

    @property
    def display_thread_ts(self) -> str | None:
        if self.thread_ts:
            return self.thread_ts
        return self.ts if self.replies else None

    def to_slack(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message"}
        if self.subtype:
            data["subtype"] = self.subtype
        data.update({"text": self.text, "user": self.user, "ts": self.ts, "team": self.team})
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = self.app_id
            if self.bot_profile:
                data["bot_profile"] = copy.deepcopy(self.bot_profile)
        if self.client_msg_id:
            data["client_msg_id"] = self.client_msg_id
        if self.blocks is not None:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments is not None:
            data["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
            data["parent_user_id"] = self.parent_user_id
        elif self.replies:
            data.update(
                {
                    "thread_ts": self.ts,
                    "reply_count": len(self.replies),
                    "reply_users_count": len(self.reply_users),
                    "latest_reply": self.replies[-1],
                    "reply_users": list(self.reply_users),
                    "is_locked": False,
                    "subscribed": False,
                }
            )
        if self.edited:
            data["edited"] = dict(self.edited)
        if self.metadata is not None:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.username:
            data["username"] = self.username
        if self.icons:
            data["icons"] = dict(self.icons)
        return data

    def control(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "user": self.user,
            "bot_id": self.bot_id,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "attachments": copy.deepcopy(self.attachments),
            "thread_ts": self.display_thread_ts,
            "reply_count": len(self.replies),
            "edited": dict(self.edited) if self.edited else None,
            "metadata": copy.deepcopy(self.metadata),
            "subtype": self.subtype,
        }


@dataclass
class Ephemeral:
    """A message only `user` sees (chat.postEphemeral, slash command replies, response_url)."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    bot_user_id: str
    bot_id: str
    app_id: str
    attachments: list[dict[str, Any]] | None = None

    def control(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "channel": self.channel,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "thread_ts": self.thread_ts,
        }

    def to_slack(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "ts": self.ts,
            "is_ephemeral": True,
        }
        if self.blocks is not None:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        return data


@dataclass
class View:
    """A modal in a user's stack or a user's Home tab."""

    id: str
    user: str
    team_id: str
    app_id: str
    bot_id: str
    spec: dict[str, Any]  # the view as the app sent it, blocks with ids filled in
    hash: str
    root_view_id: str | None
    previous_view_id: str | None = None
    state: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.spec.get("type"))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.spec.get("blocks") or []

    @property
    def external_id(self) -> str:
        return str(self.spec.get("external_id") or "")

    def to_slack(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": spec.get("type"),
            "blocks": copy.deepcopy(self.blocks),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": copy.deepcopy(self.state)},
            "hash": self.hash,
            "title": copy.deepcopy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": copy.deepcopy(spec.get("close")),
            "submit": copy.deepcopy(spec.get("submit")),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": self.app_id,
            "external_id": self.external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def control(self) -> dict[str, Any]:
        data = self.to_slack()
        data["errors"] = dict(self.errors)
        return data


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    """A response_url: where it came from decides what replace/delete_original touch."""

    id: str
    url: str
    user: str
    channel: str
    issued_at: float
    source: str  # "command" | "message" | "ephemeral" | "view"
    message_ts: str | None = None  # the message (or ephemeral) the interaction came from
    thread_ts: str | None = None
    uses: int = 0
