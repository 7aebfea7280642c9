"""What a `.tac` file declares: the Lua prelude behind `Procedure`, `field`, `Hitl`, `stages`...

A `.tac` file declares itself by running: `Procedure {...}` registers the entry point,
`input {...}` declares parameters in script mode, `Hitl(...)` declares a request. The same prelude
serves two passes over the same file:

- execution (`install`, `entry_point`): the engine runs the file for real; declarations just
  register, and `input`/`params` hold the parameter values;
- the declaration pass (`declaration_pass`), for the loader: the file runs with no inputs and with
  every primitive (`Human`, `State`, `Log`, ...) replaced by a stub that stops the pass, so a
  script's body never really runs, and what was declared is read back as plain data.

The prelude is trusted Lua run with `Sandbox.run_trusted`; no Python object reaches Lua. Its
registry sits in one global (`REGISTRY_GLOBAL`): a procedure can reach it, but only to confuse
itself.

LLM features (`Agent`, `Tool`, `Model`, ...) have stubs that record "not supported" and return a
handle that fails only when used, so a file written for full Tactus still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.errors import LimitExceeded, SandboxError
from runtime.sandbox import Sandbox, SandboxLimits

REGISTRY_GLOBAL = "__hitlbot_declarations"
STOP_MARKER = "<hitlbot: declaration pass stops at "

# Primitives whose first use ends the declaration pass: past that point the file is doing work.
STOPPING_PRIMITIVES = (
    "Human",
    "State",
    "state",
    "Log",
    "Stage",
    "Json",
    "checkpoint",
    "Checkpoint",
    "Step",
    "System",
    "os",
    "Sleep",
    "Retry",
    "File",
    "Iterations",
    "Stop",
    "print",  # the primitives route it to the run's log
)

# Tactus declarations and settings that need an LLM; 0.53.4 and 0.10.0 spellings.
UNSUPPORTED = (
    "Agent",
    "Tool",
    "Toolset",
    "Model",
    "Classify",
    "Specification",
    "Specifications",
    "Mocks",
    "agent",
    "tool",
    "toolset",
    "model",
    "prompt",
    "specifications",
    "default_provider",
    "default_model",
    "max_depth",
    "max_turns",
    "async",
    "return_prompt",
    "error_prompt",
    "status_prompt",
    "require",
)

# Enough to declare things and to reach the first primitive; a loop at the top level is a bug.
DECLARATION_LIMITS = SandboxLimits(
    memory_bytes=32 * 1024 * 1024, instructions=20_000_000, wall_seconds=3.0
)

_PRELUDE = r"""
local registry_name, mode, values, unsupported, stop_marker = ...
local G = _G
local type, error, pairs, ipairs, tostring = type, error, pairs, ipairs, tostring
local rawget, rawset, setmetatable = rawget, rawset, setmetatable

local decl = {
  mode = mode, named = {}, named_order = {}, unnamed = {}, schemas = {},
  hitl = {}, stages = {}, warnings = {}, warned = {}, stopped = nil,
}

-- A copy holding only data (functions, cycles, NaN and infinities dropped): what the host reads.
local huge = math.huge
local function plain(v, depth)
  local t = type(v)
  if t == "number" and (v ~= v or v == huge or v == -huge) then return nil end
  if t == "string" or t == "number" or t == "boolean" then return v end
  if t ~= "table" or depth > 32 then return nil end
  local out = {}
  for k, x in pairs(v) do
    local kt = type(k)
    if kt == "string" or kt == "number" then out[k] = plain(x, depth + 1) end
  end
  return out
end

-- Procedure ---------------------------------------------------------------------------------

local USAGE = "Procedure { input = {...}, output = {...}, function(input) ... end }"

