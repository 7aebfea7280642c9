"""Which failures are worth another attempt, and how long to wait before it.

Retried, as Plexus's own client retries them: throttling (HTTP 429 or an AppSync/DynamoDB
throttling `errorType`), HTTP 5xx and AppSync's internal failures, timeouts and connection
errors. Everything else (a bad input, a failed condition, refused credentials) fails at once:
asking again would get the same answer.

Waits grow exponentially with jitter (so many clients throttled together do not come back
together), and a policy gives up after a number of attempts or a time budget, whichever comes
first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

from adapters.plexus.errors import PlexusAuthError, PlexusGraphQLError

# errorType values (or parts of them) that mean "too much at once" or "our side failed".
_TRANSIENT_ERROR_TYPES = (
    "throttl",  # Throttling, ThrottlingException, DynamoDB:ThrottlingException
    "toomanyrequests",
    "provisionedthroughputexceeded",
    "requestlimitexceeded",
    "limitexceeded",
    "serviceunavailable",
    "internalfailure",
    "internalservererror",
    "servererror",
    "badgateway",
    "timeout",
)
_TRANSIENT_MESSAGES = ("rate exceeded", "throttl", "too many requests", "try again")
_AUTH_ERROR_TYPES = ("unauthorized", "accessdenied", "forbidden", "unrecognizedclient")


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries within `within_seconds`; waits of `first_wait` doubling up to
    `max_wait`, each scaled by a random factor in [0.5, 1)."""

    attempts: int
    within_seconds: float
    first_wait: float = 0.25
    max_wait: float = 8.0

    def wait_before(self, attempt: int, random: Callable[[], float]) -> float:
        """The wait before attempt number `attempt` (2 for the first retry)."""
        ceiling = min(self.max_wait, self.first_wait * 2 ** (attempt - 2))
        return ceiling * (0.5 + random() / 2)


@dataclass(frozen=True)
class RetryPolicies:
    """The client's policies, by kind of call; every adapter asks its client for them, so a
    host configures them in one place."""

    # Reads (and anything that names no policy).
    read: RetryPolicy = RetryPolicy(attempts=6, within_seconds=20.0)
    # Records that matter (procedures, sessions, requests for a person and their answers):
    # worth waiting out a throttling burst, but bounded, since an execution waits on them.
    # Every write here is safe to repeat (see `PlexusClient.create`).
    write: RetryPolicy = RetryPolicy(attempts=8, within_seconds=25.0)
    # Ordinary chat messages: a lost one is not worth holding a run for long.
    chat: RetryPolicy = RetryPolicy(attempts=4, within_seconds=8.0)


@dataclass(frozen=True)
class Failure:
    """An attempt that failed and may be tried again; `reason` is for people."""

    reason: str


def classify(operation: str, exc: BaseException) -> Failure:
    """A retryable failure, or raise the error that says why retrying is pointless."""
    if isinstance(exc, TransportQueryError):
        return _classify_graphql(operation, exc.errors or [], str(exc))
    if isinstance(exc, TransportServerError):
        code = exc.code or 0
        if code in (401, 403):
            raise PlexusAuthError(operation, f"HTTP {code}") from None
        if code == 429 or code >= 500:
            return Failure(f"HTTP {code}")
        raise PlexusGraphQLError(operation, f"HTTP {code}", _first_line(str(exc))) from None
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Failure("no answer in time")
    if isinstance(exc, TransportConnectionFailed | TransportClosed | aiohttp.ClientError | OSError):
        return Failure(f"connection failed ({_first_line(str(exc)) or type(exc).__name__})")
    if isinstance(exc, TransportProtocolError):
        # Not a GraphQL answer (a proxy's HTML page, a cut body): the endpoint misbehaved.
        return Failure(f"not a GraphQL answer ({_first_line(str(exc))[:200]})")
    raise exc


def _classify_graphql(operation: str, errors: list[Any], text: str) -> Failure:
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    error_type = first.get("errorType") or first.get("type")
    message = str(first.get("message") or text)
    folded = str(error_type or "").lower().replace(" ", "")
    if any(word in folded for word in _AUTH_ERROR_TYPES):
        raise PlexusAuthError(operation, f"{error_type}: {_first_line(message)}") from None
    lowered = message.lower()
    if any(word in folded for word in _TRANSIENT_ERROR_TYPES) or (
        not error_type and any(word in lowered for word in _TRANSIENT_MESSAGES)
    ):
        return Failure(f"{error_type or 'error'}: {_first_line(message)}")
    raise PlexusGraphQLError(operation, error_type, _first_line(message)) from None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:500]
