"""POST /graphql with AppSync's request and response shapes, authentication and faults.

In: `{"query", "variables", "operationName"}` with an `x-api-key` header. Out: HTTP 200 with
`{"data", "errors"}` for anything GraphQL decides (validation, resolver errors), 401 for a
missing or wrong key, 400 for a body that is not a GraphQL request, and whatever fault
injection says. The request runs in a worker thread so the event loop (control API,
dashboard, other clients' latency) never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web
from graphql import DocumentNode, GraphQLError

from devplexus.errors import (
    MALFORMED_REQUEST,
    UNAUTHORIZED,
    http_error,
    request_error,
    throughput_exceeded,
)
from devplexus.executor import Executor, parse_document, root_fields
from devplexus.faults import FaultDecision, Faults
from devplexus.stats import Stats

#: What a gateway in front of AppSync says with a 429/5xx: not a GraphQL response, so a
#: client sees the status itself (gql raises TransportServerError carrying the code).
_STATUS_TEXT = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _Request:
    """What one POST carried, parsed as far as it goes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.body: dict[str, Any] | None = None
        self.operation_name: str | None = None  # as the client sent it
        self.document: DocumentNode | GraphQLError | None = None
        self.operation: str | None = None
        self.fields: list[str] = []
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return
        self.body = body
        name = body.get("operationName")
        self.operation_name = name if isinstance(name, str) and name else None
        self.operation = self.operation_name
        self.document = parse_document(body["query"])
        if isinstance(self.document, DocumentNode):
            self.operation, self.fields = root_fields(self.document, self.operation_name)


def _json(body: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        charset="UTF-8",
        headers={"x-amzn-RequestId": str(uuid.uuid4()), **headers},
    )


def _throttled(fields: list[str]) -> dict[str, Any]:
    """Every root field fails as a throttled DynamoDB call does."""
    error = throughput_exceeded()
    return {
        "data": dict.fromkeys(fields),
        "errors": [
            {
                "path": [field],
                "data": None,
                "errorType": error.error_type,
                "errorInfo": None,
                "locations": None,
                "message": error.message,
            }
            for field in fields
        ],
    }


class GraphQLEndpoint:
    """The handler of POST /graphql."""

    def __init__(
        self,
        executor: Executor,
        api_key: Callable[[], str],
        faults: Faults,
        stats: Stats,
    ) -> None:
        self.executor = executor
        self.api_key = api_key
        self.faults = faults
        self.stats = stats

    async def handle(self, request: web.Request) -> web.StreamResponse:
        parsed = _Request(await request.read())
        decision = self.faults.decide(parsed.operation, parsed.fields)
        if decision is not None:
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.kind is not None:
                return self._fault(request, parsed, decision)
        refusal = self._authenticate(request)
        if refusal is not None:
            self._record(parsed, 401, [UNAUTHORIZED])
            return refusal
        if parsed.body is None:
            message = (
                "Request body is empty." if not parsed.raw else "Unable to parse GraphQL query."
            )
            self._record(parsed, 400, [MALFORMED_REQUEST])
            return _json(http_error(MALFORMED_REQUEST, message), 400)
        body = await asyncio.to_thread(self._execute, parsed)
        errors = body.get("errors", [])
        self._record(
            parsed,
            200,
            [e.get("errorType") for e in errors],
            {e["path"][0] for e in errors if e.get("path")},
        )
        return _json(body)

    def _execute(self, parsed: _Request) -> dict[str, Any]:
        assert parsed.body is not None
        if isinstance(parsed.document, GraphQLError):
            return {"data": None, "errors": [request_error(parsed.document)]}
        assert isinstance(parsed.document, DocumentNode)
        variables = parsed.body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            error = GraphQLError("Variables must be a JSON object.")
            return {"data": None, "errors": [request_error(error)]}
        return self.executor.run(parsed.document, variables, parsed.operation_name)

    def _authenticate(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-api-key")
        if not key:
            message = "Valid authorization header not provided."
        elif not hmac.compare_digest(key.encode(), self.api_key().encode()):
            message = "You are not authorized to make this call."
        else:
            return None
        return _json(http_error(UNAUTHORIZED, message), 401, **{"x-amzn-ErrorType": UNAUTHORIZED})

    def _fault(
        self, request: web.Request, parsed: _Request, decision: FaultDecision
    ) -> web.StreamResponse:
        kind = decision.kind
        if kind == "drop":
            self._record(parsed, 0, [], fault="drop")
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if kind == "throttle":
            body = _throttled(parsed.fields or ["(unknown)"])
            self._record(parsed, 200, [e["errorType"] for e in body["errors"]], fault=kind)
            return _json(body)
        self._record(parsed, decision.status, [], fault=kind)
        message = _STATUS_TEXT.get(decision.status, "Server Error")
        return _json({"message": message}, decision.status)

    def _record(
        self,
        parsed: _Request,
        status: int,
        error_types: list[str | None],
        error_fields: set[str] | None = None,
        fault: str | None = None,
    ) -> None:
        self.stats.record(
            parsed.operation,
            parsed.fields,
            status=status,
            error_types=error_types,
            error_fields=error_fields or set(),
            fault=fault,
        )
