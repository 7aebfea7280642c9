"""The Lua sandbox: one hardened Lua 5.4 state per execution.

What a procedure can reach is decided here and nowhere else:

- Only the safe parts of the standard library; no `python`, `io`, `load`, `require`, `package`,
  `debug`, `string.dump`, `collectgarbage`, `print` to stdout, and `os` reduced to the recorded
  `time`/`date`/`clock` the primitives install.
- No Python object is ever handed to Lua. Host functions are wrapped in Lua closures whose only
  reference to Python is an upvalue, unreachable without `debug`; arguments cross as plain data
  (Lua tables are copied into dicts and lists, results are copied into fresh Lua tables).
- Limits per execution: memory (lupa's allocator cap), an instruction budget and a wall-clock
  deadline (a count hook, installed in every coroutine too).
- A fatal condition (a suspension, a limit) cannot be caught by Lua: `pcall`, `xpcall` and
  `coroutine.resume` re-raise it, the hook keeps raising it, and every host function refuses to
  run once it is set. Even if Lua found a way to carry on, nothing it did would be observable,
  and `execute` reports the fatal condition, not Lua's result.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lupa.lua54 as lua54

from runtime.errors import LimitExceeded, ProcedureWaitingForHuman, SandboxError

# Instructions between two runs of the count hook. Small enough to stop a loop fast, large
# enough that the hook costs about 1% of the run.
HOOK_INTERVAL = 10_000
MAX_DEPTH = 100
MAX_ITEMS = 100_000

_FATAL_TYPES: tuple[type[BaseException], ...] = (ProcedureWaitingForHuman, LimitExceeded)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits. Defaults suit glue code that waits on people, not number crunching."""

    memory_bytes: int = 64 * 1024 * 1024
    instructions: int = 200_000_000
    wall_seconds: float = 30.0


def _deny_attribute(obj: Any, name: Any, is_setting: bool) -> Any:
    """lupa attribute filter: no attribute of any Python object is reachable from Lua."""
    raise AttributeError("Python objects are not accessible from procedures")


