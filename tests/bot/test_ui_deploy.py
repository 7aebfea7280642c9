"""A deploy approval clicked through in a browser: `hitlbot dev` and headless Chromium.

`hitlbot dev` runs as a subprocess (devslack, the bot over HTTP, a SQLite file and the
examples/ catalog); Chromium opens the URL it prints and people act in devslack's UI: alice
starts `deploy_approval` in #deploys, bob reviews the release notes, gives the change ticket
in a modal and approves the deploy, and the run's message says it completed. Playwright's
expectations poll with a deadline; nothing sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Locator, Page, async_playwright, expect

from tests.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REPO

HITLBOT = str(Path(sys.executable).with_name("hitlbot"))
ALICE, BOB = "U0ALICE01", "U0BOB0001"
START_TIMEOUT = 30.0

expect.set_options(timeout=10_000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dev_urls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`hitlbot dev` on free ports; the URLs it prints: devslack's and devplexus's."""
    log_path = tmp_path / "dev.log"
    argv = [HITLBOT, "dev", "--port", str(_free_port()), "--slack-port", str(_free_port())]
    argv += ["--db", str(tmp_path / "bot.db")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITLBOT_"))}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            text = log_path.read_text()
            slack = re.search(r"Open (http://\S+/) in your browser", text)
            plexus = re.search(r"Plexus: (http://\S+/) shows every run", text)
            if slack and plexus:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"hitlbot dev did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield slack.group(1), plexus.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest_asyncio.fixture
async def context(dev_urls: tuple[str, str]) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1440, "height": 1000})
        errors: list[str] = []
        context.on("weberror", lambda error: errors.append(str(error.error)))
        yield context
        await browser.close()
        assert errors == [], f"uncaught errors in the pages: {errors}"


@pytest_asyncio.fixture
async def page(context: BrowserContext, dev_urls: tuple[str, str]) -> Page:
    """devslack's page (the Slack people use)."""
    page = await context.new_page()
    await page.goto(dev_urls[0])
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    return page


async def act_as(page: Page, user_id: str) -> None:
    await page.get_by_label("Acting as").select_option(user_id)
    await expect(page.locator("body")).to_have_attribute("data-live", "open")


async def open_thread(page: Page, run_message: Locator) -> Locator:
    await run_message.hover()
    await run_message.get_by_role("button", name="Reply in thread").click()
    thread = page.get_by_role("complementary", name="Thread")
    await expect(thread).to_be_visible()
    return thread


async def test_deploy_approval_clicked_through_in_the_browser(page: Page) -> None:
    await act_as(page, ALICE)
    await page.locator('.sidebar [data-channel-name="deploys"]').click()
    await expect(page.locator("#channel-title")).to_have_text("#deploys")
    composer = page.get_by_role("textbox", name=re.compile("^Message"))
    await composer.fill("/procedure run deploy_approval")
    await composer.press("Enter")

    run_message = page.locator("#message-list .msg", has_text="Deploy approval")
    await expect(run_message).to_contain_text("Waiting for a review")
    await expect(run_message).to_contain_text("production")
    run_ts = await run_message.get_attribute("data-ts")
    run_message = page.locator(f'#message-list .msg[data-ts="{run_ts}"]')

    # Bob reviews the release notes.
    await act_as(page, BOB)
    thread = await open_thread(page, run_message)
    review = thread.locator(".msg", has_text="Are these release notes accurate")
    await expect(review).to_contain_text("Apple Pay express checkout")
    await expect(review.get_by_role("button", name="Request changes")).to_be_visible()
    await review.get_by_role("button", name="Approve").click()
    await expect(review).to_contain_text("Approved by @Bob")

    # The change ticket, in a modal.
    ticket = thread.locator(".msg", has_text="Change ticket for this production deploy")
    await ticket.get_by_role("button", name="Respond").click()
    modal = page.get_by_role("dialog", name="Input needed")
    await expect(modal).to_be_visible()
    await modal.get_by_label("Your answer").fill("CHG-12345")
    await modal.get_by_role("button", name="Submit").click()
    await expect(modal).to_have_count(0)
    await expect(ticket).to_contain_text("Answered by @Bob")

    # The go/no-go.
    go = thread.locator(".msg", has_text="Go for deploy of checkout-api 2.14.0 to production?")
    await expect(go).to_contain_text("CHG-12345")
    await go.get_by_role("button", name="Approve").click()
    await expect(go).to_contain_text("Approved by @Bob")

    await expect(run_message).to_contain_text("Completed")
    await expect(run_message).to_contain_text("deployed: yes")
    await expect(run_message).to_contain_text("decision: go")
    await expect(run_message).not_to_contain_text("feedback:")  # empty: not worth a word
    await expect(thread).to_contain_text("is rolling out")
    await expect(thread).to_contain_text("deploy_approval: completed")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "bot-deploy.png"))


async def test_a_review_approved_in_plexus_resumes_the_run_in_slack(
    page: Page, context: BrowserContext, dev_urls: tuple[str, str]
) -> None:
    await act_as(page, ALICE)
    await page.locator('.sidebar [data-channel-name="deploys"]').click()
    composer = page.get_by_role("textbox", name=re.compile("^Message"))
    await composer.fill("/procedure run deploy_approval")
    await composer.press("Enter")
    run_message = page.locator("#message-list .msg", has_text="Deploy approval")
    await expect(run_message).to_contain_text("Waiting for a review")

    # The same run in Plexus's dashboard: the review is answered there.
    plexus = await context.new_page()
    await plexus.goto(dev_urls[1])
    await expect(plexus.locator("body")).to_have_attribute("data-ready", "true")
    await plexus.locator("[data-procedure]", has_text="Deploy approval").first.click()
    review = plexus.locator('.msg[data-interaction="PENDING_REVIEW"]')
    await expect(review).to_contain_text("Are these release notes accurate")
    await review.get_by_role("button", name="Approve").click()
    await expect(review.locator(".badge.answered")).to_be_visible()

    # Slack shows who answered, where, and the run goes on to its next request.
    thread = await open_thread(page, run_message)
    answered = thread.locator(".msg", has_text="Are these release notes accurate")
    await expect(answered).to_contain_text("Approved by dev-user in Plexus")
    await expect(thread.locator(".msg", has_text="Change ticket")).to_be_visible()
    await expect(run_message).to_contain_text("Waiting for")
    ARTIFACTS.mkdir(exist_ok=True)
    await plexus.screenshot(path=str(ARTIFACTS / "bot-plexus-dashboard.png"))
    await page.screenshot(path=str(ARTIFACTS / "bot-plexus-slack.png"))
