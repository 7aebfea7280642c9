"""Tactus-shaped pydantic models: the records a run is made of.

Field names follow Tactus 0.53.4 (`protocols/models.py`, `protocols/hitl.py`,
`protocols/chat_recorder.py`) so that data written here reads the same way in Tactus and Plexus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class RunStatus(StrEnum):
    """Lifecycle of a run. The runtime sets these; Tactus leaves them to the host."""

    RUNNING = "RUNNING"
    WAITING_FOR_HUMAN = "WAITING_FOR_HUMAN"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class HITLRequest(BaseModel):
    """What a blocking `Human.*` call asks for. Same fields as Tactus's `HITLRequest`."""

    request_type: str
    message: str
    timeout_seconds: int | None = None
    default_value: Any = None
    options: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class HITLResponse(BaseModel):
    """A human's (or a timeout's) answer. `responder` is ours; Tactus drops responder fields."""

    model_config = ConfigDict(extra="ignore")

    value: Any = None
    responded_at: datetime = Field(default_factory=utc_now)
    timed_out: bool = False
    responder: str | None = None


class SourceLocation(BaseModel):
    file: str
    line: int
    function: str | None = None
    code_context: str | None = None


class CheckpointEntry(BaseModel):
    """One position of the execution log.

    `input_hash` holds the fingerprint of the call made at this position (kind plus request);
    replay compares it to detect a procedure that no longer makes the same call.
    `result` is plain JSON data; for HITL positions it is a dumped `HITLResponse`, or None while
    the request is pending.
    """

    position: int
    type: str
    result: Any = None
    timestamp: datetime = Field(default_factory=utc_now)
    duration_ms: float | None = None
    input_hash: str | None = None
    run_id: str | None = None
    source_location: SourceLocation | None = None
    captured_vars: dict[str, Any] | None = None


class ProcedureMetadata(BaseModel):
    """Everything durable about one run's execution, as Tactus keeps it."""

    procedure_id: str
    execution_log: list[CheckpointEntry] = Field(default_factory=list)
    replay_index: int = 0
    state: dict[str, Any] = Field(default_factory=dict)
    lua_state: dict[str, Any] = Field(default_factory=dict)
    status: str = RunStatus.RUNNING.value
    waiting_on_message_id: str | None = None


class MessageClassification(StrEnum):
    INTERNAL = "INTERNAL"
    CHAT = "CHAT"
    CHAT_ASSISTANT = "CHAT_ASSISTANT"
    NOTIFICATION = "NOTIFICATION"
    ALERT_INFO = "ALERT_INFO"
    ALERT_WARNING = "ALERT_WARNING"
    ALERT_ERROR = "ALERT_ERROR"
    ALERT_CRITICAL = "ALERT_CRITICAL"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    PENDING_INPUT = "PENDING_INPUT"
    PENDING_REVIEW = "PENDING_REVIEW"
    PENDING_ESCALATION = "PENDING_ESCALATION"
    RESPONSE = "RESPONSE"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"


class ChatMessage(BaseModel):
    """A message of a run's conversation, as Tactus's ChatRecorder protocol carries it."""

    role: str
    content: str
    message_type: str = "MESSAGE"
    tool_name: str | None = None
    tool_parameters: dict[str, Any] | None = None
    tool_response: dict[str, Any] | None = None
    parent_message_id: str | None = None
    human_interaction: str | None = None
    classification: MessageClassification | None = None
    metadata: dict[str, Any] | None = None


class PendingRequest(BaseModel):
    """A request waiting for (or holding) its answer. Keyed by the stable `request_id`.

    Answers are recorded exactly once: stores implement `record_response` as a
    compare-and-set on `response is None`.
    """

    request_id: str
    run_id: str
    procedure_id: str
    position: int
    request: HITLRequest
    created_at: datetime = Field(default_factory=utc_now)
    response: HITLResponse | None = None
    cancelled: bool = False


class RunEvent(BaseModel):
    """A non-blocking side effect a run emitted: a notification, a log line, an alert.

    Emitted once per run, never again on replay; stores keep them in order (`seq`).
    """

    run_id: str
    seq: int
    kind: str  # "notify" | "log" | "alert"
    payload: dict[str, Any]
    created_at: datetime = Field(default_factory=utc_now)


class RunRecord(BaseModel):
    """A run of a procedure: who started what, with which params, and how it ended."""

    run_id: str
    procedure_id: str
    source_path: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = RunStatus.RUNNING
    waiting_on_message_id: str | None = None
    result: Any = None
    error: str | None = None
    started_by: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class RunUsage(BaseModel):
    """What a run has stored so far, measured against its quotas (see `runtime.quotas`)."""

    events: int = 0
    event_bytes: int = 0
    next_event_seq: int = 0
    log_entries: int = 0
    log_bytes: int = 0


class StoredExecution(BaseModel):
    """What the next execution of a run starts from, read in one go: its execution log as
    stored (a JSON array, parsed only by whoever executes) and what the run stored so far."""

    log_json: str = "[]"
    usage: RunUsage = Field(default_factory=RunUsage)


class JournalEntry(BaseModel):
    """One thing that happened to a run, in the order it happened: the run journal.

    Stores append entries in the same transaction as the change they describe, so whoever
    shows runs somewhere (Slack, Plexus) can follow the journal with a cursor of its own and
    miss nothing, whichever process made the change. `kind` is one of `JOURNAL_KINDS`.
    """

    id: int = 0
    """The store's order of entries (set when stored; increasing)."""
    run_id: str
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)


JOURNAL_KINDS = ("started", "request", "event", "answered", "cancelled", "status")
"""started: a run was created ({procedure_id, source_path, params, started_by});
request: it asks a person ({request_id, position, request});
event: it notified or alerted ({seq, kind, payload});
answered: a request got its answer ({request_id, response}), from anyone, or a timeout;
cancelled: a request was withdrawn ({request_id});
status: an execution ended, or the run was ended ({status, waiting_on_message_id, result,
error})."""
