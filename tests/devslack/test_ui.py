"""End-to-end tests of devslack's web UI.

Each test runs a real devslack in-process, a tiny Bolt app (AsyncApp on aiohttp, request
verification on) that devslack delivers to, and headless Chromium driving the page like a
person would. Nothing waits by sleeping: Playwright's expectations poll with a deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from devslack.config import DevSlackConfig
from devslack.server import DevSlack
from tests.devslack.ui_fixtures import (
    HOSTILE_TEXT,
    kitchen_sink_attachments,
    kitchen_sink_blocks,
)
from tests.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

# One browser and event loop for the module keeps the whole file fast.
pytestmark = pytest.mark.asyncio(loop_scope="module")

expect.set_options(timeout=8_000)


# ---------------------------------------------------------------------------- the Bolt app


def decision_blocks(requester: str) -> list[dict[str, Any]]:
    """The message /demo posts: Approve (primary) and Reject (danger, confirmed)."""
    return [
        {
            "type": "section",
            "block_id": "request",
            "text": {"type": "mrkdwn", "text": f"*Deploy api v1.2.3?* requested by <@{requester}>"},
        },
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "v1.2.3",
                },
                {
                    "type": "button",
                    "action_id": "reject",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": "v1.2.3",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Reject the deploy?"},
                        "text": {"type": "mrkdwn", "text": "The requester will be told."},
                        "confirm": {"type": "plain_text", "text": "Reject"},
                        "deny": {"type": "plain_text", "text": "Keep it"},
                        "style": "danger",
                    },
                },
            ],
        },
    ]


def approve_modal(channel: str, ts: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "approve_modal",
        "title": {"type": "plain_text", "text": "Approve deploy"},
        "submit": {"type": "plain_text", "text": "Approve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel": channel, "ts": ts}),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason_input"},
            }
        ],
    }


def home_view(greeted: bool) -> dict[str, Any]:
    text = "Hello again!" if greeted else "Welcome to *demo*."
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Demo home"}},
            {"type": "section", "block_id": "greeting", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "block_id": "home_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "say_hello",
                        "text": {"type": "plain_text", "text": "Say hello"},
                    }
                ],
            },
        ],
    }


#: What the app suggests for the kitchen sink's external select.
TICKETS = {"OPS-7": "Flaky deploy", "OPS-9": "Slow pages", "SEC-2": "Rotate keys"}


def demo_app(env: dict[str, str], seen_actions: list[dict[str, Any]]) -> AsyncApp:
    """A Bolt app as a developer would write it, pointed at devslack."""
    client = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=env["SLACK_SIGNING_SECRET"])

    @app.middleware
    async def remember_actions(body: dict[str, Any], next: Any) -> Any:
        if body.get("type") == "block_actions":
            seen_actions.append(body["actions"][0])
        return await next()

    @app.command("/demo")
    async def demo(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if command["text"].strip() == "secret":
            await client.chat_postEphemeral(
                channel=command["channel_id"],
                user=command["user_id"],
                text="Psst: the deploy window opens at 14:00.",
            )
            return
        await client.chat_postMessage(
            channel=command["channel_id"],
            text="Deploy api v1.2.3?",
            blocks=decision_blocks(command["user_id"]),
        )

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=approve_modal(container["channel_id"], container["message_ts"]),
        )

    @app.action("reject")
    async def reject(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body["user"]["id"]
        await client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text="Rejected",
            blocks=[_section(f"*Rejected* by <@{user}>")],
        )

    @app.view("approve_modal")
    async def approved(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        reason = view["state"]["values"]["reason"]["reason_input"]["value"]
        if reason.strip().lower() == "because":
            await ack(response_action="errors", errors={"reason": "Say why, not just 'because'."})
            return
        await ack()
        target = json.loads(view["private_metadata"])
        await client.chat_update(
            channel=target["channel"],
            ts=target["ts"],
            text=f"Approved: {reason}",
            blocks=[_section(f"*Approved* by <@{body['user']['id']}>: {reason}")],
        )

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view=home_view(greeted=False))

    @app.action("say_hello")
    async def say_hello(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_publish(user_id=body["user"]["id"], view=home_view(greeted=True))

    @app.options("ticket")
    async def ticket_options(ack: Any, payload: dict[str, Any]) -> None:
        query = payload["value"].casefold()
        await ack(
            options=[
                {"text": {"type": "plain_text", "text": f"{key} {title}"}, "value": key}
                for key, title in TICKETS.items()
                if query in f"{key} {title}".casefold()
            ]
        )

    @app.action(re.compile(".*"))
    async def any_other_action(ack: Any) -> None:
        await ack()

    return app


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# ---------------------------------------------------------------------------- fixtures


@dataclass
class Stack:
    """devslack + the Bolt app, and what the test needs to talk to them."""

    devslack: DevSlack
    http: aiohttp.ClientSession
    ids: dict[str, str]
    seen_actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.devslack.base_url

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call devslack's control API (GET without a body, POST with one)."""
        url = f"{self.url}/_dev/api/{path}"
        request = self.http.get(url) if body is None else self.http.post(url, json=body)
        async with request as response:
            data = await response.json()
            assert response.status == 200, data
            return data

    def bot_client(self) -> AsyncWebClient:
        env = self.devslack.env
        return AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])


