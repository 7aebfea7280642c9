"""Requests arriving from Slack, checked before Bolt sees them, refused when Slack would never
send them.

Bolt parses a body as it builds its request object, before its middleware checks the
signature, and it reads fields such as `actions[0]` or `view.callback_id` unchecked while it
routes a request (and again while it prepares its error handler): a body it cannot parse, a
timestamp header that is not a number, or a payload missing a field raised out of Bolt as a 500
with a traceback, even without a valid signature. Here, over HTTP, the headers and the signature
are checked first (slack_sdk's `SignatureVerifier`; Bolt checks again behind it), then the body
is parsed, then the payload is read (`bot.payloads`); whatever fails is `Refused` with a 4xx and
a reason for one log line. Socket Mode envelopes (no signature) get the same payload check.

An admitted request carries, in its Bolt context, its typed payload and its delivery key
(`bot.deliveries`), which the listeners read.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.deliveries import DELIVERY_KEY, delivery_key
from bot.payloads import CONTEXT_KEY, BadRequest, read_payload

log = logging.getLogger("hitlbot")

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Bolt reads these from the incoming request to run only a lazy listener; the signature does
# not cover headers, so a sender could use them to skip a listener's checks.
_BOLT_INTERNAL = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")


class Refused(Exception):
    """A request refused before Bolt sees it: the HTTP status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HttpIntake:
    """Turns what arrived at the request URL into a Bolt request, or refuses it."""

    def __init__(self, signing_secret: str | None) -> None:
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def read(self, raw: bytes, headers: Mapping[str, str], query: str = "") -> AsyncBoltRequest:
        """The Bolt request for these bytes; `Refused` when they are not a signed request in
        one of the encodings Slack uses."""
        headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _BOLT_INTERNAL}
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if self._verifier is not None:
            if not _TIMESTAMP.fullmatch(timestamp):
                raise Refused(401, "X-Slack-Request-Timestamp is missing or not a number")
            if not _SIGNATURE.fullmatch(signature):
                raise Refused(401, "X-Slack-Signature is missing or not a v0 signature")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "the body is not UTF-8") from None
        if self._verifier is not None and not self._verifier.is_valid(text, timestamp, signature):
            raise Refused(401, "the signature does not verify, or is more than 5 minutes old")
        if not text.strip():
            raise Refused(400, "the body is empty")
        try:
            request = AsyncBoltRequest(body=text, query=query, headers=headers)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError):
            # JSON that does not parse, a `payload` that is not JSON, or JSON that is not an
            # object of the shape Bolt reads its ids from.
            raise Refused(400, "the body is not a form or JSON payload as Slack sends") from None
        repair_slash_command(request)
        try:
            admit(request)
        except BadRequest as exc:
            raise Refused(400, str(exc)) from None
        return request


def admit(request: AsyncBoltRequest) -> None:
    """Read the request's payload into its context, with its delivery key; `BadRequest` when
    the payload is not one Slack sends to this bot."""
    payload = read_payload(request.body)
    request.context[CONTEXT_KEY] = payload
    request.context[DELIVERY_KEY] = delivery_key(payload, request.headers)


class SocketModeIntake(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with each envelope's payload admitted before dispatch. A
    payload that is not admitted is not acked (Slack counts it as failed) and is logged."""

    async def handle(self, client: Any, req: Any) -> None:
        start = time.time()
        try:
            headers = build_headers(req)
            request = AsyncBoltRequest(mode="socket_mode", body=req.payload, headers=headers)
            admit(request)
        except (BadRequest, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            log.warning("refused a Socket Mode %s envelope: %s", str(req.type)[:40], exc)
            return
        response = await self.app.async_dispatch(request)
        await send_async_response(client, req, response, start)


def repair_slash_command(request: AsyncBoltRequest) -> None:
    """Work around Bolt's body parser, which treats any form body containing the word
    "payload" as an interaction and parses a slash command like `/procedure run x note=payload`
    to nothing. Such a body has no `payload` field: parse it as the plain form it is."""
    if request.body or not request.raw_body or request.raw_body.startswith("{"):
        return
    fields = dict(parse_qsl(request.raw_body, keep_blank_values=True))
    if "payload" in fields or "command" not in fields:
        return
    request.body = fields
    request.context = build_async_context(AsyncBoltContext({}), fields)
