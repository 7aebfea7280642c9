"""Which bot processes are alive, from heartbeats in the store.

Work in flight is claimed in the store under the id of the process doing it (a post being
sent, a run being resumed). When that process dies, someone must finish the work, but only
once it is certain the owner will not: otherwise a message is posted twice or a run resumed
twice. Every process therefore writes a heartbeat every `interval` seconds; an owner whose
heartbeat is older than `stale_after` (or absent) is dead and its claims are taken over.
A process that stops cleanly deletes its heartbeat, so a planned restart takes over at once;
after a crash it takes at most `stale_after` seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from runtime.protocols import RunStore

PROCESSES = "~processes"
"""The pseudo run under which heartbeats are kept (no run id starts with "~")."""
HEARTBEAT_PREFIX = "heartbeat:"
LEASE_PREFIX = "lease:"


class Liveness:
    """This process's heartbeat, and the question whether another process is alive.

    `wall_clock` is epoch seconds (injectable, so tests move time instead of waiting).
    """

    def __init__(
        self,
        store: RunStore,
        *,
        wall_clock: Callable[[], float] = time.time,
        interval: float = 5.0,
        stale_after: float = 15.0,
    ) -> None:
        self.owner = uuid.uuid4().hex
        self._store = store
        self._wall = wall_clock
        self.interval = interval
        self.stale_after = stale_after

    def beat(self) -> None:
        """Say this process is alive (now)."""
        self._store.set_annotation(PROCESSES, HEARTBEAT_PREFIX + self.owner, {"at": self._wall()})

    def retire(self) -> None:
        """Say this process has stopped: its leftover claims may be taken over at once."""
        self._store.delete_annotation(PROCESSES, HEARTBEAT_PREFIX + self.owner)

    def alive(self, owner: Any) -> bool:
        """Whether `owner` (a process id from a claim, as stored) may still be working on it."""
        if owner == self.owner:
            return True
        if not owner or not isinstance(owner, str):
            return False
        heartbeat = self._store.get_annotation(PROCESSES, HEARTBEAT_PREFIX + owner)
        at = heartbeat.get("at") if isinstance(heartbeat, dict) else None
        return isinstance(at, int | float) and self._wall() - at < self.stale_after

    def hold(self, name: str, *, seconds: float = 30.0) -> bool:
        """Whether this process does the job `name` now, one process at a time: True when it
        held or took the lease (free, expired, or held by a process found dead). Called
        again before the lease runs out, it keeps it."""
        key, now = LEASE_PREFIX + name, self._wall()
        mine = {"owner": self.owner, "at": now}
        if self._store.claim_annotation(PROCESSES, key, mine):
            return True
        held = self._store.get_annotation(PROCESSES, key)
        held = held if isinstance(held, dict) else {}
        owner = held.get("owner")
        fresh = now - float(held.get("at") or 0) < seconds
        if owner == self.owner or not fresh or not self.alive(owner):
            self._store.set_annotation(PROCESSES, key, mine)
            return True
        return False
