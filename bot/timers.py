"""Timeouts and reminders for pending requests.

A request with a timeout gets its default applied when nobody answers in time, and reminders
before that. Nothing here is durable on its own: the store is. On start every pending request is
(re)scheduled from the store, so a restart loses no timer, and whatever fell due while the bot
was down fires at once.

What is due is decided by an injected clock, never by the scheduler: APScheduler's jobs only
wake `fire_due`, which looks at the clock. Tests drive `fire_due` with a fake clock and never
sleep; production uses the wall clock and the scheduler wakes it on time.

Exactly-once: the engine refuses a second answer, so a timeout fired by two replicas (or twice
here) applies the default once; reminders are claimed in the store before they are sent, so
each goes out at most once across restarts and replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from runtime.engine import AlreadyAnsweredError
from runtime.models import PendingRequest, utc_now
from runtime.protocols import RunStore

log = logging.getLogger(__name__)

DEFAULT_REMINDER_MIN_TIMEOUT = 600
"""Timeouts at least this long (seconds) get one reminder at half-time unless told otherwise;
shorter ones are over before a reminder would help."""

TIMEOUT = 0
"""The timer number of a request's timeout; its reminders are numbered 1, 2, ... earliest first."""

RETRY_MAX_SECONDS = 3600.0


def reminder_key(request_id: str, n: int) -> str:
    """The annotation that records reminder `n` as sent (claimed before sending)."""
    return f"reminder:{request_id}:{n}"


@dataclass(frozen=True)
class Plan:
    """When a request times out, and when its reminders go out (reminder n is reminders[n-1])."""

    timeout_at: datetime
    reminders: tuple[datetime, ...]


def reminder_offsets(metadata: dict[str, Any], timeout_seconds: float) -> list[float]:
    """Seconds before the timeout at which to remind, largest first (reminder 1 is earliest).

    `metadata["hitlbot"]["reminders"]` is a number or a list of numbers; absent (or true) means
    the default; false or an empty list means none. Values that would fall at or before the
    request's creation, or are not positive numbers, are ignored rather than fired at once.
    """
    routing = metadata.get("hitlbot")
    raw = routing.get("reminders") if isinstance(routing, dict) else None
    if raw is None or raw is True:
        if timeout_seconds >= DEFAULT_REMINDER_MIN_TIMEOUT:
            return [timeout_seconds / 2]
        return []
    values = raw if isinstance(raw, list) else [raw]
    valid = {
        float(value)
        for value in values
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 < value < timeout_seconds
    }
    return sorted(valid, reverse=True)


def plan(pending: PendingRequest) -> Plan | None:
    """The request's timers, or None when it never times out (escalations, no timeout)."""
    request = pending.request
    timeout = request.timeout_seconds
    if request.request_type == "escalation" or timeout is None or timeout <= 0:
        return None
    created = pending.created_at
    if created.tzinfo is None:  # a store that drops the zone still stores UTC
        created = created.replace(tzinfo=UTC)
    timeout_at = created + timedelta(seconds=timeout)
    offsets = reminder_offsets(request.metadata, timeout)
    return Plan(timeout_at, tuple(timeout_at - timedelta(seconds=s) for s in offsets))


@dataclass(frozen=True)
class _Timer:
    request_id: str
    run_id: str
    n: int  # TIMEOUT or a reminder number
    at: datetime
    attempt: int = 0  # failed timeout callbacks so far (for the retry backoff)

    @property
    def job_id(self) -> str:
        what = "timeout" if self.n == TIMEOUT else f"reminder:{self.n}"
        return f"hitlbot:{what}:{self.request_id}"

    @property
    def what(self) -> str:
        return "timeout" if self.n == TIMEOUT else f"reminder {self.n}"


def _is_open(pending: PendingRequest | None) -> bool:
    return pending is not None and pending.response is None and not pending.cancelled


