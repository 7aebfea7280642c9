"""The Slack app: listeners that ack at once and hand the work to `RunService`.

Slack gives every interaction 3 seconds. Each listener reads what it needs from the payload
(checked by `bot.payloads` before Bolt routes it) and acks before any I/O except what must be
in the ack itself (a modal's field errors), then spawns the work. Modals are opened from that
work right away, while the trigger id is fresh.

Requests reach the app admitted (`bot.intake`): their payload read and checked, their delivery
key noted. Every request acts once: before its ack, a request that asks for work claims that key
in the store with its payload (`bot.deliveries`), so a replay, a retry or a duplicate is acked
as usual and then does nothing, and work a process took on and died before doing is done by
the next one (`redo_unfinished`): Slack never sends an acked click again.
What a modal carries through Slack is sealed (`bot.view_seal`) and checked on submission.
A request that is malformed, unsealed or unknown is refused with a 4xx and one log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, commands, modals, param_form
from bot.catalog import ProcedureCatalog
from bot.deliveries import DELIVERY_KEY, Deliveries
from bot.payloads import (
    CONTEXT_KEY,
    BadRequest,
    BlockActions,
    EventCallback,
    HomeOpened,
    SlashCommand,
    ViewSubmission,
    payload_of,
    read_payload,
)
from bot.plexus_procedures import PREFIX as PLEXUS_PREFIX
from bot.plexus_procedures import PlexusProcedures, plexus_listing_text
from bot.plexus_view import PLEXUS_PROCEDURE
from bot.safe_text import neutralise
from bot.service import PLEXUS_CODE, RunService
from bot.view_seal import UnsealedView, ViewSeal
from runtime.errors import HitlbotError, ParamError
from runtime.models import RunStatus
from runtime.schema import coerce_params

log = logging.getLogger("hitlbot")

UNVERIFIED_FORM = "This form could not be verified: close it and open it again."
REDO = "hitlbot_redo"
"""In a Bolt-like context: this is work a stopped process took on; it is done quietly."""
RUN_ID = "hitlbot_run_id"
"""Stored with a request that may start a run: the run's id, chosen before the ack, so doing
the request again never starts a second run."""
# Only the actions the bot's own messages carry (`hitl:approve`, `hitl:decide:2`...): any other
# is not routed, so it is refused like any request nobody handles.
_OUR_ACTIONS = re.compile("|".join(p.pattern for p in blocks.ACTION_PATTERNS.values()))
# Errors that reading a malformed payload raises: the request's fault, not the bot's.
_MALFORMED = (BadRequest, KeyError, IndexError, TypeError, ValueError)


def build_app(
    *,
    client: AsyncWebClient,
    signing_secret: str | None,
    listeners: Listeners,
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        # Every listener acks before doing anything slow and returns at once, so answering
        # when the listener returns is as early as Bolt's default, minus its 10 ms ack polling.
        process_before_response=True,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        # Socket Mode has no signature; HTTP mode always verifies.
        raise_error_for_unhandled_request=True,
    )
    app.error(_refuse)
    app.command(listeners.command)(listeners.on_command)
    app.action(_OUR_ACTIONS)(listeners.on_action)
    for callback_id, submitted in listeners.submissions().items():
        app.view(callback_id)(submitted)
    app.event("app_home_opened")(listeners.on_home_opened)
    return app


async def _refuse(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Bolt's error handler: a request that fails before its ack gets a 4xx and one log line
    (a 503 when the bot cannot reach its database); only a bug in the bot is a 500."""
    what = _describe(body)
    if isinstance(error, BoltUnhandledRequestError):
        status, reason = 404, "nothing here handles it"
    elif isinstance(error, _MALFORMED):
        status, reason = 400, str(error) if isinstance(error, BadRequest) else _short(error)
    elif isinstance(error, HitlbotError):
        log.error("could not take on %s: %s", what, error)
        return BoltResponse(status=503, body={"error": "unavailable"})
    else:
        log.error("taking on %s failed", what, exc_info=error)
        return BoltResponse(status=500, body={"error": "internal error"})
    log.warning("refused a request (HTTP %d): %s: %s", status, what, reason)
    headers = {"X-Slack-No-Retry": "1"} if body.get("type") == "event_callback" else {}
    return BoltResponse(status=status, body={"error": reason}, headers=headers)