def seed_with_demo_command(tmp_path: Path) -> str:
    """The packaged seed plus the /demo slash command the test app handles."""
    import devslack

    seed = yaml.safe_load((Path(devslack.__file__).parent / "seed.yaml").read_text())
    seed["app"]["commands"] = [*seed["app"].get("commands", []), "/demo"]
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    return str(path)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # Bind the app's port first: devslack needs the app URL, the app needs devslack's secrets.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
    devslack = DevSlack(DevSlackConfig(app_url=app_url, seed_path=seed_with_demo_command(tmp_path)))
    await devslack.start()
    seen_actions: list[dict[str, Any]] = []
    runner = web.AppRunner(demo_app(devslack.env, seen_actions).web_app(path="/slack/events"))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    async with aiohttp.ClientSession() as http:
        stack = Stack(devslack, http, {}, seen_actions)
        workspace = await stack.control("workspace")
        stack.ids.update({u["name"]: u["id"] for u in workspace["users"]})
        stack.ids.update(
            {f"#{c['name']}": c["id"] for c in workspace["channels"] if not c["is_im"]}
        )
        stack.ids.update({f"@{g['handle']}": g["id"] for g in workspace["usergroups"]})
        try:
            yield stack
        finally:
            await runner.cleanup()
            await stack.devslack.stop()  # a test may have restarted devslack


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """A fresh browser tab on devslack's UI; any uncaught page error fails the test."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(8_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(stack.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    yield page
    await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


# ---------------------------------------------------------------------------- helpers


async def act_as(page: Page, stack: Stack, name: str) -> None:
    await page.get_by_label("Acting as").select_option(stack.ids[name])
    await expect(page.locator("body")).to_have_attribute("data-live", "open")


async def open_channel(page: Page, name: str) -> None:
    await page.locator(f'.sidebar [data-channel-name="{name}"]').click()
    await expect(page.locator("#channel-title")).to_have_text(f"#{name}")


async def send(page: Page, text: str) -> None:
    composer = page.get_by_role("textbox", name=re.compile("^Message"))
    await composer.fill(text)
    await composer.press("Enter")


def message_with(page: Page, action_id: str):
    return page.locator(f'.msg:has([data-action-id="{action_id}"])')


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    """Wait until `condition()` holds (checked every 20 ms), failing after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def save_screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


# ---------------------------------------------------------------------------- tests