# Trusted Lua run once per sandbox before any procedure code. It receives the host table
# (Python callables, kept only as locals/upvalues here) and locks the environment down.
_LOCKDOWN = r"""
local host, flags, hook_interval = ...
local raw_pcall, raw_xpcall, raw_error, raw_select = pcall, xpcall, error, select
local raw_setmetatable, raw_getmetatable, raw_type = setmetatable, getmetatable, type
local co_create, co_resume, co_status = coroutine.create, coroutine.resume, coroutine.status
local sethook = debug.sethook
local table_pack, table_unpack = table.pack, table.unpack
local string_find = string.find

local function check_fatal()
  if flags.aborted then raw_error(flags.message, 0) end
end

local function is_memory_error(err)
  return raw_type(err) == "string" and string_find(err, "not enough memory", 1, true) ~= nil
end

local function after_protected(ok, ...)
  if not ok then
    if flags.aborted then raw_error(flags.message, 0) end
    if is_memory_error((...)) then host.fatal("memory") end
  end
  return ok, ...
end

local ticks = 0
local max_ticks = flags.max_ticks
local function hook()
  if flags.aborted then raw_error(flags.message, 0) end
  ticks = ticks + 1
  if ticks > max_ticks then host.fatal("instructions") end
  if host.past_deadline() then host.fatal("wall") end
end
sethook(hook, "", hook_interval)

pcall = function(f, ...)
  return after_protected(raw_pcall(f, ...))
end
xpcall = function(f, handler, ...)
  return after_protected(raw_xpcall(f, handler, ...))
end

local function create(f)
  local co = co_create(f)
  sethook(co, hook, "", hook_interval)
  return co
end
local function resume(co, ...)
  return after_protected(co_resume(co, ...))
end
coroutine.create = create
coroutine.resume = resume
coroutine.wrap = function(f)
  local co = create(f)
  return function(...)
    local r = table_pack(resume(co, ...))
    if r[1] then return table_unpack(r, 2, r.n) end
    raw_error(r[2], 0)
  end
end
coroutine.close = nil

setmetatable = function(t, mt)
  if raw_type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    raw_error("__gc metamethods are not allowed in procedures", 2)
  end
  return raw_setmetatable(t, mt)
end
getmetatable = function(v)
  if raw_type(v) == "userdata" then return nil end
  return raw_getmetatable(v)
end

-- Deterministic iteration: pairs visits keys in a stable order, so a replayed run takes the
-- same path as the first one (string hashing is seeded per Lua state).
local function key_rank(k)
  local t = raw_type(k)
  if t == "number" then return 1 end
  if t == "string" then return 2 end
  if t == "boolean" then return 3 end
  return 4
end
local function key_less(a, b)
  local ra, rb = key_rank(a), key_rank(b)
  if ra ~= rb then return ra < rb end
  if ra == 3 then return (not a) and b end
  if ra == 4 then return false end
  return a < b
end
local raw_next, table_sort = next, table.sort
pairs = function(t)
  local mt = raw_getmetatable(t)
  if mt ~= nil and raw_type(mt) == "table" and mt.__pairs then return mt.__pairs(t) end
  if raw_type(t) ~= "table" then
    raw_error("bad argument #1 to 'pairs' (table expected, got " .. raw_type(t) .. ")", 2)
  end
  local keys, n = {}, 0
  for k in raw_next, t do n = n + 1; keys[n] = k end
  table_sort(keys, key_less)
  local i = 0
  return function()
    while true do
      i = i + 1
      local k = keys[i]
      if k == nil then return nil end
      local v = t[k]
      if v ~= nil then return k, v end
    end
  end, t, nil
end

-- String pattern functions run in C, where the instruction hook cannot stop them; refuse the
-- pattern/subject pairs whose backtracking could run for minutes.
local guard = host.pattern_guard
for _, name in ipairs({"find", "match", "gmatch", "gsub"}) do
  local f = string[name]
  string[name] = function(s, pattern, ...)
    if raw_type(s) == "string" and raw_type(pattern) == "string" and #s > 256 then
      local plain = (name == "find") and raw_select(2, ...)
      if not plain then guard(#s, pattern) end
    end
    return f(s, pattern, ...)
  end
end
string.dump = nil

-- A run's random numbers are the same on every replay: seeded from the run, not the clock.
local raw_randomseed = math.randomseed
raw_randomseed(flags.seed)
math.randomseed = function(x) raw_randomseed(x) end
"""

_REMOVED_GLOBALS = (
    "python",
    "io",
    "os",
    "load",
    "loadstring",
    "dofile",
    "loadfile",
    "require",
    "package",
    "debug",
    "collectgarbage",
    "print",
    "warn",
    "module",
    "setfenv",
    "getfenv",
    "newproxy",
    "unpack",
)

_LINE_RE = re.compile(r'\[string "[^"]*"\]:(\d+):\s*')


def pattern_cost(subject_length: int, pattern: str) -> float:
    """Worst-case steps of Lua's backtracking matcher for a pattern over a subject.

    Each `*`, `+` or `-` quantifier can scan the rest of the subject for every way the items
    before it matched; an unanchored search repeats all of that from every start position.
    """
    quantifiers = 0
    i = 0
    in_set = False
    while i < len(pattern):
        c = pattern[i]
        if c == "%":
            i += 2
            continue
        if in_set:
            if c == "]":
                in_set = False
        elif c == "[":
            in_set = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c in "*+-" and i > 0:
            quantifiers += 1
        i += 1
    exponent = quantifiers + (0 if pattern.startswith("^") else 1)
    return float(subject_length) ** exponent if quantifiers else float(subject_length)


