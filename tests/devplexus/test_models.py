"""Every model of the subset is served: the operations Plexus's runner does not send
(tasks, stages, the other index queries, relations) and DynamoDB's item size limit."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from devplexus import DevPlexus, DevPlexusConfig
from tests.conftest import FakeClock
from tests.devplexus.helpers import Plexus, gql_client

SEED = """
Account:
  - {id: acc-1, name: Acme, key: acme, settings: {plan: pro}}
Scorecard:
  - {id: card-1, name: Support, key: support, accountId: acc-1}
Score:
  - {id: score-1, name: Tone, order: 1, type: llm, sectionId: sec-1, scorecardId: card-1,
     externalId: ext-1}
"""


async def test_accounts_scorecards_and_scores_are_read_only_seeded_records(
    tmp_path: Path,
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    server = DevPlexus(DevPlexusConfig(seed_path=str(seed), account_key="acme"))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, gql_client(server) as session:
            plexus = Plexus(server, session, http)
            found = await plexus.execute(
                """
                query {
                    getAccount(id: "acc-1") { key settings createdAt }
                    getScorecard(id: "card-1") { name accountId }
                    getScore(id: "score-1") { name order scorecardId isDisabled }
                }
                """
            )
    finally:
        await server.stop()
    assert found["getAccount"]["key"] == "acme"
    assert json.loads(found["getAccount"]["settings"]) == {"plan": "pro"}
    assert found["getScorecard"] == {"name": "Support", "accountId": "acc-1"}
    assert found["getScore"] == {
        "name": "Tone",
        "order": 1,
        "scorecardId": "card-1",
        "isDisabled": None,
    }


async def test_tasks_and_their_stages(plexus: Plexus, clock: FakeClock) -> None:
    account = plexus.server.account_id
    task = await plexus.execute(
        """
        mutation T($input: CreateTaskInput!) { createTask(input: $input) { id status createdAt } }
        """,
        {
            "input": {
                "accountId": account,
                "type": "Procedure",
                "status": "RUNNING",
                "target": "procedure/p-1",
                "command": "procedure run p-1",
            }
        },
    )
    task_id = task["createTask"]["id"]
    assert task["createTask"]["createdAt"] == "2026-03-14T09:26:53.000Z"
    stage = """
        mutation S($input: CreateTaskStageInput!) { createTaskStage(input: $input) { id } }
    """
    for order, name in ((2, "Run"), (1, "Setup")):
        clock.advance(1)
        await plexus.execute(
            stage, {"input": {"taskId": task_id, "name": name, "order": order, "status": "PENDING"}}
        )
    clock.advance(1)
    done = await plexus.execute(
        """
        mutation U($input: UpdateTaskInput!) { updateTask(input: $input) { status updatedAt } }
        """,
        {"input": {"id": task_id, "status": "COMPLETED"}},
    )
    assert done["updateTask"] == {"status": "COMPLETED", "updatedAt": "2026-03-14T09:26:56.000Z"}
    read = await plexus.execute(
        """
        query R($id: ID!, $task: String!, $account: String!) {
            getTask(id: $id) { status stages { items { name order } } }
            listTaskByAccountIdAndUpdatedAt(accountId: $account) { items { id } }
            listTaskStageByTaskId(taskId: $task, sortDirection: DESC) { items { name } }
        }
        """,
        {"id": task_id, "task": task_id, "account": account},
    )
    assert read["getTask"]["stages"]["items"] == [
        {"name": "Run", "order": 2},
        {"name": "Setup", "order": 1},
    ]
    assert read["listTaskByAccountIdAndUpdatedAt"]["items"] == [{"id": task_id}]
    assert read["listTaskStageByTaskId"]["items"] == [{"name": "Setup"}, {"name": "Run"}]
    [stage_row] = [s for s in plexus.server.records("TaskStage") if s["name"] == "Setup"]
    renamed = await plexus.execute(
        """
        mutation U($input: UpdateTaskStageInput!) { updateTaskStage(input: $input) { status } }
        """,
        {"input": {"id": stage_row["id"], "status": "COMPLETED"}},
    )
    assert renamed["updateTaskStage"]["status"] == "COMPLETED"


async def test_the_other_index_queries_and_the_relation_fields(
    plexus: Plexus, clock: FakeClock
) -> None:
    account = plexus.server.account_id
    created = await plexus.execute(
        """
        mutation P($input: CreateProcedureInput!) { createProcedure(input: $input) { id } }
        """,
        {
            "input": {
                "name": "Deploy",
                "accountId": account,
                "status": "RUNNING",
                "scorecardId": "card-1",
            }
        },
    )
    pid = created["createProcedure"]["id"]
    session = await plexus.execute(
        "mutation S($input: CreateChatSessionInput!) { createChatSession(input: $input) { id } }",
        {"input": {"accountId": account, "procedureId": pid, "status": "ACTIVE"}},
    )
    sid = session["createChatSession"]["id"]
    message = """
        mutation M($input: CreateChatMessageInput!) { createChatMessage(input: $input) { id } }
    """
    base = {
        "sessionId": sid,
        "procedureId": pid,
        "accountId": account,
        "content": "x",
        "responseStatus": "COMPLETED",
    }
    clock.advance(1)
    parent = (await plexus.execute(message, {"input": {**base, "humanInteraction": "ALERT_INFO"}}))[
        "createChatMessage"
    ]["id"]
    clock.advance(1)
    child = (
        await plexus.execute(
            message, {"input": {**base, "parentMessageId": parent, "humanInteraction": "CHAT"}}
        )
    )["createChatMessage"]["id"]

    read = await plexus.execute(
        """
        query Q($account: String!, $pid: String!, $sid: ID!, $child: ID!) {
            a: listProcedureByAccountIdAndUpdatedAt(accountId: $account) { items { id } }
            b: listProcedureByAccountIdAndCreatedAt(accountId: $account, sortDirection: DESC) {
                items { id }
            }
            c: listProcedureByScorecardIdAndUpdatedAt(scorecardId: "card-1") { items { id } }
            d: listProcedureByStatusAndUpdatedAt(status: "RUNNING") { items { id } }
            e: listChatSessionByAccountIdAndUpdatedAt(accountId: $account) { items { id } }
            f: listChatSessionByProcedureIdAndCreatedAt(procedureId: $pid) { items { id } }
            g: listChatMessageByProcedureIdAndCreatedAt(procedureId: $pid) { items { id } }
            h: listChatMessageByHumanInteractionAndCreatedAt(humanInteraction: ALERT_INFO) {
                items { id }
            }
            i: listChatMessageByAccountIdAndCreatedAt(accountId: $account, sortDirection: DESC) {
                items { id }
            }
            j: listChatSessions { items { id } }
            k: listChatMessages(filter: {humanInteraction: {eq: CHAT}}) { items { id } }
            getChatSession(id: $sid) {
                messages { items { id } }
            }
            getChatMessage(id: $child) {
                session { id procedureId }
                parentMessage { id childMessages { items { id } } }
            }
        }
        """,
        {"account": account, "pid": pid, "sid": sid, "child": child},
    )
    ids = {
        key: [item["id"] for item in value["items"]]
        for key, value in read.items()
        if "items" in (value or {})
    }
    assert ids == {
        "a": [pid],
        "b": [pid],
        "c": [pid],
        "d": [pid],
        "e": [sid],
        "f": [sid],
        "g": [parent, child],
        "h": [parent],
        "i": [child, parent],
        "j": [sid],
        "k": [child],
    }
    assert [m["id"] for m in read["getChatSession"]["messages"]["items"]] == [parent, child]
    assert read["getChatMessage"]["session"] == {"id": sid, "procedureId": pid}
    assert read["getChatMessage"]["parentMessage"]["childMessages"]["items"] == [{"id": child}]
    sessions = await plexus.execute(
        "query P($id: ID!) { getProcedure(id: $id) { chatSessions { items { id } } } }",
        {"id": pid},
    )
    assert sessions["getProcedure"]["chatSessions"]["items"] == [{"id": sid}]


async def test_an_item_over_400_kb_is_refused_as_dynamodb_refuses_it(plexus: Plexus) -> None:
    create = """
        mutation M($input: CreateChatMessageInput!) { createChatMessage(input: $input) { id } }
    """
    base = {"sessionId": "s-1", "responseStatus": "COMPLETED"}
    [error] = await plexus.errors(create, {"input": {**base, "content": "x" * 410_000}})
    assert error["errorType"] == "DynamoDB:DynamoDbException"
    assert error["message"].startswith("Item size has exceeded the maximum allowed size")
    created = await plexus.execute(create, {"input": {**base, "content": "x" * 300_000}})
    update = """
        mutation U($input: UpdateChatMessageInput!) { updateChatMessage(input: $input) { id } }
    """
    metadata = json.dumps({"blob": "y" * 150_000})
    [error] = await plexus.errors(
        update, {"input": {"id": created["createChatMessage"]["id"], "metadata": metadata}}
    )
    assert error["message"].startswith("Item size to update has exceeded the maximum allowed size")
