"""The runtime's protocols: what a host plugs in.

`StorageBackend`, `HITLHandler` and `ChatRecorder` keep the signatures of Tactus and of Plexus's
adapters (the seed documents), so the Plexus adapters and ours are interchangeable.
`RunStore` is ours: a `StorageBackend` that also keeps runs, pending requests and events, which
is what exactly-once answers and durable resume need.

Storage keys: where Tactus says `procedure_id` for a storage key it means one execution of a
procedure; here that is a run, so stores are keyed by `run_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from runtime.models import (
    ChatMessage,
    CheckpointEntry,
    HITLRequest,
    HITLResponse,
    JournalEntry,
    PendingRequest,
    ProcedureMetadata,
    RunEvent,
    RunRecord,
    RunStatus,
    StoredExecution,
)


@runtime_checkable
class StorageBackend(Protocol):
    """Tactus's StorageBackend plus the methods of Plexus's `PlexusStorageAdapter`."""

    def load_procedure_metadata(self, procedure_id: str) -> ProcedureMetadata: ...

    def save_procedure_metadata(
        self, procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None = None
    ) -> None:
        """Tactus passes `(procedure_id, metadata)`; Plexus's adapter passes `(metadata)`."""

    def update_procedure_status(
        self, procedure_id: str, status: str, waiting_on_message_id: str | None = None
    ) -> None: ...

    def get_state(self, procedure_id: str) -> dict[str, Any]: ...

    def set_state(self, procedure_id: str, state: dict[str, Any]) -> None: ...

    def state_get(self, procedure_id: str, key: str, default: Any = None) -> Any: ...

    def state_set(self, procedure_id: str, key: str, value: Any) -> None: ...

    def state_delete(self, procedure_id: str, key: str) -> None: ...

    def state_clear(self, procedure_id: str) -> None: ...

    def checkpoint_save(self, procedure_id: str, name: str, result: Any) -> None: ...

    def checkpoint_get(self, procedure_id: str, name: str) -> Any | None: ...

    def checkpoint_exists(self, procedure_id: str, name: str) -> bool: ...

    def checkpoint_clear_all(self, procedure_id: str) -> None:
        """Clear the execution log and named checkpoints; keep state."""

    def checkpoint_clear_after(self, procedure_id: str, name: str) -> None:
        """Clear the named checkpoint `name` and every one saved after it.

        A name of the form `pos<N>` (or a bare integer) addresses the execution log instead:
        position N and everything after it are removed.
        """


