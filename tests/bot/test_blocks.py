"""Requests, runs and notifications as Slack shows them: what people see and can click."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import blocks as kit
from bot.home import home_view
from devslack.blockkit import validate_message, validate_view
from devslack.elements import action_object, iter_elements
from runtime.answers import normalize_answer
from runtime.models import HITLRequest, HITLResponse, PendingRequest, RunRecord, RunStatus
from tests.conftest import make_procedure

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> hi <@U0BOB0001> & <https://evil.example|Approve> > <!subteam^S1>"
REVIEW_OPTIONS = [
    {"label": "Approve", "value": "approve", "type": "action"},
    {"label": "Request changes", "value": "request_changes", "type": "action"},
    {"label": "Reject", "value": "reject", "type": "action"},
]


def pending(
    request_type: str,
    message: str = "Go for deploy?",
    *,
    request_id: str = "deploy:1a2b3c4d:pos2",
    response: HITLResponse | None = None,
    cancelled: bool = False,
    **fields: Any,
) -> PendingRequest:
    return PendingRequest(
        request_id=request_id,
        run_id="1a2b3c4d-0000",
        procedure_id=request_id.split(":")[0],
        position=2,
        created_at=NOW,
        request=HITLRequest(request_type=request_type, message=message, **fields),
        response=response,
        cancelled=cancelled,
    )


def choices(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"label": f"Option {i}", "value": f"o{i}", **extra} for i in range(n)]


def items(n: int = 3) -> list[dict[str, Any]]:
    kinds = ["approval", "input", "select"]
    return [
        {
            "item_id": f"i{k}",
            "label": f"Item {k}",
            "request_type": kinds[k % 3],
            "message": f"Question {k}?",
            "options": choices(3) if kinds[k % 3] == "select" else [],
            "default_value": None,
            "required": True,
            "metadata": {"mode": "single"} if kinds[k % 3] == "select" else {},
        }
        for k in range(n)
    ]


REQUESTS = {
    "approval": lambda: pending(
        "approval", default_value=False, timeout_seconds=1800, metadata={"service": "api"}
    ),
    "input": lambda: pending("input", metadata={"placeholder": "CHG-12345"}),
    "input_options": lambda: pending("input", options=choices(3)),
    "review": lambda: pending(
        "review",
        options=REVIEW_OPTIONS,
        metadata={"artifact": "## Notes\n- one", "artifact_type": "release notes", "context": {}},
    ),
    "escalation": lambda: pending(
        "escalation", metadata={"severity": "critical", "context": {"service": "payments"}}
    ),
    "select_single": lambda: pending("select", options=choices(4), metadata={"mode": "single"}),
    "select_multiple": lambda: pending(
        "select", options=choices(6), metadata={"mode": "multiple", "min": 1, "max": 3}
    ),
    "inputs": lambda: pending("inputs", metadata={"items": items()}),
}


# --- helpers: what a person sees and clicks -------------------------------------------------


def texts(blocks: list[dict], kinds: tuple[str, ...] = ("mrkdwn", "plain_text")) -> str:
    """All visible text of a payload, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in kinds:
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def buttons(blocks: list[dict]) -> dict[str, dict]:
    return {e["text"]["text"]: e for _b, e in iter_elements(blocks) if e.get("type") == "button"}


def elements(blocks: list[dict], kind: str) -> list[dict]:
    return [e for _b, e in iter_elements(blocks) if e.get("type") == kind]


def click(blocks: list[dict], label: str) -> dict:
    """The `actions[0]` Slack sends when the button labelled `label` is clicked."""
    for block, element in iter_elements(blocks):
        if element.get("type") == "button" and element["text"]["text"] == label:
            return action_object(block, element, None, "1.0")
    raise AssertionError(f"no button {label!r} in {list(buttons(blocks))}")


def assert_valid(payload: tuple[str, list[dict]]) -> None:
    text, blocks = payload
    assert validate_message(blocks) == []
    assert text and len(text) <= kit.FALLBACK_LIMIT
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids))


def total_text(blocks: list[dict]) -> int:
    return len(texts(blocks))


# --- every request type is valid Block Kit ------------------------------------------------


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_request_type_posts_valid_blocks(name: str) -> None:
    request = REQUESTS[name]()
    assert_valid(kit.request_message(request))


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_hostile_text_everywhere_is_escaped(name: str) -> None:
    request = REQUESTS[name]()
    request.request.message = HOSTILE
    request.request.metadata = {**request.request.metadata, HOSTILE: HOSTILE}
    if "context" in request.request.metadata:
        request.request.metadata["context"] = {HOSTILE: HOSTILE}
    if request.request.metadata.get("artifact"):
        request.request.metadata["artifact"] = HOSTILE
    for option in request.request.options or []:
        option["label"] = HOSTILE
        option["description"] = HOSTILE
    for item in request.request.metadata.get("items", []):
        item["label"] = item["message"] = HOSTILE
    text, blocks = kit.request_message(request)
    assert_valid((text, blocks))
    rendered = texts(blocks, ("mrkdwn",)) + text  # plain_text is shown literally by Slack
    for mention in ("<!channel>", "<@U0BOB0001>", "<https://evil", "<!subteam^S1>"):
        assert mention not in rendered
    assert "&lt;!channel&gt;" in texts(blocks)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_unicode_and_huge_texts_stay_within_limits(name: str) -> None:
    request = REQUESTS[name]()
    request.request.message = ("Déployer 🚀 完了 " * 1000).strip()
    if request.request.request_type == "approval":
        request.request.metadata = {f"key_{n}": "värde " * 500 for n in range(100)}
    for option in request.request.options or []:
        option["label"] = "ラベル" * 100
    text, blocks = kit.request_message(request)
    assert_valid((text, blocks))
    assert total_text(blocks) < 12_000  # Slack refuses messages past ~13k characters


