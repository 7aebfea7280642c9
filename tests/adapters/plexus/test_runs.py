"""Whole runs with Plexus as storage, chat and HITL handler: `PlexusRunner` and the engine.

A run starts here, is answered in devplexus's dashboard, and resumes in another process that
knows nothing but the Procedure id: everything it needs is in Plexus. What must hold is the
engine's replay contract: each `Human.*` call gets its own answer, none is given twice and
nothing a procedure did is done again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.plexus import (
    PlexusClient,
    PlexusHITLAdapter,
    PlexusOutcome,
    PlexusRunner,
    PlexusUnavailableError,
)
from runtime.engine import Engine
from runtime.loader import load_procedure
from runtime.memory_store import MemoryStore
from runtime.models import RunStatus
from runtime.pool import WorkerPool
from runtime.procedure import Procedure
from tests.adapters.plexus.conftest import POLICIES, PlexusControl, ServedDevPlexus
from tests.conftest import REPO, FakeClock

RESTART = """
State.increment("executions_seen")
local ok, timed_out = Human.approve{message = "Restart api-7?", timeout = 900, default = false}
Human.notify{message = "approval: " .. tostring(ok)}
local version = Human.input{message = "Which version?"}
return {
  approved = ok,
  approval_timed_out = timed_out,
  version = version,
  executions_seen = State.get("executions_seen"),
}
"""


@pytest.fixture
def restart(tmp_path: Path) -> Procedure:
    path = tmp_path / "restart.tac"
    path.write_text(RESTART, encoding="utf-8")
    return load_procedure(path)


@pytest.fixture
def runner(client: PlexusClient) -> PlexusRunner:
    return PlexusRunner(client, clock=FakeClock())


def resume_elsewhere(served: ServedDevPlexus, procedure_id: str, procedure: Procedure) -> dict:
    """Resume in a new process, configured only by the PLEXUS_* environment."""
    env = {**os.environ, **served.env, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.adapters.plexus.resume_run",
            procedure_id,
            procedure.source_path,
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def pending_rows(plexus: PlexusControl, procedure_id: str) -> list[dict[str, Any]]:
    rows = plexus.records("ChatMessage", procedureId=procedure_id)
    return [
        r for r in rows if r.get("parentMessageId") is None and "control" in r.get("metadata", "")
    ]


def test_a_run_suspends_resumes_in_another_process_and_each_call_gets_its_answer(
    served, plexus, client, runner, restart
) -> None:
    procedure_id = runner.create_procedure(restart)

    started = runner.start(procedure_id, restart)
    assert started.run.status is RunStatus.WAITING_FOR_HUMAN
    assert started.run.waiting_on_message_id == f"restart:{started.run.run_id[:8]}:pos0"
    record = plexus.record("Procedure", procedure_id)
    assert (record["status"], record["waitingOnMessageId"]) == (
        "WAITING_FOR_HUMAN",
        started.pending_message_id,
    )
    pending = plexus.record("ChatMessage", started.pending_message_id)
    where = json.loads(pending["metadata"])["control"]["runtime_context"]
    assert (where["source_file"], where["source_line"]) == ("restart.tac", 3)
    plexus.respond(started.pending_message_id, action="approve", user_id="cognito-alice")

    second = PlexusOutcome.model_validate(resume_elsewhere(served, procedure_id, restart))
    assert second.run.status is RunStatus.WAITING_FOR_HUMAN
    assert second.pending_message_id != started.pending_message_id
    assert second.session_id == started.session_id
    assert plexus.record("ChatMessage", second.pending_message_id)["content"] == "Which version?"
    plexus.respond(second.pending_message_id, text="v2.4.1")

    done = PlexusOutcome.model_validate(resume_elsewhere(served, procedure_id, restart))

    assert done.run.status is RunStatus.COMPLETED
    assert done.run.result == {
        "approved": True,
        "approval_timed_out": False,
        "version": "v2.4.1",
        "executions_seen": 1,  # rebuilt by replay, never applied twice
    }
    record = plexus.record("Procedure", procedure_id)
    assert record["status"] == "COMPLETED" and record.get("waitingOnMessageId") is None
    assert plexus.record("ChatSession", done.session_id)["status"] == "COMPLETED"
    assert [r["content"] for r in pending_rows(plexus, procedure_id)] == [
        "Restart api-7?",
        "Which version?",
    ]
    notes = plexus.records("ChatMessage", humanInteraction="NOTIFICATION")
    assert [n["content"] for n in notes] == ["approval: true"]  # once, across three executions
    log = json.loads(record["metadata"])["execution_log"]
    assert [(e["position"], e["type"], e["result"]["value"]) for e in log] == [
        (0, "hitl_approval", True),
        (1, "hitl_input", "v2.4.1"),
    ]


def test_a_timeout_answer_reaches_the_procedure_as_a_timeout(
    plexus, client, runner, restart
) -> None:
    procedure_id = runner.create_procedure(restart)
    started = runner.start(procedure_id, restart)
    hitl = PlexusHITLAdapter(client, procedure_id)

    assert client.call(hitl.time_out, started.pending_message_id) is True
    second = runner.resume(procedure_id, restart)
    plexus.respond(second.pending_message_id, text="v1")
    done = runner.resume(procedure_id, restart)

    assert done.run.result["approved"] is False
    assert done.run.result["approval_timed_out"] is True
    timed_out = plexus.record("ChatMessage", started.pending_message_id)
    assert timed_out["humanInteraction"] == "TIMED_OUT"


def test_a_cancelled_run_cancels_its_request_and_ends_its_session(plexus, runner, restart) -> None:
    procedure_id = runner.create_procedure(restart)
    started = runner.start(procedure_id, restart)

    cancelled = runner.cancel(procedure_id, reason="wrong host")

    assert cancelled.run.status is RunStatus.CANCELLED
    record = plexus.record("Procedure", procedure_id)
    assert record["status"] == "CANCELLED" and record.get("waitingOnMessageId") is None
    assert plexus.record("ChatMessage", started.pending_message_id)["humanInteraction"] == (
        "CANCELLED"
    )
    assert plexus.record("ChatSession", started.session_id)["status"] == "ERROR"
    again = runner.resume(procedure_id, restart)
    assert again.run.status is RunStatus.CANCELLED and again.run.error == "wrong host"


def test_plexus_down_mid_execution_leaves_the_run_as_it_was(plexus, runner, restart) -> None:
    procedure_id = runner.create_procedure(restart)
    started = runner.start(procedure_id, restart)
    plexus.respond(started.pending_message_id, action="approve")
    before = plexus.record("Procedure", procedure_id)
    # The next request cannot be posted, whatever the retries (the notification after it could).
    plexus.faults(operation="CreateChatMessage", status=503, count=POLICIES.write.attempts)

    with pytest.raises(PlexusUnavailableError, match="CreateChatMessage"):
        runner.resume(procedure_id, restart)

    after = plexus.record("Procedure", procedure_id)
    assert (after["status"], after["metadata"]) == (before["status"], before["metadata"])
    resumed = runner.resume(procedure_id, restart)
    assert resumed.run.status is RunStatus.WAITING_FOR_HUMAN
    assert resumed.run.waiting_on_message_id.endswith(":pos1")
    assert len(plexus.records("ChatMessage", humanInteraction="NOTIFICATION")) == 1


def test_the_cost_of_an_answer_does_not_grow_with_the_answers_before_it(
    plexus, runner, tmp_path
) -> None:
    path = tmp_path / "checklist.tac"
    path.write_text(
        'for i = 1, 12 do Human.input{message = "step " .. i} end\nreturn {done = true}\n'
    )
    checklist = load_procedure(path)
    procedure_id = runner.create_procedure(checklist)
    outcome = runner.start(procedure_id, checklist)
    costs = []
    for step in range(12):
        plexus.respond(outcome.pending_message_id, text=f"ok {step}")
        before = plexus.total_calls()
        outcome = runner.resume(procedure_id, checklist)
        costs.append(plexus.total_calls() - before)

    assert outcome.run.status is RunStatus.COMPLETED
    assert len(set(costs[:-1])) == 1, costs  # every answer that moves the run on costs the same
    assert costs[0] <= 9


@pytest.fixture(scope="module")
def workers() -> Iterator[WorkerPool]:
    pool = WorkerPool(1)
    yield pool
    pool.close()


@pytest.mark.parametrize("where", ["in-thread", "in-worker"])
def test_the_engine_runs_with_the_plexus_hitl_adapter_as_its_handler(
    plexus, client, procedure_id, restart, workers, where
) -> None:
    """The bot's engine: runs in its own store, requests and answers through Plexus."""
    store = MemoryStore()
    hitl = PlexusHITLAdapter(client, procedure_id)
    engine = Engine(store, hitl_handler=hitl, executor=workers if where == "in-worker" else None)

    first = engine.start(restart)
    assert first.run.status is RunStatus.WAITING_FOR_HUMAN
    message_id = hitl.message_id_for(first.run.waiting_on_message_id)
    assert store.get_request(first.run.waiting_on_message_id) is not None
    assert plexus.record("Procedure", procedure_id)["waitingOnMessageId"] == message_id
    plexus.respond(message_id, action="reject")

    second = engine.resume(first.run.run_id, procedure=restart)
    plexus.respond(hitl.message_id_for(second.run.waiting_on_message_id), text="v3")
    done = engine.resume(first.run.run_id, procedure=restart)

    assert done.run.status is RunStatus.COMPLETED
    assert done.run.result["approved"] is False and done.run.result["version"] == "v3"
    assert [e.payload["message"] for e in store.list_events(done.run.run_id)] == ["approval: false"]
    assert len(pending_rows(plexus, procedure_id)) == 2
