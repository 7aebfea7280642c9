"""The tables of the SQL store.

Column names are the field names of the runtime's models, so a row converts to a model and
back without a mapping table. One execution-log entry is one row: appending a position is one
INSERT, not a rewrite of the whole log, and loading a log is one indexed range scan. The log is
the hot path, so its entries are kept whole as JSON text; the other tables have a column per
field, for people and queries that look at them.

Only portable types are used (strings, integers, floats, booleans, `JSON`, and timestamps kept
as naive UTC by `UTCDateTime`), so the same schema works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from runtime.store_rules import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in, aware UTC datetimes out, on every database.

    SQLite has no time zones and silently drops an offset, so the value is converted to UTC
    and stored naive; reading it back attaches UTC again.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def _json() -> JSON:
    """JSON whose Python None is SQL NULL, so `response IS NULL` means "not answered"."""
    return JSON(none_as_null=True)


metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("procedure_id", String(256), nullable=False),
    Column("source_path", Text),
    Column("params", _json()),
    Column("status", String(32), nullable=False),
    Column("waiting_on_message_id", String(512)),
    Column("result", _json()),
    Column("error", Text),
    Column("started_by", String(256)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_runs_updated_at", "updated_at"),
    Index("ix_runs_status_updated_at", "status", "updated_at"),
)

run_state = Table(
    "run_state",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("state", _json(), nullable=False),
)

execution_log = Table(
    "execution_log",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    # The whole CheckpointEntry as JSON text, parsed by pydantic's native JSON parser: loading
    # a 1000-entry log costs a few milliseconds, against three times that column by column.
    Column("entry", Text, nullable=False),
)

named_checkpoints = Table(
    "named_checkpoints",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("seq", Integer, nullable=False),  # save order, for checkpoint_clear_after
    Column("result", _json()),
)

pending_requests = Table(
    "pending_requests",
    metadata,
    # The surrogate key only orders requests created in the same microsecond.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(512), nullable=False, unique=True),
    Column("run_id", String(128), nullable=False),
    Column("procedure_id", String(256), nullable=False),
    Column("position", Integer, nullable=False),
    Column("request", _json(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("response", _json()),
    Column("cancelled", Boolean, nullable=False, default=False),
    Index("ix_pending_requests_run_id", "run_id", "created_at"),
)

annotations = Table(
    "annotations",
    metadata,
    # The surrogate key keeps insertion order for `list_annotations`.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(128), nullable=False),
    Column("key", String(512), nullable=False),
    Column("value", _json()),
    Index("ux_annotations_run_key", "run_id", "key", unique=True),
    Index("ix_annotations_key", "key"),
)

run_events = Table(
    "run_events",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("payload", _json(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    # Named for what it is now, a journal of requests taken on: an earlier table of that
    # name without the owner and body must not be taken for this one.
    "intake",
    metadata,
    # What a host has received (`claim_delivery`): the primary key is the claim.
    Column("key", String(255), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    # Who took it on, and what to do again should they die first (NULL once done).
    Column("owner", String(64)),
    Column("body", _json()),
    Index("ix_intake_seen_at", "seen_at"),
)

run_journal = Table(
    "run_journal",
    metadata,
    # The order of the journal: ids only grow (AUTOINCREMENT on SQLite never reuses one).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", _json(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)
