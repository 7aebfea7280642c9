"""`Human.*`: option keys, defaults, return shapes, timeouts and declarations."""

from __future__ import annotations

import asyncio

import pytest

from runtime.errors import AnswerError
from runtime.models import ChatMessage, RunStatus
from runtime.primitives import HumanPrimitive


def test_approve_returns_the_answer_and_whether_it_timed_out(lua):
    d = lua(
        """
        local ok, timed_out = Human.approve{message = "Deploy?", timeout = 600, default = true}
        return {ok = ok, timed_out = timed_out}
        """
    )
    answered = d.answer(d.start(), "no")
    assert answered.run.result == {"ok": False, "timed_out": False}
    timed_out = d.time_out(d.start())
    assert timed_out.run.result == {"ok": True, "timed_out": True}


def test_approve_request_shape_matches_tactus(lua):
    outcome = lua('Human.approve{message = "Restart api-7?", context = {host = "api-7"}}').start()
    request = outcome.pending.request
    assert request.request_type == "approval"
    assert request.default_value is False
    assert request.metadata == {"host": "api-7"}
    assert request.options is None


def test_approve_string_shorthand_and_declaration_name(lua):
    d = lua(
        'local a = Human.approve("Proceed?")\nlocal b = Human.approve("confirm")\nreturn {a, b}',
        hitl={"confirm": {"type": "approval", "message": "Declared message", "timeout": 900}},
    )
    first = d.start()
    assert first.pending.request.message == "Proceed?"
    second = d.answer(first, True)
    assert second.pending.request.message == "Declared message"
    assert second.pending.request.timeout_seconds == 900


def test_config_key_merges_the_declaration_under_the_call(lua):
    d = lua(
        'return Human.approve{config_key = "ship", message = "Call wins"}',
        hitl={"ship": {"message": "Declared", "timeout": 3600, "default": True}},
    )
    request = d.start().pending.request
    assert request.message == "Call wins"
    assert request.timeout_seconds == 3600
    assert request.default_value is True


def test_an_unknown_config_key_fails_the_run_clearly(lua):
    outcome = lua('Human.approve{config_key = "nope"}', hitl={"ship": {}}).start()
    assert outcome.run.status is RunStatus.FAILED
    assert "config_key 'nope' names no hitl declaration (declared: ship)" in outcome.run.error


def test_input_returns_text_and_uses_placeholder(lua):
    d = lua('return Human.input{message = "Ticket?", placeholder = "INC-123"}')
    outcome = d.start()
    assert outcome.pending.request.metadata["placeholder"] == "INC-123"
    assert d.answer(outcome, "INC-42").run.result == "INC-42"


def test_input_with_options_asks_to_choose_one(engine, lua):
    d = lua(
        'return Human.input{message = "Env?", '
        'options = {"staging", {label = "Prod", value = "prod"}}}'
    )
    outcome = d.start()
    assert outcome.pending.request.options == [
        {"label": "staging", "value": "staging"},
        {"label": "Prod", "value": "prod"},
    ]
    with pytest.raises(AnswerError, match="not one of the options: staging, Prod"):
        engine.answer(outcome.pending.request_id, "qa")
    assert d.answer(outcome, "Prod").run.result == "prod"


def test_review_returns_decision_feedback_and_edited_artifact(lua):
    d = lua(
        """
        local r = Human.review{message = "Notes", artifact = "v1 notes",
                               options = {"approve", "edit", "reject"}}
        return r
        """
    )
    outcome = d.start()
    assert [o["label"] for o in outcome.pending.request.options] == ["Approve", "Edit", "Reject"]
    done = d.answer(
        outcome, {"decision": "Edit", "feedback": "typo fixed", "edited_artifact": "v2 notes"}
    )
    assert done.run.result == {
        "decision": "edit",
        "value": "edit",
        "label": "Edit",
        "feedback": "typo fixed",
        "edited_artifact": "v2 notes",
    }


def test_review_decisions_compare_against_plexus_title_case_labels(lua):
    d = lua(
        """
        local r = Human.review{message = "Config", artifact = {replicas = 3},
          options = {{label = "Approve"}, {label = "Request Changes"}, {label = "Reject"}}}
        if r.decision == "Approve" then return "approved" end
        if r.decision == "Request Changes" then return "changes:" .. r.value end
        return "rejected"
        """
    )
    assert d.answer(d.start(), "approve").run.result == "approved"
    assert d.answer(d.start(), {"decision": "request_changes"}).run.result == (
        "changes:request_changes"
    )
    assert d.answer(d.start(), "Rejected").run.result == "rejected"


def test_review_times_out_to_the_tactus_default(lua):
    d = lua('local r, t = Human.review{artifact = "doc", timeout = 60}\nreturn {r = r, t = t}')
    done = d.time_out(d.start())
    assert done.run.result["t"] is True
    assert done.run.result["r"]["decision"] == "reject"
    assert done.run.result["r"]["edited_artifact"] == "doc"


def test_escalate_never_times_out_and_validates_severity(engine, lua):
    d = lua('Human.escalate{message = "DB down", severity = "critical", timeout = 5}\nreturn "ok"')
    outcome = d.start()
    assert outcome.pending.request.timeout_seconds is None
    assert outcome.pending.request.metadata["severity"] == "critical"
    with pytest.raises(AnswerError, match="never time out"):
        engine.time_out(outcome.pending.request_id)
    assert d.answer(outcome, {"note": "failed over"}).run.result == "ok"
    bad = lua('Human.escalate{message = "x", severity = "meh"}').start()
    assert bad.run.status is RunStatus.FAILED
    assert "severity must be one of info, warning, error, critical" in bad.run.error


