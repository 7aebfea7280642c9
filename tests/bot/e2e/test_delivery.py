"""What reaches Slack when many runs share a channel, the bot is killed mid-burst, and
chat.update is rate limited: every run keeps its own message and thread, and every answered
request loses its buttons.

The bot and devslack run as separate processes; the crash is a SIGKILL. Every wait is on a
condition with a deadline.
"""

from __future__ import annotations

import asyncio

from bot.service import UNSYNCED
from runtime.models import RunRecord, RunStatus
from tests.bot.e2e.conftest import RUN_ID, Slack, Thread, all_text, answer_elements

BURST = 8  # runs started at once in one channel: 4 posts each, paced at ~1 per second
SLOW = 60.0  # seconds: everything in one channel goes out at Slack's pace


def _burst_runs(slack: Slack) -> list[RunRecord]:
    return [r for r in slack.store.list_runs(limit=1000) if r.procedure_id == "burst"]


async def _own_threads(slack: Slack, runs: list[RunRecord]) -> dict[int, Thread]:
    """Each run's message in the channel, by the run's number, once every run has one."""

    async def posted() -> dict[int, Thread] | None:
        threads: dict[int, Thread] = {}
        for message in await slack.messages(slack.channel):
            found = RUN_ID.search(all_text(message))
            assert found, message
            [run] = [r for r in runs if r.run_id.startswith(found.group(1))]
            threads[run.params["n"]] = Thread(slack.channel, message["ts"], run.run_id)
        return threads if len(threads) == len(runs) else None

    return await slack.wait_for(posted, f"{len(runs)} run messages", timeout=SLOW)


async def test_a_crash_during_a_burst_mixes_no_runs_and_loses_nothing(slack: Slack) -> None:
    stack = slack.stack
    await asyncio.gather(
        *(slack.command("alice", slack.channel, f"run burst n={n}") for n in range(BURST))
    )

    def taken_on(run: RunRecord) -> bool:
        """The bot noted the run as its work (or finished posting it): a crash from here on
        leaves it to be finished by the next bot."""
        posted = slack.store.get_annotation(run.run_id, "slack:post:run") or {}
        return slack.store.get_annotation(run.run_id, UNSYNCED) is not None or bool(
            posted.get("ts")
        )

    async def all_taken_on_and_posting() -> bool:
        runs = _burst_runs(slack)
        messages = await slack.messages(slack.channel)
        return len(runs) == BURST and all(map(taken_on, runs)) and len(messages) >= 2

    await slack.wait_for(all_taken_on_and_posting, "the runs taken on and the first posts out")
    stack.kill_bot()  # most posts are still claimed, waiting for the channel's pace
    assert len(await slack.messages(slack.channel)) < BURST
    await asyncio.to_thread(stack.start_bot)

    runs = _burst_runs(slack)
    threads = await _own_threads(slack, runs)
    assert sorted(threads) == list(range(BURST))
    for n, thread in threads.items():
        request = await slack.wait_request(thread, f"Approve burst {n}?")
        await slack.click("bob", request, text="Approve")
    for n, thread in threads.items():
        run = await slack.wait_run(thread, RunStatus.COMPLETED, timeout=SLOW)
        assert run.result == {"n": n, "approved": True}

    for n, thread in threads.items():
        replies = await slack.replies(thread)
        texts = [all_text(reply) for reply in replies]
        assert len(replies) == 3, texts  # notification, request, result: once each
        assert f"Burst {n} starting" in texts[0]
        assert f"Approve burst {n}?" in texts[1] and answer_elements(replies[1]) == []
        assert f"run `{thread.run_id[:8]}` · Finished" in texts[2]
        assert f"*N*\\n{n}" in texts[2]
        for other in set(range(BURST)) - {n}:
            assert not any(f"burst {other}" in text.lower() for text in texts), (n, texts)
    assert len(await slack.messages(slack.channel)) == BURST


