"""Input too large for a procedure or for Slack is refused where it is given, with the limit
named: not accepted first and failed later."""

from __future__ import annotations

from runtime.models import RunStatus
from tests.bot.e2e.conftest import Slack, all_text

BIG = "99999999999999999999"  # more than a Lua (64-bit) integer holds
RANGE = "outside the integer range a procedure can hold"


async def test_a_batch_larger_than_one_form_fails_at_the_call(slack: Slack) -> None:
    thread = await slack.start("alice", slack.channel, "run survey size=150")
    run = await slack.wait_run(thread, RunStatus.FAILED)
    assert "Human.multiple asks 150 items, more than one form holds (99 at most)" in (
        run.error or ""
    )
    assert slack.requests(thread) == []  # nothing was asked that could never be answered
    assert "99 at most" in all_text(await slack.wait_parent(thread, "Failed"))


async def test_an_integer_too_large_is_refused_by_the_command(slack: Slack) -> None:
    seen = {m["ts"] for m in await slack.ephemeral("alice")}
    await slack.command("alice", slack.channel, f"run ship spin={BIG}")
    reply = await slack.wait_ephemeral("alice", "Cannot start `ship`", besides=seen)
    assert f"`spin`: {BIG} is {RANGE}" in reply["text"]
    runs = slack.store.list_runs(limit=1000)
    assert [r for r in runs if (r.params or {}).get("spin") == int(BIG)] == []
    assert await slack.messages(slack.channel) == []


async def test_an_integer_too_large_is_an_error_on_its_form_field(slack: Slack) -> None:
    await slack.command("alice", slack.channel, "run form title=x")
    modal = await slack.wait_view("alice", "Run Form")
    refused = await slack.submit("alice", modal["id"], {"param:count": BIG})
    assert refused["response_action"] == "errors", refused
    assert refused["errors"] == {
        "param:count": f"{BIG} is {RANGE} (-9223372036854775808 to 9223372036854775807)."
    }
    assert await slack.messages(slack.channel) == []
