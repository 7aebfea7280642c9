"""Every operation text Plexus's runner sends (reference §4), over HTTP through gql.

The texts are replayed in the order Plexus's runner sends them through one HITL wait: set
up, record messages, ask, wait, get the dashboard's answer, resume, clean up.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphql import parse, validate

from tests.conftest import FakeClock
from tests.devplexus import plexus_operations as ops
from tests.devplexus.helpers import Plexus, control_envelope

LIST_ACCOUNT_BY_KEY = """
query ListAccountByKey($key: String!) {
    listAccountByKey(key: $key) { items { id key name } }
}
"""
CREATE_PROCEDURE = """
mutation CreateProcedure($input: CreateProcedureInput!) {
    createProcedure(input: $input) { id status accountId createdAt updatedAt }
}
"""
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def start_waiting_run(plexus: Plexus, clock: FakeClock) -> dict[str, Any]:
    """What Plexus's runner writes up to a pending approval: ids of everything it made."""
    accounts = await plexus.execute(LIST_ACCOUNT_BY_KEY, {"key": "dev"})
    account_id = accounts["listAccountByKey"]["items"][0]["id"]
    procedure = await plexus.execute(
        CREATE_PROCEDURE,
        {
            "input": {
                "name": "Deploy",
                "accountId": account_id,
                "status": "RUNNING",
                "code": "name: Deploy\nclass: Tactus\n",
            }
        },
    )
    procedure_id = procedure["createProcedure"]["id"]
    found = await plexus.execute(ops.GET_PROCEDURE_ACCOUNT, {"id": procedure_id})
    assert found == {"getProcedure": {"accountId": account_id}}
    session = await plexus.execute(
        ops.CREATE_CHAT_SESSION,
        {
            "input": {
                "accountId": account_id,
                "procedureId": procedure_id,
                "category": "Console",
                "status": "ACTIVE",
                "metadata": json.dumps({"source": "runner"}),
            }
        },
    )
    assert session["createChatSession"]["status"] == "ACTIVE"
    session_id = session["createChatSession"]["id"]
    clock.advance(1)
    await plexus.execute(
        ops.CREATE_CHAT_MESSAGE,
        {
            "input": {
                "sessionId": session_id,
                "procedureId": procedure_id,
                "accountId": account_id,
                "role": "ASSISTANT",
                "content": "Starting the deploy",
                "messageType": "MESSAGE",
                "sequenceNumber": 1,
                "humanInteraction": "CHAT_ASSISTANT",
                "responseTarget": procedure_id,
                "responseStatus": "COMPLETED",
            }
        },
    )
    hitl = await plexus.execute(ops.GET_PROCEDURE_FOR_HITL, {"id": procedure_id})
    assert hitl["getProcedure"]["waitingOnMessageId"] is None
    clock.advance(1)
    pending = await plexus.execute(
        ops.CREATE_CHAT_MESSAGE,
        {
            "input": {
                "sessionId": session_id,
                "procedureId": procedure_id,
                "accountId": account_id,
                "role": "ASSISTANT",
                "content": "Deploy api v1.2.3?",
                "messageType": "MESSAGE",
                "humanInteraction": "PENDING_APPROVAL",
                "sequenceNumber": 2,
                "metadata": json.dumps({"control": control_envelope(procedure_id, "approval")}),
                "responseTarget": procedure_id,
                "responseStatus": "PENDING",
            }
        },
    )
    pending_id = pending["createChatMessage"]["id"]
    assert pending["createChatMessage"]["sequenceNumber"] == 2
    assert ISO_Z.match(pending["createChatMessage"]["createdAt"])
    waiting = await plexus.execute(
        ops.UPDATE_PROCEDURE_STATUS,
        {"id": procedure_id, "status": "WAITING_FOR_HUMAN", "waitingOnMessageId": pending_id},
    )
    assert waiting["updateProcedure"]["status"] == "WAITING_FOR_HUMAN"
    assert waiting["updateProcedure"]["waitingOnMessageId"] == pending_id
    return {
        "account": account_id,
        "procedure": procedure_id,
        "session": session_id,
        "pending": pending_id,
    }


def test_every_operation_text_validates_against_the_served_schema(plexus: Plexus) -> None:
    for name, text in ops.ALL.items():
        assert validate(plexus.server.schema, parse(text)) == [], name


