"""Fault injection: each kind, by operation name, root field or for everything, at start and
while running; the control API and dashboard stay up through all of it."""

from __future__ import annotations

import time

import aiohttp
import pytest
from gql.transport.exceptions import TransportQueryError, TransportServerError

from devplexus import DevPlexus, DevPlexusConfig
from tests.devplexus.helpers import Plexus, gql_client

ACCOUNT = 'query Account { listAccountByKey(key: "dev") { items { id } } }'
SESSION = """
mutation StartSession($input: CreateChatSessionInput!) { createChatSession(input: $input) { id } }
"""


def session_input(plexus: Plexus) -> dict:
    return {"input": {"accountId": plexus.server.account_id, "status": "ACTIVE"}}


async def test_a_5xx_fault_answers_that_status_for_its_operation_only(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "StartSession", "status": 503})
    status, body = await plexus.post({"query": SESSION, "variables": session_input(plexus)})
    assert (status, body) == (503, {"message": "Service Unavailable"})
    with pytest.raises(TransportServerError) as caught:
        await plexus.execute(SESSION, session_input(plexus))
    assert caught.value.code == 503
    assert await plexus.execute(ACCOUNT)  # another operation is untouched
    assert plexus.server.records("ChatSession") == []


async def test_throttling_fails_each_root_field_as_dynamodb_does(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "createChatSession", "throttle": True})
    with pytest.raises(TransportQueryError) as caught:
        await plexus.execute(SESSION, session_input(plexus))
    [error] = caught.value.errors or []
    assert error["errorType"] == "DynamoDB:ProvisionedThroughputExceededException"
    assert error["path"] == ["createChatSession"]
    assert caught.value.data == {"createChatSession": None}
    assert plexus.server.records("ChatSession") == []


async def test_count_fails_exactly_the_next_calls_then_lets_them_through(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "*", "status": 500, "count": 2})
    statuses = [(await plexus.post({"query": ACCOUNT}))[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    stats = await plexus.control("stats")
    assert stats["operations"]["Account"] == {"calls": 3, "errors": 2, "faults": 2}
    assert [r["fault"] for r in stats["requests"]] == ["status", "status", None]


async def test_drop_closes_the_connection_without_an_answer(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "StartSession", "drop": True})
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await fresh.post(
                plexus.server.graphql_url,
                json={"query": SESSION, "variables": session_input(plexus)},
                headers={"x-api-key": plexus.server.config.api_key},
            )
    assert plexus.server.records("ChatSession") == []


async def test_latency_is_added_to_matching_calls(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "Account", "latency_ms": 300})
    started = time.monotonic()
    assert (await plexus.post({"query": ACCOUNT}))[0] == 200
    assert time.monotonic() - started >= 0.3


async def test_an_outage_fails_every_request_until_it_is_lifted(plexus: Plexus) -> None:
    await plexus.control("faults", {"outage": True})
    for headers in (None, {}):  # with or without a key
        status, body = await plexus.post({"query": ACCOUNT}, headers=headers)
        assert (status, body) == (503, {"message": "Service Unavailable"})
    assert (await plexus.control("faults"))["faults"]["outage"] is True
    async with plexus.http.get(plexus.url + "/") as page:
        assert page.status == 200  # the dashboard and control API stay up
    await plexus.control("faults", {"outage": False})
    assert (await plexus.post({"query": ACCOUNT}))[0] == 200


async def test_error_rate_fails_only_some_calls_reproducibly(plexus: Plexus) -> None:
    await plexus.control("faults", {"status": 502, "error_rate": 0.5, "seed": 7})
    first = [(await plexus.post({"query": ACCOUNT}))[0] for _ in range(40)]
    await plexus.control("faults", {"status": 502, "error_rate": 0.5, "seed": 7})
    second = [(await plexus.post({"query": ACCOUNT}))[0] for _ in range(40)]
    assert first == second
    assert 5 < first.count(502) < 35 and set(first) == {200, 502}


async def test_clearing_and_refusing_fault_specs(plexus: Plexus) -> None:
    await plexus.control("faults", {"operation": "Account", "status": 500})
    assert (await plexus.post({"query": ACCOUNT}))[0] == 500
    await plexus.control("faults", {"operation": "Account", "clear": True})
    assert (await plexus.post({"query": ACCOUNT}))[0] == 200
    for bad in (
        {"status": 200},
        {"count": 2},
        {"status": 500, "count": 1, "error_rate": 0.5},
        {"bogus": 1},
        {"outage": "yes"},
    ):
        refused = await plexus.control("faults", bad, status=400)
        assert refused["error"] == "invalid_arguments"


async def test_faults_given_at_start_apply_and_survive_reset() -> None:
    server = DevPlexus(DevPlexusConfig(faults={"operation": "Account", "throttle": True}))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, gql_client(server) as session:
            plexus = Plexus(server, session, http)
            for _ in range(2):
                [error] = await plexus.errors(ACCOUNT)
                assert error["errorType"] == "DynamoDB:ProvisionedThroughputExceededException"
                await plexus.control("reset", {})
    finally:
        await server.stop()
