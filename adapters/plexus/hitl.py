"""`PlexusHITLAdapter`: requests for a person as Plexus `PENDING_*` messages, answers read back.

Plexus's exit-and-resume, without its defects:

- A request is keyed by its position in the run (`{procedure}:{run[:8]}:pos{N}`, from the
  execution context) and its message id is derived from that key. Each `Human.*` call has its
  own message and gets its own answer; asking again (a retry, a resume, a second process)
  finds the message already there and never writes a second one.
- Answers are the `RESPONSE` children of the pending message, followed over every page (Plexus
  filters after `limit`). The first canonical answer that fits the request wins; one that does
  not fit is skipped with a log line saying why, and the request keeps waiting.
- Errors are raised (clearly), never taken for "still waiting".
- Timeouts are applied (`time_out`: the request's default, marked `timed_out`, and the pending
  row marked `TIMED_OUT`), answered and cancelled rows are marked, so nothing stays pending.

The protocol methods are synchronous (the runtime calls them from worker threads) and run the
client's coroutines on the client's own loop; hosts on an event loop use the coroutines
`post_request`, `find_response`, `respond`, `time_out` and `cancel`. A `message_id` may be the
pending message's id or the runtime's request id (ids containing `:` are request ids).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.plexus.chat import PlexusChatAdapter, PlexusChatRecorder, cut_content
from adapters.plexus.client import PlexusClient
from adapters.plexus.control import (
    Answer,
    RequestContext,
    answer_row,
    control_envelope,
    control_of,
    pending_interaction,
    pending_message_id,
    read_answer,
    request_of,
)
from adapters.plexus.errors import PlexusDataError, PlexusError
from adapters.plexus.operations import (
    CREATE_CHAT_MESSAGE,
    GET_CHAT_MESSAGE,
    LIST_RESPONSES,
    UPDATE_CHAT_MESSAGE,
)
from adapters.plexus.storage import PlexusStorageAdapter, write_status
from runtime.answers import normalize_answer, timeout_response
from runtime.errors import AnswerError, HitlbotError, ProcedureWaitingForHuman
from runtime.hitl import RequestCancelledError
from runtime.models import HITLRequest, HITLResponse, PendingRequest, utc_now
from runtime.protocols import StorageBackend

log = logging.getLogger("hitlbot.plexus")

CLOSED = "COMPLETED"  # responseStatus of a pending or answer row that has been dealt with


def _whereabouts(execution_context: Any) -> dict[str, Any]:
    """What the execution context knows of where the call is made (the runtime's own context
    does; the one a worker's call is served with knows only the position)."""
    run = getattr(execution_context, "run", None)
    line = getattr(execution_context, "caller_line", None)
    return {
        "started_at": getattr(run, "created_at", None),
        "source_file": getattr(execution_context, "source_file", None),
        "source_line": (line() or None) if callable(line) else None,
    }


class PlexusHITLAdapter:
    """The runtime's `HITLHandler` over Plexus (the seed's `PlexusHITLAdapter`)."""

    def __init__(
        self,
        client: PlexusClient,
        procedure_id: str,
        chat_recorder: PlexusChatRecorder | PlexusChatAdapter | None = None,
        storage_adapter: StorageBackend | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        update_status: bool = True,
    ) -> None:
        """`procedure_id` is the Plexus Procedure the requests belong to. `chat_recorder` is the
        session pending messages go to (by default one of this adapter's own, chosen as
        Plexus's recorder chooses). `storage_adapter` receives status changes when it is not a
        `PlexusStorageAdapter`; a Plexus one is bypassed for conditional writes.
        `update_status=False` leaves the Procedure's status to a host that writes it with the
        rest of the execution (`PlexusRunner`)."""
        self.client = client
        self.procedure_id = procedure_id
        if isinstance(chat_recorder, PlexusChatAdapter):
            chat_recorder = chat_recorder.chat_recorder
        self.chat_recorder = chat_recorder or PlexusChatRecorder(client, procedure_id)
        self.storage_adapter = storage_adapter
        self.clock = clock
        self.update_status = update_status
        self.failure: PlexusError | None = None
        """The last Plexus error a protocol method met. Plexus being down is the host's trouble,
        not the procedure's: a host that sees it after an execution discards that execution
        (the run stays as it was, to resume later) rather than failing the run with it."""

    def message_id_for(self, request_id: str) -> str:
        """The id of the pending message of the runtime's request `request_id`."""
        return pending_message_id(self.procedure_id, request_id)

    def _message_id(self, message_id: str) -> str:
        return self.message_id_for(message_id) if ":" in message_id else message_id

    # -- the HITLHandler protocol (synchronous) -----------------------------------------------

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        """Return the answer to the request at the context's position, or post the request
        (once) and raise `ProcedureWaitingForHuman` with the runtime's request id."""
        if execution_context is None:
            raise HitlbotError(
                "PlexusHITLAdapter needs the execution context: requests are keyed by position"
            )
        try:
            return self._request(procedure_id, request, execution_context)
        except PlexusError as exc:
            self.failure = exc
            raise

    def _request(
        self, procedure_id: str, request: HITLRequest, execution_context: Any
    ) -> HITLResponse:
        position = execution_context.next_position()
        request_id = execution_context.request_id_at(position)
        message_id = self.message_id_for(request_id)
        context = RequestContext(
            request_id=request_id,
            procedure_id=self.procedure_id,
            procedure_name=procedure_id,
            invocation_id=str(execution_context.run_id),
            position=position,
            created_at=self.clock(),
            **_whereabouts(execution_context),
        )
        # A position the log holds as pending was posted by an earlier execution: look it up.
        # A new one is posted straight away (posting twice finds the first post).
        pending = None
        if getattr(execution_context, "is_replaying", True):
            pending = self.client.call(self.client.get_record, GET_CHAT_MESSAGE, message_id)
        posted = pending is None
        if pending is None:
            pending, posted = self.client.call(self._post, request, context, message_id)
        if not posted:
            if pending.get("humanInteraction") == "CANCELLED":
                raise RequestCancelledError(request_id)
            answer = self.client.call(self._answer_to, pending)
            if answer is not None:
                self.client.call(self._close, pending, answer)
                return answer.response
        execution_context.add_request(position, request)
        if self.update_status:
            self._set_status("WAITING_FOR_HUMAN", message_id)
        raise ProcedureWaitingForHuman(procedure_id, request_id)

    def check_pending_response(self, procedure_id: str, message_id: str) -> HITLResponse | None:
        """The answer to the pending message, or None while there is none. Writes nothing."""
        try:
            return self.client.call(self.find_response, message_id)
        except PlexusError as exc:
            self.failure = exc
            raise

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None:
        """Mark the pending message CANCELLED (unless it was answered) and the procedure no
        longer waiting on it."""
        try:
            self.client.call(self.cancel, message_id)
        except PlexusError as exc:
            self.failure = exc
            raise

    def _set_status(self, status: str, message_id: str) -> None:
        if self.storage_adapter is None or isinstance(self.storage_adapter, PlexusStorageAdapter):
            self.client.call(write_status, self.client, self.procedure_id, status, message_id)
        else:
            self.storage_adapter.update_procedure_status(self.procedure_id, status, message_id)

    # -- coroutines for hosts on an event loop ------------------------------------------------

    async def post_request(self, pending: PendingRequest) -> str:
        """Post a request the runtime recorded in its own store (a host that follows its store
        instead of asking Plexus during executions); the pending message's id. Posting it
        again finds the first post."""
        message_id = self.message_id_for(pending.request_id)
        context = RequestContext(
            request_id=pending.request_id,
            procedure_id=self.procedure_id,
            procedure_name=pending.procedure_id,
            invocation_id=pending.run_id,
            position=pending.position,
            created_at=pending.created_at,
        )
        await self.client.run(self._post, pending.request, context, message_id)
        if self.update_status:
            await self.client.run(
                write_status, self.client, self.procedure_id, "WAITING_FOR_HUMAN", message_id
            )
        return message_id

    async def find_response(self, message_id: str) -> HITLResponse | None:
        pending = await self._pending(message_id)
        answer = await self.client.run(self._answer_to, pending)
        return answer.response if answer is not None else None

    async def respond(
        self,
        message_id: str,
        value: Any,
        *,
        responder: str,
        timed_out: bool = False,
        responded_at: datetime | None = None,
    ) -> bool:
        """Answer a pending message as Plexus's dashboard does (a RESPONSE child with the
        `control` envelope). The value is checked against the request first (`AnswerError`).
        False when it was answered or cancelled already: the first answer stands."""
        pending = await self._pending(message_id)
        request = request_of(self._control(pending))
        if not timed_out:
            value = normalize_answer(request, value)
        return await self.client.run(
            self._respond, pending, value, responder, timed_out, responded_at or self.clock()
        )

    async def time_out(self, message_id: str) -> bool:
        """Answer with the request's default, marked `timed_out` (escalations never time out:
        `AnswerError`). False when someone answered first."""
        pending = await self._pending(message_id)
        response = timeout_response(request_of(self._control(pending)))
        return await self.client.run(
            self._respond, pending, response.value, "timeout", True, self.clock()
        )

    async def cancel(self, message_id: str) -> bool:
        """Cancel a request nobody answered; False if it was answered or cancelled already."""
        return await self.client.run(self._cancel, await self._pending(message_id))

    # -- on the client's loop -----------------------------------------------------------------

    async def _pending(self, message_id: str) -> dict[str, Any]:
        return await self.client.run(
            self.client.require_record,
            GET_CHAT_MESSAGE,
            self._message_id(message_id),
            "pending ChatMessage",
        )

    def _control(self, pending: dict[str, Any]) -> dict[str, Any]:
        control = control_of(pending)
        if control is None:
            raise PlexusDataError(
                f"ChatMessage {pending['id']} is not a request for a person: "
                "it has no metadata.control"
            )
        return control

    async def _post(
        self, request: HITLRequest, context: RequestContext, message_id: str
    ) -> tuple[dict[str, Any], bool]:
        """Post the pending message; `(row, posted_now)` (False: it was there already)."""
        fields = {
            "role": "ASSISTANT",
            "content": cut_content(request.message),
            "messageType": "MESSAGE",
            "humanInteraction": pending_interaction(request.request_type),
            "metadata": json.dumps({"control": control_envelope(request, context)}),
            "responseTarget": self.procedure_id,
            "responseStatus": "PENDING",
        }
        return await self.chat_recorder.create_message(
            fields, message_id=message_id, policy=self.client.policies.write
        )

    async def _answer_to(self, pending: dict[str, Any]) -> Answer | None:
        control = self._control(pending)
        request = request_of(control)
        rows = await self.client.pages(LIST_RESPONSES, {"parentMessageId": pending["id"]})
        for row in sorted(rows, key=lambda r: (r.get("createdAt") or "", r["id"])):
            try:
                return read_answer(row, request)
            except AnswerError as exc:
                log.warning(
                    "Ignoring Plexus answer %s to request %s: %s",
                    row["id"],
                    control.get("request_id"),
                    exc,
                )
        return None

    async def _respond(
        self,
        pending: dict[str, Any],
        value: Any,
        responder: str,
        timed_out: bool,
        responded_at: datetime,
    ) -> bool:
        if pending.get("humanInteraction") == "CANCELLED":
            return False
        if await self._answer_to(pending) is not None:
            return False
        row = answer_row(
            pending, value, responder=responder, responded_at=responded_at, timed_out=timed_out
        )
        _, created = await self.client.create(CREATE_CHAT_MESSAGE, GET_CHAT_MESSAGE, row)
        if created and timed_out:
            marked = {"id": pending["id"], "humanInteraction": "TIMED_OUT"}
            await self._update_message(marked)
        return created

    async def _cancel(self, pending: dict[str, Any]) -> bool:
        if pending.get("humanInteraction") == "CANCELLED":
            return False
        if await self._answer_to(pending) is not None:
            return False
        cancelled = {
            "id": pending["id"],
            "humanInteraction": "CANCELLED",
            "responseStatus": CLOSED,
            "createdAt": pending["createdAt"],  # Plexus's index rule: with responseStatus
        }
        await self._update_message(cancelled)
        await write_status(
            self.client, self.procedure_id, "RUNNING", None, only_if_waiting_on=pending["id"]
        )
        return True

    async def _update_message(self, values: dict[str, Any]) -> None:
        policy = self.client.policies.write
        await self.client.execute(UPDATE_CHAT_MESSAGE, {"input": values}, policy=policy)

    async def _close(self, pending: dict[str, Any], answer: Answer) -> None:
        """Mark the request and its answer dealt with, and the procedure no longer waiting.
        Only bookkeeping: the answer is already in hand, so a failure here is logged, not
        raised (the next reader finds the same answer)."""
        try:
            for row_id, created_at in (
                (pending["id"], pending["createdAt"]),
                (answer.message_id, answer.created_at),
            ):
                closed = {"id": row_id, "responseStatus": CLOSED, "createdAt": created_at}
                await self._update_message(closed)
            if self.update_status:
                await write_status(
                    self.client,
                    self.procedure_id,
                    "RUNNING",
                    None,
                    only_if_waiting_on=pending["id"],
                )
        except PlexusError as exc:
            log.warning("Could not mark Plexus request %s answered: %s", pending["id"], exc)