# --- approval -----------------------------------------------------------------------------


def test_an_approval_shows_the_context_and_approve_reject_buttons() -> None:
    request = pending(
        "approval",
        "Go for deploy of **checkout-api**?",
        metadata={"service": "checkout-api", "change_ticket": "CHG-7", "hitlbot": {"x": 1}},
    )
    _text, blocks = kit.request_message(request)
    shown = texts(blocks)
    assert "Approval needed" in shown
    assert "Go for deploy of *checkout-api*?" in shown
    assert "*Change ticket*\nCHG-7" in shown and "*Service*\ncheckout-api" in shown
    assert "hitlbot" not in shown
    approve, reject = buttons(blocks)["Approve"], buttons(blocks)["Reject"]
    assert (approve["action_id"], approve["style"], approve["value"]) == (
        kit.ACTION_APPROVE,
        "primary",
        request.request_id,
    )
    assert (reject["action_id"], reject["style"]) == (kit.ACTION_REJECT, "danger")


def test_the_footer_names_the_request_its_timeout_default_and_approvers() -> None:
    request = pending(
        "approval",
        default_value=False,
        timeout_seconds=3600,
        metadata={"hitlbot": {"approvers": ["oncall", "U0CAROL01"]}},
    )
    footer = kit.request_message(request)[1][-1]
    text = footer["elements"][0]["text"]
    assert footer["type"] == "context"
    assert "deploy `1a2b3c4d:pos2`" in text
    assert "Times out after 1h" in text and "then: rejected" in text
    deadline = int((NOW + timedelta(hours=1)).timestamp())
    assert f"<!date^{deadline}^" in text and "|2026-03-14 10:00 UTC>" in text
    assert "Who can answer: @oncall, <@U0CAROL01>" in text


def test_many_context_fields_are_capped_and_the_rest_is_behind_view_full() -> None:
    request = pending("approval", metadata={f"key_{n}": n for n in range(100)})
    _text, blocks = kit.request_message(request)
    fields = [f for b in blocks for f in b.get("fields", [])]
    assert len(fields) == kit.MAX_SHOWN_FIELDS
    assert "and 81 more" in fields[-1]["text"]
    assert buttons(blocks)["View full"]["action_id"] == kit.ACTION_VIEW_FULL


# --- section and button boundaries --------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "cut"),
    [(100, False), (kit.MESSAGE_PREVIEW, False), (kit.MESSAGE_PREVIEW + 1, True), (3001, True)],
)
def test_a_long_message_is_truncated_with_a_view_full_button(length: int, cut: bool) -> None:
    request = pending("input", "x" * length)
    _text, blocks = kit.request_message(request)
    message = blocks[1]
    assert validate_message(blocks) == []
    assert len(message["text"]["text"]) <= 3000
    assert message["text"]["text"].endswith("…") == cut
    assert ("View full" in buttons(blocks)) == cut


@pytest.mark.parametrize("length", [1, 74, 75, 76, 200])
def test_option_labels_fit_on_buttons(length: int) -> None:
    request = pending("select", options=[{"label": "L" * length, "value": "v"}])
    _text, blocks = kit.request_message(request)
    label = next(iter(buttons(blocks)))
    assert validate_message(blocks) == []
    assert len(label) == min(length, 75)
    assert label.endswith("…") == (length > 75)


def test_cap_blocks_keeps_the_head_and_the_buttons() -> None:
    many = [kit.section(f"line {n}") for n in range(80)]
    many.append({"type": "actions", "elements": [kit.button("Go", "hitl:x", "1")]})
    capped = kit.cap_blocks(many)
    assert len(capped) == kit.MAX_MESSAGE_BLOCKS
    assert capped[0] == many[0] and capped[-1] == many[-1]
    assert validate_message(capped) == []


# --- input, select ------------------------------------------------------------------------


def test_an_input_has_a_respond_button_that_opens_the_modal() -> None:
    request = pending("input", metadata={"placeholder": "CHG-12345"})
    respond = buttons(kit.request_message(request)[1])["Respond"]
    assert (respond["action_id"], respond["value"], respond["style"]) == (
        kit.ACTION_RESPOND,
        request.request_id,
        "primary",
    )


