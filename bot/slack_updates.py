"""Updating posted messages: what makes an answered request lose its buttons, whatever Slack's
rate limits, an outage or a restart do.

An update is stored in the outbox (`outbox:update:<key>`) before anything else, replacing one
still queued for the same message: a click's caller never waits for Slack, a crash loses
nothing, and Slack is asked once, for the newest content. It is then sent at once if its
message is posted and the workspace's chat.update pace has room, and otherwise by the outbox:
paced at Tier 3 for the whole workspace, after a 429's Retry-After (never dropped for one),
and never before the post of its message. A message that was never posted, or whose post
failed for good, has nothing to update: its update is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.outbox import Outbox, Outcome, update_entry
from bot.post_identity import POST_PREFIX, PostRef
from bot.slack_calls import (
    Clock,
    Pacer,
    SlackCall,
    SlackPermanentError,
    SlackTransientError,
)
from runtime.protocols import RunStore

logger = logging.getLogger("hitlbot.slack")

#: The pacer key of chat.update: its Tier 3 limit is the workspace's.
UPDATES = "chat.update"

Unrecorded = Callable[[str, str, dict[str, Any]], Awaitable["PostRef | Outcome"]]
"""Where a post whose claim has no ts is: (run id, key, claim) -> its PostRef once known,
WAITING while it may still be posted, DONE when it never will be (`SlackIO`)."""


class MessageUpdates:
    """chat.update through the outbox. `client` retries 5xx once and leaves 429s to us."""

    def __init__(
        self,
        store: RunStore,
        outbox: Outbox,
        *,
        client: AsyncWebClient,
        call: SlackCall,
        pacer: Pacer,
        wall_clock: Clock,
        unrecorded: Unrecorded,
    ) -> None:
        self._store = store
        self._unrecorded = unrecorded
        self._outbox = outbox
        self._client = client
        self._call = call
        self._pacer = pacer
        self._wall = wall_clock

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def update(self, run_id: str, key: str, text: str, blocks: list) -> None:
        """Make the message posted under (run_id, key) show this content, eventually."""
        claim = await self._db(self._store.get_annotation, run_id, POST_PREFIX + key)
        if not isinstance(claim, dict):
            logger.info("slack: no message %s of run %s to update", key, run_id[:8])
            return
        entry = update_entry(key, text, blocks, self._wall())
        if claim.get("ts"):
            entry.update(channel=claim["channel"], ts=claim["ts"])
        room = bool(claim.get("ts")) and self._pacer.try_reserve(UPDATES)
        akey = await self._outbox.queue_update(run_id, key, entry, wake=not room)
        if room:
            sent = await self._send(run_id, akey, entry, patient=False, paced=True)
            if sent is not Outcome.DONE:
                self._outbox.wake_updates()

    async def deliver(self, run_id: str, akey: str, *, patient: bool) -> Outcome:
        """Send a queued update (the outbox's), if its message is posted."""
        entry = await self._db(self._store.get_annotation, run_id, akey)
        if not isinstance(entry, dict):  # sent (or replaced and sent) by another process
            self._outbox.forget_update(run_id, akey)
            return Outcome.DONE
        return await self._send(run_id, akey, entry, patient=patient, paced=False)

    async def _send(
        self, run_id: str, akey: str, entry: dict[str, Any], *, patient: bool, paced: bool
    ) -> Outcome:
        """chat.update under the entry's lease. `patient` (the outbox) waits for the pace and
        out 429s; otherwise (a caller) anything but an immediate success is left to the
        outbox. `paced`: a pacer token was taken already."""
        ref = await self._target(run_id, akey, entry)
        if not isinstance(ref, PostRef):
            return ref
        lease = await self._outbox.take_lease(run_id, akey)
        if lease is None:
            return Outcome.WAITING
        try:
            if patient:  # the newest content, read under the lease
                current = await self._db(self._store.get_annotation, run_id, akey)
                if not isinstance(current, dict):
                    self._outbox.forget_update(run_id, akey)
                    return Outcome.DONE
                entry = current
            outcome = await self._paced(ref, entry, patient=patient, paced=paced)
            if outcome is Outcome.DONE:
                await self._outbox.settle_update(run_id, akey, entry)
            return outcome
        finally:
            await self._outbox.release(run_id, lease)

    async def _target(self, run_id: str, akey: str, entry: dict[str, Any]) -> PostRef | Outcome:
        """The message an update is for; WAITING while its post is not out, DONE (dropped)
        when it never will be."""
        if entry.get("ts"):
            return PostRef(str(entry["channel"]), str(entry["ts"]))
        claim = await self._db(self._store.get_annotation, run_id, POST_PREFIX + entry["key"])
        if isinstance(claim, dict) and claim.get("ts"):
            return PostRef(str(claim["channel"]), str(claim["ts"]))
        if isinstance(claim, dict):  # being posted, queued, or its process died meanwhile
            where = await self._unrecorded(run_id, str(entry["key"]), claim)
            if where is not Outcome.DONE:
                return where
        else:
            logger.warning("slack: dropped an update of %s: its post failed", entry["key"])
        await self._outbox.settle_update(run_id, akey, entry)
        return Outcome.DONE

    async def _paced(
        self, ref: PostRef, entry: dict[str, Any], *, patient: bool, paced: bool
    ) -> Outcome:
        while True:
            if not paced:
                if patient:
                    await self._pacer.wait(UPDATES)
                elif not self._pacer.try_reserve(UPDATES):
                    return Outcome.WAITING
            paced = False
            try:
                await self._chat_update(ref, entry.get("text") or "", entry.get("blocks"))
            except SlackPermanentError:
                return Outcome.DONE  # logged by `classify`; a retry cannot help
            except SlackTransientError as exc:
                if exc.retry_after is None:
                    logger.warning("slack: update of %s/%s waits (%s)", ref.channel, ref.ts, exc)
                    return Outcome.FAILED
                # The workspace's limit: every queued update waits it out, then goes on.
                self._pacer.hold(UPDATES, exc.retry_after)
                if not patient:
                    return Outcome.WAITING
                continue
            self._outbox.updates_go_through()
            return Outcome.DONE

    async def _chat_update(self, ref: PostRef, text: str, blocks: list | None) -> None:
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=ref.channel, ts=ref.ts, text=text, blocks=blocks
            ),
            context=f"channel={ref.channel} ts={ref.ts}",
        )
