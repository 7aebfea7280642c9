"""Per-run quotas: how much one run may store, whatever its procedure does.

The sandbox bounds what an execution may use while it runs (memory, instructions, time); the
quotas bound what a run leaves behind in the store across all its executions: its state, its
events (log lines, notifications, alerts, stages), its execution log (every recorded position:
`Human.*` requests and answers, checkpoint results, clock readings) and its result. Without
them a loop of `Log.info` writes millions of rows and a loop of `State.append` fills the disk,
for one waiting run.

Every quota is checked *before* the thing is added, so what was stored up to the failure stays
within the quota; exceeding one is fatal to the execution (`QuotaExceeded`, which Lua cannot
catch), and the run fails with a message naming the quota.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runtime.errors import QuotaExceeded, format_bytes
from runtime.models import RunUsage

KIB = 1024
MIB = 1024 * KIB

# What a stored entry costs besides its payload (ids, timestamps, JSON keys): counted so that
# a flood of empty entries cannot slip under a bytes quota.
ENTRY_OVERHEAD = 128


@dataclass(frozen=True)
class RunQuotas:
    """What one run may store. Defaults are generous for procedures that wait on people."""

    state_bytes: int = 1 * MIB
    events: int = 10_000
    event_bytes: int = 4 * MIB
    log_entries: int = 10_000
    log_bytes: int = 8 * MIB
    result_bytes: int = 1 * MIB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"RunQuotas.{name} must be a positive integer")


def json_size(value: Any) -> int:
    """Bytes of `value` as stored (compact UTF-8 JSON)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


class QuotaMeter:
    """Counts what one execution adds to what the run had stored, against the quotas."""

    def __init__(self, quotas: RunQuotas, usage: RunUsage) -> None:
        self.quotas = quotas
        self.usage = usage.model_copy()

    def add_event(self, payload: dict[str, Any]) -> None:
        size = json_size(payload) + ENTRY_OVERHEAD
        quotas, usage = self.quotas, self.usage
        if usage.events + 1 > quotas.events:
            raise QuotaExceeded(
                "events",
                f"the run emitted more than {quotas.events:,} events (log lines, "
                "notifications, alerts and stages together)",
            )
        if usage.event_bytes + size > quotas.event_bytes:
            raise QuotaExceeded(
                "event_bytes",
                f"the run's events (log lines, notifications, alerts) grew past "
                f"{format_bytes(quotas.event_bytes)}",
            )
        usage.events += 1
        usage.event_bytes += size

    def add_log_entry(self, payload: Any, *, new_position: bool) -> None:
        """A recorded position (or a request stored with one); `new_position` is False when it
        replaces the placeholder of a request that was waiting for its answer."""
        size = json_size(payload) + ENTRY_OVERHEAD
        quotas, usage = self.quotas, self.usage
        if new_position and usage.log_entries + 1 > quotas.log_entries:
            raise QuotaExceeded(
                "log_entries",
                f"the run recorded more than {quotas.log_entries:,} positions in its execution "
                "log (requests, checkpoints and clock readings together)",
            )
        if usage.log_bytes + size > quotas.log_bytes:
            raise QuotaExceeded(
                "log_bytes",
                f"the run's execution log (requests, answers, checkpoint results) grew past "
                f"{format_bytes(quotas.log_bytes)}",
            )
        usage.log_entries += int(new_position)
        usage.log_bytes += size

    def check_state(self, size: int) -> None:
        if size > self.quotas.state_bytes:
            raise QuotaExceeded(
                "state_bytes", f"the run's state grew past {format_bytes(self.quotas.state_bytes)}"
            )

    def check_result(self, result: Any) -> None:
        if json_size(result) > self.quotas.result_bytes:
            raise QuotaExceeded(
                "result_bytes",
                f"the run's result is larger than {format_bytes(self.quotas.result_bytes)}",
            )
