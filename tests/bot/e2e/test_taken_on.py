"""A request the bot acked is acted on, even when the bot dies right after the ack: Slack never
sends an acked click, command or submission again, so the bot must not lose it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from adapters.sql import SqlStore
from bot.app import RUN_ID
from runtime.models import RunStatus, utc_now
from tests.bot.e2e.conftest import ALICE, BOB, Slack, Thread, all_text
from tests.bot.e2e.conftest import RUN_ID as RUN_MENTION

DEAD_PROCESS = "0" * 32  # an owner that never beats: taken for dead at once


async def test_a_click_acked_just_before_a_crash_is_still_recorded(slack: Slack) -> None:
    stack = slack.stack
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    # A fresh bot knows nobody yet: it asks Slack whether bob is a member before recording
    # his answer, and Slack takes five seconds to say.
    stack.kill_bot()
    await asyncio.to_thread(stack.start_bot)
    await slack.fault(method="users.info", latency_ms=5000)
    await slack.click("bob", request, text="Approve")  # acked at once
    stack.kill_bot()  # the bot dies with bob's answer acked, not recorded
    assert slack.requests(thread)[0].response is None
    await slack.clear_faults()
    seen = {m["ts"] for m in await slack.ephemeral("bob")}
    await asyncio.to_thread(stack.start_bot)

    run = await slack.wait_run(thread, RunStatus.COMPLETED, timeout=20)
    assert run.result == {"approved": True, "spun": False}
    assert slack.requests(thread)[0].response.responder == BOB  # type: ignore[union-attr]
    await slack.wait_reply(thread, f"Approved by <@{BOB}>")
    assert [m for m in await slack.ephemeral("bob") if m["ts"] not in seen] == []


def _command_body(slack: Slack, text: str, run_id: str) -> dict[str, Any]:
    """A `/procedure` command as Slack delivers it (and as the bot stores what it took on)."""
    return {
        "command": "/procedure",
        "text": text,
        "user_id": ALICE,
        "channel_id": slack.channel,
        "trigger_id": f"{time.time():.0f}.{uuid.uuid4().int % 10**9}.taken",
        "response_url": "http://127.0.0.1:9/unused",
        RUN_ID: run_id,
    }


def _taken_on_by_a_dead_process(store: SqlStore, body: dict[str, Any]) -> None:
    """What a bot leaves behind when it dies between acking a request and acting on it."""
    key = f"trigger:{body['trigger_id']}"
    assert store.claim_delivery(key, utc_now(), owner=DEAD_PROCESS, body=body)


async def _thread_of_run(slack: Slack, run_id: str) -> Thread:
    async def posted() -> dict[str, Any] | None:
        for message in await slack.messages(slack.channel):
            found = RUN_MENTION.search(all_text(message))
            if found and run_id.startswith(found.group(1)):
                return message
        return None

    message = await slack.wait_for(posted, "the run's message", timeout=20)
    return Thread(slack.channel, message["ts"], run_id)


async def test_a_command_acked_by_a_bot_that_died_starts_its_run_once(slack: Slack) -> None:
    run_id = uuid.uuid4().hex
    _taken_on_by_a_dead_process(slack.store, _command_body(slack, "run echo note=late", run_id))
    thread = await _thread_of_run(slack, run_id)  # started by the live bot's recovery
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"note": "late"} and run.started_by == ALICE

    async def done() -> bool:
        return slack.store.unfinished_deliveries() == []

    await slack.wait_for(done, "the command done")
    # The same request taken on again (its first try had started the run before dying):
    # nothing new starts.
    _taken_on_by_a_dead_process(slack.store, _command_body(slack, "run echo note=late", run_id))
    await slack.wait_for(done, "the second copy done")
    assert [r.run_id for r in slack.store.list_runs(limit=50) if r.procedure_id == "echo"].count(
        run_id
    ) == 1
    assert len(await slack.messages(slack.channel)) == 1
