"""The response_url endpoint: 5 posts within 30 minutes, with Slack's message semantics.

Apps (Bolt's `respond()`) post here to answer a slash command or an interaction later:
ephemeral by default, `response_type: in_channel` to post visibly, `replace_original` /
`delete_original` to change the message the interaction came from.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from devslack import limits
from devslack.errors import SlackError
from devslack.model import ResponseUrl
from devslack.workspace import Workspace


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class Responder:
    """Applies posts to response URLs issued by the workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            hook = self.ws.use_response_url(request.match_info["hook"])
            body = self._parse(raw, request.content_type)
            self.apply(hook, body)
        except SlackError as exc:
            status = exc.status if exc.status != 200 else 400
            return web.json_response({"ok": False, "error": exc.error}, status=status)
        return web.json_response({"ok": True})

    @staticmethod
    def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
        text = raw.decode("utf-8", errors="replace")
        if content_type == "application/x-www-form-urlencoded" and text.startswith("payload="):
            text = dict(parse_qsl(text)).get("payload", "")
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise SlackError("invalid_payload") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_payload")
        return body

    def apply(self, hook: ResponseUrl, body: dict[str, Any]) -> None:
        ws = self.ws
        user = ws.users[hook.user]
        channel = ws.channels[hook.channel]
        if _truthy(body.get("delete_original")):
            self._delete_original(hook)
            return
        text = body.get("text")
        blocks = limits.parse_blocks(body.get("blocks"))
        attachments = limits.parse_attachments(body.get("attachments"))
        try:
            limits.check_message(text, blocks, attachments)
        except SlackError as exc:
            raise SlackError(exc.error) from exc  # webhooks report errors without detail
        if _truthy(body.get("replace_original")) and hook.source in ("message", "ephemeral"):
            if hook.source == "ephemeral":
                # An ephemeral message stays ephemeral, whatever response_type says.
                ephemeral = ws.ephemeral(hook.user, hook.message_ts or "")
                ws.replace_ephemeral(ephemeral, text=text or "", blocks=blocks)
                return
            message = ws.message(hook.channel, hook.message_ts or "")
            if message.user != ws.bot.id:
                raise SlackError("cant_update_message")
            ws.update_message(
                message,
                text=text or "",
                blocks=blocks,
                attachments=attachments,
                metadata=None,
                editor=ws.bot,
                keep_blocks=False,
            )
            return
        thread_ts = body.get("thread_ts") or None
        if body.get("response_type") == "in_channel":
            ws.post_message(
                channel,
                author=ws.bot,
                text=text or "",
                blocks=blocks,
                attachments=attachments,
                thread_ts=thread_ts,
            )
        else:
            ws.post_ephemeral(
                channel,
                user,
                text=text or "",
                blocks=blocks,
                thread_ts=thread_ts,
                attachments=attachments,
            )

    def _delete_original(self, hook: ResponseUrl) -> None:
        ws = self.ws
        if hook.source == "ephemeral":
            ws.delete_ephemeral(ws.ephemeral(hook.user, hook.message_ts or ""))
        elif hook.source == "message":
            message = ws.message(hook.channel, hook.message_ts or "")
            if message.user != ws.bot.id:
                raise SlackError("cant_delete_message")
            ws.delete_message(message)
        # Slash commands and modals have no original message: Slack does nothing.