@pytest.mark.parametrize(
    ("count", "shape"),
    [(1, "buttons"), (5, "buttons"), (6, "static_select"), (100, "options"), (150, "groups")],
)
def test_a_single_choice_uses_buttons_for_few_options_and_a_menu_for_many(
    count: int, shape: str
) -> None:
    request = pending("select", options=choices(count), metadata={"mode": "single"})
    _text, blocks = kit.request_message(request)
    assert validate_message(blocks) == []
    menus = elements(blocks, "static_select")
    if shape == "buttons":
        assert not menus
        assert [b["text"]["text"] for b in buttons(blocks).values()] == [
            f"Option {i}" for i in range(count)
        ]
    else:
        (menu,) = menus
        assert menu["action_id"] == kit.ACTION_SELECT
        assert "confirm" in menu  # picking answers at once: Slack asks first
        assert ("option_groups" in menu) == (shape == "groups")


def test_a_choice_button_or_menu_option_answers_its_request() -> None:
    request = pending("select", options=choices(8), metadata={"mode": "single"})
    small = pending("input", options=choices(3))
    for req in (request, small):
        _text, blocks = kit.request_message(req)
        for block, element in iter_elements(blocks):
            if element["type"] == "button":
                action = action_object(block, element, None, "1")
            elif element["type"] == "static_select":
                action = action_object(block, element, element["options"][2], "1")
            else:
                continue
            assert any(p.match(action["action_id"]) for p in kit.ACTION_PATTERNS.values())
            request_id, index = kit.parse_choice(action)
            assert request_id == req.request_id
            raw = kit.choice_answer(req, index)
            assert normalize_answer(req.request, raw) == req.request.options[index]["value"]


def test_choices_with_descriptions_are_listed_above_the_buttons() -> None:
    options = [
        {"label": "None", "value": "none", "description": "internal only"},
        {"label": "Outage", "value": "outage", "description": "customers cannot pay"},
    ]
    shown = texts(kit.request_message(pending("select", options=options))[1])
    assert "*None* — internal only" in shown and "*Outage* — customers cannot pay" in shown


@pytest.mark.parametrize(
    ("low", "high", "rule"),
    [(1, 3, "Choose 1 to 3"), (2, 2, "Choose 2"), (1, None, "Choose at least 1")],
)
def test_a_multiple_choice_has_checkboxes_a_submit_button_and_states_its_rule(
    low: int, high: int | None, rule: str
) -> None:
    request = pending(
        "select", options=choices(4), metadata={"mode": "multiple", "min": low, "max": high}
    )
    _text, blocks = kit.request_message(request)
    (boxes,) = elements(blocks, "checkboxes")
    assert boxes["action_id"] == kit.ACTION_CHECKS
    assert [o["text"]["text"] for o in boxes["options"]] == [f"Option {i}" for i in range(4)]
    submit = buttons(blocks)["Submit"]
    assert (submit["action_id"], submit["value"]) == (kit.ACTION_SUBMIT_CHECKS, request.request_id)
    assert rule in texts(blocks)


@pytest.mark.parametrize("count", [10, 11, 100, 101])
def test_many_checkable_options_become_a_multi_select_menu(count: int) -> None:
    request = pending(
        "select", options=choices(count), metadata={"mode": "multiple", "min": 1, "max": 3}
    )
    _text, blocks = kit.request_message(request)
    assert validate_message(blocks) == []
    menus = elements(blocks, "multi_static_select")
    assert bool(menus) == (count > 10)
    if menus:
        assert menus[0]["max_selected_items"] == 3


def test_ticked_checkboxes_become_the_answer() -> None:
    request = pending(
        "select", options=choices(5), metadata={"mode": "multiple", "min": 1, "max": 3}
    )
    _text, blocks = kit.request_message(request)
    (boxes,) = elements(blocks, "checkboxes")
    state = {
        kit.checks_block_id(request): {
            kit.ACTION_CHECKS: {
                "type": "checkboxes",
                "selected_options": [boxes["options"][1], boxes["options"][3]],
            }
        }
    }
    raw = kit.parse_checks_state(request, state)
    assert normalize_answer(request.request, raw) == ["o1", "o3"]
    assert kit.parse_checks_state(request, {}) == []


# --- review -------------------------------------------------------------------------------


def test_a_review_shows_the_artifact_and_one_styled_button_per_option() -> None:
    request = REQUESTS["review"]()
    _text, blocks = kit.request_message(request)
    shown = texts(blocks)
    assert "*Release notes*\n*Notes*\n• one" in shown
    styles = {label: b.get("style") for label, b in buttons(blocks).items()}
    assert styles == {"Approve": "primary", "Request changes": None, "Reject": "danger"}
    decided = [kit.parse_choice(click(blocks, label)) for label in styles]
    assert decided == [(request.request_id, 0), (request.request_id, 1), (request.request_id, 2)]
    answer = normalize_answer(request.request, kit.choice_answer(request, 2))
    assert (answer["decision"], answer["label"]) == ("reject", "Reject")
    ids = [b["action_id"] for b in buttons(blocks).values()]
    assert all(kit.ACTION_PATTERNS[kit.ACTION_DECIDE].match(i) for i in ids)


