"""Counters behind GET /_dev/api/stats: what clients asked for and how it went.

Tests judge a client by these numbers (how many calls did one resume cost? did it retry a
throttled write?), so every request is counted once, where its answer is decided.
"""

from __future__ import annotations

from collections import deque
from typing import Any

#: Request rows kept (oldest dropped first) so long benchmarks do not grow without bound.
KEEP_REQUESTS = 5_000


class Stats:
    """Per-operation and per-field counts and the last requests of one devplexus."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.operations: dict[str, dict[str, int]] = {}
        self.fields: dict[str, dict[str, int]] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=KEEP_REQUESTS)
        self._next_id = 1

    def record(
        self,
        operation: str | None,
        fields: list[str],
        *,
        status: int,
        error_types: list[str | None],
        error_fields: set[str],
        fault: str | None = None,
    ) -> None:
        name = operation or "(anonymous)"
        counts = self.operations.setdefault(name, {"calls": 0, "errors": 0, "faults": 0})
        counts["calls"] += 1
        failed = status != 200 or bool(error_types)
        counts["errors"] += failed
        counts["faults"] += fault is not None
        for field in fields:
            per_field = self.fields.setdefault(field, {"calls": 0, "errors": 0})
            per_field["calls"] += 1
            per_field["errors"] += field in error_fields or status != 200
        self.requests.append(
            {
                "id": self._next_id,
                "operation": name,
                "fields": fields,
                "status": status,
                "error_types": error_types,
                "fault": fault,
            }
        )
        self._next_id += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "operations": {k: dict(v) for k, v in self.operations.items()},
            "fields": {k: dict(v) for k, v in self.fields.items()},
            "requests": [dict(r) for r in self.requests],
        }
