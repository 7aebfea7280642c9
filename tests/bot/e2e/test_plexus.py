"""Runs mirrored in Plexus, and answered from either side (the bot, devslack and devplexus as
separate processes over real HTTP)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.plexus_view import procedure_id_for
from runtime.models import RunStatus
from tests.bot.e2e.conftest import BOB, Slack, Thread, all_text, answer_elements


def _control(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["metadata"])["control"]


async def _rows(slack: Slack, thread: Thread, **where: str) -> list[dict[str, Any]]:
    procedure_id = procedure_id_for(thread.run_id)
    return await slack.plexus_records("ChatMessage", procedureId=procedure_id, **where)


async def _pending_row(slack: Slack, thread: Thread, request_id: str) -> dict[str, Any]:
    async def posted() -> dict[str, Any] | None:
        for row in await _rows(slack, thread):
            if row["humanInteraction"].startswith("PENDING") and (
                _control(row).get("request_id") == request_id
            ):
                return row
        return None

    return await slack.wait_for(posted, f"Plexus's pending row of {request_id}")


async def _procedure(slack: Slack, thread: Thread) -> dict[str, Any]:
    [procedure] = await slack.plexus_records("Procedure", id=procedure_id_for(thread.run_id))
    return procedure


async def _plexus_shows(slack: Slack, thread: Thread, status: str) -> dict[str, Any]:
    async def shown() -> dict[str, Any] | None:
        found = await slack.plexus_records("Procedure", id=procedure_id_for(thread.run_id))
        return found[0] if found and found[0]["status"] == status else None

    return await slack.wait_for(shown, f"the Procedure {status} in Plexus")


async def test_a_run_answered_in_slack_is_written_to_plexus_as_plexus_writes_it(
    plexus_slack: Slack,
) -> None:
    slack = plexus_slack
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    [pending] = slack.requests(thread)
    row = await _pending_row(slack, thread, pending.request_id)
    waiting = await _plexus_shows(slack, thread, "WAITING_FOR_HUMAN")
    assert waiting["waitingOnMessageId"] == row["id"]
    assert row["humanInteraction"] == "PENDING_APPROVAL" and row["responseStatus"] == "PENDING"
    control = _control(row)
    assert control["request_type"] == "approval" and control["prompt"] == "Ship **api**?"
    assert control["procedure_id"] == procedure_id_for(thread.run_id)
    assert "name: Ship" in waiting["code"]

    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    done = await _plexus_shows(slack, thread, "COMPLETED")
    assert done.get("waitingOnMessageId") is None

    async def answered() -> list[dict[str, Any]]:
        return await _rows(slack, thread, humanInteraction="RESPONSE")

    [answer] = await slack.wait_for(answered, "the answer row in Plexus")
    assert answer["parentMessageId"] == row["id"]
    answer_control = _control(answer)
    assert (answer_control["value"], answer_control["responder"]) == (True, BOB)
    assert json.loads(answer["metadata"])["attribution"] == {"actorType": "user", "userId": BOB}

    async def finished() -> dict[str, Any] | None:
        sessions = await slack.plexus_records(
            "ChatSession", procedureId=procedure_id_for(thread.run_id)
        )
        return sessions[0] if sessions and sessions[0]["status"] == "COMPLETED" else None

    await slack.wait_for(finished, "the chat session completed in Plexus")
    contents = [r["content"] for r in await _rows(slack, thread)]
    assert any(content.startswith("Completed: ") for content in contents)


async def test_an_answer_given_in_plexus_resumes_the_run_and_slack_shows_it(
    plexus_slack: Slack,
) -> None:
    slack = plexus_slack
    thread = await slack.start("alice", slack.channel, "run ship twice=true")
    first = await slack.wait_request(thread, "Ship *api*?")
    [pending] = slack.requests(thread)
    row = await _pending_row(slack, thread, pending.request_id)
    body = {"message_id": row["id"], "action": "approve", "user_id": "carol-plexus"}
    await slack.plexus("POST", "respond", body)

    second = await slack.wait_request(thread, "Really ship api?")  # the run went on
    answered = await slack.wait_reply(thread, "Approved by carol-plexus in Plexus")
    assert answered["ts"] == first["ts"] and answer_elements(answered) == []
    recorded = slack.requests(thread)[0].response
    assert recorded is not None and recorded.responder == "plexus:carol-plexus"

    await slack.click("dave", second, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"approved": True, "confirmed": True, "spun": False}
    [taken] = await _rows(slack, thread, parentMessageId=row["id"])
    assert taken["responseStatus"] == "COMPLETED"  # taken: no poll looks at it again


async def test_a_click_and_a_plexus_answer_at_once_record_one_answer(plexus_slack: Slack) -> None:
    slack = plexus_slack
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    [pending] = slack.requests(thread)
    row = await _pending_row(slack, thread, pending.request_id)
    body = {"message_id": row["id"], "action": "reject", "user_id": "carol-plexus"}
    await asyncio.gather(
        slack.click("bob", request, text="Approve"), slack.plexus("POST", "respond", body)
    )
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    winner = slack.requests(thread)[0].response
    assert winner is not None and winner.responder in (BOB, "plexus:carol-plexus")
    assert run.result == {"approved": winner.responder == BOB, "spun": False}

    async def settled_in_plexus() -> list[dict[str, Any]]:
        rows = await _rows(slack, thread, parentMessageId=row["id"])
        done = [r for r in rows if r["responseStatus"] in ("COMPLETED", "FAILED")]
        return rows if len(rows) == len(done) and rows else []

    rows = await slack.wait_for(settled_in_plexus, "both answers settled in Plexus")
    applied = [r for r in rows if r["responseStatus"] == "COMPLETED"]
    [applied_row] = applied  # exactly one answer counts, in Plexus as in Slack
    if winner.responder == BOB:
        assert _control(applied_row)["responder"] == BOB
        [lost] = [r for r in rows if r["responseStatus"] == "FAILED"]
        assert lost["responseError"] == f"Not applied: {BOB} answered first"
    else:
        assert applied_row["createdByUserId"] == "carol-plexus"
        await slack.wait_ephemeral("bob", "Already answered, nothing changed")


async def test_plexus_failing_then_down_loses_and_doubles_nothing(plexus_slack: Slack) -> None:
    slack = plexus_slack
    await slack.plexus("POST", "faults", {"operation": "*", "status": 503, "error_rate": 0.3})
    threads = [await slack.start("alice", slack.channel, "run ship") for _ in range(2)]
    await slack.plexus("POST", "faults", {"outage": True})
    threads.append(await slack.start("alice", slack.another_channel(), "run ship"))
    for thread in threads:  # Slack goes on while Plexus fails
        request = await slack.wait_request(thread, "Ship *api*?")
        await slack.click("bob", request, text="Approve")
        await slack.wait_run(thread, RunStatus.COMPLETED)
    await slack.plexus("POST", "faults", {"clear": True})

    for thread in threads:  # everything arrives once Plexus is back, once
        await _plexus_shows(slack, thread, "COMPLETED")

        async def complete(thread: Thread = thread) -> list[dict[str, Any]]:
            rows = await _rows(slack, thread)
            kinds = sorted(r["humanInteraction"] for r in rows)
            return rows if kinds == ["NOTIFICATION", "PENDING_APPROVAL", "RESPONSE"] else []

        rows = await slack.wait_for(complete, "the run's rows in Plexus, each once", timeout=30)
        assert len({r["id"] for r in rows}) == 3
        sessions = await slack.plexus_records(
            "ChatSession", procedureId=procedure_id_for(thread.run_id)
        )
        assert len(sessions) == 1


async def test_writes_waiting_for_plexus_survive_a_restart_of_the_bot(plexus_slack: Slack) -> None:
    slack = plexus_slack
    await slack.plexus("POST", "faults", {"outage": True})
    thread = await slack.start("alice", slack.channel, "run ship")
    request = await slack.wait_request(thread, "Ship *api*?")
    await slack.click("bob", request, text="Approve")
    await slack.wait_run(thread, RunStatus.COMPLETED)
    slack.stack.kill_bot()
    await slack.plexus("POST", "faults", {"clear": True})
    await asyncio.to_thread(slack.stack.start_bot)
    await _plexus_shows(slack, thread, "COMPLETED")
    responses = await _rows(slack, thread, humanInteraction="RESPONSE")
    assert [_control(r)["responder"] for r in responses] == [BOB]
    assert "Ship" in all_text({"text": (await _procedure(slack, thread))["code"]})


RESTART_YAML = """\
name: Restart a host
version: 1.0.0
class: Tactus
description: Restarts a host once someone agrees.
params:
  host: {type: string, required: true}
