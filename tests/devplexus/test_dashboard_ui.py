"""The dashboard page in Chromium: it shows procedures and their chats live, and answers a
pending request by writing exactly the row Plexus's dashboard writes (reference §6.3).

The data is written the way Plexus's runner writes it, through GraphQL over HTTP; the page
is driven like a person would drive it. Playwright's expectations poll with a deadline.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from devplexus import DevPlexus, DevPlexusConfig
from tests.devplexus.helpers import Plexus, control_envelope, gql_client
from tests.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.asyncio(loop_scope="module")
expect.set_options(timeout=8_000)

CREATE_PROCEDURE = """
mutation CreateProcedure($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }
"""
CREATE_SESSION = """
mutation CreateChatSession($input: CreateChatSessionInput!) {
    createChatSession(input: $input) { id }
}
"""
CREATE_MESSAGE = """
mutation CreateChatMessage($input: CreateChatMessageInput!) {
    createChatMessage(input: $input) { id createdAt }
}
"""
WAITING = """
mutation UpdateProcedureStatus($id: ID!, $status: String!, $waitingOnMessageId: String) {
    updateProcedure(input: {id: $id, status: $status, waitingOnMessageId: $waitingOnMessageId}) {
        id
    }
}
"""
HOSTILE = '<img src="x" onerror="window.__xss = 1"><script>window.__xss = 2</script>'


class Run:
    """A procedure waiting on a person, written as Plexus's runner writes it."""

    def __init__(self, plexus: Plexus, procedure: str, session: str) -> None:
        self.plexus = plexus
        self.procedure = procedure
        self.session = session
        self.sequence = 0

    @classmethod
    async def start(cls, plexus: Plexus, name: str) -> Run:
        account = plexus.server.account_id
        procedure = await plexus.execute(
            CREATE_PROCEDURE, {"input": {"name": name, "accountId": account, "status": "RUNNING"}}
        )
        pid = procedure["createProcedure"]["id"]
        session = await plexus.execute(
            CREATE_SESSION,
            {
                "input": {
                    "accountId": account,
                    "procedureId": pid,
                    "category": "Console",
                    "status": "ACTIVE",
                }
            },
        )
        return cls(plexus, pid, session["createChatSession"]["id"])

    async def say(self, content: str) -> str:
        return await self._message(content, "CHAT_ASSISTANT", None, "COMPLETED")

    async def ask(
        self, content: str, interaction: str, envelope: dict[str, Any] | None = None
    ) -> str:
        control = envelope or control_envelope(self.procedure, interaction.split("_")[1].lower())
        pending = await self._message(content, interaction, {"control": control}, "PENDING")
        await self.plexus.execute(
            WAITING,
            {"id": self.procedure, "status": "WAITING_FOR_HUMAN", "waitingOnMessageId": pending},
        )
        return pending

    async def _message(
        self, content: str, interaction: str, metadata: dict[str, Any] | None, status: str
    ) -> str:
        self.sequence += 1
        values: dict[str, Any] = {
            "sessionId": self.session,
            "procedureId": self.procedure,
            "accountId": self.plexus.server.account_id,
            "role": "ASSISTANT",
            "content": content,
            "messageType": "MESSAGE",
            "humanInteraction": interaction,
            "sequenceNumber": self.sequence,
            "responseTarget": self.procedure,
            "responseStatus": status,
        }
        if metadata is not None:
            values["metadata"] = json.dumps(metadata)
        created = await self.plexus.execute(CREATE_MESSAGE, {"input": values})
        return created["createChatMessage"]["id"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def plexus() -> AsyncIterator[Plexus]:
    server = DevPlexus(DevPlexusConfig())
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, gql_client(server) as session:
            yield Plexus(server, session, http)
    finally:
        await server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, plexus: Plexus) -> AsyncIterator[Page]:
    """A fresh tab on the dashboard; any uncaught page error fails the test."""
    context = await browser.new_context(viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(plexus.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    yield page
    await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def message(page: Page, message_id: str):
    return page.locator(f'.msg[data-id="{message_id}"]')


async def open_procedure(page: Page, procedure_id: str) -> None:
    await page.locator(f'[data-procedure="{procedure_id}"]').click()
    await expect(page.locator(f'[data-procedure="{procedure_id}"]')).to_have_attribute(
        "aria-current", "true"
    )


async def test_approving_in_the_dashboard_writes_the_plexus_dashboard_row(
    page: Page, plexus: Plexus
) -> None:
    run = await Run.start(plexus, "Deploy api")
    said = await run.say("Checking the release notes")
    pending = await run.ask("Deploy api v1.2.3 to production?", "PENDING_APPROVAL")
    await open_procedure(page, run.procedure)

    await expect(page.locator('[data-field="status"]')).to_have_text("WAITING_FOR_HUMAN")
    await expect(page.locator('[data-field="waitingOnMessageId"]')).to_have_text(pending)
    rows = page.locator(f'[data-session="{run.session}"] .msg')
    await expect(rows).to_have_count(2)
    assert await rows.nth(0).get_attribute("data-id") == said
    request = message(page, pending)
    await expect(request).to_have_attribute("data-pending", "true")
    await expect(request.locator(".badge.pending")).to_have_text("pending")
    await expect(request.locator("button")).to_have_text(["Approve", "Reject"])

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "devplexus-dashboard-pending.png"))
    await page.get_by_label("Answering as").fill("u-alice")
    await request.get_by_role("button", name="Approve").click()

    await expect(request.locator(".badge.answered")).to_have_text("answered")
    await expect(request.locator("button")).to_have_count(0)
    answer = page.locator('.msg[data-interaction="RESPONSE"]')
    await expect(answer.locator(".answer-line")).to_have_text(
        "Answered by u-alice via dashboard-procedure-conversation: true"
    )
    await page.screenshot(path=str(ARTIFACTS / "devplexus-dashboard-answered.png"))

    [row] = [m for m in plexus.server.records("ChatMessage") if m.get("parentMessageId")]
    metadata = json.loads(row.pop("metadata"))
    created_at = row.pop("createdAt")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created_at)
    assert row == {
        "id": row["id"],
        "accountId": plexus.server.account_id,
        "sessionId": run.session,
        "procedureId": run.procedure,
        "parentMessageId": pending,
        "role": "USER",
        "messageType": "MESSAGE",
        "humanInteraction": "RESPONSE",
        "content": '{"value":true}',
        "responseTarget": "cloud",
        "responseStatus": "PENDING",
        "createdByUserId": "u-alice",
        "updatedAt": row["updatedAt"],
    }
    assert metadata == {
        "attribution": {"actorType": "user", "userId": "u-alice"},
        "control": {
            "request_id": f"{run.procedure}:run12345:pos0",
            "procedure_id": run.procedure,
            "request_type": "approval",
            "response_type": "approval",
            "pending_message_id": pending,
            "value": True,
            "responded_at": created_at,
            "responder": "dashboard-procedure-conversation",
        },
    }


