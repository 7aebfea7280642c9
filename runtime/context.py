"""The replay contract, stated and enforced in one place.

A run is executed from the top every time it starts or resumes. Every call whose outcome is not
a pure function of the code (a `Human.*` request, `checkpoint(fn)`, `os.time()` ...) takes the
next *position* of the execution log:

- a position already recorded returns its recorded result, with no side effect;
- a recorded position whose kind or request fingerprint differs from the current call is a
  divergence: the run fails with `ReplayDivergenceError` naming both calls;
- a new position executes and is recorded.

Positions before the *frontier* (the end of the log as it was when this execution began) were
reached by an earlier execution, so non-blocking side effects met before the frontier (logs,
notifications, alerts) were already emitted and are not emitted again. State is never preloaded:
it is rebuilt by the replay itself, so no mutation is applied twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runtime.errors import ProcedureWaitingForHuman, ReplayDivergenceError
from runtime.models import (
    CheckpointEntry,
    HITLRequest,
    HITLResponse,
    PendingRequest,
    RunEvent,
    RunRecord,
    RunUsage,
    SourceLocation,
)
from runtime.protocols import HITLHandler
from runtime.quotas import QuotaMeter, RunQuotas


def fingerprint(kind: str, payload: Any) -> str:
    """A short stable hash of what a call asked for, to detect a changed call on replay."""
    text = json.dumps([kind, payload], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def describe_call(kind: str, summary: str | None, line: int = 0) -> str:
    described = f"{kind} {summary!r}" if summary else kind
    return f"{described} at line {line}" if line > 0 else described


class ExecutionContext:
    """One execution of a run: the log cursor, the rebuilt state, and what this execution adds."""

    def __init__(
        self,
        run: RunRecord,
        log: list[CheckpointEntry],
        hitl_handler: HITLHandler,
        *,
        clock: Callable[[], datetime],
        quotas: RunQuotas | None = None,
        usage: RunUsage | None = None,
        source_file: str = "procedure",
    ) -> None:
        """`usage` is what the run stored before this execution (its next event number too);
        what this execution adds is metered against `quotas` as it happens."""
        self.run = run
        self.hitl_handler = hitl_handler
        self.clock = clock
        self.source_file = source_file
        self.caller_line: Callable[[], int] = lambda: 0
        """The procedure line making the current call; the engine points it at the sandbox."""
        self._log: dict[int, CheckpointEntry] = {entry.position: entry for entry in log}
        self.frontier = max(self._log, default=-1) + 1
        self.cursor = 0
        self.state: dict[str, Any] = {}
        self.changed_entries: dict[int, CheckpointEntry] = {}
        self.new_requests: list[PendingRequest] = []
        self.events: list[RunEvent] = []
        self.meter = QuotaMeter(quotas or RunQuotas(), usage or RunUsage())
        self._next_seq = self.meter.usage.next_event_seq

    # -- Tactus-compatible surface ----------------------------------------------------------

    @property
    def procedure_id(self) -> str:
        return self.run.procedure_id

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def current_run_id(self) -> str:
        return self.run.run_id

    def next_position(self) -> int:
        return self.cursor

    def request_id_at(self, position: int) -> str:
        return f"{self.run.procedure_id}:{self.run.run_id[:8]}:pos{position}"

    @property
    def is_replaying(self) -> bool:
        """True while this execution is retracing ground an earlier execution covered."""
        return self.cursor < self.frontier

    # -- positions ---------------------------------------------------------------------------

    def recorded(self, kind: str, input_hash: str | None, summary: str | None) -> Any:
        """Return the entry recorded at the cursor for this call, checking it is the same call.

        Returns None when the position is new (or pending: recorded with no result yet).
        """
        entry = self._log.get(self.cursor)
        if entry is None:
            return None
        changed = bool(input_hash and entry.input_hash and entry.input_hash != input_hash)
        if entry.type != kind or changed:
            where = entry.source_location
            raise ReplayDivergenceError(
                self.cursor,
                describe_call(entry.type, *((where.code_context, where.line) if where else ())),
                describe_call(kind, summary, self.caller_line()),
            )
        return entry

    def record(
        self,
        kind: str,
        result: Any,
        *,
        input_hash: str | None = None,
        summary: str | None = None,
        position: int | None = None,
        next_position: int | None = None,
    ) -> CheckpointEntry:
        """Record the result of the call at `position` (the cursor by default) and move past it."""
        pos = self.cursor if position is None else position
        self.meter.add_log_entry(result, new_position=pos not in self._log)
        entry = CheckpointEntry(
            position=pos,
            type=kind,
            result=result,
            timestamp=self.clock(),
            input_hash=input_hash,
            run_id=self.run.run_id,
            # code_context names the call for divergence errors.
            source_location=SourceLocation(
                file=self.source_file, line=self.caller_line(), code_context=summary
            ),
            captured_vars={"next_position": next_position} if next_position is not None else None,
        )
        self._log[pos] = entry
        self.changed_entries[pos] = entry
        self.cursor = max(self.cursor, pos + 1) if next_position is None else next_position
        return entry

    def skip_recorded(self, entry: CheckpointEntry) -> Any:
        """Move past a recorded position (and any positions its body used) and return its result."""
        next_position = (entry.captured_vars or {}).get("next_position")
        self.cursor = next_position if next_position is not None else entry.position + 1
        return entry.result

    # -- human requests ------------------------------------------------------------------------

    def wait_for_human(self, kind: str, request: HITLRequest) -> HITLResponse:
        """Answer a blocking request from the log, the handler, or suspend the run."""
        payload = request.model_dump(mode="json")
        input_hash = fingerprint(kind, payload)
        summary = request.message[:80]
        entry = self.recorded(kind, input_hash, summary)
        if entry is not None and entry.result is not None:
            return HITLResponse.model_validate(self.skip_recorded(entry))
        try:
            response = self.hitl_handler.request_interaction(
                self.run.procedure_id, request, execution_context=self
            )
        except ProcedureWaitingForHuman:
            if entry is None:
                self.record(kind, None, input_hash=input_hash, summary=summary)
            self.run.waiting_on_message_id = self.request_id_at(self.cursor - 1)
            raise
        self.record(kind, response.model_dump(mode="json"), input_hash=input_hash, summary=summary)
        return response

    def add_request(self, position: int, request: HITLRequest) -> PendingRequest:
        self.meter.add_log_entry(request.model_dump(mode="json"), new_position=False)
        pending = PendingRequest(
            request_id=self.request_id_at(position),
            run_id=self.run.run_id,
            procedure_id=self.run.procedure_id,
            position=position,
            request=request,
            created_at=self.clock(),
        )
        self.new_requests.append(pending)
        return pending

    # -- non-blocking side effects ------------------------------------------------------------

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        """Emit a notification, log line or alert, unless an earlier execution already did."""
        if self.is_replaying:
            return
        self.meter.add_event(payload)
        self.events.append(
            RunEvent(
                run_id=self.run.run_id,
                seq=self._next_seq,
                kind=kind,
                payload=payload,
                created_at=self.clock(),
            )
        )
        self._next_seq += 1
