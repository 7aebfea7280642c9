"""Sealing what a modal carries through Slack, so that what comes back is what the bot sent.

A modal's `private_metadata` goes to Slack and comes back in the submission, and whoever can
send the bot a signed request can put anything in it: another channel for the parameter form
to post in, another request for an answer to go to. So the bot seals it: the data, the view's
`callback_id` and the user the modal was opened for, under an HMAC-SHA256. A submission whose
metadata does not verify, or that someone else submits, is refused.

The key is derived from the bot token, which every mode (HTTP, Socket Mode) and every replica
has and nobody outside the bot does; it is never logged (nor is this object's key in its repr).
A new token makes modals opened before it unusable: they are refused and opened again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from runtime.errors import HitlbotError

MAX_METADATA = 3000  # Slack's limit for private_metadata
SEAL_RESERVE = 200
"""Characters of `private_metadata` the seal takes (signature, user id, keys): builders keep
their own metadata within MAX_METADATA - SEAL_RESERVE."""
_CONTEXT = b"hitlbot view private_metadata v1"


class UnsealedView(HitlbotError):
    """A submitted view whose metadata the bot did not seal for this user and modal."""


class ViewSeal:
    def __init__(self, bot_token: str) -> None:
        self._key = hmac.new(bot_token.encode(), _CONTEXT, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "ViewSeal(<key derived from the bot token>)"

    def seal(self, view: dict[str, Any], *, user: str) -> dict[str, Any]:
        """`view` with its `private_metadata` (the JSON object its builder wrote) sealed for
        `user`; a view without metadata (read-only, nothing to submit) is returned as is."""
        text = view.get("private_metadata")
        if not text:
            return view
        data = json.loads(text)
        sealed = {"d": data, "u": user, "s": self._signature(view["callback_id"], user, data)}
        metadata = json.dumps(sealed, separators=(",", ":"), ensure_ascii=False)
        if len(metadata) > MAX_METADATA:
            raise HitlbotError(
                f"this form carries too much to send through Slack ({len(metadata)} characters)"
            )
        return {**view, "private_metadata": metadata}

    def open(self, callback_id: str, private_metadata: str, *, user: str) -> dict[str, Any]:
        """The data sealed into a submitted view, if the bot sealed it for this modal and for
        `user`, the person submitting it; `UnsealedView` saying what is wrong otherwise."""
        try:
            sealed = json.loads(private_metadata or "null")
        except ValueError:
            raise UnsealedView("its private_metadata is not JSON") from None
        if not isinstance(sealed, dict):
            raise UnsealedView("its private_metadata is not sealed")
        data, owner, signature = sealed.get("d"), sealed.get("u"), sealed.get("s")
        if not (isinstance(data, dict) and isinstance(owner, str) and isinstance(signature, str)):
            raise UnsealedView("its private_metadata is not sealed")
        expected = self._signature(callback_id, owner, data)
        if not hmac.compare_digest(expected, signature):
            raise UnsealedView("its private_metadata does not verify (changed on the way)")
        if owner != user:
            raise UnsealedView(f"it was opened for {owner}, not for {user}")
        return data

    def _signature(self, callback_id: str, user: str, data: dict[str, Any]) -> str:
        message = json.dumps([callback_id, user, data], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()
