"""Slack misbehaving and the bot crashing: nothing lost, nothing posted twice.

429 storms and outages come from devslack's fault injection; the crash is a SIGKILL of the
bot's process. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from bot.service import UNSYNCED
from runtime.engine import Engine
from runtime.models import RunRecord, RunStatus
from tests.bot.e2e.conftest import (
    BOB,
    RUN_ID,
    Slack,
    Thread,
    all_text,
    answer_elements,
)


def _kinds(replies: list[dict[str, Any]]) -> list[str]:
    """Each reply's kind, from its fallback text ("Approval needed", "ship"...)."""
    return [r["text"].split(":")[0] for r in replies]


async def _errors(slack: Slack, method: str) -> int:
    stats = await slack.method_calls(method)
    return stats["errors"] + stats["ratelimited"]


async def _threads(slack: Slack, count: int) -> list[Thread]:
    """The run messages in this test's channel, once there are `count` of them."""

    async def posted() -> list[dict[str, Any]]:
        messages = await slack.messages(slack.channel)
        return messages if len(messages) >= count else []

    messages = await slack.wait_for(posted, f"{count} run messages", timeout=20)
    threads = []
    for message in messages:
        prefix = RUN_ID.search(all_text(message)).group(1)  # type: ignore[union-attr]
        [run] = slack.store.find_runs(prefix)
        threads.append(Thread(slack.channel, message["ts"], run.run_id))
    return threads


async def test_a_429_storm_loses_and_doubles_nothing(slack: Slack) -> None:
    await slack.fault(method="chat.postMessage", ratelimit={"retry_after": 1, "count": 4})
    await asyncio.gather(
        *(slack.command(user, slack.channel, "run ship") for user in ("alice", "carol"))
    )
    threads = await _threads(slack, 2)
    for thread in threads:
        request = await slack.wait_request(thread, "Ship *api*?")
        await slack.click("dave", request, text="Approve")
    for thread in threads:
        await slack.wait_run(thread, RunStatus.COMPLETED, timeout=20)
        assert _kinds(await slack.replies(thread)) == ["Approval needed", "ship"]
    assert len(await slack.messages(slack.channel)) == 2
    posts = await slack.method_calls("chat.postMessage")
    assert posts["ratelimited"] >= 4  # the storm hit, and was waited out
    assert posts["calls"] - posts["ratelimited"] == 6  # 2 x (run message, request, result)


@pytest.mark.parametrize("failure", [{"status": 503}, {"drop": True}], ids=["5xx", "dropped"])
async def test_a_slack_outage_loses_and_doubles_nothing(
    slack: Slack, failure: dict[str, Any]
) -> None:
    # Slack goes down just as a run starts: its message waits until Slack is back.
    await slack.fault(method="*", **failure)
    await slack.command("alice", slack.channel, "run ship twice=true")
    await slack.wait_for(
        lambda: _at_least(slack, "chat.postMessage", 2), "the bot trying to post", timeout=10
    )
    await slack.clear_faults()
    [thread] = await _threads(slack, 1)
    first = await slack.wait_request(thread, "Ship *api*?")

    # Down again while an answer is being recorded and the run goes on.
    await slack.fault(method="*", **failure)
    await slack.click("bob", first, text="Approve")

    async def recorded() -> bool:
        return slack.requests(thread)[0].response is not None

    await slack.wait_for(recorded, "the answer recorded while Slack is down")
    await slack.wait_for(
        lambda: _at_least(slack, "chat.update", 2), "the bot trying to update", timeout=10
    )
    await slack.clear_faults()
    second = await slack.wait_request(thread, "Really ship api?")
    await slack.click("carol", second, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED, timeout=20)

    replies = await slack.replies(thread)
    assert _kinds(replies) == ["Approval needed", "Approval needed", "ship"]
    # Refused during the outage, the update of bob's answer went out from the outbox once
    # Slack was back; the run did not wait for it.
    answered = await slack.wait_reply(thread, f"Approved by <@{BOB}>")
    assert answered["ts"] == first["ts"] and answer_elements(answered) == []
    assert len(await slack.messages(slack.channel)) == 1
    await slack.wait_parent(thread, "Completed")


