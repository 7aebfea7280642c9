"""The request/response protocol Plexus carries on `ChatMessage` rows (its `control` envelope).

A request for a person is a `PENDING_*` message whose `metadata.control` says what is asked;
Plexus's dashboard answers it with a `RESPONSE` child whose `metadata.control.value` is the
answer. This module builds and reads those envelopes, and nothing else: no I/O.

Ours, beyond Plexus: message ids are derived from the request id (`pending_message_id`), so
the same request never becomes two messages whoever writes it and however often; answers are
checked against the request (`runtime.answers`), so the dashboard's words ("request_changes",
`{action, input}`) reach the procedure as the values it compares with.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.answers import DECISION_ALIASES, canonical_value, normalize_answer
from runtime.errors import AnswerError
from runtime.models import HITLRequest, HITLResponse

PENDING_INTERACTIONS = {
    "approval": "PENDING_APPROVAL",
    "input": "PENDING_INPUT",
    "review": "PENDING_REVIEW",
    "escalation": "PENDING_ESCALATION",
}
PENDING_STATES = frozenset(PENDING_INTERACTIONS.values())
# Where the dashboard and Plexus's CLI send answers (`NEXT_PUBLIC_CONSOLE_RESPONSE_TARGET`).
RESPONSE_TARGET = "cloud"
# Message ids are UUIDs in a namespace of our own, so ours never collide with Plexus's.
_MESSAGE_IDS = uuid.UUID("6f0c1b7e-2d4a-5c8e-9a31-7be2c3f4d5a6")


def iso_time(moment: datetime) -> str:
    """AWSDateTime as Plexus's writers send it (`2026-03-14T09:26:53.000Z`), so times written
    here and by the dashboard sort together as strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pending_interaction(request_type: str) -> str:
    """`humanInteraction` of a pending request: Plexus has four; every other kind is input."""
    return PENDING_INTERACTIONS.get(request_type, "PENDING_INPUT")


def pending_message_id(procedure_id: str, request_id: str) -> str:
    """The id of the pending message of `request_id` in the Plexus procedure `procedure_id`."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"{procedure_id}/{request_id}"))


def response_message_id(pending_id: str) -> str:
    """The id of the one answer this side may write to a pending message."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"{pending_id}/response"))


@dataclass(frozen=True)
class RequestContext:
    """Where a request comes from: what Plexus's envelope says besides the request itself."""

    request_id: str
    procedure_id: str  # the Plexus Procedure
    procedure_name: str
    invocation_id: str  # the run
    position: int
    created_at: datetime
    started_at: datetime | None = None  # when the run started
    source_file: str | None = None
    source_line: int | None = None  # the procedure line making the call, when known


def control_envelope(request: HITLRequest, context: RequestContext) -> dict[str, Any]:
    """`metadata.control` of a pending message, with every key Plexus's dashboard needs to
    show and answer it (`request_id`, `procedure_id`, `request_type`)."""
    started = context.started_at
    return {
        "request_id": context.request_id,
        "procedure_id": context.procedure_id,
        "procedure_name": context.procedure_name,
        "invocation_id": context.invocation_id,
        "request_type": request.request_type,
        "prompt": request.message,
        "options": request.options or [],
        "timeout_seconds": request.timeout_seconds,
        "default_value": request.default_value,
        "metadata": request.metadata,
        "runtime_context": {
            "source_line": context.source_line,
            "source_file": context.source_file,
            "checkpoint_position": context.position,
            "procedure_name": context.procedure_name,
            "invocation_id": context.invocation_id,
            "started_at": iso_time(started) if started else None,
            "elapsed_seconds": (
                (context.created_at - started).total_seconds() if started else None
            ),
            "backtrace": [],
        },
        "created_at": iso_time(context.created_at),
    }


def metadata_of(row: dict[str, Any]) -> dict[str, Any]:
    """A message's metadata as a mapping (AWSJSON arrives as a string); {} when unreadable."""
    raw = row.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def control_of(row: dict[str, Any]) -> dict[str, Any] | None:
    control = metadata_of(row).get("control")
    return control if isinstance(control, dict) else None


