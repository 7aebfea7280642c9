"""Following the run journal: every view of a run (Plexus, and whatever comes next) reads what
happened to runs from one durable stream, with a cursor and retries of its own.

The stores append to the journal in the same transaction as the change (`runtime.store_rules`),
so a follower misses nothing, whichever process made the change and however long the follower
was unable to keep up: it reads the entries after its cursor, hands them to its view in order,
and moves its cursor (kept in the store) past each one the view took. A view that cannot take
an entry now (its service is down) raises `NotNow`: the follower stops there and tries again
later, from the same entry, so order is kept and nothing is skipped. Views must therefore be
idempotent: an entry may be handed again after a crash between the view's write and the
cursor's.

One process follows for everyone (a lease in the store, taken over when its holder dies), so
replicas do not write the same view twice. Entries every follower has read are forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.liveness import Liveness
from runtime.models import JournalEntry
from runtime.protocols import RunStore

log = logging.getLogger("hitlbot.journal")

JOURNAL = "~journal"
"""The pseudo run under which the views' cursors are kept (no run id starts with "~")."""
BATCH = 200
EVERYTHING = 2**62


class NotNow(Exception):
    """The view cannot take this entry now (its service is down or throttling): try later."""


class View(Protocol):
    """Something that shows runs, kept up to date from the journal."""

    name: str

    async def show(self, entry: JournalEntry) -> None:
        """Make the view reflect `entry`; idempotent; `NotNow` to be handed it again later."""


class JournalFollower:
    """Hands the journal's entries to each view, in order, from the view's own cursor."""

    def __init__(
        self,
        store: RunStore,
        liveness: Liveness,
        views: list[View],
    ) -> None:
        self.store = store
        self.liveness = liveness
        self.views = views
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was journaled: follow now rather than at the next tick."""
        self._wake.set()

    async def follow(self) -> None:
        """One pass: every view as far as it can go; then forget what all have read."""
        self._wake.clear()
        for view in self.views:
            if await self._db(functools.partial(self.liveness.hold, f"journal:{view.name}")):
                await self._catch_up(view)
        await self._forget_read()

    async def run(self, every: float) -> None:
        """Background task: follow on every wake-up, and at least every `every` seconds."""
        while True:
            try:
                await self.follow()
            except Exception:  # a bug in a view must not stop the others for good
                log.exception("following the run journal failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    async def _catch_up(self, view: View) -> None:
        key = _cursor(view)
        cursor = int(await self._db(self.store.get_annotation, JOURNAL, key) or 0)
        while True:
            entries = await self._db(
                functools.partial(self.store.read_journal, cursor, limit=BATCH)
            )
            shown = cursor
            try:
                for entry in entries:
                    try:
                        await view.show(entry)
                    except NotNow:
                        raise
                    except Exception:  # a bug must not block the journal: logged, passed over
                        log.exception(
                            "%s could not show %s of run %s",
                            view.name,
                            entry.kind,
                            entry.run_id[:8],
                        )
                    shown = entry.id
            except NotNow as exc:
                log.info("%s is behind the run journal (%s); it will catch up", view.name, exc)
                entries = []  # stop after saving how far it got
            finally:  # saved per batch: an entry shown again after a crash is fine (idempotent)
                if shown != cursor:
                    await self._db(self.store.set_annotation, JOURNAL, key, shown)
            cursor = shown
            if len(entries) < BATCH:
                return

    async def _forget_read(self) -> None:
        """Drop the entries every view has read (all of them when there is no view)."""
        cursors = [
            int(await self._db(self.store.get_annotation, JOURNAL, _cursor(view)) or 0)
            for view in self.views
        ]
        through = min(cursors) if cursors else EVERYTHING
        if through:
            await self._db(self.store.forget_journal, through)

    @staticmethod
    async def _db(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)


def _cursor(view: View) -> str:
    return f"cursor:{view.name}"
