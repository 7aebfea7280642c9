"""Seeds and persistence: a seed file's items pass the same write rules as a client's, the
configured account always exists, and a database file survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devplexus import DevPlexus, DevPlexusConfig

SEED = """
Account:
  - id: acc-1
    name: Acme
    key: acme
Procedure:
  - id: proc-1
    name: Deploy
    accountId: acc-1
    status: WAITING_FOR_HUMAN
    waitingOnMessageId: msg-1
    metadata: {state: {step: 2}}
ChatSession:
  - id: sess-1
    accountId: acc-1
    procedureId: proc-1
    status: ACTIVE
ChatMessage:
  - id: msg-1
    sessionId: sess-1
    procedureId: proc-1
    accountId: acc-1
    role: ASSISTANT
    content: Deploy api v1.2.3?
    humanInteraction: PENDING_APPROVAL
    responseTarget: proc-1
    responseStatus: PENDING
    metadata:
      control: {request_id: "proc-1:abcd1234:pos0", procedure_id: proc-1, request_type: approval}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    return str(path)


async def test_a_seed_file_gives_accounts_procedures_and_pending_requests(tmp_path: Path) -> None:
    server = DevPlexus(DevPlexusConfig(seed_path=write(tmp_path, SEED), account_key="acme"))
    assert server.account_id == "acc-1"
    [procedure] = server.records("Procedure")
    assert json.loads(procedure["metadata"]) == {"state": {"step": 2}}
    answer = await server.respond("msg-1", action="approve")
    assert json.loads(answer["content"]) == {"value": True}
    server.reset()
    assert [m["id"] for m in server.records("ChatMessage")] == ["msg-1"]  # back to the seed
    await server.stop()


async def test_the_configured_account_is_added_with_a_stable_id() -> None:
    first = DevPlexus(DevPlexusConfig(account_key="team-x"))
    second = DevPlexus(DevPlexusConfig(account_key="team-x"))
    assert first.account_id == second.account_id
    assert sorted(a["key"] for a in first.records("Account")) == ["dev", "team-x"]
    await first.stop()
    await second.stop()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Nope: []", "seed: no model `Nope` in the schema"),
        ("Account: [{name: A, key: a, colour: red}]", "seed: Account #1: unknown attribute(s)"),
        (
            "ChatSession: [{accountId: a, status: STALLED}]",
            "seed: ChatSession #1: `status` must be one of ['ACTIVE', 'COMPLETED', 'ERROR']",
        ),
        (
            "ChatMessage: [{sessionId: s, content: c}]",
            "seed: ChatMessage #1: When creating any part of the composite sort key",
        ),
        ("Account: {name: A}", "seed: `Account` must be a list of items"),
    ],
)
def test_a_bad_seed_names_the_item_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        DevPlexus(DevPlexusConfig(seed_path=write(tmp_path, text)))
    assert str(caught.value).startswith(message)


async def test_a_database_file_keeps_data_across_restarts(tmp_path: Path) -> None:
    config = DevPlexusConfig(db_path=str(tmp_path / "plexus.db"))
    first = DevPlexus(config)
    first.writer.create(first.catalog.model("Procedure"), {"name": "Kept", "accountId": "a"})
    await first.stop()
    second = DevPlexus(config)
    assert [p["name"] for p in second.records("Procedure")] == ["Kept"]
    assert len(second.records("Account")) == 1  # the seed is not loaded twice
    await second.stop()