def _describe(body: Any) -> str:
    """A request in a few words for a log line (never its content: it may carry tokens)."""
    if not isinstance(body, dict):
        return "a request"
    if "command" in body:
        return f"a {str(body.get('command'))[:40]} command"
    kind = str(body.get("type") or "untyped")[:40]
    if kind == "event_callback" and isinstance(body.get("event"), dict):
        return f"an {str(body['event'].get('type'))[:40]} event"
    return f"a {kind} payload"


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


class Listeners:
    def __init__(
        self,
        service: RunService,
        catalog: ProcedureCatalog,
        command: str,
        default_channel: str | None,
        deliveries: Deliveries,
        view_seal: ViewSeal,
        plexus: PlexusProcedures | None = None,
    ) -> None:
        """`plexus`: procedures kept in Plexus, when Plexus is configured."""
        self.service = service
        self.catalog = catalog
        self.command = command
        self.default_channel = default_channel
        self.deliveries = deliveries
        self.view_seal = view_seal
        self.plexus = plexus
        self._doing: set[str] = set()  # keys of accepted requests whose work is under way

    def submissions(self) -> dict[str, Callable[..., Awaitable[None]]]:
        """The listener of each modal's submission, by callback id."""
        return {
            blocks.CALLBACK_INPUT: self.on_input_submit,
            blocks.CALLBACK_REVIEW: self.on_review_submit,
            blocks.CALLBACK_INPUTS: self.on_inputs_submit,
            blocks.CALLBACK_RESOLVE: self.on_resolve_submit,
            blocks.CALLBACK_PARAMS: self.on_params_submit,
        }

    async def _accept(self, ack: Any, context: Any, body: dict[str, Any], *, what: str) -> bool:
        """Take the request on, then ack it: its key is claimed in the store with the payload
        (the work it asks for outlives this process). False for a repeat, acked all the same
        and to be left alone."""
        key = context.get(DELIVERY_KEY)
        fresh = key is None or context.get(REDO) or await self.deliveries.take_on(key, body)
        await ack()
        if not fresh:
            log.info("ignored a repeated %s (%s)", what, str(key).split(":", 1)[0])
        return bool(fresh)

    def _after_ack(self, context: Any, work: Coroutine[Any, Any, Any], *, what: str) -> None:
        """Do the work of an accepted request; once it is over (done or failed: either way it
        happened), the store stops owing it."""
        key = context.get(DELIVERY_KEY)

        async def doing() -> None:
            try:
                await work
            finally:
                if key is not None:
                    self._doing.discard(key)
                    await self.deliveries.done(key)

        if key is not None:
            self._doing.add(key)
        self.service.spawn(doing(), what=what)

    def _once(self, context: Any, work: Coroutine[Any, Any, Any], *, what: str) -> None:
        """Do `work` after the ack unless this request was already taken on; for requests whose
        work is not worth doing again after a crash (opening the Home tab)."""
        key = context.get(DELIVERY_KEY)

        async def first_time() -> None:
            if key is not None and not await self.deliveries.first(key):
                work.close()
                log.info("ignored a repeated %s (%s)", what, key.split(":", 1)[0])
                return
            await work

        self.service.spawn(first_time(), what=what)

    # -- work a stopped process took on --------------------------------------------------------

    async def redo_unfinished(self) -> None:
        """Do the work that processes now dead acked and did not finish (periodically)."""
        for key, body in await self.deliveries.unfinished():
            try:
                await self._redo(key, body)
            except Exception as exc:  # it cannot be done any more: say so once, let it go
                log.warning("could not do again the request %s: %s", key.split(":", 1)[0], exc)
                await self.deliveries.done(key)

    async def _redo(self, key: str, body: dict[str, Any]) -> None:
        payload = read_payload(body)
        context = {CONTEXT_KEY: payload, DELIVERY_KEY: key, REDO: True}
        log.info("doing a %s a stopped process took on", type(payload).__name__)
        if isinstance(payload, SlashCommand):
            respond = AsyncRespond(response_url=payload.response_url)
            await self.on_command(_no_ack, context, respond, body)
        elif isinstance(payload, BlockActions):
            await self.on_action(_no_ack, body, context)
        elif isinstance(payload, ViewSubmission):
            submitted = self.submissions().get(payload.view.callback_id)
            if submitted is not None:
                await submitted(_no_ack, body, context)
        if key not in self._doing:  # it ended before any work (a form's errors...)
            await self.deliveries.done(key)

    async def _open(self, trigger_id: str, view: dict[str, Any], user: str) -> None:
        """Open a modal, its metadata sealed for the user it is opened for (through SlackIO,
        like every other call: its text neutralised, within the trigger's 3 s)."""
        await self.service.slack.open_view(trigger_id, self.view_seal.seal(view, user=user))

    # -- /procedure ---------------------------------------------------------------------------

    async def on_command(self, ack: Any, context: Any, respond: Any, body: dict[str, Any]) -> None:
        command = payload_of(context, SlashCommand)
        body.setdefault(RUN_ID, uuid.uuid4().hex)  # the run it may start, in what is stored
        if await self._accept(ack, context, body, what="slash command"):
            work = self._command(command, respond, run_id=body[RUN_ID])
            self._after_ack(context, work, what="slash command")

    async def _command(self, command: SlashCommand, respond: Any, *, run_id: str) -> None:
        user, channel = command.user_id, command.channel_id or self.default_channel

        async def tell(text: str) -> None:
            await respond(text=neutralise(text), response_type="ephemeral")

        try:
            parsed = commands.parse_command(command.text, command_name=self.command)
        except commands.CommandError as exc:
            await tell(str(exc))
            return
        try:
            if parsed.verb == "run":
                await self._run(parsed, command, channel=channel, tell=tell, run_id=run_id)
            elif parsed.verb == "list":
                listing = blocks.procedure_list_text(self.catalog.procedures(), self.command)
                if self.plexus is not None:
                    listing += plexus_listing_text(await self.plexus.listing(), self.command)
                await tell(listing)
            elif parsed.verb == "status":
                await tell(await self._status(parsed.run_id))
            elif parsed.verb == "cancel":
                run = await self.service.cancel(parsed.run_id or "", user=user)
                await tell(f"Run `{run.run_id[:8]}` cancelled.")
            else:
                await tell(commands.help_text(self.command))
        except HitlbotError as exc:
            await tell(f"{exc}")

    async def _run(
        self, parsed: Any, command: SlashCommand, *, channel: Any, tell: Any, run_id: str
    ) -> None:
        if parsed.procedure.startswith(PLEXUS_PREFIX):
            await self._run_from_plexus(parsed, command, channel=channel, tell=tell, run_id=run_id)
            return
        known = self.catalog.procedures()
        if parsed.procedure not in known and not self.catalog.is_broken(parsed.procedure):
            await tell(
                commands.unknown_procedure_message(
                    parsed.procedure, sorted(known), command_name=self.command
                )
            )
            return
        user = command.user_id
        procedure = self.catalog.get(parsed.procedure)
        if commands.missing_required(procedure, parsed.params):
            if commands.unknown_params(procedure, parsed.params):
                # The form carries declared params only: say what is wrong rather than
                # silently dropping a mistyped key.
                try:
                    coerce_params(procedure, parsed.params, from_strings=True)
                except ParamError as exc:
                    await tell(
                        commands.param_error_message(procedure, exc, command_name=self.command)
                    )
                    return
            view = param_form.param_modal(procedure, parsed.params, channel=channel, user=user)
            await self._open(command.trigger_id, view, user)
            return
        try:
            run = await self.service.start_run(
                procedure, parsed.params, user=user, channel=channel, run_id=run_id
            )
        except ParamError as exc:
            await tell(commands.param_error_message(procedure, exc, command_name=self.command))
            return
        if run.status is RunStatus.FAILED:
            await tell(f"Run `{run.run_id[:8]}` of `{procedure.procedure_id}` failed: {run.error}")

    async def _run_from_plexus(
        self, parsed: Any, command: SlashCommand, *, channel: Any, tell: Any, run_id: str
    ) -> None:
        """`run plexus:<id>`: the procedure kept in that Plexus Procedure, run here and
        mirrored into it (its parameters all on the command line: no form for these)."""
        if self.plexus is None:
            await tell(
                "Plexus is not configured here (PLEXUS_API_URL), so `plexus:` names mean nothing."
            )
            return
        found = await self.plexus.get(parsed.procedure[len(PLEXUS_PREFIX) :])
        try:
            run = await self.service.start_run(
                found.procedure,
                parsed.params,
                user=command.user_id,
                channel=channel,
                run_id=run_id,
                notes={PLEXUS_PROCEDURE: found.plexus_id, PLEXUS_CODE: found.code},
            )
        except ParamError as exc:
            message = commands.param_error_message(found.procedure, exc, command_name=self.command)
            await tell(message)
            return
        if run.status is RunStatus.FAILED:
            await tell(f"Run `{run.run_id[:8]}` of `{parsed.procedure}` failed: {run.error}")

    async def _status(self, run_id: str | None) -> str:
        if run_id:
            run = await asyncio.to_thread(self.service.engine.get_run, run_id)
            return blocks.run_status_text(run)
        runs = await asyncio.to_thread(self.service.store.list_runs, limit=10)
        return blocks.runs_status_text(runs)

    # -- buttons and selects --------------------------------------------------------------------

    async def on_action(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        click = payload_of(context, BlockActions)
        if blocks.base_action(click.action.action_id) == blocks.ACTION_CHECKS:
            await ack()  # a tick: Slack keeps the state until Submit, nothing to do
            return
        target = _click_target(click, body["actions"][0])  # before the ack: a 400 if unreadable
        if await self._accept(ack, context, body, what="click"):
            work = self._action(click, target, body, quiet=bool(context.get(REDO)))
            self._after_ack(context, work, what="click")

    async def _action(
        self, click: BlockActions, target: Any, body: dict[str, Any], *, quiet: bool
    ) -> None:
        """`quiet`: done again after a crash, long after the click; nobody is told anything
        (the request's message shows what became of it)."""
        action, raw_action = click.action, body["actions"][0]
        kind, user = blocks.base_action(action.action_id), click.user.id
        notify = _silent if quiet else self._notifier(user, click.channel_id)
        if kind == blocks.ACTION_DETAILS:
            await self._open_details(target, click)
            return
        if kind == blocks.ACTION_VIEW_RESULT:
            run = await asyncio.to_thread(self.service.engine.get_run, target)
            await self._open(click.trigger_id, modals.result_modal(run), user)
            return
        if kind == blocks.ACTION_CANCEL_RUN:
            run = await self.service.cancel(target, user=user)
            await notify(f"Run `{run.run_id[:8]}` cancelled.")
            return
        request_id, option = target
        pending = await self.service.pending_request(request_id)
        if pending is None:
            await notify("This request no longer exists.")
            return
        modal = blocks.modal_for_action(action.action_id, pending, option)
        from_home = click.view is not None and click.view.type == "home"
        if modal is not None:
            refusal = None
            if kind != blocks.ACTION_VIEW_FULL:
                refusal = await self.service.check_may_answer(pending, user)
            if refusal:
                await notify(refusal)
                return
            if from_home and modal.get("private_metadata"):
                # Remembered so that the Home tab is refreshed once the modal is answered.
                modals.set_view_metadata(modal, {**modals.view_metadata(modal), "home": True})
            await self._open(click.trigger_id, modal, user)
            return
        answer = blocks.answer_for_action(action.action_id, raw_action, pending, option, body)
        if answer is blocks.NO_ANSWER:
            return  # e.g. ticking a checkbox: the state is kept until Submit
        recorded = await self.service.answer(request_id, answer, user=user, notify=notify)
        if recorded and from_home:
            await self.service.publish_home(user)

    async def _open_details(self, ref: tuple[str, int], click: BlockActions) -> None:
        run_id, seq = ref
        events = await asyncio.to_thread(self.service.store.list_events, run_id)
        event = next((e for e in events if e.seq == seq), None)
        if event is not None:
            view = modals.notification_details_modal(event.payload)
            await self._open(click.trigger_id, view, click.user.id)

    def _notifier(self, user: str, channel: str | None) -> Any:
        """Tell `user` privately: in `channel` where they acted, else (the Home tab, a modal)
        by direct message."""

        async def notify(text: str) -> None:
            if channel:
                await self.service.slack.ephemeral(channel, user, text)
            else:
                await self.service.slack.direct_message(user, text)

        return notify

    # -- modal submissions ------------------------------------------------------------------------

    async def on_input_submit(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        await self._submit(ack, body, context, lambda meta: modals.parse_input_submission)

    async def on_inputs_submit(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        await self._submit(ack, body, context, lambda meta: modals.parse_inputs_submission)

    async def on_resolve_submit(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        await self._submit(ack, body, context, lambda meta: modals.parse_resolve_submission)

    async def on_review_submit(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        def parser(meta: dict[str, Any]) -> Any:
            option = meta.get("option", 0)

            def parse(pending: Any, values: dict[str, Any]) -> Any:
                return modals.parse_review_submission(pending, option, values)

            return parse

        await self._submit(ack, body, context, parser)

    async def _submit(self, ack: Any, body: dict[str, Any], context: Any, parser: Any) -> None:
        """Check the answer inside the ack (field errors), record it after."""
        submission = payload_of(context, ViewSubmission)
        view = body["view"]
        meta = await self._opened(ack, submission, view)
        if meta is None:
            return
        request_id = meta.get("request_id")
        pending = await self.service.pending_request(str(request_id))
        if pending is None:
            await ack(response_action="errors", errors=modals.form_error(view, "request is gone"))
            return
        try:
            raw = parser(meta)(pending, view["state"]["values"])
        except ValueError as exc:  # e.g. a review option the request no longer has
            await ack(response_action="errors", errors=modals.form_error(view, str(exc)))
            return
        problem = self.service.validate_answer(pending, raw)
        if problem:
            await ack(response_action="errors", errors=modals.form_error(view, problem))
            return
        if not await self._accept(ack, context, body, what="modal answer"):
            return
        user = submission.user.id
        notify = _silent if context.get(REDO) else self._notifier(user, None)

        async def answer() -> None:
            recorded = await self.service.answer(pending.request_id, raw, user=user, notify=notify)
            if recorded and meta.get("home"):
                await self.service.publish_home(user)

        self._after_ack(context, answer(), what="modal answer")

    async def _opened(
        self, ack: Any, submission: ViewSubmission, view: dict[str, Any]
    ) -> dict[str, Any] | None:
        """What the bot sealed into the submitted view; None once a view whose metadata does
        not verify (or that someone else submits) was refused on its first field, or raises
        `BadRequest` (a 400) when it has no field to say so on."""
        try:
            return self.view_seal.open(
                submission.view.callback_id,
                submission.view.private_metadata,
                user=submission.user.id,
            )
        except UnsealedView as exc:
            errors = modals.form_error(view, UNVERIFIED_FORM)
            if not errors:
                raise BadRequest(f"a {submission.view.callback_id} view: {exc}") from None
            log.warning(
                "refused a view submission (%s) from %s: %s",
                submission.view.callback_id,
                submission.user.id,
                exc,
            )
            await ack(response_action="errors", errors=errors)
            return None

    async def on_params_submit(self, ack: Any, body: dict[str, Any], context: Any) -> None:
        submission = payload_of(context, ViewSubmission)
        view = body["view"]
        meta = await self._opened(ack, submission, view)
        if meta is None:
            return
        try:
            procedure = self.catalog.get(str(meta.get("procedure_id")))
            values, errors = param_form.check_param_submission(
                procedure, view["state"]["values"], private_metadata=meta
            )
        except HitlbotError as exc:
            await ack(response_action="errors", errors=modals.form_error(view, str(exc)))
            return
        if errors or values is None:
            await ack(response_action="errors", errors=errors)
            return
        body.setdefault(RUN_ID, uuid.uuid4().hex)  # the run's id, in what is stored
        if not await self._accept(ack, context, body, what="run from the parameter form"):
            return
        start = self.service.start_run(
            procedure,
            values,
            user=submission.user.id,
            channel=meta.get("channel"),
            from_strings=False,
            run_id=body[RUN_ID],
        )
        self._after_ack(context, start, what="run from the parameter form")

    # -- App Home -------------------------------------------------------------------------------

    async def on_home_opened(self, context: Any) -> None:
        event = payload_of(context, EventCallback).event
        if isinstance(event, HomeOpened) and event.tab == "home":
            self._once(context, self.service.publish_home(event.user), what="App Home")


async def _no_ack(*args: Any, **kwargs: Any) -> None:
    """What a listener is given for `ack` when it does again what was acked long ago."""


async def _silent(text: str) -> None:
    """Tells nobody: for work done again after a crash."""


def _click_target(click: BlockActions, raw_action: dict[str, Any]) -> Any:
    """What a click is about, read before it is acked: a notification `(run_id, seq)`, a run
    id, or `(request_id, option index)`. `BadRequest` when the click does not say."""
    action = click.action
    kind = blocks.base_action(action.action_id)
    if kind == blocks.ACTION_DETAILS:
        try:
            ref = json.loads(action.value or "")
            return str(ref["run"]), int(ref["seq"])
        except (ValueError, TypeError, KeyError):
            raise BadRequest("a details click whose value is not {run, seq}") from None
    if kind in (blocks.ACTION_VIEW_RESULT, blocks.ACTION_CANCEL_RUN):
        if not action.value:
            raise BadRequest(f"a {action.action_id} click without a run id")
        return action.value
    request_id, option = blocks.parse_action_value(raw_action)
    if not request_id:
        raise BadRequest(f"a {action.action_id} click that names no request")
    return request_id, option
