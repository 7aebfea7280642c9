"""The durable queue of what Slack must still be told: posts and message updates.

A message that never reaches Slack blocks a run (a request nobody sees) or misleads people
(an answered request that still shows its buttons), so whatever cannot go out at once is kept
in the store, survives a restart, and goes out when Slack takes it. Entries are annotations of
the run they belong to:

- `outbox:post:<key>`: a post that cannot go out yet (Slack is down, earlier posts to its
  channel are still queued, its thread parent is not posted, or a live process still holds
  its claim). Written once; afterwards only the process holding its lease changes it.
- `outbox:update:<key>`: the newest content the message posted under `<key>` must show.
  A newer update replaces it, so Slack is asked once, for the newest content. It never
  overtakes its post: it waits until the post has a ts. After sending, it is deleted only if
  it is still the content that was sent (compare-and-delete), so an update written meanwhile
  is never lost.
- `slack:lease:<entry key>`: the process delivering the entry right now (every replica runs
  an outbox); a dead process's lease, or one held too long, is taken over.

Posts go out per channel in queue order (one lane per channel, which stops at the first entry
that cannot go yet). Updates form one lane for the workspace, paced at chat.update's Tier 3
limit; a 429 holds the whole lane for its Retry-After, since the limit is the workspace's.

Which entries are queued is indexed in memory: read from the store once, then kept current by
this process and re-read from the store only when idle (to find entries other processes
left). Delivering an entry reads it by key: a click that queues an update never costs a scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.slack_calls import Clock, SlackIOConfig, Sleep
from runtime.protocols import RunStore

logger = logging.getLogger("hitlbot.slack")

OUTBOX_PREFIX = "outbox:"
OUTBOX_POST = "outbox:post:"
OUTBOX_UPDATE = "outbox:update:"
LEASE_PREFIX = "slack:lease:"

Item = tuple[str, str]
"""An entry's place in the store: (run id, annotation key)."""


def update_entry(key: str, text: str, blocks: list, asked_at: float) -> dict[str, Any]:
    """An `outbox:update:<key>` entry; `asked_at` (epoch seconds) tells it from content asked
    for earlier or later (a post resumed after a crash)."""
    return {"kind": "update", "key": key, "text": text, "blocks": blocks, "asked_at": asked_at}


class Outcome(enum.Enum):
    """What became of one attempt at an entry."""

    DONE = "done"  # delivered, or there is nothing left to deliver
    WAITING = "waiting"  # not yet: held back, its post or parent not out, another process on it
    FAILED = "failed"  # Slack is in trouble: back off


class Deliverer(Protocol):
    """Sends queued entries to Slack (`SlackIO`)."""

    async def deliver_post(self, run_id: str, akey: str, entry: dict[str, Any]) -> Outcome: ...

    async def deliver_update(self, run_id: str, akey: str, *, patient: bool) -> Outcome: ...


@dataclass
class Round:
    """One pass over a kind of entry."""

    delivered: int = 0
    waiting: int = 0
    failed: bool = False

    def add(self, other: Round) -> None:
        self.delivered += other.delivered
        self.waiting += other.waiting
        self.failed = self.failed or other.failed


@dataclass
class _Index:
    """What is queued, in queue order: posts by channel, and updates."""

    posts: dict[str, dict[Item, None]] = field(default_factory=dict)
    updates: dict[Item, None] = field(default_factory=dict)

    def add(self, run_id: str, akey: str, entry: Any) -> None:
        if akey.startswith(OUTBOX_UPDATE):
            self.updates[(run_id, akey)] = None
        elif isinstance(entry, dict) and entry.get("channel"):
            self.posts.setdefault(str(entry["channel"]), {})[(run_id, akey)] = None

    def discard_post(self, channel: str, item: Item) -> None:
        lane = self.posts.get(channel)
        if lane is not None:
            lane.pop(item, None)
            if not lane:
                del self.posts[channel]


