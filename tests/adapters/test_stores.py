"""One behavioural suite for every `RunStore`: `MemoryStore` and `SqlStore` on SQLite.

The `store` fixture (conftest) runs each test against both, so the two implementations cannot
drift apart. Tests that only make sense for a database shared between processes (persistence,
several instances, several processes, unusable paths) use `sqlite_url` directly.
"""

from __future__ import annotations

import inspect
import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.sql import SqlStore, StorageError
from runtime.errors import HitlbotError
from runtime.memory_store import MemoryStore
from runtime.models import (
    CheckpointEntry,
    HITLRequest,
    HITLResponse,
    PendingRequest,
    ProcedureMetadata,
    RunEvent,
    RunRecord,
    RunStatus,
    SourceLocation,
)
from runtime.protocols import RunStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

JSON_VALUES = [
    None,
    True,
    0,
    -7,
    2**53,
    3.25,
    "",
    "héllo ✓ 日本語 🚀",
    [],
    {},
    [1, [2, [3, None]], "x"],
    {"a": {"b": [None, {"c": "ü", "d": False}]}, "null": None, "ключ": [1.5, "€"]},
]


def run_record(run_id: str = "run-1", **fields: Any) -> RunRecord:
    return RunRecord(run_id=run_id, **{"procedure_id": "deploy", **fields})


def entry(position: int, result: Any = None, kind: str = "explicit_checkpoint") -> CheckpointEntry:
    return CheckpointEntry(position=position, type=kind, result=result, run_id="run-1")


def pending(request_id: str, run_id: str = "run-1", **fields: Any) -> PendingRequest:
    return PendingRequest(
        request_id=request_id,
        run_id=run_id,
        procedure_id="deploy",
        position=fields.pop("position", 0),
        request=HITLRequest(request_type="approval", message="Deploy to prod?"),
        **fields,
    )


def event(seq: int, run_id: str = "run-1", **payload: Any) -> RunEvent:
    return RunEvent(run_id=run_id, seq=seq, kind="notify", payload=payload)


def commit(
    store: RunStore,
    run: RunRecord,
    *,
    log: list[CheckpointEntry] | None = None,
    state: dict[str, Any] | None = None,
    events: list[RunEvent] | None = None,
    requests: list[PendingRequest] | None = None,
) -> None:
    store.commit_execution(
        run,
        log_entries=log or [],
        state=state if state is not None else {},
        events=events or [],
        requests=requests or [],
    )


def log_of(store: RunStore, run_id: str = "run-1") -> list[tuple[int, str, Any]]:
    metadata = store.load_procedure_metadata(run_id)
    return [(e.position, e.type, e.result) for e in metadata.execution_log]


# --- the protocol -----------------------------------------------------------------------------


def test_implements_every_protocol_method_with_its_signature(store: RunStore) -> None:
    assert isinstance(store, RunStore)
    methods = [n for n in dir(RunStore) if not n.startswith("_") and callable(getattr(RunStore, n))]
    assert "checkpoint_clear_after" in methods and "record_response" in methods
    for name in methods:
        expected = inspect.signature(getattr(RunStore, name)).parameters.values()
        actual = inspect.signature(getattr(type(store), name)).parameters.values()
        shape = [(p.name, p.kind, p.default) for p in expected]
        assert [(p.name, p.kind, p.default) for p in actual] == shape, name


# --- execution log and metadata (Tactus StorageBackend) ---------------------------------------


def test_unknown_run_loads_empty_metadata_and_creates_nothing(store: RunStore) -> None:
    metadata = store.load_procedure_metadata("nobody")
    assert metadata == ProcedureMetadata(procedure_id="nobody")
    assert store.get_run("nobody") is None
    assert store.list_runs() == []
    assert store.get_state("nobody") == {}


def test_metadata_reflects_log_state_and_run_status(store: RunStore) -> None:
    store.create_run(run_record())
    run = run_record(status=RunStatus.WAITING_FOR_HUMAN, waiting_on_message_id="deploy:run-1:pos1")
    commit(store, run, log=[entry(1, "b"), entry(0, {"ok": True})], state={"env": "prod"})

    metadata = store.load_procedure_metadata("run-1")

    assert metadata.procedure_id == "run-1"
    assert [(e.position, e.result) for e in metadata.execution_log] == [(0, {"ok": True}), (1, "b")]
    assert metadata.replay_index == 0
    assert metadata.state == {"env": "prod"}
    assert metadata.status == "WAITING_FOR_HUMAN"
    assert metadata.waiting_on_message_id == "deploy:run-1:pos1"


@pytest.mark.parametrize("shape", ["tactus", "plexus"])
def test_save_procedure_metadata_replaces_log_state_and_status(store: RunStore, shape: str) -> None:
    store.create_run(run_record())
    commit(store, run_record(), log=[entry(0, 1), entry(1, 2), entry(2, 3)], state={"old": 1})
    metadata = ProcedureMetadata(
        procedure_id="run-1",
        execution_log=[entry(0, "a"), entry(1, "b")],
        replay_index=2,
        state={"new": [1, 2]},
        status="WAITING_FOR_HUMAN",
        waiting_on_message_id="msg-1",
    )

    if shape == "tactus":
        store.save_procedure_metadata("run-1", metadata)
    else:
        store.save_procedure_metadata(metadata)

    loaded = store.load_procedure_metadata("run-1")
    assert [(e.position, e.result) for e in loaded.execution_log] == [(0, "a"), (1, "b")]
    assert loaded.state == {"new": [1, 2]}
    assert (loaded.status, loaded.waiting_on_message_id) == ("WAITING_FOR_HUMAN", "msg-1")
    assert loaded.replay_index == 0  # replay always starts from the top
    run = store.get_run("run-1")
    assert run is not None and run.status is RunStatus.WAITING_FOR_HUMAN