code: |
  local ok = Human.approve{message = "Restart " .. params.host .. "?"}
  return {restarted = ok, host = params.host}
"""


async def _graphql(slack: Slack, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A write straight to Plexus's API, as Plexus's own dashboard makes one."""
    env = slack.stack.plexus_env
    headers = {"x-api-key": env["PLEXUS_API_KEY"]}
    body = {"query": query, "variables": variables}
    async with slack.http.post(env["PLEXUS_API_URL"], json=body, headers=headers) as response:
        data = await response.json()
    assert not data.get("errors"), data
    return data["data"]


async def _a_plexus_procedure(slack: Slack, code: str) -> str:
    account = (await slack.plexus("GET", "info"))["account"]["id"]
    created = await _graphql(
        slack,
        "mutation ($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }",
        {
            "input": {
                "name": "Restart a host",
                "accountId": account,
                "code": code,
                "status": "PENDING",
            }
        },
    )
    return str(created["createProcedure"]["id"])


async def test_a_procedure_kept_in_plexus_is_listed_run_and_mirrored_into_it(
    plexus_slack: Slack,
) -> None:
    slack = plexus_slack
    plexus_id = await _a_plexus_procedure(slack, RESTART_YAML)
    seen = {m["ts"] for m in await slack.ephemeral("dave")}
    await slack.command("dave", slack.channel, "list")
    listing = await slack.wait_ephemeral("dave", "In Plexus", besides=seen)
    assert f"`plexus:{plexus_id}` Restart a host" in listing["text"]

    thread = await slack.start("alice", slack.channel, f"run plexus:{plexus_id} host=api-7")
    request = await slack.wait_request(thread, "Restart api-7?")

    async def waiting_in_plexus() -> dict[str, Any] | None:
        [procedure] = await slack.plexus_records("Procedure", id=plexus_id)
        return procedure if procedure["status"] == "WAITING_FOR_HUMAN" else None

    await slack.wait_for(waiting_in_plexus, "the Plexus procedure waiting on the request")
    # Edited in Plexus meanwhile: the run goes on with the code it started with.
    await _graphql(
        slack,
        "mutation ($input: UpdateProcedureInput!) { updateProcedure(input: $input) { id } }",
        {"input": {"id": plexus_id, "code": RESTART_YAML.replace("Restart ", "Reboot ")}},
    )
    await slack.click("bob", request, text="Approve")
    run = await slack.wait_run(thread, RunStatus.COMPLETED)
    assert run.result == {"restarted": True, "host": "api-7"}

    async def completed_in_plexus() -> bool:
        [procedure] = await slack.plexus_records("Procedure", id=plexus_id)
        return procedure["status"] == "COMPLETED"

    await slack.wait_for(completed_in_plexus, "the Plexus procedure completed")
    sessions = await slack.plexus_records("ChatSession", procedureId=plexus_id)
    assert len(sessions) == 1
    assert await slack.plexus_records("Procedure", id=procedure_id_for(thread.run_id)) == []


async def test_a_plexus_name_with_no_such_procedure_is_refused_clearly(plexus_slack: Slack) -> None:
    slack = plexus_slack
    seen = {m["ts"] for m in await slack.ephemeral("dave")}
    await slack.command("dave", slack.channel, "run plexus:0000-nope")
    refusal = await slack.wait_ephemeral("dave", "no procedure", besides=seen)
    assert refusal["text"] == "Plexus has no procedure `0000-nope`"
