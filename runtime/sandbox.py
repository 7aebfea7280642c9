"""The Lua sandbox: one hardened Lua 5.4 state per execution.

What a procedure can reach is decided here and nowhere else:

- Only the safe parts of the standard library (an allowlist), in an environment of its own: no
  `python`, `io`, `os`, `load`, `loadstring`, `dofile`, `loadfile`, `require`, `package`,
  `debug`, `string.dump`, `collectgarbage`, `print`. The primitives install their own recorded
  `os` and `print`. The state's real globals table stays empty and out of reach, because lupa
  reads it, unprotected, on every call from Python.
- No Python object is ever handed to Lua. Host functions are wrapped in Lua closures whose only
  reference to Python is an upvalue, unreachable without `debug`; arguments cross as plain data
  (Lua tables are copied into dicts and lists, results are copied into fresh Lua tables) and
  errors cross as strings.
- Limits per execution, in force while procedure code runs: memory (lupa's allocator cap), an
  instruction budget and a wall-clock deadline (a count hook, installed in every coroutine
  too). C library loops the hook cannot see are paid for up front (`table.move`,
  `table.insert`, ...), and string patterns that could backtrack for too long are refused
  before they run (`runtime.lua_patterns`).
- A fatal condition (a suspension, a limit, a replay divergence) cannot be caught by Lua:
  `pcall`, `xpcall`, `coroutine.resume`, `coroutine.wrap` and `coroutine.close` re-raise it,
  the hook keeps raising it, and every host function refuses to run once it is set. `call`
  reports the fatal condition, never Lua's result.
- lupa aborts the process when Python pushes a value into a Lua state that is out of memory,
  so the memory cap is lifted whenever Python holds control and restored whenever procedure
  code runs again.

What a sandbox cannot bound on its own, the worker process around it does (`runtime.pool`):
a table whose integer keys all collide in Lua's hash makes a single store cost O(n^2) inside
one VM instruction (a rehash), which no hook can interrupt (minutes at 64 MiB); the worker is
killed at the time limit. Memory the host allocates for a primitive counts against the worker's
OS limit, and running out of it in a primitive is fatal here like any limit.

Known gap: a `__close` handler that raises replaces a memory error like any other error (the
cap still holds: the procedure only carries on within it).
"""

from __future__ import annotations

import functools
import math
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import lupa.lua54 as lua54

from runtime.errors import (
    LimitExceeded,
    ProcedureWaitingForHuman,
    QuotaExceeded,
    ReplayDivergenceError,
    SandboxError,
    format_bytes,
)
from runtime.lua_patterns import PATTERN_BUDGET, lua_pattern_cost, lua_pattern_limit

# Instructions between two runs of the count hook. Lua 5.4 checks for hooks on every
# instruction once any count hook is set, so the interval only decides how often Python is
# asked for the time; 10,000 instructions keep that under 1% of a busy run.
HOOK_INTERVAL = 10_000
# Data copied between Lua and the host: nesting depth, and values per copy.
MAX_DEPTH = 100
MAX_ITEMS = 100_000
# Values per copy into Lua: host data (state, answers, decoded JSON) is already bounded by
# quotas; this bound is for what a primitive might build from a small input.
MAX_VALUES_TO_LUA = 1_000_000
# Longest error message passed on (a procedure can raise megabytes).
MAX_MESSAGE = 2_000

