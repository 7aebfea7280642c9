"""End to end: a Bolt app (tests/devslack/tiny_app.py) against devslack, HTTP and Socket Mode.

command -> message with buttons -> click -> modal -> submit (invalid, then valid) -> chat.update,
asserted only through devslack's control API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.devslack.helpers import Control, start_devslack, wait_until
from tests.devslack.tiny_app import HttpRunner, build_app, connect_socket_mode


@pytest.fixture
async def http_mode(session: aiohttp.ClientSession) -> AsyncIterator[Control]:
    runner = HttpRunner()
    url = await runner.start()
    devslack = await start_devslack(app_url=url)
    runner.app = build_app(devslack.env)
    yield Control(devslack, session)
    await devslack.stop()
    await runner.stop()


@pytest.fixture
async def socket_mode(session: aiohttp.ClientSession) -> AsyncIterator[Control]:
    devslack = await start_devslack(socket_mode=True)
    handler = await connect_socket_mode(build_app(devslack.env), devslack.env)
    yield Control(devslack, session)
    await handler.close_async()
    await devslack.stop()


async def run_approval_flow(slack: Control, name: str = "deploy-api") -> None:
    result = await slack.post(
        "command",
        {"user": "alice", "channel": "#deploys", "command": "/procedure", "text": name},
    )
    assert result["ok"] and result["verdict"] == "ok" and result["status"] == 200

    async def posted() -> list:
        return [m for m in await slack.messages("deploys") if m["bot_id"]]

    message = (await wait_until(posted))[0]
    assert message["text"] == f"Procedure {name} needs approval"
    assert message["blocks"][1]["elements"][0]["action_id"] == "approve"

    click = await slack.post(
        "click", {"user": "bob", "channel": "deploys", "ts": message["ts"], "text": "Approve"}
    )
    assert click["ok"], click

    async def modal() -> list:
        return await slack.views("bob")

    view = (await wait_until(modal))[0]
    assert view["callback_id"] == "approve_modal"

    invalid = await slack.post(
        "submit", {"user": "bob", "view_id": view["id"], "values": {"Reason": "meh"}}
    )
    assert invalid["response_action"] == "errors"
    assert invalid["errors"] == {"reason": "Give a reason of at least 5 characters"}
    still_open = await slack.views("bob")
    assert [v["id"] for v in still_open] == [view["id"]]
    assert still_open[0]["errors"] == {"reason": "Give a reason of at least 5 characters"}

    valid = await slack.post(
        "submit", {"user": "bob", "view_id": view["id"], "values": {"reason": "tests are green"}}
    )
    assert valid["ok"] and valid["response_action"] is None, valid
    assert await slack.views("bob") == []

    async def updated() -> dict | None:
        current = (await slack.messages("deploys"))[-1]
        return current if current["edited"] else None

    final = await wait_until(updated)
    assert final["ts"] == message["ts"]
    assert final["text"] == "Approved by <@U0BOB0001>: tests are green"
    stats = await slack.get("stats")
    kinds = [(d["kind"], d["verdict"]) for d in stats["deliveries"]]
    assert kinds == [
        ("slash_command", "ok"),
        ("block_actions", "ok"),
        ("view_submission", "ok"),
        ("view_submission", "ok"),
    ]
    for method in ("auth.test", "chat.postMessage", "views.open", "chat.update"):
        assert stats["methods"][method]["errors"] == 0, method


async def test_bolt_app_over_http_with_request_verification(http_mode: Control) -> None:
    await run_approval_flow(http_mode)


async def test_bolt_app_over_socket_mode(socket_mode: Control) -> None:
    await run_approval_flow(socket_mode, name="show payload")  # no HTTP parser quirk here
    deliveries = (await socket_mode.get("stats"))["deliveries"]
    assert {d["mode"] for d in deliveries} == {"socket"}


async def test_command_text_with_payload_reaches_bolt_as_slack_sends_it(http_mode: Control) -> None:
    """devslack sends exactly Slack's bytes, so Bolt's HTTP-mode parser quirk shows up here as
    it does in production: a body containing "payload" is parsed as an interaction (404)."""
    result = await http_mode.post(
        "command",
        {"user": "alice", "channel": "general", "command": "/procedure", "text": "show payload"},
    )
    assert (result["verdict"], result["status"]) == ("failed", 404)
