"""Answering a pending request exactly as Plexus's dashboard does.

Plexus's dashboard (`conversation-viewer.tsx::submitHitlResponse` with `procedure-hitl.ts`)
answers a `PENDING_*` ChatMessage by creating a RESPONSE child: role USER, the value in
`content` and in `metadata.control`, `responseTarget` 'cloud', `responseStatus` PENDING,
`createdAt` the moment of the answer. It refuses a pending row whose `metadata.control`
lacks `request_id`, `procedure_id` or `request_type`. Both the page and the control API go
through here, so what a test writes is what a person clicking writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: `mapPendingInteractionToRequestType`; anything else counts as "input".
PENDING_TYPES = {
    "PENDING_APPROVAL": "approval",
    "PENDING_INPUT": "input",
    "PENDING_REVIEW": "review",
    "PENDING_ESCALATION": "escalation",
}
#: The buttons the dashboard shows per request type, as (action, label, style).
BUTTONS: dict[str, list[tuple[str | None, str, str]]] = {
    "approval": [("approve", "Approve", "primary"), ("reject", "Reject", "danger")],
    "input": [(None, "Submit", "primary")],
    "review": [("approve", "Approve", "primary"), ("request_changes", "Request changes", "")],
    "escalation": [("acknowledge", "Acknowledge", "primary")],
    "other": [(None, "Submit", "primary")],
}
#: The label of the text box per request type (approvals have none).
TEXT_LABELS = {"input": "Answer", "review": "Feedback", "escalation": "Note", "other": "Answer"}
_CONTROL_KEYS = ("request_id", "procedure_id", "request_type")
RESPONDER = "dashboard-procedure-conversation"


class RespondError(Exception):
    """An answer the dashboard would not write; `code` names why, `status` for HTTP."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def parse_metadata(metadata: Any) -> dict[str, Any] | None:
    """`parseMessageMetadata`: a mapping, or a JSON string holding one."""
    if isinstance(metadata, dict):
        return metadata
    if isinstance(metadata, str) and metadata.strip():
        try:
            parsed = json.loads(metadata)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def control_envelope(message: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """`getControlEnvelope`: the envelope, or why the dashboard will not answer this row."""
    metadata = parse_metadata(message.get("metadata"))
    control = metadata.get("control") if metadata else None
    if not isinstance(control, dict):
        return None, "Pending HITL message is missing canonical metadata.control envelope"
    for key in _CONTROL_KEYS:
        if not isinstance(control.get(key), str) or not control[key]:
            return None, f"Pending HITL message's metadata.control has no {key}"
    return control, None


def request_kind(request_type: str) -> str:
    kind = request_type.lower()
    return kind if kind in BUTTONS else "other"


def response_value(request_type: str, action: str | None, text: str | None) -> Any:
    """`buildResponseValue`: the value shape per request type."""
    kind = request_kind(request_type)
    if kind == "approval":
        return action == "approve"
    if kind == "input":
        return text if text is not None else ""
    if kind == "review":
        return {"decision": action or "approve", "feedback": text if text is not None else ""}
    if kind == "escalation":
        return {
            "acknowledged": True,
            "action": action or "acknowledge",
            "note": text if text is not None else "",
        }
    return {"action": action or "submit", "input": text if text is not None else ""}


@dataclass
class Answer:
    """One answer as the dashboard's controls produce it."""

    action: str | None
    text: str | None
    user_id: str | None  # the signed-in user; None leaves attribution out


def check_answerable(pending: dict[str, Any], answered: bool) -> dict[str, Any]:
    """The control envelope of a row that may be answered now, or a RespondError."""
    if pending.get("humanInteraction") not in PENDING_TYPES:
        raise RespondError(
            "not_pending",
            f"message {pending.get('id')} is {pending.get('humanInteraction')}, not a "
            "PENDING_* request",
            409,
        )
    if answered:
        raise RespondError("already_answered", f"message {pending['id']} is answered", 409)
    control, refusal = control_envelope(pending)
    if control is None:
        raise RespondError("missing_control", refusal or "no control envelope", 422)
    return control


def response_input(
    pending: dict[str, Any],
    control: dict[str, Any],
    answer: Answer,
    *,
    responded_at: str,
    response_target: str,
) -> dict[str, Any]:
    """The CreateChatMessageInput the dashboard sends for this answer."""
    kind = request_kind(control["request_type"])
    allowed = {action for action, _, _ in BUTTONS[kind]}
    if answer.action not in allowed:
        shown = sorted(a or "(none)" for a in allowed)
        raise RespondError(
            "invalid_action",
            f"a {control['request_type']} request has no {answer.action!r} control; "
            f"actions: {', '.join(shown)}",
        )
    value = response_value(control["request_type"], answer.action, answer.text)
    metadata: dict[str, Any] = {}
    if answer.user_id:
        metadata["attribution"] = {"actorType": "user", "userId": answer.user_id}
    metadata["control"] = {
        "request_id": control["request_id"],
        "procedure_id": control["procedure_id"],
        "request_type": control["request_type"],
        "response_type": PENDING_TYPES.get(pending.get("humanInteraction", ""), "input"),
        "pending_message_id": pending["id"],
        "value": value,
        "responded_at": responded_at,
        "responder": RESPONDER,
    }
    row = {
        "accountId": pending.get("accountId"),
        "sessionId": pending["sessionId"],
        "procedureId": pending.get("procedureId"),
        "parentMessageId": pending["id"],
        "role": "USER",
        "messageType": "MESSAGE",
        "humanInteraction": "RESPONSE",
        "content": json.dumps({"value": value}, separators=(",", ":")),
        "metadata": json.dumps(metadata, separators=(",", ":")),
        "responseTarget": response_target,
        "responseStatus": "PENDING",
        "createdAt": responded_at,
        "createdByUserId": answer.user_id,
    }
    # The Amplify client drops undefined fields: a missing id is absent, never null.
    return {key: value for key, value in row.items() if value is not None}
