"""`PlexusChatRecorder` and `PlexusChatAdapter` against devplexus: Plexus's recorder rules.

The tests are coroutines, as the runtime's ChatRecorder protocol is: the adapter's methods
are awaited on the test's event loop and do their I/O on the client's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from adapters.plexus import (
    PlexusChatAdapter,
    PlexusChatRecorder,
    PlexusClient,
    PlexusNotFoundError,
    PlexusStorageAdapter,
)
from adapters.plexus.chat import MAX_CONTENT_BYTES, TRUNCATED
from runtime.models import ChatMessage, MessageClassification
from runtime.protocols import ChatRecorder
from tests.adapters.plexus.conftest import PlexusControl, graphql


def adapter(client: PlexusClient, procedure_id: str) -> PlexusChatAdapter:
    return PlexusChatAdapter(PlexusChatRecorder(client, procedure_id))


async def messages(plexus: PlexusControl, session_id: str) -> list[dict[str, Any]]:
    return await asyncio.to_thread(plexus.records, "ChatMessage", sessionId=session_id)


async def set_waiting(client: PlexusClient, procedure_id: str, status: str, message: str) -> None:
    storage = PlexusStorageAdapter(client, procedure_id)
    await asyncio.to_thread(storage.update_procedure_status, procedure_id, status, message)


async def test_implements_the_chat_recorder_protocol(client, procedure_id) -> None:
    assert isinstance(adapter(client, procedure_id), ChatRecorder)


# -- sessions ---------------------------------------------------------------------------------


async def test_a_first_session_is_created_active_in_the_procedure_account(
    client, plexus, procedure_id
) -> None:
    chat = adapter(client, procedure_id)

    session_id = await chat.start_session()

    session = await asyncio.to_thread(plexus.record, "ChatSession", session_id)
    assert session["status"] == "ACTIVE"
    assert session["procedureId"] == procedure_id
    assert session["accountId"] == plexus.account_id
    assert session["category"] == "Console"
    assert await chat.start_session() == session_id
    assert plexus.calls()["CreateChatSession"] == 1


@pytest.mark.parametrize("key", ["chat_session_id", "session_id", "sessionId"])
async def test_a_session_named_in_the_context_is_reused_and_numbering_goes_on(
    client, plexus, procedure_id, key
) -> None:
    first = adapter(client, procedure_id)
    session_id = await first.start_session()
    for text in ["one", "two", "three"]:
        await first.record_message(ChatMessage(role="ASSISTANT", content=text))

    again = adapter(client, procedure_id)
    assert await again.start_session({key: session_id}) == session_id
    await again.record_message(ChatMessage(role="ASSISTANT", content="four"))

    rows = await messages(plexus, session_id)
    assert [(r["content"], r["sequenceNumber"]) for r in rows] == [
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("four", 4),
    ]


async def test_the_waiting_message_session_is_reused_only_while_waiting_for_a_human(
    client, plexus, procedure_id
) -> None:
    first = adapter(client, procedure_id)
    session_id = await first.start_session()
    message_id = await first.record_message(ChatMessage(role="ASSISTANT", content="Deploy?"))

    await set_waiting(client, procedure_id, "WAITING_FOR_HUMAN", message_id)
    assert await adapter(client, procedure_id).start_session() == session_id

    await set_waiting(client, procedure_id, "RUNNING", message_id)
    assert await adapter(client, procedure_id).start_session() != session_id


async def test_the_session_of_the_task_console_chat_is_reused(client, procedure_id) -> None:
    session_id = await adapter(client, procedure_id).start_session()
    account_id = await client.account_id()
    task = await asyncio.to_thread(
        graphql,
        client,
        "CreateTask",
        "mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { id } }",
        input={
            "accountId": account_id,
            "type": "Procedure",
            "status": "RUNNING",
            "target": f"procedure/{procedure_id}",
            "command": f"procedure run {procedure_id}",
            "metadata": json.dumps({"console_chat": {"session_id": session_id}}),
        },
    )

    reused = await adapter(client, procedure_id).start_session(
        {"task_id": task["createTask"]["id"]}
    )

    assert reused == session_id


async def test_an_unknown_session_is_a_clear_error(client, procedure_id) -> None:
    with pytest.raises(PlexusNotFoundError, match="no ChatSession with id 'gone'"):
        await adapter(client, procedure_id).start_session({"session_id": "gone"})


# -- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "interaction"),
    [
        ("USER", "CHAT"),
        ("ASSISTANT", "CHAT_ASSISTANT"),
        ("SYSTEM", "INTERNAL"),
        ("TOOL", "INTERNAL"),
    ],
)
async def test_a_message_is_recorded_as_plexus_recorder_writes_it(
    client, plexus, procedure_id, role, interaction
) -> None:
    chat = adapter(client, procedure_id)
    session_id = await chat.start_session()

    message_id = await chat.record_message(ChatMessage(role=role, content="hello"))

    row = await asyncio.to_thread(plexus.record, "ChatMessage", message_id)
    assert row["sessionId"] == session_id
    assert row["procedureId"] == procedure_id
    assert row["accountId"] == plexus.account_id
    assert (row["role"], row["humanInteraction"]) == (role, interaction)
    assert (row["messageType"], row["responseStatus"]) == ("MESSAGE", "COMPLETED")
    assert (row["sequenceNumber"], row["responseTarget"]) == (1, procedure_id)


async def test_tool_calls_classification_and_metadata_are_kept(
    client, plexus, procedure_id
) -> None:
    chat = adapter(client, procedure_id)
    await chat.start_session()
    call = ChatMessage(
        role="ASSISTANT",
        content="restart api-7",
        message_type="TOOL_CALL",
        tool_name="restart",
        tool_parameters={"host": "api-7"},
        tool_response={"ok": True},
        classification=MessageClassification.ALERT_WARNING,
        metadata={"level": "warning"},
    )

    message_id = await chat.record_message(call)

    row = await asyncio.to_thread(plexus.record, "ChatMessage", message_id)
    assert (row["messageType"], row["toolName"]) == ("TOOL_CALL", "restart")
    assert json.loads(row["toolParameters"]) == {"host": "api-7"}
    assert json.loads(row["toolResponse"]) == {"ok": True}
    assert json.loads(row["metadata"]) == {"level": "warning"}
    assert row["humanInteraction"] == "ALERT_WARNING"


async def test_content_is_cut_at_300_kb_on_a_character_boundary(
    client, plexus, procedure_id
) -> None:
    chat = adapter(client, procedure_id)
    await chat.start_session()

    message_id = await chat.record_message(ChatMessage(role="ASSISTANT", content="é" * 200_000))

    content = (await asyncio.to_thread(plexus.record, "ChatMessage", message_id))["content"]
    assert len(content.encode()) <= MAX_CONTENT_BYTES
    assert content.endswith(TRUNCATED)
    assert set(content.removesuffix(TRUNCATED)) == {"é"}


@pytest.mark.parametrize(
    ("message", "refusal"),
    [
        (ChatMessage(role="ROBOT", content="x"), "unknown role 'ROBOT'"),
        (ChatMessage(role="USER", content="x", message_type="EMAIL"), "unknown messageType"),
        (ChatMessage(role="USER", content="x", human_interaction="SHOUT"), "humanInteraction"),
    ],
)
async def test_a_message_plexus_would_refuse_is_refused_here_first(
    client, plexus, procedure_id, message, refusal
) -> None:
    chat = adapter(client, procedure_id)
    await chat.start_session()
    with pytest.raises(ValueError, match=refusal):
        await chat.record_message(message)
    assert "CreateChatMessage" not in plexus.calls()


async def test_recording_with_the_same_id_again_records_once(client, plexus, procedure_id) -> None:
    recorder = PlexusChatRecorder(client, procedure_id)
    session_id = await recorder.start_session()
    for _ in range(2):
        await recorder.record_message("ASSISTANT", "once", message_id="event-1-of-run-9")
    assert [r["content"] for r in await messages(plexus, session_id)] == ["once"]


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        ("COMPLETED", "COMPLETED"),
        ("FAILED", "ERROR"),
        ("FAILURE", "ERROR"),
        ("ERROR", "ERROR"),
        ("ACTIVE", "ACTIVE"),
        ("CANCELLED", "ERROR"),
    ],
)
async def test_end_session_maps_the_run_status_onto_the_session_enum(
    client, plexus, procedure_id, status, stored
) -> None:
    chat = adapter(client, procedure_id)
    session_id = await chat.start_session()

    await chat.end_session(session_id, status)

    assert (await asyncio.to_thread(plexus.record, "ChatSession", session_id))["status"] == stored


async def test_history_holds_every_message_oldest_first(client, plexus, procedure_id) -> None:
    chat = adapter(client, procedure_id)
    session_id = await chat.start_session()
    await chat.record_message(ChatMessage(role="USER", content="deploy api", metadata={"n": 1}))
    await chat.record_message(ChatMessage(role="ASSISTANT", content="on it"))
    await asyncio.to_thread(
        graphql,
        client,
        "CreateChatMessage",
        "mutation CreateChatMessage($input: CreateChatMessageInput!) "
        "{ createChatMessage(input: $input) { id } }",
        input={
            "sessionId": session_id,
            "role": "USER",
            "content": "written by the dashboard",
            "humanInteraction": "CHAT",
            "responseStatus": "PENDING",
        },
    )

    history = await chat.get_session_history(session_id)

    assert [(m.role, m.content, m.human_interaction) for m in history] == [
        ("USER", "deploy api", "CHAT"),
        ("ASSISTANT", "on it", "CHAT_ASSISTANT"),
        ("USER", "written by the dashboard", "CHAT"),
    ]
    assert history[0].metadata == {"n": 1}