async def test_slash_command_button_modal_and_live_update(page: Page, stack: Stack) -> None:
    await act_as(page, stack, "bob")
    await open_channel(page, "deploys")

    await send(page, "/demo")
    request = message_with(page, "approve")
    await expect(request).to_contain_text("Deploy api v1.2.3? requested by @Bob")
    await expect(request.locator(".app-badge")).to_have_text("APP")
    approve = request.locator('button[data-action-id="approve"]')
    await expect(approve).to_have_attribute("data-style", "primary")
    await expect(approve).to_have_attribute("data-block-id", "decision")
    ts = await request.get_attribute("data-ts")

    await approve.click()
    modal = page.get_by_role("dialog", name="Approve deploy")
    await expect(modal).to_be_visible()
    await modal.get_by_label("Reason").fill("tests are green")
    await modal.get_by_role("button", name="Approve").click()
    await expect(modal).to_have_count(0)

    updated = page.locator(f'#message-list .msg[data-ts="{ts}"]')
    await expect(updated).to_contain_text("Approved by @Bob: tests are green")
    await expect(updated.locator(".msg-edited")).to_be_visible()
    await expect(updated.locator('[data-action-id="approve"]')).to_have_count(0)
    clicks = [a for a in stack.seen_actions if a["action_id"] == "approve"]
    assert [(a["block_id"], a["value"]) for a in clicks] == [("decision", "v1.2.3")]

    # Threads: reply from the thread pane; the reply count shows up live in the channel.
    await updated.hover()
    await updated.get_by_role("button", name="Reply in thread").click()
    thread = page.get_by_role("complementary", name="Thread")
    await expect(thread.locator(".msg-parent")).to_contain_text("Approved by @Bob")
    reply = thread.get_by_role("textbox", name="Reply in thread")
    await reply.fill("Rolling out now, cc @carol")
    await reply.press("Enter")
    await expect(thread.locator(".msg").last).to_contain_text("Rolling out now, cc @Carol")
    await expect(updated.locator(".reply-link")).to_have_text("1 reply")

    # A person posting in the channel: plain text goes to /_dev/api/message.
    await send(page, "Thanks, *shipping* now")
    last = page.locator("#message-list .msg").last
    await expect(last).to_contain_text("Thanks, shipping now")
    await expect(last.locator("strong")).to_have_text("shipping")
    await page.screenshot(path=save_screenshot_path("devslack-ui.png"))


async def test_confirm_dialog_guards_a_danger_button(page: Page, stack: Stack) -> None:
    await act_as(page, stack, "carol")
    await open_channel(page, "deploys")
    await send(page, "/demo")
    request = message_with(page, "reject")
    reject = request.locator('button[data-action-id="reject"]')
    await expect(reject).to_have_attribute("data-style", "danger")
    ts = await request.get_attribute("data-ts")  # before the update removes the buttons

    await reject.click()
    dialog = page.get_by_role("alertdialog", name="Reject the deploy?")
    await expect(dialog).to_contain_text("The requester will be told.")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)

    await reject.click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Reject").click()
    await expect(page.locator(f'.msg[data-ts="{ts}"]')).to_contain_text("Rejected by @Carol")
    # Only the confirmed click reached the app.
    assert [a["action_id"] for a in stack.seen_actions] == ["reject"]


async def test_response_action_errors_show_under_the_field(page: Page, stack: Stack) -> None:
    await act_as(page, stack, "bob")
    await open_channel(page, "deploys")
    await send(page, "/demo")
    request = message_with(page, "approve")
    ts = await request.get_attribute("data-ts")
    await request.locator('[data-action-id="approve"]').click()

    modal = page.get_by_role("dialog", name="Approve deploy")
    await modal.get_by_role("button", name="Cancel").click()  # POST /_dev/api/close
    await expect(modal).to_have_count(0)
    await request.locator('[data-action-id="approve"]').click()
    reason = modal.get_by_label("Reason")
    # An empty required field is stopped by the client, as Slack's is.
    await modal.get_by_role("button", name="Approve").click()
    await expect(modal.locator('[data-error-for="reason"]')).to_have_text(
        "Please fill out this field."
    )

    await reason.fill("because")
    await modal.get_by_role("button", name="Approve").click()
    error = modal.locator('[data-block-id="reason"] [data-error-for="reason"]')
    await expect(error).to_have_text("Say why, not just 'because'.")
    await expect(reason).to_have_value("because")  # what was typed survives the re-render
    await page.screenshot(path=save_screenshot_path("devslack-ui-modal-error.png"))

    await reason.fill("smoke tests passed")
    await modal.get_by_role("button", name="Approve").click()
    await expect(modal).to_have_count(0)
    await expect(page.locator(f'.msg[data-ts="{ts}"]')).to_contain_text(
        "Approved by @Bob: smoke tests passed"
    )


