"""All mutable state of one devslack instance, and the invariants Slack keeps on it.

Messages are indexed by (channel, ts) and each channel keeps its top-level ts in order, so
the hot paths (post, update, click, history page) never scan every message. Every change is
published to the live hub with an audience, so the UI sees what that user's client would.
"""

from __future__ import annotations

import bisect
import copy
import re
import secrets
import string
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from devslack.config import Seed
from devslack.elements import assign_ids
from devslack.errors import SlackError
from devslack.model import (
    Channel,
    Ephemeral,
    Message,
    ResponseUrl,
    Trigger,
    User,
    Usergroup,
    View,
)

Clock = Callable[[], float]
Publish = Callable[[dict[str, Any], Collection[str] | None], None]

TRIGGER_LIFETIME = 3.0  # "Triggers expire in three seconds"
RESPONSE_URL_LIFETIME = 30 * 60.0  # 5 uses within 30 minutes
RESPONSE_URL_USES = 5
MODAL_STACK_LIMIT = 3  # the root view plus at most 2 pushes
EPHEMERAL_KEEP = 200  # per user; older ephemerals vanish like on a client reload
_FORGET_AFTER = 3600.0  # triggers/response_urls older than this are forgotten
_TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SHORT_ALPHABET = string.ascii_letters + string.digits