def test_an_option_style_from_the_procedure_wins() -> None:
    options = [{"label": "Ship", "value": "ship", "type": "action", "style": "primary"}]
    _text, blocks = kit.request_message(pending("review", options=options))
    assert buttons(blocks)["Ship"]["style"] == "primary"


def test_a_long_artifact_is_truncated_with_a_view_full_button() -> None:
    artifact = "\n".join(f"- change {n} <!channel>" for n in range(500))
    request = pending(
        "review", options=REVIEW_OPTIONS, metadata={"artifact": artifact, "context": {}}
    )
    _text, blocks = kit.request_message(request)
    assert validate_message(blocks) == []
    artifact_block = next(b for b in blocks if "*Artifact*" in b.get("text", {}).get("text", ""))
    assert len(artifact_block["text"]["text"]) <= kit.ARTIFACT_PREVIEW + 50
    assert artifact_block["accessory"]["text"]["text"] == "View full"
    assert artifact_block["accessory"]["value"] == request.request_id
    assert "<!channel>" not in texts(blocks)


def test_a_data_artifact_is_shown_as_json_code() -> None:
    request = pending(
        "review", options=REVIEW_OPTIONS, metadata={"artifact": {"a": [1, 2]}, "context": {}}
    )
    assert '```\n{\n  "a": [' in texts(kit.request_message(request)[1])


@pytest.mark.parametrize(("count", "menu"), [(2, False), (25, False), (26, True)])
def test_review_options_are_buttons_up_to_a_row_then_a_menu(count: int, menu: bool) -> None:
    request = pending("review", options=choices(count, type="action"), metadata={})
    _text, blocks = kit.request_message(request)
    assert validate_message(blocks) == []
    assert bool(elements(blocks, "static_select")) == menu


@pytest.mark.parametrize(
    ("option", "modal"),
    [
        ({"label": "Approve", "value": "approve"}, False),
        ({"label": "Reject", "value": "reject"}, False),
        ({"label": "Request changes", "value": "request_changes"}, True),
        ({"label": "Edit", "value": "edit"}, True),
        ({"label": "Fix it", "value": "fix", "edit": True}, True),
    ],
)
def test_decisions_that_edit_or_ask_for_changes_open_a_modal(option: dict, modal: bool) -> None:
    request = pending("review", options=[{**option, "type": "action"}])
    assert kit.decision_needs_modal(request, 0) is modal
    assert kit.decision_needs_modal(request, 5) is False


# --- escalation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "header", "mentioned"),
    [
        ("info", "ℹ️ Info escalation", False),
        ("warning", "⚠️ Warning escalation", False),
        ("error", "🔴 Error escalation", True),
        ("critical", "🚨 Critical escalation", True),
    ],
)
def test_escalations_are_styled_by_severity_and_mention_responders_when_serious(
    severity: str, header: str, mentioned: bool
) -> None:
    request = pending("escalation", "Take command", metadata={"severity": severity})
    text, blocks = kit.request_message(request, mention="<!subteam^S0ONCALL1>")
    assert blocks[0] == {"type": "header", "text": kit.plain(header)}
    assert blocks[1]["text"]["text"].startswith("<!subteam^S0ONCALL1> ") == mentioned
    assert text.startswith("<!subteam^S0ONCALL1>") == mentioned  # the notification pings
    resolve = buttons(blocks)["Resolve"]
    assert (resolve["action_id"], resolve["value"]) == (kit.ACTION_RESOLVE, request.request_id)
    assert "Never times out" in texts(blocks)


@pytest.mark.parametrize("mention", ["<!here>", "<!channel>", "<@U0BOB0001> <!subteam^S1>"])
def test_configured_mentions_pass_through(mention: str) -> None:
    request = pending("escalation", metadata={"severity": "critical"})
    assert kit.request_message(request, mention=mention)[1][1]["text"]["text"].startswith(mention)


def test_a_mention_setting_that_is_not_only_mentions_is_escaped() -> None:
    request = pending("escalation", metadata={"severity": "critical"})
    text, blocks = kit.request_message(request, mention="<https://evil|click> <!here>")
    assert "<https://evil" not in texts(blocks) + text


# --- inputs -------------------------------------------------------------------------------


def test_several_inputs_list_their_items_and_open_one_modal() -> None:
    request = REQUESTS["inputs"]()
    _text, blocks = kit.request_message(request)
    shown = texts(blocks)
    assert "• *Item 0* — Question 0?" in shown and "• *Item 2* — Question 2?" in shown
    respond = buttons(blocks)["Answer 3 questions"]
    assert (respond["action_id"], respond["value"]) == (kit.ACTION_RESPOND, request.request_id)


# --- answered -----------------------------------------------------------------------------


def answered(request: PendingRequest, value: Any, **fields: Any) -> PendingRequest:
    fields.setdefault("responder", "U0BOB0001")
    fields.setdefault("responded_at", NOW + timedelta(minutes=2))
    request.response = HITLResponse(value=value, **fields)
    return request