class Outbox:
    """The queue, its index, its leases, and the background delivery of its two kinds of
    entry. `alive(owner)` says whether the process that holds a lease or claim still lives."""

    def __init__(
        self,
        store: RunStore,
        deliverer: Deliverer,
        *,
        config: SlackIOConfig,
        sleep: Sleep,
        wall_clock: Clock,
        owner: str,
        alive: Callable[[Any], Awaitable[bool]],
    ) -> None:
        self._store = store
        self._deliverer = deliverer
        self.config = config
        self._sleep = sleep
        self._wall = wall_clock
        self._owner = owner
        self._alive = alive
        self._index: _Index | None = None
        self._read_at = 0.0  # when the store was last read for the index (monotonic)
        self._posts_wake = asyncio.Event()
        self._updates_wake = asyncio.Event()
        # Set when a post (an update) went through outside the outbox: Slack is back, so a
        # back-off after an outage need not run its course.
        self._posts_back = asyncio.Event()
        self._updates_back = asyncio.Event()

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Store calls do (SQLite) I/O: keep them off the event loop."""
        return await asyncio.to_thread(fn, *args)

    # -- the index ----------------------------------------------------------------------------

    async def _load(self, *, refresh: bool = False) -> _Index:
        """The index, read from the store the first time. `refresh` (the delivery rounds, never
        a caller that queues) reads it again once `outbox_poll` seconds have passed, for the
        entries other processes left; what is read is merged in, so nothing this process
        queued meanwhile is forgotten."""
        due = refresh and time.monotonic() - self._read_at >= self.config.outbox_poll
        if self._index is None or due:
            self._read_at = time.monotonic()
            entries = await self._db(self._store.list_annotations, OUTBOX_PREFIX)
            index = self._index or _Index()
            for run_id, akey, entry in entries:
                index.add(run_id, akey, entry)
            self._index = index
        return self._index

    async def channel_busy(self, channel: str) -> bool:
        """Whether posts to `channel` are queued (a new one must queue behind them)."""
        return channel in (await self._load()).posts

    def size(self) -> int:
        """How many posts and updates wait for Slack (from the store: every process's)."""
        return len(self._store.list_annotations(OUTBOX_PREFIX))

    # -- queueing -------------------------------------------------------------------------------

    async def queue_post(self, run_id: str, key: str, entry: dict[str, Any]) -> None:
        akey = OUTBOX_POST + key
        await self._db(self._store.set_annotation, run_id, akey, entry)
        (await self._load()).add(run_id, akey, entry)
        self._posts_wake.set()

    async def queued_post(self, run_id: str, key: str) -> dict[str, Any] | None:
        entry = await self._db(self._store.get_annotation, run_id, OUTBOX_POST + key)
        return entry if isinstance(entry, dict) else None

    async def queue_update(
        self, run_id: str, key: str, entry: dict[str, Any], *, wake: bool = True
    ) -> str:
        """Store `entry` as the newest content of the message `key` (replacing a queued one);
        the annotation key it is stored under."""
        akey = OUTBOX_UPDATE + key
        await self._db(self._store.set_annotation, run_id, akey, entry)
        (await self._load()).add(run_id, akey, entry)
        if wake:
            self._updates_wake.set()
        return akey

    async def queued_update(self, run_id: str, key: str) -> dict[str, Any] | None:
        entry = await self._db(self._store.get_annotation, run_id, OUTBOX_UPDATE + key)
        return entry if isinstance(entry, dict) else None

    async def settle_update(self, run_id: str, akey: str, sent: dict[str, Any]) -> bool:
        """Delete the update if it is still `sent`; False when a newer one replaced it (it
        stays queued and goes next)."""
        if await self._db(self._store.delete_annotation_if, run_id, akey, sent):
            (await self._load()).updates.pop((run_id, akey), None)
            return True
        self._updates_wake.set()
        return False

    def wake_updates(self) -> None:
        """A post was recorded: updates waiting for it may go now."""
        self._updates_wake.set()

    def posts_go_through(self) -> None:
        self._posts_back.set()

    def updates_go_through(self) -> None:
        self._updates_back.set()

    # -- leases ---------------------------------------------------------------------------------

    async def take_lease(self, run_id: str, akey: str) -> str | None:
        """The lease on an entry (its annotation key), or None while a live process holds it."""
        lease = LEASE_PREFIX + akey
        mine = {"owner": self._owner, "at": self._wall()}
        for _ in range(2):
            if await self._db(self._store.claim_annotation, run_id, lease, mine):
                return lease
            held = await self._db(self._store.get_annotation, run_id, lease)
            if not isinstance(held, dict):
                continue  # released meanwhile: try again
            in_lease = self._wall() - float(held.get("at") or 0) < self.config.claim_lease
            if in_lease and await self._alive(held.get("owner")):
                return None
            # Its holder died (or held it far too long): take it over, unless someone else
            # just did (compare-and-delete).
            await self._db(self._store.delete_annotation_if, run_id, lease, held)
        return None

    async def release(self, run_id: str, lease: str) -> None:
        await self._db(self._store.delete_annotation, run_id, lease)

    # -- delivering -------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Deliver everything that can go now (tests, shutdown); what cannot stays queued."""
        while True:
            posts = await self._post_round()
            updates = await self._update_round()
            progress = posts.delivered + updates.delivered
            if not (posts.waiting or updates.waiting) or not progress:
                return

    async def run(self) -> None:
        """Background task: deliver queued posts and updates, backing off while Slack is down."""
        await asyncio.gather(
            self._deliver_forever(self._post_round, self._posts_wake, self._posts_back, "posts"),
            self._deliver_forever(
                self._update_round, self._updates_wake, self._updates_back, "updates"
            ),
        )

    async def _deliver_forever(
        self,
        one_round: Callable[[], Awaitable[Round]],
        wake: asyncio.Event,
        back: asyncio.Event,
        what: str,
    ) -> None:
        delay, recheck = self.config.outbox_backoff, self.config.outbox_recheck
        while True:
            try:
                result = await one_round()
            except Exception:  # never let the delivery task die: log and back off
                logger.exception("slack: delivering queued %s failed", what)
                result = Round(waiting=1, failed=True)
            if result.failed:
                await self._back_off(delay, back)
                longer = min(delay * 2, self.config.outbox_backoff_max)
                delay = delay if result.delivered else longer
                continue
            delay = self.config.outbox_backoff
            # Held back, not failing: look again soon, less often while nothing moves (what
            # unblocks an entry here, a post recorded, wakes the loop). Idle: look again when
            # woken, or after a while for entries other processes left. Real time: there is
            # nothing to wait out.
            stuck = result.waiting and not result.delivered
            if not stuck:
                recheck = self.config.outbox_recheck
            pause = recheck if result.waiting else self.config.outbox_poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), pause)
            if stuck:
                recheck = min(recheck * 2, self.config.outbox_poll)

    async def _back_off(self, seconds: float, back: asyncio.Event) -> None:
        """Wait `seconds` after a failed round, or until a call of the same kind went through
        elsewhere (Slack is back: what waits should not wait out a long back-off)."""
        back.clear()
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        returned = asyncio.ensure_future(back.wait())
        try:
            await asyncio.wait({sleeping, returned}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            returned.cancel()

    async def _post_round(self) -> Round:
        """One pass over the queued posts, channels in parallel."""
        self._posts_wake.clear()  # before looking: an entry queued from now on wakes the next
        index = await self._load(refresh=True)
        lanes = [(channel, list(items)) for channel, items in index.posts.items()]
        result = Round()
        for lane in await asyncio.gather(*(self._post_lane(c, items) for c, items in lanes)):
            result.add(lane)
        return result

    async def _post_lane(self, channel: str, items: list[Item]) -> Round:
        """A channel's posts in order; stop at the first that cannot go yet."""
        index = await self._load()
        for position, (run_id, akey) in enumerate(items):
            entry = await self._db(self._store.get_annotation, run_id, akey)
            if not isinstance(entry, dict):  # delivered by another process
                index.discard_post(channel, (run_id, akey))
                continue
            if await self._held_back(entry):
                return Round(position, len(items) - position)
            outcome = await self._deliver_post_leased(run_id, akey, entry)
            if outcome is not Outcome.DONE:
                failed = outcome is Outcome.FAILED
                return Round(position, len(items) - position, failed)
            await self._db(self._store.delete_annotation, run_id, akey)
            index.discard_post(channel, (run_id, akey))
        return Round(len(items))

    async def _held_back(self, entry: dict[str, Any]) -> bool:
        """Not yet: its time has not come and the process it waits for is still alive."""
        if entry.get("not_before", 0) <= self._wall():
            return False
        waits_for = entry.get("waits_for")
        return waits_for is None or await self._alive(waits_for)

    async def _deliver_post_leased(self, run_id: str, akey: str, entry: dict[str, Any]) -> Outcome:
        lease = await self.take_lease(run_id, akey)
        if lease is None:
            return Outcome.WAITING
        try:
            return await self._deliverer.deliver_post(run_id, akey, entry)
        finally:
            await self.release(run_id, lease)

    async def _update_round(self) -> Round:
        """One pass over the queued updates, oldest first. Updates of different messages are
        independent: one waiting for its post does not hold up the others."""
        self._updates_wake.clear()
        index = await self._load(refresh=True)
        items = list(index.updates)
        result = Round()
        for position, (run_id, akey) in enumerate(items):
            outcome = await self._deliverer.deliver_update(run_id, akey, patient=True)
            if outcome is Outcome.DONE:
                result.delivered += 1
            elif outcome is Outcome.WAITING:
                result.waiting += 1
            else:
                result.waiting += len(items) - position
                result.failed = True
                break
        return result

    def forget_update(self, run_id: str, akey: str) -> None:
        """The entry is gone from the store (delivered or dropped elsewhere)."""
        if self._index is not None:
            self._index.updates.pop((run_id, akey), None)
