"""The App Home tab: what waits for the viewer, answerable right there."""

from __future__ import annotations

from typing import Any

from runtime.models import RunStatus
from tests.bot.e2e.conftest import ALICE, BOB, Slack, all_text, section_texts


async def _open_home(slack: Slack, user: str, contains: str) -> dict[str, Any]:
    """`user` opens the Home tab; the view once it shows `contains`."""
    await slack.post("home", {"user": user})

    async def shown() -> dict[str, Any] | None:
        view = await slack.home(user)
        return view if view is not None and contains in all_text(view) else None

    return await slack.wait_for(shown, f"{user}'s Home tab showing {contains!r}")


async def test_home_lists_what_the_viewer_may_answer_and_answers_it(any_slack: Slack) -> None:
    slack = any_slack
    ship = await slack.start("alice", slack.channel, "run ship service=web")
    await slack.wait_request(ship, "Ship *web*?")
    guarded = await slack.start("alice", slack.channel, "run guarded")
    await slack.wait_request(guarded, "Restart the payments database?")

    view = await _open_home(slack, "bob", "Ship *web*?")
    text = all_text(view)
    assert "Waiting for you" in text and "2 requests you can answer" in text
    assert "Restart the payments database?" in text  # bob is @oncall
    assert "Recent runs" in text and f"`{ship.run_id[:8]}`" in text
    dave = await _open_home(slack, "dave", "Ship *web*?")
    assert "Restart the payments database?" not in all_text(dave)  # dave is not @oncall
    alice = await _open_home(slack, "alice", "Recent runs")
    assert f"Nothing is waiting for <@{ALICE}> right now." in section_texts(alice["blocks"])

    # Bob approves from Home: the thread shows it, the run goes on, his Home is refreshed.
    await slack.click("bob", "home", text="Approve", block_id=f"actions|{_request_id(slack, ship)}")
    run = await slack.wait_run(ship, RunStatus.COMPLETED)
    assert run.result == {"approved": True, "spun": False}
    answered = await slack.wait_reply(ship, "Approved by")
    assert f"Approved by <@{BOB}>" in all_text(answered)

    async def refreshed() -> bool:
        view = await slack.home("bob")
        return view is not None and "Ship *web*?" not in all_text(view)

    await slack.wait_for(refreshed, "bob's Home tab without the answered request")
    assert "1 request you can answer" in all_text(await slack.home("bob") or {})


def _request_id(slack: Slack, thread: Any) -> str:
    [pending] = slack.requests(thread)
    return pending.request_id


async def test_modals_and_checkboxes_answer_from_home(slack: Slack) -> None:
    asked = await slack.start("alice", slack.channel, "run ask")
    await slack.wait_request(asked, "Change ticket for this deploy")
    await _open_home(slack, "bob", "Change ticket for this deploy")
    await slack.click("bob", "home", text="Respond")
    modal = await slack.wait_view("bob", "Input needed")
    await slack.submit("bob", modal["id"], {"Your answer": "CHG-7"})
    await slack.wait_request(asked, "Which region first?")
    assert slack.requests(asked)[0].response.value == "CHG-7"  # type: ignore[union-attr]

    async def refreshed() -> bool:  # without bob opening it again
        text = all_text(await slack.home("bob") or {})
        return "Which region first?" in text and "Change ticket for this deploy" not in text

    await slack.wait_for(refreshed, "bob's Home tab showing the run's next question")

    picked = await slack.start("alice", slack.another_channel(), "run pick")
    size = await slack.wait_request(picked, "Instance size?")
    await slack.click("carol", size, text="small")
    zone = await slack.wait_request(picked, "Which zone?")
    await slack.click("carol", zone, action_id="hitl:select", value="zone-a")
    await slack.wait_request(picked, "Which checks should run?")

    await _open_home(slack, "carol", "Which checks should run?")
    # Ticks live in the Home view's state until Submit.
    await slack.click("carol", "home", action_id="hitl:checks", value=["Load tests"])
    await slack.click("carol", "home", text="Submit")
    run = await slack.wait_run(picked, RunStatus.COMPLETED)
    assert run.result == {"size": "small", "zone": "zone-a", "checks": ["load"]}
