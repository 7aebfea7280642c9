"""The escape corpus: procedures that try to reach the host, outlive a limit or a suspension, or
stall the process. Each attack must fail cleanly (an error with a clear message, a limit, a
suspension, or the dangerous thing simply being nil) and leave the host and the process as they
were: no secret read, no host function run after the end, other sandboxes still working.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from runtime.errors import LimitExceeded, ProcedureWaitingForHuman, SandboxError
from runtime.sandbox import Sandbox, SandboxLimits

SECRET_NAME = "HITLBOT_ESCAPE_TEST_SECRET"
SECRET = "xoxb-escape-test-4f9d1c"
LIMITS = SandboxLimits(memory_bytes=16 * 1024 * 1024, instructions=5_000_000, wall_seconds=60)
# 51 keys at powers of two: Lua's border search makes `#t` 2^50 for this small table.
SPARSE = "{" + ",".join(f"[{1 << i}]=1" for i in range(51)) + "}"
SPARSE_31 = "{" + ",".join(f"[{1 << i}]=1" for i in range(31)) + "}"  # `#t` is 2^30


@dataclass(frozen=True)
class Expect:
    """What an attack must end in: an exception type and message, or results passing a check."""

    raises: type[BaseException] | None = None
    message: str = ""
    check: Callable[[list[Any]], bool] | None = None


def fails(message: str) -> Expect:
    return Expect(SandboxError, message)


LIMIT_MESSAGES = {
    "memory": r"^the procedure used more than \d+ [KM]iB of Lua memory$",
    "instructions": r"^the procedure ran more than [\d,]+ instructions$",
}


def hits(limit: str) -> Expect:
    return Expect(LimitExceeded, LIMIT_MESSAGES[limit])


def returns(check: Callable[[list[Any]], bool]) -> Expect:
    return Expect(check=check)


SUSPENDS = Expect(ProcedureWaitingForHuman, "waiting for human response")
ALL_NIL = returns(lambda values: bool(values) and all(v is None for v in values))
NIL_GLOBAL = fails(r"attempt to (index|call) a nil value \(global '\w+'\)")
INDEX_FUNCTION = fails(r"attempt to index a function value \(field 'fn'\)")
TOO_COSTLY = fails(r"string\.\w+: pattern .* could run too long on a \d+-byte string")


def only_plain_strings(values: list[Any]) -> bool:
    return all(
        isinstance(v, str) and re.fullmatch(r"(function|table): 0x[0-9a-f]+", v) for v in values
    )


def no_host_values(values: list[Any]) -> bool:
    """The walk of everything reachable found only Lua types, no userdata (Python objects)."""
    (kinds,) = values
    return "userdata" not in kinds and "table" in kinds and "function" in kinds


CORPUS = [
    # -- Tactus §8.3: the known escapes ------------------------------------------------------
    pytest.param("return python.eval(\"__import__('os').getcwd()\")", NIL_GLOBAL, id="python-eval"),
    pytest.param("return python.builtins.getattr", NIL_GLOBAL, id="python-builtins-getattr"),
    pytest.param(
        "return rawget(_G, 'python'), _ENV.python, _G['python']", ALL_NIL, id="python-raw"
    ),
    pytest.param(
        "return package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')",
        NIL_GLOBAL,
        id="package-loadlib",
    ),
    pytest.param(f"return os.getenv('{SECRET_NAME}')", NIL_GLOBAL, id="os-getenv-secret"),
    pytest.param(
        "return io, os, load, loadstring, dofile, loadfile, require, package, debug, "
        "string.dump, collectgarbage, print",
        ALL_NIL,
        id="dangerous-globals-are-nil",
    ),
    pytest.param("os.exit(1)", NIL_GLOBAL, id="os-exit-absent"),
    pytest.param("return Host.fn.__self__", INDEX_FUNCTION, id="host-fn-self"),
    pytest.param("return Host.fn.__globals__", INDEX_FUNCTION, id="host-fn-globals"),
    pytest.param("return Host.fn.func_globals", INDEX_FUNCTION, id="host-fn-func-globals"),
    pytest.param(
        "return getmetatable(Host.fn), getmetatable(Host)", ALL_NIL, id="host-fn-metatable"
    ),
    pytest.param(
        "return tostring(Host.fn), string.format('%s', Host.fn), tostring(Host)",
        returns(only_plain_strings),
        id="host-fn-tostring",
    ),
    pytest.param(
        "local ok, e = xpcall(Host.fail, function(e) return type(e) end) return e",
        returns(lambda v: v == ["string"]),
        id="host-exception-object-in-handler",
    ),
    pytest.param(
        """
        local seen, kinds, todo = {}, {}, {_G}
        while #todo > 0 do
          local v = table.remove(todo)
          kinds[type(v)] = true
          if type(v) == "table" and not seen[v] then
            seen[v] = true
            for k, x in next, v do todo[#todo + 1] = k; todo[#todo + 1] = x end
            todo[#todo + 1] = getmetatable(v)
          end
        end
        local names = {}
        for kind in pairs(kinds) do names[#names + 1] = kind end
        return table.concat(names, ",")
        """,
        returns(no_host_values),
        id="next-walk-reaches-no-host-object",
    ),
    pytest.param(
        "local ok = pcall(Host.wait) Host.record('escaped') return ok",
        SUSPENDS,
        id="pcall-swallows-suspension",
    ),
    pytest.param(
        "local ok = xpcall(Host.wait, function() return 'handled' end) Host.record('escaped')",
        SUSPENDS,
        id="xpcall-swallows-suspension",
    ),
    pytest.param(
        "local co = coroutine.create(Host.wait) coroutine.resume(co) Host.record('escaped')",
        SUSPENDS,
        id="coroutine-resume-swallows-suspension",
    ),
    pytest.param(
        "pcall(coroutine.wrap(function() Host.wait() end)) Host.record('escaped')",
        SUSPENDS,
        id="coroutine-wrap-swallows-suspension",
    ),
    pytest.param(
        """
        local ok = pcall(function()
          local guard <close> = setmetatable({}, {__close = function() error("replaced", 0) end})
          Host.wait()
        end)
        Host.record('escaped')
        """,
        SUSPENDS,
        id="close-variable-replaces-suspension",
    ),
    pytest.param(
        """
        local co = coroutine.create(function()
          local guard <close> = setmetatable({}, {__close = function() end})
          coroutine.yield()
          Host.wait()
        end)
        coroutine.resume(co)
        pcall(coroutine.resume, co)
        pcall(coroutine.close, co)
        Host.record('escaped')
        """,
        SUSPENDS,
        id="coroutine-close-swallows-suspension",
    ),
    pytest.param(
        """
        local co = coroutine.wrap(function()
          while true do pcall(coroutine.yield) Host.record('escaped') end
        end)
        co()
        local guard <close> = setmetatable({}, {__close = function() pcall(co) end})
        Host.wait()
        """,
        SUSPENDS,
        id="resume-after-suspension",
    ),
    # -- metatables ----------------------------------------------------------------------------
    pytest.param(
        "return getmetatable(''), getmetatable('').__index",
        fails(r"attempt to index a nil value"),
        id="string-metatable-index",
    ),
    pytest.param("return ('x').dump, string.dump", ALL_NIL, id="string-dump-via-method"),
    pytest.param(
        "setmetatable({}, {__gc = function() Host.record('escaped') end})",
        fails(r"__gc metamethods are not allowed"),
        id="gc-finalizer",
    ),
    pytest.param(
        """
        local real = rawget
        rawget = function() return nil end
        setmetatable({}, {__gc = function() while true do end end})
        """,
        fails(r"__gc metamethods are not allowed"),
        id="gc-finalizer-rawget-replaced",
    ),
    pytest.param(
        """
        local mt = {}
        junk = setmetatable({}, mt)
        mt.__gc = function() Host.record('escaped') end
        junk = nil
        return 1
        """,
        returns(lambda v: v == [1]),
        id="gc-added-after-setmetatable",
    ),
    pytest.param(
        "local t = setmetatable({}, {}) getmetatable(t).__index = t return t.x",
        fails(r"'__index' chain too long"),
        id="index-chain-loop",
    ),
    pytest.param(
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
        fails(r"stack overflow"),
        id="index-function-recursion",
    ),
    pytest.param(
        "setmetatable(_G, {__index = function() while true do end end, "
        "__newindex = function() end}) return 1",
        returns(lambda v: v == [1]),
        id="global-table-metatable",
    ),
    pytest.param(
        "local names = {} for k in pairs(_ENV) do names[#names + 1] = k end "
        "return _ENV == _G, _ENV.debug, _ENV.io, #names",
        returns(lambda v: v[0] is True and v[1] is None and v[2] is None and v[3] <= 30),
        id="reaching-env",
    ),
    # -- limits from inside protected calls and coroutines -----------------------------------
    pytest.param(
        "coroutine.wrap(function() while true do end end)()",
        hits("instructions"),
        id="loop-in-coroutine-wrap",
    ),
    pytest.param(
        "local co = coroutine.create(function() while true do end end) "
        "local ok, e = coroutine.resume(co) Host.record('escaped') return ok",
        hits("instructions"),
        id="loop-in-coroutine-create",
    ),
    pytest.param(
        "xpcall(error, function() while true do end end) Host.record('escaped')",
        hits("instructions"),
        id="xpcall-handler-loops-forever",
    ),
    pytest.param(
        "local ok = pcall(function() while true do end end) Host.record('escaped') return ok",
        hits("instructions"),
        id="pcall-swallows-instruction-limit",
    ),
    pytest.param(
        "local ok = pcall(string.rep, 'x', 1e9) Host.record('escaped') return ok",
        hits("memory"),
        id="pcall-swallows-memory-limit",
    ),
    pytest.param(
        "local s = string.rep('x', 14 * 2^20) local b = Host.big() return #(b .. s)",
        hits("memory"),
        id="host-result-into-full-memory",
    ),
    pytest.param(
        "local s = string.rep('x', 14 * 2^20) local ok, b = pcall(Host.big) "
        "return ok and #(b .. s)",
        hits("memory"),
        id="host-result-into-full-memory-under-pcall",
    ),
    pytest.param(
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
        hits("instructions"),
        id="error-tostring-loops-forever",
    ),
    pytest.param(
        "error(setmetatable({}, {__tostring = function() return 'custom message' end}))",
        fails(r"^custom message$"),
        id="error-object-with-tostring",
    ),
    pytest.param(
        "error({code = 42})", fails(r"^\(error object is a table value\)$"), id="error-table"
    ),
    pytest.param(
        "error(Host.fn)", fails(r"^\(error object is a function value\)$"), id="error-function"
    ),
    pytest.param("error()", fails(r"^\(error object is a nil value\)$"), id="error-nil"),
    pytest.param(
        "error(string.rep('x', 1e6))",
        fails(r"^procedure:1: x{100}"),
        id="error-megabyte-message",
    ),
    # -- C-level work the count hook cannot interrupt -----------------------------------------
    pytest.param(
        "return string.find(string.rep('a', 1e5), '.-.-.-b')", TOO_COSTLY, id="pattern-find-lazy"
    ),
    pytest.param(
        "return (string.rep('a', 1e5):gsub('a*a*a*b', ''))", TOO_COSTLY, id="pattern-gsub-greedy"
    ),
    pytest.param(
        "for w in string.gmatch(string.rep(' ', 1e5) .. 'x', '%s*%s*%s*$') do end",
        TOO_COSTLY,
        id="pattern-gmatch-nested",
    ),
    pytest.param(
        "return ('a'):rep(40):match(('a?'):rep(40) .. ('a'):rep(40))",
        TOO_COSTLY,
        id="pattern-exponential-optional",
    ),
    pytest.param(
        "return string.find(1111111111111111111, ('1*'):rep(30) .. 'x')",
        TOO_COSTLY,
        id="pattern-number-subject",
    ),
    pytest.param(
        "return string.rep('a', 4e6):find(string.rep('a', 2e6) .. 'b', 1, true)",
        TOO_COSTLY,
        id="pattern-plain-find-quadratic",
    ),
    pytest.param(
        "return ('x' .. string.rep(' ', 2e5) .. 'y'):match('^%s*(.-)%s*$')",
        TOO_COSTLY,
        id="pattern-trim-on-blank-run",
    ),
    pytest.param(
        "return #string.rep('', math.maxinteger), #string.rep('', 1e18, '')",
        returns(lambda v: v == [0, 0]),
        id="string-rep-empty-loop",
    ),
    pytest.param("return #string.rep('x', 1e9)", hits("memory"), id="string-rep-huge"),
    pytest.param(
        "return #string.rep('x', 2^40)",
        fails(r"resulting string too large"),
        id="string-rep-beyond-string-size",
    ),
    pytest.param(
        "local s = 'x' while true do s = s .. s end", hits("memory"), id="concat-doubling"
    ),
    pytest.param(
        "local s = string.rep('x', 65536) local t = {} for i = 1, 400 do t[i] = s end "
        "return #table.concat(t)",
        hits("memory"),
        id="table-concat-bomb",
    ),
    pytest.param(
        "local t = setmetatable({}, {__index = table.concat}) return #table.concat(t, '', 1, 1e12)",
        hits("instructions"),
        id="table-concat-index-loop",
    ),
    pytest.param(f"table.insert({SPARSE}, 1, 0)", hits("instructions"), id="table-insert-sparse"),
    pytest.param(f"table.remove({SPARSE}, 1)", hits("instructions"), id="table-remove-sparse"),
    pytest.param(
        "table.insert(setmetatable({}, {__len = function() return math.maxinteger - 1 end}), 1, 0)",
        hits("instructions"),
        id="table-insert-len-metamethod",
    ),
    pytest.param(
        "table.move({}, 1, math.maxinteger - 1, 2)", hits("instructions"), id="table-move-range"
    ),
    pytest.param(
        "table.sort(setmetatable({}, {__len = function() return 2^31 - 2 end, "
        "__index = rawlen, __newindex = rawequal}))",
        hits("instructions"),
        id="table-sort-metamethods",
    ),
    pytest.param(
        f"local t = {SPARSE_31} return #t, table.sort(t, rawequal)",
        hits("instructions"),
        id="table-sort-c-comparator",
    ),
    pytest.param("local t = {} for i = 1, 1e8 do t[i] = i end", hits("memory"), id="huge-table"),
    pytest.param(
        "local function f(n) return 1 + f(n + 1) end return f(1)",
        hits("memory"),
        id="deep-recursion",
    ),
    pytest.param(
        "local function f(s) return (s:gsub('.', f)) end return f('ab')",
        fails(r"stack overflow"),
        id="deep-recursion-through-c",
    ),
    pytest.param(
        "return select('#', table.unpack({}, 1, 1e8))",
        fails(r"too many results to unpack"),
        id="select-unpack-huge",
    ),
    pytest.param(
        "return select(-1), select(2^31, 1)",
        fails(r"bad argument #1 to 'select' \(index out of range\)"),
        id="select-out-of-range",
    ),
    pytest.param(
        "local s = string.rep('\\xe2\\x82\\xac', 1e6) "
        "return utf8.len(s), utf8.offset(s, -1), utf8.len(s .. '\\xff'), "
        "select('#', utf8.codepoint(s, 1, 3e6))",
        fails(r"string slice too long|too many results"),
        id="utf8-huge-input",
    ),
    pytest.param("debug.sethook() while true do end", NIL_GLOBAL, id="hook-removal-via-debug"),
    pytest.param(
        "for _, f in pairs(coroutine) do pcall(f) end while true do end",
        hits("instructions"),
        id="hook-removal-via-coroutines",
    ),
    # -- data passed to host functions --------------------------------------------------------
    pytest.param(
        "local t = {} t.self = t return Host.echo(t)",
        fails(r"cannot pass a table that contains itself"),
        id="cyclic-table-to-host",
    ),
    pytest.param(
        "return Host.echo({callback = print or tostring})",
        fails(r"cannot pass a function value to the host"),
        id="function-to-host",
    ),
    pytest.param(
        "local co = coroutine.create(coroutine.yield) coroutine.resume(co) return Host.echo(co)",
        fails(r"cannot pass a thread value to the host"),
        id="coroutine-to-host",
    ),
    pytest.param(
        "local t = {} for i = 1, 200 do t = {t} end return Host.echo(t)",
        fails(r"nested deeper than 100 levels"),
        id="deep-table-to-host",
    ),
    pytest.param(
        "local t = {} for i = 1, 40 do t = {a = t, b = t} end return Host.echo(t)",
        fails(r"cannot pass more than 100,000 values"),
        id="shared-subtables-to-host",
    ),
    pytest.param(
        "return Host.echo(1/0)",
        fails(r"numbers passed to the host must be finite"),
        id="inf-to-host",
    ),
    pytest.param(
        "return Host.echo({[{}] = 1})",
        fails(r"table keys passed to the host must be strings or numbers"),
        id="table-key-to-host",
    ),
    # -- loading code -------------------------------------------------------------------------
    pytest.param("\x1bLua\x54\x00\x19\x93\r\n\x1a\n", fails(r"binary chunk"), id="binary-chunk"),
]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_NAME, SECRET)
    return SECRET


class Host:
    """The host functions an attacker sees, and a record of what they were made to do."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def install(self, sandbox: Sandbox) -> None:
        sandbox.define("Host.fn", lambda: "ok")
        sandbox.define("Host.wait", self.wait)
        sandbox.define("Host.record", self.records.append)
        sandbox.define("Host.echo", lambda value=None: value)
        sandbox.define("Host.fail", self.fail)
        sandbox.define("Host.big", lambda: "z" * (4 * 1024 * 1024))

    def wait(self) -> None:
        raise ProcedureWaitingForHuman("demo", "demo:run:pos0")

    def fail(self) -> None:
        raise ValueError("host says no")


def attack(code: str) -> tuple[Host, list[Any] | None, BaseException | None]:
    host = Host()
    sandbox = Sandbox(LIMITS, clock=lambda: 0.0)
    host.install(sandbox)
    try:
        return host, sandbox.execute(code), None
    except Exception as exc:
        return host, None, exc


@pytest.mark.parametrize(("code", "expect"), CORPUS)
def test_attack_fails_cleanly_and_leaves_the_host_unaffected(
    code: str, expect: Expect, secret: str
) -> None:
    bystander = Sandbox(LIMITS)
    host, results, error = attack(code)

    if expect.raises is None:
        assert error is None, f"expected results, got {error!r}"
        assert expect.check is not None and expect.check(results), results
    else:
        assert type(error) is expect.raises, f"expected {expect.raises.__name__}, got {error!r}"
        assert re.search(expect.message, str(error)), str(error)
        assert len(str(error)) <= 2_000
    assert secret not in repr(results) + repr(error)
    assert "escaped" not in host.records
    assert bystander.execute("return 6 * 7") == [42]
    assert Sandbox(LIMITS).execute("return 'still serving'") == ["still serving"]


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30
    assert len({case.id for case in CORPUS}) == len(CORPUS)


def test_no_route_to_the_environment_reads_a_secret(secret: str) -> None:
    attempts = [
        f"return os.getenv('{SECRET_NAME}')",
        "return io.popen('env'):read('a')",
        "return require('os').getenv('HOME')",
        "return package.loaded.os.getenv('HOME')",
        "return load('return os')()",
        "return debug.getregistry()",
    ]
    for code in attempts:
        _, results, error = attack(code)
        assert isinstance(error, SandboxError), code
        assert "nil value" in str(error), code
        assert secret not in repr(results) + str(error)


def test_a_finalizer_never_runs_even_after_the_sandbox_is_gone() -> None:
    host, results, error = attack(
        "local mt = {} junk = setmetatable({}, mt) mt.__gc = function() Host.record('gc') end "
        "return 'set'"
    )
    assert (results, error) == (["set"], None)
    gc.collect()
    assert host.records == []


def test_a_global_table_metatable_does_not_affect_the_host() -> None:
    sandbox = Sandbox(LIMITS, clock=lambda: 0.0)
    sandbox.execute(
        "setmetatable(_G, {__index = function(_, k) error('no global ' .. k) end, "
        "__newindex = function() while true do end end})"
    )
    sandbox.set_global("answer", 42)
    sandbox.define("Late.fn", lambda: "defined")
    assert sandbox.get_global("answer") == 42
    assert sandbox.get_global("missing") is None
    assert sandbox.execute("return rawget(_G, 'answer'), rawget(_G, 'Late').fn()") == [
        42,
        "defined",
    ]


def test_a_procedures_debug_table_is_never_used_by_the_host() -> None:
    """lupa takes `debug.traceback` from the globals as the handler of every call it makes."""
    host = Host()
    sandbox = Sandbox(LIMITS, clock=lambda: 0.0)
    host.install(sandbox)
    sandbox.execute(
        "debug = {traceback = function(e) Host.record('escaped') return e end} "
        "function main() error('boom') end"
    )
    with pytest.raises(SandboxError, match="boom"):
        sandbox.call(sandbox.get_global("main"))
    assert host.records == []


def test_binary_chunks_cannot_be_loaded_by_any_route() -> None:
    sandbox = Sandbox(LIMITS)
    with pytest.raises(SandboxError, match="binary chunk"):
        sandbox.compile("\x1bLua")
    assert sandbox.execute("return load, string.dump, package") == [None, None, None]
