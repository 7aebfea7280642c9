"""views.* strictness: trigger_id lifetime and single use, push limit, size, validation, hash."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.devslack.helpers import Control, MovableClock, RecordingApp


def modal(title: str = "Form", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": title}}],
        **extra,
    }


async def trigger(slack: Control, recorder: RecordingApp, user: str = "alice") -> str:
    """Run the slash command as `user` and return the trigger_id the app received."""
    count = len(recorder.received) + 1
    await slack.post("command", {"user": user, "channel": "general", "command": "/procedure"})
    return (await recorder.next(count)).form["trigger_id"]


async def views_error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value.response["error"]


async def test_trigger_opens_a_modal_for_its_user(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    opened = await client.views_open(
        trigger_id=await trigger(slack, recorder, "carol"), view=modal()
    )
    view = opened["view"]
    assert view["type"] == "modal" and view["id"].startswith("V")
    assert view["root_view_id"] == view["id"] and view["previous_view_id"] is None
    assert view["app_id"] == "A0DEVAPP01" and view["team_id"] == "T0DEVSLACK"
    assert view["state"] == {"values": {}} and view["hash"]
    assert [v["id"] for v in await slack.views("carol")] == [view["id"]]
    assert await slack.views("alice") == []


async def test_trigger_expires_after_three_seconds(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient, movable_clock: MovableClock
) -> None:
    trigger_id = await trigger(slack, recorder)
    movable_clock.advance(3.1)
    assert (
        await views_error(client.views_open(trigger_id=trigger_id, view=modal()))
        == "expired_trigger_id"
    )
    fresh = await trigger(slack, recorder)
    movable_clock.advance(2.9)
    assert (await client.views_open(trigger_id=fresh, view=modal()))["ok"]


async def test_trigger_is_exchanged_on_reuse(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    trigger_id = await trigger(slack, recorder)
    await client.views_open(trigger_id=trigger_id, view=modal())
    assert (
        await views_error(client.views_open(trigger_id=trigger_id, view=modal()))
        == "exchanged_trigger_id"
    )


async def test_malformed_or_unknown_trigger_is_invalid(client: AsyncWebClient) -> None:
    assert (
        await views_error(client.views_open(trigger_id="nonsense", view=modal()))
        == "invalid_trigger_id"
    )
    unknown = "12345.67890.0123456789abcdef"
    assert (
        await views_error(client.views_open(trigger_id=unknown, view=modal()))
        == "invalid_trigger_id"
    )


async def test_push_limit_is_root_plus_two(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    root = (await client.views_open(trigger_id=await trigger(slack, recorder), view=modal("Root")))[
        "view"
    ]
    first = (await client.views_push(trigger_id=await trigger(slack, recorder), view=modal("One")))[
        "view"
    ]
    second = (
        await client.views_push(trigger_id=await trigger(slack, recorder), view=modal("Two"))
    )["view"]
    assert first["previous_view_id"] == root["id"] and second["root_view_id"] == root["id"]
    error = await views_error(
        client.views_push(trigger_id=await trigger(slack, recorder), view=modal("Three"))
    )
    assert error == "push_limit_reached"
    assert [v["title"]["text"] for v in await slack.views("alice")] == ["Root", "One", "Two"]


async def test_view_too_large(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    big = modal(private_metadata="x" * 260_000)
    assert (
        await views_error(client.views_open(trigger_id=await trigger(slack, recorder), view=big))
        == "view_too_large"
    )


async def test_invalid_view_is_invalid_arguments_and_keeps_the_trigger(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    trigger_id = await trigger(slack, recorder)
    bad = modal()
    bad["blocks"] = [
        {
            "type": "input",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name"},
        }
    ]
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=trigger_id, view=bad)
    assert caught.value.response["error"] == "invalid_arguments"
    assert any("submit" in m for m in caught.value.response["response_metadata"]["messages"])
    assert (await client.views_open(trigger_id=trigger_id, view=modal()))["ok"]


async def test_views_update_checks_hash(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    view = (await client.views_open(trigger_id=await trigger(slack, recorder), view=modal("A")))[
        "view"
    ]
    updated = (await client.views_update(view_id=view["id"], hash=view["hash"], view=modal("B")))[
        "view"
    ]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    stale = client.views_update(view_id=view["id"], hash=view["hash"], view=modal("C"))
    assert await views_error(stale) == "hash_conflict"
    assert (await slack.views("alice"))[0]["title"]["text"] == "B"
    assert await views_error(client.views_update(view_id="V0NOPE", view=modal())) == "not_found"


async def test_views_update_by_external_id(
    slack: Control, recorder: RecordingApp, client: AsyncWebClient
) -> None:
    await client.views_open(
        trigger_id=await trigger(slack, recorder), view=modal("A", external_id="ext-1")
    )
    await client.views_update(external_id="ext-1", view=modal("B", external_id="ext-1"))
    assert (await slack.views("alice"))[0]["title"]["text"] == "B"
    other = await trigger(slack, recorder, "bob")
    assert (
        await views_error(client.views_open(trigger_id=other, view=modal(external_id="ext-1")))
        == "duplicate_external_id"
    )


async def test_views_publish_home(slack: Control, client: AsyncWebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    first = (await client.views_publish(user_id="U0DAVE001", view=home))["view"]
    again = (await client.views_publish(user_id="U0DAVE001", view=home))["view"]
    assert first["id"] == again["id"] and first["hash"] != again["hash"]
    assert (await slack.get("home", user="dave"))["view"]["id"] == first["id"]
    assert (await slack.get("home", user="alice"))["view"] is None
    assert (
        await views_error(client.views_publish(user_id="U0DAVE001", view=modal()))
        == "invalid_arguments"
    )
