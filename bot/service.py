"""The orchestration of runs in Slack: the only place that calls the engine.

Every listener acks first and hands its work here. A run's message is posted once, in the channel
where it was started (or the procedure's channel); everything the run produces goes into that
message's thread: notifications, requests, the result. An answer is recorded exactly once by the
engine's compare-and-set, the request's message is replaced by its outcome, and the run resumes
at once. Posts are idempotent per key (SlackIO), so a retried delivery, a second replica or a
restart never posts twice, and a per-run lock keeps one process from resuming a run twice at the
same time.

A process can die between changing a run and showing the change in Slack (or in the middle of
executing it). While it works on a run it keeps an `UNSYNCED` note on it, under its own process
id; `recover()` finishes what a dead process (per `bot.liveness`) left noted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot import blocks, home
from bot.approvers import Approvers
from bot.catalog import ProcedureCatalog
from bot.liveness import Liveness
from bot.slack_io import PostRef, SlackIO, SlackPermanentError
from runtime.answers import normalize_answer
from runtime.engine import AlreadyAnsweredError, Engine, RunOutcome, UnknownRequestError
from runtime.errors import AnswerError, HitlbotError, ParamError
from runtime.models import PendingRequest, RunEvent, RunRecord, RunStatus
from runtime.procedure import Procedure
from runtime.protocols import RunStore

log = logging.getLogger("hitlbot")

Notify = Callable[[str], Awaitable[None]]
"""Tell the person who acted something only they should see (an ephemeral message)."""

THREAD_KEY = "run"  # the post key of the run's own message, the parent of its thread
POSTED_KINDS = ("notify", "alert")
RUNNING_NOTICE_AFTER = 0.5  # seconds a resume may work before the run message says "Running"
CHANNEL = "slack:channel"
"""The note of the channel a run posts in."""
PLEXUS_CODE = "plexus:code"
"""The note of a run started from a procedure kept in Plexus: the YAML it started with."""
UNSYNCED = "slack:unsynced"
"""The note a process keeps on a run from before it changes the run until Slack shows it."""
MAX_EXECUTIONS = 3
"""Times one execution of a run is tried when it keeps being cut off (the first and two more):
a run whose execution stops the bot every time must fail, not be retried forever."""
MAX_RECOVERIES = 3
"""Failed attempts to finish a run's half-done work before it is left alone (and logged)."""