local function register(name, config, fn, level)
  if type(config) ~= "table" then
    error("Procedure expects a table: " .. USAGE, level)
  end
  if fn == nil then
    for _, v in ipairs(config) do
      if type(v) == "function" then fn = v; break end
    end
  end
  if fn == nil and type(rawget(config, "run")) == "function" then fn = config.run end
  if type(fn) ~= "function" then
    local label = name and ("procedure '" .. name .. "'") or "Procedure"
    error(label .. " needs a function: " .. USAGE, level)
  end
  local entry = {name = name, fn = fn, data = plain(config, 0)}
  if name == nil then
    decl.unnamed[#decl.unnamed + 1] = entry
  else
    if decl.named[name] then error("procedure '" .. name .. "' is declared twice", level) end
    decl.named[name] = entry
    decl.named_order[#decl.named_order + 1] = name
  end
  return fn
end

-- level: where the user's call is, seen from this function.
local function declare_procedure(level, a, b, c)
  local ta = type(a)
  if ta == "table" then
    local fn = register(nil, a, nil, level + 1)
    return fn
  end
  if ta == "string" then
    if b == nil then
      return function(config)
        local fn = register(a, config, nil, 3)
        return fn
      end
    end
    if type(b) == "function" then
      local fn = register(a, {}, b, level + 1)
      return fn
    end
    local fn = register(a, b, c, level + 1)
    return fn
  end
  error("Procedure expects a table or a name: " .. USAGE, level)
end

local P = rawget(G, "Procedure")
if type(P) ~= "table" then P = {} end
setmetatable(P, {__call = function(_, ...)
  local r = declare_procedure(3, ...)
  return r
end})
G.Procedure = P
G.procedure = function(...)
  local r = declare_procedure(3, ...)
  return r
end

-- The main procedure, or nil for script mode; nil plus a message when the file is ambiguous.
local function resolve()
  local global_main = rawget(G, "main")
  local chosen
  if decl.named.main then
    if #decl.unnamed > 0 then
      return nil, "both an unnamed Procedure {...} and a procedure named 'main' are declared"
    end
    chosen = decl.named.main
  elseif #decl.unnamed == 1 then
    chosen = decl.unnamed[1]
  elseif #decl.unnamed > 1 then
    for _, e in ipairs(decl.unnamed) do
      if e.fn == global_main then chosen = e end
    end
    if not chosen then
      return nil, "several unnamed Procedure {...} blocks are declared; assign the entry "
        .. "point to main (main = Procedure {...})"
    end
  elseif type(global_main) == "function" then
    return {fn = global_main, label = "function main", data = {}}
  elseif #decl.named_order > 0 then
    return nil, "no main procedure: declared procedures are "
      .. table.concat(decl.named_order, ", ") .. "; name the entry point 'main'"
  else
    return nil
  end
  chosen.label = chosen.name and ("procedure '" .. chosen.name .. "'") or "Procedure {...}"
  return chosen
end

-- input / output / params -------------------------------------------------------------------

local function schema_declaration(kind)
  return function(_, schema)
    if type(schema) ~= "table" then
      error(kind .. " expects a table: " .. kind .. " { name = field.string{required = true} }", 2)
    end
    decl.schemas[kind] = plain(schema, 0)
  end
end
G.input = setmetatable(values, {__call = schema_declaration("input")})
G.params = values
G.output = setmetatable({}, {__call = schema_declaration("output")})

-- field builders ----------------------------------------------------------------------------

local FIELD_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
local field = setmetatable({}, {__index = function(_, k)
  error("unknown field type 'field." .. tostring(k)
    .. "' (known: string, number, integer, boolean, array, object)", 2)
end})
for _, t in ipairs(FIELD_TYPES) do
  rawset(field, t, function(opts)
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then
      error("field." .. t .. " expects a table: field." .. t .. "{required = true}", 2)
    end
    local spec = {}
    for k, v in pairs(opts) do spec[k] = v end
    spec.type = t
    return spec
  end)
end
G.field = field

-- Hitl / hitl / stages ----------------------------------------------------------------------

local HITL_USAGE = "Hitl(\"confirm\", {type = \"approval\", message = \"Proceed?\"})"
local function declare_hitl(level, name, config)
  if type(name) ~= "string" or name == "" then
    error("Hitl expects a name and a table: " .. HITL_USAGE, level)
  end
  if config == nil then
    return function(c) declare_hitl(3, name, c) end
  end
  if type(config) ~= "table" then
    error("Hitl expects a name and a table: " .. HITL_USAGE, level)
  end
  if decl.hitl[name] then error("hitl '" .. name .. "' is declared twice", level) end
  decl.hitl[name] = plain(config, 0)
end
G.Hitl = function(name, config)
  local r = declare_hitl(3, name, config)
  return r
end
G.hitl = G.Hitl

G.stages = function(first, ...)
  local list = first
  if type(first) ~= "table" then list = {first, ...} end
  for _, s in ipairs(list) do
    if type(s) ~= "string" then
      error("stages expects names: stages({\"draft\", \"review\"}) or "
        .. "stages(\"draft\", \"review\")", 2)
    end
    decl.stages[#decl.stages + 1] = s
  end
end

-- unsupported LLM features ------------------------------------------------------------------

local function warn(symbol, message)
  if decl.mode ~= "declare" or decl.warned[symbol] then return end
  decl.warned[symbol] = true
  decl.warnings[#decl.warnings + 1] = {symbol = symbol, message = message}
end

local function failing_handle(kind)
  local message = kind .. " is not supported by hitlbot (it needs an LLM)"
  if kind == "require" then message = "modules cannot be loaded (require) in hitlbot procedures" end
  local function fail() error(message, 2) end
  return setmetatable({}, {__call = fail, __index = function() return fail end})
end

for _, kind in ipairs(unsupported) do
  G[kind] = function(arg)
    warn(kind, kind .. " is not supported by hitlbot and is ignored; using it fails at run time")
    if type(arg) == "string" and kind ~= "require" then
      return function() return failing_handle(kind) end
    end
    return failing_handle(kind)
  end
end

-- what the host reads -------------------------------------------------------------------------

local api = {}
-- Called with no argument, the entry point gets the installed input table, so the host need
-- not hand a Lua table back; 0.10.0-style functions ignore their argument and read `input`.
function api.entry()
  local chosen, why = resolve()
  if not chosen then return nil, why end
  local fn = chosen.fn
  return function(arg, ...)
    if arg == nil then arg = values end
    return fn(arg, ...)
  end
end
function api.collect()
  local chosen, why = resolve()
  return {
    entry = chosen and chosen.label or nil,
    entry_error = why,
    config = chosen and chosen.data or nil,
    input = decl.schemas.input,
    output = decl.schemas.output,
    hitl = decl.hitl,
    stages = decl.stages,
    warnings = decl.warnings,
    stopped = decl.stopped,
  }
end
function api.stop(what, level)
  if decl.stopped == nil then decl.stopped = what end
  error(stop_marker .. what .. ">", level + 1)
end
G[registry_name] = api
"""

# Declaration pass only: every primitive ends the pass where it is first touched.
_STOPS = r"""
local registry_name, names = ...
local api = _G[registry_name]
local function stopper(name)
  return setmetatable({}, {
    __index = function(_, k) api.stop(name .. "." .. tostring(k), 2) end,
    __call = function() api.stop(name, 2) end,
  })
end
for _, name in ipairs(names) do _G[name] = stopper(name) end
rawset(Procedure, "defer", function() api.stop("Procedure.defer", 2) end)
"""


@dataclass
class Declared:
    """What a declaration pass found, as plain data."""

    entry: str | None = None  # "Procedure {...}", "procedure 'main'", "function main"; None: script
    entry_error: str | None = None  # the file's entry point is ambiguous or missing
    config: dict[str, Any] = field(default_factory=dict)  # the main Procedure's table
    input: dict[str, Any] | None = None  # script mode `input {...}`
    output: dict[str, Any] | None = None  # script mode `output {...}`
    hitl: dict[str, Any] = field(default_factory=dict)
    stages: list[Any] = field(default_factory=list)
    unsupported: list[tuple[str, str]] = field(default_factory=list)  # (symbol, message)
    stopped_at: str | None = None  # the primitive that ended the pass, e.g. "Human.approve"
    stop_line: int | None = None  # chunk line of that call, when known
    error: SandboxError | None = None  # a runtime error that ended the pass early


def install(sandbox: Sandbox, input_values: dict) -> None:
    """Prepare a sandbox to execute a `.tac` file: the prelude, and `input`/`params` = values."""
    _install(sandbox, "execute", input_values)


def entry_point(sandbox: Sandbox) -> Any | None:
    """After the chunk ran: the main Lua function, or None.

    Call it with the input values (`sandbox.call(fn, values)`) or with nothing, and it gets the
    installed `input` table. None means script mode: the chunk itself was the body.
    Raises `SandboxError` when the file declares procedures but no main one can be told apart.
    """
    fn, why = _results(_ask_registry(sandbox, "entry"))
    if fn is None and why is not None:
        raise SandboxError(str(why))
    return fn


def declaration_pass(source: str, limits: SandboxLimits = DECLARATION_LIMITS) -> Declared:
    """Run a `.tac` file with stubs to read its declarations.

    Raises `SandboxError` (with `.line`) for a syntax error or declarations that cannot be read
    back, and `LimitExceeded` when the top-level code runs away. A runtime error or a stop is
    reported in the result, not raised: whether it matters depends on the file (script mode or
    not), which is the loader's call.
    """
    sandbox = Sandbox(limits)
    _install(sandbox, "declare", {})
    sandbox.run_trusted(_STOPS, REGISTRY_GLOBAL, sandbox.to_lua(STOPPING_PRIMITIVES))
    chunk = sandbox.compile(source, "procedure")
    failure: SandboxError | None = None
    try:
        sandbox.call(chunk)
    except LimitExceeded:
        raise
    except SandboxError as exc:
        failure = exc
    return _collect(sandbox, failure)


def _install(sandbox: Sandbox, mode: str, values: dict) -> None:
    sandbox.run_trusted(
        _PRELUDE,
        REGISTRY_GLOBAL,
        mode,
        sandbox.to_lua(dict(values)),
        sandbox.to_lua(UNSUPPORTED),
        STOP_MARKER,
    )


def _ask_registry(sandbox: Sandbox, function: str) -> Any:
    """Call the prelude's `api.<function>()`; Lua's failures come back as `SandboxError`.

    The registry is reachable from the procedure, which may have broken it; a limit reached
    meanwhile is reported as the limit it is.
    """
    try:
        return sandbox.run_trusted(f"return {REGISTRY_GLOBAL}.{function}()")
    except Exception as exc:  # lupa's LuaError: never let it past the runtime's boundary
        if sandbox.fatal is not None:
            raise sandbox.fatal from None
        raise SandboxError(f"cannot read the procedure's declarations: {exc}") from None


def _collect(sandbox: Sandbox, failure: SandboxError | None) -> Declared:
    raw = sandbox.to_python(_ask_registry(sandbox, "collect"))
    stop_line = None
    if failure is not None and STOP_MARKER in str(failure):
        stop_line, failure = failure.line, None
    elif failure is not None and raw.get("stopped"):
        failure = None  # stopped, the stop swallowed by pcall, then something else broke
    return Declared(
        entry=raw.get("entry"),
        entry_error=raw.get("entry_error"),
        config=_mapping(raw.get("config")),
        input=raw.get("input"),
        output=raw.get("output"),
        hitl=_mapping(raw.get("hitl")),
        stages=_sequence(raw.get("stages")),
        unsupported=[(w["symbol"], w["message"]) for w in _sequence(raw.get("warnings"))],
        stopped_at=raw.get("stopped"),
        stop_line=stop_line,
        error=failure,
    )


def _results(value: Any) -> tuple[Any, Any]:
    if isinstance(value, tuple):
        return (*value, None, None)[:2]
    return value, None


def _mapping(value: Any) -> dict[str, Any]:
    """Lua cannot tell `{}` from an empty list; for a mapping, an empty anything is `{}`."""
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