def test_save_procedure_metadata_without_a_run_keeps_log_and_state(store: RunStore) -> None:
    metadata = ProcedureMetadata(
        procedure_id="tactus-only", execution_log=[entry(0, True)], state={"k": "v"}
    )
    store.save_procedure_metadata(metadata)

    loaded = store.load_procedure_metadata("tactus-only")
    assert [(e.position, e.result) for e in loaded.execution_log] == [(0, True)]
    assert loaded.state == {"k": "v"}
    assert loaded.status == "RUNNING"
    assert store.get_run("tactus-only") is None


def test_save_procedure_metadata_rejects_bad_calls(store: RunStore) -> None:
    metadata = ProcedureMetadata(procedure_id="run-1")
    with pytest.raises(TypeError):
        store.save_procedure_metadata("run-1")
    with pytest.raises(TypeError):
        store.save_procedure_metadata(metadata, metadata)
    with pytest.raises(ValueError, match="unknown run status 'WAITING_FOR_GODOT'"):
        store.save_procedure_metadata(metadata.model_copy(update={"status": "WAITING_FOR_GODOT"}))
    assert store.load_procedure_metadata("run-1") == metadata


def test_log_entries_round_trip_every_field(store: RunStore) -> None:
    full = CheckpointEntry(
        position=0,
        type="hitl_approval",
        result=HITLResponse(value=True, responded_at=T0).model_dump(mode="json"),
        timestamp=T0,
        duration_ms=0.016,
        input_hash="abc123",
        run_id="run-1",
        source_location=SourceLocation(file="deploy.tac", line=7, function="main"),
        captured_vars={"count": 2, "names": ["a", "é"]},
    )
    bare = CheckpointEntry(position=1, type="hitl_input", timestamp=T0)
    store.save_procedure_metadata("run-1", ProcedureMetadata(procedure_id="run-1"))
    commit(store, run_record(), log=[full, bare])

    assert store.load_procedure_metadata("run-1").execution_log == [full, bare]
    result = store.load_procedure_metadata("run-1").execution_log[0].result
    assert HITLResponse.model_validate(result) == HITLResponse(value=True, responded_at=T0)


def test_update_procedure_status_sets_and_clears_the_waiting_id(store: RunStore) -> None:
    store.create_run(run_record(updated_at=T0))

    store.update_procedure_status("run-1", "WAITING_FOR_HUMAN", waiting_on_message_id="m-1")
    run = store.get_run("run-1")
    assert run is not None
    assert (run.status, run.waiting_on_message_id) == (RunStatus.WAITING_FOR_HUMAN, "m-1")
    assert run.updated_at > T0

    store.update_procedure_status("run-1", "RUNNING")
    metadata = store.load_procedure_metadata("run-1")
    assert (metadata.status, metadata.waiting_on_message_id) == ("RUNNING", None)


def test_update_procedure_status_of_an_unknown_run_creates_nothing(store: RunStore) -> None:
    store.update_procedure_status("ghost", "COMPLETED", waiting_on_message_id="m")

    assert store.get_run("ghost") is None
    assert store.find_runs("gh") == []
    assert store.load_procedure_metadata("ghost").status == "RUNNING"


def test_update_procedure_status_rejects_unknown_statuses(store: RunStore) -> None:
    store.create_run(run_record())
    with pytest.raises(ValueError, match="expected one of"):
        store.update_procedure_status("run-1", "DONE")
    run = store.get_run("run-1")
    assert run is not None and run.status is RunStatus.RUNNING


# --- state -------------------------------------------------------------------------------------


def test_state_methods(store: RunStore) -> None:
    assert store.get_state("run-1") == {}
    assert store.state_get("run-1", "missing") is None
    assert store.state_get("run-1", "missing", default=42) == 42

    store.set_state("run-1", {"a": 1, "b": {"c": [1, 2]}})
    store.state_set("run-1", "d", "ü")
    store.state_set("run-1", "a", None)
    assert store.get_state("run-1") == {"a": None, "b": {"c": [1, 2]}, "d": "ü"}
    assert store.state_get("run-1", "a", default="unused") is None  # stored None is a value

    store.state_delete("run-1", "b")
    store.state_delete("run-1", "never-there")
    assert store.get_state("run-1") == {"a": None, "d": "ü"}

    store.state_clear("run-1")
    assert store.get_state("run-1") == {}
    store.state_set("other", "x", 1)
    assert store.get_state("other") == {"x": 1}
    assert store.get_state("run-1") == {}


