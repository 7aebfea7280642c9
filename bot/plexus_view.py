"""Runs mirrored in Plexus: the Plexus view of the run journal.

With `PLEXUS_API_URL` set, every run is also written to Plexus as Plexus's own runner writes
it, so Plexus's dashboard shows it and can answer it: a Procedure (created with the procedure
file as its `code`, or the one the run was started from with `plexus:<id>`), its status and
`waitingOnMessageId` through the whole run, a ChatSession per run, a `PENDING_*` ChatMessage
per request (with the `control` envelope the dashboard needs), a NOTIFICATION or `ALERT_*`
message per notification and alert, the `RESPONSE` of every answer not given in Plexus
(a click in Slack, the CLI, a timeout), `TIMED_OUT` and `CANCELLED` marks, and the result.

The bot's own database stays the source of truth: this view only follows the run journal
(`bot.journal`), so Plexus being slow or down never blocks a click, and what it missed is
written once it is back, in order. Every write is idempotent (ids derived from the run and
the request, or a check before writing), so an entry shown again after a crash writes nothing
twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.plexus import (
    PlexusAuthError,
    PlexusChatRecorder,
    PlexusClient,
    PlexusHITLAdapter,
    PlexusUnavailableError,
)
from adapters.plexus.control import answer_row
from adapters.plexus.hitl import CLOSED
from adapters.plexus.operations import (
    CREATE_CHAT_MESSAGE,
    CREATE_CHAT_SESSION,
    CREATE_PROCEDURE,
    GET_CHAT_MESSAGE,
    GET_CHAT_SESSION,
    GET_PROCEDURE,
    UPDATE_CHAT_MESSAGE,
)
from adapters.plexus.storage import write_status
from bot.blocks import PLEXUS_RESPONDER
from bot.journal import NotNow
from runtime.models import HITLRequest, HITLResponse, JournalEntry, PendingRequest
from runtime.protocols import RunStore

log = logging.getLogger("hitlbot.plexus")

PLEXUS_PROCEDURE = "plexus:procedure"
"""The note of a run started from a Plexus Procedure (`plexus:<id>`): that Procedure's id."""
MAX_CODE_BYTES = 350_000  # Plexus omits `code` at this size and keeps it in S3
CACHED_RUNS = 256

_IDS = uuid.UUID("9c1b6d55-35b1-4f3e-9a44-5a2f1d0c7e21")
_FINAL = ("COMPLETED", "FAILED", "CANCELLED")


def procedure_id_for(run_id: str) -> str:
    """The Plexus Procedure of a run the bot created (the same in every process)."""
    return str(uuid.uuid5(_IDS, f"procedure/{run_id}"))


def session_id_for(run_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"session/{run_id}"))


def event_message_id(run_id: str, seq: int) -> str:
    return str(uuid.uuid5(_IDS, f"event/{run_id}/{seq}"))


def result_message_id(run_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"result/{run_id}"))


@dataclass
class _InPlexus:
    """Where one run lives in Plexus, and the adapters that write there."""

    procedure_id: str
    recorder: PlexusChatRecorder
    hitl: PlexusHITLAdapter


