"""How a post is known again: by its claim in the store, and by its metadata in Slack.

A post's key (`run`, `request:<id>`, `event:<seq>`, `result`...) is unique within its run only:
every run's own message has the key `run`. So every post's metadata carries both the run id and
the key, and when a crash or an outage came between posting and recording the ts, the search in
Slack takes only the message carrying both, exactly. A message of another run, or one without
our metadata, is never taken for ours: taking it would put one run's thread under another's
message, and leave the run's own notifications and requests unposted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_calls import SlackCall, SlackIOConfig, SlackPermanentError

logger = logging.getLogger("hitlbot.slack")

#: Annotation key (per run) of a post's claim: where it went, once it has a ts.
POST_PREFIX = "slack:post:"

#: `metadata.event_type` of every post (unless the caller gave its own).
METADATA_EVENT = "hitlbot_post"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class PostRef:
    """Where a message lives: what chat.update and thread replies need."""

    channel: str
    ts: str


def post_metadata(run_id: str, key: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata (if any) with the run id and the key in `event_payload`
    (reserved names there)."""
    given = given or {}
    payload = dict(given.get("event_payload") or {})
    payload.update(run_id=run_id, key=key)
    return {"event_type": given.get("event_type") or METADATA_EVENT, "event_payload": payload}


def is_post_of(message: dict[str, Any], run_id: str, key: str) -> bool:
    """Whether a message found in Slack is the post of `key` of this very run."""
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return (
        isinstance(payload, dict) and payload.get("run_id") == run_id and payload.get("key") == key
    )


class PostLookup:
    """Searches Slack (conversations.history / .replies, Tier 3) for a post that an earlier
    attempt may have left there."""

    def __init__(self, client: AsyncWebClient, call: SlackCall, config: SlackIOConfig) -> None:
        self._client = client
        self._call = call
        self.config = config

    async def channel_id(self, channel: str) -> str | None:
        """The id of a channel given by id or as a user (the app's DM with them)."""
        if _CHANNEL_ID.match(channel):
            return channel
        if not _USER_ID.match(channel):
            return None
        response = await self._call(
            "conversations.open", lambda: self._client.conversations_open(users=channel)
        )
        return str(response["channel"]["id"])

    async def find(
        self, *, run_id: str, key: str, channel: str, thread_ts: str | None, since: float
    ) -> tuple[str, dict[str, Any]] | None:
        """(channel id, message) of the post of `key` of run `run_id` if it is in Slack:
        in the thread `thread_ts`, or at the top of the channel from `since` on."""
        try:
            channel_id = await self.channel_id(channel)
        except SlackPermanentError:
            channel_id = None
        if channel_id is None:
            logger.warning(
                "slack: cannot check %s for an earlier post of %s (pass a channel id)",
                channel,
                key,
            )
            return None
        pages = (
            self._replies(channel_id, thread_ts)
            if thread_ts
            else self._history(channel_id, max(0.0, since - self.config.lookup_margin))
        )
        try:
            async for batch in pages:
                for found in batch:
                    if is_post_of(found, run_id, key):
                        return channel_id, found
        except SlackPermanentError as exc:
            # Channel or thread gone (the post itself will say so), or the app lacks the
            # *:history scopes: without them a crash between claim and record can double post.
            logger.warning("slack: could not search for %s (%s)", key, exc.error)
        return None

    async def _history(self, channel: str, oldest: float) -> AsyncIterator[list[dict]]:
        cursor: str | None = None
        for _ in range(self.config.lookup_pages):
            response = await self._call(
                "conversations.history",
                lambda c=cursor: self._client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    limit=200,
                    cursor=c,
                    include_all_metadata=True,
                ),
            )
            yield response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    async def _replies(self, channel: str, thread_ts: str) -> AsyncIterator[list[dict]]:
        cursor: str | None = None
        for _ in range(self.config.lookup_pages):
            response = await self._call(
                "conversations.replies",
                lambda c=cursor: self._client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=200, cursor=c, include_all_metadata=True
                ),
            )
            yield response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