def test_state_is_copied_in_and_out(store: RunStore) -> None:
    given = {"list": [1], "nested": {"k": "v"}}
    store.set_state("run-1", given)
    given["list"].append(2)
    got = store.get_state("run-1")
    got["nested"]["k"] = "changed"
    got["new"] = True

    assert store.get_state("run-1") == {"list": [1], "nested": {"k": "v"}}


# --- named checkpoints (the seed's PlexusStorageAdapter API) ---------------------------------


def test_checkpoint_save_get_exists(store: RunStore) -> None:
    assert store.checkpoint_exists("run-1", "fetch") is False
    assert store.checkpoint_get("run-1", "fetch") is None

    store.checkpoint_save("run-1", "fetch", {"rows": [1, 2]})
    store.checkpoint_save("run-1", "nothing", None)
    store.checkpoint_save("run-1", "fetch", {"rows": [3]})

    assert store.checkpoint_get("run-1", "fetch") == {"rows": [3]}
    assert store.checkpoint_exists("run-1", "nothing") is True  # saved None still exists
    assert store.checkpoint_get("run-1", "nothing") is None
    assert store.checkpoint_exists("run-2", "fetch") is False


def test_checkpoint_names_address_the_execution_log(store: RunStore) -> None:
    commit(store, run_record(), log=[entry(0, "zero"), entry(3, {"three": 3})])

    assert store.checkpoint_get("run-1", "pos3") == {"three": 3}
    assert store.checkpoint_get("run-1", "0") == "zero"
    assert store.checkpoint_exists("run-1", "pos0") is True
    assert store.checkpoint_exists("run-1", "pos1") is False
    assert store.checkpoint_get("run-1", "pos1") is None
    with pytest.raises(ValueError, match="reserved"):
        store.checkpoint_save("run-1", "pos4", "x")
    with pytest.raises(ValueError, match="reserved"):
        store.checkpoint_save("run-1", "12", "x")
    store.checkpoint_save("run-1", "position", "not reserved")
    assert store.checkpoint_get("run-1", "position") == "not reserved"


def test_checkpoint_clear_all_keeps_state(store: RunStore) -> None:
    commit(store, run_record(), log=[entry(0, 1), entry(1, 2)], state={"keep": True})
    store.checkpoint_save("run-1", "a", 1)
    store.checkpoint_save("run-2", "a", 2)

    store.checkpoint_clear_all("run-1")

    assert log_of(store) == []
    assert store.checkpoint_exists("run-1", "a") is False
    assert store.get_state("run-1") == {"keep": True}
    assert store.checkpoint_get("run-2", "a") == 2


def test_checkpoint_clear_after_a_name_clears_it_and_later_saves(store: RunStore) -> None:
    for name in ["one", "two", "three", "four"]:
        store.checkpoint_save("run-1", name, name.upper())
    store.checkpoint_save("run-1", "two", "TWO again")  # saving again makes it the latest
    store.checkpoint_save("run-2", "four", "other run")

    store.checkpoint_clear_after("run-1", "three")

    exists = {n: store.checkpoint_exists("run-1", n) for n in ["one", "two", "three", "four"]}
    assert exists == {"one": True, "two": False, "three": False, "four": False}
    assert store.checkpoint_get("run-2", "four") == "other run"
    store.checkpoint_clear_after("run-1", "unknown")  # nothing to clear, no error
    assert store.checkpoint_get("run-1", "one") == "ONE"


@pytest.mark.parametrize("name", ["pos2", "2"])
def test_checkpoint_clear_after_a_position_rewinds_the_log(store: RunStore, name: str) -> None:
    commit(store, run_record(), log=[entry(p, p * 10) for p in range(5)], state={"s": 1})
    store.checkpoint_save("run-1", "named", "kept")

    store.checkpoint_clear_after("run-1", name)

    assert [position for position, _, _ in log_of(store)] == [0, 1]
    assert store.checkpoint_get("run-1", "named") == "kept"
    assert store.get_state("run-1") == {"s": 1}


# --- runs -------------------------------------------------------------------------------------


def test_create_and_get_run_round_trip(store: RunStore) -> None:
    run = run_record(
        source_path="examples/deploy.tac",
        params={"env": "prod", "hosts": ["a", "b"], "note": "🚀", "none": None},
        status=RunStatus.COMPLETED,
        result={"deployed": True, "nested": [{"x": None}]},
        error=None,
        started_by="U123",
        created_at=T0,
        updated_at=T0 + timedelta(seconds=1),
    )
    store.create_run(run)

    assert store.get_run("run-1") == run
    assert store.get_run("run-2") is None
    with pytest.raises(ValueError, match="already exists"):
        store.create_run(run_record(procedure_id="other"))
    assert store.get_run("run-1") == run


def test_timestamps_come_back_aware_in_utc(store: RunStore) -> None:
    plus_two = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 5, 1, 9, 0)
    store.create_run(run_record(created_at=plus_two, updated_at=naive))

    run = store.get_run("run-1")
    assert run is not None
    assert run.created_at == plus_two and run.created_at.utcoffset() == timedelta(0)
    assert run.updated_at == naive.replace(tzinfo=UTC)  # naive means UTC
    assert run.updated_at.utcoffset() == timedelta(0)