def outcome_line(request: PendingRequest) -> str:
    text, blocks = kit.answered_message(request)
    assert_valid((text, blocks))
    assert not [b for b in blocks if b["type"] == "actions"]
    return texts(blocks)


TIME = f"<!date^{int((NOW + timedelta(minutes=2)).timestamp())}^{{time}}|2026-03-14 09:02 UTC>"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("approval", True, f"✅ Approved by <@U0BOB0001> at {TIME}"),
        ("approval", False, f"❌ Rejected by <@U0BOB0001> at {TIME}"),
        ("input", "CHG-12345", f"✅ Answered by <@U0BOB0001> at {TIME}\n> CHG-12345"),
        ("select_single", "o2", f"✅ *Option 2* chosen by <@U0BOB0001> at {TIME}"),
        ("select_multiple", ["o1", "o3"], "✅ *Option 1*, *Option 3* chosen by"),
        (
            "escalation",
            {"acknowledged": True, "action": "resolve", "note": "rolled back"},
            f"✅ Resolved by <@U0BOB0001> at {TIME}\n> rolled back",
        ),
        (
            "review",
            {"decision": "request_changes", "label": "Request changes", "feedback": "typo"},
            "📝 Changes requested by <@U0BOB0001>",
        ),
        ("inputs", {"i0": True, "i1": "fine", "i2": "o1"}, "*Item 1*\nfine"),
    ],
)
def test_an_answered_request_shows_the_outcome_instead_of_buttons(
    name: str, value: Any, expected: str
) -> None:
    assert expected in outcome_line(answered(REQUESTS[name](), value))


def test_an_answer_on_another_day_shows_the_date() -> None:
    request = answered(REQUESTS["approval"](), True, responded_at=NOW + timedelta(days=1))
    assert "{time} on {date_short}" in outcome_line(request)


def test_a_timeout_says_the_default_was_applied() -> None:
    request = answered(REQUESTS["approval"](), False, timed_out=True, responder=None)
    assert f"⏱️ Timed out at {TIME}: default applied (rejected)" in outcome_line(request)


def test_a_cancelled_request_says_so() -> None:
    request = pending("approval", cancelled=True)
    assert "🚫 Cancelled" in outcome_line(request)
    assert kit.outcome_text(request) == "🚫 Cancelled"


def test_review_feedback_and_edits_are_shown_escaped() -> None:
    request = answered(
        REQUESTS["review"](),
        {
            "decision": "approve",
            "label": "Approve",
            "feedback": "<!here> ok",
            "edited_artifact": "x",
        },
    )
    shown = outcome_line(request)
    assert "✅ Approved by <@U0BOB0001>" in shown
    assert "> &lt;!here&gt; ok" in shown and "_Release notes edited_" in shown
    view_edited = buttons(kit.answered_message(request)[1])["View edited"]
    assert (view_edited["action_id"], view_edited["value"]) == (
        kit.ACTION_VIEW_FULL,
        request.request_id,
    )


def test_the_fallback_text_of_an_answer_reads_well_in_a_notification() -> None:
    text, _ = kit.answered_message(answered(REQUESTS["approval"](), True))
    assert text == "Approval needed: ✅ Approved by <@U0BOB0001> at 2026-03-14 09:02 UTC"


# --- runs ---------------------------------------------------------------------------------


def run(status: RunStatus = RunStatus.RUNNING, **fields: Any) -> RunRecord:
    fields.setdefault("params", {"service": "checkout-api", "version": "2.14.0"})
    return RunRecord(
        run_id="1a2b3c4d-5555-6666",
        procedure_id="deploy_approval",
        status=status,
        started_by="U0ALICE01",
        created_at=NOW,
        updated_at=NOW + timedelta(minutes=7),
        **fields,
    )


@pytest.mark.parametrize(
    ("record", "kwargs", "line", "cancellable"),
    [
        (run(), {}, "🔄 *Running*", True),
        (
            run(RunStatus.WAITING_FOR_HUMAN),
            {"waiting_for": "<@U0BOB0001> (approval)"},
            "⏳ *Waiting for* <@U0BOB0001> (approval)",
            True,
        ),
        (
            run(RunStatus.COMPLETED, result={"deployed": True, "decision": "go"}),
            {},
            "✅ *Completed* · deployed: yes · decision: go",
            False,
        ),
        (
            run(RunStatus.COMPLETED, result={"x": 1}),
            {"summary": "**Deployed** <!channel>"},
            "✅ *Completed* · *Deployed* &lt;!channel&gt;",
            False,
        ),
        (run(RunStatus.FAILED, error="boom <!here>"), {}, "❌ *Failed*: boom &lt;!here&gt;", False),
        (run(RunStatus.CANCELLED, error="by <@U1>"), {}, "🚫 *Cancelled*: by &lt;@U1&gt;", False),
    ],
)
def test_the_run_message_keeps_its_status_current(
    record: RunRecord, kwargs: dict, line: str, cancellable: bool
) -> None:
    text, blocks = kit.run_message(record, "Deploy approval", **kwargs)
    assert_valid((text, blocks))
    assert f"*Deploy approval*\n{line}" in texts(blocks)
    assert "Started by <@U0ALICE01>" in texts(blocks)
    assert "*service*\ncheckout-api" in texts(blocks)
    cancel = buttons(blocks).get("Cancel run")
    assert (cancel is not None) == cancellable
    if cancel:
        assert (cancel["action_id"], cancel["value"], cancel["style"]) == (
            kit.ACTION_CANCEL_RUN,
            record.run_id,
            "danger",
        )
        assert "confirm" in cancel


