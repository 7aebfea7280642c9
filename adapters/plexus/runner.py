"""`PlexusRunner`: run a procedure with Plexus as its storage, its chat and its HITL handler.

This is what Plexus's runner does with its three adapters, with the engine's replay
guarantees: the run's execution log is kept in `Procedure.metadata`, so a resume (in any
process) replays every answered position from it and asks Plexus only for the one the run
waits on; no answer is given twice and nothing a procedure did is done again.

One execution (a start or a resume) is:

1. read the Procedure (the run's log and details, `metadata.run`) and open the run's chat
   session (the same one on every execution);
2. execute the procedure (`runtime.execution`, in this thread or the executor's worker),
   with `PlexusHITLAdapter` as its HITL handler: a request without an answer is posted once
   as a `PENDING_*` message and suspends the run;
3. record the execution's notifications and alerts in the session (each message's id is
   derived from the run and the event, so recording them again never doubles them);
4. save the log, the state, the run's details and the Procedure's `status` and
   `waitingOnMessageId` in one conditional write; a finished run ends its session.

If Plexus fails during the execution (after the client's retries), the execution is
discarded: nothing of it is saved, the run stays as it was and the error is raised, so it can
be resumed once Plexus answers again. A run never fails because Plexus was down.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from adapters.plexus.chat import PlexusChatRecorder
from adapters.plexus.client import PlexusClient
from adapters.plexus.control import iso_time, pending_message_id
from adapters.plexus.errors import PlexusConfigError, PlexusDataError
from adapters.plexus.hitl import PlexusHITLAdapter
from adapters.plexus.metadata import RUN, BlobReader, parse_metadata
from adapters.plexus.operations import CREATE_PROCEDURE, GET_PROCEDURE
from adapters.plexus.storage import PlexusStorageAdapter
from runtime.errors import ExecutionLost, HitlbotError
from runtime.execution import ExecutionJob, ExecutionResult
from runtime.models import RunEvent, RunRecord, RunStatus, RunUsage, utc_now
from runtime.pool import Executor, InlineExecutor
from runtime.procedure import Procedure
from runtime.quotas import ENTRY_OVERHEAD, RunQuotas, json_size
from runtime.sandbox import SandboxLimits
from runtime.schema import coerce_params
from runtime.store_rules import model_json

# Plexus's status words for a run's, where they differ.
_RUN_STATUS = {"COMPLETE": RunStatus.COMPLETED, "ERROR": RunStatus.FAILED}
_ALERT_INTERACTIONS = {
    "info": "ALERT_INFO",
    "warning": "ALERT_WARNING",
    "error": "ALERT_ERROR",
    "critical": "ALERT_CRITICAL",
}
_EVENT_IDS = uuid.UUID("1d7e5a0c-8b3f-5e21-a4c6-2f9b8d7e6c51")


class PlexusOutcome(BaseModel):
    """What one execution left behind in Plexus."""

    run: RunRecord
    session_id: str | None = None
    pending_message_id: str | None = None
    """The Plexus ChatMessage the run waits on (the runtime's request id is
    `run.waiting_on_message_id`)."""


class PlexusRunner:
    """Starts, resumes and cancels runs kept in Plexus. Holds no per-run state: any number of
    processes may run it against the same Plexus."""

    def __init__(
        self,
        client: PlexusClient,
        *,
        executor: Executor | None = None,
        limits: SandboxLimits | None = None,
        quotas: RunQuotas | None = None,
        clock: Callable[[], datetime] = utc_now,
        blobs: BlobReader | None = None,
    ) -> None:
        """`executor` decides where executions happen (`runtime.pool.WorkerPool` for other
        people's procedures; this thread by default). `blobs` reads metadata Plexus keeps in
        S3. The methods block: call them from a worker thread, not an event loop."""
        self.client = client
        self.executor = executor or InlineExecutor()
        self.limits = limits or SandboxLimits()
        self.quotas = quotas or RunQuotas()
        self.clock = clock
        self.blobs = blobs

    def _storage(self, procedure_id: str) -> PlexusStorageAdapter:
        return PlexusStorageAdapter(self.client, procedure_id, blobs=self.blobs, clock=self.clock)

    # -- runs ---------------------------------------------------------------------------------

    def create_procedure(self, procedure: Procedure, *, name: str | None = None) -> str:
        """A Plexus Procedure record for a new run of `procedure`, in `PLEXUS_ACCOUNT_KEY`'s
        account; its id."""
        account_id = self.client.call(self.client.account_id)
        if not account_id:
            raise PlexusConfigError("PLEXUS_ACCOUNT_KEY is not set: a Procedure needs an account")
        values = {
            "name": name or procedure.name,
            "accountId": account_id,
            "status": "PENDING",
            "version": procedure.version,
            "description": procedure.description,
        }
        record, _ = self.client.call(
            self.client.create,
            CREATE_PROCEDURE,
            GET_PROCEDURE,
            {k: v for k, v in values.items() if v is not None},
        )
        return str(record["id"])

    def start(
        self,
        procedure_id: str,
        procedure: Procedure,
        params: dict[str, Any] | None = None,
        *,
        started_by: str | None = None,
        params_from_strings: bool = False,
        run_id: str | None = None,
    ) -> PlexusOutcome:
        """Start a run of `procedure` in the Plexus Procedure `procedure_id` (one run each)."""
        values = coerce_params(procedure, params or {}, from_strings=params_from_strings)
        storage = self._storage(procedure_id)
        record = storage.read_procedure(procedure_id)
        existing = parse_metadata(record.get("metadata"), procedure_id).get(RUN)
        if isinstance(existing, dict) and existing.get("run_id"):
            raise HitlbotError(
                f"Plexus procedure {procedure_id} already has run {existing['run_id']}; "
                "resume it instead"
            )
        now = self.clock()
        run = RunRecord(
            run_id=run_id or uuid.uuid4().hex,
            procedure_id=procedure.procedure_id,
            source_path=procedure.source_path,
            params=values,
            started_by=started_by,
            created_at=now,
            updated_at=now,
        )
        details = _run_details(run)
        record = storage.edit_metadata(
            procedure_id,
            lambda metadata: metadata.__setitem__(RUN, details),
            {"status": RunStatus.RUNNING.value, "waitingOnMessageId": None},
            record=record,
        )
        return self._execute(procedure_id, run, details, procedure, record)

    def resume(self, procedure_id: str, procedure: Procedure) -> PlexusOutcome:
        """Execute the run again: answered requests replay, the one it waits on is looked up."""
        run, details, record = self.get_run(procedure_id)
        if run.procedure_id != procedure.procedure_id:
            raise HitlbotError(
                f"Plexus procedure {procedure_id} runs {run.procedure_id!r}, "
                f"not {procedure.procedure_id!r}"
            )
        if run.status.is_final:
            return PlexusOutcome(run=run, session_id=details.get("session_id"))
        return self._execute(procedure_id, run, details, procedure, record)

    def cancel(self, procedure_id: str, *, reason: str | None = None) -> PlexusOutcome:
        """Cancel a run that has not ended, and the request it waits on."""
        run, details, record = self.get_run(procedure_id)
        if run.status.is_final:
            raise HitlbotError(f"run {run.run_id} has already ended ({run.status.value})")
        recorder = PlexusChatRecorder(self.client, procedure_id)
        session_id = self.client.call(
            recorder.start_session, _session_context(details), procedure=record
        )
        hitl = PlexusHITLAdapter(self.client, procedure_id, recorder, clock=self.clock)
        if run.waiting_on_message_id:
            hitl.cancel_pending_request(run.procedure_id, run.waiting_on_message_id)
        run = run.model_copy(
            update={
                "status": RunStatus.CANCELLED,
                "error": reason,
                "waiting_on_message_id": None,
                "updated_at": self.clock(),
            }
        )
        details = {**details, "error": reason, "session_id": session_id, "waiting_on": None}
        self._storage(procedure_id).edit_metadata(
            procedure_id,
            lambda metadata: metadata.__setitem__(RUN, details),
            {"status": RunStatus.CANCELLED.value, "waitingOnMessageId": None},
            record=record,
        )
        self.client.call(recorder.end_session, session_id, RunStatus.CANCELLED.value)
        return PlexusOutcome(run=run, session_id=session_id)

    def get_run(self, procedure_id: str) -> tuple[RunRecord, dict[str, Any], dict[str, Any]]:
        """The run kept in the Procedure, its details as stored, and the Procedure record."""
        record = self._storage(procedure_id).read_procedure(procedure_id)
        details = parse_metadata(record.get("metadata"), procedure_id).get(RUN)
        if not isinstance(details, dict) or not details.get("run_id"):
            raise HitlbotError(f"Plexus procedure {procedure_id} has no run to resume")
        status = str(record.get("status") or "RUNNING")
        try:
            run = RunRecord(
                run_id=details["run_id"],
                procedure_id=details["procedure_id"],
                source_path=details.get("source_path"),
                params=details.get("params") or {},
                status=_RUN_STATUS.get(status) or RunStatus.__members__.get(status, "RUNNING"),
                waiting_on_message_id=details.get("waiting_on"),
                result=details.get("result"),
                error=details.get("error"),
                started_by=details.get("started_by"),
                created_at=details.get("created_at") or record["createdAt"],
                updated_at=record["updatedAt"],
            )
        except (KeyError, ValueError) as exc:
            raise PlexusDataError(
                f"Procedure {procedure_id} metadata.run is not a run: {str(exc).splitlines()[0]}"
            ) from None
        return run, details, record

    # -- one execution ------------------------------------------------------------------------

    def _execute(
        self,
        procedure_id: str,
        run: RunRecord,
        details: dict[str, Any],
        procedure: Procedure,
        record: dict[str, Any],
    ) -> PlexusOutcome:
        storage = self._storage(procedure_id)
        recorder = PlexusChatRecorder(self.client, procedure_id)
        session_id = self.client.call(
            recorder.start_session, _session_context(details), procedure=record
        )
        hitl = PlexusHITLAdapter(
            self.client, procedure_id, recorder, storage, clock=self.clock, update_status=False
        )
        metadata = storage.metadata_of(record)
        log = [json.loads(model_json(entry)) for entry in metadata.execution_log]
        log_json = json.dumps(log)
        job = ExecutionJob(
            run=run,
            procedure=procedure,
            log_json=log_json,
            usage=RunUsage(
                events=int(details.get("events") or 0),
                event_bytes=int(details.get("event_bytes") or 0),
                next_event_seq=int(details.get("next_event_seq") or 0),
                log_entries=len(log),
                log_bytes=len(log_json),
            ),
            now=self.clock(),
            limits=self.limits,
            quotas=self.quotas,
        )
        try:
            result = self.executor.execute(job, self.clock, hitl)
        except ExecutionLost as lost:
            result = ExecutionResult.failed(run, str(lost))
            result.run.updated_at = self.clock()
        if hitl.failure is not None:
            raise hitl.failure  # Plexus's trouble, not the run's: keep nothing of it
        self._record_events(recorder, run.run_id, result.events)
        pending_id = None
        if result.run.waiting_on_message_id:
            pending_id = pending_message_id(procedure_id, result.run.waiting_on_message_id)
        details = _run_details(result.run) | {
            "session_id": session_id,
            "events": int(details.get("events") or 0) + len(result.events),
            "event_bytes": int(details.get("event_bytes") or 0)
            + sum(json_size(e.payload) + ENTRY_OVERHEAD for e in result.events),
            "next_event_seq": max(
                [int(details.get("next_event_seq") or 0), *(e.seq + 1 for e in result.events)]
            ),
        }
        changed = {entry.position: json.loads(model_json(entry)) for entry in result.log_entries}

        def save(current: dict[str, Any]) -> None:
            merged = {entry["position"]: entry for entry in log} | changed
            current["execution_log"] = [merged[p] for p in sorted(merged)]
            if result.state is not None:
                current["state"] = result.state
            current[RUN] = details

        fields = {"status": result.run.status.value, "waitingOnMessageId": pending_id}
        storage.edit_metadata(procedure_id, save, fields, record=record)
        if result.run.status.is_final:
            self.client.call(recorder.end_session, session_id, result.run.status.value)
        return PlexusOutcome(run=result.run, session_id=session_id, pending_message_id=pending_id)

    def _record_events(
        self, recorder: PlexusChatRecorder, run_id: str, events: list[RunEvent]
    ) -> None:
        """Notifications and alerts become chat messages Plexus's dashboard shows."""
        for event in events:
            if event.kind == "notify":
                interaction = "NOTIFICATION"
            elif event.kind == "alert":
                interaction = _ALERT_INTERACTIONS.get(str(event.payload.get("level")), "ALERT_INFO")
            else:
                continue  # log lines and stages stay in the run's log, not in the chat
            payload = event.payload
            self.client.call(
                recorder.record_message,
                "ASSISTANT",
                str(payload.get("content") or payload.get("message") or ""),
                human_interaction=interaction,
                metadata={k: v for k, v in payload.items() if k not in ("content", "message")},
                message_id=str(uuid.uuid5(_EVENT_IDS, f"{run_id}/{event.seq}")),
                created_at=iso_time(event.created_at),
            )


def _run_details(run: RunRecord) -> dict[str, Any]:
    """What `metadata.run` keeps of a run (its status is the Procedure's own field)."""
    return {
        "run_id": run.run_id,
        "procedure_id": run.procedure_id,
        "source_path": run.source_path,
        "params": run.params,
        "started_by": run.started_by,
        "created_at": run.created_at.isoformat(),
        "waiting_on": run.waiting_on_message_id,
        "result": run.result,
        "error": run.error,
    }


def _session_context(details: dict[str, Any]) -> dict[str, Any]:
    session_id = details.get("session_id")
    return {"session_id": session_id} if session_id else {}