class RunService:
    def __init__(
        self,
        *,
        engine: Engine,
        store: RunStore,
        catalog: ProcedureCatalog,
        slack: SlackIO,
        approvers: Approvers,
        escalation_mention: str = "here",
        schedule: Callable[[PendingRequest], None] | None = None,
        unschedule: Callable[[str], None] | None = None,
        liveness: Liveness | None = None,
        lua_workers: int = 4,
    ) -> None:
        """Procedures execute in the engine's worker processes; `lua_workers` threads wait on
        them, apart from the threads that do the store's I/O: however many runs are busy in
        Lua, answers are still recorded and Slack is still served."""
        self.engine = engine
        self.store = store
        self.catalog = catalog
        self.slack = slack
        self.approvers = approvers
        self.escalation_mention = escalation_mention
        self.schedule = schedule or (lambda pending: None)
        self.unschedule = unschedule or (lambda request_id: None)
        self.changed: Callable[[], None] = lambda: None
        """Told after a run changed (executed, answered, cancelled): the run journal's
        followers look at once instead of at their next tick."""
        self.liveness = liveness or Liveness(store)
        self._locks: dict[str, asyncio.Lock] = {}
        self._active: set[str] = set()  # runs this process is working on right now
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lua = ThreadPoolExecutor(max_workers=lua_workers, thread_name_prefix="lua")

    # -- background work ------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[Any]:
        """Run work after the ack; keep a reference (the loop keeps only weak ones) and log
        failures in one line, without a traceback for errors a user caused."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            error = finished.exception()
            if isinstance(error, HitlbotError):
                log.warning("%s: %s", what, error)
            elif error is not None:
                log.error("%s failed", what, exc_info=error)

        task.add_done_callback(done)
        return task

    async def idle(self) -> None:
        """Wait until all background work has finished (tests and graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Let the Lua threads go (after `idle`: nothing is executing any more)."""
        self._lua.shutdown(wait=False)

    async def _in_lua(self, fn: Callable[..., RunOutcome], *args: Any, **kwargs: Any) -> RunOutcome:
        """Execute a procedure (a thread of ours waits on the worker process doing it)."""
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._lua, call)

    # -- starting runs ----------------------------------------------------------------------------

    async def start_run(
        self,
        procedure: Procedure,
        raw_params: dict[str, Any],
        *,
        user: str,
        channel: str,
        from_strings: bool = True,
        run_id: str | None = None,
        notes: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Create the run (params checked by the engine), post its message, go on from there.

        `run_id`, chosen when the request was taken on, makes doing the request again after a
        crash safe: a run of that id that exists already is the one it started. `notes` are
        written on the run before it exists (where a Plexus procedure's code came from).
        """
        if run_id is not None:
            started = await asyncio.to_thread(self.store.get_run, run_id)
            if started is not None:  # recovery (its note) finishes what Slack lacks of it
                return started
        target = str(procedure.config.get("channel") or channel)

        # Noted before the run exists: a crash at any point leaves a note recovery acts on
        # (a note of a run never created is simply dropped).
        run_id = await asyncio.to_thread(self.engine.new_run_id, run_id)
        self._active.add(run_id)
        try:
            await asyncio.to_thread(self._note_new_run, run_id, target, notes or {})
            try:
                outcome = await self._in_lua(
                    self.engine.start,
                    procedure,
                    raw_params,
                    started_by=user,
                    params_from_strings=from_strings,
                    run_id=run_id,
                )
            except ParamError:
                await asyncio.to_thread(self._forget_run, run_id)
                raise
            try:
                await self.handle_outcome(outcome, procedure)
            finally:
                await asyncio.to_thread(self._unmark, run_id)
        finally:  # an execution that failed to commit keeps its note: recovery retries it
            self._active.discard(run_id)
        return outcome.run

    # -- answering ---------------------------------------------------------------------------------

    async def check_may_answer(self, pending: PendingRequest, user: str) -> str | None:
        """None if `user` may answer; otherwise the sentence to tell them."""
        run = await asyncio.to_thread(self.store.get_run, pending.run_id)
        if run is None:
            return "This request belongs to a run that no longer exists."
        decision = await self.approvers.may_answer(user, pending, run, self._procedure_of(run))
        return None if decision.allowed else decision.text

    async def answer(self, request_id: str, raw: Any, *, user: str, notify: Notify) -> bool:
        """Record `user`'s answer exactly once and resume the run. True if it was recorded."""
        pending = await asyncio.to_thread(self.store.get_request, request_id)
        if pending is None:
            await notify("This request no longer exists.")
            return False
        if pending.response is not None or pending.cancelled:
            await notify(blocks.already_answered_text(pending))
            return False
        refusal = await self.check_may_answer(pending, user)
        if refusal:
            await notify(refusal)
            return False
        try:
            answered = await asyncio.to_thread(self.engine.answer, request_id, raw, responder=user)
        except AlreadyAnsweredError as exc:
            await notify(blocks.already_answered_text(exc.request))
            return False
        except (AnswerError, UnknownRequestError) as exc:
            await notify(f"That answer does not fit: {exc}")
            return False
        await self._settled(answered)
        return True

    async def record_answer(self, request_id: str, raw: Any, *, responder: str) -> bool:
        """Record an answer given outside Slack (in Plexus's dashboard) exactly once, then show
        it and resume the run, as a click does. Its source vouches for who answered; nobody
        in Slack is told anything. True if it was recorded."""
        try:
            answered = await asyncio.to_thread(
                self.engine.answer, request_id, raw, responder=responder
            )
        except (AlreadyAnsweredError, UnknownRequestError):
            return False
        except AnswerError as exc:
            log.warning("an answer to %s from %s does not fit: %s", request_id, responder, exc)
            return False
        await self._settled(answered)
        return True

    async def time_out(self, request_id: str) -> None:
        """Apply the request's default as a timed-out answer (the scheduler calls this)."""
        try:
            answered = await asyncio.to_thread(self.engine.time_out, request_id)
        except (AlreadyAnsweredError, UnknownRequestError, AnswerError):
            return  # answered (or cancelled) in the meantime: nothing to apply
        await self._settled(answered)

    async def _settled(self, answered: PendingRequest, *, executions: int = 1) -> None:
        """After an answer: replace the request's buttons with the outcome, resume the run."""
        self.unschedule(answered.request_id)
        self.changed()
        text, body = blocks.answered_message(answered)
        await self._update(answered.run_id, _request_key(answered.request_id), text, body)
        await self.resume(answered.run_id, executions=executions)

    async def resume(self, run_id: str, *, executions: int = 1) -> None:
        """Execute a run again from its log. `executions` counts the tries of this execution
        (recovery passes more than 1 when earlier tries were cut off)."""
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            self._active.add(run_id)
            try:
                await asyncio.to_thread(self._mark, run_id, executions)
                procedure = await self._procedure_for(run_id)
                work = asyncio.ensure_future(
                    self._in_lua(self.engine.resume, run_id, procedure=procedure)
                )
                done, _ = await asyncio.wait({work}, timeout=RUNNING_NOTICE_AFTER)
                if not done:  # the procedure works a while before its next request: say so
                    await self._show_running(run_id)
                # An execution that raises (its commit failed) keeps its note: recovery
                # tries it again, counted.
                outcome = await work
                try:
                    await self.handle_outcome(outcome, procedure or self._procedure_of(outcome.run))
                finally:
                    await asyncio.to_thread(self._unmark, run_id)
            finally:
                self._active.discard(run_id)
        if outcome.run.status.is_final:
            self._locks.pop(run_id, None)

    async def _show_running(self, run_id: str) -> None:
        run = await asyncio.to_thread(self.store.get_run, run_id)
        if run is not None and not run.status.is_final:
            await self._update_run_message(run.model_copy(update={"status": RunStatus.RUNNING}))

    async def remind(self, request_id: str, number: int) -> None:
        pending = await asyncio.to_thread(self.store.get_request, request_id)
        if pending is None or pending.response is not None or pending.cancelled:
            return
        channel = await self._note(pending.run_id, CHANNEL)
        if channel is None:
            return
        text, body = blocks.reminder_message(pending)
        await self._post_in_thread(
            pending.run_id, f"reminder:{request_id}:{number}", channel, text, body
        )

    async def cancel(self, run_id: str, *, user: str) -> RunRecord:
        run = await asyncio.to_thread(self.engine.get_run, run_id)
        open_requests = await asyncio.to_thread(
            self.store.list_requests, run_id=run.run_id, pending_only=True
        )
        if not run.status.is_final and not await self._may_cancel(run, open_requests, user):
            raise HitlbotError(
                f"Only the person who started run `{run.run_id[:8]}` or whoever may answer "
                "its requests can cancel it."
            )
        run_id = run.run_id
        self._active.add(run_id)
        try:
            await asyncio.to_thread(self._mark, run_id)
            run = await asyncio.to_thread(
                self.engine.cancel, run_id, reason=f"cancelled by <@{user}>"
            )
            self.changed()
            for pending in open_requests:
                self.unschedule(pending.request_id)
            await self._show_settled(run_id, open_requests)
            await self._update_run_message(run)
        finally:
            await asyncio.to_thread(self._unmark, run_id)
            self._active.discard(run_id)
        return run

    async def _show_settled(self, run_id: str, requests: list[PendingRequest]) -> None:
        """Replace the buttons of those of `requests` that are settled by their outcome."""
        for pending in requests:
            settled = await asyncio.to_thread(self.store.get_request, pending.request_id)
            if settled is not None and _is_settled(settled):
                text, body = blocks.answered_message(settled)
                await self._update(run_id, _request_key(pending.request_id), text, body)

    async def _may_cancel(
        self, run: RunRecord, open_requests: list[PendingRequest], user: str
    ) -> bool:
        """The starter may stop their run; so may anyone entitled to answer what it waits on."""
        if user == run.started_by:
            return True
        for pending in open_requests:
            if await self.check_may_answer(pending, user) is None:
                return True
        return False

    # -- making Slack match the store ------------------------------------------------------------

    async def handle_outcome(self, outcome: RunOutcome, procedure: Procedure | None) -> None:
        self.changed()
        await self.sync(outcome.run, procedure, events=outcome.events, pending=outcome.pending)

    async def sync(
        self,
        run: RunRecord,
        procedure: Procedure | None,
        *,
        events: list[RunEvent] | None = None,
        pending: PendingRequest | None = None,
    ) -> None:
        """Post what Slack lacks of a run: its message, events, open request, result.

        Every post is keyed, so syncing again posts nothing twice; after a crash or an outage
        (when the run's own message was still queued) a later sync posts the rest.
        """
        if pending is None and run.status is RunStatus.WAITING_FOR_HUMAN:
            open_requests = await asyncio.to_thread(
                self.store.list_requests, run_id=run.run_id, pending_only=True
            )
            pending = open_requests[-1] if open_requests else None
        channel = await self._ensure_thread(run, procedure, pending)
        if channel is None:
            return
        if events is None:
            events = await asyncio.to_thread(self.store.list_events, run.run_id)
        for event in events:
            if event.kind not in POSTED_KINDS:
                continue
            if event.kind == "notify":
                text, body = blocks.notification_message(
                    event.payload, run_id=run.run_id, seq=event.seq
                )
            else:
                text, body = blocks.alert_message(event.payload)
            await self._post_in_thread(run.run_id, f"event:{event.seq}", channel, text, body)
        if pending is not None:
            await self._post_request(pending, channel)
        if run.status.is_final:
            text, body = blocks.result_message(run)
            await self._post_in_thread(run.run_id, "result", channel, text, body)
        await self._update_run_message(run, pending=pending)

    async def sync_waiting(self) -> None:
        """Sync every waiting run: on start-up and periodically, so nothing stays unposted.

        A run whose request was answered but never resumed (the process died in between, or
        another process recorded the answer) is resumed here: otherwise it would wait forever.
        Runs that a process is working on, or that one left half done, are not touched here:
        the first are that process's, the second `recover()`'s.
        """
        runs = await asyncio.to_thread(
            self.store.list_runs, limit=1000, status=RunStatus.WAITING_FOR_HUMAN
        )
        noted = {run_id for run_id, _, _ in await asyncio.to_thread(self._unsynced)}
        for run in runs:
            if run.run_id in noted:
                continue
            answered = await self._answered_request(run)
            if answered is not None:
                await self._settled(answered)
            else:
                await self.sync(run, self._procedure_of(run))

    # -- finishing what a dead process left half done ---------------------------------------------

    def _mark(self, run_id: str, executions: int = 1) -> None:
        note = {"owner": self.liveness.owner, "executions": executions}
        self.store.set_annotation(run_id, UNSYNCED, note)

    def _unmark(self, run_id: str) -> None:
        self.store.delete_annotation(run_id, UNSYNCED)

    def _note_new_run(self, run_id: str, channel: str, notes: dict[str, Any]) -> None:
        for key, value in {**notes, CHANNEL: channel}.items():
            self.store.set_annotation(run_id, key, value)
        self._mark(run_id)

    def _forget_run(self, run_id: str, note: dict[str, Any] | None = None) -> None:
        """Drop the notes of a run that was never created (its params were refused, or its
        process died first). With the `note` recovery read: only if nobody wrote a newer one
        since (the request that asked for the run may be starting it again right now)."""
        if note is None:
            self._unmark(run_id)
        elif not self.store.delete_annotation_if(run_id, UNSYNCED, note):
            return
        for _, key, _ in self.store.list_annotations("", run_id=run_id):
            self.store.delete_annotation(run_id, key)

    def _unsynced(self) -> list[tuple[str, str, Any]]:
        return self.store.list_annotations(UNSYNCED)

    async def recover(self) -> None:
        """Finish the runs whose process died while working on them (on start-up and
        periodically): execute again one that died mid-execution (its log was not committed,
        so nothing is repeated), resume one whose answer was recorded, and post and update
        what Slack lacks of the rest. Posts are keyed, so nothing already in Slack is doubled.
        """
        for run_id, _, note in await asyncio.to_thread(self._unsynced):
            note = note if isinstance(note, dict) else {}
            if run_id in self._active:
                continue  # this process is on it
            owner = note.get("owner")
            if owner != self.liveness.owner and await asyncio.to_thread(self.liveness.alive, owner):
                continue  # a live process is on it
            try:
                await self._recover(run_id, note)
            except Exception:  # one bad run must not keep the others from recovering
                log.exception("recovering run %s failed", run_id[:8])
                await asyncio.to_thread(self._count_failed_recovery, run_id, note)

    def _count_failed_recovery(self, run_id: str, note: dict[str, Any]) -> None:
        """Try again at the next beat, a few times; then leave the run alone, loudly."""
        failures = int(note.get("failed_recoveries") or 0) + 1
        if failures >= MAX_RECOVERIES:
            log.error("gave up finishing run %s after %d failed attempts", run_id[:8], failures)
            self._unmark(run_id)
        else:
            self.store.set_annotation(run_id, UNSYNCED, {**note, "failed_recoveries": failures})

    async def _recover(self, run_id: str, note: dict[str, Any]) -> None:
        executions = int(note.get("executions") or 1)
        run = await asyncio.to_thread(self.store.get_run, run_id)
        if run is None:  # the process died before creating it (or its params were refused)
            await asyncio.to_thread(self._forget_run, run_id, note)
            return
        log.info("finishing run %s, left half done by a stopped process", run_id[:8])
        answered = None
        if run.status is not RunStatus.RUNNING:
            answered = await self._answered_request(run)
        if (run.status is RunStatus.RUNNING or answered) and executions >= MAX_EXECUTIONS:
            reason = (
                f"its execution was cut off {executions} times (the bot stopped while "
                "executing it), so it is not executed again"
            )
            log.error("run %s failed: %s", run_id[:8], reason)
            run = await asyncio.to_thread(self.engine.fail, run_id, reason)
            requests = await asyncio.to_thread(self.store.list_requests, run_id=run_id)
            await self._show_settled(run_id, requests[-1:])
            await self.sync(run, self._procedure_of(run))
            await asyncio.to_thread(self._unmark, run_id)
        elif run.status is RunStatus.RUNNING:
            await self.resume(run_id, executions=executions + 1)
        elif answered is not None:
            await self._settled(answered, executions=executions + 1)
        else:
            # Only its last request can still show buttons: every earlier one was updated
            # before the run went on from it.
            requests = await asyncio.to_thread(self.store.list_requests, run_id=run_id)
            await self._show_settled(run_id, requests[-1:])
            if run.status is RunStatus.CANCELLED:  # as `cancel` shows it: no result post
                await self._update_run_message(run)
            else:
                await self.sync(run, self._procedure_of(run))
            await asyncio.to_thread(self._unmark, run_id)

    async def _answered_request(self, run: RunRecord) -> PendingRequest | None:
        """The request a waiting run waits on, if it has been answered already."""
        if run.waiting_on_message_id is None:
            return None
        pending = await asyncio.to_thread(self.store.get_request, run.waiting_on_message_id)
        return pending if pending is not None and pending.response is not None else None

    async def _post_request(self, pending: PendingRequest, channel: str) -> None:
        mention = None
        request = pending.request
        if request.request_type == "escalation" and request.metadata.get("severity") in (
            "error",
            "critical",
        ):
            mention = await self._escalation_mention(pending)
        text, body = blocks.request_message(pending, mention=mention)
        await self._post_in_thread(
            pending.run_id, _request_key(pending.request_id), channel, text, body
        )
        self.schedule(pending)

    async def _post_in_thread(
        self, run_id: str, key: str, channel: str, text: str, body: list[dict[str, Any]]
    ) -> None:
        """Post into the run's thread; queued behind the run's message if that is queued."""
        try:
            await self.slack.post(
                key, run_id, channel=channel, thread_key=THREAD_KEY, text=text, blocks=body
            )
        except SlackPermanentError as exc:
            log.error("could not post %s of run %s: %s", key, run_id[:8], exc)

    async def _ensure_thread(
        self, run: RunRecord, procedure: Procedure | None, pending: PendingRequest | None
    ) -> str | None:
        """Post the run's message once, as it is now (so no update has to follow at once);
        return its channel (None if the run has no channel)."""
        channel = await self._note(run.run_id, CHANNEL)
        if channel is None or await self._ref(run.run_id, THREAD_KEY) is not None:
            return channel
        text, body = self._run_message(run, pending, procedure)
        try:
            await self.slack.post(THREAD_KEY, run.run_id, channel=channel, text=text, blocks=body)
        except SlackPermanentError as exc:
            log.error("could not post run %s to %s: %s", run.run_id[:8], channel, exc)
            return None
        await self._set_note(run.run_id, "slack:thread_digest", _digest(text, body))
        return channel

    async def _ref(self, run_id: str, key: str) -> PostRef | None:
        """Where `key` of the run was posted (a store read: off the event loop)."""
        return await asyncio.to_thread(self.slack.ref, run_id, key)

    async def _note(self, run_id: str, key: str) -> Any:
        return await asyncio.to_thread(self.store.get_annotation, run_id, key)

    async def _set_note(self, run_id: str, key: str, value: Any) -> None:
        await asyncio.to_thread(self.store.set_annotation, run_id, key, value)

    async def _update_run_message(
        self, run: RunRecord, *, pending: PendingRequest | None = None
    ) -> None:
        """Show the run as it is now in its message (posted, or still queued)."""
        text, body = self._run_message(run, pending)
        digest = _digest(text, body)
        if await self._note(run.run_id, "slack:thread_digest") == digest:
            return  # unchanged: spare Slack (chat.update is rate limited) the call
        await self._update(run.run_id, THREAD_KEY, text, body)
        await self._set_note(run.run_id, "slack:thread_digest", digest)

    def _run_message(
        self, run: RunRecord, pending: PendingRequest | None, procedure: Procedure | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        waiting_for = blocks.waiting_for_text(pending) if pending is not None else None
        summary = blocks.result_summary(run) if run.status is RunStatus.COMPLETED else None
        name = _name(procedure or self._procedure_of(run), run)
        return blocks.run_message(run, name, waiting_for=waiting_for, summary=summary)

    async def _update(self, run_id: str, key: str, text: str, body: list[dict[str, Any]]) -> None:
        """Replace what a message of the run says. Queued durably before this returns, so it
        reaches Slack whatever its rate limits, an outage or a restart do, and never before
        the message itself; the caller does not wait for Slack."""
        await self.slack.update(run_id, key, text=text, blocks=body)

    async def _escalation_mention(self, pending: PendingRequest) -> str | None:
        """Who an error or critical escalation pages: the call's `responders`, else the
        configured mention (here, channel, a user group handle, user ids, or none)."""
        routing = pending.request.metadata.get("hitlbot") or {}
        responders = routing.get("responders") or self.escalation_mention
        entries = [responders] if isinstance(responders, str) else list(responders)
        mentions: list[str] = []
        for entry in entries:
            if str(entry).strip().lower() == "none":
                continue
            direct = blocks.mention_for(entry)
            found = [direct] if direct else (await self.approvers.resolve([str(entry)])).mentions
            mentions += [m for m in found if m not in mentions]
        return " ".join(mentions) or None

    async def _procedure_for(self, run_id: str) -> Procedure | None:
        """The catalog's (already parsed) copy of a run's procedure file, if it has that file;
        the code a run started from Plexus started with; otherwise None (the engine reads the
        file the run was started from)."""
        run = await asyncio.to_thread(self.store.get_run, run_id)
        if run is None:
            return None
        code = await self._note(run_id, PLEXUS_CODE)
        if isinstance(code, str):
            return await asyncio.to_thread(self.engine.executor.load, run.source_path or "", code)
        procedure = self._procedure_of(run)
        if procedure is None or procedure.source_path != run.source_path:
            return None
        return procedure

    def _procedure_of(self, run: RunRecord) -> Procedure | None:
        try:
            return self.catalog.get(run.procedure_id)
        except HitlbotError:
            return None

    # -- App Home -------------------------------------------------------------------------------

    async def publish_home(self, user: str) -> None:
        pending = await asyncio.to_thread(self.store.list_requests, pending_only=True)
        answerable = []
        for request in pending:
            if await self.check_may_answer(request, user) is None:
                answerable.append(request)
        runs = await asyncio.to_thread(self.store.list_runs, limit=15)
        await self.slack.publish_home(user, home.home_view(answerable, runs, user_id=user))

    # -- helpers for listeners --------------------------------------------------------------------

    async def pending_request(self, request_id: str) -> PendingRequest | None:
        return await asyncio.to_thread(self.store.get_request, request_id)

    def validate_answer(self, pending: PendingRequest, raw: Any) -> str | None:
        """The reason `raw` does not fit the request, for a modal's field error; None if it does."""
        try:
            normalize_answer(pending.request, raw)
        except AnswerError as exc:
            return str(exc)
        return None


def _digest(text: str, body: list[dict[str, Any]]) -> str:
    """What a run message says, in short: an update that would change nothing is skipped."""
    return hashlib.sha1(json.dumps([text, body], sort_keys=True).encode()).hexdigest()


def _is_settled(pending: PendingRequest) -> bool:
    return pending.response is not None or pending.cancelled


def _request_key(request_id: str) -> str:
    return f"request:{request_id}"


def _name(procedure: Procedure | None, run: RunRecord) -> str:
    return procedure.name if procedure is not None else run.procedure_id