def test_run_params_are_escaped_and_capped() -> None:
    params = {f"p{n}": HOSTILE + "\nsecond line" for n in range(30)}
    text, blocks = kit.run_message(run(params=params), HOSTILE)
    assert_valid((text, blocks))
    assert "<!channel>" not in texts(blocks) + text
    assert "and 21 more" in texts(blocks)


@pytest.mark.parametrize(
    ("record", "shown"),
    [
        (run(RunStatus.COMPLETED, result={"deployed": True}), "*Deployed*\nyes"),
        (run(RunStatus.COMPLETED, result={"nested": {"a": 1}}), '"nested": {'),
        (run(RunStatus.FAILED, error="lua error: <!channel>"), "> lua error: &lt;!channel&gt;"),
        (run(RunStatus.CANCELLED, error="cancelled by alice"), "🚫 *deploy_approval: cancelled*"),
    ],
)
def test_the_result_message_ends_the_thread(record: RunRecord, shown: str) -> None:
    text, blocks = kit.result_message(record)
    assert_valid((text, blocks))
    assert shown in texts(blocks)
    assert "after 7m" in texts(blocks)


def test_a_long_result_is_cut_with_a_button_to_see_it_all() -> None:
    record = run(RunStatus.COMPLETED, result={"rows": [{"n": n} for n in range(1000)]})
    _text, blocks = kit.result_message(record)
    assert validate_message(blocks) == []
    view = buttons(blocks)["View full"]
    assert (view["action_id"], view["value"]) == (kit.ACTION_VIEW_RESULT, record.run_id)


# --- notifications and alerts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "emoji"),
    [("info", "ℹ️"), ("success", "✅"), ("warning", "⚠️"), ("error", "🔴"), ("critical", "🚨")],
)
def test_notifications_are_styled_by_level(level: str, emoji: str) -> None:
    payload = {"message": "Deploy started", "level": level, "content": None, "details": []}
    text, blocks = kit.notification_message(payload, run_id="r1", seq=3)
    assert_valid((text, blocks))
    assert blocks[0]["text"]["text"] == f"{emoji} *Deploy started*"
    assert text == f"{emoji} Deploy started"
    assert "accessory" not in blocks[0]


def test_notification_content_is_mrkdwn_and_details_are_behind_a_button() -> None:
    payload = {
        "message": "Incident declared",
        "level": "error",
        "content": "See **runbook** [here](https://runbooks.example.com)",
        "details": [{"title": "Runbook", "content": "https://runbooks.example.com"}],
        "context": {"service": "payments", "runbook": "https://runbooks.example.com"},
    }
    _text, blocks = kit.notification_message(payload, run_id="r1", seq=3)
    assert "See *runbook* <https://runbooks.example.com|here>" in blocks[0]["text"]["text"]
    details = buttons(blocks)["Details"]
    assert details["action_id"] == kit.ACTION_DETAILS
    assert json.loads(details["value"]) == {"run": "r1", "seq": 3}
    assert "Service: payments · Runbook: <https://runbooks.example.com>" in texts(blocks)


def test_long_notification_content_is_cut_and_readable_in_details() -> None:
    payload = {"message": HOSTILE, "level": "info", "content": "word " * 5000, "details": []}
    text, blocks = kit.notification_message(payload, run_id="r1", seq=1)
    assert_valid((text, blocks))
    assert "Details" in buttons(blocks)
    assert "<!channel>" not in texts(blocks) + text


def test_a_context_with_100_entries_fits() -> None:
    payload = {
        "message": "m",
        "level": "info",
        "details": [],
        "context": {f"k{n}": "v" * 50 for n in range(100)},
    }
    assert_valid(kit.notification_message(payload, run_id="r", seq=1))
    assert_valid(kit.alert_message({"message": "m", "level": "warning", **payload}))


def test_an_alert_shows_its_level_source_and_context() -> None:
    payload = {
        "message": "payments-api: 12.5% of requests failing",
        "level": "critical",
        "source": "alertmanager",
        "context": {"service": "payments-api"},
    }
    text, blocks = kit.alert_message(payload)
    assert_valid((text, blocks))
    assert blocks[0]["text"]["text"] == "🚨 *payments-api: 12.5% of requests failing*"
    assert "Alert · critical · from alertmanager" in texts(blocks)
    assert "Service: payments-api" in texts(blocks)


# --- ids ----------------------------------------------------------------------------------


