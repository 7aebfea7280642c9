"""Per-run limits: memory, instructions and wall-clock time, each configurable, each fatal to
its own run only. Wall-clock tests use a fake clock; nothing here sleeps.
"""

from __future__ import annotations

import pytest

from runtime.errors import LimitExceeded, ProcedureWaitingForHuman, SandboxError
from runtime.sandbox import Sandbox, SandboxLimits

MiB = 1024 * 1024
ROOMY = SandboxLimits(memory_bytes=256 * MiB, instructions=10**10, wall_seconds=10**6)


class FakeClock:
    """Seconds that move only when the test moves them, or by `step` at every reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1_000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limits(**overrides: float) -> SandboxLimits:
    values = {"memory_bytes": ROOMY.memory_bytes, "instructions": ROOMY.instructions}
    values["wall_seconds"] = ROOMY.wall_seconds
    return SandboxLimits(**{**values, **overrides})  # type: ignore[arg-type]


def run(code: str, sandbox_limits: SandboxLimits, clock: FakeClock | None = None) -> list:
    return Sandbox(sandbox_limits, clock=clock or FakeClock()).execute(code)


ALLOCATE_16_MIB = "local t = {} for i = 1, 1e6 do t[i] = i end return #t"  # 16 bytes a slot
LOOP_A_MILLION = "local x = 0 for i = 1, 1e6 do x = x + i end return x"
SPIN = "while true do end"


# -- each limit stops a run, names itself, and is configurable ---------------------------------


def test_the_memory_limit_stops_a_run_and_names_the_limit() -> None:
    with pytest.raises(
        LimitExceeded, match=r"^the procedure used more than 8 MiB of Lua memory$"
    ) as caught:
        run(ALLOCATE_16_MIB, limits(memory_bytes=8 * MiB))
    assert caught.value.kind == "memory"


@pytest.mark.parametrize(("memory", "fits"), [(4 * MiB, False), (64 * MiB, True)])
def test_the_memory_limit_is_configurable(memory: int, fits: bool) -> None:
    if fits:
        assert run(ALLOCATE_16_MIB, limits(memory_bytes=memory)) == [1_000_000]
    else:
        with pytest.raises(LimitExceeded, match="memory"):
            run(ALLOCATE_16_MIB, limits(memory_bytes=memory))


def test_small_memory_limits_are_named_in_kib() -> None:
    with pytest.raises(LimitExceeded, match=r"more than 512 KiB of Lua memory"):
        run(ALLOCATE_16_MIB, limits(memory_bytes=512 * 1024))


def test_the_instruction_budget_stops_a_loop_and_names_the_limit() -> None:
    with pytest.raises(
        LimitExceeded, match=r"^the procedure ran more than 1,000,000 instructions$"
    ) as caught:
        run(SPIN, limits(instructions=1_000_000))
    assert caught.value.kind == "instructions"


@pytest.mark.parametrize(("budget", "fits"), [(500_000, False), (50_000_000, True)])
def test_the_instruction_budget_is_configurable(budget: int, fits: bool) -> None:
    if fits:
        assert run(LOOP_A_MILLION, limits(instructions=budget)) == [500000500000]
    else:
        with pytest.raises(LimitExceeded, match="instructions"):
            run(LOOP_A_MILLION, limits(instructions=budget))


def test_a_budget_smaller_than_the_hook_interval_is_still_honoured() -> None:
    with pytest.raises(LimitExceeded, match="instructions"):
        run("for i = 1, 5000 do end", limits(instructions=1_000))
    assert run("return 1", limits(instructions=1_000)) == [1]


def test_the_budget_is_shared_by_all_coroutines() -> None:
    code = """
    for n = 1, 10 do
      coroutine.wrap(function() for i = 1, 3e5 do end end)()
    end
    """
    with pytest.raises(LimitExceeded, match="instructions"):
        run(code, limits(instructions=1_000_000))
    assert run(code + " return 'done'", limits(instructions=100_000_000)) == ["done"]


def test_nested_coroutines_are_hooked_too() -> None:
    code = "coroutine.wrap(function() coroutine.wrap(function() while true do end end)() end)()"
    with pytest.raises(LimitExceeded, match="instructions"):
        run(code, limits(instructions=1_000_000))


def test_c_library_loops_count_as_instructions() -> None:
    code = "local t = {} for i = 1, 1000 do t[i] = 'x' end for i = 1, 3000 do table.concat(t) end"
    with pytest.raises(LimitExceeded, match="instructions"):
        run(code, limits(instructions=2_000_000))
    assert run(code + " return 1", limits(instructions=100_000_000)) == [1]


def test_the_wall_clock_limit_stops_a_run_and_names_the_limit() -> None:
    with pytest.raises(
        LimitExceeded, match=r"^the procedure exceeded its 5 s time limit$"
    ) as caught:
        run(SPIN, limits(wall_seconds=5), FakeClock(step=1.0))
    assert caught.value.kind == "time"


@pytest.mark.parametrize(("seconds", "fits"), [(3, False), (10**6, True)])
def test_the_wall_clock_limit_is_configurable(seconds: float, fits: bool) -> None:
    clock = FakeClock(step=1.0)  # every look at the clock costs a second
    if fits:
        assert run(LOOP_A_MILLION, limits(wall_seconds=seconds), clock) == [500000500000]
    else:
        with pytest.raises(LimitExceeded, match="time limit"):
            run(LOOP_A_MILLION, limits(wall_seconds=seconds), clock)


def test_time_spent_in_host_functions_counts_against_the_deadline() -> None:
    clock = FakeClock()
    sandbox = Sandbox(limits(wall_seconds=30), clock=clock)
    sandbox.define("Host.slow", lambda: clock.advance(31))
    with pytest.raises(LimitExceeded, match="time limit"):
        sandbox.execute("Host.slow() " + LOOP_A_MILLION)

    quick = Sandbox(limits(wall_seconds=30), clock=clock)
    quick.define("Host.slow", lambda: clock.advance(29))
    assert quick.execute("Host.slow() " + LOOP_A_MILLION) == [500000500000]


def test_the_deadline_runs_from_the_creation_of_the_sandbox() -> None:
    clock = FakeClock()
    sandbox = Sandbox(limits(wall_seconds=30), clock=clock)
    clock.advance(31)
    with pytest.raises(LimitExceeded, match="time limit"):
        sandbox.execute(LOOP_A_MILLION)


@pytest.mark.parametrize("field", ["memory_bytes", "instructions", "wall_seconds"])
@pytest.mark.parametrize("value", [0, -1])
def test_limits_must_be_positive(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=field):
        limits(**{field: value})


# -- a limit ends its own run only -------------------------------------------------------------

ATTACKS = {
    "memory": (ALLOCATE_16_MIB, limits(memory_bytes=4 * MiB), FakeClock),
    "instructions": (SPIN, limits(instructions=1_000_000), FakeClock),
    "time": (SPIN, limits(wall_seconds=5), lambda: FakeClock(step=1.0)),
}


@pytest.mark.parametrize("kind", ATTACKS)
def test_a_limit_hit_in_one_sandbox_leaves_the_others_working(kind: str) -> None:
    code, sandbox_limits, make_clock = ATTACKS[kind]
    bystander = Sandbox(sandbox_limits, clock=FakeClock())
    bystander.execute("state = {1, 2, 3}")
    with pytest.raises(LimitExceeded, match=kind):
        run(code, sandbox_limits, make_clock())
    assert bystander.execute("return #state") == [3]
    assert run("return 'fresh'", sandbox_limits) == ["fresh"]


CATCHES = {
    "pcall": "local ok = pcall(function() ATTACK end)",
    "xpcall": "local ok = xpcall(function() ATTACK end, function(e) return e end)",
    "xpcall-handler": "xpcall(error, function() ATTACK end)",
    "coroutine-resume": "coroutine.resume(coroutine.create(function() ATTACK end))",
    "coroutine-wrap": "pcall(coroutine.wrap(function() ATTACK end))",
    "coroutine-close": """
        local co = coroutine.create(function()
          local guard <close> = setmetatable({}, {__close = function() end})
          coroutine.yield()
          ATTACK
        end)
        coroutine.resume(co)
        pcall(coroutine.resume, co)
        pcall(coroutine.close, co)
    """,
    "close-variable": """
        pcall(function()
          local guard <close> = setmetatable({}, {__close = function() error('mine') end})
          ATTACK
        end)
    """,
    "error-object": "pcall(function() ATTACK end) error({}, 0)",
    "close-variable-then-allocate": """
        pcall(function()
          local guard <close> = setmetatable({}, {__close = function() error('mine') end})
          ATTACK
        end)
        local more = {} for i = 1, 1e5 do more[i] = i end
    """,
    "nested-pcall": "pcall(pcall, pcall, function() ATTACK end)",
    "gsub-callback": "pcall(string.gsub, 'abc', '.', function() ATTACK end)",
    "sort-comparator": "pcall(table.sort, {3, 2, 1}, function(a, b) ATTACK end)",
}


# A `__close` that raises replaces a memory error: see the test after this one.
CAUGHT = [
    pytest.param(kind, catch, id=f"{catch}-{kind}")
    for kind in ATTACKS
    for catch in CATCHES
    if (kind, catch) != ("memory", "close-variable")
]


@pytest.mark.parametrize(("kind", "catch"), CAUGHT)
def test_a_limit_cannot_be_caught(kind: str, catch: str) -> None:
    attack, sandbox_limits, make_clock = ATTACKS[kind]
    attack = attack.replace("local t", "t").replace("return #t", "")
    code = CATCHES[catch].replace("ATTACK", attack) + "\nHost.record('escaped') return 'escaped'"
    records: list[str] = []
    sandbox = Sandbox(sandbox_limits, clock=make_clock())
    sandbox.define("Host.record", records.append)
    with pytest.raises(LimitExceeded, match=kind):
        sandbox.execute(code)
    assert records == []


def test_a_close_handler_can_replace_a_memory_error_but_memory_stays_capped() -> None:
    """Known limit: nothing marks a failed allocation when it happens, so a `__close` that
    raises replaces the memory error like any other. The cap itself holds: the procedure
    only carries on in the memory it has, and its next allocation past the cap is fatal."""
    code = """
    local ok, err = pcall(function()
      local guard <close> = setmetatable({}, {__close = function() error('replaced', 0) end})
      hoard = {} for i = 1, 1e7 do hoard[i] = i end
    end)
    HOARD = #hoard
    """
    sandbox = Sandbox(limits(memory_bytes=4 * MiB))
    with pytest.raises(LimitExceeded, match="memory"):
        sandbox.execute(code + "local more = {} for i = 1, 1e5 do more[i] = i end")
    assert sandbox.get_global("HOARD") * 16 < 4 * MiB


def test_host_functions_refuse_to_run_after_a_limit() -> None:
    calls: list[str] = []
    sandbox = Sandbox(limits(instructions=1_000_000), clock=FakeClock())
    sandbox.define("Host.count", lambda: calls.append("call"))
    sandbox.execute("later = function() Host.count() end")
    code = """
    local guard <close> = setmetatable({}, {__close = function() pcall(Host.count) end})
    while true do end
    """
    with pytest.raises(LimitExceeded):
        sandbox.execute(code)
    with pytest.raises(LimitExceeded):
        sandbox.call(sandbox.get_global("later"))
    with pytest.raises(LimitExceeded):
        sandbox.execute("Host.count()")
    assert calls == []
    assert isinstance(sandbox.fatal, LimitExceeded)


def test_the_host_can_abort_a_run_and_the_first_condition_stays() -> None:
    sandbox = Sandbox(ROOMY)
    waiting = ProcedureWaitingForHuman("demo", "demo:run:pos1")
    sandbox.abort(waiting)
    sandbox.abort(LimitExceeded("memory", "1 MiB"))
    assert sandbox.fatal is waiting
    with pytest.raises(ProcedureWaitingForHuman):
        sandbox.execute("return 1")


def test_a_suspension_raised_by_a_host_function_is_fatal() -> None:
    sandbox = Sandbox(ROOMY)

    def wait() -> None:
        raise ProcedureWaitingForHuman("demo", "demo:run:pos0")

    sandbox.define("Human.approve", wait)
    with pytest.raises(ProcedureWaitingForHuman):
        sandbox.execute("local ok = pcall(Human.approve) return 'carried on'")
    assert isinstance(sandbox.fatal, ProcedureWaitingForHuman)


# -- the host's own data is never cut short -----------------------------------------------------


def test_host_data_beyond_the_memory_limit_fails_the_run_not_the_process() -> None:
    sandbox = Sandbox(limits(memory_bytes=4 * MiB))
    sandbox.set_global("blob", "x" * (16 * MiB))  # pushed while the limit is lifted
    sandbox.define("Host.blob", lambda: "y" * (16 * MiB))
    assert sandbox.get_global("blob") == "x" * (16 * MiB)
    with pytest.raises(LimitExceeded, match="memory"):
        sandbox.execute("return #(blob .. Host.blob())")
    assert run("return 1", limits(memory_bytes=4 * MiB)) == [1]


def test_arguments_pushed_past_the_memory_limit_fail_the_run_not_the_process() -> None:
    sandbox = Sandbox(limits(memory_bytes=8 * MiB))
    sandbox.execute("hoard = string.rep('x', 3 * 2^20) main = function(r) rows = r return #r end")
    rows = [{"id": i, "text": f"row {i}"} for i in range(50_000)]  # about 8 MiB in Lua
    assert sandbox.call(sandbox.get_global("main"), rows) == [50_000]
    with pytest.raises(LimitExceeded, match="memory"):
        sandbox.execute("local t = {} for i = 1, 1e5 do t[i] = i end")
    assert run("return 'alive'", limits(memory_bytes=8 * MiB)) == ["alive"]


def test_deep_recursion_is_a_clean_error() -> None:
    with pytest.raises(SandboxError, match="stack overflow") as caught:
        run("local function f(n) return 1 + f(n + 1) end return f(1)", limits())
    assert not isinstance(caught.value, LimitExceeded)


def test_trusted_code_is_limited_too_as_it_may_call_what_a_procedure_replaced() -> None:
    sandbox = Sandbox(limits(instructions=1_000_000), clock=FakeClock())
    sandbox.run_trusted("Registry = {collect = function() return 'declarations' end}")
    assert sandbox.run_trusted("return Registry.collect()") == "declarations"
    sandbox.execute("Registry.collect = function() while true do end end")
    with pytest.raises(LimitExceeded, match="instructions"):
        sandbox.run_trusted("return Registry.collect()")
