"""State, Stage, Log, Json, System and the recorded os functions."""

from __future__ import annotations

from runtime.models import RunStatus


def run(lua, code: str, **fields):
    outcome = lua(code, **fields).start()
    assert outcome.run.status is RunStatus.COMPLETED, outcome.run.error
    return outcome


def test_state_api_and_proxy(lua):
    outcome = run(
        lua,
        """
        State.set("a", 1)
        local missing = State.get("nope", "fallback")
        local n = State.increment("a", 4)
        State.increment("count")
        State.append("items", "x")
        State.append("items", "y")
        state.proxy = "via proxy"
        local via = state.a
        local all = State.all()
        State.clear()
        return {missing = missing, n = n, via = via, all = all, after = State.all()}
        """,
    )
    assert outcome.run.result == {
        "missing": "fallback",
        "n": 5,
        "via": 5,
        "all": {"a": 5, "count": 1, "items": ["x", "y"], "proxy": "via proxy"},
        "after": {},
    }


def test_state_increment_refuses_non_numbers(lua):
    outcome = lua('State.set("a", "text")\nState.increment("a")').start()
    assert outcome.run.status is RunStatus.FAILED
    assert "does not hold a number" in outcome.run.error


def test_stage_follows_declared_stages(lua, store):
    outcome = run(
        lua,
        """
        Stage.set("plan")
        local a = Stage.advance()
        return {current = Stage.current(), a = a, is = Stage.is("apply"),
                history = Stage.history(), count = Stage.count()}
        """,
        stages=["plan", "apply", "verify"],
    )
    assert outcome.run.result == {
        "current": "apply",
        "a": "apply",
        "is": True,
        "history": ["plan", "apply"],
        "count": 2,
    }
    stages = [e.payload["stage"] for e in store.list_events(outcome.run.run_id)]
    assert stages == ["plan", "apply"]
    bad = lua('Stage.set("deploy")', stages=["plan"]).start()
    assert "unknown stage 'deploy'; declared stages: plan" in bad.run.error


def test_log_levels_carry_their_context(lua, store):
    outcome = run(
        lua,
        """
        Log.debug("d") Log.info("i", {k = 1}) Log.warn("w") Log.warning("w2") Log.error("e")
        print("printed", 42)
        """,
    )
    events = store.list_events(outcome.run.run_id)
    assert [(e.payload["level"], e.payload["message"]) for e in events] == [
        ("debug", "d"),
        ("info", "i"),
        ("warning", "w"),
        ("warning", "w2"),
        ("error", "e"),
        ("info", "printed\t42"),
    ]
    assert events[1].payload["context"] == {"k": 1}


def test_json_round_trips_into_lua_tables(lua):
    outcome = run(
        lua,
        """
        local t = Json.decode('{"a": [1, 2, 3], "b": {"c": "d"}}')
        return {len = #t.a, c = t.b.c, text = Json.encode({x = 1})}
        """,
    )
    assert outcome.run.result == {"len": 3, "c": "d", "text": '{"x":1}'}
    bad = lua("Json.decode('{nope')").start()
    assert "Json.decode: invalid JSON" in bad.run.error


def test_system_alert_validates_level(lua, store):
    outcome = run(lua, 'System.alert{message = "disk 91%", level = "critical", source = "df"}')
    (event,) = store.list_events(outcome.run.run_id)
    assert (event.kind, event.payload["level"], event.payload["source"]) == (
        "alert",
        "critical",
        "df",
    )
    bad = lua('System.alert{message = "x", level = "loud"}').start()
    assert "System.alert level must be one of" in bad.run.error


def test_os_is_reduced_to_recorded_time_date_and_clock(lua):
    outcome = run(
        lua,
        """
        return {getenv = os.getenv == nil, exec = os.execute == nil, exit = os.exit == nil,
                t = type(os.time()), d = os.date("!%Y", 0), clock = type(os.clock()),
                fixed = os.time{year = 2026, month = 1, day = 2, hour = 3}}
        """,
    )
    result = outcome.run.result
    assert result["getenv"] and result["exec"] and result["exit"]
    assert (result["t"], result["d"], result["clock"]) == ("number", "1970", "number")
    assert isinstance(result["fixed"], int)


def test_params_and_input_hold_the_parameters(lua):
    d = lua("return {p = params.env, i = input.env}", params={"env": {"type": "string"}})
    outcome = d.start({"env": "prod"})
    assert outcome.run.result == {"p": "prod", "i": "prod"}
