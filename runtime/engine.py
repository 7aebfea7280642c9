"""Start, resume, answer and cancel runs: the runtime's public entry point.

Every start or resume is one *execution*: a fresh sandbox runs the procedure from the top while
the execution context replays the log (see `runtime.context`). It ends COMPLETED, FAILED or
WAITING_FOR_HUMAN, and everything it produced is saved with one `commit_execution`. No Lua stack
outlives an execution, so a waiting run costs a few rows, not a thread.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime import declarations
from runtime.answers import normalize_answer, timeout_response
from runtime.context import ExecutionContext
from runtime.errors import (
    HitlbotError,
    ProcedureWaitingForHuman,
    UnknownRunError,
)
from runtime.hitl import StoreHITLHandler
from runtime.loader import load_procedure
from runtime.models import (
    HITLResponse,
    PendingRequest,
    RunEvent,
    RunRecord,
    RunStatus,
    utc_now,
)
from runtime.primitives import Primitives, install_primitives
from runtime.procedure import Procedure, ProcedureFormat
from runtime.protocols import HITLHandler, RunStore
from runtime.sandbox import Sandbox, SandboxLimits
from runtime.schema import check_outputs, coerce_params


class AlreadyAnsweredError(HitlbotError):
    """A second answer to a request. Carries the first one so callers can say who won."""

    def __init__(self, request: PendingRequest) -> None:
        self.request = request
        response = request.response
        if response is None:
            super().__init__(f"request {request.request_id} was cancelled")
            return
        who = "a timeout" if response.timed_out else (response.responder or "someone")
        when = response.responded_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"request {request.request_id} was already answered by {who} at {when}")


class UnknownRequestError(HitlbotError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"no request with id {request_id!r}")


@dataclass
class RunOutcome:
    """What one execution left behind."""

    run: RunRecord
    pending: PendingRequest | None
    events: list[RunEvent]


class Engine:
    """Runs procedures against a `RunStore`. Safe to share; holds no per-run state."""

    def __init__(
        self,
        store: RunStore,
        *,
        limits: SandboxLimits | None = None,
        clock: Callable[[], datetime] = utc_now,
        loader: Callable[[str], Procedure] = load_procedure,
        hitl_handler: HITLHandler | None = None,
    ) -> None:
        """`hitl_handler` replaces the store-backed handler, e.g. with one that answers at once
        (Tactus's synchronous channels) or with Plexus's; its answers are recorded in the log."""
        self.store = store
        self.hitl_handler = hitl_handler or StoreHITLHandler(store)
        self.limits = limits or SandboxLimits()
        self.clock = clock
        self.loader = loader

    # -- runs ---------------------------------------------------------------------------------

    def start(
        self,
        procedure: Procedure,
        params: dict[str, Any] | None = None,
        *,
        started_by: str | None = None,
        params_from_strings: bool = False,
        on_created: Callable[[RunRecord], None] | None = None,
    ) -> RunOutcome:
        """Check the params against the schema, create the run and execute it.

        `on_created` is called once the run is stored and before any of it executes, so a host
        can note what it needs to pick the run up again should the process die mid-execution.
        """
        values = coerce_params(procedure, params or {}, from_strings=params_from_strings)
        now = self.clock()
        run = RunRecord(
            run_id=self._new_run_id(),
            procedure_id=procedure.procedure_id,
            source_path=procedure.source_path,
            params=values,
            started_by=started_by,
            created_at=now,
            updated_at=now,
        )
        self.store.create_run(run)
        if on_created is not None:
            on_created(run)
        return self._execute(run, procedure)

    def resume(self, run_id: str, *, procedure: Procedure | None = None) -> RunOutcome:
        """Execute a waiting run again; answered requests are replayed from the store."""
        run = self.get_run(run_id)
        if run.status.is_final:
            return RunOutcome(run=run, pending=None, events=[])
        if procedure is None:
            if not run.source_path:
                raise HitlbotError(f"run {run.run_id} has no procedure file to resume from")
            procedure = self.loader(run.source_path)
        return self._execute(run, procedure)

    def get_run(self, run_id: str) -> RunRecord:
        """Find a run by its id or an unambiguous prefix of it."""
        run = self.store.get_run(run_id)
        if run is not None:
            return run
        matches = self.store.find_runs(run_id) if len(run_id) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise HitlbotError(f"run id {run_id!r} is ambiguous ({len(matches)} runs match)")
        raise UnknownRunError(run_id)

    def cancel(self, run_id: str, *, reason: str | None = None) -> RunRecord:
        """Cancel a run that has not ended, and every request it is still waiting on."""
        run = self.get_run(run_id)
        if run.status.is_final:
            raise HitlbotError(f"run {run.run_id} has already ended ({run.status.value})")
        for request in self.store.list_requests(run_id=run.run_id, pending_only=True):
            self.store.cancel_request(request.request_id)
        run.status = RunStatus.CANCELLED
        run.error = reason
        run.waiting_on_message_id = None
        run.updated_at = self.clock()
        self.store.commit_execution(
            run, log_entries=[], state=self.store.get_state(run.run_id), events=[], requests=[]
        )
        return run

    # -- answers ------------------------------------------------------------------------------

    def answer(self, request_id: str, raw: Any, *, responder: str | None = None) -> PendingRequest:
        """Validate and record an answer exactly once. Does not resume the run."""
        pending = self._open_request(request_id)
        value = normalize_answer(pending.request, raw)
        response = HITLResponse(value=value, responder=responder, responded_at=self.clock())
        return self._record(pending, response)

    def time_out(self, request_id: str) -> PendingRequest:
        """Apply the request's default as a timed-out answer (exactly once)."""
        pending = self._open_request(request_id)
        return self._record(pending, timeout_response(pending.request, self.clock()))

    def _open_request(self, request_id: str) -> PendingRequest:
        pending = self.store.get_request(request_id)
        if pending is None:
            raise UnknownRequestError(request_id)
        if pending.response is not None or pending.cancelled:
            raise AlreadyAnsweredError(pending)
        return pending

    def _record(self, pending: PendingRequest, response: HITLResponse) -> PendingRequest:
        if not self.store.record_response(pending.request_id, response):
            raise AlreadyAnsweredError(self.store.get_request(pending.request_id) or pending)
        return pending.model_copy(update={"response": response})

    # -- one execution ------------------------------------------------------------------------

    def _execute(self, run: RunRecord, procedure: Procedure) -> RunOutcome:
        metadata = self.store.load_procedure_metadata(run.run_id)
        run.status = RunStatus.RUNNING
        run.waiting_on_message_id = None
        ctx = ExecutionContext(
            run,
            metadata.execution_log,
            self.hitl_handler,
            clock=self.clock,
            first_event_seq=lambda: len(self.store.list_events(run.run_id)),
            source_file=os.path.basename(procedure.source_path),
        )
        primitives = Primitives(ctx, procedure)
        try:
            sandbox = Sandbox(self.limits, seed=int(run.run_id[:8], 16))
            ctx.caller_line = sandbox.caller_line
            install_primitives(sandbox, primitives)
            result = _run_code(sandbox, procedure, run.params)
            run.result = check_outputs(procedure, result)
            run.status = RunStatus.COMPLETED
        except ProcedureWaitingForHuman as waiting:
            run.status = RunStatus.WAITING_FOR_HUMAN
            run.waiting_on_message_id = waiting.pending_message_id
        except HitlbotError as exc:
            run.status = RunStatus.FAILED
            run.error = str(exc)
        run.updated_at = self.clock()
        self.store.commit_execution(
            run,
            log_entries=list(ctx.changed_entries.values()),
            state=ctx.state,
            events=ctx.events,
            requests=ctx.new_requests,
        )
        pending = None
        if run.waiting_on_message_id is not None:
            pending = self.store.get_request(run.waiting_on_message_id)
        return RunOutcome(run=run, pending=pending, events=ctx.events)

    def _new_run_id(self) -> str:
        """A uuid whose 8-character prefix (used in request ids) no other run has."""
        while True:
            run_id = uuid.uuid4().hex
            if not self.store.find_runs(run_id[:8]):
                return run_id


def _run_code(sandbox: Sandbox, procedure: Procedure, params: dict[str, Any]) -> Any:
    """Run the procedure per the execution contract of `runtime.procedure`."""
    chunk_name = os.path.basename(procedure.source_path)
    # Blank lines in front make Lua's line numbers the file's line numbers.
    source = "\n" * procedure.code_line_offset + procedure.code
    if procedure.format is ProcedureFormat.TAC:
        declarations.install(sandbox, params)
        results = sandbox.call(sandbox.compile(source, chunk_name))
        main = declarations.entry_point(sandbox)
        if main is not None:
            results = sandbox.call(main, params)
    else:
        sandbox.set_global("params", params)
        sandbox.set_global("input", params)
        results = sandbox.call(sandbox.compile(source, chunk_name))
    return results[0] if results else None
