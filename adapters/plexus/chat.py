"""A run's conversation in Plexus: `PlexusChatRecorder` and the seed's `PlexusChatAdapter`.

`PlexusChatRecorder` behaves as Plexus's `ProcedureChatRecorder` does, so a run recorded here
reads in Plexus's dashboard like one of Plexus's own:

- `start_session` picks the session: one named in the context (`chat_session_id`,
  `session_id` or `sessionId`); else, only while the procedure is `WAITING_FOR_HUMAN`, the
  session of the message it waits on; else the `console_chat.session_id` of the Task the
  context names (`task_id`); else a new `ACTIVE` session. Reusing a session carries on its
  sequence numbers.
- `record_message` numbers messages 1, 2, 3... in the session, marks every runtime message
  `responseStatus: COMPLETED` (Plexus's index rules require one), defaults `humanInteraction`
  by role (USER: CHAT, ASSISTANT: CHAT_ASSISTANT, others: INTERNAL) and cuts content at
  300 KB.
- `end_session` maps the runtime's final statuses onto the session's enum: FAILED, FAILURE and
  ERROR are ERROR, ACTIVE and COMPLETED stay, anything else is ERROR.

Unlike Plexus's, every message id is chosen before the first attempt, so a create retried
after a timeout never records a message twice. Every method runs on the client's loop
(`PlexusClient.run`), from whatever loop calls it.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.plexus.client import PlexusClient
from adapters.plexus.errors import PlexusNotFoundError
from adapters.plexus.operations import (
    CREATE_CHAT_MESSAGE,
    CREATE_CHAT_SESSION,
    GET_CHAT_MESSAGE,
    GET_CHAT_SESSION,
    GET_PROCEDURE,
    GET_TASK_METADATA,
    LATEST_SEQUENCE_NUMBER,
    LIST_SESSION_MESSAGES,
    UPDATE_CHAT_SESSION,
)
from adapters.plexus.retry import RetryPolicy
from runtime.models import ChatMessage, MessageClassification

ROLES = ("USER", "ASSISTANT", "SYSTEM", "TOOL")
MESSAGE_TYPES = ("MESSAGE", "TOOL_CALL", "TOOL_RESPONSE")
_DEFAULT_INTERACTION = {"USER": "CHAT", "ASSISTANT": "CHAT_ASSISTANT"}
# Tactus's legacy lowercase names for a message's kind.
_LEGACY_INTERACTIONS = {
    "approval": "PENDING_APPROVAL",
    "input": "PENDING_INPUT",
    "review": "PENDING_REVIEW",
    "escalation": "PENDING_ESCALATION",
    "notification": "NOTIFICATION",
}
_SESSION_STATUS = {"ACTIVE": "ACTIVE", "COMPLETED": "COMPLETED"}
MAX_CONTENT_BYTES = 300 * 1024
TRUNCATED = "\n… [truncated]"
SESSION_ID_KEYS = ("chat_session_id", "session_id", "sessionId")


def session_status(status: str) -> str:
    """The ChatSession status a run's final status becomes."""
    return _SESSION_STATUS.get(str(status).upper(), "ERROR")


def cut_content(content: str) -> str:
    """Content within 300 KB of UTF-8, cut on a character boundary, marked when cut."""
    data = content.encode()
    if len(data) <= MAX_CONTENT_BYTES:
        return content
    keep = MAX_CONTENT_BYTES - len(TRUNCATED.encode())
    return data[:keep].decode(errors="ignore") + TRUNCATED


def interaction_for(role: str, given: str | None) -> str:
    if given is None:
        return _DEFAULT_INTERACTION.get(role, "INTERNAL")
    value = _LEGACY_INTERACTIONS.get(given, given)
    if value not in MessageClassification.__members__:
        known = ", ".join(MessageClassification.__members__)
        raise ValueError(f"unknown humanInteraction {given!r} (expected one of: {known})")
    return value


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    folded = str(value).upper()
    if folded not in allowed:
        raise ValueError(f"unknown {what} {value!r} (expected one of: {', '.join(allowed)})")
    return folded