def test_find_runs_matches_a_literal_case_sensitive_prefix(store: RunStore) -> None:
    for run_id in ["abc123", "abd456", "ABC789", "a_c000", "a%x"]:
        store.create_run(run_record(run_id))

    assert {r.run_id for r in store.find_runs("ab")} == {"abc123", "abd456"}
    assert [r.run_id for r in store.find_runs("abc")] == ["abc123"]
    assert [r.run_id for r in store.find_runs("a_")] == ["a_c000"]
    assert [r.run_id for r in store.find_runs("a%")] == ["a%x"]
    assert store.find_runs("zzz") == []
    assert len(store.find_runs("")) == 5


def test_list_runs_most_recently_updated_first(store: RunStore) -> None:
    for i, run_id in enumerate(["a", "b", "c"]):
        store.create_run(run_record(run_id, updated_at=T0 + timedelta(minutes=i)))
    store.create_run(run_record("d", status=RunStatus.FAILED, updated_at=T0 - timedelta(days=1)))

    assert [r.run_id for r in store.list_runs()] == ["c", "b", "a", "d"]

    commit(store, run_record("a", status=RunStatus.WAITING_FOR_HUMAN))  # touches a
    assert [r.run_id for r in store.list_runs()] == ["a", "c", "b", "d"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["a", "c"]
    assert store.list_runs(limit=0) == []
    assert [r.run_id for r in store.list_runs(status=RunStatus.RUNNING)] == ["c", "b"]
    assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED)] == ["d"]


def test_returned_records_are_copies(store: RunStore) -> None:
    store.create_run(run_record(params={"hosts": ["a"]}))
    commit(store, run_record(params={"hosts": ["a"]}), log=[entry(0, {"v": [1]})])
    store.save_request(pending("q-1"))
    store.checkpoint_save("run-1", "c", {"v": [1]})

    run = store.get_run("run-1")
    assert run is not None
    run.params["hosts"].append("b")
    store.load_procedure_metadata("run-1").execution_log[0].result["v"].append(2)
    request = store.get_request("q-1")
    assert request is not None
    request.request.metadata["x"] = 1
    store.checkpoint_get("run-1", "c")["v"].append(2)

    run = store.get_run("run-1")
    assert run is not None and run.params == {"hosts": ["a"]}
    assert log_of(store) == [(0, "explicit_checkpoint", {"v": [1]})]
    request = store.get_request("q-1")
    assert request is not None and request.request.metadata == {}
    assert store.checkpoint_get("run-1", "c") == {"v": [1]}


# --- commit_execution -------------------------------------------------------------------------


def test_commit_execution_upserts_log_and_replaces_state_and_run(store: RunStore) -> None:
    store.create_run(run_record(created_at=T0, updated_at=T0))
    commit(store, run_record(), log=[entry(0, None, "hitl_approval")], state={"step": 1})

    answered = {"value": True, "responded_at": T0.isoformat(), "timed_out": False}
    finished = run_record(status=RunStatus.COMPLETED, result={"ok": True}, created_at=T0)
    commit(
        store,
        finished,
        log=[entry(0, answered, "hitl_approval"), entry(1, "next")],
        state={"step": 2},
    )

    assert log_of(store) == [(0, "hitl_approval", answered), (1, "explicit_checkpoint", "next")]
    assert store.get_state("run-1") == {"step": 2}
    run = store.get_run("run-1")
    assert run is not None
    assert (run.status, run.result, run.created_at) == (RunStatus.COMPLETED, {"ok": True}, T0)
    assert run.updated_at > T0


def test_commit_execution_creates_a_missing_run(store: RunStore) -> None:
    commit(store, run_record("fresh"), log=[entry(0, 1)])
    run = store.get_run("fresh")
    assert run is not None and run.procedure_id == "deploy"


def test_commit_execution_appends_events_once_in_seq_order(store: RunStore) -> None:
    commit(store, run_record(), events=[event(1, text="b"), event(0, text="a")])
    commit(store, run_record(), events=[event(1, text="b again"), event(2, text="c")])
    commit(store, run_record("run-2"), events=[event(0, "run-2", text="other")])

    assert [(e.seq, e.payload["text"]) for e in store.list_events("run-1")] == [
        (0, "a"),
        (1, "b"),
        (2, "c"),
    ]
    assert [e.payload for e in store.list_events("run-2")] == [{"text": "other"}]
    assert store.list_events("nobody") == []


def test_events_round_trip(store: RunStore) -> None:
    sent = RunEvent(
        run_id="run-1", seq=0, kind="alert", payload={"level": "⚠", "n": None}, created_at=T0
    )
    commit(store, run_record(), events=[sent])
    assert store.list_events("run-1") == [sent]


def test_commit_execution_inserts_requests_unless_they_exist(store: RunStore) -> None:
    store.save_request(pending("q-0"))
    assert store.record_response("q-0", HITLResponse(value="first", responded_at=T0))

    commit(store, run_record(), requests=[pending("q-0"), pending("q-1", position=1)])

    answered = store.get_request("q-0")
    assert answered is not None and answered.response is not None
    assert answered.response.value == "first"
    assert [r.request_id for r in store.list_requests(run_id="run-1")] == ["q-0", "q-1"]