PATTERN_BUDGET = 2e10


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
        self._clock = clock
        self._deadline = clock() + self.limits.wall_seconds
        self._fatal: BaseException | None = None
        self._lua = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attribute,
            max_memory=self.limits.memory_bytes,
        )
        self._flags = self._lua.table_from(
            {
                "aborted": False,
                "message": "",
                "max_ticks": max(1, self.limits.instructions // HOOK_INTERVAL),
                "seed": seed,
            }
        )
        host = self._lua.table_from(
            {
                "fatal": self._fatal_from_lua,
                "past_deadline": self._past_deadline,
                "pattern_guard": self._pattern_guard,
            }
        )
        # Host functions reach Lua only through this wrapper: it refuses to run after a fatal
        # condition, and turns a Python error into a plain string (never an exception object),
        # positioned at the procedure line that made the call.
        self._wrap = self._lua.eval(
            """(function(pcall, error, tostring)
              return function(flags, f)
                local function finish(ok, ...)
                  if ok then return ... end
                  if flags.aborted then error(flags.message, 0) end
                  error(tostring((...)), 2)
                end
                return function(...)
                  if flags.aborted then error(flags.message, 0) end
                  return finish(pcall(f, ...))
                end
              end
            end)(pcall, error, tostring)"""
        )
        # Text-only `load`, captured before the global is removed: binary chunks can corrupt
        # the Lua VM, so they are never accepted.
        self._load = self._lua.eval(
            "(function(load) return function(src, name) return load(src, '=' .. name, 't') end"
            " end)(load)"
        )
        self._lua.execute(_LOCKDOWN, host, self._flags, HOOK_INTERVAL)
        g = self._lua.globals()
        for name in _REMOVED_GLOBALS:
            g[name] = None
        self._identity = self._lua.eval("function(t) return string.format('%p', t) end")

    # -- host side --------------------------------------------------------------------------

    @property
    def fatal(self) -> BaseException | None:
        """The condition that ended this execution (a suspension or a limit), if any."""
        return self._fatal

    def abort(self, exc: BaseException) -> None:
        """Make `exc` the unrecoverable outcome of this execution."""
        if self._fatal is None:
            self._fatal = exc
            self._flags.aborted = True
            self._flags.message = str(exc)

    def _fatal_from_lua(self, kind: str) -> None:
        limits = {
            "memory": f"{self.limits.memory_bytes // (1024 * 1024)} MiB",
            "instructions": f"{self.limits.instructions:,} instructions",
            "wall": f"{self.limits.wall_seconds:g} s of wall time",
        }
        exc = LimitExceeded({"wall": "wall-clock"}.get(kind, kind), limits.get(kind, kind))
        self.abort(exc)
        raise exc

    def _past_deadline(self) -> bool:
        return self._clock() > self._deadline

    def _pattern_guard(self, subject_length: int, pattern: str) -> None:
        if pattern_cost(subject_length, pattern) > PATTERN_BUDGET:
            raise SandboxError(
                f"string pattern {pattern[:40]!r} is too costly for a subject of "
                f"{subject_length} characters; simplify the pattern or split the text"
            )

    def define(self, path: str, fn: Callable[..., Any]) -> None:
        """Expose `fn` to Lua as `path` (e.g. "Human.approve" or "__host.log").

        `fn` receives plain Python values and returns plain values (a tuple for several Lua
        results). A `HitlbotError` or `ValueError` it raises becomes a catchable Lua error with
        its message; a suspension or limit becomes fatal.
        """
        bridged = self._wrap(self._flags, self._bridge(fn))
        g = self._lua.globals()
        *parents, leaf = path.split(".")
        table = g
        for part in parents:
            nxt = table[part]
            if nxt is None:
                nxt = self._lua.table()
                table[part] = nxt
            table = nxt
        table[leaf] = bridged

    def _bridge(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        to_python, to_lua = self.to_python, self.to_lua

        def bridged(*args: Any) -> Any:
            try:
                result = fn(*(to_python(a) for a in args))
            except _FATAL_TYPES as exc:
                self.abort(exc)
                raise
            except SandboxError:
                raise
            except Exception as exc:  # every error must reach Lua as a message
                raise SandboxError(str(exc) or type(exc).__name__) from exc
            if isinstance(result, tuple):
                return tuple(to_lua(v) for v in result)
            return to_lua(result)

        return bridged

    def set_global(self, name: str, value: Any) -> None:
        self._lua.globals()[name] = self.to_lua(value)

    def get_global(self, name: str) -> Any:
        return self._lua.globals()[name]

    def run_trusted(self, code: str, *args: Any) -> Any:
        """Run our own Lua (facades over host functions) with the given arguments."""
        return self._lua.execute(code, *args)

    def execute(self, source: str, chunk_name: str = "procedure") -> list[Any]:
        """Compile and run untrusted code; return its results as plain Python values."""
        fn = self.compile(source, chunk_name)
        return self.call(fn)

    def compile(self, source: str, chunk_name: str = "procedure") -> Any:
        try:
            loaded = self._load(source, chunk_name)
        except lua54.LuaError as exc:  # memory while compiling a huge file
            raise SandboxError(f"cannot compile procedure: {exc}") from exc
        if isinstance(loaded, tuple):  # nil, message
            message = str(loaded[1])
            raise SandboxError(_clean_message(message), line=_line_of(message))
        return loaded

    def call(self, fn: Any, *args: Any) -> list[Any]:
        """Call a Lua function under the limits. Raises the fatal condition if one was set."""
        try:
            results = fn(*(self.to_lua(a) for a in args))
        except _FATAL_TYPES:
            raise self._fatal or ProcedureWaitingForHuman("?", "?") from None
        except lua54.LuaMemoryError:
            self.abort(LimitExceeded("memory", f"{self.limits.memory_bytes // 2**20} MiB"))
            raise self._fatal from None  # type: ignore[misc]
        except lua54.LuaError as exc:
            if self._fatal is not None:
                raise self._fatal from None
            message = str(exc)
            if "not enough memory" in message:
                self.abort(LimitExceeded("memory", f"{self.limits.memory_bytes // 2**20} MiB"))
                raise self._fatal from None  # type: ignore[misc]
            raise SandboxError(_clean_message(message), line=_line_of(message)) from None
        except SandboxError:
            if self._fatal is not None:
                raise self._fatal from None
            raise
        except RecursionError:
            raise SandboxError("stack overflow (recursion too deep)") from None
        if self._fatal is not None:
            raise self._fatal
        if not isinstance(results, tuple):
            results = (results,)
        return [self.to_python(r) for r in results]

    # -- value conversion ---------------------------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        """Copy plain Python data into fresh Lua values (lists become 1-based arrays)."""
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, dict | list | tuple):
            return self._lua.table_from(_plain(value), recursive=True)
        raise SandboxError(f"cannot pass a {type(value).__name__} to Lua")

    def to_python(self, value: Any, _depth: int = 0, _seen: set[int] | None = None) -> Any:
        """Copy a Lua value into plain data: tables with keys 1..n become lists, others dicts."""
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise SandboxError("numbers passed to the host must be finite")
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        kind = lua54.lua_type(value)
        if kind == "table":
            return self._table_to_python(value, _depth, _seen or set())
        raise SandboxError(f"cannot pass a {kind or 'host'} value where data is expected")

    def _table_to_python(self, table: Any, depth: int, seen: set[int]) -> Any:
        if depth >= MAX_DEPTH:
            raise SandboxError(f"table nested deeper than {MAX_DEPTH} levels")
        key = self._identity(table)
        if key in seen:
            raise SandboxError("cannot pass a table that contains itself")
        seen = seen | {key}
        items: list[tuple[Any, Any]] = []
        for count, (k, v) in enumerate(table.items(), start=1):
            if count > MAX_ITEMS:
                raise SandboxError(f"table has more than {MAX_ITEMS} entries")
            items.append((k, v))
        n = len(items)
        int_keys = [k for k, _ in items if isinstance(k, int) and not isinstance(k, bool)]
        if n and len(int_keys) == n and set(int_keys) == set(range(1, n + 1)):
            ordered = sorted(items, key=lambda kv: kv[0])
            return [self.to_python(v, depth + 1, seen) for _, v in ordered]
        result: dict[str, Any] = {}
        for k, v in items:
            if isinstance(k, bytes):
                k = k.decode("utf-8", errors="replace")
            if isinstance(k, bool) or not isinstance(k, str | int | float):
                raise SandboxError("table keys passed to the host must be strings or numbers")
            result[str(k) if not isinstance(k, str) else k] = self.to_python(v, depth + 1, seen)
        return result


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _line_of(message: str) -> int | None:
    m = re.search(r":(\d+):", message)
    return int(m.group(1)) if m else None


def _clean_message(message: str) -> str:
    """Lua messages name chunks like `procedure:12:`; keep that, drop lupa's noise."""
    message = _LINE_RE.sub(lambda m: f"line {m.group(1)}: ", message)
    return message.replace("stack traceback:", "").strip().splitlines()[0]
