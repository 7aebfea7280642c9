"""Requests Slack would never send, sent to the bot's request URL: each is refused with a 4xx
and one log line (never a 500, never a traceback), nothing is done, and the bot goes on
serving. Then forged submissions (tampered `private_metadata`, someone else's form) and a click
from a user who is not in the workspace."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from runtime.models import RunStatus
from tests.bot.e2e.conftest import (
    ALICE,
    BOB,
    TEAM,
    Slack,
    all_text,
    click_payload,
    deliver_click,
    deliver_submission,
    new_trigger_id,
    submission_payload,
)

GHOST = "U0GHOST01"  # not a member of the workspace
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _form(payload: Any) -> bytes:
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


def _click(**changes: Any) -> dict[str, Any]:
    """A block_actions payload as Slack sends it, with `changes` (None removes a key)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": BOB, "username": "bob", "name": "bob", "team_id": TEAM},
        "team": {"id": TEAM, "domain": "devslack"},
        "api_app_id": "A0DEVAPP01",
        "token": "devslackverificationtoken",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0GENERAL"},
        "channel": {"id": "C0GENERAL", "name": "general"},
        "trigger_id": new_trigger_id(),
        "response_url": "http://127.0.0.1:9/unused",
        "state": {"values": {}},
        "actions": [
            {
                "type": "button",
                "action_id": "hitl:approve",
                "block_id": "actions|deploy:1a2b3c4d:pos0",
                "value": "deploy:1a2b3c4d:pos0",
                "action_ts": "1.3",
            }
        ],
    }
    return _changed(payload, changes)


def _submission(**changes: Any) -> dict[str, Any]:
    view = {
        "id": "V0E2E0001",
        "type": "modal",
        "callback_id": "hitl_input",
        "private_metadata": json.dumps({"request_id": "deploy:1a2b3c4d:pos0"}),
        "blocks": [],
        "hash": "1.abc",
    }
    return _changed(submission_payload(BOB, view, {}), changes)


def _changed(payload: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = payload
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return payload


def _command(**changes: str | None) -> bytes:
    fields: dict[str, str | None] = {
        "token": "devslackverificationtoken",
        "team_id": TEAM,
        "channel_id": "C0GENERAL",
        "user_id": BOB,
        "command": "/procedure",
        "text": "help",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": new_trigger_id(),
    }
    fields.update(changes)
    return urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def _event(**changes: Any) -> bytes:
    envelope = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": "Ev0BAD" + new_trigger_id()[-8:],
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": BOB, "tab": "home"},
    }
    return json.dumps(_changed(envelope, changes)).encode()


Headers = Callable[[bytes, dict[str, str]], dict[str, str]]


def _without(name: str) -> Headers:
    return lambda _body, signed: {k: v for k, v in signed.items() if k != name}


def _with(name: str, value: str) -> Headers:
    return lambda _body, signed: {**signed, name: value}


