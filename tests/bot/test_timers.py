"""Timers: timeouts and reminders, driven by a fake clock (no sleeping), plus one real run of
the APScheduler path with a short timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.timers import TIMEOUT, Timers, plan, reminder_key
from runtime.engine import AlreadyAnsweredError
from runtime.memory_store import MemoryStore
from runtime.models import HITLRequest, HITLResponse, PendingRequest
from tests.conftest import FakeClock

_UNSET: Any = object()


class Calls:
    """Records callbacks; raises for request ids in `fail` (with a message that must not leak)."""

    def __init__(self) -> None:
        self.timeouts: list[str] = []
        self.reminders: list[tuple[str, int]] = []
        self.fail: set[str] = set()
        self.fired = asyncio.Event()

    async def on_timeout(self, request_id: str) -> None:
        self.timeouts.append(request_id)
        self.fired.set()
        if request_id in self.fail:
            raise RuntimeError("token xoxb-secret leaked")

    async def on_reminder(self, request_id: str, n: int) -> None:
        self.reminders.append((request_id, n))
        if request_id in self.fail:
            raise RuntimeError("token xoxb-secret leaked")


def add_request(
    store: MemoryStore,
    clock: FakeClock,
    request_id: str = "req-1",
    *,
    timeout: int | None = 60,
    request_type: str = "approval",
    reminders: Any = _UNSET,
    age: float = 0,
) -> PendingRequest:
    """Save a pending request created `age` seconds before the clock's now."""
    metadata: dict[str, Any] = {} if reminders is _UNSET else {"hitlbot": {"reminders": reminders}}
    pending = PendingRequest(
        request_id=request_id,
        run_id=f"run-{request_id}",
        procedure_id="deploy",
        position=0,
        request=HITLRequest(
            request_type=request_type, message="ok?", timeout_seconds=timeout, metadata=metadata
        ),
        created_at=clock() - timedelta(seconds=age),
    )
    store.save_request(pending)
    return pending


def answer(store: MemoryStore, request_id: str) -> None:
    assert store.record_response(request_id, HITLResponse(value=True, responder="U1"))


MakeTimers = Callable[..., Timers]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
async def make_timers(
    store: MemoryStore, clock: FakeClock, calls: Calls
) -> AsyncIterator[MakeTimers]:
    """Timers on the shared store and fake clock; each one is stopped after the test."""
    made: list[Timers] = []

    def make(**kwargs: Any) -> Timers:
        kwargs.setdefault("clock", clock)
        timers = Timers(store, calls.on_timeout, calls.on_reminder, **kwargs)
        made.append(timers)
        return timers

    yield make
    for timers in made:
        await timers.stop()


