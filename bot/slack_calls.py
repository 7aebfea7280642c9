"""Calling Slack's Web API: retries, pacing, and what a failure means.

Slack fails in ordinary ways: 429s with Retry-After, 5xx, dropped connections, whole outages.
Calls are retried by slack-sdk's own retry handlers (429 honouring Retry-After, 5xx and
connection errors with exponential backoff), with their waits on an injectable `sleep` so
tests run on virtual time. What is left after the retries comes out as one of two errors:
`SlackTransientError` (try again later; the outbox does) or `SlackPermanentError` (the request
itself is wrong: invalid_blocks, channel_not_found, not_in_channel...), logged once, never
with the token.

Pacing keeps the bot under Slack's limits so that a fan-out never trips them at all: a token
bucket per channel for chat.postMessage (~1 per second), and one for the whole workspace for
chat.update (Tier 3, ~50 per minute).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

logger = logging.getLogger("hitlbot.slack")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class SlackCall(Protocol):
    """Runs one Web API call; failures come out as `SlackTransientError` or
    `SlackPermanentError` (`SlackIO._call`)."""

    async def __call__(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        context: str = "",
    ) -> AsyncSlackResponse: ...


#: `ok: false` errors that are Slack having trouble, not the request being wrong.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "timeout",
    }
)


class SlackPermanentError(Exception):
    """Slack refused the call for a reason a retry cannot fix (the request itself is wrong)."""

    def __init__(self, method: str, error: str, detail: list[str] | None = None) -> None:
        self.method = method
        self.error = error
        self.detail = list(detail or [])
        suffix = f" ({'; '.join(self.detail)})" if self.detail else ""
        super().__init__(f"{method} failed: {error}{suffix}")


class SlackTransientError(Exception):
    """Slack did not answer usefully after the retries; try again later.

    `uncertain` is True when the call may have reached Slack (a 5xx or a connection lost
    mid-request): before posting again, look for the message first. `retry_after` is the
    wait a 429 asked for (None for other failures).
    """

    def __init__(
        self, method: str, reason: str, *, uncertain: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{method}: {reason}")
        self.uncertain = uncertain
        self.retry_after = retry_after


@dataclass(frozen=True)
class SlackIOConfig:
    """Tuning knobs; the defaults follow Slack's documented limits."""

    pace_per_second: float = 1.0  # chat.postMessage per channel ("1 per second"); 0 = off
    pace_burst: int = 3  # Slack tolerates short bursts; devslack allows 5
    updates_per_minute: float = 50.0  # chat.update, workspace-wide (Tier 3); 0 = off
    update_burst: int = 20  # what goes at once before the Tier 3 pace applies
    rate_limit_retries: int = 8  # 429s are normal under load: wait Retry-After, again
    server_error_retries: int = 4  # 0.5, 1, 2, 4 s (+ jitter) before giving up to the outbox
    connection_retries: int = 4
    backoff_factor: float = 0.5
    timeout: int = 30  # seconds per HTTP request (slack-sdk's default)
    outbox_backoff: float = 1.0  # first wait after a failed outbox round, doubled up to max
    outbox_backoff_max: float = 60.0
    outbox_poll: float = 10.0  # real seconds between scans when idle (other replicas' entries)
    outbox_recheck: float = 1.0  # real seconds between looks at updates whose post is not out
    claim_lease: float = 120.0  # how long another process's claim/lease may be in flight
    lookup_margin: float = 600.0  # seconds before a claim that a found message may be from
    lookup_pages: int = 20  # at most this many history pages are searched for a key
    view_deadline: float = 2.5  # trigger ids die after 3 s: views.open must be done by then


# --------------------------------------------------------------------------- retry handlers


class _SleepingRetry(AsyncRetryHandler):
    """slack-sdk's backoff, with the wait on our sleep so tests can run on virtual time."""

    _sleep: Sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        await self._sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's 429 handler (waits Retry-After + up to 1 s jitter) on an injectable sleep.

    `max_wait` (interactive calls) refuses a retry whose Retry-After would outlive the caller's
    deadline: failing fast beats answering after the trigger id expired.
    """

    def __init__(self, max_retry_count: int, sleep: Sleep, max_wait: float | None = None) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return self._max_wait is None or retry_after(response.headers) <= self._max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        await self._sleep(retry_after(response.headers) + random.random())
        state.increment_current_attempt()


class ServerErrorRetry(_SleepingRetry, AsyncServerErrorRetryHandler):
    """5xx (slack-sdk covers 500/503; 502/504 are the same kind of trouble behind a proxy)."""

    def __init__(self, max_retry_count: int, sleep: Sleep, interval: Any) -> None:
        AsyncServerErrorRetryHandler.__init__(self, max_retry_count, interval)
        self._sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


class ConnectionErrorRetry(_SleepingRetry, AsyncConnectionErrorRetryHandler):
    """Connection refused/reset/dropped, plus timeouts (slack-sdk leaves those out)."""

    def __init__(self, max_retry_count: int, sleep: Sleep, interval: Any) -> None:
        AsyncConnectionErrorRetryHandler.__init__(
            self,
            max_retry_count,
            interval,
            error_types=[
                aiohttp.ServerConnectionError,
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError,
                aiohttp.ClientPayloadError,
                TimeoutError,
            ],
        )
        self._sleep = sleep


class SlackTroubleRetry(_SleepingRetry):
    """HTTP 200 with `ok: false` and an error that is Slack's trouble (`internal_error`...)."""

    def __init__(self, max_retry_count: int, sleep: Sleep, interval: Any) -> None:
        super().__init__(max_retry_count, interval)
        self._sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 200 or not isinstance(response.body, dict):
            return False
        body = response.body
        return body.get("ok") is False and body.get("error") in TRANSIENT_ERRORS


