"""HTTP front of the Web API (`/api/<method>`): arguments, tokens, faults and rate limits.

Slack accepts form-encoded or JSON bodies (JSON needs the token in the Authorization
header), answers errors with HTTP 200 and `ok: false`, and answers rate limiting with
HTTP 429 and Retry-After. slack_sdk's AsyncWebClient relies on all of that.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from devslack.errors import SlackError
from devslack.faults import Faults
from devslack.methods import APP_TOKEN_METHODS, Methods
from devslack.ratelimit import RateLimiter
from devslack.stats import Stats
from devslack.workspace import Workspace


class WebApi:
    """Serves /api/<method> for one workspace."""

    def __init__(
        self, ws: Workspace, methods: Methods, limiter: RateLimiter, faults: Faults, stats: Stats
    ) -> None:
        self.ws = ws
        self.methods = methods
        self.limiter = limiter
        self.faults = faults
        self.stats = stats

    async def _arguments(self, request: web.Request) -> tuple[dict[str, Any], list[str], bool]:
        """Query + body arguments, warnings, and whether the body was JSON."""
        args: dict[str, Any] = dict(request.query)
        warnings: list[str] = []
        is_json = False
        if request.can_read_body:
            raw = await request.read()
            content_type = request.content_type
            if content_type == "application/json":
                is_json = True
                if "charset" not in request.headers.get("Content-Type", "").lower():
                    warnings.append("missing_charset")
                try:
                    body = json.loads(raw or b"{}")
                except ValueError as exc:
                    raise SlackError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise SlackError("json_not_object")
                args.update(body)
            elif content_type.startswith("multipart/"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            elif raw:
                args.update(
                    parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
                )
        return args, warnings, is_json

    def _authenticate(
        self, method: str, request: web.Request, args: dict[str, Any], is_json: bool
    ) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token and not is_json and method not in APP_TOKEN_METHODS:
            token = str(args.get("token") or "")
        args.pop("token", None)
        if not token:
            raise SlackError("not_authed")
        wants_app_token = method in APP_TOKEN_METHODS
        if token == self.ws.app_token:
            if not wants_app_token:
                raise SlackError("not_allowed_token_type")
            return
        if token == self.ws.bot_token:
            if wants_app_token:
                raise SlackError("not_allowed_token_type")
            return
        raise SlackError("invalid_auth")

    def _channel_key(self, method: str, ref: Any) -> str | None:
        """chat.postMessage is limited per channel, however the channel was named."""
        if method != "chat.postMessage" or not isinstance(ref, str):
            return None
        if ref in self.ws.dm_of_user:
            return self.ws.dm_of_user[ref]
        channel = self.ws.channels.get(ref) or self.ws.channel_named(ref)
        return channel.id if channel is not None else ref

    def _headers(self) -> dict[str, str]:
        return {"X-OAuth-Scopes": ",".join(self.ws.scopes), "X-Accepted-OAuth-Scopes": ""}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        implementation = self.methods.table.get(method)
        if implementation is None:
            return web.json_response(
                {"ok": False, "error": "unknown_method", "req_method": method}, status=404
            )
        decision = self.faults.decide(method)
        if decision is not None:
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.kind is not None:
                return await self._fault(request, method, decision)
        try:
            args, warnings, is_json = await self._arguments(request)
            self._authenticate(method, request, args, is_json)
        except SlackError as exc:
            self.stats.method_call(method, error=exc.error)
            return web.json_response(exc.body(), headers=self._headers())
        retry_after = self.limiter.check(method, self._channel_key(method, args.get("channel")))
        if retry_after is not None:
            self.stats.method_call(method, ratelimited=True, error="ratelimited")
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after), **self._headers()},
            )
        try:
            body = implementation(args)
            error = None
        except SlackError as exc:
            body, error = exc.body(), exc.error
        if warnings:
            body["warning"] = ",".join(warnings)
            body.setdefault("response_metadata", {})["warnings"] = warnings
        self.stats.method_call(method, error=error)
        return web.json_response(body, headers=self._headers())

    async def _fault(self, request: web.Request, method: str, decision: Any) -> web.StreamResponse:
        """Fail the call the way the fault rule says."""
        if decision.kind == "ratelimit":
            self.stats.method_call(method, ratelimited=True, error="ratelimited")
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(decision.retry_after)},
            )
        self.stats.method_call(method, error=decision.kind)
        if decision.kind == "drop":
            await request.read()
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if decision.kind == "status":
            return web.json_response({"ok": False, "error": decision.error}, status=decision.status)
        return web.json_response({"ok": False, "error": decision.error})
