"""Durable exit-and-resume: suspension, replay, divergence, and what must never happen twice.

Every test runs twice: with executions in the test's thread, and in worker processes (as the
bot and the CLI execute them), so the replay contract is the same wherever a run executes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.engine import AlreadyAnsweredError, Engine
from runtime.memory_store import MemoryStore
from runtime.models import RunStatus
from runtime.pool import WorkerPool
from runtime.sandbox import SandboxLimits
from tests.conftest import FakeClock


@pytest.fixture(scope="module")
def workers() -> Iterator[WorkerPool]:
    pool = WorkerPool(2)
    yield pool
    pool.close()


@pytest.fixture(params=["in-thread", "in-worker"])
def engine(
    request: pytest.FixtureRequest, store: MemoryStore, clock: FakeClock, workers: WorkerPool
) -> Engine:
    return Engine(store, clock=clock, executor=workers if request.param == "in-worker" else None)


def test_a_request_without_an_answer_suspends_the_run_and_runs_nothing_after_it(lua, store):
    d = lua(
        """
        State.set("before", true)
        local ok = Human.approve{message = "Ship it?"}
        State.set("after", true)
        Log.info("after the approval")
        return {ok = ok}
        """
    )
    outcome = d.start()
    run = outcome.run
    assert run.status is RunStatus.WAITING_FOR_HUMAN
    assert run.waiting_on_message_id == f"demo:{run.run_id[:8]}:pos0"
    assert outcome.pending.request.message == "Ship it?"
    assert store.get_state(run.run_id) == {"before": True}
    assert [e.payload["message"] for e in store.list_events(run.run_id)] == []
    assert store.get_run(run.run_id).status is RunStatus.WAITING_FOR_HUMAN


def test_resume_returns_the_answer_at_its_position_and_moves_to_the_next_request(lua):
    d = lua(
        """
        local ok = Human.approve{message = "Ship it?"}
        local version = Human.input{message = "Which version?"}
        return {ok = ok, version = version}
        """
    )
    first = d.start()
    second = d.answer(first, True)
    assert second.run.status is RunStatus.WAITING_FOR_HUMAN
    assert second.pending.request_id.endswith(":pos1")
    assert second.pending.request.message == "Which version?"
    done = d.answer(second, "v2.4.1")
    assert done.run.status is RunStatus.COMPLETED
    assert done.run.result == {"ok": True, "version": "v2.4.1"}


def test_each_answer_goes_to_its_own_call_never_to_the_first_one(lua):
    """Plexus hands the one waiting answer to whichever call runs first; we key by position."""
    d = lua(
        """
        local a = Human.input{message = "first"}
        local b = Human.input{message = "second"}
        local c = Human.input{message = "third"}
        return {a, b, c}
        """
    )
    outcome = d.start()
    for value in ("one", "two", "three"):
        outcome = d.answer(outcome, value)
    assert outcome.run.result == ["one", "two", "three"]


@pytest.mark.parametrize(
    "wrapper",
    [
        "local ok, err = pcall(function() return Human.approve{message = 'x'} end)",
        "local ok, err = pcall(Human.approve, {message = 'x'})",
        "local ok = xpcall(function() return Human.approve{message = 'x'} end, debug_handler)",
        "local co = coroutine.wrap(function() return Human.approve{message = 'x'} end)\n"
        "local ok = pcall(co)",
        "local co = coroutine.create(function() return Human.approve{message = 'x'} end)\n"
        "local ok = coroutine.resume(co)",
        "local ok = pcall(pcall, pcall, Human.approve, {message = 'x'})",
    ],
    ids=["pcall-closure", "pcall-direct", "xpcall", "coroutine-wrap", "coroutine-resume", "nested"],
)
def test_suspension_cannot_be_swallowed_by_lua(lua, store, wrapper):
    d = lua(
        "local function debug_handler(e) return e end\n"
        + wrapper
        + "\nState.set('carried_on', true)\nLog.info('carried on')\nreturn {carried_on = true}"
    )
    outcome = d.start()
    assert outcome.run.status is RunStatus.WAITING_FOR_HUMAN
    assert outcome.run.result is None
    assert "carried_on" not in store.get_state(outcome.run.run_id)
    assert store.list_events(outcome.run.run_id) == []


def test_state_is_not_doubled_by_resumes(lua, store):
    d = lua(
        """
        State.increment("runs")
        State.append("seen", "start")
        Human.approve{message = "one"}
        State.increment("runs", 10)
        Human.approve{message = "two"}
        State.append("seen", "end")
        return State.all()
        """
    )
    outcome = d.start()
    outcome = d.answer(outcome, True)
    outcome = d.answer(outcome, True)
    assert outcome.run.result == {"runs": 11, "seen": ["start", "end"]}
    assert store.get_state(outcome.run.run_id) == {"runs": 11, "seen": ["start", "end"]}


def test_notifications_logs_and_alerts_are_emitted_once_across_resumes(lua, store):
    d = lua(
        """
        Human.notify{message = "starting"}
        Log.info("before one")
        Human.approve{message = "one"}
        System.alert{message = "between", level = "warning"}
        Human.approve{message = "two"}
        Human.notify{message = "finished"}
        """
    )
    outcome = d.start()
    outcome = d.answer(outcome, True)
    outcome = d.answer(outcome, False)
    assert outcome.run.status is RunStatus.COMPLETED
    events = store.list_events(outcome.run.run_id)
    assert [(e.kind, e.payload["message"]) for e in events] == [
        ("notify", "starting"),
        ("log", "before one"),
        ("alert", "between"),
        ("notify", "finished"),
    ]
    assert [e.seq for e in events] == [0, 1, 2, 3]


def test_recorded_clock_readings_replay_identically(lua, clock: FakeClock):
    d = lua(
        """
        local started = os.time()
        local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
        Human.approve{message = "wait"}
        return {started = started, stamp = stamp, later = os.time()}
        """
    )
    outcome = d.start()
    clock.advance(3600)
    done = d.answer(outcome, True)
    started = int(clock.now.timestamp()) - 3600
    assert done.run.result["started"] == started
    assert done.run.result["stamp"] == "2026-03-14T09:26:53Z"
    assert done.run.result["later"] == started + 3600


def test_random_numbers_are_the_same_on_every_replay(lua):
    d = lua(
        """
        local n = math.random(1, 1000000)
        Human.approve{message = "n=" .. n}
        return {n = n, next = math.random(1, 1000000)}
        """
    )
    outcome = d.start()
    asked = int(outcome.pending.request.message.removeprefix("n="))
    done = d.answer(outcome, True)
    assert done.run.status is RunStatus.COMPLETED, done.run.error
    assert done.run.result["n"] == asked


def test_checkpoint_runs_its_function_once_and_replays_plain_data(lua, store):
    d = lua(
        """
        local report = checkpoint(function()
          Log.info("computing the report")
          return {rows = {1, 2, 3}, total = 6}
        end)
        Human.approve{message = "publish " .. report.total .. "?"}
        local again = Step.checkpoint(function() return #report.rows end)
        return {total = report.total, count = again, first = report.rows[1]}
        """
    )
    outcome = d.start()
    assert outcome.pending.request.message == "publish 6?"
    done = d.answer(outcome, True)
    assert done.run.result == {"total": 6, "count": 3, "first": 1}
    logs = [e for e in store.list_events(done.run.run_id) if e.kind == "log"]
    assert [e.payload["message"] for e in logs] == ["computing the report"]


def test_a_request_inside_a_checkpoint_resumes_inside_it(lua):
    d = lua(
        """
        local choice = checkpoint(function()
          local name = Human.input{message = "Name?"}
          return "hello " .. name
        end)
        local ok = Human.approve{message = choice}
        return {choice = choice, ok = ok}
        """
    )
    outcome = d.start()
    outcome = d.answer(outcome, "ada")
    assert outcome.pending.request.message == "hello ada"
    done = d.answer(outcome, True)
    assert done.run.result == {"choice": "hello ada", "ok": True}


def test_an_edited_request_at_a_recorded_position_fails_the_run_naming_both_calls(engine, lua):
    d = lua('local a = Human.input{message = "Version?"}\nreturn a')
    outcome = d.start()
    engine.answer(outcome.pending.request_id, "1.0")
    edited = lua('-- asks\n\nlocal a = Human.input{message = "Which version?"}\nreturn a')
    result = engine.resume(outcome.run.run_id, procedure=edited.procedure)
    assert result.run.status is RunStatus.FAILED
    assert "position 0" in result.run.error
    assert "'Version?' at line 1" in result.run.error
    assert "'Which version?' at line 3" in result.run.error


def test_the_log_records_the_line_of_each_call(engine, lua, store):
    d = lua(
        """local a = Human.input{message = "Version?"}
        local ok = pcall(function()
          local yes = Human.approve{message = "Ship " .. a .. "?"}
          return yes
        end)
        local when = os.time()
        return {a, ok, when}"""
    )
    outcome = d.answer(d.start(), "1.0")
    d.answer(outcome, True)
    log = store.load_procedure_metadata(outcome.run.run_id).execution_log
    assert [(e.type, e.source_location.line) for e in log] == [
        ("hitl_input", 1),
        ("hitl_approval", 3),
        ("os_time", 6),
    ]


def test_a_different_kind_of_call_at_a_recorded_position_is_a_divergence(engine, lua):
    d = lua("Human.approve{message = 'go?'}\nHuman.approve{message = 'really?'}")
    outcome = d.start()
    outcome = d.answer(outcome, True)
    edited = lua("Human.input{message = 'go?'}\nHuman.approve{message = 'really?'}").procedure
    engine.answer(outcome.pending.request_id, True)
    result = engine.resume(outcome.run.run_id, procedure=edited)
    assert result.run.status is RunStatus.FAILED
    assert "hitl_approval" in result.run.error and "hitl_input" in result.run.error


def test_a_divergence_cannot_be_caught_by_pcall(engine, lua):
    d = lua("pcall(Human.input, {message = 'Version?'})\nreturn 'done'")
    outcome = d.start()
    engine.answer(outcome.pending.request_id, "1.0")
    edited = lua("pcall(Human.input, {message = 'Other?'})\nreturn 'done'").procedure
    result = engine.resume(outcome.run.run_id, procedure=edited)
    assert result.run.status is RunStatus.FAILED
    assert "diverged" in result.run.error


def test_many_recorded_answers_replay_in_order(lua):
    d = lua(
        """
        local total = 0
        for i = 1, 40 do
          if Human.approve{message = "item " .. i} then total = total + i end
        end
        return total
        """
    )
    outcome = d.start()
    for i in range(1, 41):
        outcome = d.answer(outcome, i % 2 == 0)
    assert outcome.run.status is RunStatus.COMPLETED
    assert outcome.run.result == sum(range(2, 41, 2))


def test_an_answer_is_recorded_exactly_once(engine, lua):
    d = lua("return Human.approve{message = 'go?', timeout = 60}")
    outcome = d.start()
    request_id = outcome.pending.request_id
    engine.answer(request_id, True, responder="U_ALICE")
    with pytest.raises(AlreadyAnsweredError, match="U_ALICE"):
        engine.answer(request_id, False, responder="U_BOB")
    with pytest.raises(AlreadyAnsweredError):
        engine.time_out(request_id)
    assert d.resume(outcome).run.result is True


def test_resuming_twice_with_one_answer_completes_once(lua, store):
    d = lua("Human.notify{message = 'hi'}\nlocal ok = Human.approve{message = 'go?'}\nreturn ok")
    outcome = d.start()
    done = d.answer(outcome, True)
    again = d.resume(outcome)
    assert done.run.status is again.run.status is RunStatus.COMPLETED
    assert [e.kind for e in store.list_events(outcome.run.run_id)] == ["notify"]


def test_a_run_that_exceeds_a_limit_fails_and_others_keep_working(store, clock, lua, engine):
    limits = SandboxLimits(instructions=1_000_000)
    tight = Engine(store, clock=clock, limits=limits, executor=engine.executor)
    loop = lua("while true do end").procedure
    failed = tight.start(loop)
    assert failed.run.status is RunStatus.FAILED
    assert failed.run.error == "the procedure ran more than 1,000,000 instructions"
    fine = tight.start(lua("return 1 + 1").procedure)
    assert fine.run.result == 2


def test_a_lua_error_fails_the_run_with_the_file_and_line(lua):
    outcome = lua("local x = 1\nlocal y = nil\nreturn y.field").start()
    assert outcome.run.status is RunStatus.FAILED
    assert outcome.run.error.startswith("demo.yaml:3:")
    assert "nil" in outcome.run.error


def test_cancel_ends_the_run_and_refuses_later_answers(engine, lua):
    d = lua("return Human.approve{message = 'go?'}")
    outcome = d.start()
    cancelled = engine.cancel(outcome.run.run_id, reason="changed our minds")
    assert cancelled.status is RunStatus.CANCELLED
    with pytest.raises(AlreadyAnsweredError, match="cancelled"):
        engine.answer(outcome.pending.request_id, True)
    assert d.resume(outcome).run.status is RunStatus.CANCELLED


def test_a_short_run_id_prefix_finds_the_run(engine, lua):
    outcome = lua("return Human.approve{message = 'go?'}").start()
    assert engine.get_run(outcome.run.run_id[:8]).run_id == outcome.run.run_id