def _json_field(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class PlexusChatRecorder:
    """Plexus's `ProcedureChatRecorder`: one procedure's chat session and its messages."""

    def __init__(
        self,
        client: PlexusClient,
        procedure_id: str,
        *,
        account_id: str | None = None,
        task_id: str | None = None,
        category: str = "Console",
    ) -> None:
        """`account_id` defaults to the procedure's, then to `PLEXUS_ACCOUNT_KEY`'s."""
        self.client = client
        self.procedure_id = procedure_id
        self.account_id = account_id
        self.task_id = task_id
        self.category = category
        self.session_id: str | None = None
        self._sequence = 0

    # -- sessions -----------------------------------------------------------------------------

    async def start_session(
        self, context: dict[str, Any] | None = None, *, procedure: dict[str, Any] | None = None
    ) -> str:
        """The session this recorder writes to, chosen as Plexus's recorder chooses it.
        `procedure` is the Procedure record when the caller has just read it."""
        return await self.client.run(self._start, dict(context or {}), procedure)

    async def _start(self, context: dict[str, Any], procedure: dict[str, Any] | None = None) -> str:
        self.account_id = context.get("account_id") or context.get("accountId") or self.account_id
        explicit = next((context[k] for k in SESSION_ID_KEYS if context.get(k)), None)
        if explicit is not None:
            if str(explicit) == self.session_id:
                return self.session_id
            return await self._adopt(str(explicit))
        if self.session_id is not None:
            return self.session_id
        if procedure is None:
            procedure = await self.client.require_record(
                GET_PROCEDURE, self.procedure_id, "Procedure"
            )
        self.account_id = self.account_id or procedure.get("accountId")
        reused = await self._waiting_session(procedure)
        task_id = context.get("task_id") or context.get("taskId") or self.task_id
        if reused is None and task_id:
            reused = await self._task_session(str(task_id))
        if reused is not None:
            return await self._adopt(str(reused))
        return await self._create(context)

    async def _waiting_session(self, procedure: dict[str, Any]) -> str | None:
        waiting_on = procedure.get("waitingOnMessageId")
        if procedure.get("status") != "WAITING_FOR_HUMAN" or not waiting_on:
            return None
        message = await self.client.get_record(GET_CHAT_MESSAGE, waiting_on)
        return message.get("sessionId") if message else None

    async def _task_session(self, task_id: str) -> str | None:
        task = await self.client.get_record(GET_TASK_METADATA, task_id)
        metadata = _parsed(task.get("metadata")) if task else None
        console = metadata.get("console_chat") if isinstance(metadata, dict) else None
        return console.get("session_id") if isinstance(console, dict) else None

    async def _adopt(self, session_id: str) -> str:
        session = await self.client.get_record(GET_CHAT_SESSION, session_id)
        if session is None:
            raise PlexusNotFoundError(f"Plexus has no ChatSession with id {session_id!r}")
        data = await self.client.execute(LATEST_SEQUENCE_NUMBER, {"sessionId": session_id})
        items = data["listChatMessageBySessionIdAndSequenceNumber"]["items"]
        numbers = [item["sequenceNumber"] for item in items if item and item["sequenceNumber"]]
        self.session_id = session_id
        self.account_id = self.account_id or session.get("accountId")
        self._sequence = max(numbers, default=0)
        return session_id

    async def _create(self, context: dict[str, Any]) -> str:
        account_id = self.account_id or await self.client.account_id()
        if not account_id:
            raise PlexusNotFoundError(
                f"Procedure {self.procedure_id} has no accountId and PLEXUS_ACCOUNT_KEY is not "
                "set: a chat session needs an account"
            )
        values: dict[str, Any] = {
            "accountId": account_id,
            "procedureId": self.procedure_id,
            "category": context.get("category") or self.category,
            "status": "ACTIVE",
        }
        for key, field in (
            ("name", "name"),
            ("scorecard_id", "scorecardId"),
            ("score_id", "scoreId"),
        ):
            if context.get(key):
                values[field] = str(context[key])
        if context.get("metadata") is not None:
            values["metadata"] = json.dumps(context["metadata"])
        session, _ = await self.client.create(CREATE_CHAT_SESSION, GET_CHAT_SESSION, values)
        self.session_id = str(session["id"])
        self.account_id = account_id
        self._sequence = 0
        return self.session_id

    async def end_session(self, session_id: str, status: str = "COMPLETED") -> None:
        variables = {"input": {"id": session_id, "status": session_status(status)}}
        await self.client.execute(UPDATE_CHAT_SESSION, variables, policy=self.client.policies.write)

    # -- messages -----------------------------------------------------------------------------

    async def record_message(
        self,
        role: str,
        content: str,
        message_type: str = "MESSAGE",
        *,
        tool_name: str | None = None,
        tool_parameters: dict[str, Any] | None = None,
        tool_response: dict[str, Any] | None = None,
        parent_message_id: str | None = None,
        human_interaction: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_id: str | None = None,
        created_at: str | None = None,
    ) -> str:
        """Record a message in the session (started on first use); its id. A `message_id`
        chosen by the caller makes recording it again a no-op; `created_at` (AWSDateTime)
        dates a message recorded after the fact at the time it happened."""
        checked_role = _choice(role, ROLES, "role")
        fields: dict[str, Any] = {
            "role": checked_role,
            "content": cut_content(str(content)),
            "messageType": _choice(message_type, MESSAGE_TYPES, "messageType"),
            "humanInteraction": interaction_for(checked_role, human_interaction),
            "responseStatus": "COMPLETED",
        }
        optional = {
            "toolName": tool_name,
            "toolParameters": _json_field(tool_parameters),
            "toolResponse": _json_field(tool_response),
            "metadata": _json_field(metadata),
            "parentMessageId": parent_message_id,
            "createdAt": created_at,
        }
        fields.update({key: value for key, value in optional.items() if value is not None})
        policy = self.client.policies.chat
        row, _ = await self.create_message(fields, message_id=message_id, policy=policy)
        return str(row["id"])

    async def create_message(
        self, fields: dict[str, Any], *, message_id: str | None, policy: RetryPolicy
    ) -> tuple[dict[str, Any], bool]:
        """Create a message in the session with the next sequence number; `(row, created)`.
        For callers that set every field themselves (the HITL adapter's pending requests)."""
        return await self.client.run(self._create_message, fields, message_id, policy)

    async def _create_message(
        self, fields: dict[str, Any], message_id: str | None, policy: RetryPolicy
    ) -> tuple[dict[str, Any], bool]:
        session_id = self.session_id or await self._start({})
        self._sequence += 1
        values = {
            "sessionId": session_id,
            "procedureId": self.procedure_id,
            "sequenceNumber": self._sequence,
            "responseTarget": self.procedure_id,
            **fields,
        }
        if self.account_id:
            values.setdefault("accountId", self.account_id)
        if message_id:
            values["id"] = message_id
        return await self.client.create(
            CREATE_CHAT_MESSAGE, GET_CHAT_MESSAGE, values, policy=policy
        )

    async def get_session_history(self, session_id: str) -> list[ChatMessage]:
        """Every message of the session, oldest first (answers written by the dashboard too)."""
        rows = await self.client.run(
            self.client.pages, LIST_SESSION_MESSAGES, {"sessionId": session_id}
        )
        return [chat_message(row) for row in rows]


def chat_message(row: dict[str, Any]) -> ChatMessage:
    """A ChatMessage row as the runtime's model."""
    metadata = _parsed(row.get("metadata"))
    parameters = _parsed(row.get("toolParameters"))
    response = _parsed(row.get("toolResponse"))
    return ChatMessage(
        role=row.get("role") or "SYSTEM",
        content=row.get("content") or "",
        message_type=row.get("messageType") or "MESSAGE",
        tool_name=row.get("toolName"),
        tool_parameters=parameters if isinstance(parameters, dict) else None,
        tool_response=response if isinstance(response, dict) else None,
        parent_message_id=row.get("parentMessageId"),
        human_interaction=row.get("humanInteraction"),
        metadata=metadata if isinstance(metadata, dict) else None,
    )


class PlexusChatAdapter:
    """The runtime's `ChatRecorder` over a `PlexusChatRecorder` (the seed's adapter): turns the
    pydantic `ChatMessage` into the recorder's keyword arguments."""

    def __init__(self, chat_recorder: PlexusChatRecorder) -> None:
        self.chat_recorder = chat_recorder

    async def start_session(self, context: dict[str, Any] | None = None) -> str:
        """Takes only the context: that is how Tactus's runtime calls it."""
        return await self.chat_recorder.start_session(context)

    async def record_message(self, message: ChatMessage) -> str:
        interaction = message.human_interaction or (
            message.classification.value if message.classification else None
        )
        return await self.chat_recorder.record_message(
            message.role,
            message.content,
            message.message_type,
            tool_name=message.tool_name,
            tool_parameters=message.tool_parameters,
            tool_response=message.tool_response,
            parent_message_id=message.parent_message_id,
            human_interaction=interaction,
            metadata=message.metadata,
        )

    async def end_session(self, session_id: str, status: str = "COMPLETED") -> None:
        """Status FAILED, FAILURE or ERROR ends the session in ERROR; COMPLETED completes it."""
        await self.chat_recorder.end_session(session_id, status)

    async def get_session_history(self, session_id: str) -> list[ChatMessage]:
        return await self.chat_recorder.get_session_history(session_id)