@runtime_checkable
class RunStore(StorageBackend, Protocol):
    """Durable home of runs. Every method is safe to call from several processes at once."""

    def create_run(self, run: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def find_runs(self, run_id_prefix: str) -> list[RunRecord]:
        """Runs whose id starts with the prefix (people type short ids)."""

    def list_runs(self, *, limit: int = 100, status: RunStatus | None = None) -> list[RunRecord]:
        """Most recently updated first."""

    def commit_execution(
        self,
        run: RunRecord,
        *,
        log_entries: list[CheckpointEntry],
        state: dict[str, Any] | None,
        events: list[RunEvent],
        requests: list[PendingRequest],
    ) -> None:
        """Atomically save what one execution produced.

        `log_entries` are new or changed positions (upserted by position), `state` replaces the
        state snapshot (None keeps it), `events` are appended, `requests` are inserted unless
        their id exists. The run row (status, result, error, waiting_on_message_id) is replaced.
        """

    def save_request(self, request: PendingRequest) -> None:
        """Insert a pending request; a no-op when its id already exists (idempotent)."""

    def get_request(self, request_id: str) -> PendingRequest | None: ...

    def list_requests(
        self, *, run_id: str | None = None, pending_only: bool = False
    ) -> list[PendingRequest]:
        """Ordered by creation."""

    def record_response(self, request_id: str, response: HITLResponse) -> bool:
        """Store the answer if, and only if, none is stored and the request is not cancelled.

        Returns True for the one caller that won. This is the exactly-once point.
        """

    def cancel_request(self, request_id: str) -> bool:
        """Mark a still-unanswered request cancelled. True if this call cancelled it."""

    def list_events(self, run_id: str) -> list[RunEvent]: ...

    def read_journal(self, after: int, *, limit: int = 500) -> list[JournalEntry]:
        """The run journal's entries after id `after`, in order (at most `limit`).

        Every store appends to it in the same transaction as the change an entry describes:
        `create_run` (started), `commit_execution` (its notify/alert events, its requests, then
        the run's status), `record_response` and `cancel_request` (for the one winner).
        """

    def forget_journal(self, through: int) -> int:
        """Drop the entries up to id `through` (every follower has read them); how many."""

    def load_execution(self, run_id: str) -> StoredExecution:
        """What the run's next execution starts from, in one read: the execution log as stored
        (a JSON array of `CheckpointEntry`, by position) and what the run has stored so far,
        to measure against its quotas: events (count, bytes, the next event number) and
        execution log (positions, bytes of the entries and of the requests stored with them).
        """

    def set_annotation(self, run_id: str, key: str, value: Any) -> None:
        """Store a host's note about a run (e.g. where a request was posted); upsert."""

    def get_annotation(self, run_id: str, key: str) -> Any | None: ...

    def claim_annotation(self, run_id: str, key: str, value: Any) -> bool:
        """Insert the note only if the key is new: True for the one caller that inserted it.

        Hosts use it to do something at most once across retries, processes and replicas.
        """

    def list_annotations(
        self, key_prefix: str, *, run_id: str | None = None
    ) -> list[tuple[str, str, Any]]:
        """`(run_id, key, value)` of the notes whose key starts with the prefix, oldest first."""

    def delete_annotation(self, run_id: str, key: str) -> None: ...

    def claim_delivery(
        self, key: str, seen_at: datetime, *, owner: str | None = None, body: Any = None
    ) -> bool:
        """Remember that a host received the delivery `key` (at most 255 characters) at
        `seen_at`: True for the one caller that saw it first, False for every repeat.

        Hosts use it to act once on a request that may arrive again (a replay, a retry, a
        duplicate), across restarts and processes sharing the store. With a `body` (JSON data:
        what to do again) the claim is also a promise by `owner` to do the work; it stays
        among the `unfinished_deliveries` until `finish_delivery`, so the work survives the
        owner's death.
        """

    def finish_delivery(self, key: str) -> None:
        """The work of a claimed delivery is done: forget its body (the claim stays)."""

    def unfinished_deliveries(self) -> list[tuple[str, str | None, Any]]:
        """`(key, owner, body)` of the deliveries whose work is not done, oldest first."""

    def take_delivery(self, key: str, owner: str | None, new_owner: str) -> bool:
        """Make `new_owner` responsible for an unfinished delivery, if `owner` still is: True
        for the one caller that took it over (a dead process's work is redone once)."""

    def forget_deliveries(self, before: datetime) -> int:
        """Forget deliveries seen before `before` (they can no longer repeat); how many."""

    def delete_annotation_if(self, run_id: str, key: str, expected: Any) -> bool:
        """Delete the note only if its value equals `expected`: True if this call deleted it.

        Hosts use it to finish with a note unless someone replaced it meanwhile (a newer
        value must survive the cleanup of an older one).
        """


@runtime_checkable
class HITLHandler(Protocol):
    """Tactus's HITLHandler (0.53.4 signature; `execution_context` is optional as in 0.10.0)."""

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        """Return the answer, or raise `ProcedureWaitingForHuman` to suspend the run."""

    def check_pending_response(self, procedure_id: str, message_id: str) -> HITLResponse | None: ...

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None: ...


@runtime_checkable
class ChatRecorder(Protocol):
    """Tactus's ChatRecorder as callers really use it (the seed's `PlexusChatAdapter`).

    `start_session` takes only the context: that is how TactusRuntime calls it.
    """

    async def start_session(self, context: dict[str, Any] | None = None) -> str: ...

    async def record_message(self, message: ChatMessage) -> str: ...

    async def end_session(self, session_id: str, status: str = "COMPLETED") -> None: ...

    async def get_session_history(self, session_id: str) -> list[ChatMessage]: ...
