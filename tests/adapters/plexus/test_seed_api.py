"""The three adapters keep the API of Plexus's `plexus.cli.procedure.tactus_adapters`.

A Plexus team switching to these calls them as it calls Plexus's own: the same classes, the
same parameters in the same order with the same defaults, async exactly where Plexus's are.
Parameters of ours may only follow, with defaults.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from adapters.plexus import PlexusChatAdapter, PlexusHITLAdapter, PlexusStorageAdapter

REQUIRED = inspect.Parameter.empty
# (name, default) of each documented parameter after `self`; True when the method is async.
SEED: dict[type, dict[str, tuple[list[tuple[str, Any]], bool]]] = {
    PlexusChatAdapter: {
        "__init__": ([("chat_recorder", REQUIRED)], False),
        "start_session": ([("context", None)], True),
        "record_message": ([("message", REQUIRED)], True),
        "end_session": ([("session_id", REQUIRED), ("status", "COMPLETED")], True),
        "get_session_history": ([("session_id", REQUIRED)], True),
    },
    PlexusHITLAdapter: {
        "__init__": (
            [
                ("client", REQUIRED),
                ("procedure_id", REQUIRED),
                ("chat_recorder", None),
                ("storage_adapter", None),
            ],
            False,
        ),
        "request_interaction": ([("procedure_id", REQUIRED), ("request", REQUIRED)], False),
        "check_pending_response": ([("procedure_id", REQUIRED), ("message_id", REQUIRED)], False),
        "cancel_pending_request": ([("procedure_id", REQUIRED), ("message_id", REQUIRED)], False),
    },
    PlexusStorageAdapter: {
        "__init__": ([("client", REQUIRED), ("procedure_id", REQUIRED)], False),
        "checkpoint_clear_after": ([("procedure_id", REQUIRED), ("name", REQUIRED)], False),
        "checkpoint_clear_all": ([("procedure_id", REQUIRED)], False),
        "checkpoint_exists": ([("procedure_id", REQUIRED), ("name", REQUIRED)], False),
        "checkpoint_get": ([("procedure_id", REQUIRED), ("name", REQUIRED)], False),
        "checkpoint_save": (
            [("procedure_id", REQUIRED), ("name", REQUIRED), ("result", REQUIRED)],
            False,
        ),
        "get_state": ([("procedure_id", REQUIRED)], False),
        "load_procedure_metadata": ([("procedure_id", REQUIRED)], False),
        "save_procedure_metadata": ([("procedure_id", REQUIRED)], False),  # Plexus: (metadata)
        "set_state": ([("procedure_id", REQUIRED), ("state", REQUIRED)], False),
        "state_clear": ([("procedure_id", REQUIRED)], False),
        "state_delete": ([("procedure_id", REQUIRED), ("key", REQUIRED)], False),
        "state_get": (
            [("procedure_id", REQUIRED), ("key", REQUIRED), ("default", None)],
            False,
        ),
        "state_set": (
            [("procedure_id", REQUIRED), ("key", REQUIRED), ("value", REQUIRED)],
            False,
        ),
        "update_procedure_status": (
            [("procedure_id", REQUIRED), ("status", REQUIRED), ("waiting_on_message_id", None)],
            False,
        ),
    },
}
CASES = [(cls, name) for cls, methods in SEED.items() for name in methods]


@pytest.mark.parametrize(("cls", "name"), CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_a_seed_method_keeps_plexus_signature(cls: type, name: str) -> None:
    documented, is_async = SEED[cls][name]
    method = getattr(cls, name)
    parameters = list(inspect.signature(method).parameters.values())[1:]

    assert [(p.name, p.default) for p in parameters[: len(documented)]] == documented
    for extra in parameters[len(documented) :]:
        assert extra.default is not REQUIRED, f"{name}({extra.name}) must be optional"
    assert inspect.iscoroutinefunction(method) is is_async
