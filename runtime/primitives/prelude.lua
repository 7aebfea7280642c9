-- Lua facades over the host functions. Procedures see only these Lua tables and closures;
-- `host` (the bridged Python functions) stays a local of this chunk.
local host = ...
local error, type, select, setmetatable, tostring = error, type, select, setmetatable, tostring
local table_concat = table.concat

-- Accept both `T.f(x)` and `T:f(x)`: a colon call passes the table itself first.
local function method(tbl, fn)
  return function(a, ...)
    if a == tbl then return fn(...) end
    return fn(a, ...)
  end
end

local function strict(name, tbl, known)
  return setmetatable(tbl, {
    __index = function(_, key)
      error(name .. "." .. tostring(key) .. " does not exist (" .. known .. ")", 2)
    end,
  })
end

Human = {}
for _, name in ipairs({"approve", "input", "review", "escalate", "select", "multiple", "inputs"}) do
  Human[name] = method(Human, function(opts) return host.human_call(name, opts) end)
end
Human.notify = method(Human, function(opts) host.human_notify(opts) end)
strict("Human", Human,
  "approve, input, review, notify, escalate, select, multiple, inputs")

State = {}
State.get = method(State, function(key, default) return host.state_get(key, default) end)
State.set = method(State, function(key, value) host.state_set(key, value) end)
State.increment = method(State, function(key, n) return host.state_increment(key, n) end)
State.append = method(State, function(key, value) return host.state_append(key, value) end)
State.all = method(State, function() return host.state_all() end)
State.clear = method(State, function() host.state_clear() end)
State.delete = method(State, function(key) host.state_delete(key) end)
strict("State", State, "get, set, increment, append, all, clear, delete")
state = setmetatable({}, {
  __index = function(_, key) return host.state_get(key) end,
  __newindex = function(_, key, value) host.state_set(key, value) end,
})

Log = {}
for _, level in ipairs({"debug", "info", "warn", "warning", "error"}) do
  Log[level] = method(Log, function(message, context) host.log(level, message, context) end)
end
strict("Log", Log, "debug, info, warn, warning, error")
print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  host.log("info", table_concat(parts, "\t"))
end

Stage = {}
Stage.set = method(Stage, function(name) host.stage_set(name) end)
Stage.current = method(Stage, function() return host.stage_current() end)
Stage.advance = method(Stage, function() return host.stage_advance() end)
Stage.is = method(Stage, function(name) return host.stage_current() == name end)
Stage.history = method(Stage, function() return host.stage_history() end)
Stage.count = method(Stage, function() return host.stage_count() end)
Stage.clear_history = method(Stage, function() host.stage_clear_history() end)
strict("Stage", Stage, "set, current, advance, is, history, count, clear_history")

Json = {}
Json.encode = method(Json, function(value) return host.json_encode(value) end)
Json.decode = method(Json, function(text) return host.json_decode(text) end)
strict("Json", Json, "encode, decode")

System = {}
System.alert = method(System, function(opts) host.alert(opts) end)
strict("System", System, "alert")

-- checkpoint(fn): run fn once per run; on replay return what it returned the first time.
-- Only fn's first result is kept, as plain data.
function checkpoint(fn)
  if type(fn) ~= "function" then error("checkpoint takes a function", 2) end
  local position, found, value = host.checkpoint_begin()
  if found then return value end
  return host.checkpoint_end(position, (fn()))
end
Step = { checkpoint = checkpoint }
Checkpoint = { next_position = function() return host.next_position() end }

os = {
  time = function(t) return host.os_time(t) end,
  date = function(format, t) return host.os_date(format, t) end,
  clock = function() return host.os_clock() end,
}
