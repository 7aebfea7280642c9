"""Rules every run store follows, whatever keeps the data.

What a checkpoint name addresses, the two call shapes of `save_procedure_metadata`, which
statuses exist and how timestamps are normalised are decided here once; `MemoryStore` and the
SQL store both apply them, and one test suite holds both to them. `runtime/` may import nothing
of the adapters, but the adapters may import the runtime, so the rules live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from runtime.models import (
    HITLResponse,
    JournalEntry,
    PendingRequest,
    ProcedureMetadata,
    RunEvent,
    RunRecord,
    RunStatus,
)

_LOG_POSITION = re.compile(r"(?:pos)?([0-9]+)")


def log_position(name: str) -> int | None:
    """The execution-log position a checkpoint name addresses (`pos3`, `3`), or None.

    Named checkpoints and the position-based log share one namespace in the seed's API, so
    these names are reserved for the log: `checkpoint_get(run, "pos3")` reads position 3 and
    `checkpoint_clear_after(run, "pos3")` rewinds the log to before it.
    """
    match = _LOG_POSITION.fullmatch(name)
    return int(match.group(1)) if match else None


def check_checkpoint_name(name: str) -> str:
    """Refuse to save a named checkpoint under a name that addresses the execution log."""
    if log_position(name) is not None:
        raise ValueError(
            f"checkpoint name {name!r} is reserved: `pos<N>` and integers address positions "
            "of the execution log, which only the runtime writes"
        )
    return name


def metadata_arguments(
    procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None
) -> tuple[str, ProcedureMetadata]:
    """Accept Tactus's `(procedure_id, metadata)` and Plexus's `(metadata)` call shapes."""
    if isinstance(procedure_id, ProcedureMetadata):
        if metadata is not None:
            raise TypeError("save_procedure_metadata takes (procedure_id, metadata) or (metadata)")
        return procedure_id.procedure_id, procedure_id
    if metadata is None:
        raise TypeError("save_procedure_metadata(procedure_id, ...) needs the metadata to save")
    return procedure_id, metadata


def run_status(status: str) -> RunStatus:
    """Validate a status string now, so a typo fails the writer and not every later reader."""
    try:
        return RunStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise ValueError(f"unknown run status {status!r} (expected one of: {known})") from None


def as_utc(moment: datetime) -> datetime:
    """Timestamps are stored in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def model_json(model: BaseModel) -> str:
    """JSON text of a model, its own timestamps normalised to UTC as `SqlStore` columns are."""
    stamps = {name: as_utc(value) for name, value in model if isinstance(value, datetime)}
    return model.model_copy(update=stamps).model_dump_json()


class StateKeyMethods:
    """The per-key state methods of the seed's storage API, over a store's whole-state ones.

    A store provides `get_state` and `_edit_state` (a read-modify-write under its own lock);
    these follow from them, identically for every store.
    """

    def get_state(self, procedure_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _edit_state(self, run_id: str, edit: Callable[[dict[str, Any]], object]) -> None:
        raise NotImplementedError

    def state_get(self, procedure_id: str, key: str, default: Any = None) -> Any:
        return self.get_state(procedure_id).get(key, default)

    def state_set(self, procedure_id: str, key: str, value: Any) -> None:
        self._edit_state(procedure_id, lambda state: state.__setitem__(key, value))

    def state_delete(self, procedure_id: str, key: str) -> None:
        self._edit_state(procedure_id, lambda state: state.pop(key, None))


# -- the run journal ------------------------------------------------------------------------

JOURNALED_EVENTS = ("notify", "alert")
"""Events people see; log lines and stage changes stay in the run's events only."""


def journal_start(run: RunRecord) -> JournalEntry:
    data = {
        "procedure_id": run.procedure_id,
        "source_path": run.source_path,
        "params": run.params,
        "started_by": run.started_by,
    }
    return JournalEntry(run_id=run.run_id, kind="started", data=data, created_at=run.created_at)


def journal_commit(
    run: RunRecord, events: list[RunEvent], requests: list[PendingRequest]
) -> list[JournalEntry]:
    """What one committed execution (or ended run) tells the journal, in order: the events
    it emitted, the requests it opened, then how it stands."""
    entries = [
        JournalEntry(
            run_id=run.run_id,
            kind="event",
            data={"seq": event.seq, "kind": event.kind, "payload": event.payload},
            created_at=event.created_at,
        )
        for event in events
        if event.kind in JOURNALED_EVENTS
    ]
    entries += [
        JournalEntry(
            run_id=run.run_id,
            kind="request",
            data={
                "request_id": request.request_id,
                "position": request.position,
                "request": request.request.model_dump(mode="json"),
            },
            created_at=request.created_at,
        )
        for request in requests
    ]
    status = {
        "status": run.status.value,
        "waiting_on_message_id": run.waiting_on_message_id,
        "result": run.result if run.status.is_final else None,
        "error": run.error,
    }
    entries.append(JournalEntry(run_id=run.run_id, kind="status", data=status))
    return entries


def journal_answer(run_id: str, request_id: str, response: HITLResponse) -> JournalEntry:
    data = {"request_id": request_id, "response": response.model_dump(mode="json")}
    return JournalEntry(run_id=run_id, kind="answered", data=data)


def journal_cancel(run_id: str, request_id: str) -> JournalEntry:
    return JournalEntry(run_id=run_id, kind="cancelled", data={"request_id": request_id})
