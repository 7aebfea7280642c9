"""The read-side rules (reference §3): sparse indexes, limit before filter, nextToken paging,
key order and direction, key conditions, and filters evaluated as DynamoDB evaluates them."""

from __future__ import annotations

from typing import Any

from tests.conftest import FakeClock
from tests.devplexus import plexus_operations as ops
from tests.devplexus.helpers import Plexus

CREATE_MESSAGE = """
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) { id createdAt }
}
"""
CHILDREN = """
query Children(
    $parent: String!, $limit: Int, $token: String, $filter: ModelChatMessageFilterInput
) {
    listChatMessageByParentMessageId(
        parentMessageId: $parent, limit: $limit, nextToken: $token, filter: $filter
    ) { items { id humanInteraction } nextToken }
}
"""
BY_SEQUENCE = """
query BySequence(
    $session: String!, $direction: ModelSortDirection, $seq: ModelIntKeyConditionInput
) {
    listChatMessageBySessionIdAndSequenceNumber(
        sessionId: $session, sortDirection: $direction, sequenceNumber: $seq
    ) { items { sequenceNumber } nextToken }
}
"""
BY_CREATED = """
query ByCreated(
    $session: String!, $direction: ModelSortDirection, $created: ModelStringKeyConditionInput,
    $limit: Int, $token: String
) {
    listChatMessageBySessionIdAndCreatedAt(
        sessionId: $session, sortDirection: $direction, createdAt: $created,
        limit: $limit, nextToken: $token
    ) { items { id content createdAt } nextToken }
}
"""
SCAN = """
query Scan($filter: ModelProcedureFilterInput, $limit: Int, $token: String) {
    listProcedures(filter: $filter, limit: $limit, nextToken: $token) {
        items { id name } nextToken
    }
}
"""


async def add_message(plexus: Plexus, **fields: Any) -> str:
    values = {"sessionId": "s-1", "content": "x", "responseStatus": "COMPLETED", **fields}
    return (await plexus.execute(CREATE_MESSAGE, {"input": values}))["createChatMessage"]["id"]


async def test_a_row_whose_sort_key_is_absent_is_not_in_that_index(plexus: Plexus) -> None:
    numbered = await add_message(plexus, sequenceNumber=1, content="numbered")
    unnumbered = await add_message(plexus, content="unnumbered")

    by_sequence = await plexus.execute(BY_SEQUENCE, {"session": "s-1"})
    assert by_sequence["listChatMessageBySessionIdAndSequenceNumber"]["items"] == [
        {"sequenceNumber": 1}
    ]
    by_created = await plexus.execute(BY_CREATED, {"session": "s-1"})
    ids = [m["id"] for m in by_created["listChatMessageBySessionIdAndCreatedAt"]["items"]]
    assert ids == [numbered, unnumbered]


async def test_limit_applies_before_filter_so_a_response_hides_behind_other_children(
    plexus: Plexus, clock: FakeClock
) -> None:
    """Plexus's FindControlResponse (limit 20) misses a RESPONSE after 20 other children."""
    for _ in range(20):
        clock.advance(1)
        await add_message(plexus, parentMessageId="pending-1", humanInteraction="INTERNAL")
    clock.advance(1)
    answer = await add_message(plexus, parentMessageId="pending-1", humanInteraction="RESPONSE")

    missed = await plexus.execute(ops.FIND_CONTROL_RESPONSE, {"parentId": "pending-1", "limit": 20})
    assert missed["listChatMessageByParentMessageId"]["items"] == []

    variables: dict[str, Any] = {
        "parent": "pending-1",
        "limit": 20,
        "filter": {"humanInteraction": {"eq": "RESPONSE"}},
    }
    first = (await plexus.execute(CHILDREN, variables))["listChatMessageByParentMessageId"]
    assert first["items"] == [] and first["nextToken"]
    second = (await plexus.execute(CHILDREN, {**variables, "token": first["nextToken"]}))[
        "listChatMessageByParentMessageId"
    ]
    assert second == {"items": [{"id": answer, "humanInteraction": "RESPONSE"}], "nextToken": None}


