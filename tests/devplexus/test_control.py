"""The control API: answering as the dashboard does, records, stats, reset."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.devplexus.helpers import Plexus, control_envelope

CREATE_MESSAGE = """
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) { id }
}
"""
CREATE_PROCEDURE = """
mutation CreateProcedure($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }
"""

#: Per request type: (pending humanInteraction, action, text, value the dashboard writes).
VALUE_SHAPES = [
    ("approval", "PENDING_APPROVAL", "approve", None, True),
    ("approval", "PENDING_APPROVAL", "reject", "too risky", False),
    ("input", "PENDING_INPUT", None, "eu-west-1", "eu-west-1"),
    ("input", "PENDING_INPUT", None, None, ""),
    (
        "review",
        "PENDING_REVIEW",
        "approve",
        "ship it",
        {"decision": "approve", "feedback": "ship it"},
    ),
    (
        "review",
        "PENDING_REVIEW",
        "request_changes",
        "fix the title",
        {"decision": "request_changes", "feedback": "fix the title"},
    ),
    (
        "escalation",
        "PENDING_ESCALATION",
        "acknowledge",
        "on it",
        {"acknowledged": True, "action": "acknowledge", "note": "on it"},
    ),
    ("select", "PENDING_INPUT", None, "blue", {"action": "submit", "input": "blue"}),
]


async def pending_request(
    plexus: Plexus, request_type: str, interaction: str, envelope: dict[str, Any] | None = None
) -> tuple[str, str]:
    """A procedure with a PENDING_* message as Plexus's HITL adapter writes it."""
    account = plexus.server.account_id
    procedure = await plexus.execute(
        CREATE_PROCEDURE, {"input": {"name": "Deploy", "accountId": account}}
    )
    pid = procedure["createProcedure"]["id"]
    control = envelope if envelope is not None else control_envelope(pid, request_type)
    message = await plexus.execute(
        CREATE_MESSAGE,
        {
            "input": {
                "sessionId": "session-1",
                "procedureId": pid,
                "accountId": account,
                "role": "ASSISTANT",
                "content": "Deploy api v1.2.3?",
                "messageType": "MESSAGE",
                "humanInteraction": interaction,
                "sequenceNumber": 2,
                "metadata": json.dumps({"control": control}),
                "responseTarget": pid,
                "responseStatus": "PENDING",
            }
        },
    )
    return pid, message["createChatMessage"]["id"]


@pytest.mark.parametrize(("request_type", "interaction", "action", "text", "value"), VALUE_SHAPES)
async def test_respond_writes_the_dashboards_row_for_each_request_type(
    plexus: Plexus,
    clock: FakeClock,
    request_type: str,
    interaction: str,
    action: str | None,
    text: str | None,
    value: Any,
) -> None:
    pid, pending = await pending_request(plexus, request_type, interaction)
    clock.advance(42)
    answer = await plexus.control(
        "respond", {"message_id": pending, "action": action, "text": text, "user_id": "u-bob"}
    )
    row = answer["message"]
    assert json.loads(row["content"]) == {"value": value}
    metadata = json.loads(row["metadata"])
    assert metadata == {
        "attribution": {"actorType": "user", "userId": "u-bob"},
        "control": {
            "request_id": f"{pid}:run12345:pos0",
            "procedure_id": pid,
            "request_type": request_type,
            "response_type": {
                "PENDING_APPROVAL": "approval",
                "PENDING_INPUT": "input",
                "PENDING_REVIEW": "review",
                "PENDING_ESCALATION": "escalation",
            }[interaction],
            "pending_message_id": pending,
            "value": value,
            "responded_at": "2026-03-14T09:27:35.000Z",
            "responder": "dashboard-procedure-conversation",
        },
    }
    stored = plexus.server.records("ChatMessage", id=row["id"])
    assert stored == [row]


async def test_respond_copies_the_pending_rows_ids_and_marks_the_response(
    plexus: Plexus, clock: FakeClock
) -> None:
    pid, pending = await pending_request(plexus, "approval", "PENDING_APPROVAL")
    clock.advance(5)
    row = (await plexus.control("respond", {"message_id": pending, "action": "reject"}))["message"]
    expected = {
        "accountId": plexus.server.account_id,
        "sessionId": "session-1",
        "procedureId": pid,
        "parentMessageId": pending,
        "role": "USER",
        "messageType": "MESSAGE",
        "humanInteraction": "RESPONSE",
        "responseTarget": "cloud",
        "responseStatus": "PENDING",
        "createdAt": "2026-03-14T09:26:58.000Z",
        "createdByUserId": "dev-user",  # the configured dashboard user
    }
    assert {key: row.get(key) for key in expected} == expected


