"""Counters behind GET /_dev/api/stats: every delivery's verdict and every method's calls.

Tests and benchmarks judge an app by these numbers (was every click acked in time? how
often was it rate limited?), so they are recorded where the outcome is decided.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from typing import Any

#: Delivery rows kept (oldest dropped first) so long benchmarks do not grow without bound.
KEEP_DELIVERIES = 20_000

Publish = Callable[[dict[str, Any], Collection[str] | None], None]


class Stats:
    """Delivery rows and per-method call counts of one devslack instance."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self.reset()

    def reset(self) -> None:
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=KEEP_DELIVERIES)
        self.methods: dict[str, dict[str, int]] = {}
        self._next_id = 1

    def method_call(
        self, method: str, *, ratelimited: bool = False, error: str | None = None
    ) -> None:
        counts = self.methods.get(method)
        if counts is None:
            counts = self.methods[method] = {"calls": 0, "ratelimited": 0, "errors": 0}
        counts["calls"] += 1
        if ratelimited:
            counts["ratelimited"] += 1
        if error is not None:
            counts["errors"] += 1

    def new_row(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A delivery row, recorded now and completed by `finish` when the verdict is known."""
        row: dict[str, Any] = {
            "id": self._next_id,
            "kind": kind,
            "ack_ms": None,
            "status": None,
            "verdict": "pending",
            "retry_num": 0,
            "retry_reason": "",
            **fields,
        }
        self._next_id += 1
        self.deliveries.append(row)
        return row

    def finish(self, row: dict[str, Any], **fields: Any) -> None:
        row.update(fields)
        self.publish({"type": "delivery", **row}, None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "deliveries": [dict(r) for r in self.deliveries],
            "methods": {m: dict(c) for m, c in self.methods.items()},
        }