def retry_after(headers: Any) -> int:
    """Retry-After in seconds (slack-sdk hands headers over as lists or plain strings)."""
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0, int(float(raw)))
            except (TypeError, ValueError):
                return 1
    return 1


def retry_handlers(
    config: SlackIOConfig, sleep: Sleep, *, mode: str = "patient"
) -> list[AsyncRetryHandler]:
    """The handler chain for one way of calling Slack.

    - `patient`: posts and other calls nobody waits on in person: 429s waited out, 5xx and
      connection errors retried with backoff.
    - `interactive` (views.open/push): one quick retry only, the trigger id dies in 3 s.
    - `queued` (chat.update from the outbox): one quick retry of 5xx and connection errors,
      and no 429 retry at all, because the outbox waits out a 429 itself: a Tier 3 limit is
      the workspace's, so every queued update waits, not just the one that met it.
    """
    quick = FixedValueRetryIntervalCalculator(0.1)
    if mode == "interactive":
        return [
            RateLimitRetry(1, sleep, max_wait=1),
            ServerErrorRetry(1, sleep, quick),
            ConnectionErrorRetry(1, sleep, quick),
            SlackTroubleRetry(1, sleep, quick),
        ]
    if mode == "queued":
        return [
            ServerErrorRetry(1, sleep, quick),
            ConnectionErrorRetry(1, sleep, quick),
            SlackTroubleRetry(1, sleep, quick),
        ]
    backoff = BackoffRetryIntervalCalculator(backoff_factor=config.backoff_factor)
    return [
        RateLimitRetry(config.rate_limit_retries, sleep),
        ServerErrorRetry(config.server_error_retries, sleep, backoff),
        ConnectionErrorRetry(config.connection_retries, sleep, backoff),
        SlackTroubleRetry(config.server_error_retries, sleep, backoff),
    ]


def retrying_client(
    client: AsyncWebClient, handlers: list[AsyncRetryHandler], timeout: int | None = None
) -> AsyncWebClient:
    """A copy of `client` (token, base URL, session...) with our retry handlers.

    A copy, so that the client handed to Bolt keeps its own behaviour.
    """
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=timeout or client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        trust_env_in_session=client.trust_env_in_session,
        headers={k: v for k, v in client.headers.items() if k != "User-Agent"},
        team_id=client.default_params.get("team_id"),
        logger=client.logger,
        retry_handlers=handlers,
    )


# --------------------------------------------------------------------------- pacing


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Pacer:
    """Token buckets by key (a channel for chat.postMessage, the workspace for chat.update).

    Callers reserve a slot at once (tokens may go negative) and sleep until it comes, so a
    fan-out of N calls goes out at `rate` per second in call order, without a single 429,
    instead of N callers racing into the limit and waiting Retry-After each. A 429's
    Retry-After (`hold`) is honoured even with pacing off.
    """

    def __init__(self, rate: float, burst: int, clock: Clock, sleep: Sleep) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._held_until: dict[str, float] = {}

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        return bucket

    def _held(self, key: str) -> float:
        """Seconds until Slack's last Retry-After for `key` is over."""
        return max(0.0, self._held_until.get(key, 0.0) - self.clock())

    def reserve(self, key: str) -> float:
        """Take a token for `key`; return how many seconds to wait before using it."""
        held = self._held(key)
        if self.rate <= 0:  # pacing off (a Slack without limits, e.g. benchmarks)
            return held
        bucket = self._bucket(key)
        bucket.tokens -= 1.0
        return max(held, 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate)

    def try_reserve(self, key: str) -> bool:
        """Take a token only if one is there now (a caller that would rather not wait)."""
        if self._held(key) > 0:
            return False
        if self.rate <= 0:
            return True
        bucket = self._bucket(key)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def hold(self, key: str, seconds: float) -> None:
        """Slack said to wait (a 429's Retry-After): nothing goes for `key` before then."""
        until = self.clock() + seconds
        self._held_until[key] = max(until, self._held_until.get(key, 0.0))

    async def wait(self, key: str) -> None:
        delay = self.reserve(key)
        if delay > 0:
            await self.sleep(delay)


# --------------------------------------------------------------------------- error mapping


def _response_data(exc: SlackApiError) -> dict[str, Any]:
    data = getattr(exc.response, "data", None)
    return data if isinstance(data, dict) else {}


def _status(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def classify(method: str, exc: BaseException, context: str = "") -> Exception:
    """Map a client exception to `SlackTransientError` or `SlackPermanentError` (logged once
    here)."""
    if isinstance(exc, SlackApiError):
        data, status = _response_data(exc), _status(exc)
        error = str(data.get("error") or f"http_{status}")
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            maybe_landed = status >= 500 or error not in ("ratelimited", "rate_limited")
            wait = retry_after(getattr(exc.response, "headers", None)) if status == 429 else None
            return SlackTransientError(
                method, f"HTTP {status} {error}", uncertain=maybe_landed, retry_after=wait
            )
        detail = [str(m) for m in (data.get("response_metadata") or {}).get("messages") or []]
        where = f" [{context}]" if context else ""
        shown = f": {'; '.join(detail)}" if detail else ""
        logger.error("slack %s failed permanently: %s%s%s", method, error, shown, where)
        return SlackPermanentError(method, error, detail)
    refused = isinstance(exc, aiohttp.ClientConnectorError)
    return SlackTransientError(method, type(exc).__name__, uncertain=not refused)


NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
