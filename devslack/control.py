"""The control API under /_dev/api/: act as a user, inspect state, inject faults, reset.

This is how the web UI, tests and benchmarks drive devslack. Users and channels may be named
by id or name (`bob`, `@bob`, `#deploys`, `deploys`); errors are HTTP 400/404 with
`{"ok": false, "error": ...}`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devslack.errors import SlackError
from devslack.faults import Faults
from devslack.interactions import Interactions
from devslack.live import LiveHub
from devslack.model import User
from devslack.stats import Stats
from devslack.workspace import Workspace

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NOT_FOUND = frozenset(
    {
        "user_not_found",
        "channel_not_found",
        "message_not_found",
        "not_found",
        "view_not_found",
        "element_not_found",
        "input_not_found",
        "command_not_found",
        "thread_not_found",
    }
)


def _error_response(exc: SlackError) -> web.Response:
    not_found = exc.error in _NOT_FOUND
    status = exc.status if exc.status != 200 else (404 if not_found else 400)
    return web.json_response(exc.body(), status=status)


class Control:
    """Handlers of /_dev/api/*."""

    def __init__(
        self,
        ws: Workspace,
        interactions: Interactions,
        live: LiveHub,
        stats: Stats,
        faults: Faults,
        reset: Callable[[], None],
    ) -> None:
        self.ws = ws
        self.interactions = interactions
        self.live = live
        self.stats = stats
        self.faults = faults
        self._reset = reset

    def routes(self) -> list[web.RouteDef]:
        def wrap(handler: Callable[..., Awaitable[Any]]) -> Handler:
            async def run(request: web.Request) -> web.StreamResponse:
                try:
                    result = await handler(request)
                except SlackError as exc:
                    return _error_response(exc)
                if isinstance(result, web.StreamResponse):
                    return result
                return web.json_response(result)

            return run

        get = {
            "workspace": self.workspace,
            "messages": self.messages,
            "views": self.views,
            "home": self.home_view,
            "ephemeral": self.ephemeral,
            "stats": self.get_stats,
            "faults": self.get_faults,
            "live": self.stream,
        }
        post = {
            "command": self.command,
            "click": self.click,
            "submit": self.submit,
            "close": self.close,
            "suggest": self.suggest,
            "message": self.message,
            "home": self.open_home,
            "replay": self.replay,
            "faults": self.set_faults,
            "reset": self.reset,
        }
        return [web.get(f"/_dev/api/{name}", wrap(h)) for name, h in get.items()] + [
            web.post(f"/_dev/api/{name}", wrap(h)) for name, h in post.items()
        ]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        return body

    def _user(self, ref: Any) -> User:
        if not ref:
            raise SlackError("invalid_arguments", detail="`user` is required")
        return self.ws.human(str(ref))

    def _query_user(self, request: web.Request) -> User:
        return self._user(request.query.get("user"))

    # ------------------------------------------------------------------ reads

    async def workspace(self, request: web.Request) -> dict[str, Any]:
        return self.ws.describe()

    async def messages(self, request: web.Request) -> dict[str, Any]:
        channel = self.ws.channel(request.query.get("channel", ""))
        thread_ts = request.query.get("thread_ts") or None
        return {"messages": self.ws.control_messages(channel, thread_ts)}

    async def views(self, request: web.Request) -> dict[str, Any]:
        user = self._query_user(request)
        return {"views": [v.control() for v in self.ws.stack(user.id)]}

    async def home_view(self, request: web.Request) -> dict[str, Any]:
        user = self._query_user(request)
        view = self.ws.homes.get(user.id)
        return {"view": view.control() if view else None}

    async def ephemeral(self, request: web.Request) -> dict[str, Any]:
        user = self._query_user(request)
        return {"messages": [e.control() for e in self.ws.ephemerals.get(user.id, {}).values()]}

    async def get_stats(self, request: web.Request) -> dict[str, Any]:
        """All delivery rows, or the last `limit` of them."""
        snapshot = self.stats.snapshot()
        limit = request.query.get("limit")
        if limit:
            if not limit.isdigit():
                raise SlackError("invalid_arguments", detail="`limit` must be a number")
            snapshot["deliveries"] = snapshot["deliveries"][-int(limit) :] if int(limit) else []
        return snapshot

    async def get_faults(self, request: web.Request) -> dict[str, Any]:
        return {"faults": self.faults.describe()}

    async def stream(self, request: web.Request) -> web.StreamResponse:
        ref = request.query.get("user")
        user_id = self._user(ref).id if ref else None
        return await self.live.stream(request, user_id)

    # ------------------------------------------------------------------ user actions

    async def command(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        channel = self.ws.channel(str(body.get("channel") or ""))
        command = str(body.get("command") or "")
        if not command:
            raise SlackError("invalid_arguments", detail="`command` is required")
        return await self.interactions.command(user, channel, command, str(body.get("text") or ""))

    async def click(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        if not body.get("action_id") and not body.get("text"):
            raise SlackError("invalid_arguments", detail="`action_id` or `text` is required")
        if body.get("view_id"):
            view = self.ws.views.get(str(body["view_id"]))
            if view is None:
                raise SlackError("view_not_found")
            return await self.interactions.click_view(user, view, body)
        if body.get("channel") == "home":
            home = self.ws.homes.get(user.id)
            if home is None:
                raise SlackError("view_not_found", detail="the user has no Home tab published")
            return await self.interactions.click_view(user, home, body)
        channel = self.ws.channel(str(body.get("channel") or ""))
        ts = str(body.get("ts") or "")
        if not ts:
            raise SlackError("invalid_arguments", detail="`ts` is required")
        return await self.interactions.click_message(user, channel, ts, body)

    async def suggest(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        view = None
        channel = None
        if body.get("view_id"):
            view = self.ws.views.get(str(body["view_id"]))
            if view is None:
                raise SlackError("view_not_found")
        elif body.get("channel"):
            channel = self.ws.channel(str(body["channel"]))
        return await self.interactions.suggest(
            user,
            view=view,
            channel=channel,
            ts=body.get("ts"),
            spec=body,
            query=str(body.get("value") or ""),
        )

    async def submit(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise SlackError("invalid_arguments", detail="`values` must be an object")
        return await self.interactions.submit(user, str(body.get("view_id") or ""), values)

    async def close(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        return await self.interactions.close(user, str(body.get("view_id") or ""))

    async def message(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        channel = self.ws.channel(str(body.get("channel") or ""))
        text = str(body.get("text") or "")
        if not text:
            raise SlackError("no_text")
        thread_ts = body.get("thread_ts") or None
        if thread_ts:
            self.ws.message(channel.id, str(thread_ts))
        message = self.interactions.user_message(user, channel, text, thread_ts)
        return {"ok": True, "ts": message.ts, "channel": channel.id}

    async def open_home(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self._user(body.get("user"))
        self.interactions.open_home(user)
        return {"ok": True}

    # ------------------------------------------------------------------ operator actions

    async def replay(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        delivery_id = body.get("delivery_id")
        if not isinstance(delivery_id, int) or isinstance(delivery_id, bool):
            raise SlackError("invalid_arguments", detail="`delivery_id` must be a delivery's id")
        try:
            outcome = await self.interactions.deliverer.replay(delivery_id)
        except KeyError:
            raise SlackError("not_found", detail=f"no delivery {delivery_id} to replay") from None
        return {
            "ok": outcome.ok,
            "status": outcome.status,
            "ack_ms": outcome.ack_ms,
            "verdict": outcome.verdict,
            "delivery_id": outcome.row.get("id"),
            "response": outcome.body,
        }

    async def set_faults(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        try:
            self.faults.configure(body)
        except ValueError as exc:
            raise SlackError("invalid_arguments", detail=str(exc)) from exc
        return {"ok": True, "faults": self.faults.describe()}

    async def reset(self, request: web.Request) -> dict[str, Any]:
        self._reset()
        return {"ok": True}
