"""`PlexusStorageAdapter` against devplexus: every method of the seed, in Plexus's layout.

What Plexus's dashboard and other writers see is read back through devplexus's control API,
not through the adapter, so a test cannot pass on an adapter that only agrees with itself.
"""

from __future__ import annotations

import inspect
import io
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.session import get_session
from botocore.stub import Stubber

from adapters.plexus import (
    PlexusClient,
    PlexusDataError,
    PlexusError,
    PlexusNotFoundError,
    PlexusStorageAdapter,
    S3BlobReader,
)
from runtime.models import CheckpointEntry, HITLResponse, ProcedureMetadata, SourceLocation
from runtime.protocols import StorageBackend
from tests.adapters.plexus.conftest import PlexusControl, create_procedure, graphql

T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
OTHER_WRITERS = {
    "attribution": {"actorType": "user", "actorKey": "alice", "source": "dashboard"},
    "runtime": {"pid": 4242, "host": "runner-1", "lastHeartbeatAt": "2026-03-14T09:00:00Z"},
    "code_s3_key": "procedures/p-1/code.tac",
}


def entry(position: int, result: Any = None, kind: str = "explicit_checkpoint") -> CheckpointEntry:
    return CheckpointEntry(position=position, type=kind, result=result, run_id="run-1")


def stored_metadata(plexus: PlexusControl, procedure_id: str) -> dict[str, Any]:
    """The metadata as Plexus holds it (an AWSJSON string), decoded."""
    raw = plexus.record("Procedure", procedure_id).get("metadata")
    assert raw is None or isinstance(raw, str), "AWSJSON comes back as a string"
    return json.loads(raw) if raw else {}


@pytest.fixture
def storage(client: PlexusClient, procedure_id: str) -> PlexusStorageAdapter:
    return PlexusStorageAdapter(client, procedure_id)


# -- the protocol -------------------------------------------------------------------------------