class Workspace:
    """Users, channels, messages, views, triggers and response URLs of one Slack team."""

    def __init__(
        self,
        seed: Seed,
        *,
        clock: Clock,
        publish: Publish,
        signing_secret: str | None = None,
        bot_token: str | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.publish = publish
        self.signing_secret = signing_secret or seed.signing_secret
        self.bot_token = bot_token or seed.bot_token
        self.app_token = seed.app_token
        self.verification_token = seed.verification_token
        self.base_url = ""  # set once the server listens
        self.reset()

    # ------------------------------------------------------------------ seed and identity

    def reset(self) -> None:
        """Back to the seed: no messages, views, triggers or response URLs."""
        seed = self.seed
        self.team = {"id": seed.team_id, "name": seed.team_name, "domain": seed.team_domain}
        self.app = {"id": seed.app_id, "bot_user_id": seed.bot_user_id, "name": seed.app_name}
        self.commands = list(seed.commands)
        self.scopes = list(seed.scopes)
        self.bot = User(
            id=seed.bot_user_id,
            name=seed.app_name,
            display_name=seed.app_name,
            real_name=seed.app_name,
            team_id=seed.team_id,
            is_bot=True,
            bot_id=seed.bot_id,
            app_id=seed.app_id,
        )
        self.users: dict[str, User] = {}
        self._user_names: dict[str, str] = {}
        for u in seed.users:
            user = User(u.id, u.name, u.display_name, u.real_name, seed.team_id, u.email, u.tz)
            user.deleted = u.deleted
            self.users[user.id] = user
        self.users[self.bot.id] = self.bot
        for user in self.users.values():
            self._user_names[user.name.casefold()] = user.id
        humans = [u.id for u in self.users.values() if not u.is_bot]
        created = int(self.clock())
        self.channels: dict[str, Channel] = {}
        self._channel_names: dict[str, str] = {}
        for c in seed.channels:
            members = (
                [self._seed_user(m) for m in c.members]
                if c.members is not None
                else [*humans, self.bot.id]
            )
            channel = Channel(
                c.id,
                c.name,
                members,
                created,
                is_private=c.is_private,
                is_general=c.is_general,
                purpose=c.purpose,
                topic=c.topic,
            )
            self.channels[channel.id] = channel
            self._channel_names[channel.name.casefold()] = channel.id
        self.dm_of_user: dict[str, str] = {}
        for uid in humans:
            dm = Channel(
                "D" + uid[1:],
                self.users[uid].name,
                [uid, self.bot.id],
                created,
                is_im=True,
                is_private=True,
                user=uid,
            )
            self.channels[dm.id] = dm
            self.dm_of_user[uid] = dm.id
        self.usergroups: dict[str, Usergroup] = {}
        for g in seed.usergroups:
            group = Usergroup(
                g.id, g.handle, g.name, [self._seed_user(m) for m in g.users], g.description
            )
            self.usergroups[group.id] = group
        self._mpims: dict[frozenset[str], str] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.timelines: dict[str, list[str]] = {cid: [] for cid in self.channels}
        self.ephemerals: dict[str, dict[str, Ephemeral]] = {}
        self.views: dict[str, View] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, View] = {}
        self._external_ids: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self._trigger_order: deque[Trigger] = deque()
        self.response_urls: dict[str, ResponseUrl] = {}
        self._response_order: deque[ResponseUrl] = deque()
        self.message_state: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        self._last_ts = 0.0

    def _seed_user(self, ref: str) -> str:
        user_id = self._user_names.get(ref.lstrip("@").casefold(), ref)
        if user_id not in self.users:
            raise ValueError(f"seed: unknown user {ref!r}")
        return user_id

    def new_id(self, prefix: str, length: int = 10) -> str:
        return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))

    def short_id(self) -> str:
        """Slack-style generated block_id/action_id (e.g. "Jg1s")."""
        return "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(5))

    def new_ts(self) -> str:
        """A message ts from the clock, strictly increasing even when the clock stands still."""
        now = round(self.clock(), 6)
        if now <= self._last_ts:
            now = round(self._last_ts + 0.000001, 6)
        self._last_ts = now
        return f"{now:.6f}"

    # ------------------------------------------------------------------ lookups

    def find_user(self, ref: str) -> User | None:
        if not ref:
            return None
        if ref in self.users:
            return self.users[ref]
        user_id = self._user_names.get(ref.lstrip("@").casefold())
        return self.users.get(user_id) if user_id else None

    def user(self, ref: str, error: str = "user_not_found") -> User:
        user = self.find_user(ref)
        if user is None:
            raise SlackError(error)
        return user

    def human(self, ref: str) -> User:
        """A user who can act in the UI/control API (not the bot)."""
        user = self.user(ref)
        if user.is_bot:
            raise SlackError("user_not_found")
        return user

    def channel_by_id(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id or "")
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def find_channel(self, ref: str, *, allow_names: bool = True) -> Channel | None:
        """By id; with allow_names also `#name`/`name` and a DM by its user's name."""
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        if not allow_names:
            return None
        name = ref.lstrip("#@").casefold()
        channel_id = self._channel_names.get(name)
        if channel_id:
            return self.channels[channel_id]
        user_id = self._user_names.get(name)
        if user_id and user_id in self.dm_of_user:
            return self.channels[self.dm_of_user[user_id]]
        return None

    def channel_named(self, name: str) -> Channel | None:
        """A (non-DM) channel by `name` or `#name`, as the Web API accepts in chat.postMessage."""
        channel_id = self._channel_names.get(name.removeprefix("#").casefold())
        return self.channels[channel_id] if channel_id else None

    def channel(self, ref: str, *, allow_names: bool = True) -> Channel:
        channel = self.find_channel(ref, allow_names=allow_names)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def dm_channel(self, user_id: str) -> Channel:
        return self.channels[self.dm_of_user[user_id]]

    def usergroup(self, ref: str) -> Usergroup:
        if ref in self.usergroups:
            return self.usergroups[ref]
        for group in self.usergroups.values():
            if group.handle.casefold() == ref.lstrip("@").casefold():
                return group
        raise SlackError("no_such_subteam")

    def mpim(self, user_ids: list[str]) -> Channel:
        """The group DM between these users and the bot, created on first use."""
        key = frozenset([*user_ids, self.bot.id])
        channel_id = self._mpims.get(key)
        if channel_id is None:
            names = sorted(self.users[u].name for u in user_ids)
            channel = Channel(
                self.new_id("G"),
                "mpdm-" + "--".join(names) + "-1",
                sorted(key),
                int(self.clock()),
                is_mpim=True,
                is_private=True,
            )
            self.channels[channel.id] = channel
            self.timelines[channel.id] = []
            self._mpims[key] = channel.id
            channel_id = channel.id
        return self.channels[channel_id]

    @staticmethod
    def audience(channel: Channel) -> Collection[str] | None:
        """Who may see a channel's messages live (None = anyone: a public channel)."""
        return (
            channel.member_set if (channel.is_private or channel.is_im or channel.is_mpim) else None
        )

    # ------------------------------------------------------------------ messages

    def _emit_message(self, message: Message, deleted: bool = False) -> None:
        channel = self.channels[message.channel]
        event = {
            "type": "message",
            **message.control(),
            "channel": message.channel,
            "deleted": deleted,
        }
        self.publish(event, self.audience(channel))

    def bot_profile(self) -> dict[str, Any]:
        return {
            "id": self.bot.bot_id,
            "app_id": self.bot.app_id,
            "name": self.bot.name,
            "icons": {"image_48": ""},
            "deleted": False,
            "updated": 0,
            "team_id": self.team["id"],
        }

    def post_message(
        self,
        channel: Channel,
        *,
        author: User,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
        mrkdwn: bool = True,
        username: str | None = None,
        icons: dict[str, str] | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        """Store a new message (a reply when thread_ts is given) and publish it."""
        ts = self.new_ts()
        parent: Message | None = None
        if thread_ts:
            parent = self.messages.get((channel.id, thread_ts))
            if parent is not None and parent.thread_ts:
                parent = self.messages.get((channel.id, parent.thread_ts))  # reply to a reply
            thread_ts = parent.ts if parent is not None else thread_ts
        message = Message(
            channel=channel.id,
            ts=ts,
            text=text,
            user=author.id,
            team=self.team["id"],
            blocks=assign_ids(blocks, self.short_id) if blocks is not None else None,
            attachments=copy.deepcopy(attachments),
            thread_ts=thread_ts or None,
            metadata=copy.deepcopy(metadata),
            mrkdwn=mrkdwn,
            username=username,
            icons=icons,
            client_msg_id=client_msg_id,
            in_channel=not thread_ts or reply_broadcast,
            parent_user_id=parent.user if parent is not None else None,
        )
        if author.is_bot:
            message.bot_id = author.bot_id
            message.app_id = author.app_id
            message.bot_profile = self.bot_profile()
        if thread_ts and reply_broadcast:
            message.subtype = "thread_broadcast"
        self.messages[(channel.id, ts)] = message
        if message.in_channel:
            self.timelines[channel.id].append(ts)
        if parent is not None:
            parent.replies.append(ts)
            if author.id not in parent.reply_users:
                parent.reply_users.append(author.id)
            self._emit_message(parent)
        self._emit_message(message)
        return message

    def message(self, channel_id: str, ts: str) -> Message:
        message = self.messages.get((channel_id, ts or ""))
        if message is None:
            raise SlackError("message_not_found")
        return message

    def update_message(
        self,
        message: Message,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None,
        editor: User,
        keep_blocks: bool,
    ) -> Message:
        """Apply chat.update / replace_original. Text without blocks removes the blocks,
        as Slack does, unless keep_blocks (no text either)."""
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = assign_ids(blocks, self.short_id)
        elif not keep_blocks:
            message.blocks = None
        if attachments is not None:
            message.attachments = copy.deepcopy(attachments)
        if metadata is not None:
            message.metadata = copy.deepcopy(metadata)
        message.edited = {"user": editor.id, "ts": self.new_ts()}
        self._emit_message(message)
        return message

    def delete_message(self, message: Message) -> None:
        """Remove a message; a parent with replies stays as Slack's tombstone."""
        key = (message.channel, message.ts)
        if message.replies:
            message.subtype = "tombstone"
            message.text = "This message was deleted."
            message.blocks = None
            message.attachments = None
            self._emit_message(message)
            return
        del self.messages[key]
        if message.in_channel:
            timeline = self.timelines[message.channel]
            i = bisect.bisect_left(timeline, message.ts)
            if i < len(timeline) and timeline[i] == message.ts:
                del timeline[i]
        if message.thread_ts:
            parent = self.messages.get((message.channel, message.thread_ts))
            if parent is not None and message.ts in parent.replies:
                parent.replies.remove(message.ts)
                parent.reply_users = [
                    u
                    for u in parent.reply_users
                    if any(self.messages[(parent.channel, r)].user == u for r in parent.replies)
                ]
                self._emit_message(parent)
        self._emit_message(message, deleted=True)

    def history_page(
        self,
        channel: Channel,
        *,
        latest: str | None,
        oldest: str | None,
        inclusive: bool,
        limit: int,
        before: str | None,
    ) -> tuple[list[Message], str | None]:
        """Newest first, at most `limit`; returns the next cursor position (a ts) or None."""
        timeline = self.timelines[channel.id]
        hi = len(timeline)
        if latest:
            hi = (bisect.bisect_right if inclusive else bisect.bisect_left)(timeline, latest)
        if before:
            hi = min(hi, bisect.bisect_left(timeline, before))
        lo = 0
        if oldest:
            lo = (bisect.bisect_left if inclusive else bisect.bisect_right)(timeline, oldest)
        start = max(lo, hi - limit)
        page = [self.messages[(channel.id, ts)] for ts in reversed(timeline[start:hi])]
        next_before = timeline[start] if start > lo else None
        return page, next_before

    def control_messages(self, channel: Channel, thread_ts: str | None) -> list[dict[str, Any]]:
        """For GET /_dev/api/messages: the timeline oldest first, or a thread."""
        if thread_ts:
            parent = self.message(channel.id, thread_ts)
            keys = [parent.ts, *parent.replies]
        else:
            keys = self.timelines[channel.id]
        return [self.messages[(channel.id, ts)].control() for ts in keys]

    # ------------------------------------------------------------------ ephemeral messages

    def post_ephemeral(
        self,
        channel: Channel,
        user: User,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Ephemeral:
        ephemeral = Ephemeral(
            ts=self.new_ts(),
            channel=channel.id,
            user=user.id,
            text=text,
            blocks=assign_ids(blocks, self.short_id) if blocks is not None else None,
            thread_ts=thread_ts,
            bot_user_id=self.bot.id,
            bot_id=self.bot.bot_id or "",
            app_id=self.bot.app_id or "",
            attachments=copy.deepcopy(attachments),
        )
        mine = self.ephemerals.setdefault(user.id, {})
        mine[ephemeral.ts] = ephemeral
        if len(mine) > EPHEMERAL_KEEP:
            del mine[next(iter(mine))]
        self._emit_ephemeral(ephemeral)
        return ephemeral

    def _emit_ephemeral(self, ephemeral: Ephemeral, deleted: bool = False) -> None:
        event = {
            "type": "ephemeral",
            "channel": ephemeral.channel,
            "message": ephemeral.control(),
            "deleted": deleted,
        }
        self.publish(event, (ephemeral.user,))

    def ephemeral(self, user_id: str, ts: str) -> Ephemeral:
        found = self.ephemerals.get(user_id, {}).get(ts or "")
        if found is None:
            raise SlackError("message_not_found")
        return found

    def replace_ephemeral(
        self, ephemeral: Ephemeral, *, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        ephemeral.text = text
        ephemeral.blocks = assign_ids(blocks, self.short_id) if blocks is not None else None
        self._emit_ephemeral(ephemeral)

    def delete_ephemeral(self, ephemeral: Ephemeral) -> None:
        self.ephemerals.get(ephemeral.user, {}).pop(ephemeral.ts, None)
        self._emit_ephemeral(ephemeral, deleted=True)

    # ------------------------------------------------------------------ views

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.randbelow(10**8):08d}"

    def _make_view(
        self, user: User, spec: dict[str, Any], *, root: str | None, previous: str | None
    ) -> View:
        spec = copy.deepcopy(spec)
        spec["blocks"] = assign_ids(spec.get("blocks") or [], self.short_id)
        view_id = self.new_id("V")
        return View(
            id=view_id,
            user=user.id,
            team_id=self.team["id"],
            app_id=self.app["id"],
            bot_id=self.bot.bot_id or "",
            spec=spec,
            hash=self._new_hash(),
            root_view_id=root or view_id,
            previous_view_id=previous,
        )

    def _claim_external_id(self, view_id: str, new: str, old: str = "") -> None:
        """Reserve `new` for view_id (external ids are unique per team), releasing `old`."""
        if new:
            owner = self._external_ids.get(new)
            if owner and owner in self.views and owner != view_id:
                raise SlackError("duplicate_external_id")
        if old and old != new and self._external_ids.get(old) == view_id:
            del self._external_ids[old]
        if new:
            self._external_ids[new] = view_id

    def stack(self, user_id: str) -> list[View]:
        return [self.views[v] for v in self.stacks.get(user_id, [])]

    def emit_views(self, user_id: str) -> None:
        self.publish(
            {"type": "views", "views": [v.control() for v in self.stack(user_id)]}, (user_id,)
        )

    def open_view(self, user: User, spec: dict[str, Any]) -> View:
        """views.open: a new root modal (any modal already open is replaced)."""
        if spec.get("type") != "modal":
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] views.open only opens modals [json-pointer:/view/type]"]
                },
            )
        view = self._make_view(user, spec, root=None, previous=None)
        self._claim_external_id(view.id, view.external_id)
        self._drop_stack(user.id)
        self.views[view.id] = view
        self.stacks[user.id] = [view.id]
        self.emit_views(user.id)
        return view

    def push_view(self, user: User, spec: dict[str, Any]) -> View:
        """views.push / response_action push: on top of the user's open modal."""
        ids = self.stacks.get(user.id) or []
        if not ids:
            raise SlackError("not_found")
        if len(ids) >= MODAL_STACK_LIMIT:
            raise SlackError("push_limit_reached")
        if spec.get("type") != "modal":
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] only modals can be pushed [json-pointer:/view/type]"]
                },
            )
        top = self.views[ids[-1]]
        view = self._make_view(user, spec, root=top.root_view_id, previous=top.id)
        self._claim_external_id(view.id, view.external_id)
        self.views[view.id] = view
        ids.append(view.id)
        self.emit_views(user.id)
        return view

    def find_view(self, view_id: str | None, external_id: str | None) -> View:
        if view_id:
            view = self.views.get(view_id)
        elif external_id:
            view = self.views.get(self._external_ids.get(external_id, ""))
        else:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] either view_id or external_id is required"]
                },
            )
        if view is None:
            raise SlackError("not_found")
        return view

    def update_view(self, view: View, spec: dict[str, Any], expected_hash: str | None) -> View:
        """views.update / response_action update: same id, new content, new hash."""
        if expected_hash and expected_hash != view.hash:
            raise SlackError("hash_conflict")
        if spec.get("type") != view.type:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] a view cannot change type [json-pointer:/view/type]"]
                },
            )
        new_spec = copy.deepcopy(spec)
        new_spec["blocks"] = assign_ids(new_spec.get("blocks") or [], self.short_id)
        self._claim_external_id(view.id, str(new_spec.get("external_id") or ""), view.external_id)
        view.spec = new_spec
        view.hash = self._new_hash()
        view.errors = {}
        block_ids = {b.get("block_id") for b in view.blocks}
        view.state = {k: v for k, v in view.state.items() if k in block_ids}
        if view.type == "home":
            self.publish({"type": "home", "view": view.control()}, (view.user,))
        else:
            self.emit_views(view.user)
        return view

    def publish_home(self, user: User, spec: dict[str, Any], expected_hash: str | None) -> View:
        """views.publish: the user's Home tab (same view id across publishes)."""
        if spec.get("type") != "home":
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": [
                        "[ERROR] views.publish only publishes home views [json-pointer:/view/type]"
                    ]
                },
            )
        current = self.homes.get(user.id)
        if current is None:
            view = self._make_view(user, spec, root=None, previous=None)
            self._claim_external_id(view.id, view.external_id)
            self.views[view.id] = view
            self.homes[user.id] = view
            self.publish({"type": "home", "view": view.control()}, (user.id,))
            return view
        return self.update_view(current, spec, expected_hash)

    def _drop_stack(self, user_id: str) -> list[View]:
        dropped = [self.views.pop(v) for v in self.stacks.pop(user_id, [])]
        for view in dropped:
            if view.external_id and self._external_ids.get(view.external_id) == view.id:
                del self._external_ids[view.external_id]
        return dropped

    def pop_view(self, user_id: str) -> View | None:
        """Close the top modal (the one below becomes visible again)."""
        ids = self.stacks.get(user_id) or []
        if not ids:
            return None
        view = self.views.pop(ids.pop())
        if view.external_id and self._external_ids.get(view.external_id) == view.id:
            del self._external_ids[view.external_id]
        if not ids:
            self.stacks.pop(user_id, None)
        self.emit_views(user_id)
        return view

    def clear_views(self, user_id: str) -> list[View]:
        dropped = self._drop_stack(user_id)
        self.emit_views(user_id)
        return dropped

    def replace_top_view(self, user_id: str, spec: dict[str, Any]) -> View:
        ids = self.stacks.get(user_id) or []
        if not ids:
            raise SlackError("not_found")
        return self.update_view(self.views[ids[-1]], spec, None)

    # ------------------------------------------------------------------ triggers

    def issue_trigger(self, user: User) -> str:
        now = self.clock()
        # Slack's format: "<digits>.<digits>.<hex>" (views.* refuse anything else).
        first = f"{int(now)}{secrets.randbelow(10**5):05d}"
        trigger_id = f"{first}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        trigger = Trigger(trigger_id, user.id, now)
        self.triggers[trigger_id] = trigger
        self._trigger_order.append(trigger)
        while self._trigger_order and now - self._trigger_order[0].issued_at > _FORGET_AFTER:
            self.triggers.pop(self._trigger_order.popleft().id, None)
        return trigger_id

    def use_trigger(self, trigger_id: str | None) -> User:
        """Exchange a trigger_id (valid 3 s, once) for the user it was issued to."""
        if not trigger_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        if not _TRIGGER_FORMAT.match(trigger_id):
            raise SlackError("invalid_trigger_id")
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return self.users[trigger.user]

    # ------------------------------------------------------------------ response URLs

    def issue_response_url(
        self,
        user: User,
        channel: Channel,
        *,
        source: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        now = self.clock()
        hook_id = secrets.token_hex(12)
        url = f"{self.base_url}/_dev/hooks/{self.team['id']}/{hook_id}"
        hook = ResponseUrl(hook_id, url, user.id, channel.id, now, source, message_ts, thread_ts)
        self.response_urls[hook_id] = hook
        self._response_order.append(hook)
        while (
            self._response_order
            and now - self._response_order[0].issued_at > _FORGET_AFTER + RESPONSE_URL_LIFETIME
        ):
            self.response_urls.pop(self._response_order.popleft().id, None)
        return url

    def use_response_url(self, hook_id: str) -> ResponseUrl:
        """Count one use of a response_url: 5 uses within 30 minutes."""
        hook = self.response_urls.get(hook_id)
        if hook is None:
            raise SlackError("no_active_hooks", status=404)
        if self.clock() - hook.issued_at > RESPONSE_URL_LIFETIME:
            raise SlackError("expired_url", status=404)
        if hook.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url", status=404)
        hook.uses += 1
        return hook

    # ------------------------------------------------------------------ control API shapes

    def describe(self) -> dict[str, Any]:
        return {
            "team": dict(self.team),
            "app": dict(self.app),
            "users": [u.brief() for u in self.users.values()],
            "channels": [c.brief() for c in self.channels.values()],
            "usergroups": [g.brief() for g in self.usergroups.values()],
            "commands": list(self.commands),
        }