async def test_mrkdwn_renders_and_untrusted_text_stays_text(page: Page, stack: Stack) -> None:
    ids = stack.ids
    await stack.control(
        "message", {"user": "alice", "channel": "#general", "text": f"hostile: {HOSTILE_TEXT}"}
    )
    blocks = kitchen_sink_blocks(ids["bob"], ids["#deploys"], ids["@oncall"])
    blocks.insert(1, _section(f"from the app: {HOSTILE_TEXT}"))
    await stack.bot_client().chat_postMessage(
        channel=ids["#general"],
        text="kitchen sink",
        blocks=blocks,
        attachments=kitchen_sink_attachments(ids["bob"]),
    )
    await act_as(page, stack, "bob")
    await open_channel(page, "general")

    hostile = page.locator("#message-list .msg", has_text="hostile:")
    await expect(hostile).to_contain_text('<script>window.__xss = "script"</script>')
    await expect(hostile).to_contain_text('<img src="x" onerror="window.__xss = \'img\'">')
    sink = message_with(page, "ks_approve")
    await expect(sink).to_contain_text("from the app: <script>")
    for message in (hostile, sink):
        await expect(message.locator(".msg-content script, .msg-content img")).to_have_count(0)
        await expect(message.locator('a[href^="javascript"]')).to_have_count(0)
        await expect(message.locator(".unsafe-link")).to_have_text("click me")
    assert await page.evaluate("() => window.__xss === undefined")

    # mrkdwn
    summary = sink.locator('[data-block-id="summary"]')
    await expect(summary.locator("strong").first).to_have_text("bold")
    await expect(summary.locator("em")).to_have_text("italic")
    await expect(summary.locator("del")).to_have_text("strike")
    await expect(summary.locator("code")).to_have_text("code")
    await expect(summary.locator('a[href="https://example.com/docs"]')).to_have_text("the docs")
    await expect(summary.locator(f'.mention[data-user-id="{ids["bob"]}"]')).to_have_text("@Bob")
    # bob is reading, and is in @oncall: both mentions are highlighted for him
    await expect(summary.locator(".mention-me")).to_have_text(["@Bob", "@oncall"])
    await expect(summary.locator(".mention-channel")).to_have_text("#deploys")
    await expect(summary.locator(".mention-special")).to_have_text("@here")
    await expect(summary.locator(".mention-group")).to_have_text("@oncall")
    await expect(summary.locator("blockquote")).to_have_text("a quoted line")
    await expect(summary.locator("pre")).to_have_text("line one\n<b>not bold</b>")
    await expect(summary.locator("pre b")).to_have_count(0)
    # other blocks
    await expect(sink.locator(".block-header")).to_have_text("Deploy request")
    await expect(sink.locator(".section-field")).to_have_count(4)
    await expect(sink.locator('[data-block-type="divider"]')).to_have_count(1)
    await expect(sink.get_by_role("img", name="error-rate graph")).to_be_visible()
    await expect(sink.locator(".block-context")).to_contain_text("Run 42 · started by @Bob")
    await expect(sink.locator(".chip")).to_have_text(["eu-west×"])
    attachment = sink.locator(".attachment")
    await expect(attachment.locator('a[href="https://example.com/runbook"]')).to_have_text(
        "Runbook"
    )
    await expect(attachment.locator("strong")).to_have_text("Rollback")
    await expect(attachment.locator(".att-field")).to_have_text("Owner@Bob")

    # Elements send what the user picked.
    await sink.locator('select[data-action-id="env"]').select_option(label="Production")
    await sink.get_by_role("checkbox", name="Run smoke tests").check()
    await sink.get_by_role("button", name="More actions").click()
    await sink.get_by_role("menuitem", name="Show logs").click()
    ticket = sink.get_by_role("combobox", name="Ticket")  # options come from the app
    await ticket.fill("ops")
    suggestions = sink.get_by_role("listbox").get_by_role("option")
    await expect(suggestions).to_have_text(["OPS-7 Flaky deploy", "OPS-9 Slow pages"])
    await suggestions.filter(has_text="OPS-9").click()
    await expect(ticket).to_have_value("OPS-9 Slow pages")
    await eventually(lambda: len(stack.seen_actions) == 4, "four actions at the app")
    assert [a["action_id"] for a in stack.seen_actions] == ["env", "checks", "more", "ticket"]
    env, checks, more, picked = stack.seen_actions
    assert env["selected_option"]["value"] == "production"
    assert [o["value"] for o in checks["selected_options"]] == ["run-smoke-tests"]
    assert more["selected_option"]["value"] == "show-logs"
    assert picked["selected_option"]["value"] == "OPS-9"
    await page.set_viewport_size({"width": 1360, "height": 1120})  # the whole message
    await page.screenshot(path=save_screenshot_path("devslack-ui-blocks.png"))


