"""State, Stage, Log, Json, System and the recorded clock: the primitives that need no human."""

from __future__ import annotations

import json
import time
from typing import Any

from runtime.context import ExecutionContext
from runtime.errors import HitlbotError
from runtime.quotas import json_size

LOG_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning"}
LOG_LEVELS["error"] = "error"
ALERT_LEVELS = ("info", "warning", "error", "critical")
# Longest `os.date` format: C's strftime pads `%255Y` to 255 characters, so a long format of
# those would make a string of gigabytes in one call.
MAX_DATE_FORMAT = 200
# Longest text `Json.decode` takes: the objects it builds cost many times the text's size.
MAX_JSON_TEXT = 4 * 1024 * 1024


class StatePrimitive:
    """`State` and the `state` proxy over the run's state, which replay rebuilds from scratch.

    The state's stored size is kept up to date key by key (each change costs the size of what
    changed, not of the whole state), and checked against the run's quota before the change is
    made: a loop of `State.append` stops at the quota, not when the host runs out of memory.
    """

    def __init__(self, ctx: ExecutionContext, defaults: dict[str, Any]) -> None:
        self.ctx = ctx
        self._sizes: dict[str, int] = {}
        self._total = len("{}")
        for key, value in defaults.items():
            if value is not None:
                self._put(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.ctx.state.get(_key(key))
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        if value is None:
            self._drop(_key(key))
        else:
            self._put(_key(key), value)

    def increment(self, key: str, amount: Any = None) -> Any:
        step = 1 if amount is None else amount
        current = self.ctx.state.get(_key(key), 0)
        if not _is_number(current) or not _is_number(step):
            raise HitlbotError(f"State.increment: {key!r} does not hold a number")
        self._put(_key(key), current + step)
        return current + step

    def append(self, key: str, value: Any) -> int:
        key = _key(key)
        items = self.ctx.state.get(key)
        if items is None or items == {}:
            items = []
        if not isinstance(items, list):
            raise HitlbotError(f"State.append: {key!r} does not hold a list")
        base = self._sizes.get(key) or _entry_size(key, [])
        size = base + json_size(value) + (1 if items else 0)
        self._resize(key, size)
        items.append(value)
        self.ctx.state[key] = items
        return len(items)

    def all(self) -> dict[str, Any]:
        return dict(self.ctx.state)

    def clear(self) -> None:
        self.ctx.state.clear()
        self._sizes.clear()
        self._total = len("{}")

    def delete(self, key: str) -> None:
        self._drop(_key(key))

    def _put(self, key: str, value: Any) -> None:
        self._resize(key, _entry_size(key, value))
        self.ctx.state[key] = value

    def _drop(self, key: str) -> None:
        self._total -= self._sizes.pop(key, 0)
        self.ctx.state.pop(key, None)

    def _resize(self, key: str, size: int) -> None:
        """Make `key` take `size` bytes, if the quota allows (checked before any change)."""
        total = self._total - self._sizes.get(key, 0) + size
        self.ctx.meter.check_state(total)
        self._sizes[key] = size
        self._total = total


class StagePrimitive:
    """`Stage`: where the procedure says it is; validated against declared stages."""

    def __init__(self, ctx: ExecutionContext, stages: list[str]) -> None:
        self.ctx = ctx
        self.stages = stages
        self.current: str | None = None
        self.history: list[str] = []

    def set(self, name: str) -> None:
        if self.stages and name not in self.stages:
            raise HitlbotError(f"unknown stage {name!r}; declared stages: {', '.join(self.stages)}")
        self.current = name
        self.history.append(name)
        self.ctx.emit("stage", {"stage": name})

    def advance(self) -> str | None:
        if not self.stages:
            raise HitlbotError("Stage.advance needs declared stages")
        index = self.stages.index(self.current) + 1 if self.current in self.stages else 0
        if index >= len(self.stages):
            return self.current
        self.set(self.stages[index])
        return self.current

    def clear_history(self) -> None:
        self.history.clear()


def log(ctx: ExecutionContext, level: str, message: Any, context: Any = None) -> None:
    ctx.emit(
        "log",
        {"level": LOG_LEVELS[level], "message": _text(message), "context": context or {}},
    )


def alert(ctx: ExecutionContext, opts: Any) -> None:
    if not isinstance(opts, dict) or "message" not in opts:
        raise HitlbotError("System.alert takes {message = ..., level = ...}")
    level = str(opts.get("level", "info")).lower()
    if level not in ALERT_LEVELS:
        raise HitlbotError(f"System.alert level must be one of {', '.join(ALERT_LEVELS)}")
    ctx.emit(
        "alert",
        {
            "message": _text(opts["message"]),
            "level": level,
            "source": opts.get("source"),
            "context": opts.get("context") or {},
        },
    )


def json_encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_decode(text: Any) -> Any:
    if not isinstance(text, str):
        raise HitlbotError("Json.decode takes a string")
    if len(text) > MAX_JSON_TEXT:
        raise HitlbotError(
            f"Json.decode takes at most {MAX_JSON_TEXT // (1024 * 1024)} MiB of text"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HitlbotError(f"Json.decode: invalid JSON ({exc.msg} at position {exc.pos})") from None


class RecordedClock:
    """`os.time`, `os.date`, `os.clock`: read once per run position, then replayed."""

    def __init__(self, ctx: ExecutionContext) -> None:
        self.ctx = ctx

    def _reading(self, kind: str, read: Any) -> Any:
        entry = self.ctx.recorded(kind, None, None)
        if entry is not None:
            return self.ctx.skip_recorded(entry)
        value = read()
        self.ctx.record(kind, value)
        return value

    def time(self, table: Any = None) -> int:
        if isinstance(table, dict):
            return _time_from_table(table)
        return self._reading("os_time", lambda: int(self.ctx.clock().timestamp()))

    def date(self, fmt: Any = None, when: Any = None) -> Any:
        fmt = "%c" if fmt is None else str(fmt)
        if len(fmt) > MAX_DATE_FORMAT:
            raise HitlbotError(f"os.date: the format is longer than {MAX_DATE_FORMAT} characters")
        if when is None:
            when = self._reading("os_date", lambda: int(self.ctx.clock().timestamp()))
        utc = fmt.startswith("!")
        fmt = fmt[1:] if utc else fmt
        parts = time.gmtime(when) if utc else time.localtime(when)
        if fmt.startswith("*t"):
            return {
                "year": parts.tm_year,
                "month": parts.tm_mon,
                "day": parts.tm_mday,
                "hour": parts.tm_hour,
                "min": parts.tm_min,
                "sec": parts.tm_sec,
                "wday": (parts.tm_wday + 1) % 7 + 1,
                "yday": parts.tm_yday,
                "isdst": bool(parts.tm_isdst > 0),
            }
        return time.strftime(fmt, parts)

    def clock(self) -> float:
        return self._reading("os_clock", time.process_time)


def _time_from_table(t: dict[str, Any]) -> int:
    try:
        fields = (
            int(t["year"]),
            int(t["month"]),
            int(t["day"]),
            int(t.get("hour", 12)),
            int(t.get("min", 0)),
            int(t.get("sec", 0)),
        )
    except (KeyError, TypeError, ValueError):
        raise HitlbotError("os.time: the table needs year, month and day") from None
    return int(time.mktime((*fields, 0, 0, -1)))


def _entry_size(key: str, value: Any) -> int:
    """Bytes of `"key":value,` in the stored state."""
    return json_size(key) + json_size(value) + 2


def _key(key: Any) -> str:
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise HitlbotError("state keys must be strings")
    return str(key)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json_encode(value)