def test_block_ids_name_their_request_and_fit_slacks_limit() -> None:
    assert kit.request_id_from_block(kit.block_id("actions", "p:1a2b:pos3")) == "p:1a2b:pos3"
    long_id = "p" * 300 + ":1a2b3c4d:pos1"
    assert len(kit.block_id("actions", long_id)) <= 255
    assert kit.request_id_from_block(kit.block_id("actions", long_id)) is None


def test_a_menu_option_value_too_long_for_slack_leaves_the_request_to_the_block_id() -> None:
    request = pending(
        "select",
        request_id="p" * 140 + ":1a2b3c4d:pos1",
        options=choices(8),
        metadata={"mode": "single"},
    )
    _text, blocks = kit.request_message(request)
    assert validate_message(blocks) == []
    block, menu = next((b, e) for b, e in iter_elements(blocks) if e["type"] == "static_select")
    action = action_object(block, menu, menu["options"][4], "1")
    assert kit.parse_choice(action) == (request.request_id, 4)


@pytest.mark.parametrize("value", [None, "", "not json", "[1]", '{"o": "x"}'])
def test_parse_choice_never_raises_on_foreign_values(value: Any) -> None:
    assert kit.parse_choice({"value": value, "block_id": "x"}) == (None, None)


# --- Home tab -----------------------------------------------------------------------------


def test_home_lists_the_viewers_requests_answerable_and_recent_runs() -> None:
    waiting = [
        REQUESTS["approval"](),
        pending("input", request_id="other:9f9f9f9f:pos1"),
    ]
    runs = [run(RunStatus.WAITING_FOR_HUMAN), run(RunStatus.COMPLETED)]
    view = home_view(
        waiting, runs, user_id="U0BOB0001", procedure_names={"deploy_approval": "Deploy"}
    )
    assert validate_view(view) == []
    shown = texts(view["blocks"])
    assert "Waiting for you" in shown and "2 requests you can answer" in shown
    assert {"Approve", "Reject", "Respond"} <= set(buttons(view["blocks"]))
    assert "⏳ *Deploy* `1a2b3c4d` · Waiting for an answer · by <@U0ALICE01>" in shown
    assert "✅ *Deploy* `1a2b3c4d` · Completed" in shown


def test_home_without_anything_says_how_to_start() -> None:
    view = home_view([], [], user_id="U0BOB0001", command="/ops")
    assert validate_view(view) == []
    shown = texts(view["blocks"])
    assert "Nothing is waiting for <@U0BOB0001> right now." in shown
    assert "Start one with `/ops run &lt;name&gt;`" in shown


def test_home_with_many_requests_stays_within_100_blocks() -> None:
    waiting = [
        pending(kind, request_id=f"p:{n:08d}:pos1", **spec)
        for n in range(60)
        for kind, spec in [("select", {"options": choices(6), "metadata": {"mode": "multiple"}})]
    ]
    runs = [run() for _ in range(50)]
    view = home_view(waiting, runs, user_id="U0BOB0001")
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    assert "more: answer them in the thread" in texts(view["blocks"])
    assert "Recent runs" in texts(view["blocks"])


# --- what the listeners use ---------------------------------------------------------------


def every_click(request: PendingRequest) -> list[dict]:
    """One `actions[0]` per interactive element of the request's message, as Slack sends it."""
    _text, blocks = kit.request_message(request)
    clicks = []
    for block, element in iter_elements(blocks):
        if element["type"] == "static_select":
            clicks.append(action_object(block, element, element["options"][0], "1"))
        elif element["type"] == "checkboxes":
            clicks.append(action_object(block, element, element["options"][:1], "1"))
        else:
            clicks.append(action_object(block, element, None, "1"))
    return clicks


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_click_names_its_request(name: str) -> None:
    request = REQUESTS[name]()
    for action in every_click(request):
        assert kit.parse_action_value(action)[0] == request.request_id, action["action_id"]


@pytest.mark.parametrize(
    ("name", "label", "outcome"),
    [
        ("approval", "Approve", True),
        ("approval", "Reject", False),
        ("select_single", "Option 2", "o2"),
        ("input_options", "Option 1", "o1"),
        ("review", "Approve", {"decision": "approve"}),
        ("review", "Reject", {"decision": "reject"}),
        ("review", "Request changes", "modal:hitl_review"),
        ("input", "Respond", "modal:hitl_input"),
        ("inputs", "Answer 3 questions", "modal:hitl_inputs"),
        ("escalation", "Resolve", "modal:hitl_resolve"),
    ],
)
def test_a_click_either_answers_or_opens_the_right_modal(
    name: str, label: str, outcome: Any
) -> None:
    request = REQUESTS[name]()
    action = click(kit.request_message(request)[1], label)
    assert kit.parse_action_value(action)[0] == request.request_id
    option = kit.parse_action_value(action)[1]
    modal = kit.modal_for_action(action["action_id"], request, option)
    if isinstance(outcome, str) and outcome.startswith("modal:"):
        assert modal is not None and modal["callback_id"] == outcome.removeprefix("modal:")
        assert validate_view(modal) == []
        return
    assert modal is None
    raw = kit.answer_for_action(action["action_id"], action, request, option, {})
    assert raw == outcome
    normalize_answer(request.request, raw)