def test_commit_execution_is_all_or_nothing(store: RunStore) -> None:
    commit(store, run_record(), log=[entry(0, "kept")], state={"kept": True})

    with pytest.raises(TypeError):
        commit(
            store,
            run_record(status=RunStatus.COMPLETED),
            log=[entry(0, "lost"), entry(1, "lost")],
            state={"not json": object()},
            events=[event(0)],
            requests=[pending("q-lost")],
        )

    assert log_of(store) == [(0, "explicit_checkpoint", "kept")]
    assert store.get_state("run-1") == {"kept": True}
    assert store.list_events("run-1") == []
    assert store.get_request("q-lost") is None
    run = store.get_run("run-1")
    assert run is not None and run.status is RunStatus.RUNNING


# --- JSON values ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_json_values_round_trip_everywhere(store: RunStore, value: Any) -> None:
    commit(
        store,
        run_record(params={"p": value}, result=value),
        log=[entry(0, value)],
        state={"v": value},
        events=[event(0, v=value)],
        requests=[pending("q-1")],
    )
    store.checkpoint_save("run-1", "named", value)
    store.state_set("run-1", "w", value)
    store.record_response("q-1", HITLResponse(value=value))

    run = store.get_run("run-1")
    assert run is not None and run.params == {"p": value} and run.result == value
    assert log_of(store) == [(0, "explicit_checkpoint", value)]
    assert store.get_state("run-1") == {"v": value, "w": value}
    assert store.list_events("run-1")[0].payload == {"v": value}
    assert store.checkpoint_get("run-1", "named") == value
    answered = store.get_request("q-1")
    assert answered is not None and answered.response is not None
    assert answered.response.value == value


def test_values_are_normalised_to_json_by_every_store(store: RunStore) -> None:
    store.set_state("run-1", {"tuple": (1, 2), "int keys": {1: "a"}})
    assert store.get_state("run-1") == {"tuple": [1, 2], "int keys": {"1": "a"}}
    with pytest.raises(TypeError):
        store.checkpoint_save("run-1", "when", datetime.now(UTC))
    with pytest.raises(TypeError):
        store.state_set("run-1", "when", datetime.now(UTC))
    assert store.checkpoint_exists("run-1", "when") is False
    assert store.state_get("run-1", "when") is None


# --- pending requests -------------------------------------------------------------------------


def test_requests_round_trip_and_save_is_idempotent(store: RunStore) -> None:
    request = PendingRequest(
        request_id="deploy:run-1:pos0",
        run_id="run-1",
        procedure_id="deploy",
        position=0,
        request=HITLRequest(
            request_type="select",
            message="Pick a region ✓",
            timeout_seconds=300,
            default_value="eu",
            options=[{"label": "EU", "value": "eu"}, {"label": "US", "value": None}],
            metadata={"host": "api-7"},
        ),
        created_at=T0,
    )
    store.save_request(request)
    store.save_request(request.model_copy(update={"position": 9, "cancelled": True}))

    assert store.get_request("deploy:run-1:pos0") == request
    assert store.get_request("unknown") is None


def test_list_requests_orders_by_creation_and_filters(store: RunStore) -> None:
    store.save_request(pending("late", created_at=T0 + timedelta(minutes=2)))
    store.save_request(pending("early", created_at=T0))
    store.save_request(pending("tie-1", created_at=T0 + timedelta(minutes=1)))
    store.save_request(pending("tie-2", created_at=T0 + timedelta(minutes=1)))
    store.save_request(pending("elsewhere", run_id="run-2", created_at=T0))
    store.record_response("tie-1", HITLResponse(value=True))
    store.cancel_request("late")

    def ids(**filters: Any) -> list[str]:
        return [r.request_id for r in store.list_requests(**filters)]

    assert ids() == ["early", "elsewhere", "tie-1", "tie-2", "late"]
    assert ids(run_id="run-1") == ["early", "tie-1", "tie-2", "late"]
    assert ids(run_id="run-1", pending_only=True) == ["early", "tie-2"]
    assert ids(pending_only=True) == ["early", "elsewhere", "tie-2"]
    assert ids(run_id="nobody") == []


def test_record_response_stores_the_first_answer_only(store: RunStore) -> None:
    store.save_request(pending("q-1"))
    first = HITLResponse(value={"approved": True}, responded_at=T0, responder="U1")

    assert store.record_response("q-1", first) is True
    assert store.record_response("q-1", HITLResponse(value=False)) is False
    assert store.cancel_request("q-1") is False

    stored = store.get_request("q-1")
    assert stored is not None
    assert (stored.response, stored.cancelled) == (first, False)
    assert store.record_response("unknown", first) is False


def test_cancelled_requests_take_no_answer(store: RunStore) -> None:
    store.save_request(pending("q-1"))

    assert store.cancel_request("q-1") is True
    assert store.cancel_request("q-1") is False
    assert store.record_response("q-1", HITLResponse(value=True)) is False

    stored = store.get_request("q-1")
    assert stored is not None and (stored.response, stored.cancelled) == (None, True)
    assert store.cancel_request("unknown") is False


# --- exactly once under contention ------------------------------------------------------------


