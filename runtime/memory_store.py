"""`MemoryStore`: the `RunStore` that lives in a process's memory.

It backs tests and one-shot runs, and is the reference for the semantics the SQL store must
match (the rules both follow are in `runtime.store_rules`).

Everything is stored as JSON text, for two reasons: a caller can never change stored data
through an object it passed in or got back, and values come back exactly as the SQL store
returns them (tuples become lists, integer keys become strings, non-JSON values are refused
at write time rather than at the next restart).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from runtime.models import (
    CheckpointEntry,
    HITLResponse,
    JournalEntry,
    PendingRequest,
    ProcedureMetadata,
    RunEvent,
    RunRecord,
    RunStatus,
    RunUsage,
    StoredExecution,
    utc_now,
)
from runtime.quotas import ENTRY_OVERHEAD
from runtime.store_rules import (
    StateKeyMethods,
    as_utc,
    check_checkpoint_name,
    journal_answer,
    journal_cancel,
    journal_commit,
    journal_start,
    log_position,
    metadata_arguments,
    model_json,
    run_status,
)

_M = TypeVar("_M", bound=BaseModel)


# --- the store --------------------------------------------------------------------------------


def _thaw(model: type[_M], text: str) -> _M:
    return model.model_validate_json(text)


def _newest_first(run: RunRecord) -> tuple[datetime, str]:
    """Sort key (reversed) for runs: most recently updated first, as `SqlStore` orders them."""
    return (run.updated_at, run.run_id)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass
class _RunData:
    """Everything kept under one run id. A run row is optional: Tactus-style callers store a
    log and state without ever creating one."""

    record: str | None = None
    log: dict[int, str] = field(default_factory=dict)
    state: str = "{}"
    checkpoints: dict[str, str] = field(default_factory=dict)  # insertion order = save order
    events: dict[int, str] = field(default_factory=dict)


@dataclass
class _Delivery:
    seen_at: datetime
    owner: str | None
    body: str | None  # JSON, until the work it describes is done


class MemoryStore(StateKeyMethods):
    """A thread-safe `RunStore` in dictionaries. Nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _RunData] = {}
        self._requests: dict[str, str] = {}  # insertion order breaks created_at ties
        self._annotations: dict[tuple[str, str], str] = {}  # insertion order = list order
        self._journal: list[str] = []
        self._journal_id = 0
        self._deliveries: dict[str, _Delivery] = {}

    def close(self) -> None:
        """Nothing to release; present so hosts can close any store the same way."""

    def _data(self, run_id: str) -> _RunData:
        """The run's data, created on first write. Call with the lock held."""
        return self._runs.setdefault(run_id, _RunData())

    def _record(self, run_id: str) -> RunRecord | None:
        data = self._runs.get(run_id)
        return _thaw(RunRecord, data.record) if data and data.record else None

    # --- StorageBackend: metadata, status, state ----------------------------------------------

    def load_procedure_metadata(self, procedure_id: str) -> ProcedureMetadata:
        with self._lock:
            data = self._runs.get(procedure_id)
            if data is None:  # as Tactus's storages do: an unknown id has empty metadata
                return ProcedureMetadata(procedure_id=procedure_id)
            record = self._record(procedure_id)
            log = [_thaw(CheckpointEntry, data.log[pos]) for pos in sorted(data.log)]
            state = json.loads(data.state)
        return ProcedureMetadata(
            procedure_id=procedure_id,
            execution_log=log,
            state=state,
            status=record.status.value if record else RunStatus.RUNNING.value,
            waiting_on_message_id=record.waiting_on_message_id if record else None,
        )

    def save_procedure_metadata(
        self, procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None = None
    ) -> None:
        run_id, metadata = metadata_arguments(procedure_id, metadata)
        status = run_status(metadata.status)
        log = {entry.position: model_json(entry) for entry in metadata.execution_log}
        state = _dump(metadata.state)
        with self._lock:
            data = self._data(run_id)
            data.log = log
            data.state = state
            self._set_status(run_id, status, metadata.waiting_on_message_id)

    def update_procedure_status(
        self, procedure_id: str, status: str, waiting_on_message_id: str | None = None
    ) -> None:
        checked = run_status(status)
        with self._lock:
            self._set_status(procedure_id, checked, waiting_on_message_id)

    def _set_status(self, run_id: str, status: RunStatus, waiting_on: str | None) -> None:
        """Update the run row if there is one. Call with the lock held."""
        record = self._record(run_id)
        if record is None:
            return
        update = {"status": status, "waiting_on_message_id": waiting_on, "updated_at": utc_now()}
        self._runs[run_id].record = model_json(record.model_copy(update=update))

    def get_state(self, procedure_id: str) -> dict[str, Any]:
        with self._lock:
            data = self._runs.get(procedure_id)
            return json.loads(data.state) if data else {}

    def set_state(self, procedure_id: str, state: dict[str, Any]) -> None:
        text = _dump(state)
        with self._lock:
            self._data(procedure_id).state = text

    def state_clear(self, procedure_id: str) -> None:
        with self._lock:
            self._data(procedure_id).state = "{}"

    def _edit_state(self, run_id: str, edit: Callable[[dict[str, Any]], object]) -> None:
        with self._lock:
            data = self._data(run_id)
            state = json.loads(data.state)
            edit(state)
            data.state = _dump(state)

    # --- StorageBackend: checkpoints ----------------------------------------------------------

    def checkpoint_save(self, procedure_id: str, name: str, result: Any) -> None:
        check_checkpoint_name(name)
        text = _dump(result)
        with self._lock:
            checkpoints = self._data(procedure_id).checkpoints
            checkpoints.pop(name, None)  # saving again makes it the latest
            checkpoints[name] = text

    def checkpoint_get(self, procedure_id: str, name: str) -> Any | None:
        with self._lock:
            data = self._runs.get(procedure_id)
            if data is None:
                return None
            position = log_position(name)
            if position is not None:
                entry = data.log.get(position)
                return _thaw(CheckpointEntry, entry).result if entry else None
            text = data.checkpoints.get(name)
            return json.loads(text) if text is not None else None

    def checkpoint_exists(self, procedure_id: str, name: str) -> bool:
        with self._lock:
            data = self._runs.get(procedure_id)
            if data is None:
                return False
            position = log_position(name)
            if position is not None:
                return position in data.log
            return name in data.checkpoints

    def checkpoint_clear_all(self, procedure_id: str) -> None:
        with self._lock:
            data = self._runs.get(procedure_id)
            if data is not None:
                data.log.clear()
                data.checkpoints.clear()

    def checkpoint_clear_after(self, procedure_id: str, name: str) -> None:
        with self._lock:
            data = self._runs.get(procedure_id)
            if data is None:
                return
            position = log_position(name)
            if position is not None:
                data.log = {pos: entry for pos, entry in data.log.items() if pos < position}
            elif name in data.checkpoints:
                names = list(data.checkpoints)
                for later in names[names.index(name) :]:
                    del data.checkpoints[later]

    # --- RunStore: runs -----------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        text = model_json(run)
        with self._lock:
            data = self._data(run.run_id)
            if data.record is not None:
                raise ValueError(f"run {run.run_id!r} already exists")
            data.record = text
            self._append_journal([journal_start(run)])

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            return self._record(run_id)

    def find_runs(self, run_id_prefix: str) -> list[RunRecord]:
        return [run for run in self._all_runs() if run.run_id.startswith(run_id_prefix)]

    def list_runs(self, *, limit: int = 100, status: RunStatus | None = None) -> list[RunRecord]:
        runs = [run for run in self._all_runs() if status is None or run.status == status]
        return runs[: max(limit, 0)]

    def _all_runs(self) -> list[RunRecord]:
        with self._lock:
            texts = [data.record for data in self._runs.values() if data.record]
        return sorted((_thaw(RunRecord, text) for text in texts), key=_newest_first, reverse=True)

    def commit_execution(
        self,
        run: RunRecord,
        *,
        log_entries: list[CheckpointEntry],
        state: dict[str, Any] | None,
        events: list[RunEvent],
        requests: list[PendingRequest],
    ) -> None:
        # Serialise everything first: a value that is not JSON fails before anything changes.
        record = model_json(run.model_copy(update={"updated_at": utc_now()}))
        log = {entry.position: model_json(entry) for entry in log_entries}
        state_text = _dump(state) if state is not None else None
        new_events = [(event.run_id, event.seq, model_json(event)) for event in events]
        new_requests = [(request.request_id, model_json(request)) for request in requests]
        with self._lock:
            data = self._data(run.run_id)
            data.record = record
            data.log.update(log)
            if state_text is not None:
                data.state = state_text
            for run_id, seq, text in new_events:
                self._data(run_id).events.setdefault(seq, text)  # appended once per seq
            for request_id, text in new_requests:
                self._requests.setdefault(request_id, text)
            self._append_journal(journal_commit(run, events, requests))

    # --- RunStore: requests and events --------------------------------------------------------

    def save_request(self, request: PendingRequest) -> None:
        text = model_json(request)
        with self._lock:
            self._requests.setdefault(request.request_id, text)

    def get_request(self, request_id: str) -> PendingRequest | None:
        with self._lock:
            text = self._requests.get(request_id)
        return _thaw(PendingRequest, text) if text else None

    def list_requests(
        self, *, run_id: str | None = None, pending_only: bool = False
    ) -> list[PendingRequest]:
        with self._lock:
            texts = list(self._requests.values())
        found = [
            request
            for request in (_thaw(PendingRequest, text) for text in texts)
            if (run_id is None or request.run_id == run_id)
            and not (pending_only and (request.response is not None or request.cancelled))
        ]
        return sorted(found, key=lambda request: request.created_at)  # stable: ties keep order

    def record_response(self, request_id: str, response: HITLResponse) -> bool:
        return self._settle(
            request_id,
            {"response": response},
            lambda run_id: journal_answer(run_id, request_id, response),
        )

    def cancel_request(self, request_id: str) -> bool:
        return self._settle(
            request_id, {"cancelled": True}, lambda run_id: journal_cancel(run_id, request_id)
        )

    def _settle(
        self, request_id: str, update: dict[str, Any], entry: Callable[[str], JournalEntry]
    ) -> bool:
        """The compare-and-set both answers and cancellations go through: only an open
        request (no response, not cancelled) changes, under the lock, so one caller wins, and
        journals it."""
        with self._lock:
            text = self._requests.get(request_id)
            if text is None:
                return False
            request = _thaw(PendingRequest, text)
            if request.response is not None or request.cancelled:
                return False
            self._requests[request_id] = model_json(request.model_copy(update=update))
            self._append_journal([entry(request.run_id)])
            return True

    def _append_journal(self, entries: list[JournalEntry]) -> None:
        """Call with the lock held."""
        for entry in entries:
            self._journal_id += 1
            self._journal.append(model_json(entry.model_copy(update={"id": self._journal_id})))

    def read_journal(self, after: int, *, limit: int = 500) -> list[JournalEntry]:
        with self._lock:
            texts = list(self._journal)
        entries = (_thaw(JournalEntry, text) for text in texts)
        return [entry for entry in entries if entry.id > after][: max(limit, 0)]

    def forget_journal(self, through: int) -> int:
        with self._lock:
            kept = [t for t in self._journal if _thaw(JournalEntry, t).id > through]
            forgotten = len(self._journal) - len(kept)
            self._journal = kept
        return forgotten

    def list_events(self, run_id: str) -> list[RunEvent]:
        with self._lock:
            data = self._runs.get(run_id)
            texts = [data.events[seq] for seq in sorted(data.events)] if data else []
        return [_thaw(RunEvent, text) for text in texts]

    def load_execution(self, run_id: str) -> StoredExecution:
        with self._lock:
            data = self._runs.get(run_id)
            if data is None:
                return StoredExecution()
            log = [data.log[pos] for pos in sorted(data.log)]
            payloads = [len(_dump(json.loads(text)["payload"])) for text in data.events.values()]
            stored = (json.loads(text) for text in self._requests.values())
            requests = [len(_dump(r["request"])) for r in stored if r["run_id"] == run_id]
            next_seq = max(data.events, default=-1) + 1
        usage = RunUsage(
            events=len(payloads),
            event_bytes=sum(payloads) + ENTRY_OVERHEAD * len(payloads),
            next_event_seq=next_seq,
            log_entries=len(log),
            log_bytes=sum(len(text) for text in log) + sum(requests),
        )
        return StoredExecution(log_json="[" + ",".join(log) + "]", usage=usage)

    # --- annotations: hosts' notes about runs --------------------------------------------------

    def set_annotation(self, run_id: str, key: str, value: Any) -> None:
        text = _dump(value)
        with self._lock:
            self._annotations[(run_id, key)] = text

    def get_annotation(self, run_id: str, key: str) -> Any | None:
        with self._lock:
            text = self._annotations.get((run_id, key))
        return None if text is None else json.loads(text)

    def claim_annotation(self, run_id: str, key: str, value: Any) -> bool:
        text = _dump(value)
        with self._lock:
            if (run_id, key) in self._annotations:
                return False
            self._annotations[(run_id, key)] = text
            return True

    def list_annotations(
        self, key_prefix: str, *, run_id: str | None = None
    ) -> list[tuple[str, str, Any]]:
        with self._lock:
            items = list(self._annotations.items())
        return [
            (owner, key, json.loads(text))
            for (owner, key), text in items
            if key.startswith(key_prefix) and (run_id is None or owner == run_id)
        ]

    def delete_annotation(self, run_id: str, key: str) -> None:
        with self._lock:
            self._annotations.pop((run_id, key), None)

    # --- deliveries: what a host has already received ------------------------------------------

    def claim_delivery(
        self, key: str, seen_at: datetime, *, owner: str | None = None, body: Any = None
    ) -> bool:
        text = _dump(body) if body is not None else None
        with self._lock:
            if key in self._deliveries:
                return False
            self._deliveries[key] = _Delivery(as_utc(seen_at), owner, text)
            return True

    def finish_delivery(self, key: str) -> None:
        with self._lock:
            delivery = self._deliveries.get(key)
            if delivery is not None:
                delivery.body = None

    def unfinished_deliveries(self) -> list[tuple[str, str | None, Any]]:
        with self._lock:
            found = [(d.seen_at, k, d) for k, d in self._deliveries.items() if d.body is not None]
            return [(k, d.owner, json.loads(d.body)) for _, k, d in sorted(found)]  # type: ignore[arg-type]

    def take_delivery(self, key: str, owner: str | None, new_owner: str) -> bool:
        with self._lock:
            delivery = self._deliveries.get(key)
            if delivery is None or delivery.body is None or delivery.owner != owner:
                return False
            delivery.owner = new_owner
            return True

    def forget_deliveries(self, before: datetime) -> int:
        cutoff = as_utc(before)
        with self._lock:
            old = [key for key, d in self._deliveries.items() if d.seen_at < cutoff]
            for key in old:
                del self._deliveries[key]
        return len(old)

    def delete_annotation_if(self, run_id: str, key: str, expected: Any) -> bool:
        with self._lock:
            text = self._annotations.get((run_id, key))
            if text is None or json.loads(text) != expected:
                return False
            del self._annotations[(run_id, key)]
            return True