async def test_respond_refuses_what_the_dashboard_refuses(plexus: Plexus) -> None:
    for missing in ("request_id", "procedure_id", "request_type"):
        envelope = control_envelope("p-1", "approval")
        del envelope[missing]
        _, pending = await pending_request(plexus, "approval", "PENDING_APPROVAL", envelope)
        refused = await plexus.control(
            "respond", {"message_id": pending, "action": "approve"}, status=422
        )
        assert refused["error"] == "missing_control"
        assert missing in refused["detail"]
    assert [m for m in plexus.server.records("ChatMessage") if m.get("parentMessageId")] == []

    _, pending = await pending_request(plexus, "approval", "PENDING_APPROVAL")
    wrong = await plexus.control("respond", {"message_id": pending, "action": "maybe"}, status=400)
    assert wrong["error"] == "invalid_action" and "approve, reject" in wrong["detail"]
    await plexus.control("respond", {"message_id": pending, "action": "approve"})
    again = await plexus.control("respond", {"message_id": pending, "action": "reject"}, status=409)
    assert again["error"] == "already_answered"
    missing = await plexus.control("respond", {"message_id": "nope"}, status=404)
    assert missing["error"] == "not_found"
    await plexus.control("respond", {"action": "approve"}, status=400)


async def test_a_cancelled_request_cannot_be_answered(plexus: Plexus) -> None:
    _, pending = await pending_request(plexus, "input", "PENDING_INPUT")
    cancel = (
        "mutation C($input: UpdateChatMessageInput!) { updateChatMessage(input: $input) { id } }"
    )
    await plexus.execute(cancel, {"input": {"id": pending, "humanInteraction": "CANCELLED"}})
    refused = await plexus.control("respond", {"message_id": pending, "text": "x"}, status=409)
    assert refused["error"] == "not_pending"


async def test_records_stats_and_reset(plexus: Plexus) -> None:
    pid, pending = await pending_request(plexus, "approval", "PENDING_APPROVAL")
    procedures = await plexus.control("records/Procedure")
    assert [p["id"] for p in procedures["items"]] == [pid]
    one = await plexus.control(f"records/ChatMessage/{pending}")
    assert json.loads(one["item"]["metadata"])["control"]["request_type"] == "approval"
    filtered = await plexus.control(f"records/ChatMessage?procedureId={pid}")
    assert [m["id"] for m in filtered["items"]] == [pending]
    await plexus.control("records/Nope", status=404)
    await plexus.control("records/ChatMessage/nope", status=404)
    await plexus.control("records/ChatMessage?nope=1", status=400)

    stats = await plexus.control("stats")
    assert stats["operations"]["CreateProcedure"] == {"calls": 1, "errors": 0, "faults": 0}
    assert stats["fields"]["createChatMessage"] == {"calls": 1, "errors": 0}
    assert [r["operation"] for r in stats["requests"]] == ["CreateProcedure", "CreateChatMessage"]

    info = await plexus.control("info")
    assert info["env"] == plexus.server.env
    assert info["account"]["key"] == "dev"

    await plexus.control("reset", {})
    assert (await plexus.control("records/Procedure"))["items"] == []
    assert [a["key"] for a in (await plexus.control("records/Account"))["items"]] == ["dev"]
    assert (await plexus.control("stats"))["requests"] == []


async def test_the_dashboard_view_shows_pending_rows_with_their_controls(
    plexus: Plexus, clock: FakeClock
) -> None:
    pid, pending = await pending_request(plexus, "review", "PENDING_REVIEW")
    view = await plexus.control("dashboard")
    [procedure] = view["procedures"]
    assert procedure["id"] == pid
    [session] = procedure["sessions"]  # named by the message, never created: still shown
    assert (session["id"], session["missing"]) == ("session-1", True)
    [row] = session["messages"]
    assert (row["pending"], row["answered"], row["refusal"]) == (True, False, None)
    assert row["controls"] == {
        "buttons": [
            {"action": "approve", "label": "Approve", "style": "primary"},
            {"action": "request_changes", "label": "Request changes", "style": ""},
        ],
        "text_label": "Feedback",
    }

    clock.advance(10)
    await plexus.control("respond", {"message_id": pending, "action": "approve", "text": "ok"})
    [session] = (await plexus.control("dashboard"))["procedures"][0]["sessions"]
    asked, answer = session["messages"]
    assert (asked["answered"], asked["controls"]) == (True, None)
    assert answer["response"] == {
        "value": {"decision": "approve", "feedback": "ok"},
        "responder": "dashboard-procedure-conversation",
        "user": "dev-user",
    }
