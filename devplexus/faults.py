"""Fault injection on the GraphQL endpoint: latency, 5xx, throttling, dropped connections, outage.

A client that has only met a perfect server retries nothing and crashes on its first bad
day. Rules are keyed by operation: a request's `operationName`, one of its root fields, or
"*" for every request; they are set at start (DevPlexusConfig.faults / --faults) and while
running (POST /_dev/api/faults). `count` makes a fault deterministic ("fail the next two
calls"), `error_rate` makes it random (reproducible with `seed`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_FIELDS = frozenset(
    {"operation", "error_rate", "latency_ms", "status", "throttle", "drop", "count", "seed"}
)


@dataclass
class FaultRule:
    """One operation's faults. A failing call fails the first configured way of:
    drop, status, throttle; latency applies to every matching call."""

    error_rate: float = 0.0
    latency_ms: int = 0
    status: int | None = None
    throttle: bool = False
    drop: bool = False
    count: int | None = None  # failing calls left; None = no end

    @property
    def failing(self) -> bool:
        return self.drop or self.status is not None or self.throttle

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error_rate": self.error_rate, "latency_ms": self.latency_ms}
        if self.status is not None:
            data["status"] = self.status
        if self.throttle:
            data["throttle"] = True
        if self.drop:
            data["drop"] = True
        if self.count is not None:
            data["count"] = self.count
        return data


@dataclass
class FaultDecision:
    """What happens to one request: wait `latency` seconds, then maybe fail as `kind`."""

    latency: float = 0.0
    kind: str | None = None  # None | "outage" | "drop" | "status" | "throttle"
    status: int = 200


class Faults:
    """The current rules, keyed by operation name, root field name or "*"."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self.rules: dict[str, FaultRule] = {}
        self.outage = False

    def reset(self) -> None:
        self.rules.clear()
        self.outage = False

    def configure(self, spec: Any) -> None:
        """Apply a POST /_dev/api/faults body; raises ValueError with a readable reason."""
        if not isinstance(spec, dict):
            raise ValueError("faults: expected an object")
        if "outage" in spec:
            if set(spec) != {"outage"} or not isinstance(spec["outage"], bool):
                raise ValueError('faults: an outage is set alone: {"outage": true|false}')
            self.outage = spec["outage"]
            return
        operation = spec.get("operation", "*")
        if not isinstance(operation, str) or not operation:
            raise ValueError("faults: `operation` must be an operation or field name, or '*'")
        if spec.get("clear"):
            if set(spec) - {"operation", "clear"}:
                raise ValueError("faults: `clear` takes only `operation`")
            if "operation" in spec:
                self.rules.pop(operation, None)
            else:
                self.reset()
            return
        unknown = set(spec) - _FIELDS
        if unknown:
            raise ValueError(f"faults: unknown field(s) {sorted(unknown)}")
        if "seed" in spec:
            self.rng.seed(spec["seed"])
        self.rules[operation] = _rule(spec)

    def describe(self) -> dict[str, Any]:
        return {
            "outage": self.outage,
            "rules": {operation: rule.describe() for operation, rule in self.rules.items()},
        }

    def _rule_for(self, operation: str | None, fields: Iterable[str]) -> FaultRule | None:
        if operation and operation in self.rules:
            return self.rules[operation]
        for name in fields:
            if name in self.rules:
                return self.rules[name]
        return self.rules.get("*")

    def decide(self, operation: str | None, fields: Iterable[str]) -> FaultDecision | None:
        """The fault for this request, or None when it runs normally."""
        if self.outage:
            return FaultDecision(kind="outage", status=503)
        rule = self._rule_for(operation, fields)
        if rule is None:
            return None
        decision = FaultDecision(latency=rule.latency_ms / 1000.0)
        if not rule.failing or rule.count == 0:
            return decision
        if rule.count is None and self.rng.random() >= rule.error_rate:
            return decision
        if rule.count is not None:
            rule.count -= 1
        if rule.drop:
            decision.kind = "drop"
        elif rule.status is not None:
            decision.kind, decision.status = "status", rule.status
        else:
            decision.kind = "throttle"
        return decision


def _rule(spec: dict[str, Any]) -> FaultRule:
    rule = FaultRule()
    rule.latency_ms = int(spec.get("latency_ms") or 0)
    if rule.latency_ms < 0:
        raise ValueError("faults: latency_ms must be >= 0")
    if spec.get("status") is not None:
        rule.status = int(spec["status"])
        if rule.status != 429 and not 500 <= rule.status <= 599:
            raise ValueError("faults: status must be 429 or a 5xx")
    rule.throttle = bool(spec.get("throttle", False))
    rule.drop = bool(spec.get("drop", False))
    if spec.get("count") is not None:
        rule.count = int(spec["count"])
        if rule.count < 1:
            raise ValueError("faults: count must be >= 1")
        if "error_rate" in spec:
            raise ValueError("faults: give `count` or `error_rate`, not both")
    rate = spec.get("error_rate")
    rule.error_rate = float(rate) if rate is not None else (1.0 if rule.failing else 0.0)
    if not 0.0 <= rule.error_rate <= 1.0:
        raise ValueError("faults: error_rate must be between 0 and 1")
    if rule.count is not None and not rule.failing:
        raise ValueError("faults: `count` needs a failure kind (status, throttle or drop)")
    return rule
