"""Acting once on a request that arrives more than once.

Slack signs a request, not its delivery: the same signed bytes sent again within the five
minutes the signature is valid pass verification (a replay), Slack retries an event whose ack
it missed, and a proxy in front of several replicas may deliver one request to two of them.
Each request is therefore known by a key that every copy of it shares:

- an event: its `event_id` (Slack's retries keep it);
- a slash command, a click or a submission: its `trigger_id` (one per interaction, never
  reused by Slack, and covered by the signature, so a replay cannot change it);
- anything else sent over HTTP: its signature (which covers the timestamp and the body).

The key is claimed in the store (`claim_delivery`) before the request is acked, so a repeat
is acked as usual and then does nothing. The store is shared by every replica and outlives a
restart. A claim is kept long enough to outlast every copy that can still arrive: a signature
stays valid for five minutes on either side of its timestamp, and Slack's event retries end
about six minutes after the first attempt.

Slack never sends a click, a command or a submission again once it is acked, so the claim of
one carries what it asked for (its payload) until the work is done: a process that dies between
the ack and the end of the work leaves it unfinished, and another process (or its own
restart) takes it over and does it (`unfinished`), once the dead one is known dead. An
acknowledged click is never lost.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from bot.liveness import Liveness
from bot.payloads import EventCallback, Payload
from runtime.models import utc_now
from runtime.protocols import RunStore

DELIVERY_KEY = "hitlbot_delivery"  # where the key travels in a Bolt request's context
KEEP = timedelta(minutes=15)  # twice the signing window, plus a margin for clock skew
FORGET_EVERY_SECONDS = 60.0
MAX_KEY = 255


def delivery_key(payload: Payload, headers: Mapping[str, Sequence[str]]) -> str | None:
    """What every copy of this request shares (None: nothing does, e.g. Socket Mode without
    a trigger id). `headers` are Bolt's: lower-case names, lists of values."""
    if isinstance(payload, EventCallback):
        return _key("event", payload.event_id)
    trigger_id = getattr(payload, "trigger_id", None)
    if trigger_id:
        return _key("trigger", trigger_id)
    signature = next(iter(headers.get("x-slack-signature") or ()), None)
    return _key("signature", signature) if signature else None


def _key(kind: str, value: str) -> str:
    key = f"{kind}:{value}"
    if len(key) <= MAX_KEY:
        return key
    return f"{kind}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


class Deliveries:
    """The store's memory of the requests already taken on, and of the work still owed."""

    def __init__(
        self,
        store: RunStore,
        liveness: Liveness,
        *,
        clock: Callable[[], datetime] = utc_now,
        keep: timedelta = KEEP,
    ) -> None:
        self.store = store
        self.liveness = liveness
        self.clock = clock
        self.keep = keep
        self._in_hand: set[str] = set()  # taken on by this process, work not finished yet
        # Taking a request on happens before its ack: on threads of its own, it never waits
        # behind the store work queued on the shared ones when the bot is busy.
        self._intake = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake")

    async def first(self, key: str) -> bool:
        """True for the first copy of a request to claim `key`, False for any repeat."""
        return await asyncio.to_thread(self.store.claim_delivery, key, self.clock())

    async def take_on(self, key: str, body: dict[str, Any]) -> bool:
        """Like `first`, and promise the work `body` asks for: it is done again by whoever
        outlives this process, should it die before `done(key)`."""
        self._in_hand.add(key)
        claim = functools.partial(
            self.store.claim_delivery, key, self.clock(), owner=self.liveness.owner, body=body
        )
        try:
            claimed = await asyncio.get_running_loop().run_in_executor(self._intake, claim)
        except BaseException:
            self._in_hand.discard(key)
            raise
        if not claimed:
            self._in_hand.discard(key)
        return claimed

    async def done(self, key: str) -> None:
        try:
            await asyncio.to_thread(self.store.finish_delivery, key)
        finally:
            self._in_hand.discard(key)

    async def unfinished(self) -> list[tuple[str, dict[str, Any]]]:
        """The work that processes now dead took on and did not finish, taken over by this
        one (`(key, body)`, oldest first): each is handed to one process only."""
        owed = []
        for key, owner, body in await asyncio.to_thread(self.store.unfinished_deliveries):
            if key in self._in_hand or not isinstance(body, dict):
                continue
            mine = owner == self.liveness.owner
            if not mine and await asyncio.to_thread(self.liveness.alive, owner):
                continue
            me = self.liveness.owner
            if mine or await asyncio.to_thread(self.store.take_delivery, key, owner, me):
                self._in_hand.add(key)
                owed.append((key, body))
        return owed

    def close(self) -> None:
        self._intake.shutdown(wait=False)

    async def forget_old(self) -> None:
        """Drop the claims no copy can still arrive for (run periodically)."""
        await asyncio.to_thread(self.store.forget_deliveries, self.clock() - self.keep)
