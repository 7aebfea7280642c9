"""What happens when a user acts: the payload sent to the app and what Slack does with the ack.

The control API (and so the UI and tests) calls these as "alice ran /procedure", "bob clicked
Approve", "carol submitted the modal". Each builds Slack's payload, delivers it with the 3 s
deadline, then applies the ack exactly as Slack would: a slash command's reply message, a
view_submission's response_action, or the error the user sees when the app was too slow.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from devslack import limits, payloads
from devslack.delivery import Deliverer, Outcome, Request
from devslack.elements import (
    ElementError,
    action_object,
    client_side_errors,
    convert_value,
    find_element,
    initial_value,
    iter_elements,
    state_entry,
)
from devslack.errors import SlackError
from devslack.model import Channel, Message, User, View
from devslack.workspace import Workspace

COMMAND_TIMEOUT = "This slash command experienced a problem: 'Timeout was reached'"
MODAL_TROUBLE = "We had some trouble connecting. Try again?"

_MENTION = re.compile(r"(?<![<\w])@([A-Za-z0-9][A-Za-z0-9._-]*)")
_CHANNEL_REF = re.compile(r"(?<![<\w])#([a-z0-9][a-z0-9_-]*)")


def _command_failed(command: str) -> str:
    return f'{command} failed with the error "dispatch_failed"'


class Interactions:
    """User actions in, Slack payloads out, acks applied."""

    def __init__(self, ws: Workspace, deliverer: Deliverer) -> None:
        self.ws = ws
        self.deliverer = deliverer

    # ------------------------------------------------------------------ shared helpers

    def _error(self, user: User, text: str, kind: str, **where: Any) -> None:
        """Show the user what Slack would show when the app failed them."""
        self.ws.publish({"type": "error", "text": text, "kind": kind, **where}, (user.id,))

    def _check_member(self, user: User, channel: Channel) -> None:
        if user.id not in channel.member_set:
            raise SlackError("not_in_channel")

    async def _deliver(
        self, request: Request, user: User, deadline_text: str | None, **where: Any
    ) -> tuple[Outcome, bool]:
        """Deliver and, at the deadline, show `deadline_text`. Returns (outcome, shown)."""
        shown = False

        def on_deadline() -> None:
            nonlocal shown
            if deadline_text is not None:
                shown = True
                self._error(user, deadline_text, request.kind, **where)

        outcome = await self.deliverer.deliver(request, on_deadline=on_deadline)
        return outcome, shown

    @staticmethod
    def _result(outcome: Outcome, **more: Any) -> dict[str, Any]:
        return {
            "ok": outcome.ok,
            "status": outcome.status,
            "ack_ms": outcome.ack_ms,
            "verdict": outcome.verdict,
            "delivery_id": outcome.row.get("id"),
            **more,
        }

    # ------------------------------------------------------------------ slash commands

    async def command(
        self, user: User, channel: Channel, command: str, text: str
    ) -> dict[str, Any]:
        ws = self.ws
        if not command.startswith("/"):
            command = "/" + command
        if ws.commands and command not in ws.commands:
            raise SlackError(
                "command_not_found", status=404, detail=f"{command} is not a valid command"
            )
        self._check_member(user, channel)
        payload = payloads.slash_command(
            ws,
            user,
            channel,
            command,
            text,
            response_url=ws.issue_response_url(user, channel, source="command"),
            trigger_id=ws.issue_trigger(user),
        )
        request = Request(
            "slash_command", "slash_commands", payload, "form", True, user.id, {"command": command}
        )
        outcome, shown = await self._deliver(request, user, COMMAND_TIMEOUT, channel=channel.id)
        if outcome.ok:
            problem = self._apply_command_ack(user, channel, command, text, outcome.body)
            if problem:
                self._error(
                    user,
                    f'{command} failed with the error "{problem}"',
                    "slash_command",
                    channel=channel.id,
                )
                return self._result(outcome, ok=False, response=outcome.body, error=problem)
        elif not shown:
            self._error(user, _command_failed(command), "slash_command", channel=channel.id)
        return self._result(outcome, response=outcome.body)

    def _apply_command_ack(
        self, user: User, channel: Channel, command: str, text: str, body: Any
    ) -> str | None:
        """A slash command ack body becomes a message (ephemeral unless in_channel).
        Returns Slack's error name when the body is unusable."""
        ws = self.ws
        if body is None or body == "" or body == {}:
            return None
        if isinstance(body, str):
            ws.post_ephemeral(channel, user, text=body, blocks=None)
            return None
        if not isinstance(body, dict):
            return "invalid_response"
        reply_text = body.get("text")
        try:
            blocks = limits.parse_blocks(body.get("blocks"))
            attachments = limits.parse_attachments(body.get("attachments"))
            if reply_text is None and blocks is None and attachments is None:
                return None  # e.g. {"response_type": "in_channel"} alone: nothing to show
            limits.check_message(reply_text, blocks, attachments)
        except SlackError as exc:
            return exc.error
        if body.get("response_type") == "in_channel":
            invocation = f"{command} {text}".rstrip()
            ws.post_message(channel, author=user, text=invocation)
            ws.post_message(
                channel,
                author=ws.bot,
                text=reply_text or "",
                blocks=blocks,
                attachments=attachments,
            )
        else:
            ws.post_ephemeral(
                channel, user, text=reply_text or "", blocks=blocks, attachments=attachments
            )
        return None

    # ------------------------------------------------------------------ clicks

    def _resolvers(self) -> dict[str, Callable[[str], str]]:
        return {
            "resolve_user": lambda ref: self.ws.user(ref).id,
            "resolve_channel": lambda ref: self.ws.channel(ref).id,
        }

    def _convert(self, element: dict[str, Any], value: Any) -> Any:
        try:
            return convert_value(element, value, **self._resolvers())
        except ElementError as exc:
            raise SlackError("invalid_value", detail=str(exc)) from exc

    @staticmethod
    def _find(blocks: Any, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        found = find_element(
            blocks,
            action_id=spec.get("action_id"),
            text=spec.get("text"),
            block_id=spec.get("block_id"),
        )
        if found is None:
            raise SlackError("element_not_found", status=404)
        return found

    async def click_message(
        self, user: User, channel: Channel, ts: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        """Click/pick an element of a channel message or of one of the user's ephemerals."""
        ws = self.ws
        if channel.is_private or channel.is_im or channel.is_mpim:
            self._check_member(user, channel)
        message: Message | None = ws.messages.get((channel.id, ts))
        if message is not None:
            blocks, is_ephemeral, source = message.blocks, False, "message"
            thread_ts = message.thread_ts
        else:
            ephemeral = ws.ephemeral(user.id, ts)
            if ephemeral.channel != channel.id:
                raise SlackError("message_not_found")
            blocks, is_ephemeral, source = ephemeral.blocks, True, "ephemeral"
            thread_ts = ephemeral.thread_ts
        block, element = self._find(blocks, spec)
        value = self._convert(element, spec.get("value"))
        key = (user.id, channel.id, ts)
        entry = state_entry(element, value)
        if entry is not None:  # only stateful elements (selects, pickers...) keep state
            state = ws.message_state.setdefault(key, {})
            state.setdefault(block["block_id"], {})[element["action_id"]] = entry
        else:
            state = ws.message_state.get(key, {})
        action = action_object(block, element, value, ws.new_ts())
        payload = payloads.block_actions_in_message(
            ws,
            user,
            channel,
            message=message,
            message_ts=ts,
            is_ephemeral=is_ephemeral,
            action=action,
            state=state,
            trigger_id=ws.issue_trigger(user),
            response_url=ws.issue_response_url(
                user, channel, source=source, message_ts=ts, thread_ts=thread_ts
            ),
        )
        return await self._block_actions(payload, user, element, channel=channel.id, ts=ts)

    async def click_view(self, user: User, view: View, spec: dict[str, Any]) -> dict[str, Any]:
        """Click/pick an element of a modal (the top of the user's stack) or the Home tab."""
        ws = self.ws
        if view.user != user.id:
            raise SlackError("not_found", status=404)
        if view.type == "modal":
            stack = ws.stacks.get(user.id) or []
            if not stack or stack[-1] != view.id:
                raise SlackError("view_not_active", detail="only the top modal can be used")
        block, element = self._find(view.blocks, spec)
        value = self._convert(element, spec.get("value"))
        entry = state_entry(element, value)
        if entry is not None:
            view.state.setdefault(block["block_id"], {})[element["action_id"]] = entry
        if block.get("type") == "input" and not block.get("dispatch_action"):
            # Typing into an input (without dispatch_action) only changes the view's state.
            ws.emit_views(user.id)
            return {"ok": True, "status": None, "ack_ms": None, "verdict": None, "delivered": False}
        action = action_object(block, element, value, ws.new_ts())
        payload = payloads.block_actions_in_view(
            ws, user, view, action=action, trigger_id=ws.issue_trigger(user)
        )
        return await self._block_actions(payload, user, element, view_id=view.id)

    async def _block_actions(
        self, payload: dict[str, Any], user: User, element: dict[str, Any], **where: Any
    ) -> dict[str, Any]:
        app = self.ws.app["name"]
        request = Request(
            "block_actions",
            "interactive",
            payload,
            "payload",
            False,
            user.id,
            {"action_id": element.get("action_id")},
        )
        outcome, shown = await self._deliver(
            request, user, f"{app} didn't respond in time. Please try again.", **where
        )
        if not outcome.ok and not shown:
            detail = f"HTTP {outcome.status}" if outcome.status else outcome.reason
            self._error(
                user,
                f"{app} didn't respond ({detail}). Please try again.",
                "block_actions",
                **where,
            )
        return self._result(outcome, response=outcome.body, delivered=True)

    # ------------------------------------------------------------------ block_suggestion

    async def suggest(
        self,
        user: User,
        *,
        view: View | None,
        channel: Channel | None,
        ts: str | None,
        spec: dict[str, Any],
        query: str,
    ) -> dict[str, Any]:
        """A user types into an external_select: ask the app for options."""
        ws = self.ws
        message = None
        if view is not None:
            if view.user != user.id:
                raise SlackError("not_found", status=404)
            blocks = view.blocks
        elif channel is not None and ts:
            message = ws.message(channel.id, ts)
            blocks = message.blocks
        else:
            raise SlackError("invalid_arguments", detail="view_id, or channel and ts, required")
        block, element = self._find(blocks, spec)
        if element.get("type") not in ("external_select", "multi_external_select"):
            raise SlackError(
                "invalid_arguments", detail="only external selects ask the app for options"
            )
        payload = payloads.block_suggestion(
            ws,
            user,
            block_id=block["block_id"],
            action_id=element["action_id"],
            value=query,
            view=view,
            channel=channel,
            message=message,
        )
        request = Request(
            "block_suggestion",
            "interactive",
            payload,
            "payload",
            True,
            user.id,
            {"action_id": element.get("action_id")},
        )
        outcome = await self.deliverer.deliver(request)
        body = outcome.body if isinstance(outcome.body, dict) else {}
        return self._result(
            outcome, options=body.get("options", []), option_groups=body.get("option_groups")
        )

    # ------------------------------------------------------------------ modals

    def _top_view(self, user: User, view_id: str) -> View:
        stack = self.ws.stacks.get(user.id) or []
        if view_id not in stack:
            raise SlackError("view_not_found", status=404)
        if stack[-1] != view_id:
            raise SlackError("view_not_active", detail="only the top modal can be used")
        return self.ws.views[view_id]

    def _input_for(self, view: View, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The input block named by block_id, label text or action_id."""
        inputs = [(b, e) for b, e in iter_elements(view.blocks) if b.get("type") == "input"]
        for block, element in inputs:
            if block.get("block_id") == key:
                return block, element
        for block, element in inputs:
            if str((block.get("label") or {}).get("text", "")).casefold() == key.casefold():
                return block, element
        for block, element in inputs:
            if element.get("action_id") == key:
                return block, element
        raise SlackError("input_not_found", status=404, detail=f"no input {key!r} in the view")

    async def submit(self, user: User, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """The user presses the modal's submit button."""
        ws = self.ws
        view = self._top_view(user, view_id)
        if not view.spec.get("submit"):
            raise SlackError("no_submit_button", detail="this view has no submit button")
        for key, raw in (values or {}).items():
            block, element = self._input_for(view, key)
            entry = state_entry(element, self._convert(element, raw))
            if entry is not None:
                view.state.setdefault(block["block_id"], {})[element["action_id"]] = entry
        # Everything the client checks before sending; then the full state Slack reports.
        errors: dict[str, str] = {}
        response_urls: list[dict[str, Any]] = []
        for block, element in iter_elements(view.blocks):
            if block.get("type") != "input" or element.get("type") is None:
                continue
            entries = view.state.setdefault(block["block_id"], {})
            entry = entries.get(element["action_id"])
            if entry is None:
                entry = state_entry(element, initial_value(element))
                if entry is None:
                    continue
                entries[element["action_id"]] = entry
            value = next((v for k, v in entry.items() if k != "type"), None)
            problem = client_side_errors(element, value, bool(block.get("optional")))
            if problem:
                errors[block["block_id"]] = problem
            if element.get("response_url_enabled") and isinstance(value, str) and value:
                target = ws.find_channel(value, allow_names=False)
                if target is not None:
                    response_urls.append(
                        {
                            "block_id": block["block_id"],
                            "action_id": element["action_id"],
                            "channel_id": target.id,
                            "response_url": ws.issue_response_url(user, target, source="view"),
                        }
                    )
        if errors:
            view.errors = errors
            ws.emit_views(user.id)
            return {
                "ok": False,
                "status": None,
                "ack_ms": None,
                "verdict": None,
                "response_action": None,
                "errors": errors,
                "client_side": True,
            }
        view.errors = {}
        payload = payloads.view_submission(
            ws, user, view, trigger_id=ws.issue_trigger(user), response_urls=response_urls
        )
        request = Request(
            "view_submission",
            "interactive",
            payload,
            "payload",
            True,
            user.id,
            {"callback_id": view.spec.get("callback_id", "")},
        )
        outcome, shown = await self._deliver(request, user, MODAL_TROUBLE, view_id=view.id)
        if not outcome.ok:
            if not shown:
                self._error(user, MODAL_TROUBLE, "view_submission", view_id=view.id)
            return self._result(outcome, response_action=None, errors=None)
        body = outcome.body
        action = body.get("response_action") if isinstance(body, dict) else None
        problem = self._apply_response_action(user, view, body)
        if problem:
            self._error(user, MODAL_TROUBLE, "view_submission", view_id=view.id, detail=problem)
            return self._result(
                outcome, ok=False, response_action=action, errors=None, error=problem
            )
        return self._result(
            outcome,
            response_action=action,
            errors=dict(view.errors) if action == "errors" else None,
        )

    def _apply_response_action(self, user: User, view: View, body: Any) -> str | None:
        """Honour a view_submission ack. Returns why it was refused, or None."""
        ws = self.ws
        if body is None or body == "" or body == {}:
            ws.pop_view(user.id)
            return None
        if not isinstance(body, dict):
            return "the ack body of a view_submission must be empty or JSON"
        action = body.get("response_action")
        if action == "errors":
            errors = body.get("errors")
            if not isinstance(errors, dict) or not errors:
                return "response_action errors needs a non-empty `errors` object"
            inputs = {b.get("block_id") for b in view.blocks if b.get("type") == "input"}
            unknown = [k for k in errors if k not in inputs]
            if unknown:
                return f"errors name blocks that are not input blocks of the view: {unknown}"
            view.errors = {str(k): str(v) for k, v in errors.items()}
            ws.emit_views(user.id)
            return None
        if action == "clear":
            ws.clear_views(user.id)
            return None
        if action in ("update", "push"):
            try:
                spec = limits.parse_view(body.get("view"))
                limits.check_view(spec)
                if action == "update":
                    ws.replace_top_view(user.id, spec)
                else:
                    ws.push_view(user, spec)
            except SlackError as exc:
                messages = exc.extra.get("response_metadata", {}).get("messages", [])
                return f"response_action {action}: {exc.error} {messages}".rstrip(" []")
            return None
        return f"unknown response_action {action!r}"

    async def close(self, user: User, view_id: str) -> dict[str, Any]:
        """The user closes the top modal (Cancel / X)."""
        ws = self.ws
        view = self._top_view(user, view_id)
        snapshot = view.to_slack()
        cleared = bool(view.spec.get("clear_on_close")) and len(ws.stacks.get(user.id, [])) > 1
        if view.spec.get("clear_on_close"):
            ws.clear_views(user.id)
        else:
            ws.pop_view(user.id)
        if not view.spec.get("notify_on_close"):
            return {"ok": True, "notified": False}
        payload = payloads.view_closed(ws, user, view, is_cleared=cleared)
        payload["view"] = snapshot
        request = Request(
            "view_closed",
            "interactive",
            payload,
            "payload",
            False,
            user.id,
            {"callback_id": view.spec.get("callback_id", "")},
        )
        outcome = await self.deliverer.deliver(request)
        return self._result(outcome, notified=True)

    # ------------------------------------------------------------------ events

    def client_format(self, text: str) -> str:
        """What the Slack client sends for typed text: @name -> <@U...>, #chan -> <#C...|chan>."""
        ws = self.ws

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            lowered = name.casefold()
            if lowered in ("here", "channel", "everyone"):
                return f"<!{lowered}>"
            user = ws.find_user(name)
            if user is not None:
                return f"<@{user.id}>"
            for group in ws.usergroups.values():
                if group.handle.casefold() == lowered:
                    return f"<!subteam^{group.id}>"
            return match.group(0)

        def channel_ref(match: re.Match[str]) -> str:
            channel = ws.find_channel(match.group(1))
            if channel is None or channel.is_im:
                return match.group(0)
            return f"<#{channel.id}|{channel.name}>"

        return _CHANNEL_REF.sub(channel_ref, _MENTION.sub(mention, text))

    def user_message(
        self, user: User, channel: Channel, text: str, thread_ts: str | None
    ) -> Message:
        """A user posts a message; the app hears of it through message.im / app_mention."""
        ws = self.ws
        self._check_member(user, channel)
        formatted = self.client_format(text)
        blocks = [
            {
                "type": "rich_text",
                "block_id": ws.short_id(),
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": formatted}]}
                ],
            }
        ]
        message = ws.post_message(
            channel,
            author=user,
            text=formatted,
            blocks=blocks,
            thread_ts=thread_ts,
            client_msg_id=str(uuid.uuid4()),
        )
        if channel.is_im and channel.user == user.id:
            event = payloads.user_message_event(ws, message, channel)
            self._send_event(event, user, "message")
        elif f"<@{ws.bot.id}>" in formatted and ws.bot.id in channel.member_set:
            event = payloads.app_mention_event(ws, message, channel)
            self._send_event(event, user, "app_mention")
        return message

    def open_home(self, user: User) -> None:
        """The user opens the app's Home tab."""
        ws = self.ws
        event = payloads.app_home_opened_event(
            ws, user, ws.dm_channel(user.id), ws.homes.get(user.id)
        )
        self._send_event(event, user, "app_home_opened")

    def _send_event(self, event: dict[str, Any], user: User, event_type: str) -> None:
        envelope = payloads.event_envelope(self.ws, event)
        request = Request(
            "event",
            "events_api",
            envelope,
            "json",
            False,
            user.id,
            {"event_type": event_type, "event_id": envelope["event_id"]},
        )
        self.deliverer.background(self.deliverer.deliver_event(request))
