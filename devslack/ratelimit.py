"""Slack's Web API rate limits: per-method tiers, and chat.postMessage's per-channel limit.

Limits are token buckets on the injectable clock, so a test can exhaust a bucket, read the
429's Retry-After, move the clock and see the method recover, without sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: Calls per minute of each tier (docs: Tier 1 1+, Tier 2 20+, Tier 3 50+, Tier 4 100+).
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
#: The smallest burst any bucket allows ("short bursts are tolerated"); matters for Tier 1.
MIN_BURST = 5

METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,  # "Special": effectively unlimited for a bot; modelled as Tier 4
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,  # "Special"
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "conversations.open": 3,
    "conversations.info": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "users.info": 4,
    "users.list": 2,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "apps.connections.open": 1,
}

#: chat.postMessage: "1 message per second to a specific channel", with a short burst, and
#: a workspace-wide "several hundred messages per minute".
POST_PER_CHANNEL_PER_SECOND = 1.0
POST_CHANNEL_BURST = 5
POST_WORKSPACE_PER_MINUTE = 300


@dataclass
class _Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    updated: float


class RateLimiter:
    """Decides whether a call is allowed now, and if not, how long to wait (Retry-After)."""

    def __init__(self, clock: Callable[[], float], *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def _take(self, key: tuple[str, str], capacity: float, rate: float) -> int | None:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, rate, capacity, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / bucket.rate))

    def _give_back(self, key: tuple[str, str]) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1.0)

    def check(self, method: str, channel: str | None = None) -> int | None:
        """None when the call may proceed (and is counted), else Retry-After in seconds."""
        if not self.enabled:
            return None
        if method == "chat.postMessage":
            per_channel = ("chat.postMessage", channel or "")
            wait = self._take(per_channel, POST_CHANNEL_BURST, POST_PER_CHANNEL_PER_SECOND)
            if wait is not None:
                return wait
            workspace = ("chat.postMessage", "*")
            per_minute = POST_WORKSPACE_PER_MINUTE
            wait = self._take(workspace, per_minute, per_minute / 60.0)
            if wait is not None:
                self._give_back(per_channel)
            return wait
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        per_minute = TIER_PER_MINUTE[tier]
        return self._take((method, ""), max(per_minute, MIN_BURST), per_minute / 60.0)
