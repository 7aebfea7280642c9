"""Per-run quotas: whatever a procedure does, what its run stores stays bounded, and the run
fails with a message naming the quota that stopped it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from adapters.sql import SqlStore
from runtime.engine import Engine, RunOutcome
from runtime.memory_store import MemoryStore
from runtime.models import RunStatus
from runtime.protocols import RunStore
from runtime.quotas import RunQuotas, json_size
from tests.conftest import FakeClock, make_procedure

QUOTAS = RunQuotas(
    state_bytes=10_000,
    events=20,
    event_bytes=5_000,
    log_entries=15,
    log_bytes=20_000,
    result_bytes=2_000,
)


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "memory":
        yield MemoryStore()
        return
    sql = SqlStore(f"sqlite:///{tmp_path / 'runs.db'}")
    yield sql
    sql.close()


@pytest.fixture
def start(store: RunStore, clock: FakeClock) -> Callable[[str], RunOutcome]:
    engine = Engine(store, clock=clock, quotas=QUOTAS)
    return lambda code: engine.start(make_procedure(code))


def failed_with(outcome: RunOutcome, message: str) -> None:
    assert outcome.run.status is RunStatus.FAILED, outcome.run
    assert outcome.run.error is not None and message in outcome.run.error, outcome.run.error


def test_appending_to_state_stops_at_the_state_quota(start, store) -> None:
    outcome = start("for i = 1, 1e6 do State.append('rows', string.rep('x', 1000)) end")
    failed_with(outcome, "the run's state grew past 9.76562 KiB")
    state = store.get_state(outcome.run.run_id)
    assert len(state["rows"]) >= 9 and json_size(state) <= QUOTAS.state_bytes


def test_large_values_under_many_keys_stop_at_the_state_quota(start, store) -> None:
    outcome = start("for i = 1, 100 do State.set('k' .. i, string.rep('x', 4000)) end")
    failed_with(outcome, "state grew past")
    assert json_size(store.get_state(outcome.run.run_id)) <= QUOTAS.state_bytes


def test_replacing_and_deleting_keys_frees_quota(start) -> None:
    code = """
    for i = 1, 1000 do State.set('scratch', string.rep('x', 8000)) end
    State.set('scratch', nil)
    for i = 1, 1000 do State.set('other', string.rep('y', 8000)) end
    State.clear()
    State.increment('n', 5)
    return State.get('n')
    """
    outcome = start(code)
    assert (outcome.run.status, outcome.run.result) == (RunStatus.COMPLETED, 5)


def test_a_loop_of_log_lines_stops_at_the_event_quota(start, store) -> None:
    outcome = start("while true do Log.info('tick') end")
    failed_with(outcome, "the run emitted more than 20 events")
    assert len(store.list_events(outcome.run.run_id)) == QUOTAS.events


def test_big_log_lines_stop_at_the_event_bytes_quota(start, store) -> None:
    outcome = start("for i = 1, 19 do Log.info(string.rep('x', 1000)) end")
    failed_with(outcome, "events (log lines, notifications, alerts) grew past 4.88281 KiB")
    stored = store.list_events(outcome.run.run_id)
    assert sum(json_size(e.payload) for e in stored) <= QUOTAS.event_bytes


def test_events_of_earlier_executions_count(store, clock) -> None:
    engine = Engine(store, clock=clock, quotas=QUOTAS)
    procedure = make_procedure(
        "for i = 1, 12 do Log.info('before') end Human.approve{message = 'go?'} "
        "for i = 1, 12 do Log.info('after') end"
    )
    waiting = engine.start(procedure)
    assert waiting.run.status is RunStatus.WAITING_FOR_HUMAN
    engine.answer(waiting.pending.request_id, True)  # type: ignore[union-attr]
    resumed = engine.resume(waiting.run.run_id, procedure=procedure)
    failed_with(resumed, "more than 20 events")
    assert len(store.list_events(waiting.run.run_id)) == QUOTAS.events


def test_a_loop_of_clock_readings_stops_at_the_log_quota(start, store) -> None:
    outcome = start("while true do os.time() end")
    failed_with(outcome, "recorded more than 15 positions in its execution log")
    log = store.load_procedure_metadata(outcome.run.run_id).execution_log
    assert len(log) == QUOTAS.log_entries


def test_big_checkpoint_results_stop_at_the_log_bytes_quota(start, store) -> None:
    outcome = start("for i = 1, 10 do checkpoint(function() return string.rep('x', 3000) end) end")
    failed_with(outcome, "execution log (requests, answers, checkpoint results) grew past")
    log = store.load_procedure_metadata(outcome.run.run_id).execution_log
    assert sum(len(entry.model_dump_json()) for entry in log) <= QUOTAS.log_bytes


def test_a_huge_request_counts_against_the_log_bytes_quota(start, store) -> None:
    outcome = start("Human.approve{message = string.rep('x', 30000)}")
    failed_with(outcome, "execution log")
    assert store.list_requests(run_id=outcome.run.run_id) == []


def test_a_result_larger_than_its_quota_fails_the_run_and_is_not_stored(start, store) -> None:
    outcome = start("return string.rep('x', 5000)")
    failed_with(outcome, "the run's result is larger than 1.95312 KiB")
    assert store.get_run(outcome.run.run_id).result is None


def test_a_quota_cannot_be_caught_by_pcall(start) -> None:
    outcome = start(
        "local ok = pcall(function() while true do Log.info('x') end end) return 'carried on'"
    )
    failed_with(outcome, "more than 20 events")


def test_both_stores_measure_usage_alike(clock) -> None:
    procedure = make_procedure(
        "Log.info('hello', {n = 1}) checkpoint(function() return 'done' end) "
        "Human.approve{message = 'go?'}"
    )
    usages = []
    for store in (MemoryStore(), SqlStore("sqlite://")):
        outcome = Engine(store, clock=clock).start(procedure)
        usages.append(store.load_execution(outcome.run.run_id).usage)
    memory, sql = usages
    assert (memory.events, memory.next_event_seq, memory.log_entries) == (1, 1, 2)
    assert (sql.events, sql.next_event_seq, sql.log_entries) == (1, 1, 2)
    for field in ("event_bytes", "log_bytes"):
        ours, theirs = getattr(memory, field), getattr(sql, field)
        assert abs(ours - theirs) <= 0.2 * max(ours, theirs), (field, ours, theirs)


def test_quotas_are_validated() -> None:
    with pytest.raises(ValueError, match="events must be a positive integer"):
        RunQuotas(events=0)
    assert json.loads(json.dumps(vars(RunQuotas())))["state_bytes"] == 1024 * 1024


def test_an_execution_the_store_refuses_fails_the_run_with_the_reason(tmp_path, clock) -> None:
    path = tmp_path / "refusing.db"
    store = SqlStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # as a full disk or a broken constraint would
        db.execute(
            "CREATE TRIGGER refuse_logs BEFORE INSERT ON run_events WHEN NEW.kind = 'log' "
            "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
        )
    outcome = Engine(store, clock=clock).start(make_procedure("Log.info('hello') return 1"))
    assert outcome.run.status is RunStatus.FAILED
    assert outcome.run.error == (
        "what the run did could not be saved: (sqlite3.IntegrityError) disk quota exceeded"
    )
    stored = store.get_run(outcome.run.run_id)
    assert (stored.status, stored.error) == (RunStatus.FAILED, outcome.run.error)
    assert store.list_events(outcome.run.run_id) == []
    store.close()