def test_implements_the_storage_protocol_with_its_signatures(storage) -> None:
    assert isinstance(storage, StorageBackend)
    names = [n for n in dir(StorageBackend) if not n.startswith("_")]
    assert "checkpoint_clear_after" in names and "state_delete" in names
    for name in names:
        expected = inspect.signature(getattr(StorageBackend, name)).parameters.values()
        actual = inspect.signature(getattr(PlexusStorageAdapter, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in actual] == [
            (p.name, p.kind, p.default) for p in expected
        ], name


# -- metadata and status ------------------------------------------------------------------------


def test_a_new_procedure_loads_empty_with_its_own_status(storage, procedure_id) -> None:
    assert storage.load_procedure_metadata(procedure_id) == ProcedureMetadata(
        procedure_id=procedure_id, status="PENDING"
    )


@pytest.mark.parametrize("shape", ["tactus", "plexus"])
def test_save_writes_plexus_layout_and_loads_back_every_field(
    storage, plexus, procedure_id, shape
) -> None:
    full = CheckpointEntry(
        position=0,
        type="hitl_approval",
        result=HITLResponse(value=True, responded_at=T0, responder="U1").model_dump(mode="json"),
        timestamp=T0,
        duration_ms=0.016,
        input_hash="abc123",
        run_id="run-1",
        source_location=SourceLocation(file="deploy.tac", line=7, function="main"),
        captured_vars={"next_position": 2},
    )
    second = entry(1, {"rows": [1, "é"]})
    metadata = ProcedureMetadata(
        procedure_id=procedure_id,
        execution_log=[second, full],
        replay_index=2,
        state={"env": "prod", "hosts": ["a", "b"]},
        lua_state={"stage": "deploy"},
        status="WAITING_FOR_HUMAN",
        waiting_on_message_id="message-1",
    )

    if shape == "tactus":
        storage.save_procedure_metadata(procedure_id, metadata)
    else:
        storage.save_procedure_metadata(metadata)

    record = plexus.record("Procedure", procedure_id)
    assert (record["status"], record["waitingOnMessageId"]) == ("WAITING_FOR_HUMAN", "message-1")
    stored = stored_metadata(plexus, procedure_id)
    assert stored["state"] == {"env": "prod", "hosts": ["a", "b"]}
    assert stored["lua_state"] == {"stage": "deploy"}
    assert stored["replay_index"] == 2
    assert [e["position"] for e in stored["execution_log"]] == [0, 1]
    loaded = storage.load_procedure_metadata(procedure_id)
    assert loaded == metadata.model_copy(
        update={"execution_log": [full, second], "replay_index": 0}
    )


def test_save_refuses_bad_calls_and_unknown_statuses(storage, plexus, procedure_id) -> None:
    metadata = ProcedureMetadata(procedure_id=procedure_id, state={"k": 1})
    with pytest.raises(TypeError):
        storage.save_procedure_metadata(procedure_id)
    with pytest.raises(TypeError):
        storage.save_procedure_metadata(metadata, metadata)
    with pytest.raises(ValueError, match="unknown procedure status 'DONE'"):
        storage.save_procedure_metadata(metadata.model_copy(update={"status": "DONE"}))
    assert stored_metadata(plexus, procedure_id) == {}


def test_update_procedure_status_sets_and_clears_the_waiting_message(
    storage, plexus, procedure_id
) -> None:
    storage.update_procedure_status(procedure_id, "WAITING_FOR_HUMAN", "message-7")
    record = plexus.record("Procedure", procedure_id)
    assert (record["status"], record["waitingOnMessageId"]) == ("WAITING_FOR_HUMAN", "message-7")

    storage.update_procedure_status(procedure_id, "RUNNING")
    record = plexus.record("Procedure", procedure_id)
    assert record["status"] == "RUNNING" and record.get("waitingOnMessageId") is None
    with pytest.raises(ValueError, match="expected one of"):
        storage.update_procedure_status(procedure_id, "WAITING_FOR_GODOT")
    assert plexus.record("Procedure", procedure_id)["status"] == "RUNNING"


def test_an_unknown_procedure_is_a_clear_error(storage) -> None:
    with pytest.raises(PlexusNotFoundError, match="Plexus has no Procedure with id 'nope'"):
        storage.load_procedure_metadata("nope")
    with pytest.raises(PlexusNotFoundError):
        storage.state_set("nope", "k", 1)


# -- state ----------------------------------------------------------------------------------------


def test_state_methods(storage, procedure_id) -> None:
    assert storage.get_state(procedure_id) == {}
    assert storage.state_get(procedure_id, "missing", default=42) == 42

    storage.set_state(procedure_id, {"a": 1, "b": {"c": [1, 2]}})
    storage.state_set(procedure_id, "d", "ü")
    storage.state_set(procedure_id, "a", None)
    assert storage.get_state(procedure_id) == {"a": None, "b": {"c": [1, 2]}, "d": "ü"}
    assert storage.state_get(procedure_id, "a", default="unused") is None

    storage.state_delete(procedure_id, "b")
    storage.state_delete(procedure_id, "never-there")
    assert storage.get_state(procedure_id) == {"a": None, "d": "ü"}

    storage.state_clear(procedure_id)
    assert storage.get_state(procedure_id) == {}


def test_state_that_is_not_json_is_refused_and_nothing_written(
    storage, plexus, procedure_id
) -> None:
    storage.state_set(procedure_id, "kept", True)
    with pytest.raises(PlexusDataError, match="values must be JSON"):
        storage.state_set(procedure_id, "bad", {1, 2})
    assert storage.get_state(procedure_id) == {"kept": True}


def test_concurrent_writers_lose_no_update(storage, plexus, procedure_id) -> None:
    """Every write is conditional on the record being as read: none undoes another."""

    def write(prefix: str) -> None:
        for n in range(6):
            storage.state_set(procedure_id, f"{prefix}{n}", n)

    threads = [threading.Thread(target=write, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert storage.get_state(procedure_id) == {f"{p}{n}": n for p in "ab" for n in range(6)}


# -- keys of other writers ----------------------------------------------------------------------


WRITES = {
    "save_procedure_metadata": lambda s, p: s.save_procedure_metadata(
        ProcedureMetadata(procedure_id=p, execution_log=[entry(0, 1)], state={"s": 1})
    ),
    "update_procedure_status": lambda s, p: s.update_procedure_status(p, "RUNNING"),
    "set_state": lambda s, p: s.set_state(p, {"x": 1}),
    "state_set": lambda s, p: s.state_set(p, "x", 2),
    "state_delete": lambda s, p: s.state_delete(p, "x"),
    "state_clear": lambda s, p: s.state_clear(p),
    "checkpoint_save": lambda s, p: s.checkpoint_save(p, "fetch", [1]),
    "checkpoint_clear_after": lambda s, p: s.checkpoint_clear_after(p, "pos0"),
    "checkpoint_clear_all": lambda s, p: s.checkpoint_clear_all(p),
}


@pytest.mark.parametrize("method", list(WRITES))
def test_every_write_keeps_the_keys_other_writers_own(client, plexus, method) -> None:
    procedure_id = create_procedure(client, metadata=OTHER_WRITERS)
    storage = PlexusStorageAdapter(client, procedure_id)

    WRITES[method](storage, procedure_id)

    stored = stored_metadata(plexus, procedure_id)
    assert {key: stored[key] for key in OTHER_WRITERS} == OTHER_WRITERS


def test_a_write_racing_another_writer_merges_into_its_change(
    storage, client, plexus, procedure_id
) -> None:
    """Plexus's runner writes its heartbeat between our read and our write."""
    heartbeat = {"runtime": {"pid": 7, "lastHeartbeatAt": "2026-03-14T09:30:00Z"}}
    raced: list[bool] = []

    def edit(metadata: dict[str, Any]) -> None:
        if not raced:
            raced.append(True)
            graphql(
                client,
                "UpdateProcedureTelemetry",
                "mutation UpdateProcedureTelemetry($id: ID!, $metadata: AWSJSON!) "
                "{ updateProcedure(input: {id: $id, metadata: $metadata}) { id } }",
                id=procedure_id,
                metadata=json.dumps(heartbeat),
            )
        metadata["state"] = {"ours": True}

    storage.edit_metadata(procedure_id, edit)

    assert stored_metadata(plexus, procedure_id) == {**heartbeat, "state": {"ours": True}}
    assert plexus.calls()["UpdateProcedureMetadata"] == 2  # the first write met the change


# -- checkpoints ------------------------------------------------------------------------------


def test_named_checkpoints_in_plexus_layout(storage, plexus, procedure_id) -> None:
    assert storage.checkpoint_exists(procedure_id, "fetch") is False
    assert storage.checkpoint_get(procedure_id, "fetch") is None

    storage.checkpoint_save(procedure_id, "fetch", {"rows": [1, 2]})
    storage.checkpoint_save(procedure_id, "nothing", None)
    storage.checkpoint_save(procedure_id, "fetch", {"rows": [3]})

    assert storage.checkpoint_get(procedure_id, "fetch") == {"rows": [3]}
    assert storage.checkpoint_exists(procedure_id, "nothing") is True
    assert storage.checkpoint_get(procedure_id, "nothing") is None
    checkpoints = stored_metadata(plexus, procedure_id)["checkpoints"]
    assert list(checkpoints) == ["nothing", "fetch"]  # saving again makes it the latest
    assert checkpoints["fetch"]["name"] == "fetch"
    assert checkpoints["fetch"]["result"] == {"rows": [3]}
    assert datetime.fromisoformat(checkpoints["fetch"]["completed_at"]).tzinfo is not None


def test_checkpoint_names_address_the_execution_log(storage, procedure_id) -> None:
    storage.save_procedure_metadata(
        ProcedureMetadata(procedure_id=procedure_id, execution_log=[entry(0, "zero"), entry(3, 3)])
    )
    assert storage.checkpoint_get(procedure_id, "pos3") == 3
    assert storage.checkpoint_get(procedure_id, "0") == "zero"
    assert storage.checkpoint_exists(procedure_id, "pos1") is False
    with pytest.raises(ValueError, match="reserved"):
        storage.checkpoint_save(procedure_id, "pos4", "x")


def test_checkpoint_clear_all_keeps_state(storage, procedure_id) -> None:
    storage.save_procedure_metadata(
        ProcedureMetadata(
            procedure_id=procedure_id, execution_log=[entry(0), entry(1)], state={"keep": 1}
        )
    )
    storage.checkpoint_save(procedure_id, "a", 1)

    storage.checkpoint_clear_all(procedure_id)

    assert storage.load_procedure_metadata(procedure_id).execution_log == []
    assert storage.checkpoint_exists(procedure_id, "a") is False
    assert storage.get_state(procedure_id) == {"keep": 1}


def test_checkpoint_clear_after_a_name_or_a_position(storage, procedure_id) -> None:
    for name in ["one", "two", "three", "four"]:
        storage.checkpoint_save(procedure_id, name, name.upper())
    storage.checkpoint_save(procedure_id, "two", "TWO again")
    storage.save_procedure_metadata(
        ProcedureMetadata(procedure_id=procedure_id, execution_log=[entry(p, p) for p in range(4)])
    )

    storage.checkpoint_clear_after(procedure_id, "three")
    storage.checkpoint_clear_after(procedure_id, "pos2")
    storage.checkpoint_clear_after(procedure_id, "unknown")

    exists = {
        n: storage.checkpoint_exists(procedure_id, n) for n in ["one", "two", "three", "four"]
    }
    assert exists == {"one": True, "two": False, "three": False, "four": False}
    positions = [e.position for e in storage.load_procedure_metadata(procedure_id).execution_log]
    assert positions == [0, 1]


# -- values Plexus keeps elsewhere, and metadata we cannot read ------------------------------------


def test_a_value_in_s3_without_a_reader_is_an_error_naming_it(client, plexus) -> None:
    pointer = {"_s3_key": "procedures/p-9/state.json"}
    procedure_id = create_procedure(client, metadata={"state": pointer, **OTHER_WRITERS})
    storage = PlexusStorageAdapter(client, procedure_id)

    with pytest.raises(PlexusDataError, match=r"metadata\.state in S3 \(procedures/p-9/state"):
        storage.get_state(procedure_id)
    with pytest.raises(PlexusDataError):
        storage.state_set(procedure_id, "k", 1)
    assert stored_metadata(plexus, procedure_id)["state"] == pointer  # nothing overwritten


def s3_returning(document: Any) -> Any:
    """A botocore S3 client whose get_object answers `document` once (botocore's Stubber)."""
    s3 = get_session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stubber = Stubber(s3)
    body = json.dumps(document).encode()
    stubber.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "plexus-bucket", "Key": "procedures/p-9/state.json"},
    )
    stubber.activate()
    return s3


def test_a_value_in_s3_is_read_and_written_back_inline(client, plexus) -> None:
    pointer = {"_s3_key": "procedures/p-9/state.json"}
    checkpoints = {"_s3_key": "procedures/p-9/checkpoints.json"}
    procedure_id = create_procedure(client, metadata={"state": pointer, "checkpoints": checkpoints})
    reader = S3BlobReader("plexus-bucket", s3_client=s3_returning({"stage": "build"}))
    storage = PlexusStorageAdapter(client, procedure_id, blobs=reader)

    storage.state_set(procedure_id, "attempts", 2)

    stored = stored_metadata(plexus, procedure_id)
    assert stored["state"] == {"stage": "build", "attempts": 2}
    assert stored["checkpoints"] == checkpoints  # a pointer we did not need stays as it was


@pytest.mark.parametrize("raw", ['"a string"', "[1, 2]"])
def test_metadata_that_is_not_a_json_object_is_never_written_over(client, plexus, raw) -> None:
    procedure_id = create_procedure(client, metadata=raw)
    storage = PlexusStorageAdapter(client, procedure_id)

    with pytest.raises(PlexusDataError, match="not an object; refusing to write over it"):
        storage.state_set(procedure_id, "k", 1)
    assert json.loads(plexus.record("Procedure", procedure_id)["metadata"]) == json.loads(raw)


async def test_blocking_methods_refuse_to_run_on_an_event_loop(storage, procedure_id) -> None:
    with pytest.raises(PlexusError, match="event loop"):
        storage.get_state(procedure_id)
