"""Modals: answering by typing, deciding a review with edits, and reading long texts in full.

Submissions are built the way the Slack client builds them (devslack's element model): a
field nobody touched keeps its initial value, a choice is picked by its visible label.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import blocks as kit
from bot import modals
from devslack.blockkit import validate_view
from devslack.elements import convert_value, initial_value, iter_elements, state_entry
from runtime.answers import normalize_answer
from runtime.errors import AnswerError
from runtime.models import HITLRequest, HITLResponse, PendingRequest, RunRecord, RunStatus

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0BOB0001> & <https://evil.example|x>"
NOTES = "## checkout-api 2.14.0\n\n### Changes\n- Apple Pay\n- Retries\n"
REVIEW_OPTIONS = [
    {"label": "Approve", "value": "approve", "type": "action"},
    {"label": "Request changes", "value": "request_changes", "type": "action"},
    {"label": "Edit", "value": "edit", "type": "action", "edit": True},
]


def pending(request_type: str, message: str = "Change ticket?", **fields: Any) -> PendingRequest:
    return PendingRequest(
        request_id="deploy:1a2b3c4d:pos3",
        run_id="1a2b3c4d-0000",
        procedure_id="deploy",
        position=3,
        created_at=NOW,
        request=HITLRequest(request_type=request_type, message=message, **fields),
    )


def review(artifact: Any = NOTES) -> PendingRequest:
    return pending(
        "review",
        "Are these notes ready?",
        options=REVIEW_OPTIONS,
        metadata={"artifact": artifact, "artifact_type": "release notes", "context": {}},
    )


def item(item_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    fields = {"options": [], "default_value": None, "required": True, "metadata": {}}
    fields.update(extra)
    return {"item_id": item_id, "label": item_id.title(), "request_type": kind, **fields}


def inputs_request() -> PendingRequest:
    impact = [{"label": "None", "value": "none"}, {"label": "Outage", "value": "outage"}]
    regions = [{"label": r.upper(), "value": r} for r in ("eu", "us", "ap")]
    return pending(
        "inputs",
        "Multiple inputs requested (5 items)",
        metadata={
            "items": [
                item("go", "approval", message="Go ahead?"),
                item("ticket", "input", metadata={"placeholder": "CHG-1"}),
                item("impact", "select", options=impact, metadata={"mode": "single"}),
                item("regions", "select", options=regions, metadata={"mode": "multiple"}),
                item("note", "input", required=False, default_value="n/a"),
            ]
        },
    )


def inputs_of(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def submit(view: dict, typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """`view.state.values` as Slack sends it when the user submits after typing `typed`
    ({block_id: text, option label or list of labels}); other fields keep their initial value."""
    assert validate_view(view) == []
    values: dict[str, Any] = {}
    for block, element in iter_elements(view["blocks"]):
        if block["type"] != "input":
            continue
        value = initial_value(element)
        if typed and block["block_id"] in typed:
            value = convert_value(
                element, typed[block["block_id"]], resolve_user=str, resolve_channel=str
            )
        values[block["block_id"]] = {element["action_id"]: state_entry(element, value)}
    return values


# --- every modal is valid -----------------------------------------------------------------


def all_modals() -> list[dict]:
    run = RunRecord(run_id="r" * 8, procedure_id="p", status=RunStatus.COMPLETED, result=[1])
    return [
        modals.input_modal(pending("input")),
        modals.input_modal(pending("input", options=[{"label": "A", "value": "a"}])),
        modals.input_modal(pending("select", options=[{"label": "A", "value": "a"}] * 12)),
        modals.review_modal(review(), 0),
        modals.review_modal(review(), 1),
        modals.review_modal(review(), 2),
        modals.inputs_modal(inputs_request()),
        modals.resolve_modal(pending("escalation", metadata={"severity": "critical"})),
        modals.details_modal("Details", [{"title": "Runbook", "content": "https://x.example"}]),
        modals.full_text_modal("Release notes", NOTES),
        modals.request_details_modal(review()),
        modals.result_modal(run),
        modals.notification_details_modal({"message": "m", "content": "c", "details": []}),
    ]


@pytest.mark.parametrize("view", all_modals(), ids=lambda v: v["title"]["text"])
def test_every_modal_is_valid_and_titled_within_24_characters(view: dict) -> None:
    assert validate_view(view) == []
    assert len(view["title"]["text"]) <= 24


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Release notes", "Release notes"),
        ("x" * 24, "x" * 24),
        ("x" * 25, "x" * 23 + "…"),
        ("Критический инцидент на платёжном шлюзе", "Критический инцидент на…"),
    ],
)
def test_titles_are_cut_to_slacks_24_characters(title: str, shown: str) -> None:
    view = modals.details_modal(title, [])
    assert validate_view(view) == []
    assert view["title"]["text"] == shown


# --- input --------------------------------------------------------------------------------


def test_the_input_modal_has_the_placeholder_and_the_default_pre_filled() -> None:
    request = pending(
        "input",
        default_value="CHG-0000",
        metadata={"placeholder": "CHG-12345", "multiline": True},
    )
    view = modals.input_modal(request)
    assert view["callback_id"] == kit.CALLBACK_INPUT
    assert json.loads(view["private_metadata"]) == {"request_id": request.request_id}
    field = inputs_of(view)["answer"]["element"]
    assert field["placeholder"]["text"] == "CHG-12345"
    assert field["multiline"] is True
    assert field["initial_value"] == "CHG-0000"
    assert view["submit"]["text"] == "Submit"


@pytest.mark.parametrize(("typed", "expected"), [("CHG-4711", "CHG-4711"), (None, "CHG-0000")])
def test_what_is_typed_becomes_the_answer(typed: str | None, expected: str) -> None:
    request = pending("input", default_value="CHG-0000")
    view = modals.input_modal(request)
    raw = modals.parse_input_submission(request, submit(view, {"answer": typed} if typed else {}))
    assert normalize_answer(request.request, raw) == expected


@pytest.mark.parametrize(
    ("request_", "typed", "expected"),
    [
        (
            pending("input", options=[{"label": "Blue", "value": "b"}], default_value="b"),
            None,
            "b",
        ),
        (
            pending("select", options=[{"label": f"L{n}", "value": n} for n in range(8)]),
            "L5",
            5,
        ),
        (
            pending(
                "select",
                options=[{"label": f"L{n}", "value": n} for n in range(4)],
                default_value=[1],
                metadata={"mode": "multiple", "min": 1, "max": 2},
            ),
            ["L0", "L3"],
            [0, 3],
        ),
        (
            pending(
                "select",
                options=[{"label": f"L{n}", "value": n} for n in range(30)],
                metadata={"mode": "multiple", "min": 1, "max": 2},
            ),
            ["L29"],
            [29],
        ),
    ],
)
def test_choices_in_the_input_modal_become_the_answer(
    request_: PendingRequest, typed: Any, expected: Any
) -> None:
    view = modals.input_modal(request_)
    raw = modals.parse_input_submission(request_, submit(view, {"answer": typed} if typed else {}))
    assert normalize_answer(request_.request, raw) == expected


def test_a_multiple_choice_modal_pre_ticks_the_default() -> None:
    request = pending(
        "select",
        options=[{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
        default_value=["b"],
        metadata={"mode": "multiple", "min": 1, "max": None},
    )
    field = inputs_of(modals.input_modal(request))["answer"]
    assert field["element"]["type"] == "checkboxes"
    assert [o["text"]["text"] for o in field["element"]["initial_options"]] == ["B"]
    assert field["label"]["text"] == "Choose at least 1"


# --- review -------------------------------------------------------------------------------


def test_an_editing_decision_pre_fills_the_artifact_and_asks_for_feedback() -> None:
    request = review()
    view = modals.review_modal(request, 2)
    assert view["callback_id"] == kit.CALLBACK_REVIEW
    assert json.loads(view["private_metadata"]) == {"request_id": request.request_id, "option": 2}
    assert view["title"]["text"] == "Edit" and view["submit"]["text"] == "Edit"
    fields = inputs_of(view)
    assert fields["artifact:0"]["element"]["initial_value"].strip() == NOTES.strip()
    assert fields["artifact:0"]["label"]["text"] == "Release notes"
    assert fields["feedback"].get("optional") is True


def test_request_changes_requires_feedback_and_shows_no_editor() -> None:
    view = modals.review_modal(review(), 1)
    fields = inputs_of(view)
    assert set(fields) == {"feedback"}
    assert "optional" not in fields["feedback"]
    assert fields["feedback"]["element"]["placeholder"]["text"] == "What should change?"


def test_a_review_submission_carries_decision_feedback_and_edited_artifact() -> None:
    request = review()
    view = modals.review_modal(request, 2)
    edited = NOTES.replace("Retries", "Retries on timeout")
    raw = modals.parse_review_submission(
        request, 2, submit(view, {"artifact:0": edited, "feedback": "fixed a line"})
    )
    assert normalize_answer(request.request, raw) == {
        "decision": "edit",
        "label": "Edit",
        "feedback": "fixed a line",
        "edited_artifact": edited,
    }


def test_an_untouched_artifact_comes_back_unchanged() -> None:
    request = review()
    raw = modals.parse_review_submission(request, 2, submit(modals.review_modal(request, 2)))
    assert raw["edited_artifact"] == NOTES


def test_a_long_artifact_is_edited_in_parts_and_joined_back_exactly() -> None:
    artifact = "\n\n".join(f"## Section {n}\n" + "word " * 150 for n in range(12))
    artifact += "\n" + "x" * 5000  # one line longer than a text input
    request = review(artifact)
    view = modals.review_modal(request, 2)
    parts = [b for b in view["blocks"] if b.get("block_id", "").startswith("artifact:")]
    assert 1 < len(parts) <= modals.MAX_ARTIFACT_PARTS
    assert all(len(p["element"].get("initial_value", "")) <= 3000 for p in parts)
    assert parts[1]["label"]["text"] == f"Release notes (part 2 of {len(parts)})"
    untouched = modals.parse_review_submission(request, 2, submit(view))
    assert untouched["edited_artifact"] == artifact
    typed = {"artifact:1": parts[1]["element"]["initial_value"] + " EDITED"}
    edited = modals.parse_review_submission(request, 2, submit(view, typed))["edited_artifact"]
    assert edited != artifact and edited.replace(" EDITED", "", 1) == artifact


def test_an_artifact_too_long_to_edit_asks_for_feedback_instead() -> None:
    request = review("line\n" * 10_000)
    view = modals.review_modal(request, 2)
    assert validate_view(view) == []
    assert not [b for b in view["blocks"] if b.get("block_id", "").startswith("artifact:")]
    raw = modals.parse_review_submission(request, 2, submit(view, {"feedback": "shorter"}))
    assert "edited_artifact" not in raw
    assert (
        normalize_answer(request.request, raw)["edited_artifact"]
        == request.request.metadata["artifact"]
    )


def test_a_data_artifact_is_edited_as_json_and_parsed_back() -> None:
    request = review({"title": "v2", "tags": ["a"]})
    view = modals.review_modal(request, 2)
    text = inputs_of(view)["artifact:0"]["element"]["initial_value"]
    assert json.loads(text) == {"title": "v2", "tags": ["a"]}
    typed = {"artifact:0": text.replace('"v2"', '"v3"')}
    raw = modals.parse_review_submission(request, 2, submit(view, typed))
    assert raw["edited_artifact"] == {"title": "v3", "tags": ["a"]}


def test_a_review_modal_for_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="no review option 9"):
        modals.review_modal(review(), 9)


# --- inputs -------------------------------------------------------------------------------


def test_the_inputs_modal_has_one_field_per_item() -> None:
    request = inputs_request()
    view = modals.inputs_modal(request)
    assert view["callback_id"] == kit.CALLBACK_INPUTS
    assert view["title"]["text"] == "Answer 5 questions"
    fields = {key.rsplit(":", 1)[0]: block for key, block in inputs_of(view).items()}
    kinds = [fields[f"item:{n}"]["element"]["type"] for n in range(5)]
    assert kinds == [
        "radio_buttons",
        "plain_text_input",
        "radio_buttons",
        "checkboxes",
        "plain_text_input",
    ]
    assert fields["item:0"]["hint"]["text"] == "Go ahead?"
    assert fields["item:1"]["element"]["placeholder"]["text"] == "CHG-1"
    assert fields["item:4"]["optional"] is True
    assert fields["item:4"]["element"]["initial_value"] == "n/a"


def test_an_inputs_submission_is_answered_item_by_item() -> None:
    request = inputs_request()
    typed = {
        "item:0:go": "Yes",
        "item:1:ticket": "CHG-9",
        "item:2:impact": "Outage",
        "item:3:regions": ["EU", "AP"],
        "item:4:note": "",
    }
    state = submit(modals.inputs_modal(request), typed)
    raw = modals.parse_inputs_submission(request, state)
    assert normalize_answer(request.request, raw) == {
        "go": True,
        "ticket": "CHG-9",
        "impact": "outage",
        "regions": ["eu", "ap"],
        "note": "n/a",
    }


def test_an_inputs_error_is_shown_on_its_field() -> None:
    request = inputs_request()
    raw = modals.parse_inputs_submission(request, submit(modals.inputs_modal(request)))
    with pytest.raises(AnswerError) as error:
        normalize_answer(request.request, raw)
    assert modals.modal_errors(request, str(error.value)) == {"item:0:go": str(error.value)}
    view = modals.inputs_modal(request)
    assert modals.form_error(view, str(error.value)) == {"item:0:go": str(error.value)}
    assert modals.form_error(view, "item 'impact': 'x' is not one of the options") == {
        "item:2:impact": "item 'impact': 'x' is not one of the options"
    }


@pytest.mark.parametrize(
    ("kind", "field"),
    [("input", "answer"), ("select", "answer"), ("review", "feedback"), ("escalation", "note")],
)
def test_an_answer_error_lands_on_the_modal_field(kind: str, field: str) -> None:
    assert modals.modal_errors(pending(kind), "nope") == {field: "nope"}


@pytest.mark.parametrize(
    ("view", "field"),
    [
        (modals.input_modal(pending("input")), "answer"),
        (modals.review_modal(review(), 2), "feedback"),
        (modals.resolve_modal(pending("escalation", metadata={"severity": "info"})), "note"),
        (modals.details_modal("x", []), None),
    ],
)
def test_form_errors_from_the_view_alone_land_on_its_main_field(view: dict, field: Any) -> None:
    expected = {field: "request is gone"} if field else {}
    assert modals.form_error(view, "request is gone") == expected


# --- escalation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "note"), [({"note": "rolled back"}, "rolled back"), ({}, "")])
def test_resolving_an_escalation_takes_an_optional_note(typed: dict, note: str) -> None:
    request = pending(
        "escalation", "Take command", metadata={"severity": "critical", "context": {"a": 1}}
    )
    view = modals.resolve_modal(request)
    assert view["callback_id"] == kit.CALLBACK_RESOLVE
    assert view["submit"]["text"] == "Resolve"
    raw = modals.parse_resolve_submission(request, submit(view, typed))
    assert normalize_answer(request.request, raw) == {
        "acknowledged": True,
        "action": "resolve",
        "note": note,
    }


# --- reading in full ----------------------------------------------------------------------


def view_texts(view: dict) -> str:
    """The mrkdwn a reader sees in the view's sections, fields and small print."""
    return "\n".join(
        b.get("text", {}).get("text", "")
        + "".join(f["text"] for f in b.get("fields", []) + b.get("elements", []))
        for b in view["blocks"]
    )


