"""A request Slack sent once acts once, however often it arrives again.

devslack's `replay` sends an earlier delivery again as it went out: over HTTP the same bytes,
timestamp and signature (what someone who captured it could send within Slack's five-minute
signing window), over Socket Mode the same payload in a new envelope. The replay is acked as
usual and does nothing: no second run, no second answer, no message to anyone. The bot says in
its log that it ignored it, which is the moment the tests check that nothing happened.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from runtime.models import RunRecord, RunStatus
from tests.bot.e2e.conftest import BOB, Slack, all_text, answer_elements

IGNORED = "ignored a repeated"


def _runs_of(slack: Slack, procedure_id: str, **params: Any) -> list[RunRecord]:
    return [
        run
        for run in slack.store.list_runs(limit=1000)
        if run.procedure_id == procedure_id and params.items() <= (run.params or {}).items()
    ]


async def _completed(slack: Slack, procedure_id: str, **params: Any) -> RunRecord:
    async def done() -> RunRecord | None:
        runs = _runs_of(slack, procedure_id, **params)
        finished = [r for r in runs if r.status is RunStatus.COMPLETED]
        return finished[0] if finished else None

    return await slack.wait_for(done, f"a completed run of {procedure_id} {params}")


async def _replayed_and_ignored(slack: Slack, delivery_id: int) -> None:
    """Replay a delivery; it is acked as Slack expects, then ignored by the bot."""
    mark = slack.log_mark()
    replayed = await slack.replay(delivery_id)
    assert replayed["verdict"] == "ok", replayed
    await slack.wait_log(IGNORED, since=mark)


async def test_a_replayed_command_starts_one_run(any_slack: Slack) -> None:
    slack = any_slack
    note = uuid.uuid4().hex
    sent = await slack.command("alice", slack.channel, f"run echo note={note}")
    await _completed(slack, "echo", note=note)
    await _replayed_and_ignored(slack, sent["delivery_id"])
    await _replayed_and_ignored(slack, sent["delivery_id"])  # and again
    assert len(_runs_of(slack, "echo", note=note)) == 1
    assert len(await slack.messages(slack.channel)) == 1


async def test_a_replayed_click_records_once_and_tells_nobody(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run ship twice=true")
    request = await slack.wait_request(thread, "Ship *api*?")
    clicked = await slack.click("bob", request, text="Approve")
    await slack.wait_request(thread, "Really ship api?")
    await _replayed_and_ignored(slack, clicked["delivery_id"])

    first, second = slack.requests(thread)
    assert first.response is not None and first.response.responder == BOB
    assert second.response is None  # the replayed Approve did not answer the next request
    assert await slack.ephemeral("bob") == []  # nobody was told "already answered"
    assert await slack.messages(f"D{BOB[1:]}") == []
    replies = await slack.replies(thread)
    assert len([r for r in replies if "Really ship api?" in all_text(r)]) == 1
    assert answer_elements(next(r for r in replies if r["ts"] == request["ts"])) == []


async def test_a_replayed_form_submission_starts_one_run(any_slack: Slack) -> None:
    slack = any_slack
    title = uuid.uuid4().hex[:12]
    await slack.command("alice", slack.channel, f"run form title={title}")
    modal = await slack.wait_view("alice", "Run Form")
    submitted = await slack.submit("alice", modal["id"], {"param:count": "3"})
    assert submitted["ok"] and submitted["response_action"] is None, submitted
    await _completed(slack, "form", title=title)
    await _replayed_and_ignored(slack, submitted["delivery_id"])
    assert len(_runs_of(slack, "form", title=title)) == 1
    assert len(await slack.messages(slack.channel)) == 1


async def test_replays_are_refused_after_a_restart(any_slack: Slack) -> None:
    """What was received is remembered in the database, not in the process: a new process
    (or another replica) refuses a replay as well."""
    slack = any_slack
    note = uuid.uuid4().hex
    sent = await slack.command("alice", slack.channel, f"run echo note={note}")
    await _completed(slack, "echo", note=note)
    slack.stack.kill_bot()
    await asyncio.to_thread(slack.stack.start_bot)
    await _replayed_and_ignored(slack, sent["delivery_id"])
    assert len(_runs_of(slack, "echo", note=note)) == 1
    assert len(await slack.messages(slack.channel)) == 1
