"""The Slack app: listeners that ack at once and hand the work to `RunService`.

Slack gives every interaction 3 seconds. Each listener acks before any I/O except what must be
in the ack itself (a modal's field errors), then spawns the work. Modals are opened from that
work right away, while the trigger id is fresh.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, commands, modals, param_form
from bot.catalog import ProcedureCatalog
from bot.service import RunService
from runtime.errors import HitlbotError, ParamError
from runtime.models import RunStatus
from runtime.schema import coerce_params


def build_app(
    *,
    client: AsyncWebClient,
    signing_secret: str | None,
    service: RunService,
    catalog: ProcedureCatalog,
    command: str,
    default_channel: str | None = None,
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        # Every listener acks before doing anything slow and returns at once, so answering
        # when the listener returns is as early as Bolt's default, minus its 10 ms ack polling.
        process_before_response=True,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        # Socket Mode has no signature; HTTP mode always verifies.
    )
    listeners = Listeners(service, catalog, command, default_channel)
    app.command(command)(listeners.on_command)
    app.action(re.compile(r"^hitl:"))(listeners.on_action)
    app.view(blocks.CALLBACK_INPUT)(listeners.on_input_submit)
    app.view(blocks.CALLBACK_REVIEW)(listeners.on_review_submit)
    app.view(blocks.CALLBACK_INPUTS)(listeners.on_inputs_submit)
    app.view(blocks.CALLBACK_RESOLVE)(listeners.on_resolve_submit)
    app.view(blocks.CALLBACK_PARAMS)(listeners.on_params_submit)
    app.event("app_home_opened")(listeners.on_home_opened)
    return app


RECENT_EVENTS = 1000  # event ids remembered, to drop Slack's retries and duplicate deliveries


class Listeners:
    def __init__(
        self,
        service: RunService,
        catalog: ProcedureCatalog,
        command: str,
        default_channel: str | None,
    ) -> None:
        self.service = service
        self.catalog = catalog
        self.command = command
        self.default_channel = default_channel
        self._recent_events: dict[str, None] = {}

    # -- /procedure ---------------------------------------------------------------------------

    async def on_command(self, ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
        await ack()
        self.service.spawn(self._command(body, respond, client), what="slash command")

    async def _command(self, body: dict[str, Any], respond: Any, client: Any) -> None:
        user, channel = body["user_id"], body.get("channel_id") or self.default_channel

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral")

        try:
            parsed = commands.parse_command(body.get("text", ""), command_name=self.command)
        except commands.CommandError as exc:
            await tell(str(exc))
            return
        try:
            if parsed.verb == "run":
                await self._run(parsed, body, user=user, channel=channel, tell=tell, client=client)
            elif parsed.verb == "list":
                await tell(blocks.procedure_list_text(self.catalog.procedures(), self.command))
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
        self, parsed: Any, body: dict[str, Any], *, user: str, channel: str, tell: Any, client: Any
    ) -> None:
        known = self.catalog.procedures()
        if parsed.procedure not in known and not self.catalog.is_broken(parsed.procedure):
            await tell(
                commands.unknown_procedure_message(
                    parsed.procedure, sorted(known), command_name=self.command
                )
            )
            return
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
            await client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        try:
            run = await self.service.start_run(procedure, parsed.params, user=user, channel=channel)
        except ParamError as exc:
            await tell(commands.param_error_message(procedure, exc, command_name=self.command))
            return
        if run.status is RunStatus.FAILED:
            await tell(f"Run `{run.run_id[:8]}` of `{procedure.procedure_id}` failed: {run.error}")

    async def _status(self, run_id: str | None) -> str:
        if run_id:
            run = await asyncio.to_thread(self.service.engine.get_run, run_id)
            return blocks.run_status_text(run)
        runs = await asyncio.to_thread(self.service.store.list_runs, limit=10)
        return blocks.runs_status_text(runs)

    # -- buttons and selects --------------------------------------------------------------------

    async def on_action(self, ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        self.service.spawn(self._action(body, client), what="click")

    async def _action(self, body: dict[str, Any], client: Any) -> None:
        action = body["actions"][0]
        action_id, user = action["action_id"], body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        notify = self._notifier(user, channel)
        if action_id == blocks.ACTION_DETAILS:
            await self._open_details(action, body, client)
            return
        if action_id == blocks.ACTION_VIEW_RESULT:
            run = await asyncio.to_thread(self.service.engine.get_run, action["value"])
            await client.views_open(trigger_id=body["trigger_id"], view=modals.result_modal(run))
            return
        if action_id == blocks.ACTION_CANCEL_RUN:
            run = await self.service.cancel(action["value"], user=user)
            await notify(f"Run `{run.run_id[:8]}` cancelled.")
            return
        request_id, option = blocks.parse_action_value(action)
        pending = await self.service.pending_request(request_id)
        if pending is None:
            await notify("This request no longer exists.")
            return
        modal = blocks.modal_for_action(action_id, pending, option)
        if modal is not None:
            refusal = None
            if action_id != blocks.ACTION_VIEW_FULL:
                refusal = await self.service.check_may_answer(pending, user)
            if refusal:
                await notify(refusal)
                return
            if _from_home(body) and modal.get("private_metadata"):
                # Remembered so that the Home tab is refreshed once the modal is answered.
                modals.set_view_metadata(modal, {**modals.view_metadata(modal), "home": True})
            await client.views_open(trigger_id=body["trigger_id"], view=modal)
            return
        raw = blocks.answer_for_action(action_id, action, pending, option, body)
        if raw is blocks.NO_ANSWER:
            return  # e.g. ticking a checkbox: the state is kept until Submit
        recorded = await self.service.answer(request_id, raw, user=user, notify=notify)
        if recorded and _from_home(body):
            await self.service.publish_home(user)

    async def _open_details(
        self, action: dict[str, Any], body: dict[str, Any], client: Any
    ) -> None:
        ref = json.loads(action["value"])
        events = await asyncio.to_thread(self.service.store.list_events, ref["run"])
        event = next((e for e in events if e.seq == ref["seq"]), None)
        if event is not None:
            view = modals.notification_details_modal(event.payload)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

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

    async def on_input_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self._submit(ack, body, view, modals.parse_input_submission)

    async def on_inputs_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self._submit(ack, body, view, modals.parse_inputs_submission)

    async def on_resolve_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self._submit(ack, body, view, modals.parse_resolve_submission)

    async def on_review_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        option = json.loads(view["private_metadata"]).get("option", 0)

        def parse(pending: Any, values: dict[str, Any]) -> Any:
            return modals.parse_review_submission(pending, option, values)

        await self._submit(ack, body, view, parse)

    async def _submit(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], parse: Any
    ) -> None:
        """Check the answer inside the ack (field errors), record it after."""
        request_id = json.loads(view["private_metadata"])["request_id"]
        pending = await self.service.pending_request(request_id)
        if pending is None:
            await ack(response_action="errors", errors=modals.form_error(view, "request is gone"))
            return
        raw = parse(pending, view["state"]["values"])
        problem = self.service.validate_answer(pending, raw)
        if problem:
            await ack(response_action="errors", errors=modals.form_error(view, problem))
            return
        await ack()
        user = body["user"]["id"]
        notify = self._notifier(user, None)
        from_home = bool(modals.view_metadata(view).get("home"))

        async def answer() -> None:
            recorded = await self.service.answer(request_id, raw, user=user, notify=notify)
            if recorded and from_home:
                await self.service.publish_home(user)

        self.service.spawn(answer(), what="modal answer")

    async def on_params_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = json.loads(view["private_metadata"])
        try:
            procedure = self.catalog.get(meta["procedure_id"])
        except HitlbotError as exc:
            await ack(response_action="errors", errors=modals.form_error(view, str(exc)))
            return
        try:
            values, errors = param_form.check_param_submission(
                procedure, view["state"]["values"], private_metadata=view["private_metadata"]
            )
        except HitlbotError as exc:
            await ack(response_action="errors", errors=modals.form_error(view, str(exc)))
            return
        if errors or values is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = body["user"]["id"]
        self.service.spawn(
            self.service.start_run(
                procedure,
                values,
                user=user,
                channel=meta["channel"],
                from_strings=False,
            ),
            what="run from the parameter form",
        )

    # -- App Home -------------------------------------------------------------------------------

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and self._first_delivery(body):
            self.service.spawn(self.service.publish_home(event["user"]), what="App Home")

    def _first_delivery(self, body: dict[str, Any]) -> bool:
        """False for an event already handled: Slack retries an event whose ack it missed, and
        a retry (or any duplicate delivery) must not act twice."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        if event_id in self._recent_events:
            return False
        self._recent_events[event_id] = None
        if len(self._recent_events) > RECENT_EVENTS:
            del self._recent_events[next(iter(self._recent_events))]
        return True


def _from_home(body: dict[str, Any]) -> bool:
    """Whether the action was taken in the App Home tab."""
    return (body.get("view") or {}).get("type") == "home"