def test_select_single_and_multiple_return_lua_values(engine, lua):
    single = lua('return Human.select{message = "Region?", options = {"eu", "us"}}')
    assert single.answer(single.start(), "us").run.result == "us"
    multi = lua(
        """
        local picks = Human.select{message = "Regions?", mode = "multiple",
                                   options = {"eu", "us", "ap"}, min = 1, max = 2}
        local joined = {}
        for i, v in ipairs(picks) do joined[i] = v end
        return {count = #picks, joined = table.concat(joined, "+"), first = picks[1]}
        """
    )
    outcome = multi.start()
    assert outcome.pending.request.metadata == {"mode": "multiple", "min": 1, "max": 2}
    with pytest.raises(AnswerError, match="at most 2"):
        engine.answer(outcome.pending.request_id, ["eu", "us", "ap"])
    with pytest.raises(AnswerError, match="at least 1"):
        engine.answer(outcome.pending.request_id, [])
    done = multi.answer(outcome, ["ap", "eu"])
    assert done.run.result == {"count": 2, "joined": "ap+eu", "first": "ap"}


def test_multiple_returns_a_table_keyed_by_item_id(engine, lua):
    d = lua(
        """
        local r = Human.multiple{
          {id = "ack", label = "Acknowledge", type = "approval", message = "Ack?"},
          {id = "notes", label = "Notes", type = "input", message = "Notes?", required = false},
          {id = "team", label = "Team", type = "select", message = "Team?",
           options = {"infra", "app"}},
        }
        return r
        """
    )
    outcome = d.start()
    assert outcome.pending.request.request_type == "inputs"
    assert outcome.pending.request.message == "Multiple inputs requested (3 items)"
    with pytest.raises(AnswerError, match="'team'"):
        engine.answer(outcome.pending.request_id, {"ack": True})
    done = d.answer(outcome, {"ack": "yes", "team": "infra"})
    assert done.run.result == {"ack": True, "team": "infra"}


def test_inputs_is_an_alias_of_multiple(lua):
    d = lua('return Human.inputs{{id = "a", label = "A", type = "input", message = "A?"}}')
    assert d.answer(d.start(), {"a": "x"}).run.result == {"a": "x"}


def test_notify_records_message_content_details_and_level(lua, store):
    outcome = lua(
        """
        Human.notify{message = "Phase 2 complete", content = "**150** items",
                     details = {{title = "Stats", content = "ok: 148"}}, level = "warning"}
        """
    ).start()
    (event,) = store.list_events(outcome.run.run_id)
    assert event.kind == "notify"
    assert event.payload["message"] == "Phase 2 complete"
    assert event.payload["content"] == "**150** items"
    assert event.payload["details"] == [{"title": "Stats", "content": "ok: 148"}]
    assert event.payload["level"] == "warning"


def test_unknown_human_method_names_the_known_ones(lua):
    outcome = lua("Human.aprove{message = 'typo'}").start()
    assert outcome.run.status is RunStatus.FAILED
    assert "Human.aprove does not exist" in outcome.run.error
    assert "approve" in outcome.run.error


def test_colon_calls_work_like_dot_calls(lua):
    d = lua("return Human:approve{message = 'colon'}")
    outcome = d.start()
    assert outcome.pending.request.message == "colon"


def test_routing_options_travel_apart_from_the_context(lua):
    outcome = lua(
        'Human.approve{message = "go", context = {env = "prod"}, approvers = {"@oncall"}, '
        "allow_self_approval = true}"
    ).start()
    assert outcome.pending.request.metadata == {
        "env": "prod",
        "hitlbot": {"approvers": ["@oncall"], "allow_self_approval": True},
    }


def test_the_seed_human_primitive_api_exists_and_flushes_notifications(lua, store):
    recorded: list[ChatMessage] = []

    class Recorder:
        async def record_message(self, message: ChatMessage) -> str:
            recorded.append(message)
            return str(len(recorded))

    from runtime.context import ExecutionContext
    from runtime.hitl import StoreHITLHandler
    from runtime.models import RunRecord
    from tests.conftest import FakeClock

    ctx = ExecutionContext(
        RunRecord(run_id="0" * 32, procedure_id="demo"),
        [],
        StoreHITLHandler(store),
        clock=FakeClock(),
    )
    human = HumanPrimitive(Recorder(), ctx, {"decl": {"message": "m"}})
    for name in ("approve", "input", "review", "notify", "escalate", "flush_recordings"):
        assert callable(getattr(human, name))
    human.notify({"message": "Processing complete", "level": "info"})
    asyncio.run(human.flush_recordings())
    assert [m.content for m in recorded] == ["Processing complete"]
    assert recorded[0].human_interaction == "NOTIFICATION"


BATCH = """
local items = {}
for n = 1, %d do
  items[n] = {id = "q" .. n, label = "Question " .. n, type = "input", required = false}
end
return Human.multiple(items)
"""


def test_multiple_with_more_items_than_one_form_holds_fails_at_the_call(lua):
    outcome = lua(BATCH % 150).start()
    assert outcome.run.status is RunStatus.FAILED
    assert outcome.pending is None
    assert "Human.multiple asks 150 items, more than one form holds (99 at most)" in (
        outcome.run.error or ""
    )
    fitting = lua(BATCH % 99).start()  # as many as one form holds: asked
    assert fitting.run.status is RunStatus.WAITING_FOR_HUMAN
    assert len(fitting.pending.request.metadata["items"]) == 99
