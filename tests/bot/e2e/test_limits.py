"""Procedures that never end, fill memory, flood the store or stop the bot: each fails its own
run, with a message that names the limit, and everyone else's work goes on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.service import UNSYNCED
from runtime.models import RunRecord, RunStatus
from tests.bot.e2e.conftest import TIME_LIMIT, Slack, Thread, all_text


async def _started_run(slack: Slack, procedure_id: str) -> RunRecord:
    """The run of `procedure_id` that a command just created (before any message of it)."""

    async def created() -> RunRecord | None:
        runs = [r for r in slack.store.list_runs(limit=20) if r.procedure_id == procedure_id]
        return runs[0] if runs else None

    return await slack.wait_for(created, f"a run of {procedure_id} in the database")


async def test_a_procedure_stuck_in_one_instruction_fails_at_its_time_limit(slack: Slack) -> None:
    started = time.monotonic()
    await slack.command("alice", slack.channel, "run collide")
    stuck = await _started_run(slack, "collide")
    # While it is stuck, other people's runs start, get answered and finish.
    other = await slack.start("carol", slack.another_channel(), "run ship")
    request = await slack.wait_request(other, "Ship *api*?")
    await slack.click("dave", request, text="Approve")
    await slack.wait_run(other, RunStatus.COMPLETED)
    assert slack.store.get_run(stuck.run_id).status is RunStatus.RUNNING  # still stuck

    thread = await _thread_of(slack, stuck)
    failed = await slack.wait_run(thread, RunStatus.FAILED, timeout=TIME_LIMIT + 10)
    assert failed.error == f"the procedure exceeded its {TIME_LIMIT} s time limit"
    assert time.monotonic() - started < TIME_LIMIT + 5
    await slack.wait_parent(thread, "exceeded its 5 s time limit")


async def _thread_of(slack: Slack, run: RunRecord) -> Thread:
    """The run's message, once posted (a run is posted when its first execution ends)."""

    async def posted() -> dict[str, Any] | None:
        for message in await slack.messages(slack.channel):
            if f"run `{run.run_id[:8]}`" in all_text(message):
                return message
        return None

    message = await slack.wait_for(posted, "the run's message", timeout=TIME_LIMIT + 10)
    return Thread(slack.channel, message["ts"], run.run_id)


async def test_a_procedure_that_logs_forever_stops_at_its_quota(slack: Slack) -> None:
    await slack.command("alice", slack.channel, "run chatty")
    run = await _started_run(slack, "chatty")
    thread = await _thread_of(slack, run)
    failed = await slack.wait_run(thread, RunStatus.FAILED)
    assert failed.error is not None and "emitted more than 10,000 events" in failed.error
    assert len(slack.store.list_events(run.run_id)) == 10_000


async def test_a_hostile_file_in_the_procedures_directory_costs_one_worker(slack: Slack) -> None:
    hostile = slack.stack.procedures_dir / "hostile.tac"
    hostile.write_text(
        "local t = {}\nfor i = 1, 2^18 + 1 do t[i * (2^19 - 1)] = true end\n"
        "Procedure { function() return 1 end }\n"
    )
    try:
        # The bot reads the new file in a worker that is killed after 5 s; meanwhile it serves.
        listing = await _ask(slack, "list", "*Procedures*")
        assert "`ship`" in listing
        thread = await slack.start("alice", slack.channel, "run echo note=meanwhile")
        await slack.wait_run(thread, RunStatus.COMPLETED)

        async def reported() -> str | None:
            text = await _ask(slack, "run hostile", "hostile")
            return text if "does not load" in text else None

        refusal = await slack.wait_for(reported, "the hostile file reported", timeout=20)
        assert "loading it took longer than 5 s" in refusal
    finally:
        hostile.unlink()


async def _ask(slack: Slack, text: str, contains: str) -> str:
    seen = {message["ts"] for message in await slack.ephemeral("dave")}
    await slack.command("dave", slack.channel, text)
    return (await slack.wait_ephemeral("dave", contains, besides=seen))["text"]


async def test_a_run_whose_execution_keeps_stopping_the_bot_fails_for_good(slack: Slack) -> None:
    stack = slack.stack
    await slack.command("alice", slack.channel, "run grind")
    run = await _started_run(slack, "grind")
    for executions in (1, 2, 3):

        async def executing(n: int = executions) -> bool:
            note = slack.store.get_annotation(run.run_id, UNSYNCED) or {}
            return note.get("executions") == n

        await slack.wait_for(executing, f"execution {executions} under way", timeout=30)
        stack.kill_bot()  # as if the procedure brought the bot down, every time
        await asyncio.to_thread(stack.start_bot)

    thread = await _thread_of(slack, run)
    failed = await slack.wait_run(thread, RunStatus.FAILED, timeout=30)
    assert failed.error == (
        "its execution was cut off 3 times (the bot stopped while executing it), "
        "so it is not executed again"
    )
    assert slack.store.get_annotation(run.run_id, UNSYNCED) is None
