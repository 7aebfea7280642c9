"""One execution of a run, as pure computation: a job in, a result out.

Everything an execution needs is in its `ExecutionJob` (the run, the procedure, the log to
replay, what the run has stored so far, the time it starts at, its limits and quotas), and
everything it produces is in its `ExecutionResult`; the store is not touched here. That is what
lets the engine execute a procedure in another process (`runtime.pool`), which can be killed
when the procedure goes past its limits, and commit the result itself.

Answers to requests come from the job when the engine's default handler is in use
(`known_requests`: the request the run waits on, as the store had it); any other
`HITLHandler` is asked in the engine's process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from runtime import declarations
from runtime.context import ExecutionContext
from runtime.errors import HitlbotError, ProcedureWaitingForHuman
from runtime.hitl import KnownRequests, StoreHITLHandler
from runtime.models import (
    CheckpointEntry,
    PendingRequest,
    RunEvent,
    RunRecord,
    RunStatus,
    RunUsage,
)
from runtime.primitives import Primitives, install_primitives
from runtime.procedure import Procedure, ProcedureFormat
from runtime.protocols import HITLHandler
from runtime.quotas import RunQuotas
from runtime.sandbox import Sandbox, SandboxLimits
from runtime.schema import check_outputs

# Longest failure reason kept with a run: an error can carry whatever a procedure passed it.
MAX_ERROR = 2_000

_LOG = TypeAdapter(list[CheckpointEntry])


class ExecutionJob(BaseModel):
    """Everything one execution needs."""

    run: RunRecord
    procedure: Procedure
    log_json: str
    """The execution log as stored: parsed here, by whoever executes, not by the engine."""
    usage: RunUsage
    now: datetime
    limits: SandboxLimits
    quotas: RunQuotas
    known_requests: list[PendingRequest] | None = None
    """The request the run waits on, as stored, when answers come from the store; None when
    the engine's `HITLHandler` is to be asked."""


class ExecutionResult(BaseModel):
    """Everything one execution produced, to be committed at once."""

    run: RunRecord
    log_entries: list[CheckpointEntry] = []
    state: dict[str, Any] | None = None
    events: list[RunEvent] = []
    requests: list[PendingRequest] = []

    @classmethod
    def failed(cls, run: RunRecord, reason: str) -> ExecutionResult:
        """An execution that left nothing but its failure (its worker was lost)."""
        update = {"status": RunStatus.FAILED, "error": reason[:MAX_ERROR]}
        return cls(run=run.model_copy(update={**update, "waiting_on_message_id": None}))


def execute(
    job: ExecutionJob,
    clock: Callable[[], datetime],
    handler: HITLHandler | None = None,
) -> ExecutionResult:
    """Run the procedure from the top, replaying the log; what it did, ready to commit.

    `handler` is asked for answers when the job carries no `known_requests`.
    """
    run = job.run.model_copy()
    run.status = RunStatus.RUNNING
    run.waiting_on_message_id = None
    run.error = None
    if job.known_requests is not None:
        handler = StoreHITLHandler(KnownRequests(job.known_requests))
    if handler is None:
        raise HitlbotError("an execution needs known requests or a HITL handler")
    procedure = job.procedure
    ctx = ExecutionContext(
        run,
        _LOG.validate_json(job.log_json),
        handler,
        clock=clock,
        quotas=job.quotas,
        usage=job.usage,
        source_file=os.path.basename(procedure.source_path),
    )
    primitives = Primitives(ctx, procedure)
    try:
        sandbox = Sandbox(job.limits, seed=int(run.run_id[:8], 16))
        ctx.caller_line = sandbox.caller_line
        install_primitives(sandbox, primitives)
        result = check_outputs(procedure, _run_code(sandbox, procedure, run.params))
        ctx.meter.check_result(result)
        run.result = result
        run.status = RunStatus.COMPLETED
    except ProcedureWaitingForHuman as waiting:
        run.status = RunStatus.WAITING_FOR_HUMAN
        run.waiting_on_message_id = waiting.pending_message_id
    except HitlbotError as exc:
        run.status = RunStatus.FAILED
        run.error = str(exc)[:MAX_ERROR]
    run.updated_at = clock()
    return ExecutionResult(
        run=run,
        log_entries=list(ctx.changed_entries.values()),
        state=ctx.state,
        events=ctx.events,
        requests=ctx.new_requests,
    )


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
