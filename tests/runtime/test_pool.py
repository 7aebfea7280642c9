"""Executions in worker processes: every limit holds for everything a procedure does, and a
worker that has to be killed (or dies) costs its own run only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.engine import Engine
from runtime.errors import ProcedureLoadError, ProcedureWaitingForHuman
from runtime.loader import load_procedure
from runtime.memory_store import MemoryStore
from runtime.models import HITLRequest, HITLResponse, RunStatus
from runtime.pool import WorkerPool
from runtime.sandbox import SandboxLimits
from tests.conftest import REPO, make_procedure

MiB = 1024 * 1024
# Integer keys that all collide in Lua's hash: one table store rehashes for minutes, inside a
# single VM instruction, where no hook can stop it.
COLLIDING_KEYS = "local t = {} for i = 1, 2^18 + 1 do t[i * (2^19 - 1)] = true end return 'done'"
ASK = "local ok = Human.approve{message = 'Ship it?'} return {shipped = ok}"


def poll(condition: Any, timeout: float = 10.0) -> Any:
    """Wait for `condition()` to be truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return result


@pytest.fixture
def workers() -> Iterator[WorkerPool]:
    pool = WorkerPool(2, memory_bytes=64 * MiB)
    yield pool
    pool.close()


@pytest.fixture
def engine(workers: WorkerPool) -> Engine:
    return Engine(MemoryStore(), executor=workers, limits=SandboxLimits(wall_seconds=2))


def test_a_run_waits_answers_and_completes_in_workers_not_in_the_engine(engine: Engine) -> None:
    procedure = make_procedure(ASK)
    waiting = engine.start(procedure)
    assert waiting.run.status is RunStatus.WAITING_FOR_HUMAN
    engine.answer(waiting.pending.request_id, True, responder="U_BOB")  # type: ignore[union-attr]
    done = engine.resume(waiting.run.run_id, procedure=procedure)
    assert (done.run.status, done.run.result) == (RunStatus.COMPLETED, {"shipped": True})
    reports = list(engine.executor.reports)  # type: ignore[attr-defined]
    assert [r.outcome for r in reports] == ["ok", "ok"]
    assert os.getpid() not in {r.pid for r in reports}


def test_a_store_of_colliding_keys_is_killed_at_the_time_limit(engine: Engine) -> None:
    started = time.monotonic()
    failed = engine.start(make_procedure(COLLIDING_KEYS))
    took = time.monotonic() - started
    assert failed.run.status is RunStatus.FAILED
    assert failed.run.error == "the procedure exceeded its 2 s time limit"
    assert took < 2 + 1  # the worker is killed, not waited for (it would take minutes)
    assert engine.executor.reports[-1].outcome == "killed"  # type: ignore[attr-defined]
    assert engine.start(make_procedure("return 'next'")).run.result == "next"


def test_while_one_worker_is_stuck_other_runs_go_on(engine: Engine) -> None:
    stuck: list[Any] = []
    thread = threading.Thread(
        target=lambda: stuck.append(engine.start(make_procedure(COLLIDING_KEYS)))
    )
    thread.start()
    poll(lambda: engine.executor.busy_pids())  # type: ignore[attr-defined]
    for n in range(5):
        assert engine.start(make_procedure(f"return {n}")).run.result == n
    assert thread.is_alive()  # the five runs finished while the stuck one was still stuck
    thread.join()
    assert stuck[0].run.status is RunStatus.FAILED


@pytest.mark.parametrize(
    "code",
    [
        # Lua memory is capped at 64 MiB by default, but these build their data in the host.
        "local t = Json.decode('[' .. string.rep('{},', 999990) .. '{}]') return #t",
        "local s = string.rep('x', 30 * 2^20) return #Json.encode({s, s, s})",
    ],
    ids=["decoded-json", "encoded-json"],
)
def test_memory_a_primitive_allocates_counts_against_the_worker_limit(
    engine: Engine, code: str
) -> None:
    failed = engine.start(make_procedure(code))
    assert failed.run.status is RunStatus.FAILED
    assert failed.run.error == "the procedure used more than 64 MiB of memory"
    assert engine.start(make_procedure("return 'next'")).run.result == "next"


def test_a_worker_that_crashes_fails_its_run_only(engine: Engine, workers: WorkerPool) -> None:
    crashed: list[Any] = []
    spin = make_procedure("while true do end")
    thread = threading.Thread(target=lambda: crashed.append(engine.start(spin)))
    thread.start()
    [pid] = poll(workers.busy_pids)
    os.kill(pid, signal.SIGSEGV)
    thread.join()
    run = crashed[0].run
    assert run.status is RunStatus.FAILED
    assert run.error == (
        "the process executing the procedure crashed (killed by SIGSEGV); "
        "nothing of this execution was kept"
    )
    assert engine.start(make_procedure("return 'next'")).run.result == "next"


