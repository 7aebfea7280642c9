"""Test helpers for devplexus: one running server and the clients that talk to it.

Everything goes over real HTTP on 127.0.0.1: GraphQL through gql's aiohttp transport (what
the Plexus adapters use), raw requests through aiohttp, and the control API as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from devplexus import DevPlexus


@dataclass
class Plexus:
    """A started devplexus with a gql session, a raw HTTP session and the control API."""

    server: DevPlexus
    gql: AsyncClientSession
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.server.base_url

    async def execute(
        self, text: str, variables: dict[str, Any] | None = None, operation: str | None = None
    ) -> dict[str, Any]:
        """Run an operation the way the adapters do; GraphQL errors raise TransportQueryError."""
        request = GraphQLRequest(text, variable_values=variables, operation_name=operation)
        return await self.gql.execute(request)

    async def errors(self, text: str, variables: dict[str, Any] | None = None) -> list[dict]:
        """Run an operation that must fail; its AppSync error objects."""
        try:
            await self.execute(text, variables)
        except TransportQueryError as exc:
            assert exc.errors
            return exc.errors
        raise AssertionError("the operation succeeded")

    async def post(
        self, body: Any, headers: dict[str, str] | None = None, *, raw: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        """A raw POST /graphql (with the right key unless `headers` says otherwise)."""
        sent = {"x-api-key": self.server.config.api_key} if headers is None else headers
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.http.post(self.server.graphql_url, data=data, headers=sent) as response:
            return response.status, await response.json(content_type=None)

    async def control(
        self, path: str, body: dict[str, Any] | None = None, *, status: int = 200
    ) -> dict[str, Any]:
        """GET /_dev/api/<path> without a body, POST with one; checks the status."""
        url = f"{self.url}/_dev/api/{path}"
        request = self.http.get(url) if body is None else self.http.post(url, json=body)
        async with request as response:
            data = await response.json()
            assert response.status == status, data
            return data


def gql_client(server: DevPlexus) -> Client:
    transport = AIOHTTPTransport(
        url=server.graphql_url, headers={"x-api-key": server.config.api_key}, ssl=False
    )
    return Client(transport=transport)


def control_envelope(procedure_id: str, request_type: str, position: int = 0) -> dict[str, Any]:
    """A `control` envelope as Plexus's HITL adapter writes it (§6.2)."""
    return {
        "request_id": f"{procedure_id}:run12345:pos{position}",
        "procedure_id": procedure_id,
        "procedure_name": "Deploy",
        "invocation_id": procedure_id,
        "request_type": request_type,
        "prompt": "Deploy api v1.2.3?",
        "options": [],
        "timeout_seconds": 900,
        "default_value": False,
        "metadata": {},
        "runtime_context": {"source_line": 3, "checkpoint_position": position},
        "created_at": "2026-03-14T09:26:53.000000+00:00",
    }