async def test_a_pending_row_without_a_full_control_envelope_is_not_answerable(
    page: Page, plexus: Plexus
) -> None:
    run = await Run.start(plexus, "Broken envelope")
    envelope = control_envelope(run.procedure, "review")
    del envelope["request_id"]
    pending = await run.ask("Review the rollout plan", "PENDING_REVIEW", envelope)
    await open_procedure(page, run.procedure)

    request = message(page, pending)
    await expect(request.locator(".refusal")).to_have_text(
        "Cannot answer here: Pending HITL message's metadata.control has no request_id"
    )
    await expect(request.locator("button")).to_have_count(0)
    assert [m for m in plexus.server.records("ChatMessage") if m.get("parentMessageId")] == []


async def test_new_requests_appear_live_and_text_answers_carry_the_text(
    page: Page, plexus: Plexus
) -> None:
    run = await Run.start(plexus, "Rotate keys")
    await open_procedure(page, run.procedure)
    await expect(page.locator(f'[data-session="{run.session}"]')).to_be_visible()

    review = await run.ask("Review the key rotation plan", "PENDING_REVIEW")
    request = message(page, review)  # appears without a reload
    await request.get_by_label("Feedback").fill("Rotate the staging keys first")
    await request.get_by_role("button", name="Request changes").click()
    await expect(request.locator(".badge.answered")).to_be_visible()

    escalation = await run.ask(HOSTILE, "PENDING_ESCALATION")
    request = message(page, escalation)
    await expect(request.locator(".msg-content")).to_have_text(HOSTILE)  # shown, not run
    assert await page.evaluate("window.__xss") is None
    await request.get_by_label("Note").fill("paging the on-call")
    await request.get_by_role("button", name="Acknowledge").click()
    await expect(request.locator(".badge.answered")).to_be_visible()

    values = {
        m["parentMessageId"]: json.loads(m["content"])["value"]
        for m in plexus.server.records("ChatMessage")
        if m.get("parentMessageId") in (review, escalation)
    }
    assert values == {
        review: {"decision": "request_changes", "feedback": "Rotate the staging keys first"},
        escalation: {"acknowledged": True, "action": "acknowledge", "note": "paging the on-call"},
    }
