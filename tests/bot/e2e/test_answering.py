"""Who may answer, and exactly-once answers: self-approval, approvers, double clicks, races,
duplicate deliveries and event retries, end to end against the bot's own process."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.models import RunStatus
from tests.bot.e2e.conftest import (
    ALICE,
    BOB,
    CAROL,
    ONCALL,
    Slack,
    Thread,
    all_text,
    answer_elements,
    click_payload,
    deliver_click,
    deliver_event,
    home_opened_envelope,
)


async def _two_step_run(slack: Slack) -> tuple[Thread, dict[str, Any]]:
    thread = await slack.start("alice", slack.channel, "run ship twice=true")
    return thread, await slack.wait_request(thread, "Ship *api*?")


async def _second_requests(slack: Slack, thread: Thread) -> list[dict[str, Any]]:
    return [m for m in await slack.replies(thread) if "Really ship api?" in all_text(m)]


async def _finish(slack: Slack, thread: Thread) -> list[dict[str, Any]]:
    """Approve the second request; the thread once the run completed."""
    second = await slack.wait_request(thread, "Really ship api?")
    await slack.click("dave", second, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    return await slack.replies(thread)


def _texts(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"].split(":")[0] for r in replies]


async def test_self_approval_is_refused_and_nothing_recorded(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.click("alice", request, text="Approve")
    refusal = await slack.wait_ephemeral("alice", "You may not answer this")
    assert "you started this run" in refusal["text"]
    [pending] = slack.requests(thread)
    assert pending.response is None
    assert slack.store.get_run(thread.run_id).status is RunStatus.WAITING_FOR_HUMAN  # type: ignore[union-attr]
    still = next(m for m in await slack.replies(thread) if m["ts"] == request["ts"])
    assert answer_elements(still)  # the buttons stay for someone else

    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)


async def test_self_approval_allowed_by_the_procedure(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run self_approve")
    request = await slack.wait_request(thread, "Approve your own change?")
    await slack.click("alice", request, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": True}
    [pending] = slack.requests(thread)
    assert pending.response is not None and pending.response.responder == ALICE
    assert await slack.ephemeral("alice") == []


async def test_only_the_approvers_may_answer(any_slack: Slack) -> None:
    slack = any_slack
    thread = await slack.start("alice", slack.channel, "run guarded")
    request = await slack.wait_request(thread, "Restart the payments database?")
    await slack.click("dave", request, text="Approve")
    refusal = await slack.wait_ephemeral("dave", "You may not answer this")
    assert refusal["text"] == (
        "You may not answer this: only this request's approvers may answer it; "
        f"ask <!subteam^{ONCALL}>."
    )
    assert slack.requests(thread)[0].response is None

    await slack.click("carol", request, text="Reject")  # carol is @oncall
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": False}
    assert slack.requests(thread)[0].response.responder == CAROL  # type: ignore[union-attr]


async def test_two_people_clicking_at_once_record_one_answer(slack: Slack) -> None:
    thread, request = await _two_step_run(slack)
    spec = {"channel": request["channel"], "ts": request["ts"], "text": "Approve"}
    results = await asyncio.gather(
        slack.post("click", {"user": "bob", **spec}, ok=False),
        slack.post("click", {"user": "carol", **spec}, ok=False),
    )
    delivered = [r for r in results if r.get("delivered")]
    assert delivered and all(r["verdict"] == "ok" for r in delivered), results

    second = await slack.wait_request(thread, "Really ship api?")
    first = slack.requests(thread)[0]
    assert first.response is not None and first.response.responder in (BOB, CAROL)
    winner = "bob" if first.response.responder == BOB else "carol"
    loser = "carol" if winner == "bob" else "bob"
    if len(delivered) == 2:  # the loser's click reached the bot: told privately
        told = await slack.wait_ephemeral(loser, "Already answered")
        assert f"Approved by <@{first.response.responder}>" in told["text"]
    assert await slack.ephemeral(winner) == []

    replies = await _finish(slack, thread)
    assert _texts(replies) == ["Approval needed", "Approval needed", "ship"]
    assert len(await _second_requests(slack, thread)) == 1
    assert second["ts"] in {r["ts"] for r in replies}
    assert [r.response is not None for r in slack.requests(thread)] == [True, True]


async def test_a_double_click_records_one_answer(any_slack: Slack) -> None:
    slack = any_slack
    thread, request = await _two_step_run(slack)
    spec = {"user": "bob", "channel": request["channel"], "ts": request["ts"], "text": "Approve"}
    await asyncio.gather(slack.post("click", spec, ok=False), slack.post("click", spec, ok=False))
    await slack.wait_request(thread, "Really ship api?")
    replies = await _finish(slack, thread)
    assert _texts(replies) == ["Approval needed", "Approval needed", "ship"]
    first = slack.requests(thread)[0]
    assert first.response is not None and first.response.responder == BOB


async def test_duplicate_deliveries_of_a_click_do_nothing_twice(slack: Slack) -> None:
    """Slack (or a load balancer in front of two replicas) delivering one click three times."""
    thread, request = await _two_step_run(slack)
    payload = click_payload("bob", request, "Approve")
    mark = slack.log_mark()
    statuses = await asyncio.gather(*(deliver_click(slack, payload) for _ in range(3)))
    assert statuses == [200, 200, 200]

    await slack.wait_request(thread, "Really ship api?")
    # A late replay, after everything settled, changes nothing either, and tells nobody.
    assert await deliver_click(slack, payload) == 200
    await slack.wait_log("ignored a repeated", since=mark, count=3)
    assert await slack.ephemeral("bob") == []
    replies = await _finish(slack, thread)
    assert _texts(replies) == ["Approval needed", "Approval needed", "ship"]
    first = slack.requests(thread)[0]
    assert first.response is not None and first.response.responder == BOB
    assert f"Approved by <@{BOB}>" in all_text(replies[0])


async def test_a_click_on_an_answered_request_says_who_answered(slack: Slack) -> None:
    """Bob's Home tab still shows the request carol has just answered in the thread."""
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.post("home", {"user": "bob"})

    async def home_has_it() -> bool:
        view = await slack.home("bob")
        return view is not None and "Ship *api*?" in all_text(view)

    await slack.wait_for(home_has_it, "the request in bob's Home tab")
    await slack.click("carol", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)

    await slack.click("bob", "home", text="Reject")  # the stale Home tab
    dm = f"D{BOB[1:]}"

    async def told() -> dict[str, Any] | None:
        found = [m for m in await slack.messages(dm) if "Already answered" in m["text"]]
        return found[0] if found else None

    message = await slack.wait_for(told, "a message to bob saying it was answered")
    assert f"Approved by <@{CAROL}> at" in message["text"]
    [pending] = slack.requests(thread)
    assert pending.response is not None and pending.response.value is True


async def test_event_retries_and_duplicates_do_nothing_twice(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run ship")
    await slack.wait_request(thread, "Ship *api*?")
    envelope = home_opened_envelope("bob", "Ev0E2EDUP01")
    assert await deliver_event(slack, envelope) == 200

    async def published(count: int) -> bool:
        return (await slack.method_calls("views.publish"))["calls"] == count

    await slack.wait_for(lambda: published(1), "bob's Home tab published")
    # Slack's retries of the same event (it thought the first was lost), then a duplicate.
    assert await deliver_event(slack, envelope, retry=1) == 200
    assert await deliver_event(slack, envelope, retry=2) == 200
    assert await deliver_event(slack, envelope) == 200
    # Another event behind them: once it is handled, the duplicates were too.
    assert await deliver_event(slack, home_opened_envelope("carol", "Ev0E2EDUP02")) == 200

    async def carol_home() -> bool:
        return await slack.home("carol") is not None

    await slack.wait_for(carol_home, "carol's Home tab published")
    assert (await slack.method_calls("views.publish"))["calls"] == 2
    assert "Ship *api*?" in all_text(await slack.home("bob") or {})