# Host exceptions that end the execution: Lua must not catch them and carry on.
_FATAL_TYPES: tuple[type[BaseException], ...] = (
    ProcedureWaitingForHuman,
    LimitExceeded,
    QuotaExceeded,
    ReplayDivergenceError,
)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits. Defaults suit glue code that waits on people, not number crunching."""

    memory_bytes: int = 64 * 1024 * 1024
    instructions: int = 200_000_000
    wall_seconds: float = 30.0
    process_memory_bytes: int | None = None
    """The OS memory limit of the process executing (set by a worker; None: none of ours).
    Only named in the error when memory runs out outside Lua."""

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "instructions", "wall_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")


def _deny_attribute(obj: Any, name: Any, is_setting: bool) -> Any:
    """lupa attribute filter: a second line of defence, should a Python object ever reach Lua."""
    raise AttributeError("Python objects are not accessible from procedures")


# Trusted Lua run once per sandbox before any procedure code (see the file for what it does).
LOCKDOWN = resources.files("runtime").joinpath("lockdown.lua").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=32)
def _bytecode(code: str, chunk_name: str) -> bytes:
    """Our own Lua compiled once per process: compiling costs more than the rest of a sandbox.

    Only the host loads bytecode, and only this; procedures can never load binary chunks.
    """
    lua = lua54.LuaRuntime(encoding=None)
    return lua.eval("string.dump")(lua.compile(code, name=chunk_name))


class Sandbox:
    """One Lua state, locked down, with limits. Not thread-safe; one per execution."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self._fatal: BaseException | None = None
        self._chunk_names: set[str] = set()
        self._lua = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attribute,
            encoding=None,  # strings cross as bytes; decoding them is ours to get right
            max_memory=0,  # the limit is imposed only while Lua code runs, see `_lift`
        )
        interval = min(HOOK_INTERVAL, self.limits.instructions)
        self._past_deadline = _past_deadline(clock, self.limits.wall_seconds)
        api = self._lua.execute(
            _bytecode(LOCKDOWN, "=sandbox"),
            self._past_deadline,
            _weak(self._lift),
            _weak(self._impose),
            lua_pattern_limit,
            lua_pattern_cost,
            interval,
            self.limits.instructions // interval,
            _as_lua_integer(seed),
            PATTERN_BUDGET,
            *(str(self._limit_exceeded(kind)).encode() for kind in _LIMIT_KINDS),
            mode="b",
        )
        self._run, self._compile, self._bridge = api[b"run"], api[b"compile"], api[b"bridge"]
        self._abort, self._fatal_kind = api[b"abort"], api[b"fatal_kind"]
        self._define, self._get, self._set = api[b"define"], api[b"get"], api[b"set"]
        self._leave = api[b"leave"]
        self._identity = api[b"identity"]
        self._caller_line = api[b"caller_line"]

    # -- fatal conditions and limits ---------------------------------------------------------

    @property
    def fatal(self) -> BaseException | None:
        """The condition that ended this execution (a suspension or a limit), if any."""
        if self._fatal is None:
            kind = self._fatal_kind()
            if kind:
                self._fatal = self._limit_exceeded(kind.decode())
        return self._fatal

    def abort(self, exc: BaseException) -> None:
        """Make `exc` the unrecoverable outcome of this execution (the first one stays)."""
        if self.fatal is None:
            self._fatal = exc
            self._abort(str(exc).encode("utf-8", "replace"))

    def _limit_exceeded(self, kind: str) -> LimitExceeded:
        limits = self.limits
        if kind == "memory":
            return lua_memory_exceeded(limits.memory_bytes)
        if kind == "instructions":
            return LimitExceeded(
                "instructions", f"the procedure ran more than {limits.instructions:,} instructions"
            )
        return time_limit_exceeded(limits.wall_seconds)

    def _lift(self) -> None:
        """Python holds control: no memory limit, so lupa's pushes into Lua cannot fail."""
        self._lua.set_max_memory(0)

    def _impose(self) -> None:
        """Lua code is about to run: its allocations fail cleanly past the limit."""
        self._lua.set_max_memory(self.limits.memory_bytes)

    # -- host functions and globals ----------------------------------------------------------

    def define(self, path: str, fn: Callable[..., Any]) -> None:
        """Expose `fn` to Lua as `path` (e.g. "Human.approve" or "__host.log").

        `fn` receives plain Python values and returns plain values (a tuple for several Lua
        results). An exception it raises becomes a catchable Lua error carrying its message;
        a suspension or a limit becomes fatal.
        """
        parts = path.split(".")
        if not all(parts):
            raise ValueError(f"invalid host function path {path!r}")
        this = weakref.ref(self)

        def host_function(*args: Any) -> Any:
            return this()._call_host(fn, args)  # type: ignore[union-attr]

        try:
            self._define(self._bridge(host_function), *(p.encode() for p in parts))
        except lua54.LuaError as exc:
            raise ValueError(f"cannot define {path}: {_lua_error_text(exc)}") from None

    def _call_host(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Run a host function for Lua: (True, results...) or (False, message), never a raise.

        The deadline is checked here too: a loop that spends its time inside host functions
        runs few Lua instructions, so the hook would look at the clock too rarely.
        """
        try:
            if self._past_deadline():
                raise self._limit_exceeded("wall")
            result = fn(*self._copy_out(args))
            if isinstance(result, tuple):
                return (True, *(self.to_lua(v) for v in result))
            return True, self.to_lua(result)
        except _FATAL_TYPES as exc:
            self.abort(exc)
            return False, b""
        except MemoryError:  # a primitive ran the process out: never catchable from Lua
            self.abort(host_memory_exceeded(self.limits.process_memory_bytes))
            return False, b""
        except Exception as exc:  # every error must reach Lua as a message
            return False, (str(exc) or type(exc).__name__).encode("utf-8", "replace")

    def set_global(self, name: str, value: Any) -> None:
        self._set(name.encode(), self.to_lua(value))

    def get_global(self, name: str) -> Any:
        """A global as Lua holds it (no metamethods run): tables and functions stay Lua objects."""
        return _decoded(self._get(name.encode()))

    def caller_line(self) -> int:
        """The procedure's line that is calling (from a host function): 0 outside of one."""
        line = self._caller_line()
        return line if isinstance(line, int) and line > 0 else 0

    # -- running code ------------------------------------------------------------------------

    def run_trusted(self, code: str, *args: Any) -> Any:
        """Run our own Lua (facades over host functions) with the given arguments.

        Lua objects pass through; anything else is copied as data, so no Python object
        reaches Lua this way either. It runs under the procedure's limits, because it may
        call into tables the procedure can reach and replace. Returns what Lua returns: one
        value, a tuple of several, or None; tables and functions stay Lua objects.
        """
        lua_args = [a if lua54.lua_type(a) else self.to_lua(a) for a in args]
        fn, error = self._compile(_bytecode(code, "=trusted"), b"=trusted", b"b")
        if fn is None:
            raise SandboxError(f"trusted Lua failed to load: {_decoded(error)}")
        values = [_decoded(v) for v in self._run_limited(fn, lua_args)]
        if len(values) > 1:
            return tuple(values)
        return values[0] if values else None

    def execute(self, source: str, chunk_name: str = "procedure") -> list[Any]:
        """Compile and run untrusted code; return its results as plain Python values."""
        return self.call(self.compile(source, chunk_name))

    def compile(self, source: str, chunk_name: str = "procedure") -> Any:
        """Compile untrusted source text (never bytecode); syntax errors carry the line."""
        self._chunk_names.add(chunk_name)
        fn, error = self._compile(source.encode(), b"=" + chunk_name.encode(), b"t")
        if fn is not None:
            return fn
        message = _decoded(error)
        if message == _MEMORY_ERROR:
            self.abort(self._limit_exceeded("memory"))
            raise self._fatal  # type: ignore[misc]
        raise self._error(message)

    def call(self, fn: Any, *args: Any) -> list[Any]:
        """Call a Lua function under the limits. Raises the fatal condition if one was set."""
        return self._copy_out(self._run_limited(fn, [self.to_lua(a) for a in args]))

    def _run_limited(self, fn: Any, lua_args: list[Any]) -> list[Any]:
        """Lua's results, as Lua values; a Lua error or the fatal condition is raised."""
        if self.fatal is not None:
            raise self.fatal
        try:
            outcome = self._run(fn, *lua_args)
        except lua54.LuaError as exc:  # failed while reporting back, e.g. out of memory
            self._lift()
            self._leave()
            if isinstance(exc, lua54.LuaMemoryError) or _MEMORY_ERROR in str(exc):
                self.abort(self._limit_exceeded("memory"))
            if self.fatal is not None:
                raise self.fatal from None
            raise SandboxError(_lua_error_text(exc)) from None
        status, *values = outcome if isinstance(outcome, tuple) else (outcome,)
        if self.fatal is not None:
            raise self.fatal
        if status == b"error":
            raise self._error(_decoded(values[0]))
        return values

    def _error(self, message: str) -> SandboxError:
        """A procedure error; `chunk:line:` prefixes are kept, and give the line."""
        message = message.strip()[:MAX_MESSAGE] or "error with no message"
        line = None
        for name in self._chunk_names:
            if message.startswith(f"{name}:"):
                number = re.match(r"\d+", message[len(name) + 1 :])
                line = int(number.group()) if number else None
                break
        return SandboxError(message, line=line)

    # -- value conversion ---------------------------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        """Copy plain Python data into fresh Lua values (lists become 1-based arrays).

        Bounded like copies out of Lua: a primitive (`Json.decode` of a huge array, say)
        cannot make the host build an unbounded copy.
        """
        data = _lua_data(value, 0, [MAX_VALUES_TO_LUA])
        if isinstance(data, dict | list):
            return self._lua.table_from(data, recursive=True)
        return data

    def to_python(self, value: Any) -> Any:
        """Copy a Lua value into plain data: tables with keys 1..n become lists, others dicts.

        Strings become `str` (invalid UTF-8 is replaced by U+FFFD); functions, coroutines,
        cycles, non-finite numbers, over-deep or over-large tables are refused with a message.
        """
        return _Copy(self._identity).value(value)

    def _copy_out(self, values: Any) -> list[Any]:
        """Several values as one copy: the size bound covers them together."""
        copy = _Copy(self._identity)
        return [copy.value(v) for v in values]


_LIMIT_KINDS = ("memory", "instructions", "wall")
_MEMORY_ERROR = "not enough memory"


def _past_deadline(clock: Callable[[], float], wall_seconds: float) -> Callable[[], bool]:
    """The hook's question to the host, closed over plain values only (see `_weak`)."""
    deadline = clock() + wall_seconds

    def past_deadline() -> bool:
        return clock() > deadline

    return past_deadline


def _weak(method: Callable[[], None]) -> Callable[[], None]:
    """A sandbox method for Lua to call, without the sandbox/Lua reference cycle.

    lupa keeps alive every Python object it hands to Lua; a strong reference back to the
    sandbox would keep the whole Lua state (up to its memory limit) until the cycle collector
    happens to run.
    """
    ref = weakref.WeakMethod(method)

    def call() -> None:
        bound = ref()
        if bound is not None:
            bound()

    return call


def _as_lua_integer(value: int) -> int:
    """Wrap any int into Lua's 64-bit range (a run id hash may be larger)."""
    return (value + 2**63) % 2**64 - 2**63


def lua_memory_exceeded(limit_bytes: int) -> LimitExceeded:
    return LimitExceeded(
        "memory", f"the procedure used more than {format_bytes(limit_bytes)} of Lua memory"
    )


def host_memory_exceeded(limit_bytes: int | None) -> LimitExceeded:
    """Memory ran out outside Lua (in a primitive, or copying data): the worker's OS limit."""
    limit = f"more than {format_bytes(limit_bytes)}" if limit_bytes else "all the memory it may"
    return LimitExceeded("memory", f"the procedure used {limit} of memory")


def time_limit_exceeded(seconds: float) -> LimitExceeded:
    return LimitExceeded("time", f"the procedure exceeded its {seconds:g} s time limit")


def _decoded(value: Any) -> Any:
    """A Lua string as `str` (invalid UTF-8 replaced); any other value unchanged."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _lua_error_text(exc: Exception) -> str:
    """lupa's message for a Lua error without the traceback, decoded as Lua wrote it."""
    message = str(exc).split("\nstack traceback:")[0]  # lupa decodes it as Latin-1
    return message.encode("latin-1").decode("utf-8", "replace").strip()[:MAX_MESSAGE]


def _lua_data(value: Any, depth: int, left: list[int]) -> Any:
    """Validated plain data for lupa: strings as UTF-8 bytes, nothing lupa would wrap.

    `left` counts down the values this copy may still hold.
    """
    left[0] -= 1
    if left[0] < 0:
        raise SandboxError(f"cannot pass more than {MAX_VALUES_TO_LUA:,} values to Lua at once")
    if value is None or isinstance(value, bool | float | bytes):
        return value
    if isinstance(value, int):
        if lua54.LUA_MININTEGER <= value <= lua54.LUA_MAXINTEGER:
            return value
        raise SandboxError(f"integer {value} does not fit in a Lua integer")
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    if depth >= MAX_DEPTH:
        raise SandboxError(f"data nested deeper than {MAX_DEPTH} levels cannot be passed to Lua")
    if isinstance(value, dict):
        return {_lua_key(k): _lua_data(v, depth + 1, left) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lua_data(v, depth + 1, left) for v in value]
    raise SandboxError(f"cannot pass a {type(value).__name__} to Lua")


def _lua_key(key: Any) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8", "replace")
    if isinstance(key, int | float) and not isinstance(key, bool):
        return str(key).encode()
    raise SandboxError(f"cannot pass a dict key of type {type(key).__name__} to Lua")


class _Copy:
    """One copy of Lua data into plain Python values, bounded in depth and in total size.

    The size bound covers shared subtables too: a table that holds the same subtable twice,
    thirty levels deep, would otherwise expand into 2**30 values.
    """

    def __init__(self, identity: Callable[[Any], Any]) -> None:
        self._identity = identity
        self._left = MAX_ITEMS
        self._path: list[Any] = []

    def value(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise SandboxError("numbers passed to the host must be finite (not inf or nan)")
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        kind = lua54.lua_type(value)
        if kind == "table":
            return self._table(value)
        raise SandboxError(
            f"cannot pass a {kind or 'host'} value to the host; "
            "only nil, booleans, numbers, strings and tables of them"
        )

    def _table(self, table: Any) -> Any:
        if len(self._path) >= MAX_DEPTH:
            raise self._too_deep()
        self._path.append(table)
        try:
            entries = self._entries(table)
            n = len(entries)
            if n and all(type(k) is int and 1 <= k <= n for k, _ in entries):
                array: list[Any] = [None] * n
                for k, v in entries:
                    array[k - 1] = self.value(v)
                return array
            return {_host_key(k): self.value(v) for k, v in entries}
        finally:
            self._path.pop()

    def _entries(self, table: Any) -> list[tuple[Any, Any]]:
        entries = []
        for entry in table.items():
            self._left -= 1
            if self._left < 0:
                raise SandboxError(
                    f"cannot pass more than {MAX_ITEMS:,} values to the host at once"
                )
            entries.append(entry)
        return entries

    def _too_deep(self) -> SandboxError:
        """Cycles are told apart from deep nesting only here, where it is cheap to ask Lua."""
        seen = [self._identity(t) for t in self._path]
        if len(set(seen)) < len(seen):
            return SandboxError("cannot pass a table that contains itself to the host")
        return SandboxError(f"cannot pass tables nested deeper than {MAX_DEPTH} levels to the host")


def _host_key(key: Any) -> str:
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, int | float) and not isinstance(key, bool):
        return str(key)
    raise SandboxError("table keys passed to the host must be strings or numbers")
