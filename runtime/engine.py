"""Start, resume, answer and cancel runs: the runtime's public entry point.

Every start or resume is one *execution*: a fresh sandbox runs the procedure from the top while
the execution context replays the log (see `runtime.context`). It ends COMPLETED, FAILED or
WAITING_FOR_HUMAN, and everything it produced is saved with one `commit_execution`. No Lua stack
outlives an execution, so a waiting run costs a few rows, not a thread.

The engine reads what an execution needs from the store and commits what it produced; the
execution itself (`runtime.execution`) happens wherever the executor puts it: in a worker
process (`runtime.pool.WorkerPool`) that is killed when it goes past its limits, or in the
calling thread. An execution whose worker was lost, or whose result the store refuses, fails
its run with the reason, so no run is left RUNNING by its own procedure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime.answers import normalize_answer, timeout_response
from runtime.errors import ExecutionLost, HitlbotError, UnknownRunError
from runtime.execution import ExecutionJob, ExecutionResult
from runtime.hitl import StoreHITLHandler
from runtime.models import (
    HITLResponse,
    PendingRequest,
    RunEvent,
    RunRecord,
    RunStatus,
    utc_now,
)
from runtime.pool import Executor, InlineExecutor
from runtime.procedure import Procedure
from runtime.protocols import HITLHandler, RunStore
from runtime.quotas import RunQuotas
from runtime.sandbox import SandboxLimits
from runtime.schema import coerce_params

_RUN_ID = re.compile(r"[0-9a-f]{32}")


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
        quotas: RunQuotas | None = None,
        clock: Callable[[], datetime] = utc_now,
        loader: Callable[[str], Procedure] | None = None,
        hitl_handler: HITLHandler | None = None,
        executor: Executor | None = None,
    ) -> None:
        """`hitl_handler` replaces the store-backed handler, e.g. with one that answers at once
        (Tactus's synchronous channels) or with Plexus's; its answers are recorded in the log.

        `executor` decides where executions happen: a `runtime.pool.WorkerPool` (what hosts
        that run other people's procedures want: killable, memory-capped processes) or, by
        default, the calling thread. `loader` reads a run's procedure file when it is resumed
        without one; by default the executor's (in a worker, for a pool).
        """
        self.store = store
        self.hitl_handler = hitl_handler or StoreHITLHandler(store)
        self._answers_from_store = (
            type(self.hitl_handler) is StoreHITLHandler and self.hitl_handler.store is store
        )
        self.limits = limits or SandboxLimits()
        self.quotas = quotas or RunQuotas()
        self.clock = clock
        self.executor = executor or InlineExecutor()
        self.loader = loader or self.executor.load

    # -- runs ---------------------------------------------------------------------------------

    def start(
        self,
        procedure: Procedure,
        params: dict[str, Any] | None = None,
        *,
        started_by: str | None = None,
        params_from_strings: bool = False,
        run_id: str | None = None,
    ) -> RunOutcome:
        """Check the params against the schema, create the run and execute it.

        `run_id` (from `new_run_id`) lets a host note what it needs to pick the run up again
        before the run exists, so no crash can leave a run it does not know about.
        """
        values = coerce_params(procedure, params or {}, from_strings=params_from_strings)
        now = self.clock()
        run = RunRecord(
            run_id=run_id or self.new_run_id(),
            procedure_id=procedure.procedure_id,
            source_path=procedure.source_path,
            params=values,
            started_by=started_by,
            created_at=now,
            updated_at=now,
        )
        self.store.create_run(run)
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
        return self._end(run_id, RunStatus.CANCELLED, reason)

    def fail(self, run_id: str, reason: str) -> RunRecord:
        """End a run that cannot be finished (say, every attempt to execute it was cut off)."""
        return self._end(run_id, RunStatus.FAILED, reason)

    def _end(self, run_id: str, status: RunStatus, reason: str | None) -> RunRecord:
        run = self.get_run(run_id)
        if run.status.is_final:
            raise HitlbotError(f"run {run.run_id} has already ended ({run.status.value})")
        for request in self.store.list_requests(run_id=run.run_id, pending_only=True):
            self.store.cancel_request(request.request_id)
        run.status = status
        run.error = reason
        run.waiting_on_message_id = None
        run.updated_at = self.clock()
        self.store.commit_execution(run, log_entries=[], state=None, events=[], requests=[])
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
        stored = self.store.load_execution(run.run_id)
        job = ExecutionJob(
            run=run,
            procedure=procedure,
            log_json=stored.log_json,
            usage=stored.usage,
            now=self.clock(),
            limits=self.limits,
            quotas=self.quotas,
            known_requests=self._known_requests(run),
        )
        try:
            result = self.executor.execute(job, self.clock, self.hitl_handler)
        except ExecutionLost as lost:  # killed at a limit, or crashed: nothing of it was kept
            result = ExecutionResult.failed(run, str(lost))
            result.run.updated_at = self.clock()
        result = self._commit(result)
        return RunOutcome(run=result.run, pending=self._waiting_on(result), events=result.events)

    def _known_requests(self, run: RunRecord) -> list[PendingRequest] | None:
        """When answers come from the store: the request the run waits on (a run waits on one
        at a time), so the execution never needs the store itself."""
        if not self._answers_from_store:
            return None
        waiting = run.waiting_on_message_id
        request = self.store.get_request(waiting) if waiting is not None else None
        return [request] if request is not None else []

    def _commit(self, result: ExecutionResult) -> ExecutionResult:
        """Save the execution at once; if the store refuses it, save that the run failed.

        A run whose execution cannot be saved would otherwise stay RUNNING and be executed
        again by every recovery, failing the same way each time.
        """
        try:
            self._save(result)
        except Exception as exc:  # refused by the store: its reason is the run's
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            failed = ExecutionResult.failed(
                result.run, f"what the run did could not be saved: {first_line}"
            )
            self._save(failed)  # when the store is down this fails too: nothing is marked
            return failed
        return result

    def _save(self, result: ExecutionResult) -> None:
        self.store.commit_execution(
            result.run,
            log_entries=result.log_entries,
            state=result.state,
            events=result.events,
            requests=result.requests,
        )

    def _waiting_on(self, result: ExecutionResult) -> PendingRequest | None:
        request_id = result.run.waiting_on_message_id
        if request_id is None:
            return None
        new = next((r for r in result.requests if r.request_id == request_id), None)
        return new or self.store.get_request(request_id)

    def new_run_id(self, proposed: str | None = None) -> str:
        """A uuid whose 8-character prefix (used in request ids) no other run has: `proposed`
        (32 hex digits, chosen by a host ahead of time) when it is such an id."""
        run_id = proposed if proposed and _RUN_ID.fullmatch(proposed) else uuid.uuid4().hex
        while self.store.find_runs(run_id[:8]):
            run_id = uuid.uuid4().hex
        return run_id
