"""Sending payloads to the app, over HTTP or Socket Mode, and judging its acknowledgement.

Slack waits 3 s for the app's ack. An ack inside the window is used (its body may carry a
slash command reply or a view_submission response_action); a later one is ignored but still
measured so stats can say `late`; a non-2xx or refused connection is `failed`. Events that
fail are retried with X-Slack-Retry-Num / X-Slack-Retry-Reason; interactions never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from devslack.signing import signed_headers
from devslack.socket_mode import SocketHub
from devslack.stats import Stats

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
KEEP_SENT = 5_000  # deliveries remembered for `replay` (the oldest are forgotten first)


@dataclass
class Request:
    """One payload for the app: how it is encoded on each transport and how it is recorded."""

    kind: str  # stats kind: slash_command, block_actions, view_submission, ..., event
    socket_type: str  # slash_commands | interactive | events_api
    payload: dict[str, Any]
    encoding: str  # "form" (slash commands) | "payload" (interactions) | "json" (events)
    accepts_response_payload: bool
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more stats fields

    def http_body(self) -> tuple[bytes, str]:
        if self.encoding == "form":
            return urlencode(self.payload).encode(), "application/x-www-form-urlencoded"
        if self.encoding == "payload":
            data = json.dumps(self.payload, separators=(",", ":"))
            return urlencode({"payload": data}).encode(), "application/x-www-form-urlencoded"
        return json.dumps(self.payload, separators=(",", ":")).encode(), "application/json"


@dataclass
class Outcome:
    """How the app answered one delivery attempt."""

    verdict: str  # ok | late | failed | unacked
    status: int | None = None
    ack_ms: int | None = None
    body: Any = None  # the ack body (dict, str or None); only meaningful when verdict is ok
    reason: str = ""  # Slack's retry reason when not ok
    no_retry: bool = False
    row: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass
class _Sent:
    """One delivery as it went out, so that it can be sent again byte for byte."""

    request: Request
    retry_num: int = 0
    retry_reason: str = ""
    http: tuple[bytes, dict[str, str]] | None = None  # body and headers, once sent over HTTP


class _Answer:
    """What came back from the transport (before judging it against the deadline)."""

    def __init__(self, status: int, body: Any, at: float, no_retry: bool = False) -> None:
        self.status = status
        self.body = body
        self.at = at
        self.no_retry = no_retry


def _parse_http_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/json") or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class Deliverer:
    """Delivers Requests to the app and records each attempt in Stats."""

    def __init__(
        self,
        *,
        stats: Stats,
        hub: SocketHub,
        signing_secret: Callable[[], str],
        app_url: str | None,
        socket_mode: bool,
        ack_timeout: float,
        late_window: float,
        retry_delays: Sequence[float],
    ) -> None:
        self.stats = stats
        self.hub = hub
        self.signing_secret = signing_secret
        self.app_url = app_url
        self.socket_mode = socket_mode
        self.ack_timeout = ack_timeout
        self.late_window = late_window
        self.retry_delays = tuple(retry_delays)
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._sent: dict[int, _Sent] = {}  # by delivery id, oldest first

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200), auto_decompress=True
        )

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def background(self, coro: Any) -> asyncio.Task[Any]:
        """Run `coro` without awaiting it, keeping a reference so it is not collected."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ transports

    def forget_sent(self) -> None:
        """Forget what was sent (on reset, when delivery ids start again from 1)."""
        self._sent.clear()

    async def _http(self, sent: _Sent) -> _Answer:
        if not self.app_url:
            raise ConnectionError("no app URL configured")
        assert self._session is not None, "Deliverer.start() was not called"
        if sent.http is None:
            sent.http = self._signed(sent)
        body, headers = sent.http
        timeout = aiohttp.ClientTimeout(total=self.ack_timeout + self.late_window)
        async with self._session.post(
            self.app_url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            raw = await response.read()
            at = asyncio.get_running_loop().time()
            parsed = _parse_http_body(raw, response.headers.get("Content-Type", ""))
            no_retry = response.headers.get("X-Slack-No-Retry") == "1"
            return _Answer(response.status, parsed, at, no_retry)

    def _signed(self, sent: _Sent) -> tuple[bytes, dict[str, str]]:
        body, content_type = sent.request.http_body()
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Accept": "application/json,*/*",
            **signed_headers(self.signing_secret(), body),
        }
        if sent.retry_num:
            headers["X-Slack-Retry-Num"] = str(sent.retry_num)
            headers["X-Slack-Retry-Reason"] = sent.retry_reason
        return body, headers

    async def _socket(self, sent: _Sent) -> _Answer:
        request = sent.request
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": request.payload,
            "type": request.socket_type,
            "accepts_response_payload": request.accepts_response_payload,
        }
        if request.socket_type == "events_api":
            envelope["retry_attempt"] = sent.retry_num
            envelope["retry_reason"] = sent.retry_reason
        future = await self.hub.send(envelope)
        if future is None:
            raise ConnectionError("no Socket Mode connection is open")
        try:
            at, payload = await asyncio.wait_for(future, self.ack_timeout + self.late_window)
        finally:
            self.hub.forget(envelope["envelope_id"])
        return _Answer(200, payload, at)

    # ------------------------------------------------------------------ one attempt

    async def deliver(
        self,
        request: Request,
        *,
        retry_num: int = 0,
        retry_reason: str = "",
        on_deadline: Callable[[], None] | None = None,
        wait_final: bool = True,
    ) -> Outcome:
        """Send once. Returns when the app acks within the deadline; past the deadline it
        calls `on_deadline` and either keeps measuring (wait_final) or returns `unacked`
        at once while the measurement finishes in the background."""
        sent = _Sent(request, retry_num, retry_reason)
        return await self._attempt(sent, on_deadline=on_deadline, wait_final=wait_final)

    async def replay(self, delivery_id: int) -> Outcome:
        """Send an earlier delivery again as it went out: over HTTP the same bytes, timestamp
        and signature (what an attacker who captured it, or a proxy resending it, would send);
        over Socket Mode the same payload in a new envelope. The app's ack is measured and
        recorded (`replay_of`), never applied to the workspace. KeyError if unknown."""
        return await self._attempt(self._sent[delivery_id], replay_of=delivery_id)

    async def _attempt(
        self,
        sent: _Sent,
        *,
        on_deadline: Callable[[], None] | None = None,
        wait_final: bool = True,
        replay_of: int | None = None,
    ) -> Outcome:
        request = sent.request
        mode = "socket" if self.socket_mode else "http"
        extra = (
            dict(request.extra) if replay_of is None else {**request.extra, "replay_of": replay_of}
        )
        row = self.stats.new_row(
            request.kind,
            mode=mode,
            retry_num=sent.retry_num,
            retry_reason=sent.retry_reason,
            user=request.user,
            **extra,
        )
        if replay_of is None:
            self._sent[row["id"]] = sent
            if len(self._sent) > KEEP_SENT:
                del self._sent[next(iter(self._sent))]
        loop = asyncio.get_running_loop()
        started = loop.time()
        transport = self._socket if self.socket_mode else self._http
        task = asyncio.ensure_future(transport(sent))
        done, _ = await asyncio.wait({task}, timeout=self.ack_timeout)
        if done:
            return self._judge(task, started, row)
        if on_deadline is not None:
            on_deadline()
        if wait_final:
            await asyncio.wait({task})
            return self._judge(task, started, row)
        self.background(self._finish_late(task, started, row))
        return Outcome("unacked", reason="http_timeout", row=row)

    async def _finish_late(
        self, task: asyncio.Task[_Answer], started: float, row: dict[str, Any]
    ) -> None:
        await asyncio.wait({task})
        self._judge(task, started, row)

    def _judge(self, task: asyncio.Task[_Answer], started: float, row: dict[str, Any]) -> Outcome:
        try:
            answer = task.result()
        except (TimeoutError, asyncio.CancelledError):
            outcome = Outcome("unacked", reason="http_timeout", row=row)
        except (aiohttp.ClientError, OSError) as exc:
            outcome = Outcome("failed", reason="connection_failed", row=row)
            row["error"] = f"{type(exc).__name__}: {exc}"
        else:
            ack_ms = round((answer.at - started) * 1000)
            late = answer.at - started > self.ack_timeout
            if not 200 <= answer.status < 300:
                verdict, reason = "failed", "http_error"
            elif late:
                verdict, reason = "late", "http_timeout"
            else:
                verdict, reason = "ok", ""
            outcome = Outcome(
                verdict,
                status=answer.status,
                ack_ms=ack_ms,
                body=answer.body if verdict == "ok" else None,
                reason=reason,
                no_retry=answer.no_retry,
                row=row,
            )
        self.stats.finish(
            row, verdict=outcome.verdict, status=outcome.status, ack_ms=outcome.ack_ms
        )
        return outcome

    # ------------------------------------------------------------------ events: retries

    async def deliver_event(self, request: Request) -> None:
        """Deliver an Events API payload, retrying a failed attempt up to 3 times with
        X-Slack-Retry-Num 1..3 after the configured delays (Slack: ~0 s, 1 min, 5 min)."""
        attempt, reason = 0, ""
        while True:
            outcome = await self.deliver(
                request, retry_num=attempt, retry_reason=reason, wait_final=False
            )
            if outcome.ok or outcome.no_retry or attempt >= len(self.retry_delays):
                return
            await asyncio.sleep(self.retry_delays[attempt])
            attempt, reason = attempt + 1, outcome.reason or "unknown_error"
