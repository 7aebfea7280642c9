"""The write-side rules of AppSync + Amplify resolvers (reference §3), each pinned over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import FakeClock
from tests.devplexus.helpers import Plexus

CREATE_PROCEDURE = """
mutation CreateProcedure($input: CreateProcedureInput!, $condition: ModelProcedureConditionInput) {
    createProcedure(input: $input, condition: $condition) {
        id name status metadata createdAt updatedAt waitingOnMessageId
    }
}
"""
UPDATE_PROCEDURE = """
mutation UpdateProcedure($input: UpdateProcedureInput!, $condition: ModelProcedureConditionInput) {
    updateProcedure(input: $input, condition: $condition) {
        id name status metadata createdAt updatedAt waitingOnMessageId parentProcedureId
    }
}
"""
DELETE_PROCEDURE = """
mutation DeleteProcedure($input: DeleteProcedureInput!, $condition: ModelProcedureConditionInput) {
    deleteProcedure(input: $input, condition: $condition) { id name }
}
"""
GET_PROCEDURE = "query G($id: ID!) { getProcedure(id: $id) { id status metadata updatedAt } }"
CREATE_MESSAGE = """
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) { id createdAt updatedAt responseStatus sequenceNumber }
}
"""
UPDATE_MESSAGE = """
mutation UpdateChatMessage($input: UpdateChatMessageInput!) {
    updateChatMessage(input: $input) { id content responseStatus createdAt humanInteraction }
}
"""
BY_STATUS = """
query ByStatus($target: String!, $status: ChatMessageResponseStatus!) {
    listChatMessageByResponseTargetAndResponseStatusAndCreatedAt(
        responseTarget: $target, responseStatusCreatedAt: {beginsWith: {responseStatus: $status}}
    ) { items { id } }
}
"""
COMPOSITE = "chatMessagesByResponseTargetAndResponseStatusAndCreatedAt"


async def create_procedure(plexus: Plexus, **fields: Any) -> dict[str, Any]:
    values = {"name": "Deploy", "accountId": plexus.server.account_id, **fields}
    return (await plexus.execute(CREATE_PROCEDURE, {"input": values}))["createProcedure"]


def message_input(**fields: Any) -> dict[str, Any]:
    return {"sessionId": "session-1", "content": "hello", "responseStatus": "COMPLETED", **fields}


# ---------------------------------------------------------------------------- server-set fields


async def test_the_server_sets_id_created_at_and_updated_at(
    plexus: Plexus, clock: FakeClock
) -> None:
    created = await create_procedure(plexus)
    assert uuid.UUID(created["id"]).version == 4
    assert created["createdAt"] == created["updatedAt"] == "2026-03-14T09:26:53.000Z"

    clock.advance(61.25)
    updated = await plexus.execute(
        UPDATE_PROCEDURE, {"input": {"id": created["id"], "status": "X"}}
    )
    assert updated["updateProcedure"]["createdAt"] == "2026-03-14T09:26:53.000Z"
    assert updated["updateProcedure"]["updatedAt"] == "2026-03-14T09:27:54.250Z"


async def test_created_at_and_id_are_taken_from_the_input_where_it_allows(plexus: Plexus) -> None:
    message = await plexus.execute(
        CREATE_MESSAGE, {"input": message_input(id="m-1", createdAt="2025-01-02T03:04:05Z")}
    )
    assert message["createChatMessage"]["id"] == "m-1"
    assert message["createChatMessage"]["createdAt"] == "2025-01-02T03:04:05Z"
    assert message["createChatMessage"]["updatedAt"] == "2026-03-14T09:26:53.000Z"

    errors = await plexus.errors(CREATE_MESSAGE, {"input": message_input(createdAt="yesterday")})
    assert "Unable to parse `yesterday` as a valid AWSDateTime" in errors[0]["message"]
    assert errors[0]["path"] is None and "errorType" not in errors[0]


async def test_create_over_an_existing_id_fails_the_conditional_check(plexus: Plexus) -> None:
    await create_procedure(plexus, id="p-1", status="RUNNING")
    [error] = await plexus.errors(
        CREATE_PROCEDURE, {"input": {"id": "p-1", "name": "Other", "accountId": "a"}}
    )
    assert error["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert error["message"].startswith("The conditional request failed (Service: DynamoDb")
    stored = await plexus.execute(GET_PROCEDURE, {"id": "p-1"})
    assert stored["getProcedure"]["status"] == "RUNNING"


# ---------------------------------------------------------------------------- AWSJSON


async def test_awsjson_is_a_string_both_ways_printed_back_compactly(plexus: Plexus) -> None:
    sent = '{"state": {"approved": true},  "checkpoints": [1, 2]}'
    created = await create_procedure(plexus, metadata=sent)
    assert created["metadata"] == '{"state":{"approved":true},"checkpoints":[1,2]}'
    assert json.loads(created["metadata"]) == json.loads(sent)


async def test_awsjson_as_an_object_or_invalid_json_is_refused_and_writes_nothing(
    plexus: Plexus,
) -> None:
    created = await create_procedure(plexus, metadata='{"keep": 1}')
    variables_text = """
        mutation M($id: ID!, $metadata: AWSJSON!) {
            updateProcedure(input: {id: $id, metadata: $metadata}) { id }
        }
    """
    for bad in ({"keep": 2}, "{keep: 2}", ["not", "a", "string"]):
        [error] = await plexus.errors(variables_text, {"id": created["id"], "metadata": bad})
        assert error["message"].startswith("Variable '$metadata' has invalid value")
        assert "as valid JSON" in error["message"]
        assert error["path"] is None

    literal = 'mutation { updateProcedure(input: {id: "ID", metadata: {keep: 3}}) { id } }'
    [error] = await plexus.errors(literal.replace("ID", created["id"]))
    assert "is not a valid 'AWSJSON'" in error["message"]

    stored = await plexus.execute(GET_PROCEDURE, {"id": created["id"]})
    assert stored["getProcedure"]["metadata"] == '{"keep":1}'


# ---------------------------------------------------------------------------- composite sort key


async def test_every_create_chat_message_must_carry_response_status(plexus: Plexus) -> None:
    [error] = await plexus.errors(
        CREATE_MESSAGE, {"input": {"sessionId": "session-1", "content": "no status"}}
    )
    assert error["message"] == (
        f"When creating any part of the composite sort key for @index '{COMPOSITE}', "
        "you must provide all fields for the key. Missing key: 'responseStatus'."
    )
    assert error["path"] == ["createChatMessage"]
    assert plexus.server.records("ChatMessage") == []


async def test_an_update_setting_response_status_must_resend_created_at(plexus: Plexus) -> None:
    created = await plexus.execute(
        CREATE_MESSAGE, {"input": message_input(responseTarget="p-1", responseStatus="PENDING")}
    )
    message = created["createChatMessage"]

    [error] = await plexus.errors(
        UPDATE_MESSAGE, {"input": {"id": message["id"], "responseStatus": "COMPLETED"}}
    )
    assert error["message"] == (
        f"When updating any part of the composite sort key for @index '{COMPOSITE}', "
        "you must provide all fields for the key. Missing key: 'createdAt'."
    )
    [error] = await plexus.errors(
        UPDATE_MESSAGE, {"input": {"id": message["id"], "createdAt": message["createdAt"]}}
    )
    assert error["message"].endswith("Missing key: 'responseStatus'.")
    pending = await plexus.execute(BY_STATUS, {"target": "p-1", "status": "PENDING"})
    assert pending["listChatMessageByResponseTargetAndResponseStatusAndCreatedAt"]["items"] == [
        {"id": message["id"]}
    ]

    # Touching neither part is fine; touching both moves the row in the composite index.
    fine = await plexus.execute(
        UPDATE_MESSAGE, {"input": {"id": message["id"], "content": "edited", "metadata": "{}"}}
    )
    assert fine["updateChatMessage"]["content"] == "edited"
    done = await plexus.execute(
        UPDATE_MESSAGE,
        {
            "input": {
                "id": message["id"],
                "responseStatus": "COMPLETED",
                "createdAt": message["createdAt"],
            }
        },
    )
    assert done["updateChatMessage"]["responseStatus"] == "COMPLETED"
    for status, expected in (("PENDING", []), ("COMPLETED", [{"id": message["id"]}])):
        page = await plexus.execute(BY_STATUS, {"target": "p-1", "status": status})
        assert page["listChatMessageByResponseTargetAndResponseStatusAndCreatedAt"]["items"] == (
            expected
        )


# ---------------------------------------------------------------------------- conditions


async def test_conditions_guard_updates_and_deletes(plexus: Plexus) -> None:
    created = await create_procedure(plexus, status="RUNNING")
    pid = created["id"]
    [error] = await plexus.errors(
        UPDATE_PROCEDURE,
        {
            "input": {"id": pid, "status": "COMPLETED"},
            "condition": {"status": {"eq": "WAITING_FOR_HUMAN"}},
        },
    )
    assert error["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert (error["path"], error["data"], error["errorInfo"]) == (["updateProcedure"], None, None)
    assert error["locations"][0]["sourceName"] is None
    assert (await plexus.execute(GET_PROCEDURE, {"id": pid}))["getProcedure"]["status"] == "RUNNING"

    applied = await plexus.execute(
        UPDATE_PROCEDURE,
        {
            "input": {"id": pid, "status": "WAITING_FOR_HUMAN", "waitingOnMessageId": "m-1"},
            "condition": {
                "and": [
                    {"status": {"eq": "RUNNING"}},
                    {"waitingOnMessageId": {"attributeExists": False}},
                ]
            },
        },
    )
    assert applied["updateProcedure"]["status"] == "WAITING_FOR_HUMAN"

    [error] = await plexus.errors(
        DELETE_PROCEDURE,
        {"input": {"id": pid}, "condition": {"status": {"ne": "WAITING_FOR_HUMAN"}}},
    )
    assert error["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    deleted = await plexus.execute(DELETE_PROCEDURE, {"input": {"id": pid}})
    assert deleted["deleteProcedure"] == {"id": pid, "name": "Deploy"}
    assert (await plexus.execute(GET_PROCEDURE, {"id": pid}))["getProcedure"] is None


async def test_update_or_delete_of_a_missing_item_fails_the_conditional_check(
    plexus: Plexus,
) -> None:
    for text, variables in (
        (UPDATE_PROCEDURE, {"input": {"id": "missing", "status": "RUNNING"}}),
        (DELETE_PROCEDURE, {"input": {"id": "missing"}}),
    ):
        [error] = await plexus.errors(text, variables)
        assert error["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert plexus.server.records("Procedure") == []


# ---------------------------------------------------------------------------- nulls


async def test_null_removes_an_attribute_on_update_and_is_refused_for_a_new_index_key(
    plexus: Plexus,
) -> None:
    created = await create_procedure(plexus, waitingOnMessageId="m-1", parentProcedureId="t-1")
    by_parent = """
        query P($parent: String!) {
            listProcedureByParentProcedureIdAndUpdatedAt(parentProcedureId: $parent) {
                items { id }
            }
        }
    """
    found = await plexus.execute(by_parent, {"parent": "t-1"})
    assert found["listProcedureByParentProcedureIdAndUpdatedAt"]["items"] == [{"id": created["id"]}]

    cleared = await plexus.execute(
        UPDATE_PROCEDURE,
        {"input": {"id": created["id"], "waitingOnMessageId": None, "parentProcedureId": None}},
    )
    assert cleared["updateProcedure"]["waitingOnMessageId"] is None
    assert "waitingOnMessageId" not in plexus.server.records("Procedure")[0]
    found = await plexus.execute(by_parent, {"parent": "t-1"})
    assert found["listProcedureByParentProcedureIdAndUpdatedAt"]["items"] == []

    [error] = await plexus.errors(CREATE_MESSAGE, {"input": message_input(parentMessageId=None)})
    assert error["errorType"] == "DynamoDB:DynamoDbException"
    assert (
        "Type mismatch for Index Key parentMessageId Expected: S Actual: NULL" in error["message"]
    )