async def _at_least(slack: Slack, method: str, count: int) -> bool:
    return await _errors(slack, method) >= count


async def test_a_timeout_applies_the_default_without_a_click(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run timeout")
    request = await slack.wait_request(thread, "Approve within two seconds?")
    assert "Times out after 2s" in all_text(request)
    run = await slack.wait_run(thread, RunStatus.COMPLETED, timeout=10)
    assert run.result == {"approved": False, "timed_out": True}
    [pending] = slack.requests(thread)
    assert pending.response is not None
    assert pending.response.timed_out and pending.response.responder is None
    answered = await slack.wait_reply(thread, "Timed out")
    assert answered["ts"] == request["ts"]
    assert "default applied (rejected)" in all_text(answered)
    assert answer_elements(answered) == []
    clicks = [d for d in await slack.deliveries() if d["kind"] == "block_actions"]
    assert clicks == []


async def test_a_restarted_bot_finishes_runs_and_posts_nothing_twice(slack: Slack) -> None:
    stack = slack.stack
    thread = await slack.start("alice", slack.channel, "run ship twice=true")
    first = await slack.wait_request(thread, "Ship *api*?")
    timed = await slack.start("alice", slack.channel, "run timeout")
    await slack.wait_request(timed, "Approve within two seconds?")

    stack.kill_bot()  # a crash: no shutdown, nothing flushed
    # Bob opens the Home tab while the bot is down: Slack retries the event.
    await slack.post("home", {"user": "bob"})
    await asyncio.to_thread(stack.start_bot)

    async def home() -> dict[str, Any] | None:
        return await slack.home("bob")

    view = await slack.wait_for(home, "bob's Home tab, from a retried event", timeout=15)
    assert "Ship *api*?" in all_text(view)
    retries = [d for d in await slack.deliveries() if d.get("event_type") == "app_home_opened"]
    assert retries[0]["verdict"] == "failed" and retries[-1]["verdict"] == "ok"
    assert retries[-1]["retry_num"] >= 1

    # The timeout set before the crash still fires: in the new process, or in the old one just
    # before it died, in which case the new one posts what the old one could not.
    run = await slack.wait_run(timed, RunStatus.COMPLETED, timeout=20)
    assert run.result == {"approved": False, "timed_out": True}

    await slack.click("bob", first, text="Approve")
    second = await slack.wait_request(thread, "Really ship api?")
    await slack.click("carol", second, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": True, "confirmed": True, "spun": False}

    assert _kinds(await slack.replies(thread)) == ["Approval needed", "Approval needed", "ship"]
    assert _kinds(await slack.replies(timed)) == ["Approval needed", "timeout"]
    assert len(await slack.messages(slack.channel)) == 2
    posts = await slack.method_calls("chat.postMessage")
    assert posts["calls"] == 7  # 2 run messages, 3 requests, 2 results: none again


async def test_an_answer_recorded_just_before_a_crash_resumes_the_run(slack: Slack) -> None:
    """The bot died after recording an answer and before resuming the run (or another
    process recorded it): the next bot to start resumes it."""
    stack = slack.stack
    thread = await slack.start("alice", slack.channel, "run ship twice=true")
    first = await slack.wait_request(thread, "Ship *api*?")
    stack.kill_bot()
    [pending] = slack.requests(thread)
    Engine(slack.store).answer(pending.request_id, True, responder=BOB)  # what it left behind
    await asyncio.to_thread(stack.start_bot)

    second = await slack.wait_request(thread, "Really ship api?")
    answered = await slack.wait_reply(thread, f"Approved by <@{BOB}>")
    assert answered["ts"] == first["ts"] and answer_elements(answered) == []
    await slack.click("carol", second, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    assert _kinds(await slack.replies(thread)) == ["Approval needed", "Approval needed", "ship"]


async def _killed_while(slack: Slack, run_id: str, what: str) -> None:
    """Kill the bot as soon as it is working on the run (its note is on it) and `what`."""

    async def working() -> bool:
        return slack.store.get_annotation(run_id, UNSYNCED) is not None

    await slack.wait_for(working, f"the bot working on the run ({what})")
    slack.stack.kill_bot()


async def test_a_run_cut_off_mid_execution_is_executed_again_after_a_crash(
    slack: Slack,
) -> None:
    await slack.command("alice", slack.channel, "run crunch")

    async def created() -> RunRecord | None:
        runs = [r for r in slack.store.list_runs(limit=5) if r.procedure_id == "crunch"]
        return runs[0] if runs else None

    run = await slack.wait_for(created, "the run in the database")
    await _killed_while(slack, run.run_id, "executing its Lua")
    assert slack.store.get_run(run.run_id).status is RunStatus.RUNNING  # nothing committed
    assert await slack.messages(slack.channel) == []
    await asyncio.to_thread(slack.stack.start_bot)

    [message] = await _threads(slack, 1)
    run = await slack.wait_run(message, RunStatus.COMPLETED, timeout=20)
    assert run.result == {"total": 149999998}
    assert _kinds(await slack.replies(message)) == ["crunch"]
    await slack.wait_parent(message, "Completed")


async def test_a_resume_cut_off_by_a_crash_is_finished_by_the_next_bot(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship spin=50000000")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.click("bob", request, text="Approve")

    async def answered() -> bool:  # so the note seen next is the resume's, not the start's
        return slack.requests(thread)[0].response is not None

    await slack.wait_for(answered, "bob's answer recorded")
    await _killed_while(slack, thread.run_id, "resuming it")
    assert not slack.store.get_run(thread.run_id).status.is_final
    await asyncio.to_thread(slack.stack.start_bot)

    run = await slack.wait_run(thread, RunStatus.COMPLETED, timeout=20)
    assert run.result == {"approved": True, "spun": True}
    assert _kinds(await slack.replies(thread)) == ["Approval needed", "ship"]
    answered = await slack.wait_reply(thread, f"Approved by <@{BOB}>")
    assert answered["ts"] == request["ts"] and answer_elements(answered) == []
    await slack.wait_parent(thread, "Completed")


async def test_a_result_being_posted_at_a_crash_is_posted_once(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    # Slack holds every new post for 3 s: the bot dies with the result on its way.
    await slack.fault(method="chat.postMessage", latency_ms=3000)
    await slack.click("bob", request, text="Approve")

    async def finished() -> bool:
        run = slack.store.get_run(thread.run_id)
        return run is not None and run.status is RunStatus.COMPLETED

    await slack.wait_for(finished, "the run completed in the database")
    await _killed_while(slack, thread.run_id, "posting the result")
    await slack.clear_faults()
    await asyncio.to_thread(slack.stack.start_bot)

    await slack.wait_run(thread, RunStatus.COMPLETED, timeout=20)
    await slack.wait_parent(thread, "Completed")
    assert _kinds(await slack.replies(thread)) == ["Approval needed", "ship"]
    assert len(await slack.messages(slack.channel)) == 1


async def test_sigterm_stops_the_bot_cleanly(any_slack: Slack) -> None:
    """A deploy stops the bot with SIGTERM: it finishes what it took on and exits 0."""
    slack = any_slack
    stack = slack.stack
    assert stack.bot is not None
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    log_start = len(stack.bot.log())
    stack.bot.stop(signal.SIGTERM)
    assert stack.bot.popen is not None and stack.bot.popen.returncode == 0
    assert "Traceback" not in stack.bot.log()[log_start:]

    await asyncio.to_thread(stack.start_bot)
    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