def test_view_full_shows_the_whole_message_context_and_artifact_escaped() -> None:
    artifact = "\n".join(f"- change {n} {HOSTILE}" for n in range(300))
    request = pending(
        "review",
        HOSTILE,
        options=REVIEW_OPTIONS,
        metadata={"artifact": artifact, "context": {f"k{n}": n for n in range(30)}},
    )
    view = modals.request_details_modal(request)
    assert validate_view(view) == []
    shown = view_texts(view)
    assert "change 299" in shown and "*K29*\n29" in shown
    assert "<!channel>" not in shown and "<@U0BOB0001>" not in shown


def test_view_full_after_an_edit_shows_the_edited_artifact() -> None:
    request = review()
    request.response = HITLResponse(
        value={"decision": "edit", "edited_artifact": "## New text", "feedback": ""},
        responder="U0BOB0001",
    )
    shown = view_texts(modals.request_details_modal(request))
    assert "*Release notes, as edited*" in shown and "*New text*" in shown


@pytest.mark.parametrize("text", ["a" * 100_000, "完了 🚀\n" * 40_000, HOSTILE * 3000])
def test_a_huge_text_is_cut_to_what_a_view_can_hold(text: str) -> None:
    view = modals.full_text_modal("Artifact", text)
    assert validate_view(view) == []
    assert len(json.dumps(view).encode()) < 250_000
    assert "too long to show" in view_texts(view)
    assert "<!channel>" not in view_texts(view)