class Timers:
    """Applies defaults when nobody answers in time, and sends reminders before that.

    APScheduler 3.x AsyncIOScheduler underneath; job ids derive from request ids so scheduling
    twice replaces instead of duplicating; on start, every pending request with a timeout is
    (re)scheduled from the store, so a restart loses no timer; a timeout already past fires at
    once. Callback exceptions are logged in one line (type only: messages may carry secrets)
    and never stop other timers; a failed timeout is retried with backoff until the request is
    settled, because a run waiting on it would otherwise wait forever.
    """

    def __init__(
        self,
        store: RunStore,
        on_timeout: Callable[[str], Awaitable[None]],
        on_reminder: Callable[[str, int], Awaitable[None]],
        *,
        clock: Callable[[], datetime] = utc_now,
        scheduler: AsyncIOScheduler | None = None,
        retry_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._on_timeout = on_timeout
        self._on_reminder = on_reminder
        self._clock = clock
        self._scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self._retry_seconds = retry_seconds
        self._started_scheduler = False
        self._timers: dict[str, dict[int, _Timer]] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Schedule every pending request in the store, start the scheduler, fire what is due."""
        for pending in await asyncio.to_thread(self._store.list_requests, pending_only=True):
            self.schedule(pending)
        if not self._scheduler.running:
            self._scheduler.start()
            self._started_scheduler = True
        await self.fire_due()

    async def stop(self) -> None:
        """Drop our jobs; shut the scheduler down if we started it. The store keeps the truth."""
        for request_id in list(self._timers):
            self.cancel(request_id)
        if self._started_scheduler and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            self._started_scheduler = False
            await asyncio.sleep(0)  # AsyncIOScheduler hands the shutdown to the loop

    # -- scheduling -----------------------------------------------------------------------------

    def schedule(self, pending: PendingRequest) -> None:
        """Set (or replace) the request's timeout and reminders; settled requests get none."""
        self.cancel(pending.request_id)
        timing = plan(pending) if _is_open(pending) else None
        if timing is None:
            return
        ids = (pending.request_id, pending.run_id)
        timers = {TIMEOUT: _Timer(*ids, TIMEOUT, timing.timeout_at)}
        for n, at in enumerate(timing.reminders, start=1):
            timers[n] = _Timer(*ids, n, at)
        self._timers[pending.request_id] = timers
        for timer in timers.values():
            self._arm(timer)

    def cancel(self, request_id: str) -> None:
        """Forget the request's timers (answered, cancelled, or shutting down)."""
        for timer in self._timers.pop(request_id, {}).values():
            self._disarm(timer)

    def due_times(self, request_id: str) -> dict[int, datetime]:
        """What is still scheduled for a request: {TIMEOUT: when, n: when, ...}."""
        return {n: timer.at for n, timer in self._timers.get(request_id, {}).items()}

    def _arm(self, timer: _Timer) -> None:
        """Wake `fire_due` when the timer is due. The delay is measured on our clock and
        applied to the scheduler's wall clock, so a fake clock never makes real jobs fire."""
        delay = max(timer.at - self._clock(), timedelta(0))
        run_date = datetime.now(UTC) + delay  # read after the clock: never earlier than due
        self._scheduler.add_job(
            self._wake,
            DateTrigger(run_date=run_date, timezone=UTC),
            args=(timer.request_id, timer.n),
            id=timer.job_id,
            replace_existing=True,
            misfire_grace_time=None,  # late (a busy loop, a suspended laptop) still runs
            coalesce=True,
        )

    def _disarm(self, timer: _Timer) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(timer.job_id)

    async def _wake(self, request_id: str, n: int) -> None:
        """The scheduler's job: fire what is due; re-arm if it woke us before our clock agrees."""
        await self.fire_due()
        timer = self._timers.get(request_id, {}).get(n)
        if timer is not None and self._scheduler.get_job(timer.job_id) is None:
            self._arm(timer)

    # -- firing ---------------------------------------------------------------------------------

    async def fire_due(self) -> None:
        """Apply everything due per the clock, earliest first.

        Per request, at most one thing fires: the timeout when it is due (reminders then make
        no sense), else the latest due reminder (earlier ones missed while down are skipped,
        so nobody gets a burst of stale reminders).
        """
        now = self._clock()
        chosen: list[_Timer] = []
        for request_id, timers in list(self._timers.items()):
            due = [timer for timer in timers.values() if timer.at <= now]
            if not due:
                continue
            for timer in due:
                del timers[timer.n]
                self._disarm(timer)
            if TIMEOUT in {timer.n for timer in due}:
                self.cancel(request_id)
                chosen.append(next(timer for timer in due if timer.n == TIMEOUT))
            else:
                chosen.append(max(due, key=lambda timer: timer.n))
            if not timers:
                self._timers.pop(request_id, None)
        for timer in sorted(chosen, key=lambda timer: timer.at):
            await self._fire(timer)

    async def _fire(self, timer: _Timer) -> None:
        try:
            pending = await asyncio.to_thread(self._store.get_request, timer.request_id)
            if not _is_open(pending):
                return
            if timer.n == TIMEOUT:
                await self._on_timeout(timer.request_id)
            elif await asyncio.to_thread(
                self._store.claim_annotation,
                timer.run_id,
                reminder_key(timer.request_id, timer.n),
                {"sent_at": self._clock().isoformat()},
            ):
                await self._on_reminder(timer.request_id, timer.n)
        except AlreadyAnsweredError:
            log.debug("%s of request %s: already answered", timer.what, timer.request_id)
        except Exception as exc:
            retry = timer.n == TIMEOUT and timer.request_id not in self._timers
            log.warning(
                "%s of request %s failed: %s%s",
                timer.what,
                timer.request_id,
                type(exc).__name__,
                "; will retry" if retry else "",
            )
            if retry:
                self._retry(timer)

    def _retry(self, timer: _Timer) -> None:
        """Try a failed timeout again later; firing re-checks the store, so an answer given
        meanwhile ends the retries."""
        delay = min(self._retry_seconds * 2**timer.attempt, RETRY_MAX_SECONDS)
        again = replace(
            timer, at=self._clock() + timedelta(seconds=delay), attempt=timer.attempt + 1
        )
        self._timers[timer.request_id] = {TIMEOUT: again}
        self._arm(again)