async def test_ephemeral_message_shows_only_for_its_user(page: Page, stack: Stack) -> None:
    await act_as(page, stack, "alice")
    await open_channel(page, "deploys")
    await send(page, "/demo secret")
    secret = page.locator('.msg[data-ephemeral="true"]', has_text="deploy window")
    await expect(secret).to_contain_text("Only visible to you")
    await expect(secret.locator(".app-badge")).to_be_visible()

    await stack.control("message", {"user": "carol", "channel": "#deploys", "text": "hello all"})
    await act_as(page, stack, "bob")
    await expect(page.locator("#message-list")).to_contain_text("hello all")
    await expect(page.locator(".msg", has_text="deploy window")).to_have_count(0)
    assert (await stack.control(f"ephemeral?user={stack.ids['bob']}"))["messages"] == []

    await act_as(page, stack, "alice")
    await expect(secret).to_be_visible()


async def test_app_home_and_app_errors(page: Page, stack: Stack) -> None:
    await act_as(page, stack, "dave")
    await page.locator("[data-app-home]").click()
    home = page.locator("#home-view")
    await expect(home).to_contain_text("Welcome to demo.")
    await home.get_by_role("button", name="Say hello").click()
    await expect(home).to_contain_text("Hello again!")

    # A message in a channel dave is not looking at makes it bold (unread) in the sidebar.
    general = page.locator('.sidebar [data-channel-name="general"]')
    await expect(general).not_to_have_attribute("data-unread", "true")
    await stack.control("message", {"user": "carol", "channel": "#general", "text": "lunch?"})
    await expect(general).to_have_attribute("data-unread", "true")
    await open_channel(page, "general")
    await expect(general).not_to_have_attribute("data-unread", "true")

    # The app has no handler for /procedure: Slack tells the user in the composer area.
    await open_channel(page, "incidents")
    await send(page, "/procedure run deploy env=prod")
    notice = page.locator("#composer-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("/procedure")


async def test_live_stream_reconnects_when_devslack_restarts(page: Page, stack: Stack) -> None:
    await open_channel(page, "general")
    old = stack.devslack
    await old.stop()
    await expect(page.locator("body")).to_have_attribute("data-live", "reconnecting")

    port = int(old.base_url.rsplit(":", 1)[1])
    stack.devslack = DevSlack(dataclasses.replace(old.config, port=port))
    await stack.devslack.start()
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await stack.control("message", {"user": "carol", "channel": "#general", "text": "back online"})
    await expect(page.locator("#message-list")).to_contain_text("back online")
