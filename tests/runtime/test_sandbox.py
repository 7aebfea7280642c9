"""The sandbox as procedures and the host use it: data crossing both ways, host functions,
errors that point at the procedure's line, deterministic iteration and random numbers, and
string patterns that ordinary procedures need.
"""

from __future__ import annotations

import gc
import random
import re
import weakref
from typing import Any

import pytest

from runtime.errors import SandboxError
from runtime.lua_patterns import PATTERN_BUDGET, pattern_cost
from runtime.sandbox import Sandbox

ALLOWED_GLOBALS = {
    "_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
    "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring",
    "type", "xpcall", "coroutine", "math", "string", "table", "utf8",
}  # fmt: skip


@pytest.fixture
def sandbox() -> Sandbox:
    box = Sandbox()
    box.define("Host.echo", lambda value=None: value)
    return box


def echo(sandbox: Sandbox, lua_expression: str) -> Any:
    """What the host receives when a procedure passes `lua_expression` to a host function."""
    (value,) = sandbox.execute(f"return Host.echo({lua_expression})")
    return value


# -- data from the host into Lua ----------------------------------------------------------------


def test_host_lists_are_lua_arrays_with_length_ipairs_and_1_based_indexes(sandbox: Sandbox) -> None:
    sandbox.set_global("items", ["a", "b", "c"])
    code = """
    local seen = {}
    for i, v in ipairs(items) do seen[#seen + 1] = i .. "=" .. v end
    return #items, items[1], table.concat(seen, ",")
    """
    assert sandbox.execute(code) == [3, "a", "1=a,2=b,3=c"]


def test_host_results_are_fresh_lua_tables(sandbox: Sandbox) -> None:
    sandbox.define("Host.choices", lambda: {"picked": ["x", "y"], "by": {"name": "bob"}})
    code = """
    local r = Host.choices()
    table.insert(r.picked, "z")
    return #r.picked, r.by.name, table.concat(Host.choices().picked, "+")
    """
    assert sandbox.execute(code) == [3, "bob", "x+y"]


def test_nested_data_round_trips(sandbox: Sandbox) -> None:
    data = {"rows": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}], "ok": True, "n": 0.5}
    sandbox.set_global("data", data)
    assert echo(sandbox, "data") == {
        **data,
        "rows": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": {}}],
    }


def test_several_host_results_are_several_lua_values(sandbox: Sandbox) -> None:
    sandbox.define("Host.pair", lambda: ("left", ["right"]))
    assert sandbox.execute("local a, b = Host.pair() return select('#', Host.pair()), a, b[1]") == [
        2,
        "left",
        "right",
    ]


def test_host_strings_are_utf8_bytes_in_lua(sandbox: Sandbox) -> None:
    sandbox.set_global("word", "héllo\x00!")
    assert sandbox.execute("return #word, word:sub(1, 1), word") == [8, "h", "héllo\x00!"]


def test_host_dict_keys_become_strings(sandbox: Sandbox) -> None:
    sandbox.set_global("table_", {1: "one", "two": 2})
    assert sandbox.execute("return table_['1'], table_[1], table_.two") == ["one", None, 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), "cannot pass a object to Lua"),
        ({"when": {1, 2}}, "cannot pass a set to Lua"),
        (2**64, "does not fit in a Lua integer"),
        ({(1, 2): "tuple key"}, "cannot pass a dict key of type tuple"),
        (print, "cannot pass a builtin_function_or_method to Lua"),
    ],
)
def test_python_objects_never_reach_lua(sandbox: Sandbox, value: Any, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        sandbox.set_global("thing", value)
    sandbox.define("Host.leak", lambda: value)
    with pytest.raises(SandboxError, match=message):
        sandbox.execute("return Host.leak()")


def test_data_nested_too_deep_for_lua_is_refused(sandbox: Sandbox) -> None:
    deep: list[Any] = []
    for _ in range(150):
        deep = [deep]
    with pytest.raises(SandboxError, match="nested deeper than 100 levels"):
        sandbox.set_global("deep", deep)


# -- data from Lua to the host --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lua", "python"),
    [
        ("{}", {}),
        ("{1, 2, 3}", [1, 2, 3]),
        ("{10, 20, {x = {true, false}}}", [10, 20, {"x": [True, False]}]),
        ("{a = 1, b = {2}}", {"a": 1, "b": [2]}),
        ("{1, nil, 3}", {"1": 1, "3": 3}),
        ("{[0] = 'z', [1] = 'a'}", {"0": "z", "1": "a"}),
        ("{1, x = 2}", {"1": 1, "x": 2}),
        ("{[1.5] = 'half'}", {"1.5": "half"}),
        ("2^53", 2.0**53),
        ("math.maxinteger", 2**63 - 1),
        ("3 // 1", 3),
        ("3 / 1", 3.0),
        ("nil", None),
        ("'a\\0b'", "a\x00b"),
    ],
)
def test_lua_values_arrive_as_plain_data(sandbox: Sandbox, lua: str, python: Any) -> None:
    value = echo(sandbox, lua)
    assert value == python
    assert type(value) is type(python)