class PlexusView:
    """The journal's view in Plexus (`bot.journal.View`)."""

    name = "plexus"

    def __init__(
        self,
        client: PlexusClient,
        store: RunStore,
        *,
        procedure_text: Callable[[str | None], str | None],
        procedure_name: Callable[[str], str],
    ) -> None:
        """`procedure_text(source_path)` is a procedure file's text (its Plexus `code`), and
        `procedure_name(procedure_id)` its display name."""
        self.client = client
        self.store = store
        self._text = procedure_text
        self._name = procedure_name
        self._runs: OrderedDict[str, _InPlexus] = OrderedDict()

    async def show(self, entry: JournalEntry) -> None:
        try:
            await getattr(self, f"_{entry.kind}")(entry)
        except (PlexusUnavailableError, PlexusAuthError) as exc:
            raise NotNow(str(exc)) from None

    # -- entries ------------------------------------------------------------------------------

    async def _started(self, entry: JournalEntry) -> None:
        data = entry.data
        run = await self._run(entry.run_id, data)
        if run.procedure_id != procedure_id_for(entry.run_id):  # a Plexus procedure's run
            await write_status(self.client, run.procedure_id, "RUNNING", None)

    async def _event(self, entry: JournalEntry) -> None:
        data, payload = entry.data, entry.data.get("payload") or {}
        level = str(payload.get("level") or "info").upper()
        if data.get("kind") == "alert":
            interaction = f"ALERT_{level if level in ('WARNING', 'ERROR', 'CRITICAL') else 'INFO'}"
        else:
            interaction = "NOTIFICATION"
        content = payload.get("content") or payload.get("message") or ""
        run = await self._run(entry.run_id)
        await run.recorder.record_message(
            "ASSISTANT",
            str(content),
            human_interaction=interaction,
            metadata={"level": payload.get("level"), "details": payload.get("details")},
            message_id=event_message_id(entry.run_id, int(data.get("seq") or 0)),
            created_at=_aws_time(entry.created_at),
        )

    async def _request(self, entry: JournalEntry) -> None:
        data = entry.data
        pending = PendingRequest(
            request_id=str(data["request_id"]),
            run_id=entry.run_id,
            procedure_id=str(data["request_id"]).split(":", 1)[0],
            position=int(data.get("position") or 0),
            request=HITLRequest.model_validate(data["request"]),
            created_at=entry.created_at,
        )
        run = await self._run(entry.run_id)
        await run.hitl.post_request(pending)

    async def _answered(self, entry: JournalEntry) -> None:
        """The answer row of an answer given outside Plexus, as the dashboard writes one (with
        an id of its own, so writing it again changes nothing), even when a dashboard answer
        came too late to count (that one is marked so by `bot.plexus_answers`)."""
        response = HITLResponse.model_validate(entry.data["response"])
        if (response.responder or "").startswith(PLEXUS_RESPONDER):
            return  # given in Plexus: its answer row is there already
        run = await self._run(entry.run_id)
        message_id = run.hitl.message_id_for(str(entry.data["request_id"]))
        pending = await self.client.require_record(GET_CHAT_MESSAGE, message_id, "ChatMessage")
        row = answer_row(
            pending,
            response.value,
            responder=response.responder or "timeout",
            responded_at=response.responded_at,
            timed_out=response.timed_out,
        )
        row["responseStatus"] = CLOSED  # already taken: not for anyone's answer feed
        await self.client.create(CREATE_CHAT_MESSAGE, GET_CHAT_MESSAGE, row)
        closed = {"id": pending["id"], "responseStatus": CLOSED, "createdAt": pending["createdAt"]}
        if response.timed_out:
            closed["humanInteraction"] = "TIMED_OUT"
        await self.client.execute(
            UPDATE_CHAT_MESSAGE, {"input": closed}, policy=self.client.policies.write
        )

    async def _cancelled(self, entry: JournalEntry) -> None:
        run = await self._run(entry.run_id)
        await run.hitl.cancel(run.hitl.message_id_for(str(entry.data["request_id"])))

    async def _status(self, entry: JournalEntry) -> None:
        data, run = entry.data, await self._run(entry.run_id)
        status = str(data["status"])
        waiting = data.get("waiting_on_message_id")
        message_id = run.hitl.message_id_for(str(waiting)) if waiting else None
        await write_status(self.client, run.procedure_id, status, message_id)
        if status not in _FINAL:
            return
        outcome = {"status": status, "result": data.get("result"), "error": data.get("error")}
        await run.recorder.record_message(
            "ASSISTANT",
            _outcome_text(outcome),
            human_interaction="ALERT_ERROR" if status == "FAILED" else "NOTIFICATION",
            metadata={"hitlbot": outcome},
            message_id=result_message_id(entry.run_id),
            created_at=_aws_time(entry.created_at),
        )
        await run.recorder.end_session(session_id_for(entry.run_id), status)

    # -- where a run lives ----------------------------------------------------------------------

    async def _linked(self, run_id: str) -> str | None:
        return await asyncio.to_thread(self.store.get_annotation, run_id, PLEXUS_PROCEDURE)

    async def _run(self, run_id: str, started: dict[str, Any] | None = None) -> _InPlexus:
        """Where the run lives in Plexus, its Procedure and session created when they are not
        there yet (by its `started` entry, or by any later one that finds them missing)."""
        found = self._runs.get(run_id)
        if found is not None:
            self._runs.move_to_end(run_id)
            return found
        linked = await self._linked(run_id)
        procedure_id = linked or procedure_id_for(run_id)
        account_id = await self.client.account_id()
        if linked is None:
            await self._create_procedure(run_id, procedure_id, account_id, started)
        session = {
            "id": session_id_for(run_id),
            "accountId": account_id,
            "procedureId": procedure_id,
            "name": f"run {run_id[:8]}",
            "category": "Console",
            "status": "ACTIVE",
        }
        await self.client.create(
            CREATE_CHAT_SESSION, GET_CHAT_SESSION, {k: v for k, v in session.items() if v}
        )
        recorder = PlexusChatRecorder(self.client, procedure_id, account_id=account_id)
        await recorder.start_session({"session_id": session["id"]})
        hitl = PlexusHITLAdapter(self.client, procedure_id, chat_recorder=recorder)
        found = self._runs[run_id] = _InPlexus(procedure_id, recorder, hitl)
        while len(self._runs) > CACHED_RUNS:
            self._runs.popitem(last=False)
        return found

    async def _create_procedure(
        self, run_id: str, procedure_id: str, account_id: str | None, started: dict[str, Any] | None
    ) -> None:
        """The run's own Procedure (a create that finds it there already changes nothing)."""
        if started is None:  # a later entry: what the run is comes from the store
            run = await asyncio.to_thread(self.store.get_run, run_id)
            started = (
                {"procedure_id": run.procedure_id, "source_path": run.source_path} if run else {}
            )
        values = {
            "id": procedure_id,
            "name": self._name(str(started.get("procedure_id") or "procedure")),
            "accountId": account_id,
            "status": "RUNNING",
            "code": await asyncio.to_thread(self._code, started.get("source_path")),
            "metadata": json.dumps({"hitlbot": {"run_id": run_id}}),
        }
        await self.client.create(
            CREATE_PROCEDURE, GET_PROCEDURE, {k: v for k, v in values.items() if v}
        )

    def _code(self, source_path: Any) -> str | None:
        text = self._text(str(source_path)) if source_path else None
        return text if text and len(text.encode()) < MAX_CODE_BYTES else None


def _aws_time(moment: datetime) -> str:
    """AWSDateTime: ISO-8601 in UTC with a `Z`."""
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


def _outcome_text(outcome: dict[str, Any]) -> str:
    if outcome["status"] == "COMPLETED":
        return "Completed: " + json.dumps(outcome["result"], ensure_ascii=False, default=str)
    if outcome["status"] == "FAILED":
        return f"Failed: {outcome['error']}"
    return f"Cancelled: {outcome['error'] or 'no reason given'}"
