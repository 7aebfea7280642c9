"""`PlexusStorageAdapter`: the runtime's `StorageBackend` in a Plexus `Procedure` record.

Checkpoints, state, Lua state and the execution log live in `Procedure.metadata` (layout in
`adapters.plexus.metadata`); the run's status and the message it waits on are the record's own
`status` and `waitingOnMessageId` fields, as Plexus's dashboard reads them.

Every write is read, merge, write: the record is read, only the keys the call owns are
changed, and the update is conditional on the record's `updatedAt` being the one read. A
concurrent writer (Plexus's heartbeat in `runtime`, the dashboard's `attribution`) makes the
condition fail and the write starts over from a fresh read, so no key another writer owns is
ever dropped, and no two of our writes undo each other.

The methods are synchronous, as the protocol is: they are called from the runtime's worker
threads. Each runs the client's coroutines on the client's own loop (`PlexusClient.call`),
and refuses to run on an event loop, which it would block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.plexus.client import PlexusClient
from adapters.plexus.errors import PlexusDataError, PlexusError, PlexusGraphQLError
from adapters.plexus.metadata import (
    CHECKPOINTS,
    EXECUTION_LOG,
    LUA_STATE,
    REPLAY_INDEX,
    STATE,
    BlobReader,
    encode_metadata,
    expect,
    parse_metadata,
    resolved,
)
from adapters.plexus.operations import (
    GET_PROCEDURE,
    UPDATE_PROCEDURE_METADATA,
    UPDATE_PROCEDURE_STATUS,
)
from runtime.models import CheckpointEntry, ProcedureMetadata, utc_now
from runtime.store_rules import (
    StateKeyMethods,
    check_checkpoint_name,
    log_position,
    metadata_arguments,
    model_json,
)

# Procedure.status is a plain string in Plexus; these are the values its writers use (and
# ours). Anything else is refused at the writer, so a typo never reaches the dashboard.
PROCEDURE_STATUSES = (
    "PENDING",
    "RUNNING",
    "WAITING_FOR_HUMAN",
    "COMPLETED",
    "COMPLETE",
    "FAILED",
    "ERROR",
    "CANCELLED",
    "STALLED",
    "ARCHIVED",
)
# How many times a write starts over because someone else changed the record meanwhile.
MAX_WRITE_CONFLICTS = 8

MetadataEdit = Callable[[dict[str, Any]], object]


def procedure_status(status: str) -> str:
    if status not in PROCEDURE_STATUSES:
        known = ", ".join(PROCEDURE_STATUSES)
        raise ValueError(f"unknown procedure status {status!r} (expected one of: {known})")
    return status


async def write_status(
    client: PlexusClient,
    procedure_id: str,
    status: str,
    waiting_on_message_id: str | None,
    *,
    only_if_waiting_on: str | None = None,
) -> bool:
    """Set `status` and `waitingOnMessageId` (None clears it). With `only_if_waiting_on`, only
    while the procedure still waits on that message: a late writer never undoes a newer wait.
    True if written."""
    variables: dict[str, Any] = {
        "input": {
            "id": procedure_id,
            "status": procedure_status(status),
            "waitingOnMessageId": waiting_on_message_id,
        }
    }
    if only_if_waiting_on is not None:
        variables["condition"] = {"waitingOnMessageId": {"eq": only_if_waiting_on}}
    try:
        await client.execute(UPDATE_PROCEDURE_STATUS, variables, policy=client.policies.write)
    except PlexusGraphQLError as exc:
        if only_if_waiting_on is not None and exc.condition_failed:
            return False
        raise
    return True


class PlexusStorageAdapter(StateKeyMethods):
    """`StorageBackend` over Plexus GraphQL. `procedure_id` arguments are Plexus Procedure ids."""

    def __init__(
        self,
        client: PlexusClient,
        procedure_id: str,
        *,
        blobs: BlobReader | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`blobs` reads values Plexus stored in S3 (`S3BlobReader`); without it such a value
        is an error that names its key. `clock` stamps named checkpoints."""
        self.client = client
        self.procedure_id = procedure_id
        self.blobs = blobs
        self.clock = clock

    # -- reading ------------------------------------------------------------------------------

    def read_procedure(self, procedure_id: str) -> dict[str, Any]:
        """The Procedure record (metadata still a JSON string); an error if there is none."""
        return self.client.call(
            self.client.require_record, GET_PROCEDURE, procedure_id, "Procedure"
        )

    def read_metadata(self, procedure_id: str) -> dict[str, Any]:
        return parse_metadata(self.read_procedure(procedure_id).get("metadata"), procedure_id)

    def value(self, metadata: dict[str, Any], key: str, default: Any, procedure_id: str) -> Any:
        """A metadata value, S3 pointers followed, checked to have the default's shape."""
        found = resolved(metadata, key, default, procedure_id=procedure_id, blobs=self.blobs)
        return expect(found, type(default), key, procedure_id) if default is not None else found

    def _log(self, metadata: dict[str, Any], procedure_id: str) -> list[CheckpointEntry]:
        raw = self.value(metadata, EXECUTION_LOG, [], procedure_id)
        try:
            entries = [CheckpointEntry.model_validate(item) for item in raw]
        except ValueError as exc:
            raise PlexusDataError(
                f"Procedure {procedure_id} metadata.execution_log holds an entry that is not a "
                f"checkpoint: {str(exc).splitlines()[0]}"
            ) from None
        return sorted(entries, key=lambda entry: entry.position)

    # -- writing ------------------------------------------------------------------------------

    def edit_metadata(
        self,
        procedure_id: str,
        edit: MetadataEdit,
        fields: dict[str, Any] | None = None,
        *,
        record: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply `edit` to the metadata and write it back, with the record `fields` (`status`,
        `waitingOnMessageId`) in the same update; return the record as written.

        The write holds only if the record is still as read (`updatedAt`); when another
        writer changed it meanwhile, it starts over from a fresh read. `record` is a read the
        caller already made, used for the first try. An `edit` that returns False changed
        nothing: without `fields`, nothing is written.
        """
        for _ in range(MAX_WRITE_CONFLICTS):
            if record is None:
                record = self.read_procedure(procedure_id)
            metadata = parse_metadata(record.get("metadata"), procedure_id)
            if edit(metadata) is False and not fields:
                return record
            try:
                encoded = encode_metadata(metadata)
            except (TypeError, ValueError) as exc:
                raise PlexusDataError(
                    f"cannot store in Procedure {procedure_id}: {exc} (values must be JSON)"
                ) from None
            variables = {
                "input": {"id": procedure_id, "metadata": encoded, **(fields or {})},
                "condition": {"updatedAt": {"eq": record["updatedAt"]}},
            }
            try:
                data = self.client.call(
                    self.client.execute,
                    UPDATE_PROCEDURE_METADATA,
                    variables,
                    policy=self.client.policies.write,
                )
            except PlexusGraphQLError as exc:
                if exc.condition_failed:
                    record = None  # changed since it was read: merge into the newer record
                    continue
                raise
            return data["updateProcedure"]
        raise PlexusError(
            f"Procedure {procedure_id} kept changing while its metadata was written "
            f"({MAX_WRITE_CONFLICTS} tries); nothing was written"
        )

    # -- metadata and status ------------------------------------------------------------------

    def load_procedure_metadata(self, procedure_id: str) -> ProcedureMetadata:
        """Replay starts from the top: `replay_index` is always 0 here, whatever was saved."""
        return self.metadata_of(self.read_procedure(procedure_id))

    def metadata_of(self, record: dict[str, Any]) -> ProcedureMetadata:
        """`load_procedure_metadata` of a Procedure record already read."""
        procedure_id = str(record["id"])
        metadata = parse_metadata(record.get("metadata"), procedure_id)
        return ProcedureMetadata(
            procedure_id=procedure_id,
            execution_log=self._log(metadata, procedure_id),
            state=self.value(metadata, STATE, {}, procedure_id),
            lua_state=self.value(metadata, LUA_STATE, {}, procedure_id),
            status=record.get("status") or "RUNNING",
            waiting_on_message_id=record.get("waitingOnMessageId"),
        )

    def save_procedure_metadata(
        self, procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None = None
    ) -> None:
        """Write the log, state, Lua state, status and waiting message id in one update."""
        procedure_id, metadata = metadata_arguments(procedure_id, metadata)
        status = procedure_status(metadata.status)
        log = [json.loads(model_json(entry)) for entry in metadata.execution_log]
        saved = {
            EXECUTION_LOG: sorted(log, key=lambda entry: entry["position"]),
            STATE: metadata.state,
            LUA_STATE: metadata.lua_state,
            REPLAY_INDEX: metadata.replay_index,
        }
        fields = {"status": status, "waitingOnMessageId": metadata.waiting_on_message_id}
        self.edit_metadata(procedure_id, lambda current: current.update(saved), fields)

    def update_procedure_status(
        self, procedure_id: str, status: str, waiting_on_message_id: str | None = None
    ) -> None:
        """`waiting_on_message_id=None` clears the field (the dashboard stops showing a wait)."""
        procedure_status(status)
        self.client.call(write_status, self.client, procedure_id, status, waiting_on_message_id)

    # -- state --------------------------------------------------------------------------------

    def get_state(self, procedure_id: str) -> dict[str, Any]:
        return self.value(self.read_metadata(procedure_id), STATE, {}, procedure_id)

    def set_state(self, procedure_id: str, state: dict[str, Any]) -> None:
        snapshot = dict(state)
        self.edit_metadata(procedure_id, lambda metadata: metadata.__setitem__(STATE, snapshot))

    def state_clear(self, procedure_id: str) -> None:
        self.set_state(procedure_id, {})

    def _edit_state(self, run_id: str, edit: Callable[[dict[str, Any]], object]) -> None:
        def apply(metadata: dict[str, Any]) -> None:
            state = self.value(metadata, STATE, {}, run_id)
            edit(state)
            metadata[STATE] = state

        self.edit_metadata(run_id, apply)

    # -- checkpoints --------------------------------------------------------------------------

    def checkpoint_save(self, procedure_id: str, name: str, result: Any) -> None:
        """Saving a name again makes it the latest (it moves to the end of the save order)."""
        check_checkpoint_name(name)
        saved = {"name": name, "result": result, "completed_at": self.clock().isoformat()}

        def apply(metadata: dict[str, Any]) -> None:
            checkpoints = self.value(metadata, CHECKPOINTS, {}, procedure_id)
            checkpoints.pop(name, None)
            checkpoints[name] = saved
            metadata[CHECKPOINTS] = checkpoints

        self.edit_metadata(procedure_id, apply)

    def checkpoint_get(self, procedure_id: str, name: str) -> Any | None:
        found = self._checkpoint(procedure_id, name)
        return found[1] if found else None

    def checkpoint_exists(self, procedure_id: str, name: str) -> bool:
        return self._checkpoint(procedure_id, name) is not None

    def _checkpoint(self, procedure_id: str, name: str) -> tuple[str, Any] | None:
        """`(name, result)` of a named checkpoint or a log position (`pos3`), if saved."""
        metadata = self.read_metadata(procedure_id)
        position = log_position(name)
        if position is not None:
            log = self._log(metadata, procedure_id)
            entry = next((e for e in log if e.position == position), None)
            return (name, entry.result) if entry else None
        saved = self.value(metadata, CHECKPOINTS, {}, procedure_id).get(name)
        return (name, saved.get("result")) if isinstance(saved, dict) else None

    def checkpoint_clear_all(self, procedure_id: str) -> None:
        """Clear the execution log and the named checkpoints; state stays."""

        def apply(metadata: dict[str, Any]) -> None:
            metadata.update({EXECUTION_LOG: [], CHECKPOINTS: {}, REPLAY_INDEX: 0})

        self.edit_metadata(procedure_id, apply)

    def checkpoint_clear_after(self, procedure_id: str, name: str) -> None:
        """Clear `name` and every checkpoint saved after it; `pos<N>` rewinds the log to N."""
        position = log_position(name)

        def apply(metadata: dict[str, Any]) -> bool:
            if position is not None:
                log = self._log(metadata, procedure_id)
                kept = [json.loads(model_json(e)) for e in log if e.position < position]
                metadata[EXECUTION_LOG] = kept
                return True
            checkpoints = self.value(metadata, CHECKPOINTS, {}, procedure_id)
            if name not in checkpoints:
                return False
            names = list(checkpoints)
            metadata[CHECKPOINTS] = {n: checkpoints[n] for n in names[: names.index(name)]}
            return True

        self.edit_metadata(procedure_id, apply)
