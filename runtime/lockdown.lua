-- Trusted code, run once per sandbox before any procedure code. What it needs later is kept
-- in locals and upvalues, which procedures cannot reach once `debug` is gone. It returns the
-- functions the host uses; the Python callables it receives never become reachable either.
local past_deadline, lift, impose, pattern_limit, pattern_cost,
      hook_interval, max_ticks, seed, pattern_budget,
      memory_message, instructions_message, wall_message = ...

local G = _G  -- the state's real globals: emptied below, see `env`
local raw_error, raw_pcall, raw_xpcall, raw_select = error, pcall, xpcall, select
local raw_type, raw_tostring, raw_next = type, tostring, next
local raw_rawget, raw_rawset, raw_rawequal = rawget, rawset, rawequal
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local raw_metatable, sethook, getinfo = debug.getmetatable, debug.sethook, debug.getinfo
local raw_load = load
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local co_status = coroutine.status
local tointeger, log = math.tointeger, math.log
local string_format, string_sub, string_rep = string.format, string.sub, string.rep
local string_find, string_gsub = string.find, string.gsub
local table_sort, table_move, table_concat = table.sort, table.move, table.concat
local table_insert, table_remove = table.insert, table.remove

-- The message Lua raises when an allocation fails (lupa's allocator enforces the limit).
local MEMORY_ERROR = "not enough memory"

-- Fatal conditions --------------------------------------------------------------------------
-- Once set, a fatal condition is re-raised by every protected call, by the hook and by every
-- host function, so no Lua construct can carry on past it.

local fatal = { kind = false, message = false }
local limit_messages = {
  memory = memory_message, instructions = instructions_message, wall = wall_message,
}

local function set_fatal(kind, message)
  if not fatal.kind then
    fatal.kind = kind
    fatal.message = message
  end
end

local function die(kind)
  set_fatal(kind, limit_messages[kind])
  raw_error(fatal.message, 0)
end

-- Library functions are called through wrappers and protected calls, so an error raised in C
-- would name no function ('?') and carry no line. `call_c` makes it read as if the procedure
-- had called the function itself: its line, the function's own name. Errors that already
-- carry a position (raised by Lua code in a callback) pass unchanged.
local POSITION = "^[^\n]-:%d+: "
local function reraise(name, ok, ...)
  if ok then return ... end
  local err = ...
  if fatal.kind then raw_error(fatal.message, 0) end
  if raw_rawequal(err, MEMORY_ERROR) then die("memory") end
  if raw_type(err) == "string" and not string_find(err, POSITION) then
    raw_error((string_gsub(err, "^(bad argument #%d+ to )'%?'", "%1'" .. name .. "'")), 2)
  end
  raw_error(err, 0)
end
local function call_c(name, f, ...)
  return reraise(name, raw_pcall(f, ...))
end

-- Limits -------------------------------------------------------------------------------------
-- They apply while procedure code runs; the host's own calls into Lua are not cut short. The
-- memory cap is lifted whenever Python holds control: lupa aborts the process when one of its
-- pushes from Python fails.
local in_procedure = false
local function enter()
  in_procedure = true
  impose()
end
local function leave()
  in_procedure = false
  lift()
end

-- Instruction budget and deadline: a count hook in the main thread and in every coroutine.
local ticks = 0
local function hook()
  if not in_procedure then return end
  if fatal.kind then raw_error(fatal.message, 0) end
  ticks = ticks + 1
  if ticks > max_ticks then die("instructions") end
  if past_deadline() then die("wall") end
end
sethook(hook, "", hook_interval)

-- Loops inside C library functions never reach the hook; they are paid for up front.
local function charge(steps)
  if not in_procedure or not (steps > 0) then return end
  ticks = ticks + steps / hook_interval
  if ticks > max_ticks then die("instructions") end
end

-- Protected calls and coroutines cannot swallow a fatal condition --------------------------

local function after_protected(ok, ...)
  if not ok then
    if fatal.kind then raw_error(fatal.message, 0) end
    if raw_rawequal((...), MEMORY_ERROR) then die("memory") end
  end
  return ok, ...
end

pcall = function(f, ...)
  return after_protected(raw_pcall(f, ...))
end
-- An error raised by the hook leaves hooks off until the stack unwinds to a protected call, and
-- a message handler runs before that: the procedure's handler must not run then.
xpcall = function(f, handler, ...)
  local function guarded(err)
    if fatal.kind then return err end
    return handler(err)
  end
  return after_protected(raw_xpcall(f, guarded, ...))
end

local function check_argument(value, expected, name, level)
  if raw_type(value) ~= expected then
    raw_error("bad argument #1 to '" .. name .. "' (" .. expected .. " expected, got "
      .. raw_type(value) .. ")", level)
  end
end
local function create(f, name)
  check_argument(f, "function", name, 4)
  local co = co_create(f)
  sethook(co, hook, "", hook_interval)
  return co
end
local function resume(co, ...)
  return after_protected(co_resume(co, ...))
end
local function unwrap(ok, ...)
  if ok then return ... end
  raw_error((...), 0)
end
coroutine.create = function(f)
  local co = create(f, "create")
  return co
end
coroutine.resume = function(co, ...)
  check_argument(co, "thread", "resume", 3)
  return resume(co, ...)
end
coroutine.wrap = function(f)
  local co = create(f, "wrap")
  return function(...) return unwrap(resume(co, ...)) end
end
coroutine.close = function(co)
  -- A coroutine the hook stopped has hooks off: its pending `__close` handlers must not run.
  if fatal.kind then raw_error(fatal.message, 0) end
  check_argument(co, "thread", "close", 3)
  local status = co_status(co)
  if status == "running" or status == "normal" then
    raw_error("cannot close a " .. status .. " coroutine", 2)
  end
  return after_protected(co_close(co))
end

-- Metatables: no finalizers (they would run at any time, even after the run), and the shared
-- string metatable stays out of reach.

setmetatable = function(t, mt)
  if raw_type(mt) == "table" and raw_rawget(mt, "__gc") ~= nil then
    raw_error("__gc metamethods are not allowed in procedures", 2)
  end
  return call_c("setmetatable", raw_setmetatable, t, mt)
end
getmetatable = function(v)
  if raw_type(v) ~= "table" then return nil end
  return raw_getmetatable(v)
end

-- Deterministic iteration: pairs visits keys in a stable order, so a replayed run takes the
-- same path as the first one (the order of `next` depends on string hashing and addresses).

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
pairs = function(t)
  local mt = raw_metatable(t)
  local custom = mt and raw_rawget(mt, "__pairs")
  if custom ~= nil then return custom(t) end
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
      local v = raw_rawget(t, k)
      if v ~= nil then return k, v end
    end
  end, t, nil
end

-- String patterns run in C, where the hook cannot stop them: refuse the pattern and subject
-- pairs whose backtracking could run for too long. The host computes, once per pattern, the
-- longest subject that is safe whatever it contains; only longer subjects are looked at.

local safe_lengths = { find = {}, plain = {}, match = {}, gmatch = {}, gsub = {} }
local function check_pattern(kind, s, p)
  local known = safe_lengths[kind]
  local limit = known[p]
  if limit == nil then
    limit = pattern_limit(p, kind)
    known[p] = limit
  end
  if #s <= limit then return end
  local cost = pattern_cost(s, p, kind)
  if cost > pattern_budget then
    raw_error(string_format(
      "string.%s: pattern %q could run too long on a %d-byte string (about %.2g steps, "
        .. "limit %.2g); use a simpler pattern or a shorter string",
      kind == "plain" and "find" or kind, string_sub(p, 1, 60), #s, cost, pattern_budget), 3)
  end
end

local function guard_pattern_function(kind)
  local f, known = string[kind], safe_lengths[kind]
  string[kind] = function(s, p, ...)
    if raw_type(s) == "number" then s = raw_tostring(s) end  -- as C would coerce them
    if raw_type(p) == "number" then p = raw_tostring(p) end
    if raw_type(s) == "string" and raw_type(p) == "string" then
      if kind == "find" and raw_select(2, ...) then
        check_pattern("plain", s, p)
      elseif #s > (known[p] or -1) then  -- the common case, a known pattern, costs nothing
        check_pattern(kind, s, p)
      end
    end
    return call_c(kind, f, s, p, ...)
  end
end
guard_pattern_function("find")
guard_pattern_function("match")
guard_pattern_function("gmatch")
guard_pattern_function("gsub")

string.rep = function(s, n, sep)
  -- With nothing to copy, C's string.rep still loops n times: answer directly.
  if s == "" and (sep == nil or sep == "") and tointeger(n) then return "" end
  return call_c("rep", string_rep, s, n, sep)
end

-- Table functions whose C loops run as long as a length or a range says. `#t` can be huge
-- for a small table (a border search over sparse keys) or come from `__len`, so it is
-- evaluated once, here, and the loop is paid for before it runs.

local function length(t)
  local n = tointeger(#t)
  if n == nil then raw_error("object length is not an integer", 3) end
  return n
end

local function span(first, last)
  local f, l = tointeger(first), tointeger(last)
  if f and l and l >= f then return l / 1.0 - f + 1 end
  return 0
end

local function sort_cost(n)
  if n < 2 then return 0 end
  return n * log(n, 2)
end

table.move = function(a1, f, e, t, a2)
  charge(span(f, e))
  return call_c("move", table_move, a1, f, e, t, a2)
end

table.concat = function(t, sep, i, j)
  if raw_type(t) == "table" then
    if i == nil then i = 1 end
    if j == nil then j = length(t) end
    charge(span(i, j))
  end
  return call_c("concat", table_concat, t, sep, i, j)
end

table.insert = function(t, ...)
  local count = raw_select("#", ...)
  if count == 1 and raw_type(t) == "table" then
    t[length(t) + 1] = ...  -- appending, as C does it, without its protected call
    return
  end
  if count ~= 2 or raw_type(t) ~= "table" then
    return call_c("insert", table_insert, t, ...)  -- wrong calls fail in C
  end
  local pos, value = ...
  local e = length(t) + 1
  local p = tointeger(pos)
  if p == nil then return call_c("insert", table_insert, t, pos, value) end
  if p < 1 or p > e then raw_error("bad argument #2 to 'insert' (position out of bounds)", 2) end
  if p < e then
    charge(e - p)
    table_move(t, p, e - 1, p + 1)
  end
  t[p] = value
end

table.remove = function(t, ...)
  if raw_type(t) ~= "table" then return call_c("remove", table_remove, t, ...) end
  local size = length(t)
  local pos = size
  if (...) ~= nil then
    pos = tointeger((...))
    if pos == nil then return call_c("remove", table_remove, t, ...) end
    if pos ~= size and (pos < 1 or pos > size + 1) then
      raw_error("bad argument #2 to 'remove' (position out of bounds)", 2)
    end
  end
  local value = t[pos]
  if pos < size then
    charge(size - pos)
    table_move(t, pos + 1, size, pos)
    pos = size
  end
  t[pos] = nil
  return value
end

-- Lua sorts more than RANLIMIT elements around a pivot it picks with the clock (ltablib.c), so
-- elements that compare equal could come out in another order on a replay, and the run take
-- another path. Such a sort breaks ties by position instead, which makes it the same every
-- time (and stable). So does a table with metamethods, which C would read and write through
-- in a loop of its own: it is sorted as a plain copy.
local RANLIMIT = 100
local function by_value_then_position(less)
  return function(a, b)
    if less(a[1], b[1]) then return true end
    if less(b[1], a[1]) then return false end
    return a[2] < b[2]
  end
end
local function default_less(a, b) return a < b end

table.sort = function(t, comp)
  if raw_type(t) ~= "table" then return call_c("sort", table_sort, t, comp) end
  if comp ~= nil and raw_type(comp) ~= "function" then
    raw_error("bad argument #2 to 'sort' (function expected, got " .. raw_type(comp) .. ")", 2)
  end
  local n = length(t)
  if n <= RANLIMIT and raw_metatable(t) == nil then
    charge(sort_cost(n))
    return call_c("sort", table_sort, t, comp)
  end
  charge(2 * span(1, n) + 2 * sort_cost(n))
  local items = {}
  for i = 1, n do items[i] = {t[i], i} end
  call_c("sort", table_sort, items, by_value_then_position(comp or default_less))
  for i = 1, n do t[i] = items[i][1] end
end

-- A run's random numbers are the same on every replay: seeded from the run, not the clock.
local raw_randomseed = math.randomseed
raw_randomseed(seed)
math.randomseed = function(x, y)
  if x == nil then return raw_randomseed(seed) end
  return call_c("randomseed", raw_randomseed, x, y)
end

-- Procedures get an environment of their own, with only the safe parts of the standard
-- library. The state's real globals table is emptied and never handed out: lupa looks up
-- `debug` there on every call from Python, outside any protected call, where a procedure's
-- `__index` or `debug.traceback` would run unguarded (and an error would abort the process).
string.dump = nil
local allowed = {
  _G = true, _VERSION = true, assert = true, error = true, getmetatable = true, ipairs = true,
  next = true, pairs = true, pcall = true, rawequal = true, rawget = true, rawlen = true,
  rawset = true, select = true, setmetatable = true, tonumber = true, tostring = true,
  type = true, xpcall = true, coroutine = true, math = true, string = true, table = true,
  utf8 = true,
}
local env = {}
for name in raw_next, G do
  if allowed[name] then env[name] = G[name] end
  G[name] = nil
end
env._G = env

-- The host's side ----------------------------------------------------------------------------

-- The message of an error value, which need not be a string. A `__tostring` runs under the
-- same limits as the procedure.
local function describe(err)
  local kind = raw_type(err)
  if kind == "string" then return err end
  if kind == "number" then return raw_tostring(err) end
  local mt = raw_metatable(err)
  if mt and raw_rawget(mt, "__tostring") ~= nil then
    local ok, text = raw_pcall(raw_tostring, err)
    if ok and raw_type(text) == "string" then return text end
  end
  return "(error object is a " .. kind .. " value)"
end

local function finish(ok, ...)
  local text
  if not ok then
    local err = ...
    if raw_rawequal(err, MEMORY_ERROR) then set_fatal("memory", memory_message) end
    if not fatal.kind then text = describe(err) end
  end
  leave()
  if fatal.kind then return "fatal" end
  if ok then return "ok", ... end
  return "error", text
end

-- A host function's answer: (true, results...) or (false, message). A Python exception
-- object never reaches Lua code: raw_pcall catches it here and it is dropped.
local function answered(caller_was_procedure, called, ok, ...)
  if caller_was_procedure then enter() end
  if fatal.kind then raw_error(fatal.message, 0) end
  if not called then raw_error("host function failed", 2) end
  if ok then return ... end
  raw_error((...), 2)
end

local api = {}

function api.run(fn, ...)
  enter()
  return finish(raw_pcall(fn, ...))
end

function api.compile(source, chunk_name, mode)
  enter()
  local fn, err = raw_load(source, chunk_name, mode, env)
  leave()
  return fn, err
end

function api.bridge(f)
  return function(...)
    if fatal.kind then raw_error(fatal.message, 0) end
    local caller_was_procedure = in_procedure
    leave()
    return answered(caller_was_procedure, raw_pcall(f, ...))
  end
end

api.leave = leave

-- The line of the innermost procedure code on the stack, for the host to record where a call
-- came from; 0 when there is none. The sandbox's own code and the facades are "=sandbox" and
-- "=trusted"; C functions have no line.
function api.caller_line()
  for level = 2, 200 do
    local info = getinfo(level, "Sl")
    if info == nil then return 0 end
    if info.what ~= "C" and info.source ~= "=sandbox" and info.source ~= "=trusted" then
      return info.currentline or 0
    end
  end
  return 0
end

function api.abort(message)
  set_fatal("host", message)
end

function api.fatal_kind()
  return fatal.kind
end

function api.define(value, ...)
  local t, n = env, raw_select("#", ...)
  for i = 1, n - 1 do
    local name = raw_select(i, ...)
    local nxt = raw_rawget(t, name)
    if nxt == nil then
      nxt = {}
      raw_rawset(t, name, nxt)
    elseif raw_type(nxt) ~= "table" then
      raw_error(name .. " exists and is not a table", 0)
    end
    t = nxt
  end
  raw_rawset(t, (raw_select(n, ...)), value)
end

function api.get(name)
  return raw_rawget(env, name)
end

function api.set(name, value)
  raw_rawset(env, name, value)
end

function api.identity(t)
  return string_format("%p", t)
end

return api
