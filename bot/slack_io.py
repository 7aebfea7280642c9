"""The one way the bot talks to Slack's Web API.

Slack fails in ordinary ways: 429s with Retry-After, 5xx, dropped connections, whole outages.
A Human request that never reaches Slack blocks a run forever, and one posted twice confuses
whoever clicks, so every post here is:

- retried by slack-sdk's own retry handlers (429 honouring Retry-After, 5xx and connection
  errors with exponential backoff), with their waits on an injectable `sleep` so tests run on
  virtual time;
- paced per channel (a token bucket, ~1 chat.postMessage per second with a small burst, which
  is Slack's documented per-channel limit) so a fan-out never trips the limit at all;
- idempotent per key: a claim (`slack:post:<key>` annotation) is written BEFORE posting and the
  message's channel/ts recorded after; a claim without a ts means a crash or an outage came in
  between, so Slack is searched for a message whose `metadata` carries the key before posting
  again. Another process's claim is left to it while it lives (`bot.liveness` heartbeats),
  for at most `claim_lease`; a dead process's claim is taken over at once;
- durable: when Slack stays unreachable after the retries, the post is kept in the store
  (`outbox:post:<key>` annotation) and `run_outbox()` delivers it later, in order per channel.

Errors a retry cannot fix (invalid_blocks, channel_not_found, not_in_channel, ...) are logged
in one line (never the token) and raised as `SlackPermanentError`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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

from bot.liveness import Liveness
from runtime.protocols import RunStore

logger = logging.getLogger("hitlbot.slack")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

#: Annotation keys (all per run): where a key was posted, and what still waits for Slack.
POST_PREFIX = "slack:post:"
LEASE_PREFIX = "slack:lease:"
OUTBOX_PREFIX = "outbox:"
OUTBOX_POST = "outbox:post:"
OUTBOX_UPDATE = "outbox:update:"
#: Owner of queued chat.update entries when the caller gave no run id.
NO_RUN = "-"

#: `metadata.event_type` of every post; `event_payload.key` carries the idempotency key.
METADATA_EVENT = "hitlbot_post"

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
#: Errors from views.open/push that mean "too late", not "our view is wrong".
TRIGGER_ERRORS = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class PostRef:
    """Where a message lives: what chat.update and thread replies need."""

    channel: str
    ts: str


class SlackPermanentError(Exception):
    """Slack refused the call for a reason a retry cannot fix (the request itself is wrong)."""

    def __init__(self, method: str, error: str, detail: list[str] | None = None) -> None:
        self.method = method
        self.error = error
        self.detail = list(detail or [])
        suffix = f" ({'; '.join(self.detail)})" if self.detail else ""
        super().__init__(f"{method} failed: {error}{suffix}")


class _Transient(Exception):
    """Slack did not answer usefully after the retries; try again later.

    `uncertain` is True when the call may have reached Slack (a 5xx or a connection lost
    mid-request): before posting again, look for the message first.
    """

    def __init__(self, method: str, reason: str, *, uncertain: bool) -> None:
        super().__init__(f"{method}: {reason}")
        self.uncertain = uncertain


class _Blocked(Exception):
    """A thread reply whose parent message is not posted yet."""


@dataclass(frozen=True)
class SlackIOConfig:
    """Tuning knobs; the defaults follow Slack's documented limits."""

    pace_per_second: float = 1.0  # chat.postMessage per channel ("1 per second"); 0 = off
    pace_burst: int = 3  # Slack tolerates short bursts; devslack allows 5
    rate_limit_retries: int = 8  # 429s are normal under load: wait Retry-After, again
    server_error_retries: int = 4  # 0.5, 1, 2, 4 s (+ jitter) before giving up to the outbox
    connection_retries: int = 4
    backoff_factor: float = 0.5
    timeout: int = 30  # seconds per HTTP request (slack-sdk's default)
    outbox_backoff: float = 1.0  # first wait after a failed outbox round, doubled up to max
    outbox_backoff_max: float = 60.0
    outbox_poll: float = 10.0  # real seconds between scans when idle (other replicas' entries)
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
    config: SlackIOConfig, sleep: Sleep, *, interactive: bool = False
) -> list[AsyncRetryHandler]:
    """The handler chain. Interactive calls (views.open/push) get one quick retry only."""
    if interactive:
        quick = FixedValueRetryIntervalCalculator(0.1)
        return [
            RateLimitRetry(1, sleep, max_wait=1),
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


class ChannelPacer:
    """A token bucket per channel for chat.postMessage.

    Callers reserve a slot at once (tokens may go negative) and sleep until it comes, so a
    fan-out of N posts to one channel goes out at `rate` per second in call order, without
    a single 429, instead of N callers racing into the limit and waiting Retry-After each.
    """

    def __init__(self, rate: float, burst: int, clock: Clock, sleep: Sleep) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, channel: str) -> float:
        """Take a token for `channel`; return how many seconds to wait before using it."""
        if self.rate <= 0:  # pacing off (a Slack without limits, e.g. benchmarks)
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(self.burst, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        bucket.tokens -= 1.0
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate

    async def wait(self, channel: str) -> None:
        delay = self.reserve(channel)
        if delay > 0:
            await self.sleep(delay)


# --------------------------------------------------------------------------- error mapping


def _response_data(exc: SlackApiError) -> dict[str, Any]:
    data = getattr(exc.response, "data", None)
    return data if isinstance(data, dict) else {}


def _status(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def classify(method: str, exc: BaseException, context: str = "") -> Exception:
    """Map a client exception to `_Transient` or `SlackPermanentError` (logged once here)."""
    if isinstance(exc, SlackApiError):
        data, status = _response_data(exc), _status(exc)
        error = str(data.get("error") or f"http_{status}")
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            maybe_landed = status >= 500 or error not in ("ratelimited", "rate_limited")
            return _Transient(method, f"HTTP {status} {error}", uncertain=maybe_landed)
        detail = [str(m) for m in (data.get("response_metadata") or {}).get("messages") or []]
        where = f" [{context}]" if context else ""
        shown = f": {'; '.join(detail)}" if detail else ""
        logger.error("slack %s failed permanently: %s%s%s", method, error, shown, where)
        return SlackPermanentError(method, error, detail)
    refused = isinstance(exc, aiohttp.ClientConnectorError)
    return _Transient(method, type(exc).__name__, uncertain=not refused)


_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


# --------------------------------------------------------------------------- posts


@dataclass
class _Post:
    """One chat.postMessage, as queued in the outbox."""

    key: str
    run_id: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    thread_key: str | None = None
    metadata: dict[str, Any] | None = None
    claimed_at: float = 0.0

    def entry(
        self, *, uncertain: bool, not_before: float = 0.0, waits_for: str | None = None
    ) -> dict[str, Any]:
        """`not_before` holds the entry back while `waits_for` (a process) may still post it."""
        return {
            "kind": "post",
            "key": self.key,
            "channel": self.channel,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "thread_key": self.thread_key,
            "metadata": self.metadata,
            "claimed_at": self.claimed_at,
            "uncertain": uncertain,
            "not_before": not_before,
            "waits_for": waits_for,
            "attempt": 0,
        }

    @classmethod
    def from_entry(cls, run_id: str, entry: dict[str, Any]) -> _Post:
        return cls(
            key=entry["key"],
            run_id=run_id,
            channel=entry["channel"],
            text=entry.get("text") or "",
            blocks=entry.get("blocks") or [],
            thread_ts=entry.get("thread_ts"),
            thread_key=entry.get("thread_key"),
            metadata=entry.get("metadata"),
            claimed_at=float(entry.get("claimed_at") or 0.0),
        )

    def slack_metadata(self) -> dict[str, Any]:
        """The caller's metadata (if any) with our key in `event_payload.key` (reserved)."""
        given = self.metadata or {}
        payload = dict(given.get("event_payload") or {})
        payload["key"] = self.key
        return {"event_type": given.get("event_type") or METADATA_EVENT, "event_payload": payload}


def _carries_key(message: dict[str, Any], key: str) -> bool:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return isinstance(payload, dict) and payload.get("key") == key


@dataclass
class _Queue:
    """In-memory index of the outbox: which channels have posts waiting (keeps order)."""

    by_channel: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def add(self, channel: str, run_id: str, akey: str) -> None:
        self.by_channel.setdefault(channel, set()).add((run_id, akey))

    def discard(self, channel: str, run_id: str, akey: str) -> None:
        items = self.by_channel.get(channel)
        if items is not None:
            items.discard((run_id, akey))
            if not items:
                del self.by_channel[channel]

    def busy(self, channel: str) -> bool:
        return bool(self.by_channel.get(channel))


class SlackIO:
    """The one way the bot talks to Slack's Web API: retries 429 (Retry-After) and 5xx/
    connection errors with backoff (slack-sdk retry handlers), paces chat.postMessage per channel
    (~1/s with a small burst) so a fan-out never trips the limit, posts idempotently per key, and
    while Slack is down keeps posts in a durable outbox (store annotations) and delivers them when
    it is back. Never raises to callers for transient failures; raises SlackPermanentError for
    4xx Slack errors that a retry cannot fix (invalid_blocks, channel_not_found...).

    `clock` (monotonic) paces posts, `sleep` is every wait (retry, pacing, backoff) and
    `wall_clock` (epoch seconds, comparable to Slack ts) dates claims; tests pass a virtual
    clock for all three.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        store: RunStore,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
        config: SlackIOConfig | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        self.config = config or SlackIOConfig()
        self._store = store
        self._sleep = sleep
        self._wall = wall_clock
        self._owns_session = client.session is None
        self._client = retrying_client(client, retry_handlers(self.config, sleep))
        self._fast = retrying_client(
            client, retry_handlers(self.config, sleep, interactive=True), timeout=3
        )
        self._pacer = ChannelPacer(
            self.config.pace_per_second, self.config.pace_burst, clock, sleep
        )
        # Tells this process's claims from others', and whether those others still live.
        self._liveness = liveness or Liveness(store, wall_clock=wall_clock)
        self._owner = self._liveness.owner
        self._inflight: dict[tuple[str, str], asyncio.Future[PostRef | None]] = {}
        self._queue: _Queue | None = None
        # One lock per message being updated; weak, so finished runs leave nothing behind.
        self._ref_locks: weakref.WeakValueDictionary[PostRef, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._wake = asyncio.Event()

    @property
    def client(self) -> AsyncWebClient:
        """The retrying client (for other Web API calls, e.g. `Approvers`)."""
        return self._client

    async def close(self) -> None:
        """Close the HTTP session this object opened (not one the given client brought)."""
        session = self._client.session
        if self._owns_session and session is not None and not session.closed:
            await session.close()

    def _ensure_session(self) -> None:
        """One pooled aiohttp session for every call (slack-sdk opens one per call otherwise)."""
        if self._client.session is None or self._client.session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout)
            session = aiohttp.ClientSession(timeout=timeout)
            self._client.session = self._fast.session = session
            self._owns_session = True

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        context: str = "",
    ) -> AsyncSlackResponse:
        """Run one Web API call; failures come out as `_Transient` or `SlackPermanentError`."""
        self._ensure_session()
        try:
            return await call()
        except SlackApiError as exc:
            raise classify(method, exc, context) from None
        except _NETWORK_ERRORS as exc:
            raise classify(method, exc, context) from None

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Store calls do (SQLite) I/O: keep them off the event loop."""
        return await asyncio.to_thread(fn, *args)

    # ------------------------------------------------------------------ posting

    def ref(self, run_id: str, key: str) -> PostRef | None:
        """Where `key` was posted, or None while it is not (yet) in Slack."""
        claim = self._store.get_annotation(run_id, POST_PREFIX + key)
        if isinstance(claim, dict) and claim.get("ts"):
            return PostRef(claim["channel"], claim["ts"])
        return None

    async def post(
        self,
        key: str,
        run_id: str,
        *,
        channel: str,
        text: str,
        blocks: list,
        thread_ts: str | None = None,
        metadata: dict | None = None,
        thread_key: str | None = None,
    ) -> PostRef | None:
        """Post once per (run_id, key): a second call returns the first PostRef, or, while the
        first is still queued, gives the queued post this call's text and blocks.

        Returns None when the post was queued because Slack is unreachable (or it waits for
        its thread parent); `ref()` tells where it went once delivered. `thread_key` (instead of
        `thread_ts`) names the post of the same run whose thread this goes into, resolved when
        delivered, so a reply can be queued behind a parent that is itself still queued.
        """
        slot = (run_id, key)
        running = self._inflight.get(slot)
        if running is not None:  # the same key is being posted by this process right now
            return await asyncio.shield(running)
        future: asyncio.Future[PostRef | None] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        message = _Post(key, run_id, channel, text, blocks, thread_ts, thread_key, metadata)
        try:
            result = await self._post_claimed(message)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters (if any) re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[slot]

    async def _post_claimed(self, message: _Post) -> PostRef | None:
        message.claimed_at = self._wall()
        claim = {
            "channel": message.channel,
            "thread_ts": message.thread_ts,
            "ts": None,
            "owner": self._owner,
            "claimed_at": message.claimed_at,
        }
        akey = POST_PREFIX + message.key
        if await self._db(self._store.claim_annotation, message.run_id, akey, claim):
            return await self._post_or_queue(message, uncertain=False)
        existing = await self._db(self._store.get_annotation, message.run_id, akey)
        if existing is None:  # dropped after a permanent failure: a fresh attempt
            if await self._db(self._store.claim_annotation, message.run_id, akey, claim):
                return await self._post_or_queue(message, uncertain=False)
            existing = await self._db(self._store.get_annotation, message.run_id, akey) or {}
        return await self._resume_claim(message, existing)

    async def _resume_claim(self, message: _Post, claim: dict[str, Any]) -> PostRef | None:
        """A claim was there already: posted, queued, in flight elsewhere, or orphaned."""
        if claim.get("ts"):
            return PostRef(claim["channel"], claim["ts"])
        queued = await self._db(
            self._store.get_annotation, message.run_id, OUTBOX_POST + message.key
        )
        if queued is not None:
            # Still waiting for Slack: it goes out with the newest content (a run's message
            # must not arrive showing a status the run has long left).
            if (queued.get("text"), queued.get("blocks")) != (message.text, message.blocks):
                fresh = {**queued, "text": message.text, "blocks": message.blocks}
                await self._db(
                    self._store.set_annotation, message.run_id, OUTBOX_POST + message.key, fresh
                )
            return None
        message.claimed_at = float(claim.get("claimed_at") or 0.0)
        owner = claim.get("owner")
        lease_end = message.claimed_at + self.config.claim_lease
        if self._wall() < lease_end and await self._alive(owner):
            # Another process may still be posting it; the outbox looks (then posts) once
            # its lease is over, or as soon as that process is found dead.
            await self._enqueue(message, uncertain=True, not_before=lease_end, waits_for=owner)
            return None
        return await self._post_or_queue(message, uncertain=True)

    async def _alive(self, owner: Any) -> bool:
        if owner == self._owner:  # no store read (and no thread) needed for our own claims
            return True
        return await self._db(self._liveness.alive, owner)

    async def _post_or_queue(self, message: _Post, *, uncertain: bool) -> PostRef | None:
        """Post now unless order requires queueing; queue on transient failure."""
        if await self._must_wait(message):
            await self._enqueue(message, uncertain=uncertain)
            return None
        try:
            return await self._deliver(message, uncertain=uncertain)
        except SlackPermanentError:
            await self._forget(message)
            raise
        except _Blocked:
            await self._enqueue(message, uncertain=uncertain)
            return None
        except _Transient as exc:
            logger.warning("slack: queued %s for later (%s)", message.key, exc)
            await self._enqueue(message, uncertain=uncertain or exc.uncertain)
            return None

    async def _must_wait(self, message: _Post) -> bool:
        """Earlier posts to this channel are still queued, or the thread parent is."""
        queue = await self._load_queue()
        if queue.busy(message.channel):
            return True
        if message.thread_ts or not message.thread_key:
            return False
        parent = await self._db(
            self._store.get_annotation, message.run_id, POST_PREFIX + message.thread_key
        )
        return isinstance(parent, dict) and not parent.get("ts")

    async def _deliver(self, message: _Post, *, uncertain: bool) -> PostRef:
        """Find (when a previous attempt may have landed) or post the message; record it."""
        ref = await self._find_posted(message) if uncertain else None
        if ref is None:
            thread_ts = await self._thread_ts(message)
            await self._pacer.wait(message.channel)
            response = await self._call(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(
                    channel=message.channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                    metadata=message.slack_metadata(),
                ),
                context=f"channel={message.channel} key={message.key}",
            )
            ref = PostRef(str(response["channel"]), str(response["ts"]))
        await self._record(message, ref)
        return ref

    async def _record(self, message: _Post, ref: PostRef) -> None:
        value = {
            "channel": ref.channel,
            "ts": ref.ts,
            "thread_ts": message.thread_ts,
            "claimed_at": message.claimed_at,
        }
        await self._db(self._store.set_annotation, message.run_id, POST_PREFIX + message.key, value)

    async def _forget(self, message: _Post) -> None:
        """Nothing was posted and nothing will be: free the key for a corrected attempt."""
        await self._db(self._store.delete_annotation, message.run_id, POST_PREFIX + message.key)

    async def _thread_ts(self, message: _Post) -> str | None:
        if message.thread_ts or not message.thread_key:
            return message.thread_ts
        parent = await self._db(
            self._store.get_annotation, message.run_id, POST_PREFIX + message.thread_key
        )
        if not isinstance(parent, dict):
            logger.warning(
                "slack: thread parent %s of %s was never posted; posting at top level",
                message.thread_key,
                message.key,
            )
            return None
        if not parent.get("ts"):
            raise _Blocked(message.thread_key)
        return str(parent["ts"])

    # ------------------------------------------------------------------ looking for a post

    async def _find_posted(self, message: _Post) -> PostRef | None:
        """The message carrying `message.key` in its metadata, if an earlier attempt landed."""
        try:
            channel = await self._channel_id(message.channel)
        except SlackPermanentError:
            channel = None
        if channel is None:
            logger.warning(
                "slack: cannot check %s for an earlier post of %s (pass a channel id)",
                message.channel,
                message.key,
            )
            return None
        try:
            thread_ts = await self._thread_ts(message)
        except _Blocked:
            return None  # the parent is not posted: neither is this reply
        pages = self._replies(channel, thread_ts) if thread_ts else self._history(channel, message)
        try:
            async for batch in pages:
                for found in batch:
                    if _carries_key(found, message.key):
                        return PostRef(channel, str(found["ts"]))
        except SlackPermanentError as exc:
            # Channel or thread gone (the post itself will say so), or the app lacks the
            # *:history scopes: without them a crash between claim and record can double post.
            logger.warning("slack: could not search for %s (%s)", message.key, exc.error)
        return None

    async def _channel_id(self, channel: str) -> str | None:
        if _CHANNEL_ID.match(channel):
            return channel
        if not _USER_ID.match(channel):
            return None
        response = await self._call(
            "conversations.open", lambda: self._client.conversations_open(users=channel)
        )
        return str(response["channel"]["id"])

    async def _history(self, channel: str, message: _Post) -> Any:
        oldest = max(0.0, message.claimed_at - self.config.lookup_margin)
        cursor: str | None = None
        for _ in range(self.config.lookup_pages):
            response = await self._call(
                "conversations.history",
                lambda c=cursor: self._client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    limit=200,
                    cursor=c,
                    include_all_metadata=True,
                ),
            )
            yield response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    async def _replies(self, channel: str, thread_ts: str) -> Any:
        cursor: str | None = None
        for _ in range(self.config.lookup_pages):
            response = await self._call(
                "conversations.replies",
                lambda c=cursor: self._client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=200, cursor=c, include_all_metadata=True
                ),
            )
            yield response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    # ------------------------------------------------------------------ outbox

    async def _load_queue(self) -> _Queue:
        """The outbox index, read from the store once (entries left by a previous process)."""
        if self._queue is None:
            queue = _Queue()
            for run_id, akey, entry in await self._db(self._store.list_annotations, OUTBOX_PREFIX):
                if isinstance(entry, dict) and entry.get("channel"):
                    queue.add(entry["channel"], run_id, akey)
            if self._queue is None:
                self._queue = queue
        return self._queue

    async def _enqueue(
        self,
        message: _Post,
        *,
        uncertain: bool,
        not_before: float = 0.0,
        waits_for: str | None = None,
    ) -> None:
        akey = OUTBOX_POST + message.key
        entry = message.entry(uncertain=uncertain, not_before=not_before, waits_for=waits_for)
        await self._db(self._store.set_annotation, message.run_id, akey, entry)
        (await self._load_queue()).add(message.channel, message.run_id, akey)
        self._wake.set()

    async def _dequeue(self, run_id: str, akey: str, channel: str) -> None:
        await self._db(self._store.delete_annotation, run_id, akey)
        (await self._load_queue()).discard(channel, run_id, akey)

    def outbox_size(self) -> int:
        """How many posts and updates wait for Slack (from the store: all processes)."""
        return len(self._store.list_annotations(OUTBOX_PREFIX))

    async def drain(self) -> None:
        """Deliver everything queued now (tests, shutdown); what still fails stays queued."""
        while True:
            delivered, stuck, _ = await self._outbox_round()
            if not delivered or not stuck:
                return

    async def run_outbox(self) -> None:
        """Background task: deliver queued posts in order per channel, backing off while down."""
        delay = self.config.outbox_backoff
        while True:
            try:
                delivered, stuck, failing = await self._outbox_round()
            except Exception:  # never let the delivery task die: log and back off
                logger.exception("slack: outbox round failed")
                delivered, stuck, failing = 0, 1, True
            if stuck and not failing:  # only held back for a live process: look again soon
                await self._sleep(min(self._liveness.interval, self.config.outbox_backoff_max))
                continue
            if stuck:
                await self._sleep(delay)
                delay = delay if delivered else min(delay * 2, self.config.outbox_backoff_max)
                continue
            delay = self.config.outbox_backoff
            await self._idle()

    async def _idle(self) -> None:
        """Wait (real time) for a new entry, or poll for ones other processes left."""
        try:
            await asyncio.wait_for(self._wake.wait(), self.config.outbox_poll)
        except TimeoutError:
            self._queue = None  # re-read: another process may have queued or delivered

    async def _outbox_round(self) -> tuple[int, int, bool]:
        """One pass over the outbox, channels in parallel: (delivered, still waiting, whether a
        delivery failed rather than only being held back for a live process)."""
        self._wake.clear()  # before listing: an entry queued from now on wakes the next round
        entries = await self._db(self._store.list_annotations, OUTBOX_PREFIX)
        by_channel: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for run_id, akey, entry in entries:
            if isinstance(entry, dict) and entry.get("channel"):
                by_channel.setdefault(entry["channel"], []).append((run_id, akey, entry))
        results = await asyncio.gather(*(self._drain_channel(c) for c in by_channel.values()))
        delivered = sum(done for done, _, _ in results)
        return delivered, sum(waiting for _, waiting, _ in results), any(f for _, _, f in results)

    async def _drain_channel(
        self, entries: list[tuple[str, str, dict[str, Any]]]
    ) -> tuple[int, int, bool]:
        """Deliver a channel's entries in order; stop at the first that cannot go yet:
        (delivered, still waiting, whether it stopped on a failed delivery)."""
        for index, (run_id, akey, entry) in enumerate(entries):
            if await self._held_back(entry):
                return index, len(entries) - index, False
            if not await self._delivered(run_id, akey, entry):
                return index, len(entries) - index, True
        return len(entries), 0, False

    async def _held_back(self, entry: dict[str, Any]) -> bool:
        """Not yet: its time has not come and the process it waits for is still alive."""
        if entry.get("not_before", 0) <= self._wall():
            return False
        waits_for = entry.get("waits_for")
        return waits_for is None or await self._alive(waits_for)

    async def _delivered(self, run_id: str, akey: str, entry: dict[str, Any]) -> bool:
        """Deliver one entry under a lease (several replicas run the outbox)."""
        lease = await self._take_lease(run_id, akey, entry)
        if lease is None:
            return False
        try:
            if entry.get("kind") == "update":
                return await self._deliver_update_entry(run_id, akey, entry)
            return await self._deliver_post_entry(run_id, akey, entry)
        finally:
            await self._db(self._store.delete_annotation, run_id, lease)

    async def _take_lease(self, run_id: str, akey: str, entry: dict[str, Any]) -> str | None:
        """Claim attempt N of an entry; a lease left by a crashed process expires."""
        attempt = int(entry.get("attempt") or 0)
        lease = f"{LEASE_PREFIX}{akey}:{attempt}"
        mine = {"owner": self._owner, "at": self._wall()}
        if await self._db(self._store.claim_annotation, run_id, lease, mine):
            return lease
        held = await self._db(self._store.get_annotation, run_id, lease) or {}
        in_lease = self._wall() - float(held.get("at") or 0) < self.config.claim_lease
        if in_lease and await self._alive(held.get("owner")):
            return None
        entry["attempt"] = attempt + 1  # stale: move to the next attempt number
        await self._db(self._store.set_annotation, run_id, akey, entry)
        await self._db(self._store.delete_annotation, run_id, lease)
        return await self._take_lease(run_id, akey, entry)

    async def _deliver_post_entry(self, run_id: str, akey: str, entry: dict[str, Any]) -> bool:
        message = _Post.from_entry(run_id, entry)
        claim = await self._db(self._store.get_annotation, run_id, POST_PREFIX + message.key)
        if isinstance(claim, dict) and claim.get("ts"):  # delivered (elsewhere) already
            await self._dequeue(run_id, akey, message.channel)
            return True
        if claim is None:  # re-claim so that concurrent post() calls see it
            await self._db(
                self._store.claim_annotation,
                run_id,
                POST_PREFIX + message.key,
                {"channel": message.channel, "ts": None, "owner": self._owner},
            )
        try:
            ref = await self._deliver(message, uncertain=bool(entry.get("uncertain")))
        except _Blocked:
            return False
        except SlackPermanentError:
            await self._forget(message)
            await self._dequeue(run_id, akey, message.channel)
            logger.error("slack: dropped queued post %s (run %s)", message.key, run_id)
            return True
        except _Transient as exc:
            entry["attempt"] = int(entry.get("attempt") or 0) + 1
            entry["uncertain"] = bool(entry.get("uncertain")) or exc.uncertain
            await self._db(self._store.set_annotation, run_id, akey, entry)
            return False
        await self._dequeue(run_id, akey, message.channel)
        logger.info("slack: delivered queued %s to %s at %s", message.key, ref.channel, ref.ts)
        return True

    # ------------------------------------------------------------------ other calls

    def _lock(self, ref: PostRef) -> asyncio.Lock:
        lock = self._ref_locks.get(ref)
        if lock is None:
            lock = self._ref_locks[ref] = asyncio.Lock()
        return lock

    async def update(
        self, ref: PostRef, *, text: str, blocks: list, run_id: str | None = None
    ) -> None:
        """chat.update, retried; while Slack is down the latest content waits in the outbox.

        `run_id` only files the queued update under its run (any value works).
        """
        owner, akey = run_id or NO_RUN, f"{OUTBOX_UPDATE}{ref.channel}:{ref.ts}"
        async with self._lock(ref):
            try:
                await self._chat_update(ref, text, blocks)
            except _Transient as exc:
                logger.warning("slack: queued chat.update of %s %s (%s)", ref.channel, ref.ts, exc)
                entry = {
                    "kind": "update",
                    "channel": ref.channel,
                    "ts": ref.ts,
                    "text": text,
                    "blocks": blocks,
                    "attempt": 0,
                }
                await self._db(self._store.set_annotation, owner, akey, entry)
                (await self._load_queue()).add(ref.channel, owner, akey)
                self._wake.set()
                return
            # An older queued content must not overwrite this one later.
            queue = await self._load_queue()
            for queued_owner, queued_key in list(queue.by_channel.get(ref.channel, ())):
                if queued_key == akey:
                    await self._dequeue(queued_owner, queued_key, ref.channel)

    async def _chat_update(self, ref: PostRef, text: str, blocks: list) -> None:
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=ref.channel, ts=ref.ts, text=text, blocks=blocks
            ),
            context=f"channel={ref.channel} ts={ref.ts}",
        )

    async def _deliver_update_entry(self, owner: str, akey: str, entry: dict[str, Any]) -> bool:
        ref = PostRef(entry["channel"], entry["ts"])
        async with self._lock(ref):
            current = await self._db(self._store.get_annotation, owner, akey)
            if current is None:  # superseded by a direct update meanwhile
                (await self._load_queue()).discard(ref.channel, owner, akey)
                return True
            try:
                await self._chat_update(ref, current.get("text") or "", current.get("blocks"))
            except SlackPermanentError:
                await self._dequeue(owner, akey, ref.channel)
                return True
            except _Transient:
                return False
            await self._dequeue(owner, akey, ref.channel)
            return True

    async def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list | None = None,
        *,
        thread_ts: str | None = None,
    ) -> None:
        """chat.postEphemeral, retried; lost (and logged) if Slack stays down: it is momentary."""
        try:
            await self._call(
                "chat.postEphemeral",
                lambda: self._client.chat_postEphemeral(
                    channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
                ),
                context=f"channel={channel} user={user}",
            )
        except _Transient as exc:
            logger.warning("slack: ephemeral to %s in %s not sent (%s)", user, channel, exc)

    async def direct_message(self, user: str, text: str, blocks: list | None = None) -> None:
        """A message in the app's DM with `user`, for replies with no channel to be ephemeral
        in (a Home tab click, a modal); retried, lost (and logged) if Slack stays down."""
        try:
            channel = await self._channel_id(user) or user
            await self._call(
                "chat.postMessage",
                lambda: self._client.chat_postMessage(channel=channel, text=text, blocks=blocks),
                context=f"user={user}",
            )
        except _Transient as exc:
            logger.warning("slack: message to %s not sent (%s)", user, exc)

    async def open_view(self, trigger_id: str, view: dict) -> str | None:
        """views.open within the trigger's 3 s; the view id, or None when too late or down."""
        return await self._view_call(
            "views.open", lambda: self._fast.views_open(trigger_id=trigger_id, view=view)
        )

    async def push_view(self, trigger_id: str, view: dict) -> str | None:
        """views.push, same rules as `open_view`."""
        return await self._view_call(
            "views.push", lambda: self._fast.views_push(trigger_id=trigger_id, view=view)
        )

    async def _view_call(
        self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> str | None:
        try:
            response = await asyncio.wait_for(self._call(method, call), self.config.view_deadline)
        except (_Transient, TimeoutError) as exc:
            logger.warning("slack: %s gave up (%s)", method, exc or "deadline")
            return None
        except SlackPermanentError as exc:
            if exc.error in TRIGGER_ERRORS:
                return None
            raise
        return str(response["view"]["id"])

    async def update_view(self, view_id: str, view: dict, *, hash: str | None = None) -> None:
        """views.update, retried; a view that cannot be updated now is left as it is."""
        try:
            await self._call(
                "views.update",
                lambda: self._client.views_update(view_id=view_id, view=view, hash=hash),
                context=f"view={view_id}",
            )
        except _Transient as exc:
            logger.warning("slack: views.update of %s not sent (%s)", view_id, exc)

    async def publish_home(self, user: str, view: dict) -> None:
        """views.publish, retried; the next app_home_opened publishes again if this is lost."""
        try:
            await self._call(
                "views.publish",
                lambda: self._client.views_publish(user_id=user, view=view),
                context=f"user={user}",
            )
        except _Transient as exc:
            logger.warning("slack: home of %s not published (%s)", user, exc)