async def test_timeout_fires_once_at_its_time(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    timers = make_timers()
    await timers.start()
    timers.schedule(add_request(store, clock, timeout=60))

    clock.advance(59.9)
    await timers.fire_due()
    assert calls.timeouts == []

    clock.advance(0.1)
    await timers.fire_due()
    clock.advance(3600)
    await timers.fire_due()
    assert calls.timeouts == ["req-1"]
    assert calls.reminders == []  # 60 s is too short for a default reminder


async def test_reminders_at_their_times_once_each(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    timers = make_timers()
    await timers.start()
    timers.schedule(add_request(store, clock, timeout=3600, reminders=[600, 1800]))

    clock.advance(1799)
    await timers.fire_due()
    assert calls.reminders == []
    clock.advance(1)
    await timers.fire_due()
    await timers.fire_due()
    assert calls.reminders == [("req-1", 1)]

    clock.advance(1199)  # 2999 s
    await timers.fire_due()
    assert calls.reminders == [("req-1", 1)]
    clock.advance(1)
    await timers.fire_due()
    assert calls.reminders == [("req-1", 1), ("req-1", 2)]
    assert calls.timeouts == []

    clock.advance(600)
    await timers.fire_due()
    assert calls.timeouts == ["req-1"]
    assert calls.reminders == [("req-1", 1), ("req-1", 2)]
    assert store.get_annotation("run-req-1", reminder_key("req-1", 1)) is not None


async def test_reminders_once_across_restart_and_replicas(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    add_request(store, clock, timeout=3600, reminders=[1800, 600])
    first = make_timers()
    await first.start()
    clock.advance(1800)
    await first.fire_due()
    assert calls.reminders == [("req-1", 1)]
    await first.stop()

    # a restart: reminder 1 is past but already sent, so the new process stays quiet
    second = make_timers()
    await second.start()
    assert calls.reminders == [("req-1", 1)]

    # a second replica alongside: reminder 2 goes out once between them
    replica = make_timers()
    await replica.start()
    clock.advance(1200)
    await asyncio.gather(second.fire_due(), replica.fire_due())
    assert calls.reminders == [("req-1", 1), ("req-1", 2)]


async def test_stale_reminders_missed_while_down_collapse_to_the_latest(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    add_request(store, clock, timeout=3600, reminders=[1800, 600], age=3100)
    timers = make_timers()
    await timers.start()
    assert calls.reminders == [("req-1", 2)]
    assert calls.timeouts == []


async def test_default_reminder_at_half_for_long_timeouts(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    timers = make_timers()
    await timers.start()
    timers.schedule(add_request(store, clock, "long", timeout=1200))
    timers.schedule(add_request(store, clock, "short", timeout=300))

    clock.advance(599)
    await timers.fire_due()
    assert calls.reminders == []
    clock.advance(1)
    await timers.fire_due()
    assert calls.reminders == [("long", 1)]
    assert calls.timeouts == ["short"]


@pytest.mark.parametrize(
    ("timeout", "reminders", "expected"),
    [
        (1200, _UNSET, [600.0]),
        (599, _UNSET, []),
        (1200, 300, [900.0]),
        (1200, [60, 300, 300], [900.0, 1140.0]),
        (1200, [], []),
        (1200, False, []),
        (1200, [0, -5, 1200, 5000, "soon", True], []),
    ],
)
def test_plan_reminder_times(
    clock: FakeClock, store: MemoryStore, timeout: int, reminders: Any, expected: list[float]
) -> None:
    pending = add_request(store, clock, timeout=timeout, reminders=reminders)
    timing = plan(pending)
    assert timing is not None
    assert timing.timeout_at == clock() + timedelta(seconds=timeout)
    assert [(at - clock()).total_seconds() for at in timing.reminders] == expected


async def test_escalations_and_requests_without_timeout_are_never_scheduled(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    timers = make_timers()
    add_request(store, clock, "esc", request_type="escalation", timeout=60)
    add_request(store, clock, "forever", timeout=None)
    await timers.start()
    assert timers.due_times("esc") == {} and timers.due_times("forever") == {}
    assert plan(store.get_request("esc")) is None  # type: ignore[arg-type]

    clock.advance(86400 * 30)
    await timers.fire_due()
    assert calls.timeouts == [] and calls.reminders == []


async def test_cancel_removes_every_timer(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    timers = make_timers(scheduler=scheduler)
    await timers.start()
    timers.schedule(add_request(store, clock, timeout=1200))
    assert len(scheduler.get_jobs()) == 2  # timeout + default reminder
    timers.cancel("req-1")
    timers.cancel("req-1")  # harmless twice
    assert scheduler.get_jobs() == []

    clock.advance(3600)
    await timers.fire_due()
    assert calls.timeouts == [] and calls.reminders == []


async def test_scheduling_twice_replaces(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    timers = make_timers(scheduler=scheduler)
    add_request(store, clock, timeout=1200)
    await timers.start()  # scheduled from the store
    timers.schedule(store.get_request("req-1"))  # type: ignore[arg-type]  # and by the service
    jobs = sorted(job.id for job in scheduler.get_jobs())
    assert jobs == ["hitlbot:reminder:1:req-1", "hitlbot:timeout:req-1"]

    clock.advance(1200)
    await timers.fire_due()
    assert calls.timeouts == ["req-1"]


async def test_overdue_requests_fire_on_start(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    add_request(store, clock, "overdue", timeout=60, age=7200)
    add_request(store, clock, "reminder-due", timeout=1200, age=700)
    add_request(store, clock, "later", timeout=1200)
    timers = make_timers()
    await timers.start()
    assert calls.timeouts == ["overdue"]  # no reminder first: it is moot
    assert calls.reminders == [("reminder-due", 1)]
    assert timers.due_times("overdue") == {}
    assert timers.due_times("reminder-due") == {TIMEOUT: clock() + timedelta(seconds=500)}
    assert set(timers.due_times("later")) == {TIMEOUT, 1}


async def test_callback_failure_is_logged_and_does_not_stop_other_timers(
    store: MemoryStore,
    clock: FakeClock,
    calls: Calls,
    make_timers: MakeTimers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timers = make_timers(retry_seconds=30)
    await timers.start()
    timers.schedule(add_request(store, clock, "bad", timeout=60))
    timers.schedule(add_request(store, clock, "good", timeout=61))
    calls.fail.add("bad")

    clock.advance(61)
    with caplog.at_level(logging.WARNING, logger="bot.timers"):
        await timers.fire_due()
    assert calls.timeouts == ["bad", "good"]
    [record] = caplog.records
    line = record.getMessage()
    assert "bad" in line and "RuntimeError" in line and "\n" not in line
    assert "xoxb" not in line and record.exc_info is None

    # the failed timeout is retried (the request is still open) ...
    clock.advance(30)
    await timers.fire_due()
    assert calls.timeouts == ["bad", "good", "bad"]
    # ... until it is settled
    answer(store, "bad")
    clock.advance(3600)
    await timers.fire_due()
    assert calls.timeouts == ["bad", "good", "bad"]


async def test_already_answered_from_the_engine_is_quiet(
    store: MemoryStore, clock: FakeClock, make_timers: MakeTimers, caplog: pytest.LogCaptureFixture
) -> None:
    pending = add_request(store, clock, timeout=60)

    async def lost_race(request_id: str) -> None:
        raise AlreadyAnsweredError(pending)

    async def no_reminder(request_id: str, n: int) -> None:
        raise AssertionError("no reminder expected")

    timers = Timers(store, lost_race, no_reminder, clock=clock)
    await timers.start()
    clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="bot.timers"):
        await timers.fire_due()
    assert caplog.records == []
    assert timers.due_times("req-1") == {}  # no retry: someone else answered
    await timers.stop()


async def test_answered_or_cancelled_requests_do_not_fire(
    store: MemoryStore, clock: FakeClock, calls: Calls, make_timers: MakeTimers
) -> None:
    timers = make_timers()
    await timers.start()
    timers.schedule(add_request(store, clock, "answered", timeout=1200))
    timers.schedule(add_request(store, clock, "cancelled", timeout=1200))
    answer(store, "answered")
    assert store.cancel_request("cancelled")

    clock.advance(7200)
    await timers.fire_due()
    assert calls.timeouts == [] and calls.reminders == []

    # nor are they scheduled again, from the store or by the service
    restarted = make_timers()
    await restarted.start()
    restarted.schedule(store.get_request("answered"))  # type: ignore[arg-type]
    assert restarted.due_times("answered") == {} and restarted.due_times("cancelled") == {}
    assert calls.timeouts == []


async def test_real_scheduler_fires_a_one_second_timeout(store: MemoryStore, calls: Calls) -> None:
    start = datetime.now(UTC)
    timers = Timers(store, calls.on_timeout, calls.on_reminder)
    await timers.start()
    try:
        pending = add_request(store, FakeClock(start), timeout=1)
        timers.schedule(pending)
        await asyncio.wait_for(calls.fired.wait(), timeout=10)
        assert calls.timeouts == ["req-1"]
        assert datetime.now(UTC) >= start + timedelta(seconds=1)
    finally:
        await timers.stop()
