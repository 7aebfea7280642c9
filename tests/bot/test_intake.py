"""What arrives at the request URL: verified, parsed and read before Bolt sees it, refused with
the right status and a reason when Slack would never send it, keyed so repeats can be told."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest

from bot.deliveries import DELIVERY_KEY, Deliveries, delivery_key
from bot.intake import HttpIntake, Refused
from bot.liveness import Liveness
from bot.payloads import (
    CONTEXT_KEY,
    BadRequest,
    BlockActions,
    Event,
    EventCallback,
    HomeOpened,
    SlashCommand,
    ViewSubmission,
    read_payload,
)
from runtime.memory_store import MemoryStore
from tests.conftest import FakeClock

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
INTAKE = HttpIntake(SECRET)
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def signed(body: bytes, *, content_type: str = FORM, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def command(**fields: str) -> bytes:
    form = {
        "command": "/procedure",
        "user_id": "U0BOB0001",
        "channel_id": "C0GENERAL",
        "text": "run echo note=payload",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "response_url": "https://hooks.slack.com/commands/1/2/3",
        **fields,
    }
    return urllib.parse.urlencode(form).encode()


def click(**fields: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0BOB0001"},
        "trigger_id": "1.2.click",
        "channel": {"id": "C0GENERAL"},
        "actions": [{"action_id": "hitl:approve", "value": "deploy:1a2b3c4d:pos0"}],
        **fields,
    }


def interaction(payload: Any) -> bytes:
    return ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()


# --- HTTP: verified first, then parsed, then read -----------------------------------------------


def test_a_signed_command_is_admitted_with_its_payload_and_delivery_key() -> None:
    body = command()
    request = INTAKE.read(body, signed(body))
    payload = request.context[CONTEXT_KEY]
    assert isinstance(payload, SlashCommand)
    # Bolt's parser reads any form body containing "payload" as an interaction: repaired.
    assert payload.text == "run echo note=payload" and payload.user_id == "U0BOB0001"
    assert request.context[DELIVERY_KEY] == "trigger:13345224609.738474920.8088930838d88f008e0"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Slack-Request-Timestamp": None}, "Timestamp is missing or not a number"),
        ({"X-Slack-Request-Timestamp": "soon"}, "Timestamp is missing or not a number"),
        ({"X-Slack-Request-Timestamp": "-1"}, "Timestamp is missing or not a number"),
        ({"X-Slack-Signature": None}, "Signature is missing or not a v0 signature"),
        ({"X-Slack-Signature": "v0=é" + "0" * 63}, "Signature is missing or not a v0 signature"),
        ({"X-Slack-Signature": "v0=" + "0" * 64}, "does not verify"),
    ],
)
def test_requests_without_a_valid_signature_are_401(
    headers: dict[str, str | None], reason: str
) -> None:
    body = command()
    sent = {**signed(body), **headers}
    with pytest.raises(Refused) as refused:
        INTAKE.read(body, {k: v for k, v in sent.items() if v is not None})
    assert refused.value.status == 401 and reason in refused.value.reason


def test_a_signature_older_than_five_minutes_is_401() -> None:
    body = command()
    with pytest.raises(Refused) as refused:
        INTAKE.read(body, signed(body, at=time.time() - 301))
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"payload=\xff", FORM, "not UTF-8"),
        (b"  ", FORM, "empty"),
        (b'{"type": "event_callback",', JSON, "not a form or JSON payload"),
        (b"[1, 2]", JSON, "not a form or JSON payload"),
        (b"payload=%7Bnope", FORM, "not a form or JSON payload"),
        (interaction({"type": "block_actions", "authorizations": 5}), FORM, "not a form"),
        (b"hello", "text/plain", "unknown payload type"),
        (interaction({"type": "shortcut", "callback_id": "x"}), FORM, "unknown payload type"),
        (interaction(click(actions=[])), FORM, "block_actions: actions: List should have"),
        (interaction(click(user={"id": "bob"})), FORM, "block_actions: user.id: String should"),
        (command(user_id="U0BOB0001", trigger_id=""), FORM, "slash command: trigger_id"),
    ],
)
def test_signed_bodies_slack_would_not_send_are_400(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        INTAKE.read(body, signed(body, content_type=content_type))
    assert refused.value.status == 400 and reason in refused.value.reason, refused.value.reason


def test_bolt_internal_headers_are_not_taken_from_the_request() -> None:
    body = command()
    headers = {**signed(body), "X-Slack-Bolt-Lazy-Only": "1"}
    request = INTAKE.read(body, headers)
    assert not request.lazy_only


# --- payloads ---------------------------------------------------------------------------------


def test_payloads_are_read_into_what_the_listeners_use() -> None:
    actions = read_payload(click(container={"channel_id": "C0DEPLOYS"}, channel=None))
    assert isinstance(actions, BlockActions)
    assert actions.action.action_id == "hitl:approve" and actions.channel_id == "C0DEPLOYS"
    submission = read_payload(
        {
            "type": "view_submission",
            "user": {"id": "U0BOB0001"},
            "view": {"id": "V1", "type": "modal", "callback_id": "hitl_input", "state": {}},
        }
    )
    assert isinstance(submission, ViewSubmission) and submission.view.private_metadata == ""
    home = read_payload(
        {
            "type": "event_callback",
            "event_id": "Ev1",
            "event": {"type": "app_home_opened", "user": "U0BOB0001"},
        }
    )
    assert isinstance(home, EventCallback) and isinstance(home.event, HomeOpened)
    other = read_payload({"type": "event_callback", "event_id": "Ev2", "event": {"type": "x"}})
    assert type(other.event) is Event  # type: ignore[union-attr]  # not ours: Bolt says 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "event_callback", "event_id": "Ev1"}, "event_callback: event: Field required"),
        (
            {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_home_opened"}},
            "app_home_opened event: user: Field required",
        ),
        (click(state={"values": {"b": {"a": {"selected_options": ["x"]}}}}), "state.values"),
        ({"type": "view_submission", "user": {"id": "U1"}}, "view_submission: view"),
    ],
)
def test_payloads_missing_what_the_listeners_read_are_bad_requests(
    body: dict[str, Any], reason: str
) -> None:
    with pytest.raises(BadRequest, match=reason.replace(".", r"\.")):
        read_payload(body)


# --- delivery keys ----------------------------------------------------------------------------


def test_every_copy_of_a_request_shares_its_delivery_key() -> None:
    event = read_payload(
        {
            "type": "event_callback",
            "event_id": "Ev9",
            "event": {"type": "app_home_opened", "user": "U0BOB0001"},
        }
    )
    retry = {"x-slack-signature": ["v0=another"], "x-slack-retry-num": ["1"]}
    assert delivery_key(event, retry) == delivery_key(event, {}) == "event:Ev9"
    assert delivery_key(read_payload(click()), {}) == "trigger:1.2.click"
    submission = read_payload(
        {
            "type": "view_submission",
            "user": {"id": "U0BOB0001"},
            "view": {"id": "V1", "type": "modal", "callback_id": "c", "state": {}},
        }
    )
    assert delivery_key(submission, {"x-slack-signature": ["v0=ab"]}) == "signature:v0=ab"
    assert delivery_key(submission, {}) is None  # Socket Mode, no trigger id: nothing to share
    long_trigger = read_payload(click(trigger_id="t" * 255))
    assert len(delivery_key(long_trigger, {}) or "") <= 255


async def test_a_delivery_is_taken_on_once_and_forgotten_after_the_window(
    clock: FakeClock,
) -> None:
    store = MemoryStore()
    deliveries = Deliveries(store, Liveness(store), clock=clock, keep=timedelta(minutes=15))
    assert await deliveries.first("trigger:1")
    assert not await deliveries.first("trigger:1")
    clock.advance(14 * 60)
    await deliveries.forget_old()
    assert not await deliveries.first("trigger:1")  # a copy may still arrive: remembered
    clock.advance(2 * 60)
    await deliveries.forget_old()
    assert await deliveries.first("trigger:1")


async def test_work_taken_on_by_a_process_that_died_is_handed_to_one_other() -> None:
    store = MemoryStore()
    wall = [1000.0]
    dead, heir, rival = (Liveness(store, wall_clock=lambda: wall[0]) for _ in range(3))
    for process in (dead, heir, rival):
        process.beat()
    body = {"type": "block_actions", "trigger_id": "t1"}
    assert await Deliveries(store, dead).take_on("trigger:t1", body)
    heirs, rivals = Deliveries(store, heir), Deliveries(store, rival)
    assert await heirs.unfinished() == []  # its owner still beats: its work, not ours
    wall[0] += 60  # the owner falls silent; the other two go on beating
    heir.beat()
    rival.beat()
    assert await heirs.unfinished() == [("trigger:t1", body)]
    assert await rivals.unfinished() == []  # taken over by one process only
    assert await heirs.unfinished() == []  # in hand: not handed out twice
    await heirs.done("trigger:t1")
    assert store.unfinished_deliveries() == []