def test_workers_hold_none_of_the_engines_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-procedures")
    monkeypatch.setenv("HITLBOT_DATABASE_URL", "postgresql://user:password@db/hitlbot")
    pool = WorkerPool(1)
    try:
        pool.start()
        spin = make_procedure("while true do end")
        engine = Engine(MemoryStore(), executor=pool, limits=SandboxLimits(wall_seconds=3))
        thread = threading.Thread(target=lambda: engine.start(spin))
        thread.start()
        [pid] = poll(pool.busy_pids)
        environment = Path(f"/proc/{pid}/environ").read_bytes()
        thread.join()
    finally:
        pool.close()
    assert b"xoxb-not-for-procedures" not in environment
    assert b"password" not in environment


class AnswerEverything:
    """A host's own HITL handler (Tactus's synchronous kind): it answers at once."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, str]] = []

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        position = execution_context.next_position()
        self.asked.append((request.message, position, execution_context.request_id_at(position)))
        if request.request_type == "input":
            raise ProcedureWaitingForHuman(procedure_id, execution_context.request_id_at(position))
        return HITLResponse(value=True, responder="U_HANDLER")

    def check_pending_response(self, procedure_id: str, message_id: str) -> None:
        return None

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None:
        return None


def test_a_hosts_own_hitl_handler_is_asked_from_the_worker(workers: WorkerPool) -> None:
    handler = AnswerEverything()
    engine = Engine(MemoryStore(), executor=workers, hitl_handler=handler)
    code = "local a = Human.approve{message = 'one?'} local b = Human.approve{message = 'two?'}"
    done = engine.start(make_procedure(code + " return {a, b}"))
    assert (done.run.status, done.run.result) == (RunStatus.COMPLETED, [True, True])
    prefix = f"demo:{done.run.run_id[:8]}:pos"
    assert handler.asked == [("one?", 0, f"{prefix}0"), ("two?", 1, f"{prefix}1")]
    waiting = engine.start(make_procedure("return Human.input{message = 'name?'}"))
    assert waiting.run.status is RunStatus.WAITING_FOR_HUMAN
    assert waiting.run.waiting_on_message_id == f"demo:{waiting.run.run_id[:8]}:pos0"


def test_an_idle_worker_stops_when_its_engine_dies() -> None:
    script = (
        "from runtime.pool import WorkerPool\n"
        "import time\n"
        "pool = WorkerPool(1); pool.start(); print(pool._idle[0].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    engine = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert engine.stdout is not None
    worker = int(engine.stdout.readline())
    engine.kill()
    engine.wait()
    poll(lambda: not Path(f"/proc/{worker}").exists() or _is_zombie(worker))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# -- loading procedure files -------------------------------------------------------------------

EXAMPLE = str(REPO / "examples" / "deploy_approval.yaml")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A `.tac` file whose top level stores colliding keys: it never finishes loading."""
    path = tmp_path / "hostile.tac"
    path.write_text(COLLIDING_KEYS.replace("return 'done'", "") + "\nProcedure { function() end }")
    return path


def test_a_file_loads_in_a_worker_exactly_as_in_process(workers: WorkerPool) -> None:
    for path in sorted((REPO / "examples").glob("*.*")):
        if path.suffix in (".yaml", ".tac", ".lua"):
            assert workers.load(str(path)) == load_procedure(path)


def test_a_file_whose_top_level_never_finishes_is_stopped(hostile: Path) -> None:
    pool = WorkerPool(1, load_seconds=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(ProcedureLoadError, match=r"took longer than 1 s") as caught:
            pool.load(str(hostile))
        assert time.monotonic() - started < 1 + 1
        assert caught.value.path == str(hostile)
        assert pool.load(EXAMPLE).name
    finally:
        pool.close()


def test_a_yaml_bomb_is_refused_before_it_expands(tmp_path: Path, workers: WorkerPool) -> None:
    lines = ['a0: &a0 ["' + "x" * 64 + '"]']
    for n in range(1, 25):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 4) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nname: Bomb\nversion: 1\nclass: Tactus\ncode: return 1\n")
    with pytest.raises(ProcedureLoadError, match=r"expands to more than 100,000 values"):
        workers.load(str(bomb))
    assert workers.load(EXAMPLE).name


def test_a_worker_that_dies_while_reading_a_file_is_reported(hostile: Path) -> None:
    pool = WorkerPool(1)
    try:
        failures: list[str] = []
        reading = threading.Thread(target=lambda: failures.append(_load_error(pool, hostile)))
        reading.start()
        [pid] = poll(pool.busy_pids)
        os.kill(pid, signal.SIGSEGV)
        reading.join()
        assert failures == ["loading it stopped the process reading it (killed by SIGSEGV)"]
        assert pool.load(EXAMPLE).name
    finally:
        pool.close()


def _load_error(pool: WorkerPool, path: Path) -> str:
    try:
        pool.load(str(path))
    except ProcedureLoadError as exc:
        return exc.detail
    return "loaded"


def test_linting_a_hostile_file_is_bounded_too(hostile: Path) -> None:
    pool = WorkerPool(1, load_seconds=1.0)
    try:
        [issue] = pool.lint(str(hostile))
        assert (issue.severity, issue.message) == (
            "error",
            "loading it took longer than 1 s (its top-level code never finished)",
        )
        assert pool.lint(EXAMPLE) == []
    finally:
        pool.close()
