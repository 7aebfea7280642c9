"""Every kind of request, as people see and answer it in Slack, end to end.

The bot (`hitlbot serve`) and devslack run in their own processes; people act through
devslack's control API, and the run's thread, its message and the bot's database show what
happened.
"""

from __future__ import annotations

import pytest

from runtime.models import RunStatus
from tests.bot.e2e.conftest import (
    ALICE,
    BOB,
    CAROL,
    Slack,
    all_text,
    answer_elements,
    section_texts,
)


async def test_approve_updates_the_request_and_completes_the_run(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run ship service=checkout")
    parent = await slack.wait_parent(thread, "Waiting for")
    assert "*Ship*" in all_text(parent)
    assert f"Started by <@{ALICE}>" in all_text(parent)
    assert "checkout" in all_text(parent)  # the params are shown

    request = await slack.wait_request(thread, "Ship *checkout*?")  # Markdown became mrkdwn
    buttons = {b["text"]["text"]: b for b in answer_elements(request)}
    assert buttons["Approve"]["style"] == "primary"
    assert buttons["Reject"]["style"] == "danger"
    assert "*Service*\\ncheckout" in all_text(request)  # the context fields

    await slack.click("bob", request, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": True, "spun": False}

    answered = next(m for m in await slack.replies(thread) if m["ts"] == request["ts"])
    assert answer_elements(answered) == []  # the buttons are gone
    outcome = " ".join(section_texts(answered["blocks"]))
    assert f"Approved by <@{BOB}> at <!date^" in outcome
    parent = await slack.wait_parent(thread, "Completed")
    assert "approved: yes" in all_text(parent)
    [pending] = slack.requests(thread)
    assert pending.response is not None
    assert (pending.response.value, pending.response.responder) == (True, BOB)


async def test_reject_is_recorded_as_false(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.click("carol", request, text="Reject")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": False, "spun": False}
    answered = await slack.wait_reply(thread, "Rejected by")
    assert f"Rejected by <@{CAROL}> at" in all_text(answered)


async def test_thread_holds_notifications_requests_and_result(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run echo note=shipped")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"note": "shipped"}
    replies = await slack.replies(thread)
    assert [r["text"] for r in replies] == ["ℹ️ Echo: shipped", "echo: completed"]
    assert all(r["thread_ts"] == thread.ts for r in replies)
    assert "*Note*\\nshipped" in all_text(replies[-1])  # the result as fields
    # The channel holds only the run's message; everything else is in its thread.
    [top] = await slack.messages(slack.channel)
    assert top["ts"] == thread.ts
    assert "Completed" in all_text(top) and "note: shipped" in all_text(top)
    # Posted as it was when the run ended: no update had to follow.
    assert not top.get("edited")
    assert (await slack.method_calls("chat.update"))["calls"] == 0


async def test_run_message_shows_running_then_completed(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship spin=50000000")
    await slack.wait_parent(thread, "*Waiting for* an approval")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.click("bob", request, text="Approve")
    # The Lua works for a second or so after the answer: the message says so meanwhile.
    await slack.wait_parent(thread, "Running")
    await slack.wait_parent(thread, "Completed")
    await slack.wait_run(thread, RunStatus.COMPLETED)


async def test_run_message_says_why_a_run_failed(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run failing")
    request = await slack.wait_request(thread, "Run the migration?")
    await slack.click("bob", request, text="Approve")
    run = await slack.wait_run(thread, RunStatus.FAILED)
    assert "disk full on db-1" in (run.error or "")
    parent = await slack.wait_parent(thread, "Failed")
    assert "disk full on db-1" in all_text(parent)
    result = await slack.wait_reply(thread, "failing: failed")
    assert "disk full on db-1" in all_text(result)


async def test_input_through_the_respond_modal_then_options(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run ask")
    request = await slack.wait_request(thread, "Change ticket for this deploy")
    assert [b["text"]["text"] for b in answer_elements(request)] == ["Respond"]
    await slack.click("bob", request, text="Respond")
    modal = await slack.wait_view("bob", "Input needed")
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert field["element"]["placeholder"]["text"] == "CHG-12345"
    result = await slack.submit("bob", modal["id"], {"Your answer": "CHG-4242"})
    assert result["ok"] and result["response_action"] is None, result
    await slack.wait_no_view("bob")

    choice = await slack.wait_request(thread, "Which region first?")
    labels = [b["text"]["text"] for b in answer_elements(choice)]
    assert labels == ["Europe", "United States"]
    await slack.click("carol", choice, text="United States")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"ticket": "CHG-4242", "region": "us"}
    answered = await slack.wait_reply(thread, "CHG-4242")
    assert f"Answered by <@{BOB}>" in all_text(answered)
    chosen = await slack.wait_reply(thread, "chosen by")
    assert "*United States* chosen by" in all_text(chosen)


async def test_review_with_a_plain_decision(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run review")
    request = await slack.wait_request(thread, "Are these release notes ready?")
    assert "faster checkout" in all_text(request)  # the artifact is shown
    styles = {b["text"]["text"]: b.get("style") for b in answer_elements(request)}
    assert styles == {
        "Approve": "primary",
        "Edit and approve": None,
        "Request changes": None,
        "Reject": "danger",
    }
    await slack.click("bob", request, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result is not None
    assert (run.result["decision"], run.result["feedback"]) == ("approve", "")
    assert await slack.views("bob") == []  # a plain decision opens no modal


async def test_review_edit_opens_the_artifact_prefilled(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run review")
    request = await slack.wait_request(thread, "Are these release notes ready?")
    await slack.click("bob", request, text="Edit and approve")
    modal = await slack.wait_view("bob", "Edit and approve")
    inputs = {b["block_id"]: b for b in modal["blocks"] if b["type"] == "input"}
    artifact = inputs["artifact:0"]["element"]
    assert artifact["initial_value"] == "## api 2.0\n\n- faster checkout\n- fewer retries"
    assert artifact["multiline"] is True
    assert "feedback" in inputs

    edited = "## api 2.0\n\n- faster checkout\n- fewer retries\n- dark mode"
    result = await slack.submit(
        "bob", modal["id"], {"artifact:0": edited, "feedback": "added dark mode"}
    )
    assert result["ok"], result
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"decision": "edit", "feedback": "added dark mode", "edited": edited}
    [pending] = slack.requests(thread)
    assert pending.response is not None
    value = pending.response.value
    assert (value["decision"], value["feedback"], value["edited_artifact"]) == (
        "edit",
        "added dark mode",
        edited,
    )
    answered = await slack.wait_reply(thread, "Edited by")
    assert "added dark mode" in all_text(answered)


async def test_review_request_changes_needs_feedback(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run review")
    request = await slack.wait_request(thread, "Are these release notes ready?")
    await slack.click("bob", request, text="Request changes")
    modal = await slack.wait_view("bob", "Request changes")
    refused = await slack.submit("bob", modal["id"], {})
    assert refused["client_side"] and "feedback" in refused["errors"]  # required
    await slack.submit("bob", modal["id"], {"feedback": "mention the migration"})
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result is not None
    assert (run.result["decision"], run.result["feedback"]) == (
        "request_changes",
        "mention the migration",
    )


async def test_select_single_buttons_then_menu_then_multiple(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run pick")
    size = await slack.wait_request(thread, "Instance size?")
    assert [b["text"]["text"] for b in answer_elements(size)] == ["small", "medium", "large"]
    await slack.click("bob", size, text="medium")

    zone = await slack.wait_request(thread, "Which zone?")
    [menu] = answer_elements(zone)
    assert menu["type"] == "static_select" and len(menu["options"]) == 7
    await slack.click("bob", zone, action_id=menu["action_id"], value="zone-e")

    checks = await slack.wait_request(thread, "Which checks should run?")
    assert "Choose 1 to 2" in all_text(checks)  # the bounds are stated
    boxes = next(e for e in answer_elements(checks) if e["type"] == "checkboxes")
    # Too many: refused privately, nothing recorded.
    await slack.click(
        "bob",
        checks,
        action_id=boxes["action_id"],
        value=["Smoke tests", "Load tests", "Security scan"],
    )
    await slack.click("bob", checks, text="Submit")
    await slack.wait_ephemeral("bob", "choose at most 2 options")
    # Too few.
    await slack.click("bob", checks, action_id=boxes["action_id"], value=[])
    await slack.click("bob", checks, text="Submit")
    await slack.wait_ephemeral("bob", "choose at least 1 option")
    assert slack.requests(thread)[-1].response is None
    # Just right.
    await slack.click(
        "bob", checks, action_id=boxes["action_id"], value=["Smoke tests", "Security scan"]
    )
    await slack.click("bob", checks, text="Submit")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"size": "medium", "zone": "zone-e", "checks": ["smoke", "security"]}
    chosen = await slack.wait_reply(thread, "*Smoke tests*, *Security scan* chosen by")
    assert answer_elements(chosen) == []


async def test_multiple_inputs_in_one_modal_with_a_field_error(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run report")
    request = await slack.wait_request(thread, "Shift summary")
    await slack.click("bob", request, text="Answer 4 questions")
    modal = await slack.wait_view("bob", "Answer 4 questions")
    labels = [b["label"]["text"] for b in modal["blocks"] if b["type"] == "input"]
    assert labels == ["Shift summary", "Overall health", "Services to watch", "Runbooks updated"]

    values = {
        "Shift summary": "quiet night",
        "Overall health": "yellow",
        "Services to watch": ["checkout", "payments", "ledger"],
    }
    refused = await slack.submit("bob", modal["id"], values)
    # The bot checked the answer inside its ack and put the problem on the field.
    assert refused["response_action"] == "errors", refused
    assert refused["errors"] == {"item:2:services": "item 'services': choose at most 2 options"}
    assert slack.requests(thread)[0].response is None
    [still_open] = await slack.views("bob")
    assert still_open["errors"] == refused["errors"]

    values["Services to watch"] = ["checkout", "ledger"]
    accepted = await slack.submit("bob", modal["id"], values)
    assert accepted["ok"] and accepted["response_action"] is None, accepted
    await slack.wait_no_view("bob")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {
        "summary": "quiet night",
        "health": "yellow",
        "services": ["checkout", "ledger"],
        "runbooks": False,
    }
    answered = await slack.wait_reply(thread, "Answered by")
    assert "quiet night" in all_text(answered)


async def test_notifications_by_level_with_a_details_modal(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run announce")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    warning = await slack.wait_reply(thread, "Maintenance window tonight")
    assert warning["text"] == "⚠️ Maintenance window tonight"
    assert "Checkout is *read-only* from 22:00 to 23:00." in all_text(warning)  # mrkdwn
    success = await slack.wait_reply(thread, "All systems ready")
    assert success["text"] == "✅ All systems ready"
    assert "Details" not in all_text(success)

    await slack.click("bob", warning, text="Details")
    modal = await slack.wait_view("bob", "Maintenance window")
    texts = " ".join(section_texts(modal["blocks"]))
    assert "*Rollback*" in texts and "Redeploy `api 1.9` and flush the cache." in texts
    assert "*Contacts*" in texts
    assert modal.get("submit") is None  # read only


@pytest.mark.parametrize(
    ("severity", "title"),
    [("error", "🔴 Error escalation"), ("critical", "🚨 Critical escalation")],
    ids=["error", "critical"],
)
async def test_escalation_mentions_and_resolves_with_a_note(
    slack: Slack, severity: str, title: str
) -> None:
    thread = await slack.start("alice", slack.channel, f"run escalate severity={severity}")
    request = await slack.wait_request(thread, "Payments are failing")
    assert request["text"].startswith(f"<!here> {title}")  # the mention notifies
    assert "<!here> Payments are failing" in all_text(request)
    assert "Never times out" in all_text(request)
    [pending] = slack.requests(thread)
    assert pending.request.timeout_seconds is None  # `timeout = 1` is ignored

    await slack.click("carol", request, text="Resolve")
    modal = await slack.wait_view("carol", "Resolve escalation")
    await slack.submit("carol", modal["id"], {"note": "rolled back to 4.2.1"})
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"resolved": True}
    answered = await slack.wait_reply(thread, "Resolved by")
    assert f"Resolved by <@{CAROL}>" in all_text(answered)
    assert "rolled back to 4.2.1" in all_text(answered)
    [pending] = slack.requests(thread)
    assert pending.response is not None
    assert pending.response.value["note"] == "rolled back to 4.2.1"


async def test_escalation_below_error_mentions_nobody(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run escalate severity=warning")
    request = await slack.wait_request(thread, "Payments are failing")
    assert request["text"].startswith("⚠️ Warning escalation")
    assert "<!here>" not in all_text(request)
    await slack.click("bob", request, text="Resolve")
    modal = await slack.wait_view("bob", "Resolve escalation")
    await slack.submit("bob", modal["id"], {})  # the note is optional
    await slack.wait_run(thread, RunStatus.COMPLETED)


async def test_a_long_artifact_is_shortened_with_a_view_full_modal(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run review lines=80")
    request = await slack.wait_request(thread, "Are these release notes ready?")
    assert "change number 10" in all_text(request)
    assert "change number 80" not in all_text(request)  # cut to fit
    await slack.click("bob", request, text="View full")
    modal = await slack.wait_view("bob", "Review needed")
    assert "change number 80" in " ".join(section_texts(modal["blocks"]))
    assert slack.requests(thread)[0].response is None  # reading answers nothing
