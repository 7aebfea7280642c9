"""`SqlStore`: the durable `RunStore`, on SQLite by default and PostgreSQL when configured.

Every method is one transaction, so several processes can share the database. Semantics are
those of `runtime.memory_store.MemoryStore`; the two are tested by the same suite.

The exactly-once point, `record_response`, is a single conditional UPDATE whose row count says
who won: the database, not this process, decides between racing clicks, timeouts and replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Insert, Table, Text, cast, delete, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from adapters.sql.engine import Database
from adapters.sql.schema import (
    annotations,
    deliveries,
    execution_log,
    named_checkpoints,
    pending_requests,
    run_events,
    run_journal,
    run_state,
    runs,
)
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

_OPEN_REQUEST = (pending_requests.c.response.is_(None), pending_requests.c.cancelled == false())


def _row(model: BaseModel) -> dict[str, Any]:
    """A model as column values: JSON-ready data, except timestamps, which `UTCDateTime` takes."""
    row = model.model_dump(mode="json")
    row.update({name: value for name, value in model if isinstance(value, datetime)})
    return row


def _log_rows(run_id: str, entries: list[CheckpointEntry]) -> list[dict[str, Any]]:
    """One row per position; when a position repeats, the last entry wins (as in a dict)."""
    rows = {
        entry.position: {
            "run_id": run_id,
            "position": entry.position,
            "type": entry.type,
            "entry": model_json(entry),
        }
        for entry in entries
    }
    return list(rows.values())


class SqlStore(StateKeyMethods):
    """A `RunStore` in a SQL database (`sqlite:///path` or `postgresql://...`).

    Tables are created on open. An unusable database raises `StorageError` naming it.
    """

    def __init__(self, url: str = "sqlite:///hitlbot.db") -> None:
        self._db = Database(url)

    def close(self) -> None:
        """Release the connections. Other processes sharing the database are unaffected."""
        self._db.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- statements that differ by dialect --------------------------------------------------

    def _insert(self, table: Table) -> Insert:
        """INSERT with ON CONFLICT support; SQLite and PostgreSQL spell it the same way."""
        dialect = sqlite if self._db.is_sqlite else postgresql
        return dialect.insert(table)

    def _upsert(self, table: Table, *keys: str) -> Insert:
        statement = self._insert(table)
        changes = {c.name: statement.excluded[c.name] for c in table.c if c.name not in keys}
        return statement.on_conflict_do_update(index_elements=list(keys), set_=changes)

    def _insert_new(self, table: Table, *keys: str) -> Insert:
        return self._insert(table).on_conflict_do_nothing(index_elements=list(keys))

    # --- StorageBackend: metadata, status, state ----------------------------------------------

    def load_procedure_metadata(self, procedure_id: str) -> ProcedureMetadata:
        with self._db.read() as conn:
            entries = conn.scalars(
                select(execution_log.c.entry)
                .where(execution_log.c.run_id == procedure_id)
                .order_by(execution_log.c.position)
            ).all()
            state = self._state(conn, procedure_id)
            run = conn.execute(
                select(runs.c.status, runs.c.waiting_on_message_id).where(
                    runs.c.run_id == procedure_id
                )
            ).first()
        status, waiting_on = (
            (run.status, run.waiting_on_message_id) if run else (RunStatus.RUNNING.value, None)
        )
        return ProcedureMetadata(
            procedure_id=procedure_id,
            execution_log=[CheckpointEntry.model_validate_json(text) for text in entries],
            state=state,
            status=status,
            waiting_on_message_id=waiting_on,
        )

    def save_procedure_metadata(
        self, procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None = None
    ) -> None:
        run_id, metadata = metadata_arguments(procedure_id, metadata)
        status = run_status(metadata.status)
        rows = _log_rows(run_id, metadata.execution_log)
        with self._db.write() as conn:
            conn.execute(delete(execution_log).where(execution_log.c.run_id == run_id))
            if rows:
                conn.execute(execution_log.insert(), rows)
            self._put_state(conn, run_id, metadata.state)
            self._set_status(conn, run_id, status, metadata.waiting_on_message_id)

    def update_procedure_status(
        self, procedure_id: str, status: str, waiting_on_message_id: str | None = None
    ) -> None:
        checked = run_status(status)
        with self._db.write() as conn:
            self._set_status(conn, procedure_id, checked, waiting_on_message_id)

    def _set_status(
        self, conn: Connection, run_id: str, status: RunStatus, waiting_on: str | None
    ) -> None:
        """Update the run row if there is one (no row, nothing to update: not an error)."""
        conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(status=status.value, waiting_on_message_id=waiting_on, updated_at=utc_now())
        )

    def get_state(self, procedure_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            return self._state(conn, procedure_id)

    def set_state(self, procedure_id: str, state: dict[str, Any]) -> None:
        with self._db.write() as conn:
            self._put_state(conn, procedure_id, state)

    def state_clear(self, procedure_id: str) -> None:
        self.set_state(procedure_id, {})

    def _edit_state(self, run_id: str, edit: Callable[[dict[str, Any]], object]) -> None:
        """Read-modify-write under the write lock (FOR UPDATE on PostgreSQL): no lost updates."""
        with self._db.write() as conn:
            state = self._state(conn, run_id, for_update=True)
            edit(state)
            self._put_state(conn, run_id, state)

    def _state(self, conn: Connection, run_id: str, *, for_update: bool = False) -> dict[str, Any]:
        query = select(run_state.c.state).where(run_state.c.run_id == run_id)
        state = conn.scalar(query.with_for_update() if for_update else query)
        return state if state is not None else {}

    def _put_state(self, conn: Connection, run_id: str, state: dict[str, Any]) -> None:
        conn.execute(self._upsert(run_state, "run_id").values(run_id=run_id, state=state))

    # --- StorageBackend: checkpoints ----------------------------------------------------------

    def checkpoint_save(self, procedure_id: str, name: str, result: Any) -> None:
        check_checkpoint_name(name)
        table = named_checkpoints
        mine = table.c.run_id == procedure_id
        with self._db.write() as conn:
            # Saving again makes it the latest, so it moves to the end of the save order.
            seq = conn.scalar(select(func.coalesce(func.max(table.c.seq), 0) + 1).where(mine))
            conn.execute(delete(table).where(mine, table.c.name == name))
            conn.execute(
                table.insert().values(run_id=procedure_id, name=name, seq=seq, result=result)
            )

    def checkpoint_get(self, procedure_id: str, name: str) -> Any | None:
        position = log_position(name)
        with self._db.read() as conn:
            if position is None:
                return conn.scalar(self._named(procedure_id, name, named_checkpoints.c.result))
            entry = conn.scalar(self._position(procedure_id, position, execution_log.c.entry))
        return CheckpointEntry.model_validate_json(entry).result if entry else None

    def checkpoint_exists(self, procedure_id: str, name: str) -> bool:
        position = log_position(name)
        with self._db.read() as conn:
            if position is None:
                found = conn.scalar(self._named(procedure_id, name, named_checkpoints.c.seq))
            else:
                found = conn.scalar(self._position(procedure_id, position, execution_log.c.type))
        return found is not None

    def _named(self, run_id: str, name: str, column: Any) -> Any:
        table = named_checkpoints
        return select(column).where(table.c.run_id == run_id, table.c.name == name)

    def _position(self, run_id: str, position: int, column: Any) -> Any:
        log = execution_log
        return select(column).where(log.c.run_id == run_id, log.c.position == position)

    def checkpoint_clear_all(self, procedure_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(execution_log).where(execution_log.c.run_id == procedure_id))
            conn.execute(
                delete(named_checkpoints).where(named_checkpoints.c.run_id == procedure_id)
            )

    def checkpoint_clear_after(self, procedure_id: str, name: str) -> None:
        position = log_position(name)
        with self._db.write() as conn:
            if position is not None:
                log = execution_log
                conn.execute(
                    delete(log).where(log.c.run_id == procedure_id, log.c.position >= position)
                )
                return
            table = named_checkpoints
            mine = table.c.run_id == procedure_id
            seq = conn.scalar(select(table.c.seq).where(mine, table.c.name == name))
            if seq is not None:
                conn.execute(delete(table).where(mine, table.c.seq >= seq))

    # --- RunStore: runs -----------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(runs.insert().values(_row(run)))
                self._journal(conn, [journal_start(run)])
        except IntegrityError:
            raise ValueError(f"run {run.run_id!r} already exists") from None

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
        return RunRecord.model_validate(dict(row._mapping)) if row else None

    def find_runs(self, run_id_prefix: str) -> list[RunRecord]:
        # substr, not LIKE: LIKE is case-insensitive on SQLite and treats `_` and `%` specially.
        prefix = func.substr(runs.c.run_id, 1, len(run_id_prefix))
        return self._select_runs(prefix == run_id_prefix if run_id_prefix else None, limit=None)

    def list_runs(self, *, limit: int = 100, status: RunStatus | None = None) -> list[RunRecord]:
        condition = runs.c.status == RunStatus(status).value if status is not None else None
        return self._select_runs(condition, limit=max(limit, 0))

    def _select_runs(self, condition: Any, *, limit: int | None) -> list[RunRecord]:
        query = select(runs).order_by(runs.c.updated_at.desc(), runs.c.run_id.desc())
        if condition is not None:
            query = query.where(condition)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [RunRecord.model_validate(dict(row._mapping)) for row in rows]

    def commit_execution(
        self,
        run: RunRecord,
        *,
        log_entries: list[CheckpointEntry],
        state: dict[str, Any] | None,
        events: list[RunEvent],
        requests: list[PendingRequest],
    ) -> None:
        run_row = _row(run.model_copy(update={"updated_at": utc_now()}))
        log_rows = _log_rows(run.run_id, log_entries)
        with self._db.write() as conn:
            conn.execute(self._upsert(runs, "run_id").values(run_row))
            if log_rows:
                conn.execute(self._upsert(execution_log, "run_id", "position"), log_rows)
            if state is not None:
                self._put_state(conn, run.run_id, state)
            if events:
                rows = [_row(event) for event in events]
                conn.execute(self._insert_new(run_events, "run_id", "seq"), rows)
            if requests:
                rows = [_row(request) for request in requests]
                conn.execute(self._insert_new(pending_requests, "request_id"), rows)
            self._journal(conn, journal_commit(run, events, requests))

    # --- RunStore: requests and events --------------------------------------------------------

    def save_request(self, request: PendingRequest) -> None:
        with self._db.write() as conn:
            conn.execute(self._insert_new(pending_requests, "request_id").values(_row(request)))

    def get_request(self, request_id: str) -> PendingRequest | None:
        query = select(pending_requests).where(pending_requests.c.request_id == request_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return PendingRequest.model_validate(dict(row._mapping)) if row else None

    def list_requests(
        self, *, run_id: str | None = None, pending_only: bool = False
    ) -> list[PendingRequest]:
        table = pending_requests
        query = select(table).order_by(table.c.created_at, table.c.id)
        if run_id is not None:
            query = query.where(table.c.run_id == run_id)
        if pending_only:
            query = query.where(*_OPEN_REQUEST)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [PendingRequest.model_validate(dict(row._mapping)) for row in rows]

    def record_response(self, request_id: str, response: HITLResponse) -> bool:
        values = {"response": response.model_dump(mode="json")}
        return self._settle(
            request_id, values, lambda run_id: journal_answer(run_id, request_id, response)
        )

    def cancel_request(self, request_id: str) -> bool:
        return self._settle(
            request_id, {"cancelled": True}, lambda run_id: journal_cancel(run_id, request_id)
        )

    def _settle(
        self, request_id: str, values: dict[str, Any], entry: Callable[[str], JournalEntry]
    ) -> bool:
        """One conditional UPDATE on an open request; the one caller that changed a row won,
        and journals it in the same transaction."""
        table = pending_requests
        with self._db.write() as conn:
            won = conn.execute(
                update(table)
                .where(table.c.request_id == request_id, *_OPEN_REQUEST)
                .values(values)
                .returning(table.c.run_id)
            ).first()
            if won is not None:
                self._journal(conn, [entry(won.run_id)])
        return won is not None

    def _journal(self, conn: Connection, entries: list[JournalEntry]) -> None:
        rows = [
            {"run_id": e.run_id, "kind": e.kind, "data": e.data, "created_at": e.created_at}
            for e in entries
        ]
        if rows:
            conn.execute(run_journal.insert(), rows)

    def read_journal(self, after: int, *, limit: int = 500) -> list[JournalEntry]:
        query = (
            select(run_journal)
            .where(run_journal.c.id > after)
            .order_by(run_journal.c.id)
            .limit(max(limit, 0))
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [JournalEntry.model_validate(dict(row._mapping)) for row in rows]

    def forget_journal(self, through: int) -> int:
        with self._db.write() as conn:
            return conn.execute(delete(run_journal).where(run_journal.c.id <= through)).rowcount

    def list_events(self, run_id: str) -> list[RunEvent]:
        query = select(run_events).where(run_events.c.run_id == run_id).order_by(run_events.c.seq)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [RunEvent.model_validate(dict(row._mapping)) for row in rows]

    def load_execution(self, run_id: str) -> StoredExecution:
        events, log, requests = run_events, execution_log, pending_requests
        with self._db.read() as conn:
            entries = conn.scalars(
                select(log.c.entry).where(log.c.run_id == run_id).order_by(log.c.position)
            ).all()
            count, event_bytes, next_seq = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(func.length(cast(events.c.payload, Text))), 0),
                    func.coalesce(func.max(events.c.seq) + 1, 0),
                ).where(events.c.run_id == run_id)
            ).one()
            request_bytes = conn.scalar(
                select(
                    func.coalesce(func.sum(func.length(cast(requests.c.request, Text))), 0)
                ).where(requests.c.run_id == run_id)
            )
        usage = RunUsage(
            events=count,
            event_bytes=event_bytes + ENTRY_OVERHEAD * count,
            next_event_seq=next_seq,
            log_entries=len(entries),
            log_bytes=sum(len(entry) for entry in entries) + request_bytes,
        )
        return StoredExecution(log_json="[" + ",".join(entries) + "]", usage=usage)

    # --- annotations: hosts' notes about runs --------------------------------------------------

    def set_annotation(self, run_id: str, key: str, value: Any) -> None:
        row = {"run_id": run_id, "key": key, "value": value}
        statement = self._insert(annotations).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": statement.excluded.value}
        )
        with self._db.write() as conn:
            conn.execute(statement)

    def get_annotation(self, run_id: str, key: str) -> Any | None:
        query = select(annotations.c.value).where(
            annotations.c.run_id == run_id, annotations.c.key == key
        )
        with self._db.read() as conn:
            return conn.scalars(query).first()

    def claim_annotation(self, run_id: str, key: str, value: Any) -> bool:
        row = {"run_id": run_id, "key": key, "value": value}
        statement = self._insert(annotations).values(row)
        statement = statement.on_conflict_do_nothing(index_elements=["run_id", "key"])
        with self._db.write() as conn:
            return conn.execute(statement).rowcount == 1

    def list_annotations(
        self, key_prefix: str, *, run_id: str | None = None
    ) -> list[tuple[str, str, Any]]:
        table = annotations
        query = select(table.c.run_id, table.c.key, table.c.value).order_by(table.c.id)
        query = query.where(func.substr(table.c.key, 1, len(key_prefix)) == key_prefix)
        if run_id is not None:
            query = query.where(table.c.run_id == run_id)
        with self._db.read() as conn:
            return [(row.run_id, row.key, row.value) for row in conn.execute(query)]

    def delete_annotation(self, run_id: str, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                delete(annotations).where(annotations.c.run_id == run_id, annotations.c.key == key)
            )

    # --- deliveries: what a host has already received ------------------------------------------

    def claim_delivery(
        self, key: str, seen_at: datetime, *, owner: str | None = None, body: Any = None
    ) -> bool:
        row = {"key": key, "seen_at": seen_at, "owner": owner, "body": body}
        statement = self._insert_new(deliveries, "key").values(row)
        with self._db.write() as conn:
            return conn.execute(statement).rowcount == 1

    def finish_delivery(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(update(deliveries).where(deliveries.c.key == key).values(body=None))

    def unfinished_deliveries(self) -> list[tuple[str, str | None, Any]]:
        table = deliveries
        query = (
            select(table.c.key, table.c.owner, table.c.body)
            .where(table.c.body.is_not(None))
            .order_by(table.c.seen_at, table.c.key)
        )
        with self._db.read() as conn:
            return [(row.key, row.owner, row.body) for row in conn.execute(query)]

    def take_delivery(self, key: str, owner: str | None, new_owner: str) -> bool:
        table = deliveries
        mine = table.c.key == key
        was = table.c.owner.is_(None) if owner is None else table.c.owner == owner
        with self._db.write() as conn:
            taken = conn.execute(
                update(table).where(mine, was, table.c.body.is_not(None)).values(owner=new_owner)
            )
        return taken.rowcount == 1

    def forget_deliveries(self, before: datetime) -> int:
        with self._db.write() as conn:
            return conn.execute(delete(deliveries).where(deliveries.c.seen_at < before)).rowcount

    def delete_annotation_if(self, run_id: str, key: str, expected: Any) -> bool:
        # Compared in Python within the write transaction (BEGIN IMMEDIATE on SQLite, a row
        # lock on PostgreSQL): JSON columns have no portable equality in SQL.
        mine = (annotations.c.run_id == run_id, annotations.c.key == key)
        with self._db.write() as conn:
            row = conn.execute(select(annotations.c.value).where(*mine).with_for_update()).first()
            if row is None or row.value != expected:
                return False
            conn.execute(delete(annotations).where(*mine))
        return True