def test_details_show_each_section_with_its_title() -> None:
    view = modals.notification_details_modal(
        {
            "message": "Incident declared for payments-api",
            "content": "**Impact**: outage",
            "details": [{"title": "Runbook", "content": "[open](https://runbooks.example.com)"}],
        }
    )
    assert view["title"]["text"] == "Incident declared for…"
    shown = view_texts(view)
    assert "*Impact*: outage" in shown
    assert "*Runbook*" in shown and "<https://runbooks.example.com|open>" in shown
    assert "submit" not in view


def test_a_result_is_shown_as_json() -> None:
    run = RunRecord(
        run_id="1a2b3c4d-x", procedure_id="p", status=RunStatus.COMPLETED, result={"a": [1]}
    )
    view = modals.result_modal(run)
    assert view["title"]["text"] == "Result 1a2b3c4d"
    assert '"a": [' in view_texts(view)


def test_view_metadata_reads_what_the_modal_carries() -> None:
    view = modals.review_modal(review(), 1)
    assert modals.view_metadata(view) == {"request_id": "deploy:1a2b3c4d:pos3", "option": 1}
    assert modals.view_metadata({"private_metadata": "oops"}) == {}


def test_as_many_items_as_a_batch_may_ask_fill_one_modal() -> None:
    """Every item of the largest batch the runtime asks gets a field (99 of them, plus the
    request's name: Slack's 100 blocks), so a required item is never out of reach."""
    items = [item(f"q{n}", "input") for n in range(99)]
    request = pending("inputs", "Multiple inputs requested (99 items)", metadata={"items": items})
    view = modals.inputs_modal(request)
    assert len(view["blocks"]) == 100
    assert len(inputs_of(view)) == 99
    typed = {f"item:{n}:q{n}": f"answer {n}" for n in range(99)}
    raw = modals.parse_inputs_submission(request, submit(view, typed))
    assert normalize_answer(request.request, raw) == {f"q{n}": f"answer {n}" for n in range(99)}