def test_ticking_answers_nothing_and_submit_answers_the_ticks() -> None:
    request = REQUESTS["select_multiple"]()
    _text, blocks = kit.request_message(request)
    block, boxes = next((b, e) for b, e in iter_elements(blocks) if e["type"] == "checkboxes")
    tick = action_object(block, boxes, boxes["options"][:2], "1")
    assert kit.answer_for_action(tick["action_id"], tick, request, None, {}) is kit.NO_ANSWER
    state = {block["block_id"]: {boxes["action_id"]: {"selected_options": boxes["options"][:2]}}}
    submit = click(blocks, "Submit")
    for body in (
        {"state": {"values": state}},
        {"view": {"type": "home", "state": {"values": state}}},
    ):
        raw = kit.answer_for_action(submit["action_id"], submit, request, None, body)
        assert normalize_answer(request.request, raw) == ["o0", "o1"]


def test_a_settled_request_opens_nothing_and_lets_the_service_say_who_answered() -> None:
    request = answered(REQUESTS["input"](), "CHG-1")
    action = click(kit.answered_message(request)[1] + kit.request_message(request)[1], "Respond")
    assert kit.modal_for_action(action["action_id"], request, None) is None
    assert kit.answer_for_action(action["action_id"], action, request, None, {}) is None
    assert kit.already_answered_text(request).startswith(
        "Already answered, nothing changed: ✅ Answered by <@U0BOB0001>"
    )
    view = kit.modal_for_action(kit.ACTION_VIEW_FULL, request, None)
    assert view is not None and validate_view(view) == []


def test_a_cancelled_request_says_nothing_was_recorded() -> None:
    assert "cancelled" in kit.already_answered_text(pending("approval", cancelled=True))


@pytest.mark.parametrize(
    ("responders", "groups", "mention"),
    [
        ("here", None, "<!here>"),
        ("@channel", None, "<!channel>"),
        (["U0BOB0001", "S0ONCALL1"], None, "<@U0BOB0001> <!subteam^S0ONCALL1>"),
        (["@oncall"], {"oncall": "S0ONCALL1"}, "<!subteam^S0ONCALL1>"),
        (["oncall"], None, None),
        ([], None, None),
    ],
)
def test_responders_become_real_mentions(responders: Any, groups: Any, mention: Any) -> None:
    assert kit.mention_for(responders, groups) == mention


def test_the_run_status_says_whom_it_waits_for() -> None:
    request = pending("approval", metadata={"hitlbot": {"approvers": ["oncall"]}})
    assert kit.waiting_for_text(request) == "an approval from @oncall"
    assert kit.waiting_for_text(pending("input")) == "an answer"


def test_a_reminder_says_what_waits_and_until_when_without_new_buttons() -> None:
    request = pending("approval", "Go <!channel>?", default_value=False, timeout_seconds=600)
    text, blocks = kit.reminder_message(request)
    assert_valid((text, blocks))
    assert "⏰ *Still waiting:* Approval needed · Go &lt;!channel&gt;?" in texts(blocks)
    assert "Times out after 10m" in texts(blocks)
    assert not buttons(blocks)


def test_a_run_cancelled_by_someone_names_them() -> None:
    record = run(RunStatus.CANCELLED, error="cancelled by <@U0CAROL01>")
    assert "🚫 *Cancelled* by <@U0CAROL01>" in texts(kit.run_message(record, "Deploy")[1])


def test_the_result_summary_accepts_the_run_and_is_escaped_once() -> None:
    record = run(RunStatus.COMPLETED, result={"note": "a & b", "ok": True})
    summary = kit.result_summary(record)
    assert summary == "note: a & b · ok: yes"
    shown = texts(kit.run_message(record, "Deploy", summary=summary)[1])
    assert "note: a &amp; b · ok: yes" in shown


def test_slash_command_replies_list_procedures_and_runs() -> None:
    procedure = make_procedure(
        "return {}",
        procedure_id="deploy_approval",
        params={"service": {"type": "string"}, "version": {"type": "string"}},
    ).model_copy(update={"name": "Deploy <approval>", "description": "Ship a version.\nMore."})
    listing = kit.procedure_list_text({"deploy_approval": procedure}, "/procedure")
    assert "• `deploy_approval` *Deploy &lt;approval&gt;* — Ship a version. …" in listing
    assert "params: service, version" in listing
    assert "`/procedure run &lt;name&gt; key=value`" in listing
    status = kit.run_status_text(run(RunStatus.FAILED, error="boom"))
    assert "*deploy_approval* `1a2b3c4d` · ❌ *Failed*: boom" in status
    assert "Params: service=checkout-api, version=2.14.0" in status
    assert kit.runs_status_text([]) == "No runs yet."
    assert "✅ `1a2b3c4d` deploy_approval · Completed by <@U0ALICE01>" in kit.runs_status_text(
        [run(RunStatus.COMPLETED)]
    )
