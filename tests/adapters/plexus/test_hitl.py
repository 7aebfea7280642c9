"""`PlexusHITLAdapter` against devplexus: pending rows as §6.2 says, answers as §6.3 writes them.

Requests come from the runtime's own `ExecutionContext` (the position and request id a
`Human.*` call has); answers are given through devplexus's dashboard (`plexus.respond`),
which writes exactly what Plexus's dashboard writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.plexus import (
    PlexusChatRecorder,
    PlexusClient,
    PlexusHITLAdapter,
    PlexusNotFoundError,
    PlexusUnavailableError,
)
from runtime.context import ExecutionContext
from runtime.errors import AnswerError, HitlbotError, ProcedureWaitingForHuman
from runtime.hitl import RequestCancelledError
from runtime.models import HITLRequest, HITLResponse, PendingRequest, RunRecord
from runtime.protocols import HITLHandler
from tests.adapters.plexus.conftest import PlexusControl, graphql
from tests.conftest import FakeClock

RUN_ID = "5eed1e55c0ffee0000000000000000aa"
APPROVAL = HITLRequest(
    request_type="approval",
    message="Restart api-7?",
    timeout_seconds=900,
    default_value=False,
    metadata={"host": "api-7"},
)
REVIEW = HITLRequest(
    request_type="review",
    message="Review the release notes",
    default_value={"decision": "reject", "edited_artifact": "notes", "feedback": ""},
    options=[
        {"label": "Approve", "value": "approve", "type": "action"},
        {"label": "Reject", "value": "reject", "type": "action"},
    ],
    metadata={"artifact": "notes", "artifact_type": "document", "context": {}},
)
ESCALATION = HITLRequest(
    request_type="escalation",
    message="Disk full on db-1",
    metadata={"severity": "critical", "context": {}},
)


def context(position: int = 0, clock: FakeClock | None = None) -> ExecutionContext:
    """What the runtime hands a handler for the `Human.*` call at `position`."""
    started = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    run = RunRecord(run_id=RUN_ID, procedure_id="restart", created_at=started)
    ctx = ExecutionContext(run, [], _no_handler, clock=clock or FakeClock())
    ctx.cursor = position
    return ctx


_no_handler: Any = None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hitl(client: PlexusClient, procedure_id: str, clock: FakeClock) -> PlexusHITLAdapter:
    return PlexusHITLAdapter(client, procedure_id, clock=clock)


def ask(hitl: PlexusHITLAdapter, request: HITLRequest, position: int = 0) -> str:
    """Ask; return the request id the run now waits on."""
    with pytest.raises(ProcedureWaitingForHuman) as waiting:
        hitl.request_interaction("restart", request, execution_context=context(position))
    return waiting.value.pending_message_id


def pending_rows(plexus: PlexusControl) -> list[dict[str, Any]]:
    rows = plexus.records("ChatMessage")
    return [r for r in rows if str(r["humanInteraction"]).startswith("PENDING_")]


def control(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["metadata"])["control"]


def test_implements_the_hitl_handler_protocol(hitl) -> None:
    assert isinstance(hitl, HITLHandler)


# -- posting a request ------------------------------------------------------------------------


def test_a_request_becomes_the_pending_message_plexus_writes(hitl, plexus, procedure_id) -> None:
    ctx = context()
    with pytest.raises(ProcedureWaitingForHuman) as waiting:
        hitl.request_interaction("restart", APPROVAL, execution_context=ctx)

    request_id = f"restart:{RUN_ID[:8]}:pos0"
    assert waiting.value.pending_message_id == request_id
    [row] = pending_rows(plexus)
    assert row["id"] == hitl.message_id_for(request_id)
    session = plexus.records("ChatSession", procedureId=procedure_id)
    assert [s["id"] for s in session] == [row["sessionId"]]
    assert (row["procedureId"], row["accountId"]) == (procedure_id, plexus.account_id)
    assert (row["role"], row["messageType"], row["content"]) == (
        "ASSISTANT",
        "MESSAGE",
        "Restart api-7?",
    )
    assert (row["humanInteraction"], row["responseStatus"]) == ("PENDING_APPROVAL", "PENDING")
    assert (row["responseTarget"], row["sequenceNumber"]) == (procedure_id, 1)
    envelope = control(row)
    assert envelope == {
        "request_id": request_id,
        "procedure_id": procedure_id,
        "procedure_name": "restart",
        "invocation_id": RUN_ID,
        "request_type": "approval",
        "prompt": "Restart api-7?",
        "options": [],
        "timeout_seconds": 900,
        "default_value": False,
        "metadata": {"host": "api-7"},
        "runtime_context": {
            "source_line": None,
            "source_file": "procedure",
            "checkpoint_position": 0,
            "procedure_name": "restart",
            "invocation_id": RUN_ID,
            "started_at": "2026-03-14T09:00:00.000Z",
            "elapsed_seconds": 1613.0,
            "backtrace": [],
        },
        "created_at": "2026-03-14T09:26:53.000Z",
    }
    procedure = plexus.record("Procedure", procedure_id)
    assert (procedure["status"], procedure["waitingOnMessageId"]) == (
        "WAITING_FOR_HUMAN",
        row["id"],
    )
    assert [r.request_id for r in ctx.new_requests] == [request_id]


@pytest.mark.parametrize(
    ("request_type", "interaction"),
    [
        ("approval", "PENDING_APPROVAL"),
        ("input", "PENDING_INPUT"),
        ("review", "PENDING_REVIEW"),
        ("escalation", "PENDING_ESCALATION"),
        ("select", "PENDING_INPUT"),
        ("inputs", "PENDING_INPUT"),
    ],
)
def test_each_kind_of_request_gets_plexus_pending_kind(hitl, plexus, request_type, interaction):
    ask(hitl, HITLRequest(request_type=request_type, message="?"))
    assert [r["humanInteraction"] for r in pending_rows(plexus)] == [interaction]


def test_asking_again_for_the_same_position_never_posts_twice(client, plexus, procedure_id):
    """A retry, a resume, another process: one pending message per position."""
    first = ask(PlexusHITLAdapter(client, procedure_id), APPROVAL)
    resumed = context()
    resumed.frontier = 1  # the log holds position 0 as pending: a resume
    with pytest.raises(ProcedureWaitingForHuman) as again:
        PlexusHITLAdapter(client, procedure_id).request_interaction(
            "restart", APPROVAL, execution_context=resumed
        )
    retried = ask(PlexusHITLAdapter(client, procedure_id), APPROVAL)

    assert first == again.value.pending_message_id == retried
    assert len(pending_rows(plexus)) == 1
    ask(PlexusHITLAdapter(client, procedure_id), APPROVAL, position=1)
    assert len(pending_rows(plexus)) == 2


def test_without_an_execution_context_there_is_no_position_to_key_by(hitl) -> None:
    with pytest.raises(HitlbotError, match="needs the execution context"):
        hitl.request_interaction("restart", APPROVAL)


# -- answers from Plexus's dashboard ---------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "answer", "value"),
    [
        (APPROVAL, {"action": "approve"}, True),
        (APPROVAL, {"action": "reject"}, False),
        (HITLRequest(request_type="input", message="Version?"), {"text": "v2.4.1"}, "v2.4.1"),
        (
            REVIEW,
            {"action": "approve", "text": "ship it"},
            {
                "decision": "approve",
                "label": "Approve",
                "feedback": "ship it",
                "edited_artifact": "notes",
            },
        ),
        (
            REVIEW,
            {"action": "request_changes", "text": "typo in line 2"},
            {
                "decision": "reject",
                "label": "Reject",
                "feedback": "typo in line 2",
                "edited_artifact": "notes",
            },
        ),
        (
            ESCALATION,
            {"action": "acknowledge", "text": "on it"},
            {"acknowledged": True, "action": "resolve", "note": "on it"},
        ),
        (
            HITLRequest(
                request_type="select",
                message="Region?",
                options=[{"label": "EU", "value": "eu"}, {"label": "US", "value": "us"}],
                metadata={"mode": "single"},
            ),
            {"text": "US"},
            "us",
        ),
    ],
    ids=["approve", "reject", "input", "review", "request-changes", "escalation", "select"],
)
def test_a_dashboard_answer_is_read_back_in_the_runtime_vocabulary(
    hitl, plexus, asked, answer, value
) -> None:
    request_id = ask(hitl, asked)
    message_id = hitl.message_id_for(request_id)
    assert hitl.check_pending_response("restart", message_id) is None

    written = plexus.respond(message_id, user_id="cognito-alice", **answer)

    response = hitl.check_pending_response("restart", message_id)
    assert response is not None
    assert response.value == value
    assert response.timed_out is False
    assert response.responder == "cognito-alice"
    assert response.responded_at == datetime.fromisoformat(control(written)["responded_at"])
    assert hitl.check_pending_response("restart", request_id) == response  # by request id too


def test_the_answer_is_returned_and_the_rows_marked_dealt_with(hitl, plexus, procedure_id):
    request_id = ask(hitl, APPROVAL)
    message_id = hitl.message_id_for(request_id)
    answer = plexus.respond(message_id, action="approve", user_id="cognito-alice")

    response = hitl.request_interaction("restart", APPROVAL, execution_context=context())

    assert (response.value, response.responder) == (True, "cognito-alice")
    assert plexus.record("ChatMessage", message_id)["responseStatus"] == "COMPLETED"
    assert plexus.record("ChatMessage", answer["id"])["responseStatus"] == "COMPLETED"
    procedure = plexus.record("Procedure", procedure_id)
    assert procedure["status"] == "RUNNING" and procedure.get("waitingOnMessageId") is None


def add_child(client: PlexusClient, pending: dict[str, Any], **fields: Any) -> str:
    values = {
        "sessionId": pending["sessionId"],
        "parentMessageId": pending["id"],
        "role": "USER",
        "content": "a reply in the thread",
        "humanInteraction": "CHAT",
        "responseStatus": "COMPLETED",
        **fields,
    }
    data = graphql(
        client,
        "CreateChatMessage",
        "mutation CreateChatMessage($input: CreateChatMessageInput!) "
        "{ createChatMessage(input: $input) { id } }",
        input=values,
    )
    return data["createChatMessage"]["id"]


def test_an_answer_behind_a_page_of_other_replies_is_found(hitl, client, plexus) -> None:
    """Plexus filters after `limit`: the first pages hold no RESPONSE; they are followed."""
    message_id = hitl.message_id_for(ask(hitl, APPROVAL))
    pending = plexus.record("ChatMessage", message_id)
    for _ in range(120):
        add_child(client, pending)
    plexus.respond(message_id, action="approve")

    response = hitl.check_pending_response("restart", message_id)

    assert response is not None and response.value is True
    assert plexus.calls()["ListControlResponses"] >= 2


def test_answers_that_are_not_canonical_or_do_not_fit_are_skipped(
    hitl, client, plexus, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = hitl.message_id_for(ask(hitl, APPROVAL))
    pending = plexus.record("ChatMessage", message_id)

    def answer(at: str, **fields: Any) -> str:
        return add_child(client, pending, humanInteraction="RESPONSE", createdAt=at, **fields)

    no_control = answer("2026-03-14T09:30:00.000Z", content="yes")
    assert hitl.check_pending_response("restart", message_id) is None
    unfit = {"control": {"value": "maybe", "request_id": "x"}}
    answer("2026-03-14T09:31:00.000Z", metadata=json.dumps(unfit))
    assert hitl.check_pending_response("restart", message_id) is None

    answer("2026-03-14T09:32:00.000Z", metadata=json.dumps({"control": {"value": False}}))
    answer("2026-03-14T09:33:00.000Z", metadata=json.dumps({"control": {"value": True}}))
    response = hitl.check_pending_response("restart", message_id)

    assert response is not None and response.value is False  # the first fitting answer wins
    assert f"Ignoring Plexus answer {no_control}" in caplog.text
    assert "an approval takes yes or no" in caplog.text


# -- cancel, timeout and our own answers ------------------------------------------------------


def test_a_cancelled_request_is_marked_and_never_answered(hitl, plexus, procedure_id) -> None:
    request_id = ask(hitl, APPROVAL)
    message_id = hitl.message_id_for(request_id)

    hitl.cancel_pending_request("restart", request_id)

    row = plexus.record("ChatMessage", message_id)
    assert (row["humanInteraction"], row["responseStatus"]) == ("CANCELLED", "COMPLETED")
    procedure = plexus.record("Procedure", procedure_id)
    assert procedure["status"] == "RUNNING" and procedure.get("waitingOnMessageId") is None
    with pytest.raises(RequestCancelledError):
        hitl.request_interaction("restart", APPROVAL, execution_context=context())
    with pytest.raises(urllib.error.HTTPError) as refused:
        plexus.respond(message_id, action="approve")
    assert refused.value.code == 409  # the dashboard will not answer it either


async def test_an_answered_request_cannot_be_cancelled(hitl, plexus) -> None:
    message_id = hitl.message_id_for(await asyncio.to_thread(ask, hitl, APPROVAL))
    plexus.respond(message_id, action="approve")

    assert await hitl.cancel(message_id) is False

    assert plexus.record("ChatMessage", message_id)["humanInteraction"] == "PENDING_APPROVAL"


async def test_a_timeout_answers_with_the_default_marked_timed_out(hitl, plexus, clock) -> None:
    message_id = hitl.message_id_for(await asyncio.to_thread(ask, hitl, APPROVAL))
    clock.advance(900)

    assert await hitl.time_out(message_id) is True

    pending = plexus.record("ChatMessage", message_id)
    assert pending["humanInteraction"] == "TIMED_OUT"
    [answer] = plexus.records("ChatMessage", parentMessageId=message_id)
    assert (answer["humanInteraction"], answer["role"]) == ("RESPONSE", "USER")
    answer_control = control(answer)
    assert answer_control["timed_out"] is True and answer_control["value"] is False
    assert answer_control["responded_at"] == "2026-03-14T09:41:53.000Z"
    response = await hitl.find_response(message_id)
    assert response == HITLResponse(
        value=False, timed_out=True, responded_at=clock(), responder="timeout"
    )
    assert await hitl.time_out(message_id) is False
    with pytest.raises(urllib.error.HTTPError):
        plexus.respond(message_id, action="approve")


async def test_escalations_never_time_out(client, procedure_id) -> None:
    hitl = PlexusHITLAdapter(client, procedure_id)
    request_id = await asyncio.to_thread(ask, hitl, ESCALATION)
    with pytest.raises(AnswerError, match="escalations never time out"):
        await hitl.time_out(request_id)


async def test_an_answer_from_this_side_is_written_as_the_dashboard_writes_it(
    hitl, plexus, procedure_id, clock
) -> None:
    request_id = await asyncio.to_thread(ask, hitl, APPROVAL)
    message_id = hitl.message_id_for(request_id)

    with pytest.raises(AnswerError):
        await hitl.respond(message_id, "perhaps", responder="U0BOB0001")
    assert await hitl.respond(message_id, "yes", responder="U0BOB0001") is True
    assert await hitl.respond(message_id, "no", responder="U0CAROL01") is False

    [answer] = plexus.records("ChatMessage", parentMessageId=message_id)
    assert (answer["humanInteraction"], answer["role"], answer["messageType"]) == (
        "RESPONSE",
        "USER",
        "MESSAGE",
    )
    assert (answer["responseTarget"], answer["responseStatus"]) == ("cloud", "PENDING")
    assert json.loads(answer["content"]) == {"value": True}
    metadata = json.loads(answer["metadata"])
    assert metadata["attribution"] == {"actorType": "user", "userId": "U0BOB0001"}
    assert metadata["control"] == {
        "request_id": request_id,
        "procedure_id": procedure_id,
        "request_type": "approval",
        "response_type": "approval",
        "pending_message_id": message_id,
        "value": True,
        "responded_at": "2026-03-14T09:26:53.000Z",
        "responder": "U0BOB0001",
    }
    response = await hitl.find_response(request_id)
    assert (response.value, response.responder) == (True, "U0BOB0001")


async def test_a_dashboard_answer_first_means_ours_is_not_written(hitl, plexus) -> None:
    message_id = hitl.message_id_for(await asyncio.to_thread(ask, hitl, APPROVAL))
    plexus.respond(message_id, action="reject")

    assert await hitl.respond(message_id, True, responder="U0BOB0001") is False

    assert len(plexus.records("ChatMessage", parentMessageId=message_id)) == 1


# -- errors are errors ----------------------------------------------------------------------


def test_an_unknown_message_is_an_error_not_still_waiting(hitl) -> None:
    with pytest.raises(PlexusNotFoundError, match="no pending ChatMessage with id 'gone'"):
        hitl.check_pending_response("restart", "gone")
    assert isinstance(hitl.failure, PlexusNotFoundError)


def test_plexus_down_is_an_error_the_host_can_see(hitl, plexus, caplog) -> None:
    caplog.set_level(logging.WARNING)
    message_id = hitl.message_id_for(ask(hitl, APPROVAL))
    plexus.faults(outage=True)

    with pytest.raises(PlexusUnavailableError, match="GetChatMessage"):
        hitl.check_pending_response("restart", message_id)
    with pytest.raises(PlexusUnavailableError):
        hitl.request_interaction("restart", APPROVAL, execution_context=context(position=1))

    assert isinstance(hitl.failure, PlexusUnavailableError)


def test_a_pending_message_goes_to_the_recorder_session(client, plexus, procedure_id) -> None:
    recorder = PlexusChatRecorder(client, procedure_id)
    session_id = client.call(recorder.start_session)
    client.call(recorder.record_message, "ASSISTANT", "Starting the restart")
    hitl = PlexusHITLAdapter(client, procedure_id, chat_recorder=recorder)

    ask(hitl, APPROVAL)

    rows = plexus.records("ChatMessage", sessionId=session_id)
    assert [(r["content"], r["sequenceNumber"]) for r in rows] == [
        ("Starting the restart", 1),
        ("Restart api-7?", 2),
    ]


async def test_a_request_recorded_elsewhere_is_posted_once(hitl, plexus, procedure_id) -> None:
    """A host that keeps requests in its own store mirrors them to Plexus, then polls."""
    request_id = f"restart:{RUN_ID[:8]}:pos3"
    recorded = PendingRequest(
        request_id=request_id, run_id=RUN_ID, procedure_id="restart", position=3, request=APPROVAL
    )

    message_id = await hitl.post_request(recorded)
    assert await hitl.post_request(recorded) == message_id

    [row] = pending_rows(plexus)
    assert row["id"] == message_id and control(row)["request_id"] == request_id
    assert control(row)["runtime_context"]["checkpoint_position"] == 3
    assert plexus.record("Procedure", procedure_id)["waitingOnMessageId"] == message_id
    assert await hitl.find_response(request_id) is None
    plexus.respond(message_id, action="approve")
    response = await hitl.find_response(request_id)
    assert response is not None and response.value is True