# (body, content type, how the signed headers are spoiled, or None when they are not)
CASES: dict[str, tuple[bytes, str, Headers | None]] = {
    "no timestamp": (_command(), FORM, _without("X-Slack-Request-Timestamp")),
    "timestamp not a number": (_command(), FORM, _with("X-Slack-Request-Timestamp", "soon")),
    "no signature": (_command(), FORM, _without("X-Slack-Signature")),
    "wrong signature": (_command(), FORM, _with("X-Slack-Signature", "v0=" + "0" * 64)),
    "body not UTF-8": (b"payload=\xff\xfe", FORM, None),
    "empty body": (b"", FORM, None),
    "plain text": (b"hello there", "text/plain", None),
    "broken JSON": (b'{"type": "event_callback",', JSON, None),
    "JSON list": (b"[1, 2]", JSON, None),
    "payload not JSON": (b"payload=%7Bnope", FORM, None),
    "payload a list": (_form([1, 2]), FORM, None),
    "payload without a type": (_form({}), FORM, None),
    "payload of an unknown type": (_form({"type": "mystery", "user": {"id": BOB}}), FORM, None),
    "click without user": (_form(_click(user=None)), FORM, None),
    "click whose user is a number": (_form(_click(user=5)), FORM, None),
    "click without actions": (_form(_click(actions=None)), FORM, None),
    "click with no action": (_form(_click(actions=[])), FORM, None),
    "click without action_id": (_form(_click(actions=[{"type": "button"}])), FORM, None),
    "click on an action not ours": (
        _form(_click(actions=[{"type": "button", "action_id": "hitl:bogus"}])),
        FORM,
        None,
    ),
    "details click whose value is not JSON": (
        _form(_click(actions=[{"type": "button", "action_id": "hitl:details", "value": "{"}])),
        FORM,
        None,
    ),
    "click with state not an object": (_form(_click(state={"values": [1]})), FORM, None),
    "submission without view": (_form(_submission(view=None)), FORM, None),
    "submission whose view has no type": (_form(_submission(view__type=None)), FORM, None),
    "submission without private_metadata": (
        _form(_submission(view__private_metadata=None)),
        FORM,
        None,
    ),
    "submission whose metadata is not JSON": (
        _form(_submission(view__private_metadata="{nope")),
        FORM,
        None,
    ),
    "submission with state not an object": (
        _form(_submission(view__state={"values": "x"})),
        FORM,
        None,
    ),
    "command without user_id": (_command(user_id=None), FORM, None),
    "command without trigger_id": (_command(trigger_id=None), FORM, None),
    "event without event": (_event(event=None), JSON, None),
    "app_home_opened without user": (_event(event={"type": "app_home_opened"}), JSON, None),
    "authorizations not a list": (_event(authorizations=5), JSON, None),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_malformed_request_gets_a_4xx_and_the_bot_serves_on(
    slack: Slack, case: str
) -> None:
    body, content_type, spoil = CASES[case]
    headers = slack.signed_headers(body, content_type)
    if spoil is not None:
        headers = spoil(body, headers)
    mark = slack.log_mark()
    status, _ = await slack.post_raw(body, headers)
    assert 400 <= status < 500, (case, status)
    [line] = await slack.wait_log("refused a request", since=mark)
    assert str(status) in line
    assert "Traceback" not in slack.log_since(mark)

    # Nothing was done, and the next ordinary request is served as usual.
    assert await slack.ephemeral("bob") == []
    help_text = await slack.command("dave", slack.channel, "help")
    assert help_text["verdict"] == "ok"
    await slack.wait_ephemeral("dave", "starts procedures")
    assert "Traceback" not in slack.log_since(mark)
    assert len([ln for ln in slack.log_since(mark).splitlines() if "refused" in ln]) == 1


# --- forged submissions ----------------------------------------------------------------------


def _retarget(metadata: str, key: str, value: str) -> str:
    """`private_metadata` with every `key` inside it set to `value`, however it is nested."""

    def edit(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: value if k == key else edit(v) for k, v in node.items()}
        if isinstance(node, list):
            return [edit(v) for v in node]
        return node

    return json.dumps(edit(json.loads(metadata)))


def _form_values(title: str) -> dict[str, Any]:
    return {
        "param:title": {"value": {"type": "plain_text_input", "value": title}},
        "param:count": {"value": {"type": "number_input", "value": "3"}},
    }


async def _refused(slack: Slack, payload: dict[str, Any], mark: int) -> None:
    status, ack = await deliver_submission(slack, payload)
    assert status == 200 and ack["response_action"] == "errors", (status, ack)
    assert "open it again" in " ".join(ack["errors"].values())
    await slack.wait_log("refused a view submission", since=mark)


async def test_a_form_whose_metadata_was_tampered_with_starts_nothing(slack: Slack) -> None:
    await slack.command("alice", slack.channel, "run form title=x")
    modal = await slack.wait_view("alice", "Run Form")
    mark = slack.log_mark()

    # Sent to bob's DM instead of the channel the form was opened in.
    view = {
        **modal,
        "private_metadata": _retarget(modal["private_metadata"], "channel", "D0BOB0001"),
    }
    await _refused(slack, submission_payload(ALICE, view, _form_values("forged")), mark)
    # Submitted by someone other than the person it was opened for.
    await _refused(slack, submission_payload(BOB, modal, _form_values("borrowed")), mark)

    assert [r for r in slack.store.list_runs(limit=1000) if r.procedure_id == "form"] == []
    assert await slack.messages("D0BOB0001") == []
    assert await slack.messages(slack.channel) == []
    # The untouched form, submitted by alice, still starts the run where she asked.
    accepted = await slack.submit("alice", modal["id"], {"param:count": "3"})
    assert accepted["ok"] and accepted["response_action"] is None, accepted

    async def started() -> list[dict[str, Any]]:
        return await slack.messages(slack.channel)

    [message] = await slack.wait_for(started, "the run started from the form")
    assert "Form" in all_text(message)


async def test_an_answer_aimed_at_another_request_is_refused(slack: Slack) -> None:
    mine = await slack.start("alice", slack.channel, "run ask")
    request = await slack.wait_request(mine, "Change ticket for this deploy")
    other = await slack.start("carol", slack.another_channel(), "run ask")
    await slack.wait_request(other, "Change ticket for this deploy")
    [target] = slack.requests(other)

    await slack.click("bob", request, text="Respond")
    modal = await slack.wait_view("bob", "Input needed")
    mark = slack.log_mark()
    metadata = _retarget(modal["private_metadata"], "request_id", target.request_id)
    values = {"answer": {"answer": {"type": "plain_text_input", "value": "CHG-666"}}}
    await _refused(
        slack, submission_payload(BOB, {**modal, "private_metadata": metadata}, values), mark
    )

    assert [r.response for r in slack.requests(other)] == [None]
    assert [r.response for r in slack.requests(mine)] == [None]
    assert len(await slack.replies(other)) == 1  # nothing was posted in its thread
    # The modal as it was opened still answers bob's own request.
    await slack.submit("bob", modal["id"], {"Your answer": "CHG-7"})
    await slack.wait_request(mine, "Which region first?")
    assert slack.requests(mine)[0].response.value == "CHG-7"  # type: ignore[union-attr]


# --- someone who is not in the workspace -----------------------------------------------------


async def test_a_click_from_outside_the_workspace_records_nothing(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")  # no approvers list
    request = await slack.wait_request(thread, "Ship *api*?")
    payload = click_payload("bob", request, "Approve")
    payload["user"] = {"id": GHOST, "username": "ghost", "name": "ghost", "team_id": TEAM}
    mark = slack.log_mark()
    assert await deliver_click(slack, payload) == 200
    await slack.wait_log(f"{GHOST} is not a member", since=mark)
    assert slack.requests(thread)[0].response is None
    assert slack.store.get_run(thread.run_id).status is RunStatus.WAITING_FOR_HUMAN  # type: ignore[union-attr]

    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    assert slack.requests(thread)[0].response.responder == BOB  # type: ignore[union-attr]
