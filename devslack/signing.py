"""Slack's v0 request signing, applied to the exact bytes devslack sends to the app.

An app must verify X-Slack-Signature over the raw body; signing anything but the bytes on
the wire (re-encoded JSON, re-ordered form fields) would hide verification bugs.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request. The timestamp is real wall-clock time
    (apps reject timestamps more than five minutes away from their own clock)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
    }