def test_invalid_utf8_is_replaced_not_fatal(sandbox: Sandbox) -> None:
    assert echo(sandbox, "'ok \\xff\\xfe'") == "ok \ufffd\ufffd"
    assert echo(sandbox, "{['\\xc3'] = 'k'}") == {"\ufffd": "k"}
    assert sandbox.execute("return ('é'):sub(1, 1)") == ["\ufffd"]


@pytest.mark.parametrize("number", ["1/0", "-1/0", "0/0", "{x = {math.huge}}"])
def test_non_finite_numbers_are_refused(sandbox: Sandbox, number: str) -> None:
    with pytest.raises(SandboxError, match="must be finite"):
        echo(sandbox, number)
    with pytest.raises(SandboxError, match="must be finite"):
        sandbox.execute(f"return {number}")


@pytest.mark.parametrize("key", ["true", "{}", "print or tostring"])
def test_keys_other_than_strings_and_numbers_are_refused(sandbox: Sandbox, key: str) -> None:
    with pytest.raises(SandboxError, match="keys passed to the host must be strings or numbers"):
        echo(sandbox, f"{{[{key}] = 1}}")


def test_host_functions_receive_plain_python_values(sandbox: Sandbox) -> None:
    received: list[Any] = []
    sandbox.define("Host.take", lambda *args: received.extend(args))
    sandbox.execute("Host.take({1, 2}, {a = {b = 'c'}}, 'text', 4.5, nil, true)")
    assert received == [[1, 2], {"a": {"b": "c"}}, "text", 4.5, None, True]
    assert [type(v) for v in received] == [list, dict, str, float, type(None), bool]


# -- host functions --------------------------------------------------------------------------


def test_define_creates_nested_tables_and_keeps_their_other_fields(sandbox: Sandbox) -> None:
    sandbox.define("A.b.c", lambda: "deep")
    sandbox.execute("A.b.other = 'kept'")
    sandbox.define("A.b.d", lambda: "sibling")
    assert sandbox.execute("return A.b.c(), A.b.d(), A.b.other, type(A)") == [
        "deep",
        "sibling",
        "kept",
        "table",
    ]


@pytest.mark.parametrize("path", ["", "A..b", ".a", "a."])
def test_define_refuses_malformed_paths(sandbox: Sandbox, path: str) -> None:
    with pytest.raises(ValueError, match="invalid host function path"):
        sandbox.define(path, print)


def test_define_refuses_to_nest_under_a_value(sandbox: Sandbox) -> None:
    sandbox.set_global("Name", "plain string")
    with pytest.raises(ValueError, match="Name exists and is not a table"):
        sandbox.define("Name.fn", print)


def test_a_host_error_is_a_catchable_lua_error_with_its_message(sandbox: Sandbox) -> None:
    def refuse(reason: str) -> None:
        raise ValueError(f"refused: {reason}")

    sandbox.define("Host.refuse", refuse)
    assert sandbox.execute("return pcall(Host.refuse, 'no')") == [False, "refused: no"]
    with pytest.raises(SandboxError, match=r"^demo\.tac:3: refused: later$") as caught:
        sandbox.execute("local a = 1\nlocal b = 2\nlocal c = Host.refuse('later')", "demo.tac")
    assert caught.value.line == 3


# -- errors point at the procedure ------------------------------------------------------------


def test_runtime_errors_carry_the_procedure_line(sandbox: Sandbox) -> None:
    with pytest.raises(
        SandboxError, match=r"^deploy\.tac:3: attempt to index a nil value"
    ) as caught:
        sandbox.execute("local x = 1\nlocal y = nil\nreturn y.field", "deploy.tac")
    assert caught.value.line == 3


def test_syntax_errors_carry_the_line(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match=r"^deploy\.tac:2: .*near") as caught:
        sandbox.compile("local ok = true\nlocal = 5\n", "deploy.tac")
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("string.rep()", "bad argument #1 to 'rep'"),
        ("('x'):find({})", "bad argument #2 to 'find'"),
        ("table.insert({}, 5, 1)", "bad argument #2 to 'insert' (position out of bounds)"),
        ("table.concat({{}})", "invalid value (table) at index 1 in table for 'concat'"),
        ("setmetatable(1, {})", "bad argument #1 to 'setmetatable'"),
        ("coroutine.resume(1)", "bad argument #1 to 'resume'"),
        ("pairs(nil)", "bad argument #1 to 'pairs'"),
    ],
)
def test_library_errors_read_as_the_procedure_called_them(
    sandbox: Sandbox, statement: str, message: str
) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox.execute(f"local a = 1\n{statement}", "demo.tac")
    assert str(caught.value).startswith(f"demo.tac:2: {message}")
    assert caught.value.line == 2


