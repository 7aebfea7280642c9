"""`PlexusClient`: Plexus's GraphQL API over gql's aiohttp transport, with retries.

One client serves both sides of the bot: coroutines on an event loop (`await execute(...)`)
and the runtime's worker threads, which call the synchronous adapters (`client.call(...)`).
That works because all of the client's I/O happens on an event loop of its own, in a thread
the client starts on first use: one aiohttp connection pool, however many loops and threads
use it. A coroutine on another loop hops there and back (`asyncio.wrap_future`); a thread
blocks on the result. Blocking on an event loop is refused with a clear error instead of
stalling it.

Authentication is Plexus's: `x-api-key` by default, or AWS SigV4 (gql's
`AppSyncIAMAuthentication`, which needs botocore: the `plexus-iam` extra) when
`PLEXUS_GRAPHQL_AUTH_MODE=iam`. Retries follow `adapters.plexus.retry`; the waits use the
injected `sleep` and `monotonic`, so tests never really wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport

from adapters.plexus.errors import (
    PlexusConfigError,
    PlexusError,
    PlexusGraphQLError,
    PlexusNotFoundError,
    PlexusUnavailableError,
)
from adapters.plexus.retry import RetryPolicies, RetryPolicy, classify
from adapters.plexus.settings import PlexusSettings, load_plexus_settings

log = logging.getLogger("hitlbot.plexus")

T = TypeVar("T")


@dataclass(frozen=True)
class Operation:
    """A named GraphQL document. The name is what errors and logs call it."""

    name: str
    text: str


LIST_ACCOUNT_BY_KEY = Operation(
    "ListAccountByKey",
    """
    query ListAccountByKey($key: String!, $limit: Int, $nextToken: String) {
      listAccountByKey(key: $key, limit: $limit, nextToken: $nextToken) {
        items { id key name }
        nextToken
      }
    }
    """,
)


class _LoopThread:
    """An event loop running in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="plexus-client", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.is_current():
            return  # the loop stops once this callback returns; the thread then ends
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class PlexusClient:
    """Plexus's GraphQL API. Safe to share between threads and event loops; close it once."""

    def __init__(
        self,
        settings: PlexusSettings | None = None,
        *,
        policies: RetryPolicies | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        """`settings` default to the environment (`PLEXUS_*`). `policies` say how long each
        kind of call is retried; `sleep`, `monotonic` and `random_fraction` drive the waits."""
        self.settings = (settings or load_plexus_settings()).checked()
        self.policies = policies or RetryPolicies()
        self._sleep = sleep
        self._monotonic = monotonic
        self._random = random_fraction
        self._lock = threading.Lock()
        self._home: _LoopThread | None = None
        self._gql: Client | None = None
        self._session: AsyncClientSession | None = None
        self._connecting: asyncio.Lock | None = None
        self._documents: dict[str, GraphQLRequest] = {}
        self._account_id: str | None = None
        self._closed = False

    # -- running coroutines on the client's loop ----------------------------------------------

    def _loop_thread(self) -> _LoopThread:
        with self._lock:
            if self._closed:
                raise PlexusError("the Plexus client is closed")
            if self._home is None:
                self._home = _LoopThread()
            return self._home

    def call(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` on the client's loop and wait for it: for
        synchronous callers (the runtime's worker threads). Refused on an event loop, which it
        would stall."""
        home = self._loop_thread()
        if home.is_current():
            raise PlexusError("a Plexus adapter's blocking method was called on its own loop")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return home.submit(function(*args, **kwargs)).result()
        raise PlexusError(
            "a blocking Plexus adapter method was called on an event loop; call it from a "
            "worker thread (asyncio.to_thread) or use the client's coroutines"
        )

    async def run(
        self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> T:
        """Await `function(*args)` on the client's loop, from whichever loop the caller is on."""
        home = self._loop_thread()
        if home.is_current():
            return await function(*args, **kwargs)
        return await asyncio.wrap_future(home.submit(function(*args, **kwargs)))

    # -- GraphQL ------------------------------------------------------------------------------

    async def execute(
        self,
        operation: Operation,
        variables: dict[str, Any] | None = None,
        *,
        policy: RetryPolicy | None = None,
    ) -> dict[str, Any]:
        """Send `operation` and return its `data`, retrying transient failures.

        Raises `PlexusGraphQLError` (names the operation, the `errorType` and the message),
        `PlexusAuthError`, or `PlexusUnavailableError` once the policy gives up.
        """
        policy = policy or self.policies.read
        return await self.run(self._execute, operation, variables or {}, policy)

    async def _execute(
        self, operation: Operation, variables: dict[str, Any], policy: RetryPolicy
    ) -> dict[str, Any]:
        started = self._monotonic()
        attempt = 1
        while True:
            try:
                session = await self._connected()
                request = GraphQLRequest(
                    self._document(operation),
                    variable_values=variables,
                    operation_name=operation.name,
                )
                return await session.execute(request)
            except PlexusError:
                raise
            except Exception as exc:  # gql, aiohttp and timeouts: sorted by `classify`
                failure = classify(operation.name, exc)
                await self._reset_if_broken()
            elapsed = self._monotonic() - started
            wait = policy.wait_before(attempt + 1, self._random)
            if attempt >= policy.attempts or elapsed + wait > policy.within_seconds:
                raise PlexusUnavailableError(operation.name, attempt, elapsed, failure.reason)
            log.warning(
                "Plexus %s failed (%s); attempt %d of %d in %.2f s",
                operation.name,
                failure.reason,
                attempt + 1,
                policy.attempts,
                wait,
            )
            await self._sleep(wait)
            attempt += 1

    def _document(self, operation: Operation) -> GraphQLRequest:
        document = self._documents.get(operation.name)
        if document is None:
            document = self._documents[operation.name] = GraphQLRequest(operation.text)
        return document

    async def _connected(self) -> AsyncClientSession:
        """The gql session, opened on first use (on the client's loop, so it is bound there)."""
        if self._session is not None:
            return self._session
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._session is None:
                client = Client(
                    transport=self._transport(), execute_timeout=self.settings.request_timeout
                )
                self._session = await client.connect_async(reconnecting=False)
                self._gql = client
        return self._session

    def _transport(self) -> AIOHTTPTransport:
        settings = self.settings
        url = settings.api_url or ""
        if settings.auth_mode == "iam":
            return AIOHTTPTransport(url=url, auth=_iam_auth(settings), ssl=True)
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        return AIOHTTPTransport(url=url, headers={"x-api-key": key}, ssl=True)

    async def _reset_if_broken(self) -> None:
        """If a failure left the transport closed, the next attempt opens a fresh session."""
        transport = self._gql.transport if self._gql is not None else None
        if transport is not None and getattr(transport, "session", None) is None:
            self._session = None
            self._gql = None

    # -- helpers every adapter needs ----------------------------------------------------------

    async def create(
        self,
        create: Operation,
        get: Operation,
        values: dict[str, Any],
        *,
        policy: RetryPolicy | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create a record exactly once, even when an attempt that timed out did create it.

        The record's `id` is chosen here (or by the caller: a deterministic id makes the
        create idempotent across processes). A create that meets an existing id is the
        earlier attempt's (or another process's) record: it is read back and returned.
        Returns `(record, created_by_this_call)`.
        """
        values = {**values, "id": values.get("id") or str(uuid.uuid4())}
        try:
            data = await self.execute(
                create, {"input": values}, policy=policy or self.policies.write
            )
        except PlexusGraphQLError as exc:
            if not exc.condition_failed:
                raise
            existing = await self.get_record(get, values["id"])
            if existing is None:
                raise
            return existing, False
        return _only_value(data), True

    async def get_record(self, operation: Operation, record_id: str) -> dict[str, Any] | None:
        """`get<Model>(id)`'s record, or None when there is none."""
        return _only_value(await self.execute(operation, {"id": record_id}))

    async def require_record(self, operation: Operation, record_id: str, what: str) -> dict:
        record = await self.get_record(operation, record_id)
        if record is None:
            raise PlexusNotFoundError(f"Plexus has no {what} with id {record_id!r}")
        return record

    async def pages(
        self, operation: Operation, variables: dict[str, Any], *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Every item of a list query, following `nextToken` until it runs out.

        A query filtered after its `limit` (DynamoDB's order) may return an empty page with a
        `nextToken`; stopping there would miss what the later pages hold.
        """
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            data = await self.execute(operation, {**variables, "limit": limit, "nextToken": token})
            connection = _only_value(data) or {}
            items.extend(item for item in connection.get("items") or [] if item is not None)
            token = connection.get("nextToken")
            if not token:
                return items

    async def account_id(self) -> str | None:
        """The id of the account `PLEXUS_ACCOUNT_KEY` names (looked up once), or None when
        no key is configured."""
        key = self.settings.account_key
        if self._account_id is not None or not key:
            return self._account_id
        accounts = await self.pages(LIST_ACCOUNT_BY_KEY, {"key": key})
        match = next((account for account in accounts if account.get("key") == key), None)
        if match is None:
            raise PlexusConfigError(f"PLEXUS_ACCOUNT_KEY {key!r} names no Plexus account")
        self._account_id = str(match["id"])
        return self._account_id

    # -- lifecycle ----------------------------------------------------------------------------

    async def _disconnect(self) -> None:
        if self._gql is not None and self._session is not None:
            await self._gql.close_async()
        self._session = None
        self._gql = None

    def close(self) -> None:
        """Close the connections and stop the client's thread. Safe to call twice."""
        with self._lock:
            home, self._home = self._home, None
            self._closed = True
        if home is None:
            return
        if home.is_current():  # from the client's own loop: finish there, without waiting
            home.loop.create_task(self._disconnect()).add_done_callback(lambda _: home.stop())
            return
        home.submit(self._disconnect()).result(timeout=15)
        home.stop()

    async def aclose(self) -> None:
        """`close()` for a coroutine: waits off the caller's loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> PlexusClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _only_value(data: dict[str, Any] | None) -> Any:
    """The single root field's value of a GraphQL answer (`{"getProcedure": {...}}`)."""
    if not data:
        return None
    return next(iter(data.values()))


def _iam_auth(settings: PlexusSettings) -> Any:
    """gql's SigV4 signer for AppSync, from the credentials botocore finds (AWS_PROFILE...)."""
    try:
        from botocore.exceptions import BotoCoreError
        from gql.transport.appsync_auth import AppSyncIAMAuthentication
    except ImportError:
        raise PlexusConfigError(
            "PLEXUS_GRAPHQL_AUTH_MODE=iam needs botocore: install the plexus-iam extra "
            "(pip install 'hitlbot[plexus-iam]')"
        ) from None
    try:
        auth = AppSyncIAMAuthentication(host=settings.host, region_name=settings.region)
    except BotoCoreError as exc:
        raise PlexusConfigError(
            f"PLEXUS_GRAPHQL_AUTH_MODE=iam cannot sign requests: {exc} "
            "(set PLEXUS_API_REGION, and AWS credentials or AWS_PROFILE)"
        ) from None
    if auth._credentials is None:
        raise PlexusConfigError(
            "PLEXUS_GRAPHQL_AUTH_MODE=iam found no AWS credentials "
            "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
        )
    return auth
