"""Approvers against a real in-process devslack: ids, names, groups, self-approval, caching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvers import (
    NOT_APPROVER_REASON,
    NOT_MEMBER_REASON,
    SELF_REASON,
    UNAVAILABLE_REASON,
    Approvers,
    Decision,
    approver_entries,
    self_approval_allowed,
)
from devslack import DevSlack
from runtime.models import HITLRequest, PendingRequest, RunRecord
from runtime.procedure import Procedure
from tests.bot.conftest import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ONCALL,
    SlackControl,
    VirtualClock,
    client_for,
)
from tests.conftest import make_procedure

RUN = RunRecord(run_id="run-1", procedure_id="deploy", started_by=ALICE)


def request(request_type: str = "approval", **routing: Any) -> PendingRequest:
    metadata = {"hitlbot": routing} if routing else {}
    return PendingRequest(
        request_id="req-1",
        run_id=RUN.run_id,
        procedure_id="deploy",
        position=0,
        request=HITLRequest(request_type=request_type, message="Deploy?", metadata=metadata),
    )


def procedure(**config: Any) -> Procedure:
    return make_procedure("return 1", procedure_id="deploy").model_copy(update={"config": config})


@pytest.fixture
def approvers(web_client_v: AsyncWebClient, vclock: VirtualClock) -> Approvers:
    return Approvers(web_client_v, clock=vclock)


async def allowed(approvers: Approvers, user: str, pending: PendingRequest, **kw: Any) -> bool:
    proc = kw.get("proc")
    return (await approvers.may_answer(user, pending, kw.get("run", RUN), proc)).allowed


@pytest.mark.parametrize(
    "entry",
    ["U0BOB0001", "bob", "@bob", "BOB", "Bob", "<@U0BOB0001>", "<@U0BOB0001|bob>"],
)
async def test_a_user_by_id_name_or_mention(approvers: Approvers, entry: str) -> None:
    pending = request(approvers=[entry])
    assert await allowed(approvers, BOB, pending)
    assert not await allowed(approvers, CAROL, pending)


@pytest.mark.parametrize("entry", ["@oncall", "oncall", ONCALL, f"<!subteam^{ONCALL}>"])
async def test_a_user_group_by_handle_or_id(approvers: Approvers, entry: str) -> None:
    pending = request(approvers=[entry])
    assert await allowed(approvers, BOB, pending)
    assert await allowed(approvers, CAROL, pending)
    refused = await approvers.may_answer(DAVE, pending, RUN, None)
    assert refused == Decision(False, NOT_APPROVER_REASON, f"ask <!subteam^{ONCALL}>")
    assert refused.text == (
        f"You may not answer this: {NOT_APPROVER_REASON}; ask <!subteam^{ONCALL}>."
    )


async def test_ask_names_everyone_in_slack_syntax(approvers: Approvers) -> None:
    decision = await approvers.may_answer(DAVE, request(approvers="bob, @oncall ghost"), RUN, None)
    assert not decision.allowed
    assert decision.ask == f"ask <@{BOB}>, <!subteam^{ONCALL}> or @ghost"


async def test_empty_approvers_means_anyone_in_the_workspace(approvers: Approvers) -> None:
    for pending in (request("input"), request("input", approvers=[])):
        for user in (ALICE, BOB, DAVE):
            assert await allowed(approvers, user, pending)


async def test_procedure_config_applies_when_the_call_names_none(approvers: Approvers) -> None:
    proc = procedure(approvers=["@oncall"])
    assert await allowed(approvers, CAROL, request(), proc=proc)
    assert not await allowed(approvers, DAVE, request(), proc=proc)
    # the call's own list wins over the procedure's
    assert await allowed(approvers, DAVE, request(approvers=["dave"]), proc=proc)


async def test_the_starter_may_not_approve_their_own_run(approvers: Approvers) -> None:
    decision = await approvers.may_answer(ALICE, request(), RUN, None)
    assert decision == Decision(False, SELF_REASON, "ask someone else")
    assert await allowed(approvers, BOB, request())
    review = await approvers.may_answer(ALICE, request("review"), RUN, None)
    assert not review.allowed
    # not an approval: the starter may answer
    assert await allowed(approvers, ALICE, request("input"))


async def test_self_approval_blocked_even_when_listed(approvers: Approvers) -> None:
    pending = request(approvers=["alice", "bob"])
    decision = await approvers.may_answer(ALICE, pending, RUN, None)
    assert decision == Decision(False, SELF_REASON, f"ask <@{BOB}>")
    assert "alice" not in decision.ask and ALICE not in decision.ask


async def test_self_approval_allowed_when_configured(approvers: Approvers) -> None:
    assert await allowed(approvers, ALICE, request(allow_self_approval=True))
    proc = procedure(allow_self_approval=True)
    assert await allowed(approvers, ALICE, request(), proc=proc)
    # the call can forbid what the procedure allows
    assert not await allowed(approvers, ALICE, request(allow_self_approval=False), proc=proc)
    assert await allowed(approvers, ALICE, request(approvers=["alice"], allow_self_approval=True))


async def test_a_starter_recorded_as_a_mention_is_recognised(approvers: Approvers) -> None:
    run = RUN.model_copy(update={"started_by": f"<@{ALICE}>"})
    assert not await allowed(approvers, ALICE, request(), run=run)


async def test_directory_is_cached_for_the_ttl(
    approvers: Approvers, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    for _ in range(3):
        assert await allowed(approvers, BOB, request(approvers=["@oncall"]))
    assert (await slack_control_v.method_stats("users.list"))["calls"] == 1
    assert (await slack_control_v.method_stats("usergroups.users.list"))["calls"] == 1
    vclock.advance(61)
    assert await allowed(approvers, CAROL, request(approvers=["@oncall"]))
    assert (await slack_control_v.method_stats("users.list"))["calls"] == 2


async def test_user_ids_need_no_lookup(approvers: Approvers, slack_control_v: SlackControl) -> None:
    assert await allowed(approvers, BOB, request(approvers=[BOB]))
    assert (await slack_control_v.method_stats("users.list"))["calls"] == 0


async def test_slack_down_without_a_cache_refuses_with_a_reason(
    approvers: Approvers, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="users.list", status=503)
    decision = await approvers.may_answer(BOB, request(approvers=["bob"]), RUN, None)
    assert decision == Decision(False, UNAVAILABLE_REASON)


async def test_slack_down_with_a_stale_cache_uses_it(
    approvers: Approvers, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    assert await allowed(approvers, CAROL, request(approvers=["@oncall"]))
    vclock.advance(120)
    await slack_control_v.fault(method="*", status=503)
    assert await allowed(approvers, CAROL, request(approvers=["@oncall"]))
    assert not await allowed(approvers, DAVE, request(approvers=["@oncall"]))


def test_entries_and_flags_from_call_or_procedure() -> None:
    proc = procedure(approvers="bob carol", allow_self_approval=False)
    assert approver_entries(request(), proc) == ["bob", "carol"]
    assert approver_entries(request(approvers={1: "dave"}), proc) == ["dave"]
    assert approver_entries(request(), None) == []
    assert not self_approval_allowed(request(), proc)
    assert self_approval_allowed(request(allow_self_approval=True), proc)


# --- requests without approvers: members of the workspace only ----------------------------------

GHOST = "U0GHOST01"  # no such user in the workspace
GONE = "U0GONE001"  # a deactivated account


@pytest.fixture
async def workspace_with_a_leaver(
    start_devslack: Callable[..., Awaitable[DevSlack]], vclock: VirtualClock, tmp_path: Path
) -> DevSlack:
    import devslack

    seed = yaml.safe_load((Path(devslack.__file__).parent / "seed.yaml").read_text())
    seed["users"].append(
        {"id": GONE, "name": "gone", "display_name": "Gone", "real_name": "Gone", "deleted": True}
    )
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    return await start_devslack(clock=vclock, seed_path=str(path))


async def test_only_members_of_the_workspace_may_answer_without_approvers(
    workspace_with_a_leaver: DevSlack, vclock: VirtualClock
) -> None:
    approvers = Approvers(client_for(workspace_with_a_leaver), clock=vclock)
    for user in (GHOST, GONE):
        decision = await approvers.may_answer(user, request("input"), RUN, None)
        assert decision == Decision(False, NOT_MEMBER_REASON)
        assert (
            decision.text
            == "You may not answer this: only members of this workspace may answer it."
        )
    assert await allowed(approvers, DAVE, request("input"))


async def test_membership_is_cached_on_the_clock(
    approvers: Approvers, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    async def lookups() -> int:
        return (await slack_control_v.method_stats("users.info"))["calls"]

    for _ in range(3):
        assert await allowed(approvers, BOB, request("input"))
        assert not await allowed(approvers, GHOST, request("input"))
    assert await lookups() == 2  # one each
    vclock.advance(61)  # "not a member" is asked again after a minute (they may have joined)
    assert not await allowed(approvers, GHOST, request("input"))
    assert await allowed(approvers, BOB, request("input"))
    assert await lookups() == 3
    vclock.advance(240)  # "member" after five minutes (they may have left)
    assert await allowed(approvers, BOB, request("input"))
    assert await lookups() == 4


async def test_when_slack_cannot_say_only_a_recent_member_may_answer(
    approvers: Approvers, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    assert await allowed(approvers, BOB, request("input"))
    await slack_control_v.fault(method="users.info", status=503)
    unknown = await approvers.may_answer(CAROL, request("input"), RUN, None)
    assert unknown == Decision(False, UNAVAILABLE_REASON)  # "try again soon"
    vclock.advance(600)  # past the five minutes: Bob is asked about again, and Slack fails
    assert await allowed(approvers, BOB, request("input"))  # a member ten minutes ago
    vclock.advance(3600)
    refused = await approvers.may_answer(BOB, request("input"), RUN, None)
    assert refused == Decision(False, UNAVAILABLE_REASON)