async def _start_waiting(slack: Slack, count: int, channels: int) -> list[Thread]:
    """`count` ship runs (services s0, s1...) spread over `channels` channels, each waiting
    for its approval."""
    where = [slack.channel] + [slack.another_channel() for _ in range(channels - 1)]
    await asyncio.gather(
        *(
            slack.command("alice", where[i % channels], f"run ship service=s{i}")
            for i in range(count)
        )
    )

    async def posted(channel: str, expected: int) -> list[Thread] | None:
        messages = await slack.messages(channel)
        if len(messages) < expected:
            return None
        found = [RUN_ID.search(all_text(m)) for m in messages]
        runs = [slack.store.find_runs(match.group(1))[0] for match in found if match]
        return [Thread(channel, m["ts"], r.run_id) for m, r in zip(messages, runs, strict=True)]

    threads: list[Thread] = []
    for c, channel in enumerate(where):
        expected = len(range(c, count, channels))
        threads += await slack.wait_for(
            lambda channel=channel, expected=expected: posted(channel, expected),
            f"{expected} run messages in {channel}",
        )
    return threads


def _service(slack: Slack, thread: Thread) -> str:
    run = slack.store.get_run(thread.run_id)
    assert run is not None
    return str(run.params["service"])


async def test_answers_under_a_chat_update_storm_and_a_crash_all_lose_their_buttons(
    slack: Slack,
) -> None:
    threads = await _start_waiting(slack, count=12, channels=4)
    requests = [await slack.wait_request(t, f"Ship *{_service(slack, t)}*?") for t in threads]
    # From now on Slack refuses every chat.update (429, Retry-After: 2) until told otherwise.
    await slack.fault(method="chat.update", ratelimit={"retry_after": 2, "count": 100_000})
    clicks = await asyncio.gather(
        *(slack.click("bob", request, text="Approve") for request in requests)
    )
    assert all(click["verdict"] == "ok" for click in clicks)
    # The runs go on at once: nobody waits for Slack to accept a message update.
    for thread in threads:
        await slack.wait_run(thread, RunStatus.COMPLETED)

    # A crash with every update still refused: what was queued must survive it.
    slack.stack.kill_bot()
    before = (await slack.method_calls("chat.update"))["ratelimited"]
    await asyncio.to_thread(slack.stack.start_bot)

    async def refused_again() -> bool:
        return (await slack.method_calls("chat.update"))["ratelimited"] > before

    await slack.wait_for(refused_again, "the restarted bot trying its queued updates")
    await slack.clear_faults()

    async def no_buttons_left() -> bool:
        for request in requests:
            replies = await slack.messages(request["channel"], request["thread_ts"])
            [now] = [m for m in replies if m["ts"] == request["ts"]]
            if answer_elements(now):
                return False
        return True

    await slack.wait_for(no_buttons_left, "every answered request without buttons", SLOW)
    for thread in threads:
        await slack.wait_parent(thread, "Completed")
    assert await slack.ephemeral("bob") == []  # nobody was told "already answered"
    updates = await slack.method_calls("chat.update")
    # One accepted update per message (request, run message): queued contents were merged.
    assert updates["calls"] - updates["errors"] == 2 * len(threads)  # a 429 is an error too


async def test_control_and_bidi_characters_reach_slack_replaced(slack: Slack) -> None:
    """A procedure's message, its parameters and its result carry NUL and a right-to-left
    override: Slack shows U+FFFD in their place, everywhere."""
    thread = await slack.start("alice", slack.channel, "run unsafe note=x\u202eexe.txt")
    request = await slack.wait_request(thread, "gnp.exe?")
    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    await slack.wait_parent(thread, "Completed")

    shown = [all_text(m) for m in await slack.thread(thread)]  # message, notify, ask, result
    assert len(shown) == 4
    assert all("\x00" not in text and "\u202e" not in text for text in shown), shown
    assert "x\ufffdexe.txt" in shown[0]  # the parameter, in the run's message
    assert "Null\ufffdbyte in x\ufffdexe.txt" in shown[1]
    assert "Ship \ufffdgnp.exe?" in shown[2]
    assert "x\ufffdexe.txt\ufffd" in shown[3]  # the result
