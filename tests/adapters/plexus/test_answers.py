"""`PlexusAnswerFeed`: every run's dashboard answers in one query, taken once."""

from __future__ import annotations

import asyncio

from adapters.plexus import PlexusAnswerFeed, PlexusClient, PlexusHITLAdapter
from runtime.answers import normalize_answer
from tests.adapters.plexus.conftest import PlexusControl, create_procedure
from tests.adapters.plexus.test_hitl import APPROVAL, REVIEW, ask, context


def waiting_runs(client: PlexusClient, count: int) -> list[tuple[PlexusHITLAdapter, str]]:
    """`count` procedures, each waiting on a request: (adapter, pending message id)."""
    runs = []
    for _ in range(count):
        hitl = PlexusHITLAdapter(client, create_procedure(client))
        runs.append((hitl, hitl.message_id_for(ask(hitl, APPROVAL))))
    return runs


async def test_answers_to_every_run_come_in_one_query_until_taken(
    client: PlexusClient, plexus: PlexusControl
) -> None:
    runs = await asyncio.to_thread(waiting_runs, client, 3)
    feed = PlexusAnswerFeed(client)
    assert await feed.untaken() == []
    first, second = runs[0][1], runs[2][1]
    plexus.respond(first, action="approve", user_id="cognito-alice")
    plexus.respond(second, action="reject")
    before = plexus.calls().get("ListUntakenAnswers", 0)

    answers = await feed.untaken()

    assert plexus.calls()["ListUntakenAnswers"] - before == 1
    assert [(a.pending_message_id, a.value, a.responder) for a in answers] == [
        (first, True, "cognito-alice"),
        (second, False, "dev-user"),
    ]
    assert answers[0].request_id is not None and answers[0].request_id.endswith(":pos0")
    await feed.take(answers[0])
    assert [a.pending_message_id for a in await feed.untaken()] == [second]


async def test_an_answer_a_run_was_given_leaves_the_feed(client, plexus) -> None:
    [(hitl, message_id)] = await asyncio.to_thread(waiting_runs, client, 1)
    plexus.respond(message_id, action="approve")
    feed = PlexusAnswerFeed(client)
    assert len(await feed.untaken()) == 1

    await asyncio.to_thread(
        hitl.request_interaction, "restart", APPROVAL, execution_context=context()
    )

    assert await feed.untaken() == []


async def test_a_dashboard_value_is_given_in_the_request_vocabulary(client, plexus) -> None:
    hitl = PlexusHITLAdapter(client, await asyncio.to_thread(create_procedure, client))
    message_id = hitl.message_id_for(await asyncio.to_thread(ask, hitl, REVIEW))
    plexus.respond(message_id, action="request_changes", text="fix the typo")

    [answer] = await PlexusAnswerFeed(client).untaken()

    assert answer.value == {"decision": "request_changes", "feedback": "fix the typo"}
    value = normalize_answer(REVIEW, answer.value_for(REVIEW))
    assert (value["decision"], value["feedback"]) == ("reject", "fix the typo")


async def test_a_poll_costs_the_same_however_many_runs_wait(client, plexus) -> None:
    feed = PlexusAnswerFeed(client)
    costs = []
    for waiting in (1, 25):
        await asyncio.to_thread(waiting_runs, client, waiting)
        before = plexus.total_calls()
        await feed.untaken()
        costs.append(plexus.total_calls() - before)
    assert costs == [1, 1]
