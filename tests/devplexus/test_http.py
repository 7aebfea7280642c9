"""AppSync's HTTP surface: authentication, malformed bodies, and the shapes of its answers."""

from __future__ import annotations

from tests.devplexus.helpers import Plexus

ACCOUNT = 'query A { listAccountByKey(key: "dev") { items { key } } }'


async def test_a_missing_or_wrong_api_key_is_refused_with_401(plexus: Plexus) -> None:
    status, body = await plexus.post({"query": ACCOUNT}, headers={})
    assert status == 401
    assert body == {
        "errors": [
            {
                "errorType": "UnauthorizedException",
                "message": "Valid authorization header not provided.",
            }
        ]
    }
    status, body = await plexus.post({"query": ACCOUNT}, headers={"x-api-key": "da2-wrong"})
    assert status == 401
    assert body["errors"][0]["message"] == "You are not authorized to make this call."
    status, body = await plexus.post({"query": ACCOUNT})
    assert (status, body) == (200, {"data": {"listAccountByKey": {"items": [{"key": "dev"}]}}})


async def test_a_body_that_is_not_a_graphql_request_is_a_400(plexus: Plexus) -> None:
    for raw, message in (
        (b"", "Request body is empty."),
        (b"meow", "Unable to parse GraphQL query."),
        (b"[]", "Unable to parse GraphQL query."),
        (b'{"variables": {}}', "Unable to parse GraphQL query."),
    ):
        status, body = await plexus.post(None, raw=raw)
        assert status == 400
        assert body == {
            "errors": [{"errorType": "MalformedHttpRequestException", "message": message}]
        }


async def test_invalid_documents_answer_200_with_errors_and_no_data(plexus: Plexus) -> None:
    status, body = await plexus.post({"query": "{ badfield }"})
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert error["path"] is None
    assert error["locations"] == [{"line": 1, "column": 3, "sourceName": None}]
    assert "badfield" in error["message"]

    status, body = await plexus.post({"query": "{ listAccountByKey(key: "})
    assert status == 200 and body["data"] is None and "Syntax Error" in body["errors"][0]["message"]

    status, body = await plexus.post({"query": ACCOUNT, "variables": ["not", "an", "object"]})
    assert status == 200 and body["errors"][0]["message"] == "Variables must be a JSON object."


async def test_operation_name_picks_the_operation_to_run(plexus: Plexus) -> None:
    document = ACCOUNT + ' query B { getProcedure(id: "none") { id } }'
    status, body = await plexus.post({"query": document, "operationName": "B"})
    assert (status, body) == (200, {"data": {"getProcedure": None}})
    status, body = await plexus.post({"query": document, "operationName": "C"})
    assert status == 200 and body["data"] is None
    assert "Unknown operation named 'C'" in body["errors"][0]["message"]
