"""Fault injection for the Web API: errors, latency, 5xx, 429 storms and dropped connections.

Real Slack fails in these ways now and then; an app that is only ever tested against a
perfect server breaks in production. Rules are set per method (or "*" for every method) at
start (DevSlackConfig.faults / --faults) and while running (POST /_dev/api/faults).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass
class FaultRule:
    """One method's faults. `error_rate` is the chance a call fails in the configured way
    (drop, then status, then error); latency applies to every call."""

    error_rate: float = 0.0
    latency_ms: int = 0
    status: int | None = None
    error: str | None = None
    drop: bool = False
    retry_after: int | None = None  # 429 storm: Retry-After seconds
    storm_left: int | None = None  # calls left in the storm (None = until cleared)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error_rate": self.error_rate, "latency_ms": self.latency_ms}
        if self.status is not None:
            data["status"] = self.status
        if self.error is not None:
            data["error"] = self.error
        if self.drop:
            data["drop"] = True
        if self.retry_after is not None:
            data["ratelimit"] = {"retry_after": self.retry_after, "count": self.storm_left}
        return data


@dataclass
class FaultDecision:
    """What to do to one call: wait `latency` seconds, then maybe fail with `kind`."""

    latency: float = 0.0
    kind: str | None = None  # None | "drop" | "status" | "error" | "ratelimit"
    status: int = 200
    error: str = "internal_error"
    retry_after: int = 0


class Faults:
    """The current fault rules, keyed by Web API method name or "*"."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self.rules: dict[str, FaultRule] = {}

    def reset(self) -> None:
        self.rules.clear()

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply a POST /_dev/api/faults body; raises ValueError with a readable reason."""
        if not isinstance(spec, dict):
            raise ValueError("faults: expected an object")
        method = spec.get("method", "*")
        if not isinstance(method, str) or not method:
            raise ValueError("faults: `method` must be a method name or '*'")
        if spec.get("clear"):
            if "method" in spec:
                self.rules.pop(method, None)
            else:
                self.rules.clear()
            return
        unknown = set(spec) - {
            "method",
            "error_rate",
            "latency_ms",
            "status",
            "ratelimit",
            "drop",
            "error",
            "seed",
        }
        if unknown:
            raise ValueError(f"faults: unknown field(s) {sorted(unknown)}")
        if "seed" in spec:
            self.rng.seed(spec["seed"])
        rule = FaultRule()
        rule.latency_ms = int(spec.get("latency_ms", 0) or 0)
        if rule.latency_ms < 0:
            raise ValueError("faults: latency_ms must be >= 0")
        if spec.get("status") is not None:
            rule.status = int(spec["status"])
            if not 500 <= rule.status <= 599:
                raise ValueError("faults: status must be a 5xx")
        if spec.get("error") is not None:
            rule.error = str(spec["error"])
        rule.drop = bool(spec.get("drop", False))
        failing = rule.drop or rule.status is not None or rule.error is not None
        rate = spec.get("error_rate")
        rule.error_rate = float(rate) if rate is not None else (1.0 if failing else 0.0)
        if not 0.0 <= rule.error_rate <= 1.0:
            raise ValueError("faults: error_rate must be between 0 and 1")
        storm = spec.get("ratelimit")
        if storm is not None:
            if not isinstance(storm, dict):
                raise ValueError("faults: ratelimit must be {retry_after, count}")
            rule.retry_after = int(storm.get("retry_after", 1))
            count = storm.get("count")
            rule.storm_left = None if count is None else int(count)
        self.rules[method] = rule

    def describe(self) -> dict[str, Any]:
        return {method: rule.describe() for method, rule in self.rules.items()}

    def decide(self, method: str) -> FaultDecision | None:
        """The fault for this call, or None when the method runs normally."""
        rule = self.rules.get(method) or self.rules.get("*")
        if rule is None:
            return None
        decision = FaultDecision(latency=rule.latency_ms / 1000.0)
        if rule.retry_after is not None and (rule.storm_left is None or rule.storm_left > 0):
            if rule.storm_left is not None:
                rule.storm_left -= 1
            decision.kind = "ratelimit"
            decision.status = 429
            decision.retry_after = rule.retry_after
            return decision
        if rule.error_rate > 0 and self.rng.random() < rule.error_rate:
            if rule.drop:
                decision.kind = "drop"
            elif rule.status is not None:
                decision.kind = "status"
                decision.status = rule.status
                decision.error = "service_unavailable" if rule.status == 503 else "internal_error"
            else:
                decision.kind = "error"
                decision.error = rule.error or "internal_error"
        return decision