def race(calls: list[Callable[[], bool]]) -> list[bool]:
    """Run the calls in threads released together; return what each returned."""
    barrier = threading.Barrier(len(calls))
    results: list[bool | BaseException] = [False] * len(calls)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # surfaced below with the others' results
            results[index] = exc

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    return [bool(r) for r in results]


def assert_single_winner(store: RunStore, request_id: str, results: list[bool]) -> int:
    assert results.count(True) == 1, results
    winner = results.index(True)
    stored = store.get_request(request_id)
    assert stored is not None and stored.response is not None
    assert stored.response.value == winner
    return winner


def test_record_response_has_one_winner_among_threads(store: RunStore) -> None:
    for attempt in range(5):
        request_id = f"q-{attempt}"
        store.save_request(pending(request_id))
        calls = [
            lambda i=i, rid=request_id: store.record_response(rid, HITLResponse(value=i))
            for i in range(12)
        ]
        assert_single_winner(store, request_id, race(calls))


def test_answer_and_timeout_cancel_race_has_one_winner(store: RunStore) -> None:
    store.save_request(pending("q-1"))
    answers = [lambda i=i: store.record_response("q-1", HITLResponse(value=i)) for i in range(6)]
    cancels = [lambda: store.cancel_request("q-1") for _ in range(6)]

    results = race(answers + cancels)

    assert results.count(True) == 1
    stored = store.get_request("q-1")
    assert stored is not None
    if results.index(True) < len(answers):
        assert stored.response is not None and not stored.cancelled
        assert stored.response.value == results.index(True)
    else:
        assert stored.response is None and stored.cancelled