def test_errors_in_callbacks_keep_their_own_line(sandbox: Sandbox) -> None:
    code = "local s = 'abc'\nreturn s:gsub('.', function(c)\n  error('bad ' .. c)\nend)"
    with pytest.raises(SandboxError, match=r"^demo\.tac:3: bad a$"):
        sandbox.execute(code, "demo.tac")


def test_long_error_messages_are_cut(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox.execute("error(string.rep('x', 100000))")
    assert 100 < len(str(caught.value)) <= 2_000


# -- determinism --------------------------------------------------------------------------------


def test_a_sort_with_ties_comes_out_the_same_every_time(sandbox: Sandbox) -> None:
    """More than 100 elements: Lua's own pivot comes from the clock, so equal elements could
    swap places between a run and its replay. Ties keep their original order instead."""
    [first, differs] = sandbox.execute(
        """
        local orders = {}
        for round = 1, 30 do
          local items = {}
          for i = 1, 500 do items[i] = {rank = i % 3, id = i} end
          table.sort(items, function(a, b) return a.rank < b.rank end)
          local ids = {}
          for i, item in ipairs(items) do ids[i] = item.id end
          orders[round] = table.concat(ids, ",")
        end
        for round = 2, 30 do
          if orders[round] ~= orders[1] then return orders[1], round end
        end
        return orders[1], nil
        """
    )
    assert differs is None
    order = [int(i) for i in first.split(",")]
    assert order == sorted(range(1, 501), key=lambda i: (i % 3, i))


def test_pairs_visits_keys_in_one_order_whatever_the_insertion_order() -> None:
    keys = ["beta", "alpha", 10, 2, "gamma", 1.5, True, False, "delta"]
    orders = []
    for seed in range(5):
        shuffled = keys[:]
        random.Random(seed).shuffle(shuffled)
        box = Sandbox()
        box.set_global("keys", shuffled)
        box.execute("t = {} for _, k in ipairs(keys) do t[k] = true end")
        orders.append(
            box.execute("local o = {} for k in pairs(t) do o[#o + 1] = k end return o")[0]
        )
    assert all(order == orders[0] for order in orders)
    assert orders[0] == [1.5, 2, 10, "alpha", "beta", "delta", "gamma", False, True]


def test_pairs_still_honours_a_pairs_metamethod(sandbox: Sandbox) -> None:
    code = """
    local t = setmetatable({}, {__pairs = function(t)
      return function(_, k) if not k then return 1, "only" end end, t, nil
    end})
    local seen = {}
    for k, v in pairs(t) do seen[#seen + 1] = v end
    return seen
    """
    assert sandbox.execute(code) == [["only"]]


def draws(seed: int, code: str = "") -> list[float]:
    (values,) = Sandbox(seed=seed).execute(
        code + "local r = {} for i = 1, 5 do r[i] = math.random() end return r"
    )
    return values


def test_math_random_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert draws(42) == draws(42)
    assert draws(42) != draws(43)


def test_reseeding_without_a_seed_restarts_the_runs_sequence() -> None:
    assert draws(7, "math.random() math.random() math.randomseed() ") == draws(7)
    assert draws(7, "math.randomseed(7) ") == draws(7)


def test_any_python_int_is_a_usable_seed() -> None:
    assert draws(2**200 + 5) == draws(2**200 + 5)
    assert draws(2**200 + 5) != draws(2**200 + 6)


# -- the environment ----------------------------------------------------------------------------


def test_procedures_see_only_the_allowed_globals(sandbox: Sandbox) -> None:
    (names,) = sandbox.execute("local n = {} for k in pairs(_G) do n[#n + 1] = k end return n")
    assert set(names) == ALLOWED_GLOBALS | {"Host"}
    assert sandbox.execute("return string.dump, os, io, debug") == [None, None, None, None]


def test_globals_set_by_the_host_are_read_back_as_plain_values(sandbox: Sandbox) -> None:
    sandbox.set_global("mode", "dry-run")
    sandbox.execute("count = 3 label = 'é'")
    assert sandbox.get_global("mode") == "dry-run"
    assert (sandbox.get_global("count"), sandbox.get_global("label")) == (3, "é")
    assert sandbox.get_global("nothing") is None


def test_trusted_code_shares_the_procedures_globals_and_gets_lua_objects(
    sandbox: Sandbox,
) -> None:
    sandbox.define("__host.greet", lambda name: f"hello {name}")
    host = sandbox.get_global("__host")
    sandbox.set_global("__host", None)
    sandbox.run_trusted(
        "local host, prefix = ... Greet = function(n) return prefix .. host.greet(n) end",
        host,
        "> ",
    )
    assert sandbox.execute("return Greet('bob'), __host") == ["> hello bob", None]


def test_trusted_code_returns_what_lua_returns(sandbox: Sandbox) -> None:
    assert sandbox.run_trusted("return 'one'") == "one"
    assert sandbox.run_trusted("return 1, 'two'") == (1, "two")
    assert sandbox.run_trusted("local x = 1") is None
    assert sandbox.to_python(sandbox.run_trusted("return {1, 2}")) == [1, 2]
    with pytest.raises(SandboxError, match=r"^trusted:1: .*nil value"):
        sandbox.run_trusted("return missing.field")


def test_trusted_code_cannot_be_handed_python_objects(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="cannot pass a function to Lua"):
        sandbox.run_trusted("local f = ...", lambda: None)


def test_a_sandbox_is_freed_as_soon_as_it_is_dropped() -> None:
    gc.disable()
    try:
        box = Sandbox()
        box.define("Host.fn", lambda: 1)
        box.execute("return Host.fn()")
        ref = weakref.ref(box)
        del box
        assert ref() is None
    finally:
        gc.enable()


# -- string patterns ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> str:
    """200 KB of ordinary text: words, commas, short indentation, lines of a few dozen bytes."""
    rng = random.Random(3)
    words = ["deploy", "approve", "review", "rollback", "incident", "owner", "service"]
    lines = []
    while sum(len(line) + 1 for line in lines) < 200_000:
        words_in_line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        lines.append("  " * rng.randint(0, 3) + words_in_line.replace(" ", ", ", 2))
    return "\n".join(lines)


def test_ordinary_patterns_work_on_a_200_kb_string(sandbox: Sandbox, document: str) -> None:
    sandbox.set_global("text", document)
    code = """
    local squeezed = text:gsub("%s+", " ")
    local trimmed = ("  " .. text .. "  "):match("^%s*(.-)%s*$")
    local fields, lines = 0, 0
    for _ in text:gmatch("[^,]+") do fields = fields + 1 end
    for _ in (text .. "\\n"):gmatch("(.-)\\n") do lines = lines + 1 end
    return squeezed, trimmed, fields, lines
    """
    squeezed, trimmed, fields, lines = sandbox.execute(code)
    assert squeezed == re.sub(r"\s+", " ", document)
    assert trimmed == document.strip()
    assert fields == len([f for f in document.split(",") if f])
    assert lines == document.count("\n") + 1


def test_an_explosive_pattern_is_refused_before_it_runs(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match=r"^demo\.tac:2: string\.find: pattern .* too long"):
        sandbox.execute("local s = string.rep('a', 1e5)\nlocal at = s:find('.-.-.-b')", "demo.tac")


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [("%s+", "gsub"), ("^%s*(.-)%s*$", "match"), ("[^,]+", "gmatch"), ("(%w+)=(%w+)", "gmatch")],
)
def test_pattern_cost_of_ordinary_use_is_within_budget(
    pattern: str, kind: str, document: str
) -> None:
    subject = document.encode()
    assert pattern_cost(len(subject), pattern, kind=kind, subject=subject) < PATTERN_BUDGET / 4


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        (".-.-.-b", "find"),
        ("a*a*a*b", "gsub"),
        ("(.-)%s*$", "match"),
        ("x?" * 40 + "x" * 40, "find"),
    ],
)
def test_pattern_cost_of_backtracking_patterns_exceeds_the_budget(pattern: str, kind: str) -> None:
    assert pattern_cost(100_000, pattern, kind=kind) > PATTERN_BUDGET


def test_anchors_and_plain_finds_are_costed_as_they_run() -> None:
    assert pattern_cost(10**6, "^%s*(.-)%s*$") < pattern_cost(10**6, "%s*(.-)%s*$")
    # gmatch reads "^" as a plain character: every position is a start
    assert pattern_cost(10**6, "^ab", kind="gmatch") > 1_000 * pattern_cost(10**6, "^ab")
    assert pattern_cost(1_000, "needle", kind="plain") == pytest.approx(1_001 * 6)


def test_pattern_cost_never_fails_on_any_pattern() -> None:
    rng = random.Random(11)
    alphabet = "ab.%[]^$()*+-?0123456789fsdwS, "
    subject = b"ab, a  b" * 50
    for _ in range(3_000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for kind in ("find", "match", "gmatch", "gsub", "plain"):
            static = pattern_cost(len(subject), pattern, kind=kind)
            refined = pattern_cost(len(subject), pattern, kind=kind, subject=subject)
            assert 0 <= refined <= static, (pattern, kind)
