"""`PlexusClient` against devplexus over HTTP: configuration, authentication, retries, errors.

Faults come from devplexus (5xx, throttling, dropped connections, latency, outage); retry
waits go to `Waits`, so no test sleeps for them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from aiohttp import web

from adapters.plexus import (
    PlexusAuthError,
    PlexusClient,
    PlexusConfigError,
    PlexusError,
    PlexusGraphQLError,
    PlexusUnavailableError,
    RetryPolicies,
    RetryPolicy,
    load_plexus_settings,
)
from adapters.plexus.client import LIST_ACCOUNT_BY_KEY
from adapters.plexus.operations import CREATE_PROCEDURE, GET_PROCEDURE, UPDATE_PROCEDURE_STATUS
from tests.adapters.plexus.conftest import (
    API_KEY,
    PlexusControl,
    ServedDevPlexus,
    Waits,
    create_procedure,
    graphql,
    make_client,
)


def get_procedure(client: PlexusClient, procedure_id: str) -> dict[str, Any]:
    return client.call(client.execute, GET_PROCEDURE, {"id": procedure_id})


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_plexus_env")
@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({}, "PLEXUS_API_URL is not set"),
        ({"api_url": "ftp://plexus/graphql", "api_key": "k"}, "PLEXUS_API_URL must be an http"),
        ({"api_url": "https://x.example/graphql"}, "PLEXUS_API_KEY is not set"),
        (
            {"api_url": "https://x.example/graphql", "api_key": "k", "auth_mode": "token"},
            "PLEXUS_GRAPHQL_AUTH_MODE is invalid",
        ),
        (
            {"api_url": "https://x.example/graphql", "api_key": "k", "request_timeout": 0},
            "PLEXUS_REQUEST_TIMEOUT_SECONDS is invalid",
        ),
    ],
)
def test_a_setting_a_client_cannot_work_with_is_named(settings: dict, names: str) -> None:
    with pytest.raises(PlexusConfigError, match=names):
        load_plexus_settings(**settings)


@pytest.mark.usefixtures("no_plexus_env")
def test_settings_come_from_plexus_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXT_PUBLIC_PLEXUS_API_URL", "https://dash.example/graphql")
    monkeypatch.setenv("PLEXUS_API_KEY", "da2-secret")
    monkeypatch.setenv("PLEXUS_ACCOUNT_KEY", "acme")
    monkeypatch.setenv("PLEXUS_GRAPHQL_AUTH_MODE", "iam")
    monkeypatch.setenv("PLEXUS_API_REGION", "eu-west-2")

    settings = load_plexus_settings()

    assert settings.api_url == "https://dash.example/graphql"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "da2-secret"
    assert (settings.account_key, settings.auth_mode, settings.region) == (
        "acme",
        "iam",
        "eu-west-2",
    )
    assert "da2-secret" not in repr(settings) and "da2-secret" not in str(settings)


def test_the_account_key_resolves_to_the_account_id(client: PlexusClient, plexus) -> None:
    assert client.call(client.account_id) == plexus.account_id
    client.call(client.account_id)
    assert plexus.calls()["ListAccountByKey"] == 1  # looked up once


def test_an_unknown_account_key_is_a_clear_error(served, plexus, waits, no_plexus_env) -> None:
    with (
        make_client(served, waits, account_key="nobody") as client,
        pytest.raises(PlexusConfigError, match="PLEXUS_ACCOUNT_KEY 'nobody' names no"),
    ):
        client.call(client.account_id)


def test_a_wrong_key_is_refused_at_once_without_showing_it(
    served: ServedDevPlexus, plexus: PlexusControl, waits: Waits, no_plexus_env: None
) -> None:
    with (
        make_client(served, waits, api_key="da2-wrongkey") as client,
        pytest.raises(PlexusAuthError) as refused,
    ):
        get_procedure(client, "any")

    message = str(refused.value)
    assert "GetProcedure" in message and "UnauthorizedException" in message
    assert "PLEXUS_API_KEY" in message and "da2-wrongkey" not in message
    assert plexus.calls() == {"GetProcedure": 1}
    assert waits.slept == []


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"status": 429},
        {"throttle": True},
        {"drop": True},
    ],
    ids=["500", "502", "503", "504", "429", "throttled", "dropped"],
)
def test_transient_failures_are_retried_with_growing_waits(
    client: PlexusClient, plexus: PlexusControl, waits: Waits, procedure_id: str, fault: dict
) -> None:
    plexus.faults(operation="GetProcedure", count=2, **fault)

    data = get_procedure(client, procedure_id)

    assert data["getProcedure"]["id"] == procedure_id
    assert plexus.calls()["GetProcedure"] == 3
    assert waits.slept == [0.25, 0.5]


def test_an_outage_gives_up_with_an_error_naming_the_operation_and_the_reason(
    client: PlexusClient, plexus: PlexusControl, waits: Waits, procedure_id: str
) -> None:
    plexus.faults(outage=True)

    with pytest.raises(PlexusUnavailableError) as gave_up:
        get_procedure(client, procedure_id)

    message = str(gave_up.value)
    assert message.startswith("Plexus did not complete GetProcedure after 4 attempts")
    assert message.endswith(": HTTP 503")
    assert waits.slept == [0.25, 0.5, 1.0]
    plexus.faults(outage=False)
    assert get_procedure(client, procedure_id)["getProcedure"]["id"] == procedure_id


def test_retries_stop_at_the_policy_time_budget(served, plexus, waits, no_plexus_env) -> None:
    policies = RetryPolicies(read=RetryPolicy(attempts=10, within_seconds=1.0))
    plexus.faults(operation="ListAccountByKey", status=503)
    with (
        make_client(served, waits, policies=policies) as client,
        pytest.raises(PlexusUnavailableError, match=r"after 3 attempts in 0\.8 s"),
    ):
        client.call(client.account_id)
    assert waits.slept == [0.25, 0.5]  # the next wait (1.0 s) would pass the 1 s budget


def test_an_answer_that_takes_too_long_is_retried(
    served, plexus, waits, no_plexus_env, caplog: pytest.LogCaptureFixture
) -> None:
    plexus.faults(operation="ListAccountByKey", latency_ms=2000)

    async def end_the_latency() -> None:
        await asyncio.to_thread(plexus.clear_faults)

    waits.on_sleep = end_the_latency
    started = time.monotonic()
    with make_client(served, waits, request_timeout=0.3) as client:
        assert client.call(client.account_id) == plexus.account_id

    assert time.monotonic() - started < 1.5  # the slow attempt was abandoned, not awaited
    assert waits.slept == [0.25]
    assert "ListAccountByKey failed (no answer in time)" in caplog.text


def test_a_create_whose_answer_was_lost_is_not_made_twice(
    served, plexus, waits, no_plexus_env
) -> None:
    """The first attempt times out but lands later; the retry finds it instead of a copy."""
    plexus.faults(operation="CreateProcedure", latency_ms=800)

    async def wait_for_the_first_attempt_to_land() -> None:
        deadline = time.monotonic() + 5
        while not await asyncio.to_thread(plexus.records, "Procedure", name="Once only"):
            assert time.monotonic() < deadline, "the first create never landed"
            await asyncio.sleep(0.02)
        await asyncio.to_thread(plexus.clear_faults)

    waits.on_sleep = wait_for_the_first_attempt_to_land
    with make_client(served, waits, request_timeout=0.3) as client:
        account_id = client.call(client.account_id)
        values = {"name": "Once only", "accountId": account_id}
        record, created = client.call(client.create, CREATE_PROCEDURE, GET_PROCEDURE, values)

    assert created is False  # the retry met the first attempt's record and read it back
    assert [r["id"] for r in plexus.records("Procedure", name="Once only")] == [record["id"]]


# -- errors that are not worth retrying -------------------------------------------------------


def test_a_graphql_error_names_the_operation_the_error_type_and_the_message(
    client: PlexusClient, plexus: PlexusControl, waits: Waits
) -> None:
    variables = {"input": {"id": "no-such-procedure", "status": "RUNNING"}}
    with pytest.raises(PlexusGraphQLError) as failed:
        client.call(client.execute, UPDATE_PROCEDURE_STATUS, variables)

    error = failed.value
    assert error.operation == "UpdateProcedureStatus"
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert str(error).startswith(
        "Plexus GraphQL operation UpdateProcedureStatus failed: "
        "DynamoDB:ConditionalCheckFailedException: The conditional request failed"
    )
    assert plexus.calls() == {"UpdateProcedureStatus": 1}
    assert waits.slept == []


def test_a_request_the_schema_refuses_is_not_retried(client: PlexusClient, plexus) -> None:
    with pytest.raises(PlexusGraphQLError, match=r"GetNothing failed: .*noSuchField") as failed:
        graphql(client, "GetNothing", "query GetNothing { noSuchField }")
    assert failed.value.error_type is None
    assert plexus.calls() == {"GetNothing": 1}


def test_the_key_never_reaches_a_log_or_an_error(
    served, plexus, waits, no_plexus_env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with make_client(served, waits) as client:
        plexus.faults(operation="ListAccountByKey", count=1, throttle=True)
        client.call(client.account_id)
        plexus.faults(outage=True)
        with pytest.raises(PlexusError) as down:
            create_procedure(client)
        errors.append(str(down.value))
        errors.append(repr(client.settings))
    plexus.faults(outage=False)
    with make_client(served, waits, api_key=API_KEY + "x") as wrong:
        with pytest.raises(PlexusAuthError) as refused:
            wrong.call(wrong.account_id)
        errors.append(str(refused.value))

    assert "ProvisionedThroughputExceeded" in caplog.text  # the retries were logged
    for text in [caplog.text, *errors]:
        assert API_KEY not in text


# -- one client for threads and event loops ---------------------------------------------------


async def test_coroutines_on_any_loop_share_the_client(client: PlexusClient, plexus) -> None:
    first, second = await asyncio.gather(
        client.execute(LIST_ACCOUNT_BY_KEY, {"key": "dev"}),
        client.execute(LIST_ACCOUNT_BY_KEY, {"key": "dev"}),
    )
    assert first == second
    assert first["listAccountByKey"]["items"][0]["id"] == plexus.account_id


async def test_blocking_on_an_event_loop_is_refused(client: PlexusClient) -> None:
    with pytest.raises(PlexusError, match="called on an event loop"):
        client.call(client.account_id)


def test_worker_threads_share_the_client(client: PlexusClient, procedure_id: str) -> None:
    found: list[str] = []

    def read() -> None:
        found.append(get_procedure(client, procedure_id)["getProcedure"]["id"])

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert found == [procedure_id] * 8


def test_a_closed_client_says_so(served, waits, no_plexus_env) -> None:
    client = make_client(served, waits)
    client.call(client.account_id)
    client.close()
    client.close()
    with pytest.raises(PlexusError, match="closed"):
        client.call(client.account_id)


# -- IAM ----------------------------------------------------------------------------------------


async def test_iam_mode_signs_with_sigv4_and_sends_no_key(
    monkeypatch: pytest.MonkeyPatch, no_plexus_env: None
) -> None:
    """What goes on the wire in iam mode, seen by a server that records the request."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    seen: list[Any] = []

    async def graphql_endpoint(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.json()))
        return web.json_response({"data": {"listAccountByKey": {"items": [], "nextToken": None}}})

    app = web.Application()
    app.router.add_post("/graphql", graphql_endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = load_plexus_settings(
        api_url=f"http://127.0.0.1:{port}/graphql", auth_mode="iam", region="eu-west-2"
    )
    client = PlexusClient(settings)
    try:
        await client.execute(LIST_ACCOUNT_BY_KEY, {"key": "dev"})
    finally:
        await client.aclose()
        await runner.cleanup()

    headers, body = seen[0]
    assert body["operationName"] == "ListAccountByKey"
    assert "x-api-key" not in {name.lower() for name in headers}
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
    ) and headers["Authorization"].split("Credential=")[1].split(",")[0].endswith(
        "/eu-west-2/appsync/aws4_request"
    )
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert "X-Amz-Date" in headers


def test_iam_mode_without_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, no_plexus_env: None
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = load_plexus_settings(
        api_url="http://127.0.0.1:9/graphql", auth_mode="iam", region="eu-west-2"
    )
    with PlexusClient(settings) as client, pytest.raises(PlexusConfigError, match="no AWS cred"):
        client.call(client.execute, LIST_ACCOUNT_BY_KEY, {"key": "dev"})
