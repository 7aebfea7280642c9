"""`/procedure` end to end: list, status, cancel, help, mistakes, and the parameter modal."""

from __future__ import annotations

import json

from runtime.models import RunStatus
from tests.bot.e2e.conftest import ALICE, PROCEDURES, Slack, all_text, answer_elements


async def _reply(slack: Slack, user: str, text: str, contains: str) -> str:
    """Type `/procedure <text>` as `user`; the ephemeral reply that contains `contains`."""
    seen = {message["ts"] for message in await slack.ephemeral(user)}
    await slack.command(user, slack.channel, text)
    return (await slack.wait_ephemeral(user, contains, besides=seen))["text"]


async def test_help_and_list(slack: Slack) -> None:
    usage = await _reply(slack, "dave", "help", "starts procedures")
    for verb in ("run <name>", "list", "status [run]", "cancel", "help"):
        assert f"/procedure {verb}" in usage
    listing = await _reply(slack, "dave", "list", "*Procedures*")
    for path in PROCEDURES.glob("*.yaml"):
        assert f"`{path.stem}`" in listing
    assert "params: service, twice, spin" in listing
    assert await slack.messages(slack.channel) == []  # replies are private


async def test_status_of_recent_runs_and_of_one_run(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship service=web")
    await slack.wait_request(thread, "Ship *web*?")
    short = thread.run_id[:8]
    recent = await _reply(slack, "dave", "status", "*Recent runs*")
    assert f"`{short}` ship · Waiting for an answer by <@{ALICE}>" in recent
    one = await _reply(slack, "dave", f"status {short}", f"`{short}`")
    assert "Params: service=web" in one and "Waiting" in one


async def test_cancel_withdraws_the_request(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    await _reply(slack, "alice", f"cancel {thread.run_id[:8]}", "cancelled")
    run = await slack.wait_run(thread, RunStatus.CANCELLED, timeout=10)
    assert run.error == f"cancelled by <@{ALICE}>"
    await slack.wait_parent(thread, f"Cancelled* by <@{ALICE}>")
    withdrawn = await slack.wait_reply(thread, "🚫 Cancelled")
    assert withdrawn["ts"] == request["ts"] and answer_elements(withdrawn) == []
    assert slack.requests(thread)[0].cancelled


async def test_only_the_starter_or_an_approver_may_cancel(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run guarded")  # only @oncall answers
    await slack.wait_request(thread, "Restart the payments database?")
    refused = await _reply(slack, "dave", f"cancel {thread.run_id[:8]}", "can cancel it")
    assert "Only the person who started run" in refused
    assert slack.store.get_run(thread.run_id).status is RunStatus.WAITING_FOR_HUMAN
    await _reply(slack, "bob", f"cancel {thread.run_id[:8]}", "cancelled")
    await slack.wait_run(thread, RunStatus.CANCELLED, timeout=10)


async def test_cancel_from_the_run_message(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")
    await slack.wait_request(thread, "Ship *api*?")
    await slack.click("alice", await slack.parent(thread), text="Cancel run")
    await slack.wait_run(thread, RunStatus.CANCELLED)
    parent = await slack.wait_parent(thread, "Cancelled")
    assert "Cancel run" not in all_text(parent)
    again = await _reply(slack, "alice", f"cancel {thread.run_id[:8]}", "already ended")
    assert "CANCELLED" in again


async def test_mistakes_get_a_private_reply_that_says_how_to_fix_them(slack: Slack) -> None:
    unknown = await _reply(slack, "dave", "run shp", "Unknown procedure")
    assert "Did you mean `ship`?" in unknown
    bad_value = await _reply(slack, "dave", "run escalate severity=huge", "Cannot start")
    assert '`severity`: "huge" is not one of the choices' in bad_value
    assert "/procedure run escalate key=value" in bad_value
    bad_type = await _reply(slack, "dave", "run ship spin=lots", "Cannot start `ship`")
    assert "`spin`: expected an integer" in bad_type
    unknown_param = await _reply(slack, "dave", "run ship colour=red", "unknown parameter")
    assert "`colour`" in unknown_param
    not_key_value = await _reply(slack, "dave", "run ship service", "is not a parameter")
    assert "key=value" in not_key_value
    verb = await _reply(slack, "dave", "lst", "Unknown command")
    assert "Did you mean `list`?" in verb
    assert "no run" in (await _reply(slack, "dave", "status 0000zzzz", "0000zzzz")).lower()
    assert "no run" in (await _reply(slack, "dave", "cancel 0000zzzz", "0000zzzz")).lower()
    assert await slack.messages(slack.channel) == []
    assert slack.store.list_runs(limit=1000, status=RunStatus.RUNNING) == []


async def test_text_containing_payload_starts_the_run(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, 'run echo note="payload here"')
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"note": "payload here"}
    await slack.wait_reply(thread, "Echo: payload here")


async def test_missing_params_open_a_modal_with_field_errors(any_slack: Slack) -> None:
    slack = any_slack
    await slack.command("alice", slack.channel, 'run form title="Q3 cleanup"')
    modal = await slack.wait_view("alice", "Run Form")
    fields = {b["block_id"]: b for b in modal["blocks"] if b["type"] == "input"}
    assert list(fields) == [
        "param:title",
        "param:count",
        "param:env",
        "param:urgent",
        "param:tags",
        "param:limits",
    ]
    assert fields["param:title"]["element"]["initial_value"] == "Q3 cleanup"  # as given
    assert fields["param:title"]["hint"]["text"] == "What the change is called"
    assert fields["param:count"]["element"]["type"] == "number_input"
    assert fields["param:count"]["element"]["is_decimal_allowed"] is False
    assert fields["param:env"]["element"]["type"] == "static_select"
    assert fields["param:env"]["element"]["initial_option"]["value"] == "staging"  # default
    assert fields["param:urgent"]["element"]["type"] == "checkboxes"
    assert fields["param:tags"]["element"]["multiline"] is True
    assert not fields["param:count"].get("optional")

    values = {
        "param:count": "3",
        "param:env": "production",
        "param:urgent": ["Yes"],
        "param:tags": "db\ncache",
        "param:limits": "{cpu: 2",
    }
    refused = await slack.submit("alice", modal["id"], values)
    assert refused["response_action"] == "errors", refused
    assert list(refused["errors"]) == ["param:limits"]
    assert "Expected JSON for an object" in refused["errors"]["param:limits"]
    assert await slack.messages(slack.channel) == []  # nothing started

    values["param:limits"] = json.dumps({"cpu": 2})
    accepted = await slack.submit("alice", modal["id"], values)
    assert accepted["ok"] and accepted["response_action"] is None, accepted
    await slack.wait_no_view("alice")

    async def started() -> list[dict]:
        return await slack.messages(slack.channel)

    [message] = await slack.wait_for(started, "the run started from the form")
    assert "Form" in all_text(message)
    [run] = [
        r
        for r in slack.store.list_runs(limit=50)
        if r.procedure_id == "form" and r.run_id[:8] in all_text(message)
    ]
    assert run.started_by == ALICE
    assert run.params == {
        "title": "Q3 cleanup",
        "count": 3,
        "env": "production",
        "urgent": True,
        "tags": ["db", "cache"],
        "limits": {"cpu": 2},
    }
    assert run.status is RunStatus.COMPLETED