async def test_a_hitl_wait_answered_in_the_dashboard_with_plexus_operations(
    plexus: Plexus, clock: FakeClock
) -> None:
    run = await start_waiting_run(plexus, clock)
    pid, pending = run["procedure"], run["pending"]

    waiting = await plexus.execute(ops.LIST_WAITING_PROCEDURES)
    assert waiting["listProcedures"]["items"] == [{"id": pid, "waitingOnMessageId": pending}]
    state = await plexus.execute(ops.GET_PROCEDURE_WAITING_MESSAGE, {"id": pid})
    assert state["getProcedure"] == {"status": "WAITING_FOR_HUMAN", "waitingOnMessageId": pending}
    found = await plexus.execute(ops.GET_WAITING_MESSAGE_SESSION, {"id": pending})
    assert found["getChatMessage"] == {"id": pending, "sessionId": run["session"]}
    latest = await plexus.execute(
        ops.GET_LATEST_SESSION_MESSAGES, {"sessionId": run["session"], "limit": 50}
    )
    assert [
        m["sequenceNumber"] for m in latest["listChatMessageBySessionIdAndCreatedAt"]["items"]
    ] == [
        2,
        1,
    ]

    unanswered = await plexus.execute(ops.FIND_CONTROL_RESPONSE, {"parentId": pending, "limit": 20})
    assert unanswered["listChatMessageByParentMessageId"]["items"] == []
    assert (await plexus.execute(ops.FIND_RESPONSE, {"parentId": pending}))[
        "listChatMessageByParentMessageId"
    ]["items"] == []

    clock.advance(30)
    await plexus.control("respond", {"message_id": pending, "action": "approve"})

    answers = await plexus.execute(ops.FIND_CONTROL_RESPONSE, {"parentId": pending, "limit": 20})
    [answer] = answers["listChatMessageByParentMessageId"]["items"]
    assert answer["humanInteraction"] == "RESPONSE"
    assert answer["parentMessageId"] == pending
    assert json.loads(answer["content"]) == {"value": True}
    assert json.loads(answer["metadata"])["control"]["value"] is True
    response = await plexus.execute(ops.FIND_RESPONSE, {"parentId": pending})
    assert response["listChatMessageByParentMessageId"]["items"] == [
        {"id": answer["id"], "createdAt": answer["createdAt"]}
    ]

    resumed = await plexus.execute(
        ops.UPDATE_PROCEDURE_STATUS, {"id": pid, "status": "RUNNING", "waitingOnMessageId": None}
    )
    assert resumed["updateProcedure"]["waitingOnMessageId"] is None
    assert (await plexus.execute(ops.LIST_WAITING_PROCEDURES))["listProcedures"]["items"] == []
    resume = await plexus.execute(ops.GET_PROCEDURE_FOR_RESUME, {"id": pid})
    assert resume["getProcedure"]["code"].startswith("name: Deploy")

    metadata = {"state": {"approved": True}, "checkpoints": {}, "replay_index": 1}
    saved = await plexus.execute(
        ops.UPDATE_PROCEDURE_METADATA, {"id": pid, "metadata": json.dumps(metadata)}
    )
    assert json.loads(saved["updateProcedure"]["metadata"]) == metadata
    assert saved["updateProcedure"]["accountId"] == run["account"]
    loaded = await plexus.execute(ops.GET_PROCEDURE_METADATA, {"id": pid})
    assert json.loads(loaded["getProcedure"]["metadata"]) == metadata


async def test_stream_updates_cancel_and_session_end(plexus: Plexus, clock: FakeClock) -> None:
    run = await start_waiting_run(plexus, clock)
    streamed = await plexus.execute(
        ops.UPDATE_CHAT_MESSAGE,
        {"input": {"id": run["pending"], "content": "Deploy api v1.2.4?"}},
    )
    assert streamed["updateChatMessage"]["content"] == "Deploy api v1.2.4?"
    assert streamed["updateChatMessage"]["humanInteraction"] == "PENDING_APPROVAL"

    cancelled = await plexus.execute(
        ops.CANCEL_PENDING_MESSAGE,
        {"input": {"id": run["pending"], "humanInteraction": "CANCELLED"}},
    )
    assert cancelled == {
        "updateChatMessage": {"id": run["pending"], "humanInteraction": "CANCELLED"}
    }

    clock.advance(5)
    ended = await plexus.execute(
        ops.UPDATE_CHAT_SESSION, {"input": {"id": run["session"], "status": "COMPLETED"}}
    )
    assert ended["updateChatSession"]["status"] == "COMPLETED"
    assert ended["updateChatSession"]["updatedAt"] == "2026-03-14T09:27:00.000Z"


async def test_the_cli_responder_writes_and_reads_back_every_field(
    plexus: Plexus, clock: FakeClock
) -> None:
    run = await start_waiting_run(plexus, clock)
    control = {
        "request_id": f"{run['procedure']}:run12345:pos0",
        "procedure_id": run["procedure"],
        "request_type": "approval",
        "value": False,
        "responder": "plexus-chat-send",
    }
    written = await plexus.execute(
        ops.CLI_CREATE_RESPONSE,
        {
            "input": {
                "accountId": run["account"],
                "sessionId": run["session"],
                "procedureId": run["procedure"],
                "parentMessageId": run["pending"],
                "role": "USER",
                "messageType": "MESSAGE",
                "humanInteraction": "RESPONSE",
                "content": json.dumps({"value": False}),
                "metadata": json.dumps({"control": control}),
                "responseTarget": "cloud",
                "responseStatus": "PENDING",
                "createdAt": "2026-03-14T09:30:00.000000+00:00",
            }
        },
    )
    row = written["createChatMessage"]
    assert row["createdAt"] == "2026-03-14T09:30:00.000000+00:00"  # kept as the client sent it
    assert (row["responseTarget"], row["responseStatus"]) == ("cloud", "PENDING")
    assert row["responseOwner"] is None and row["responseError"] is None
    assert json.loads(row["metadata"]) == {"control": control}