async def test_next_token_pages_in_order_and_a_full_last_page_still_gets_a_token(
    plexus: Plexus, clock: FakeClock
) -> None:
    for number in range(4):
        clock.advance(1)
        await add_message(plexus, content=f"m{number}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = (await plexus.execute(BY_CREATED, {"session": "s-1", "limit": 2, "token": token}))[
            "listChatMessageBySessionIdAndCreatedAt"
        ]
        pages += 1
        seen += [m["content"] for m in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    # DynamoDB hands back a key whenever the limit stopped it: the third page is empty.
    assert (seen, pages) == (["m0", "m1", "m2", "m3"], 3)


async def test_a_token_from_another_query_or_garbage_is_refused(plexus: Plexus) -> None:
    for _ in range(2):
        await add_message(plexus, parentMessageId="p-1")
    page = await plexus.execute(CHILDREN, {"parent": "p-1", "limit": 1})
    token = page["listChatMessageByParentMessageId"]["nextToken"]
    for variables in ({"parent": "p-2", "token": token}, {"parent": "p-1", "token": "bm9wZQ=="}):
        [error] = await plexus.errors(CHILDREN, variables)
        assert error["errorType"] == "DynamoDB:UserIllegalArgumentException"
        assert error["message"].endswith("Invalid pagination token given.")
    [error] = await plexus.errors(CHILDREN, {"parent": "p-1", "limit": 0})
    assert error["errorType"] == "DynamoDB:DynamoDbException"
    assert "Member must have value greater than or equal to 1" in error["message"]


async def test_results_follow_the_sort_key_in_either_direction(plexus: Plexus) -> None:
    for number in (10, 2, 33):
        await add_message(plexus, sequenceNumber=number)

    async def sequence(**variables: Any) -> list[int]:
        page = await plexus.execute(BY_SEQUENCE, {"session": "s-1", **variables})
        items = page["listChatMessageBySessionIdAndSequenceNumber"]["items"]
        return [m["sequenceNumber"] for m in items]

    assert await sequence() == [2, 10, 33]  # numbers, not text: 10 after 2
    assert await sequence(direction="DESC") == [33, 10, 2]
    assert await sequence(seq={"gt": 2}) == [10, 33]


async def test_string_sort_keys_compare_as_text_whatever_format_the_client_wrote(
    plexus: Plexus,
) -> None:
    """DynamoDB compares createdAt as a string: an offset written as +00:00 sorts by text."""
    await add_message(plexus, content="z", createdAt="2026-03-14T10:00:00Z")
    await add_message(plexus, content="offset", createdAt="2026-03-14T10:00:00+00:00")
    await add_message(plexus, content="early", createdAt="2026-03-14T09:00:00.000Z")
    page = await plexus.execute(BY_CREATED, {"session": "s-1"})
    contents = [m["content"] for m in page["listChatMessageBySessionIdAndCreatedAt"]["items"]]
    assert contents == ["early", "offset", "z"]  # "+" sorts before "Z"

    window = await plexus.execute(
        BY_CREATED,
        {
            "session": "s-1",
            "created": {"between": ["2026-03-14T09:30:00Z", "2026-03-14T10:00:00Z"]},
        },
    )
    assert [m["content"] for m in window["listChatMessageBySessionIdAndCreatedAt"]["items"]] == [
        "offset",
        "z",
    ]
    prefix = await plexus.execute(
        BY_CREATED, {"session": "s-1", "created": {"beginsWith": "2026-03-14T09"}}
    )
    assert [m["content"] for m in prefix["listChatMessageBySessionIdAndCreatedAt"]["items"]] == [
        "early"
    ]


async def test_filters_follow_dynamodb_semantics(plexus: Plexus) -> None:
    create = """
        mutation C($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }
    """
    account = plexus.server.account_id
    for name, fields in (
        ("running", {"status": "RUNNING", "attachedFiles": ["code.tac", "state.json"]}),
        ("waiting", {"status": "WAITING_FOR_HUMAN"}),
        ("unset", {}),
    ):
        await plexus.execute(create, {"input": {"name": name, "accountId": account, **fields}})

    async def names(filter_: dict[str, Any]) -> list[str]:
        page = await plexus.execute(SCAN, {"filter": filter_})
        return sorted(p["name"] for p in page["listProcedures"]["items"])

    # A comparison with a missing attribute is false, `ne` included.
    assert await names({"status": {"ne": "RUNNING"}}) == ["waiting"]
    assert await names({"status": {"attributeExists": False}}) == ["unset"]
    assert await names({"attachedFiles": {"contains": "code.tac"}}) == ["running"]
    assert await names({"name": {"contains": "ait"}}) == ["waiting"]
    assert await names({"or": [{"name": {"eq": "unset"}}, {"status": {"beginsWith": "WAIT"}}]}) == [
        "unset",
        "waiting",
    ]
    assert await names({"not": {"name": {"eq": "unset"}}}) == ["running", "waiting"]


async def test_a_scan_pages_through_every_item_once(plexus: Plexus) -> None:
    create = "mutation C($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }"
    made = set()
    for number in range(5):
        result = await plexus.execute(
            create, {"input": {"name": f"p{number}", "accountId": plexus.server.account_id}}
        )
        made.add(result["createProcedure"]["id"])
    seen: list[str] = []
    token = None
    while True:
        page = (await plexus.execute(SCAN, {"limit": 2, "token": token}))["listProcedures"]
        seen += [p["id"] for p in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    assert sorted(seen) == sorted(made)