def request_of(control: dict[str, Any]) -> HITLRequest:
    """The request a pending message's envelope describes (to check answers against)."""
    metadata = control.get("metadata")
    return HITLRequest(
        request_type=str(control.get("request_type") or "input"),
        message=str(control.get("prompt") or ""),
        timeout_seconds=control.get("timeout_seconds"),
        default_value=control.get("default_value"),
        options=control.get("options") or None,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


@dataclass(frozen=True)
class Answer:
    """An answer found under a pending message, ready for the runtime."""

    message_id: str
    response: HITLResponse
    created_at: str


def read_answer(row: dict[str, Any], request: HITLRequest) -> Answer:
    """The answer a RESPONSE row carries, checked against `request`.

    Raises `AnswerError` for a row that is not a canonical answer (no `metadata.control.value`)
    or whose value does not fit the request; the caller skips it and says why.
    """
    control = control_of(row)
    if control is None or "value" not in control:
        raise AnswerError("it has no metadata.control.value")
    timed_out = bool(control.get("timed_out"))
    value = control["value"]
    if not timed_out:
        value = normalize_answer(request, dashboard_value(request, value))
    responded_at = control.get("responded_at") or row.get("createdAt")
    fields: dict[str, Any] = {"value": value, "timed_out": timed_out}
    if responded_at:
        fields["responded_at"] = responded_at
    responder = responder_of(row, control)
    if responder:
        fields["responder"] = str(responder)
    try:
        response = HITLResponse(**fields)
    except ValueError:
        raise AnswerError(f"its responded_at {responded_at!r} is not a date") from None
    return Answer(message_id=str(row["id"]), response=response, created_at=row["createdAt"])


def responder_of(row: dict[str, Any], control: dict[str, Any]) -> str | None:
    """Who answered: the signed-in user the dashboard names, else the envelope's responder."""
    attribution = metadata_of(row).get("attribution")
    user = attribution.get("userId") if isinstance(attribution, dict) else None
    found = row.get("createdByUserId") or user or control.get("responder")
    return str(found) if found else None


def dashboard_value(request: HITLRequest, value: Any) -> Any:
    """The dashboard's value shapes (plexus-graphql §6.3) in the runtime's vocabulary, ready
    for `runtime.answers.normalize_answer` (or the engine's `answer`)."""
    kind = request.request_type
    if kind == "review" and isinstance(value, dict):
        decision = canonical_value(value.get("decision", ""))
        decision = DECISION_ALIASES.get(decision, decision)
        offered = {canonical_value(option.get("value", "")) for option in request.options or []}
        # "Request changes" on a review that offers no such option is its refusal.
        if decision == "request_changes" and decision not in offered and "reject" in offered:
            return {**value, "decision": "reject"}
        return value
    if (
        kind in ("select", "inputs")
        and isinstance(value, dict)
        and set(value)
        <= {
            "action",
            "input",
        }
    ):
        text = value.get("input", "")
        if kind == "inputs" and isinstance(text, str):
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    return value


def answer_row(
    pending: dict[str, Any],
    value: Any,
    *,
    responder: str,
    responded_at: datetime,
    timed_out: bool = False,
) -> dict[str, Any]:
    """A RESPONSE message answering `pending`, written as Plexus's dashboard writes one, so
    Plexus's readers (and ours) take it for a dashboard answer."""
    control = control_of(pending) or {}
    answer: dict[str, Any] = {
        "request_id": control.get("request_id"),
        "procedure_id": control.get("procedure_id") or pending.get("procedureId"),
        "request_type": control.get("request_type"),
        "response_type": control.get("request_type"),
        "pending_message_id": pending["id"],
        "value": value,
        "responded_at": iso_time(responded_at),
        "responder": responder,
    }
    if timed_out:
        answer["timed_out"] = True
    metadata: dict[str, Any] = {"control": answer}
    if not timed_out:
        metadata["attribution"] = {"actorType": "user", "userId": responder}
    row = {
        "id": response_message_id(pending["id"]),
        "sessionId": pending["sessionId"],
        "procedureId": pending.get("procedureId"),
        "parentMessageId": pending["id"],
        "role": "USER",
        "messageType": "MESSAGE",
        "humanInteraction": "RESPONSE",
        "content": json.dumps({"value": value}),
        "metadata": json.dumps(metadata),
        "responseTarget": RESPONSE_TARGET,
        "responseStatus": "PENDING",
        "createdAt": iso_time(responded_at),
    }
    if pending.get("accountId"):
        row["accountId"] = pending["accountId"]
    return row
