"""The one way the bot talks to Slack's Web API.

A Human request that never reaches Slack blocks a run forever, one posted twice (or under
another run's message) confuses whoever clicks, and an answered request that keeps its
buttons invites clicks that can only be refused. So here:

- every call is retried and paced (`bot.slack_calls`): 429s after Retry-After, 5xx and
  connection errors with backoff; chat.postMessage paced per channel, chat.update for the
  workspace;
- every post is idempotent per (run, key): a claim (`slack:post:<key>` annotation of the run)
  is written BEFORE posting and the message's channel/ts recorded after. A claim without a ts
  means a crash or an outage came in between, so Slack is searched for the message whose
  metadata carries both the run id and the key before posting again; a message of another
  run, or one without our metadata, is never taken for ours. Another process's claim is left
  to it while it lives (`bot.liveness` heartbeats), for at most `claim_lease`; a dead
  process's claim is taken over at once;
- every message update goes through the durable outbox (`bot.outbox`): stored first, sent at
  once when the workspace's chat.update pace allows, otherwise by the outbox, after any 429's
  Retry-After, after a restart, and never before the post it updates. A newer update of a
  message replaces a queued one;
- a post that Slack does not take after the retries waits in the outbox too, in order per
  channel;
- everything shown to people (text, blocks, views) has its control and bidi-override
  characters neutralised (`bot.safe_text`).

Errors a retry cannot fix (invalid_blocks, channel_not_found, not_in_channel, ...) are logged
in one line (never the token) and raised as `SlackPermanentError` by the calls someone waits on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.liveness import Liveness
from bot.outbox import OUTBOX_UPDATE, Outbox, Outcome, update_entry
from bot.post_identity import POST_PREFIX, PostLookup, PostRef, post_metadata
from bot.safe_text import neutralise, neutralise_all
from bot.slack_calls import (
    NETWORK_ERRORS,
    Clock,
    Pacer,
    SlackIOConfig,
    SlackPermanentError,
    SlackTransientError,
    Sleep,
    classify,
    retry_handlers,
    retrying_client,
)
from bot.slack_updates import MessageUpdates
from runtime.protocols import RunStore

__all__ = ["POST_PREFIX", "Pacer", "PostRef", "SlackIO", "SlackIOConfig", "SlackPermanentError"]

logger = logging.getLogger("hitlbot.slack")

#: Errors from views.open/push that mean "too late", not "our view is wrong".
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


class _Blocked(Exception):
    """A thread reply whose parent message is not posted yet."""


@dataclass
class _Post:
    """One chat.postMessage, as queued in the outbox."""

    key: str
    run_id: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    thread_key: str | None = None
    metadata: dict[str, Any] | None = None
    claimed_at: float = 0.0
    asked_at: float = 0.0  # when this content was asked for (newer than updates queued before)

    def entry(
        self, *, uncertain: bool, not_before: float = 0.0, waits_for: str | None = None
    ) -> dict[str, Any]:
        """`not_before` holds the entry back while `waits_for` (a process) may still post it."""
        return {
            "kind": "post",
            "key": self.key,
            "channel": self.channel,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "thread_key": self.thread_key,
            "metadata": self.metadata,
            "claimed_at": self.claimed_at,
            "asked_at": self.asked_at,
            "uncertain": uncertain,
            "not_before": not_before,
            "waits_for": waits_for,
        }

    @classmethod
    def from_entry(cls, run_id: str, entry: dict[str, Any]) -> _Post:
        return cls(
            key=entry["key"],
            run_id=run_id,
            channel=entry["channel"],
            text=entry.get("text") or "",
            blocks=entry.get("blocks") or [],
            thread_ts=entry.get("thread_ts"),
            thread_key=entry.get("thread_key"),
            metadata=entry.get("metadata"),
            claimed_at=float(entry.get("claimed_at") or 0.0),
            asked_at=float(entry.get("asked_at") or 0.0),
        )


class SlackIO:
    """The one way the bot talks to Slack's Web API (see the module's docstring). Never raises
    to callers for transient failures; raises SlackPermanentError for Slack errors a retry
    cannot fix when someone waits on the call.

    `clock` (monotonic) paces calls, `sleep` is every wait (retry, pacing, backoff) and
    `wall_clock` (epoch seconds, comparable to Slack ts) dates claims; tests pass a virtual
    clock for all three.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        store: RunStore,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
        config: SlackIOConfig | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        self.config = config or SlackIOConfig()
        self._store = store
        self._sleep = sleep
        self._wall = wall_clock
        self._owns_session = client.session is None
        self._client = retrying_client(client, retry_handlers(self.config, sleep))
        self._fast = retrying_client(
            client, retry_handlers(self.config, sleep, mode="interactive"), timeout=3
        )
        self._queued = retrying_client(client, retry_handlers(self.config, sleep, mode="queued"))
        self._pacer = Pacer(self.config.pace_per_second, self.config.pace_burst, clock, sleep)
        self._update_pacer = Pacer(
            self.config.updates_per_minute / 60.0, self.config.update_burst, clock, sleep
        )
        # Tells this process's claims from others', and whether those others still live.
        self._liveness = liveness or Liveness(store, wall_clock=wall_clock)
        self._owner = self._liveness.owner
        self._inflight: dict[tuple[str, str], asyncio.Future[PostRef | None]] = {}
        self._outbox = Outbox(
            store,
            self,
            config=self.config,
            sleep=sleep,
            wall_clock=wall_clock,
            owner=self._owner,
            alive=self._alive,
        )
        self._lookup = PostLookup(self._client, self._call, self.config)
        self._updates = MessageUpdates(
            store,
            self._outbox,
            client=self._queued,
            call=self._call,
            pacer=self._update_pacer,
            wall_clock=wall_clock,
            unrecorded=self._unrecorded_post,
        )

    @property
    def client(self) -> AsyncWebClient:
        """The retrying client (for other Web API calls, e.g. `Approvers`)."""
        return self._client

    async def close(self) -> None:
        """Close the HTTP session this object opened (not one the given client brought)."""
        session = self._client.session
        if self._owns_session and session is not None and not session.closed:
            await session.close()

    def _ensure_session(self) -> None:
        """One pooled aiohttp session for every call (slack-sdk opens one per call otherwise)."""
        if self._client.session is None or self._client.session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout)
            session = aiohttp.ClientSession(timeout=timeout)
            self._client.session = self._fast.session = self._queued.session = session
            self._owns_session = True

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        context: str = "",
    ) -> AsyncSlackResponse:
        """Run one Web API call; failures come out as `SlackTransientError` or
        `SlackPermanentError`."""
        self._ensure_session()
        try:
            return await call()
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            raise classify(method, exc, context) from None

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Store calls do (SQLite) I/O: keep them off the event loop."""
        return await asyncio.to_thread(fn, *args)

    async def _alive(self, owner: Any) -> bool:
        if owner == self._owner:  # no store read (and no thread) needed for our own claims
            return True
        return await self._db(self._liveness.alive, owner)

    # ------------------------------------------------------------------ posting

    def ref(self, run_id: str, key: str) -> PostRef | None:
        """Where `key` was posted, or None while it is not (yet) in Slack."""
        claim = self._store.get_annotation(run_id, POST_PREFIX + key)
        if isinstance(claim, dict) and claim.get("ts"):
            return PostRef(claim["channel"], claim["ts"])
        return None

    async def post(
        self,
        key: str,
        run_id: str,
        *,
        channel: str,
        text: str,
        blocks: list,
        thread_ts: str | None = None,
        metadata: dict | None = None,
        thread_key: str | None = None,
    ) -> PostRef | None:
        """Post once per (run_id, key): a second call returns the first PostRef, or, while the
        first is still queued, makes the queued post go out with this call's text and blocks.

        Returns None when the post was queued because Slack is unreachable (or it waits for
        its thread parent); `ref()` tells where it went once delivered. `thread_key` (instead of
        `thread_ts`) names the post of the same run whose thread this goes into, resolved when
        delivered, so a reply can be queued behind a parent that is itself still queued.
        """
        slot = (run_id, key)
        running = self._inflight.get(slot)
        if running is not None:  # the same key is being posted by this process right now
            return await asyncio.shield(running)
        future: asyncio.Future[PostRef | None] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        message = _Post(
            key,
            run_id,
            channel,
            neutralise(text),
            neutralise_all(blocks),
            thread_ts,
            thread_key,
            metadata,
            asked_at=self._wall(),
        )
        try:
            result = await self._post_claimed(message)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters (if any) re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[slot]

    async def _post_claimed(self, message: _Post) -> PostRef | None:
        message.claimed_at = message.asked_at
        claim = {
            "channel": message.channel,
            "thread_ts": message.thread_ts,
            "thread_key": message.thread_key,
            "ts": None,
            "owner": self._owner,
            "claimed_at": message.claimed_at,
        }
        akey = POST_PREFIX + message.key
        if await self._db(self._store.claim_annotation, message.run_id, akey, claim):
            return await self._post_or_queue(message, uncertain=False)
        existing = await self._db(self._store.get_annotation, message.run_id, akey)
        if existing is None:  # dropped after a permanent failure: a fresh attempt
            if await self._db(self._store.claim_annotation, message.run_id, akey, claim):
                return await self._post_or_queue(message, uncertain=False)
            existing = await self._db(self._store.get_annotation, message.run_id, akey) or {}
        return await self._resume_claim(message, existing)

    async def _resume_claim(self, message: _Post, claim: dict[str, Any]) -> PostRef | None:
        """A claim was there already: posted, queued, in flight elsewhere, or orphaned."""
        if claim.get("ts"):
            return PostRef(claim["channel"], claim["ts"])
        queued = await self._outbox.queued_post(message.run_id, message.key)
        if queued is not None:
            # Still waiting for Slack: it goes out with the newest content (a run's message
            # must not arrive showing a status the run has long left). The queued post itself
            # is left as it is: its deliverer may be reading it right now.
            if (queued.get("text"), queued.get("blocks")) != (message.text, message.blocks):
                entry = update_entry(message.key, message.text, message.blocks, message.asked_at)
                await self._outbox.queue_update(message.run_id, message.key, entry)
            return None
        message.claimed_at = float(claim.get("claimed_at") or 0.0)
        owner = claim.get("owner")
        lease_end = message.claimed_at + self.config.claim_lease
        if self._wall() < lease_end and await self._alive(owner):
            # Another process may still be posting it; the outbox looks (then posts) once
            # its lease is over, or as soon as that process is found dead.
            await self._enqueue(message, uncertain=True, not_before=lease_end, waits_for=owner)
            return None
        return await self._post_or_queue(message, uncertain=True)

    async def _enqueue(
        self,
        message: _Post,
        *,
        uncertain: bool,
        not_before: float = 0.0,
        waits_for: str | None = None,
    ) -> None:
        entry = message.entry(uncertain=uncertain, not_before=not_before, waits_for=waits_for)
        await self._outbox.queue_post(message.run_id, message.key, entry)

    async def _post_or_queue(self, message: _Post, *, uncertain: bool) -> PostRef | None:
        """Post now unless order requires queueing; queue on transient failure."""
        if await self._must_wait(message):
            await self._enqueue(message, uncertain=uncertain)
            return None
        try:
            return await self._deliver(message, uncertain=uncertain)
        except SlackPermanentError:
            await self._forget(message)
            raise
        except _Blocked:
            await self._enqueue(message, uncertain=uncertain)
            return None
        except SlackTransientError as exc:
            logger.warning("slack: queued %s for later (%s)", message.key, exc)
            await self._enqueue(message, uncertain=uncertain or exc.uncertain)
            return None

    async def _must_wait(self, message: _Post) -> bool:
        """Earlier posts to this channel are still queued, or the thread parent is."""
        if await self._outbox.channel_busy(message.channel):
            return True
        if message.thread_ts or not message.thread_key:
            return False
        parent = await self._db(
            self._store.get_annotation, message.run_id, POST_PREFIX + message.thread_key
        )
        return isinstance(parent, dict) and not parent.get("ts")

    async def _deliver(self, message: _Post, *, uncertain: bool) -> PostRef:
        """Find (when a previous attempt may have landed) or post the message; record it."""
        found = await self._find_posted(message) if uncertain else None
        if found is None:
            thread_ts = await self._thread_ts(message)
            await self._pacer.wait(message.channel)
            response = await self._call(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(
                    channel=message.channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                    metadata=post_metadata(message.run_id, message.key, message.metadata),
                ),
                context=f"channel={message.channel} key={message.key}",
            )
            ref = PostRef(str(response["channel"]), str(response["ts"]))
        else:
            ref = PostRef(found[0], str(found[1]["ts"]))
        await self._record(message, ref)
        if uncertain:
            await self._settle_earlier_updates(message, found[1] if found else None)
        return ref

    async def _settle_earlier_updates(self, message: _Post, found: dict[str, Any] | None) -> None:
        """After a resumed post (a crash or an outage came between claim and record): an
        update queued before this content was asked for is older than it, and must not
        overwrite it; a message found in Slack came from an earlier attempt, whose content
        may be older than this one."""
        queued = await self._outbox.queued_update(message.run_id, message.key)
        if queued is not None and float(queued.get("asked_at") or 0.0) > message.asked_at:
            return  # a newer update is queued: it goes out next
        stale_found = found is not None and found.get("text") != message.text
        if stale_found:
            entry = update_entry(message.key, message.text, message.blocks, message.asked_at)
            await self._outbox.queue_update(message.run_id, message.key, entry)
        elif queued is not None:
            await self._outbox.settle_update(message.run_id, OUTBOX_UPDATE + message.key, queued)

    async def _record(self, message: _Post, ref: PostRef) -> None:
        value = {
            "channel": ref.channel,
            "ts": ref.ts,
            "thread_ts": message.thread_ts,
            "claimed_at": message.claimed_at,
        }
        await self._db(self._store.set_annotation, message.run_id, POST_PREFIX + message.key, value)
        self._outbox.posts_go_through()
        self._outbox.wake_updates()  # updates of this message may go now

    async def _forget(self, message: _Post) -> None:
        """Nothing was posted and nothing will be: free the key for a corrected attempt."""
        await self._db(self._store.delete_annotation, message.run_id, POST_PREFIX + message.key)

    async def _thread_ts(self, message: _Post) -> str | None:
        if message.thread_ts or not message.thread_key:
            return message.thread_ts
        parent = await self._db(
            self._store.get_annotation, message.run_id, POST_PREFIX + message.thread_key
        )
        if not isinstance(parent, dict):
            logger.warning(
                "slack: thread parent %s of %s was never posted; posting at top level",
                message.thread_key,
                message.key,
            )
            return None
        if not parent.get("ts"):
            raise _Blocked(message.thread_key)
        return str(parent["ts"])

    async def _find_posted(self, message: _Post) -> tuple[str, dict[str, Any]] | None:
        """(channel, message) of this very post, if an earlier attempt landed."""
        try:
            thread_ts = await self._thread_ts(message)
        except _Blocked:
            return None  # the parent is not posted: neither is this reply
        return await self._lookup.find(
            run_id=message.run_id,
            key=message.key,
            channel=message.channel,
            thread_ts=thread_ts,
            since=message.claimed_at,
        )

    # ------------------------------------------------------------------ the outbox

    def outbox_size(self) -> int:
        """How many posts and updates wait for Slack (from the store: all processes)."""
        return self._outbox.size()

    async def drain(self) -> None:
        """Deliver everything queued now (tests, shutdown); what still fails stays queued."""
        await self._outbox.drain()

    async def run_outbox(self) -> None:
        """Background task: deliver queued posts (in order per channel) and updates."""
        await self._outbox.run()

    async def deliver_post(self, run_id: str, akey: str, entry: dict[str, Any]) -> Outcome:
        """Send a queued post (the outbox holds its lease), with the newest content asked for
        it meanwhile."""
        message = _Post.from_entry(run_id, entry)
        claim = await self._db(self._store.get_annotation, run_id, POST_PREFIX + message.key)
        if isinstance(claim, dict) and claim.get("ts"):  # delivered (elsewhere) already
            return Outcome.DONE
        if claim is None:  # re-claim so that concurrent post() calls see it
            await self._db(
                self._store.claim_annotation,
                run_id,
                POST_PREFIX + message.key,
                {
                    "channel": message.channel,
                    "thread_ts": message.thread_ts,
                    "thread_key": message.thread_key,
                    "ts": None,
                    "owner": self._owner,
                },
            )
        newer = await self._outbox.queued_update(run_id, message.key)
        if newer is not None:  # asked for after the post was queued: post that instead
            message.text, message.blocks = newer.get("text") or "", newer.get("blocks") or []
            message.asked_at = float(newer.get("asked_at") or 0.0)
        uncertain = bool(entry.get("uncertain"))
        try:
            ref = await self._deliver(message, uncertain=uncertain)
        except _Blocked:
            return Outcome.WAITING
        except SlackPermanentError:
            await self._forget(message)
            logger.error("slack: dropped queued post %s (run %s)", message.key, run_id)
            return Outcome.DONE
        except SlackTransientError as exc:
            if exc.uncertain and not uncertain:  # it may have landed: look before posting
                marked = {**entry, "uncertain": True}
                await self._db(self._store.set_annotation, run_id, akey, marked)
            return Outcome.FAILED
        if newer is not None and not uncertain:  # posted with it: nothing left to update
            await self._outbox.settle_update(run_id, OUTBOX_UPDATE + message.key, newer)
        logger.info("slack: delivered queued %s to %s at %s", message.key, ref.channel, ref.ts)
        return Outcome.DONE

    # ------------------------------------------------------------------ updates

    async def update(self, run_id: str, key: str, *, text: str, blocks: list) -> None:
        """Make the message posted under (run_id, key) show this content, eventually: stored
        in the outbox before this returns, sent at once when Slack's pace allows, else by the
        outbox (`bot.slack_updates`). Never raises, never waits for Slack."""
        await self._updates.update(run_id, key, neutralise(text), neutralise_all(blocks))

    async def deliver_update(self, run_id: str, akey: str, *, patient: bool) -> Outcome:
        """Send a queued update (the outbox's), if its message is posted."""
        return await self._updates.deliver(run_id, akey, patient=patient)

    async def _unrecorded_post(
        self, run_id: str, key: str, claim: dict[str, Any]
    ) -> PostRef | Outcome:
        """Where the post of `key` is, for an update waiting on its claim that has no ts yet.

        WAITING while it is being posted (here, or by a live process within its lease) or
        queued. Otherwise the process that claimed it died between posting and recording,
        and nobody will post it again (an answered request is not posted again): look for it
        in Slack, record it if it landed (DONE, nothing to update, if it did not).
        """
        if (run_id, key) in self._inflight or await self._outbox.queued_post(run_id, key):
            return Outcome.WAITING
        claimed_at = float(claim.get("claimed_at") or 0.0)
        in_lease = self._wall() < claimed_at + self.config.claim_lease
        if in_lease and await self._alive(claim.get("owner")):
            return Outcome.WAITING
        channel, thread_ts = str(claim.get("channel") or ""), claim.get("thread_ts")
        message = _Post(key, run_id, channel, "", [], thread_ts, claim.get("thread_key"))
        message.claimed_at = claimed_at
        try:
            thread_ts = await self._thread_ts(message)
            found = await self._lookup.find(
                run_id=run_id, key=key, channel=channel, thread_ts=thread_ts, since=claimed_at
            )
        except _Blocked:
            return Outcome.WAITING  # its thread parent is not posted yet either
        except SlackTransientError:
            return Outcome.FAILED
        if found is None:
            logger.warning("slack: %s of run %s never reached Slack", key, run_id[:8])
            return Outcome.DONE
        ref = PostRef(found[0], str(found[1]["ts"]))
        await self._record(message, ref)
        logger.info("slack: found unrecorded %s of run %s at %s", key, run_id[:8], ref.ts)
        return ref

    # ------------------------------------------------------------------ other calls

    async def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list | None = None,
        *,
        thread_ts: str | None = None,
    ) -> None:
        """chat.postEphemeral, retried; lost (and logged) if Slack stays down: it is momentary."""
        text, blocks = neutralise(text), neutralise_all(blocks)
        try:
            await self._call(
                "chat.postEphemeral",
                lambda: self._client.chat_postEphemeral(
                    channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
                ),
                context=f"channel={channel} user={user}",
            )
        except SlackTransientError as exc:
            logger.warning("slack: ephemeral to %s in %s not sent (%s)", user, channel, exc)

    async def direct_message(self, user: str, text: str, blocks: list | None = None) -> None:
        """A message in the app's DM with `user`, for replies with no channel to be ephemeral
        in (a Home tab click, a modal); retried, lost (and logged) if Slack stays down."""
        text, blocks = neutralise(text), neutralise_all(blocks)
        try:
            channel = await self._lookup.channel_id(user) or user
            await self._call(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(channel=channel, text=text, blocks=blocks),
                context=f"user={user}",
            )
        except SlackTransientError as exc:
            logger.warning("slack: message to %s not sent (%s)", user, exc)

    async def open_view(self, trigger_id: str, view: dict) -> str | None:
        """views.open within the trigger's 3 s; the view id, or None when too late or down."""
        view = neutralise_all(view)
        return await self._view_call(
            "views.open", lambda: self._fast.views_open(trigger_id=trigger_id, view=view)
        )

    async def push_view(self, trigger_id: str, view: dict) -> str | None:
        """views.push, same rules as `open_view`."""
        view = neutralise_all(view)
        return await self._view_call(
            "views.push", lambda: self._fast.views_push(trigger_id=trigger_id, view=view)
        )

    async def _view_call(
        self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> str | None:
        try:
            response = await asyncio.wait_for(self._call(method, call), self.config.view_deadline)
        except (SlackTransientError, TimeoutError) as exc:
            logger.warning("slack: %s gave up (%s)", method, exc or "deadline")
            return None
        except SlackPermanentError as exc:
            if exc.error in TRIGGER_ERRORS:
                return None
            raise
        return str(response["view"]["id"])

    async def update_view(self, view_id: str, view: dict, *, hash: str | None = None) -> None:
        """views.update, retried; a view that cannot be updated now is left as it is."""
        view = neutralise_all(view)
        try:
            await self._call(
                "views.update",
                lambda: self._client.views_update(view_id=view_id, view=view, hash=hash),
                context=f"view={view_id}",
            )
        except SlackTransientError as exc:
            logger.warning("slack: views.update of %s not sent (%s)", view_id, exc)

    async def publish_home(self, user: str, view: dict) -> None:
        """views.publish, retried; the next app_home_opened publishes again if this is lost."""
        view = neutralise_all(view)
        try:
            await self._call(
                "views.publish",
                lambda: self._client.views_publish(user_id=user, view=view),
                context=f"user={user}",
            )
        except SlackTransientError as exc:
            logger.warning("slack: home of %s not published (%s)", user, exc)