def test_two_sql_store_instances_race_on_one_database(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as first, SqlStore(sqlite_url) as second:
        first.save_request(pending("q-1"))
        assert second.get_request("q-1") is not None  # visible across instances at once
        stores = [first, second] * 5
        calls = [
            lambda i=i, s=s: s.record_response("q-1", HITLResponse(value=i))
            for i, s in enumerate(stores)
        ]
        winner = assert_single_winner(first, "q-1", race(calls))
        answered = second.get_request("q-1")
        assert answered is not None and answered.response is not None
        assert answered.response.value == winner


def answer_in_another_process(
    url: str, request_id: str, value: int, barrier: Any, results: Any
) -> None:
    """Process body for the multi-process race (module level, so `spawn` can import it)."""
    store = SqlStore(url)
    try:
        barrier.wait(timeout=60)
        results.put((value, store.record_response(request_id, HITLResponse(value=value))))
    except BaseException as exc:
        results.put((value, repr(exc)))
    finally:
        store.close()


def test_record_response_has_one_winner_among_processes(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as store:
        store.save_request(pending("q-1"))
    # spawn, not fork: a forked child must not inherit the parent's SQLite connections.
    context = multiprocessing.get_context("spawn")
    count = 4
    barrier = context.Barrier(count)
    results = context.Queue()
    processes = [
        context.Process(
            target=answer_in_another_process, args=(sqlite_url, "q-1", i, barrier, results)
        )
        for i in range(count)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    assert sorted(outcomes) == list(range(count))
    assert all(isinstance(won, bool) for won in outcomes.values()), outcomes
    winners = [value for value, won in outcomes.items() if won]
    assert len(winners) == 1, outcomes
    with SqlStore(sqlite_url) as store:
        answered = store.get_request("q-1")
    assert answered is not None and answered.response is not None
    assert answered.response.value == winners[0]


# --- SQLite specifics -------------------------------------------------------------------------


def test_everything_persists_across_instances(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as store:
        store.create_run(run_record(created_at=T0, updated_at=T0))
        commit(
            store,
            run_record(status=RunStatus.WAITING_FOR_HUMAN, waiting_on_message_id="q-1"),
            log=[entry(0, {"a": "é"}), entry(1, None, "hitl_approval")],
            state={"n": 1},
            events=[event(0, text="hi")],
            requests=[pending("q-1", position=1, created_at=T0)],
        )
        store.checkpoint_save("run-1", "named", [1, None])
        store.record_response("q-1", HITLResponse(value=True, responded_at=T0))
        before = (
            store.get_run("run-1"),
            store.load_procedure_metadata("run-1"),
            store.list_requests(),
            store.list_events("run-1"),
        )

    with SqlStore(sqlite_url) as reopened:
        after = (
            reopened.get_run("run-1"),
            reopened.load_procedure_metadata("run-1"),
            reopened.list_requests(),
            reopened.list_events("run-1"),
        )
        assert after == before
        assert reopened.checkpoint_get("run-1", "named") == [1, None]
        assert reopened.record_response("q-1", HITLResponse(value=False)) is False


def test_sqlite_file_is_created_with_its_directories_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    with SqlStore(f"sqlite:///{path}") as store:
        store.set_state("run-1", {"x": 1})
    assert path.is_file()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def unusable_paths(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("just text")
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_bytes(b"definitely not SQLite " * 100)
    return {
        "a directory": tmp_path,
        "under a file": a_file / "runs.db",
        "not a database": not_a_database,
    }


@pytest.mark.parametrize("case", ["a directory", "under a file", "not a database"])
def test_an_unusable_database_path_gives_a_clear_error(tmp_path: Path, case: str) -> None:
    path = unusable_paths(tmp_path)[case]

    with pytest.raises(StorageError) as raised:
        SqlStore(f"sqlite:///{path}")

    assert isinstance(raised.value, HitlbotError)
    message = str(raised.value)
    assert str(path) in message and "\n" not in message
    assert "Traceback" not in message and "SELECT" not in message and "PRAGMA" not in message


def test_memory_store_is_independent_per_instance() -> None:
    first, second = MemoryStore(), MemoryStore()
    first.set_state("run-1", {"x": 1})
    assert second.get_state("run-1") == {}


# --- annotations ------------------------------------------------------------------------------


def test_annotations_upsert_read_list_and_delete(store: RunStore) -> None:
    store.set_annotation("run-a", "slack:post:1", {"channel": "C1", "ts": "1.1"})
    store.set_annotation("run-b", "slack:post:2", {"channel": "C2", "ts": "2.2"})
    store.set_annotation("run-a", "other", 7)
    store.set_annotation("run-a", "slack:post:1", {"channel": "C1", "ts": "1.9"})
    assert store.get_annotation("run-a", "slack:post:1") == {"channel": "C1", "ts": "1.9"}
    assert store.get_annotation("run-a", "missing") is None
    assert store.list_annotations("slack:post:") == [
        ("run-a", "slack:post:1", {"channel": "C1", "ts": "1.9"}),
        ("run-b", "slack:post:2", {"channel": "C2", "ts": "2.2"}),
    ]
    assert store.list_annotations("slack:", run_id="run-b") == [
        ("run-b", "slack:post:2", {"channel": "C2", "ts": "2.2"})
    ]
    store.delete_annotation("run-a", "slack:post:1")
    assert store.get_annotation("run-a", "slack:post:1") is None
    assert [key for _, key, _ in store.list_annotations("")] == ["slack:post:2", "other"]


def test_claim_annotation_has_one_winner_among_threads(store: RunStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        wins = list(pool.map(lambda n: store.claim_annotation("r", "once", n), range(16)))
    assert wins.count(True) == 1
    assert store.get_annotation("r", "once") == wins.index(True)


# --- deliveries -------------------------------------------------------------------------------


def test_a_delivery_is_claimed_once_until_forgotten(store: RunStore) -> None:
    assert store.claim_delivery("trigger:1.2.abc", T0)
    assert not store.claim_delivery("trigger:1.2.abc", T0 + timedelta(minutes=1))
    assert store.claim_delivery("event:Ev01", T0 + timedelta(minutes=10))
    # Only what was seen before the cutoff is forgotten (and can be claimed again).
    assert store.forget_deliveries(T0 + timedelta(minutes=5)) == 1
    assert store.claim_delivery("trigger:1.2.abc", T0 + timedelta(minutes=11))
    assert not store.claim_delivery("event:Ev01", T0 + timedelta(minutes=11))
    assert store.forget_deliveries(T0) == 0


def test_forget_deliveries_compares_instants_across_time_zones(store: RunStore) -> None:
    paris = timezone(timedelta(hours=2))
    store.claim_delivery("k", datetime(2024, 5, 1, 14, 0, tzinfo=paris))  # 12:00 UTC
    assert store.forget_deliveries(datetime(2024, 5, 1, 11, 59, tzinfo=UTC)) == 0
    assert store.forget_deliveries(datetime(2024, 5, 1, 12, 1, tzinfo=UTC)) == 1


def test_claim_delivery_has_one_winner_among_threads(store: RunStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        wins = list(pool.map(lambda _: store.claim_delivery("sig:v0=abc", T0), range(16)))
    assert wins.count(True) == 1


def test_claimed_deliveries_persist_across_instances(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as first:
        assert first.claim_delivery("trigger:9", T0)
    with SqlStore(sqlite_url) as second:  # a restart, or another replica
        assert not second.claim_delivery("trigger:9", T0)


def test_a_claimed_delivery_keeps_its_work_until_finished(store: RunStore) -> None:
    body = {"type": "block_actions", "user": {"id": "U0BOB0001"}, "text": "ünïcode"}
    assert store.claim_delivery("trigger:1", T0, owner="p1", body=body)
    assert store.claim_delivery("trigger:2", T0 + timedelta(seconds=1), owner="p1", body={})
    assert store.claim_delivery("event:3", T0)  # nothing to redo: never unfinished
    assert store.unfinished_deliveries() == [("trigger:1", "p1", body), ("trigger:2", "p1", {})]
    store.finish_delivery("trigger:1")
    assert store.unfinished_deliveries() == [("trigger:2", "p1", {})]
    assert not store.claim_delivery("trigger:1", T0, owner="p2", body=body)  # still claimed


def test_an_unfinished_delivery_is_taken_over_once(store: RunStore) -> None:
    store.claim_delivery("trigger:1", T0, owner="dead", body={"n": 1})
    with ThreadPoolExecutor(max_workers=8) as pool:
        takes = list(
            pool.map(lambda n: store.take_delivery("trigger:1", "dead", f"p{n}"), range(8))
        )
    assert takes.count(True) == 1
    [(_, owner, _)] = store.unfinished_deliveries()
    assert owner == f"p{takes.index(True)}"
    assert not store.take_delivery("trigger:1", "dead", "late")
    store.finish_delivery("trigger:1")
    assert not store.take_delivery("trigger:1", owner, "late")  # done: nothing to take


def test_unfinished_deliveries_survive_a_restart(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as first:
        first.claim_delivery("trigger:9", T0, owner="p1", body={"command": "/procedure"})
    with SqlStore(sqlite_url) as second:
        assert second.unfinished_deliveries() == [("trigger:9", "p1", {"command": "/procedure"})]


def test_delete_annotation_if_spares_a_value_replaced_meanwhile(store: RunStore) -> None:
    sent = {"text": "Waiting", "blocks": [{"type": "divider"}], "at": 1.5}
    store.set_annotation("r", "outbox:update:run", sent)
    store.set_annotation("r", "outbox:update:run", {**sent, "text": "Done"})  # a newer one
    assert store.delete_annotation_if("r", "outbox:update:run", sent) is False
    assert store.get_annotation("r", "outbox:update:run")["text"] == "Done"
    assert store.delete_annotation_if("r", "outbox:update:run", {**sent, "text": "Done"})
    assert store.get_annotation("r", "outbox:update:run") is None
    assert store.delete_annotation_if("r", "outbox:update:run", sent) is False  # gone


def test_delete_annotation_if_has_one_winner_among_threads(store: RunStore) -> None:
    store.set_annotation("r", "lease", {"owner": "dead", "at": 0})
    with ThreadPoolExecutor(max_workers=8) as pool:
        deleted = list(
            pool.map(
                lambda _: store.delete_annotation_if("r", "lease", {"owner": "dead", "at": 0}),
                range(16),
            )
        )
    assert deleted.count(True) == 1 and store.get_annotation("r", "lease") is None


# --- the run journal --------------------------------------------------------------------------


def _journal(store: RunStore, after: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.run_id, e.kind, e.data) for e in store.read_journal(after)]


def test_a_runs_life_is_journaled_in_order(store: RunStore) -> None:
    run = run_record(created_at=T0)
    store.create_run(run)
    waiting = run.model_copy(
        update={"status": RunStatus.WAITING_FOR_HUMAN, "waiting_on_message_id": "r:pos1"}
    )
    log_line = RunEvent(run_id="run-1", seq=1, kind="log", payload={"message": "quiet"})
    store.commit_execution(
        waiting,
        log_entries=[],
        state={},
        events=[event(0, message="deploying"), log_line],
        requests=[pending("r:pos1", position=1)],
    )
    response = HITLResponse(value=True, responder="U0BOB0001", responded_at=T0)
    assert store.record_response("r:pos1", response)
    assert not store.record_response("r:pos1", response)  # the loser journals nothing
    done = run.model_copy(update={"status": RunStatus.COMPLETED, "result": {"ok": True}})
    store.commit_execution(done, log_entries=[], state=None, events=[], requests=[])

    journal = _journal(store)
    assert [kind for _, kind, _ in journal] == [
        "started",
        "event",
        "request",
        "status",
        "answered",
        "status",
    ]
    assert {run_id for run_id, _, _ in journal} == {"run-1"}
    assert journal[0][2]["procedure_id"] == "deploy"
    assert journal[1][2] == {"seq": 0, "kind": "notify", "payload": {"message": "deploying"}}
    assert journal[2][2]["request_id"] == "r:pos1" and journal[2][2]["position"] == 1
    assert journal[3][2]["status"] == "WAITING_FOR_HUMAN"
    assert journal[3][2]["waiting_on_message_id"] == "r:pos1"
    assert journal[4][2]["response"]["responder"] == "U0BOB0001"
    assert journal[5][2] == {
        "status": "COMPLETED",
        "waiting_on_message_id": None,
        "result": {"ok": True},
        "error": None,
    }


def test_journal_ids_grow_and_can_be_read_after_a_cursor_and_forgotten(store: RunStore) -> None:
    for n in range(5):
        store.create_run(run_record(f"run-{n}"))
    entries = store.read_journal(0)
    ids = [e.id for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [e.run_id for e in store.read_journal(ids[1], limit=2)] == ["run-2", "run-3"]
    assert store.forget_journal(ids[2]) == 3
    assert [e.run_id for e in store.read_journal(0)] == ["run-3", "run-4"]
    store.create_run(run_record("run-5"))
    assert store.read_journal(0)[-1].id > ids[-1]  # never reused, even after forgetting


def test_a_cancelled_request_is_journaled_once(store: RunStore) -> None:
    store.create_run(run_record())
    commit(store, run_record(), requests=[pending("r:pos0")])
    assert store.cancel_request("r:pos0")
    assert not store.cancel_request("r:pos0")
    assert [k for _, k, d in _journal(store) if k == "cancelled"] == ["cancelled"]


def test_journal_entries_from_two_instances_share_one_order(sqlite_url: str) -> None:
    with SqlStore(sqlite_url) as first, SqlStore(sqlite_url) as second:
        first.create_run(run_record("a"))
        second.create_run(run_record("b"))
        first.create_run(run_record("c"))
        assert [e.run_id for e in second.read_journal(0)] == ["a", "b", "c"]
