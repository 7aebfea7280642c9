"""SlackIO against a real in-process devslack over HTTP: retries, pacing, posts that are
idempotent per run and key, message updates, the outbox, and what reaches people.

Everything runs on a virtual clock shared by devslack (rate-limit windows) and SlackIO
(pacing, Retry-After, backoff), so 429 storms and outages cost no wall time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from slack_sdk.errors import SlackApiError

from bot.liveness import Liveness
from bot.slack_io import (
    POST_PREFIX,
    Pacer,
    PostRef,
    SlackIO,
    SlackIOConfig,
    SlackPermanentError,
)
from devslack import DevSlack
from runtime.memory_store import MemoryStore
from runtime.protocols import RunStore
from tests.bot.conftest import (
    ALICE,
    DEPLOYS,
    GENERAL,
    SlackControl,
    VirtualClock,
    client_for,
)
from tests.support import wait_until

RUN = "run-1"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]

MakeIO = Callable[..., SlackIO]


@pytest.fixture
async def make_io(devslack_v: DevSlack, vclock: VirtualClock) -> AsyncIterator[MakeIO]:
    """SlackIO instances on the virtual clock, pointed at `devslack_v` (closed at teardown)."""
    made: list[SlackIO] = []

    def make(store: RunStore, devslack: DevSlack | None = None, **config: float) -> SlackIO:
        io = SlackIO(
            client_for(devslack or devslack_v),
            store,
            clock=vclock,
            sleep=vclock.sleep,
            wall_clock=vclock,
            config=SlackIOConfig(**config),
        )
        made.append(io)
        return io

    yield make
    for io in made:
        await io.close()


async def post(io: SlackIO, key: str, channel: str = DEPLOYS, **kwargs: object) -> PostRef | None:
    return await io.post(key, RUN, channel=channel, text=key, blocks=BLOCKS, **kwargs)


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


# --------------------------------------------------------------------------- basics


async def test_post_once_per_key(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    io = make_io(any_store)
    first = await post(io, "request:r1")
    again = await post(io, "request:r1")
    assert first is not None and again == first
    assert io.ref(RUN, "request:r1") == first
    messages = await slack_control_v.messages(DEPLOYS)
    assert texts(messages) == ["request:r1"]
    metadata = messages[0]["metadata"]
    assert metadata == {
        "event_type": "hitlbot_post",
        "event_payload": {"run_id": RUN, "key": "request:r1"},
    }
    assert (await slack_control_v.method_stats("chat.postMessage"))["calls"] == 1


async def test_concurrent_calls_with_one_key_post_once(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    refs = await asyncio.gather(*(post(io, "run:abc") for _ in range(5)))
    assert len(set(refs)) == 1 and refs[0] is not None
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["run:abc"]


async def test_two_processes_share_the_store(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    first = await post(make_io(any_store), "result:r1")
    assert await post(make_io(any_store), "result:r1") == first
    assert len(await slack_control_v.messages(DEPLOYS)) == 1


async def test_caller_metadata_keeps_the_key(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    meta = {"event_type": "hitl_request", "event_payload": {"request_id": "r9", "key": "x"}}
    await post(io, "request:r9", metadata=meta)
    (message,) = await slack_control_v.messages(DEPLOYS)
    assert message["metadata"] == {
        "event_type": "hitl_request",
        "event_payload": {"request_id": "r9", "run_id": RUN, "key": "request:r9"},
    }


async def test_thread_key_posts_into_the_parents_thread(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    parent = await post(io, "run:1")
    reply = await post(io, "request:1", thread_key="run:1")
    assert parent is not None and reply is not None
    thread = await slack_control_v.messages(DEPLOYS, thread_ts=parent.ts)
    assert texts(thread) == ["run:1", "request:1"]


# --------------------------------------------------------------------------- rate limits


async def test_429_storm_every_post_goes_out_once(
    make_io: MakeIO, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    await slack_control_v.fault(method="chat.postMessage", ratelimit={"retry_after": 1, "count": 6})
    io = make_io(MemoryStore())
    refs = [await post(io, f"event:{i}") for i in range(3)]
    assert all(ref is not None for ref in refs)
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["event:0", "event:1", "event:2"]
    stats = await slack_control_v.method_stats("chat.postMessage")
    assert stats == {"calls": 9, "ratelimited": 6, "errors": 6}
    assert vclock.slept >= 6  # Retry-After honoured (on virtual time)
    assert io.outbox_size() == 0


async def test_fan_out_of_50_posts_to_one_channel_is_paced_without_a_429(
    make_io: MakeIO, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    # 40 ms of real time per virtual second: paced posts one second apart must reach devslack
    # in order even on a loaded machine (at the default 10 ms two could share an instant).
    vclock.scale = 0.04
    io = make_io(MemoryStore())
    start = vclock()
    refs = await asyncio.gather(*(post(io, f"request:{i}") for i in range(50)))
    assert all(ref is not None for ref in refs) and len({r.ts for r in refs if r}) == 50
    assert len(await slack_control_v.messages(DEPLOYS)) == 50
    stats = await slack_control_v.method_stats("chat.postMessage")
    assert stats["ratelimited"] == 0 and stats["calls"] == 50
    assert vclock() - start >= 46  # ~1 per second after a burst of 3


async def test_unpaced_fan_out_does_trip_devslacks_limit(
    devslack_v: DevSlack, slack_control_v: SlackControl
) -> None:
    """The pacing test above means something: devslack really limits a channel."""
    client = client_for(devslack_v)
    results = await asyncio.gather(
        *(client.chat_postMessage(channel=DEPLOYS, text=str(i)) for i in range(8)),
        return_exceptions=True,
    )
    limited = [r for r in results if isinstance(r, SlackApiError)]
    assert limited and all(r.response.status_code == 429 for r in limited)


def test_pacer_allows_a_burst_then_one_per_second(vclock: VirtualClock) -> None:
    pacer = Pacer(1.0, 3, vclock, vclock.sleep)
    assert [pacer.reserve("C1") for _ in range(5)] == [0, 0, 0, 1.0, 2.0]
    assert pacer.reserve("C2") == 0  # per channel
    vclock.advance(10)
    assert pacer.reserve("C1") == 0
    unpaced = Pacer(0, 3, vclock, vclock.sleep)
    assert {unpaced.reserve("C1") for _ in range(10)} == {0}


def test_pacer_holds_a_key_for_slacks_retry_after_even_unpaced(vclock: VirtualClock) -> None:
    for pacer in (Pacer(50 / 60, 20, vclock, vclock.sleep), Pacer(0, 1, vclock, vclock.sleep)):
        assert pacer.try_reserve("chat.update")
        pacer.hold("chat.update", 7)
        assert not pacer.try_reserve("chat.update")
        assert pacer.reserve("chat.update") == 7
        assert pacer.try_reserve("other")
        vclock.advance(8)
        assert pacer.try_reserve("chat.update")


# --------------------------------------------------------------------------- outages


async def test_5xx_outage_then_recovery_delivers_in_order_exactly_once(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(any_store)
    assert [await post(io, f"event:{i}") for i in range(4)] == [None] * 4
    assert await post(io, "other", channel=GENERAL) is None
    assert io.outbox_size() == 5 and await slack_control_v.messages(DEPLOYS) == []

    await io.drain()  # still down: nothing lost, nothing sent
    assert io.outbox_size() == 5

    await slack_control_v.clear_faults()
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == [f"event:{i}" for i in range(4)]
    assert texts(await slack_control_v.messages(GENERAL)) == ["other"]
    assert io.outbox_size() == 0
    await io.drain()
    assert await post(io, "event:2") == io.ref(RUN, "event:2") is not None
    assert len(await slack_control_v.messages(DEPLOYS)) == 4


async def test_a_queued_post_goes_out_once_with_its_newest_content(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    """A run's message queued during an outage must not arrive showing a stale status."""
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(any_store)
    assert await io.post("run", RUN, channel=DEPLOYS, text="Waiting", blocks=BLOCKS) is None
    assert await io.post("run", RUN, channel=DEPLOYS, text="Completed", blocks=BLOCKS) is None
    await slack_control_v.clear_faults()
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["Completed"]
    assert io.outbox_size() == 0


async def test_new_posts_wait_behind_queued_ones_in_the_same_channel(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=500)
    io = make_io(MemoryStore())
    assert await post(io, "first") is None
    await slack_control_v.clear_faults()
    assert await post(io, "second") is None  # Slack is back, but order comes first
    assert await post(io, "elsewhere", channel=GENERAL) is not None
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["first", "second"]


async def test_outbox_task_delivers_when_slack_is_back(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(MemoryStore())
    task = asyncio.create_task(io.run_outbox())
    try:
        for i in range(3):
            assert await post(io, f"request:{i}") is None
        await asyncio.sleep(0.05)
        assert await slack_control_v.messages(DEPLOYS) == []
        await slack_control_v.clear_faults()

        async def delivered() -> bool:
            return len(await slack_control_v.messages(DEPLOYS)) >= 3

        await wait_until(delivered)
        await asyncio.sleep(0.05)  # a few more rounds: nothing doubles
        messages = texts(await slack_control_v.messages(DEPLOYS))
        assert messages == ["request:0", "request:1", "request:2"]
        assert io.outbox_size() == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_thread_reply_waits_for_its_queued_parent(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(MemoryStore())
    assert await post(io, "run:7") is None
    assert await post(io, "request:7", thread_key="run:7") is None
    await slack_control_v.clear_faults()
    await io.drain()
    parent = io.ref(RUN, "run:7")
    assert parent is not None
    assert texts(await slack_control_v.messages(DEPLOYS, thread_ts=parent.ts)) == [
        "run:7",
        "request:7",
    ]


async def test_dropped_connections_are_retried_then_queued(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", drop=True)
    io = make_io(MemoryStore())
    assert await post(io, "event:dropped") is None
    await slack_control_v.clear_faults()
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["event:dropped"]


async def test_flaky_connection_loses_and_doubles_nothing(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", drop=True, error_rate=0.5, seed=7)
    io = make_io(MemoryStore())
    for i in range(10):
        await post(io, f"event:{i}")
    await slack_control_v.clear_faults()
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == [f"event:{i}" for i in range(10)]
    assert (await slack_control_v.method_stats("chat.postMessage"))["errors"] > 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_then_slack_comes_back(
    start_devslack: Callable, vclock: VirtualClock, make_io: MakeIO
) -> None:
    devslack = await start_devslack(clock=vclock, port=_free_port())
    io = make_io(MemoryStore(), devslack)
    await devslack.stop()
    assert await post(io, "run:offline") is None
    await devslack.start()  # same port, same workspace
    await io.drain()
    messages = devslack.workspace.control_messages(devslack.workspace.channel(DEPLOYS), None)
    assert texts(messages) == ["run:offline"]


# --------------------------------------------------------------------------- crashes


async def _land_directly(devslack: DevSlack, key: str, run_id: str = RUN) -> str:
    """What a crashed process left in Slack: the post, with its run and key in the metadata."""
    response = await client_for(devslack).chat_postMessage(
        channel=DEPLOYS,
        text=key,
        metadata={"event_type": "hitlbot_post", "event_payload": {"run_id": run_id, "key": key}},
    )
    return response["ts"]


def _orphan_claim(store: RunStore, key: str, claimed_at: float, owner: str = "crashed") -> None:
    claim = {"channel": DEPLOYS, "ts": None, "owner": owner, "claimed_at": claimed_at}
    assert store.claim_annotation(RUN, POST_PREFIX + key, claim)


def _other_process(store: RunStore, vclock: VirtualClock) -> Liveness:
    """Another bot process on the same store, alive as long as it beats."""
    other = Liveness(store, wall_clock=vclock, interval=5, stale_after=15)
    other.beat()
    return other


async def test_stale_claim_and_message_in_slack_posts_nothing(
    make_io: MakeIO, any_store: RunStore, devslack_v: DevSlack, vclock: VirtualClock
) -> None:
    ts = await _land_directly(devslack_v, "request:r1")
    _orphan_claim(any_store, "request:r1", vclock() - 500)
    ref = await post(make_io(any_store), "request:r1")
    assert ref == PostRef(DEPLOYS, ts)
    assert any_store.get_annotation(RUN, POST_PREFIX + "request:r1")["ts"] == ts


async def test_fresh_claim_of_a_live_process_waits_its_lease_then_looks(
    make_io: MakeIO,
    any_store: RunStore,
    devslack_v: DevSlack,
    slack_control_v: SlackControl,
    vclock: VirtualClock,
) -> None:
    other = _other_process(any_store, vclock)
    _orphan_claim(any_store, "request:r2", vclock(), owner=other.owner)
    io = make_io(any_store, claim_lease=30)
    assert await post(io, "request:r2") is None  # maybe still being posted elsewhere
    await io.drain()
    assert await slack_control_v.messages(DEPLOYS) == []  # the lease is not over
    ts = await _land_directly(devslack_v, "request:r2")  # ...and it did land
    for _ in range(5):  # the other process keeps beating all along
        vclock.advance(5)
        other.beat()
        await io.drain()
    assert io.ref(RUN, "request:r2") is None  # 25 s: still its lease
    vclock.advance(6)
    await io.drain()
    assert io.ref(RUN, "request:r2") == PostRef(DEPLOYS, ts)
    assert len(await slack_control_v.messages(DEPLOYS)) == 1


async def test_claim_of_a_process_that_stops_beating_is_taken_over(
    make_io: MakeIO,
    any_store: RunStore,
    devslack_v: DevSlack,
    slack_control_v: SlackControl,
    vclock: VirtualClock,
) -> None:
    other = _other_process(any_store, vclock)
    _orphan_claim(any_store, "request:r5", vclock(), owner=other.owner)
    io = make_io(any_store, claim_lease=120)
    assert await post(io, "request:r5") is None  # alive: its claim is respected
    vclock.advance(14)
    await io.drain()
    assert await slack_control_v.messages(DEPLOYS) == []
    vclock.advance(2)  # 16 s without a heartbeat: it died, long before its lease is over
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["request:r5"]
    assert io.ref(RUN, "request:r5") is not None


async def test_claim_of_a_process_that_stopped_cleanly_is_taken_over_at_once(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    other = _other_process(any_store, vclock)
    _orphan_claim(any_store, "request:r6", vclock(), owner=other.owner)
    other.retire()
    io = make_io(any_store, claim_lease=120)
    assert await post(io, "request:r6") is not None
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["request:r6"]


async def test_stale_claim_without_a_message_posts_once(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    _orphan_claim(any_store, "request:r3", vclock() - 500)
    io = make_io(any_store)
    assert await post(io, "request:r3") is not None
    assert await post(io, "request:r3") == io.ref(RUN, "request:r3")
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["request:r3"]


class _DiesOnRecord:
    """A store whose process dies right after Slack accepted a post, before its ts is saved."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def set_annotation(self, run_id: str, key: str, value: object) -> None:
        if key.startswith(POST_PREFIX):
            raise SystemExit("killed")
        self._store.set_annotation(run_id, key, value)


async def test_crash_between_post_and_record_never_doubles(
    make_io: MakeIO,
    any_store: RunStore,
    slack_control_v: SlackControl,
    vclock: VirtualClock,
) -> None:
    crashed = make_io(_DiesOnRecord(any_store))  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        await post(crashed, "request:r4")
    (landed,) = await slack_control_v.messages(DEPLOYS)
    assert crashed.ref(RUN, "request:r4") is None  # claimed, in Slack, never recorded

    # The claim is fresh but its process beats no more: the restarted one looks in Slack at
    # once, finds what landed, and records it instead of posting again.
    restarted = make_io(any_store, claim_lease=30)
    assert await post(restarted, "request:r4") == PostRef(DEPLOYS, landed["ts"])
    assert restarted.ref(RUN, "request:r4") == PostRef(DEPLOYS, landed["ts"])
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["request:r4"]


async def test_an_update_of_a_reply_posted_but_never_recorded_finds_it_and_updates_it(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    """The bot died between posting a request and recording it; then the request was
    answered. Nobody posts an answered request again, so its update must find it."""
    parent = await post(make_io(any_store), "run")
    assert parent is not None
    crashed = make_io(_DiesOnRecord(any_store))  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        await post(crashed, "request:1", thread_key="run")

    restarted = make_io(any_store)
    await update(restarted, "request:1", "answered")
    await restarted.drain()
    thread = await slack_control_v.messages(DEPLOYS, thread_ts=parent.ts)
    assert texts(thread) == ["run", "answered"]
    assert restarted.ref(RUN, "request:1") == PostRef(DEPLOYS, thread[1]["ts"])
    assert (await slack_control_v.method_stats("chat.postMessage"))["calls"] == 2
    assert restarted.outbox_size() == 0


async def test_an_update_of_a_post_that_never_landed_is_dropped(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    _orphan_claim(any_store, "request:2", vclock() - 500)  # its process died before posting
    io = make_io(any_store)
    await update(io, "request:2", "answered")
    await io.drain()
    assert io.outbox_size() == 0 and await slack_control_v.messages(DEPLOYS) == []
    assert (await slack_control_v.method_stats("chat.update"))["calls"] == 0


# --------------------------------------------------------------------------- permanent errors


async def test_permanent_error_is_raised_logged_once_and_not_queued(
    make_io: MakeIO,
    any_store: RunStore,
    devslack_v: DevSlack,
    slack_control_v: SlackControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = make_io(any_store)
    with (
        caplog.at_level(logging.ERROR, logger="hitlbot.slack"),
        pytest.raises(SlackPermanentError) as raised,
    ):
        await post(io, "request:bad", channel="C0NOSUCH")
    assert raised.value.error == "channel_not_found"
    assert io.outbox_size() == 0 and io.ref(RUN, "request:bad") is None
    assert any_store.get_annotation(RUN, POST_PREFIX + "request:bad") is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "channel_not_found" in lines[0]
    assert devslack_v.env["SLACK_BOT_TOKEN"] not in caplog.text
    assert (await slack_control_v.method_stats("chat.postMessage"))["calls"] == 1


async def test_invalid_blocks_carry_slacks_detail(make_io: MakeIO) -> None:
    io = make_io(MemoryStore())
    with pytest.raises(SlackPermanentError) as raised:
        await io.post("k", RUN, channel=DEPLOYS, text="x", blocks=[{"type": "section"}])
    assert raised.value.error == "invalid_blocks"
    assert raised.value.detail and "json-pointer:/blocks/0" in raised.value.detail[0]
    # the key is free again: a corrected post goes out
    assert await io.post("k", RUN, channel=DEPLOYS, text="x", blocks=BLOCKS) is not None


async def test_permanent_error_in_the_outbox_drops_that_post_only(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(MemoryStore())
    await io.post("bad", RUN, channel=DEPLOYS, text="x", blocks=[{"type": "section"}])
    await post(io, "good")
    await slack_control_v.clear_faults()
    await io.drain()
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["good"]
    assert io.outbox_size() == 0 and io.ref(RUN, "bad") is None


# --------------------------------------------------------------------------- two runs, one key


async def test_an_orphaned_claim_takes_its_own_message_never_another_runs(
    make_io: MakeIO, any_store: RunStore, devslack_v: DevSlack, vclock: VirtualClock
) -> None:
    """Every run's own message has the post key "run": a crash between claim and record must
    not make one run adopt another's."""
    io = make_io(any_store)
    ours = await _land_directly(devslack_v, "run")  # landed, then the process died
    _orphan_claim(any_store, "run", vclock() - 30)
    theirs = await io.post("run", "run-2", channel=DEPLOYS, text="run-2", blocks=BLOCKS)
    assert theirs is not None  # newer in the channel than ours
    assert await post(io, "run") == PostRef(DEPLOYS, ours)
    assert io.ref("run-2", "run") == theirs


async def test_an_orphaned_claim_whose_post_never_landed_posts_its_own(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    io = make_io(any_store)
    theirs = await io.post("run", "run-2", channel=DEPLOYS, text="run-2", blocks=BLOCKS)
    _orphan_claim(any_store, "run", vclock() - 30)  # claimed, died before posting
    ours = await post(io, "run")
    assert ours is not None and ours != theirs
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["run-2", "run"]


async def test_a_message_without_our_run_id_and_key_is_never_taken_for_a_post(
    make_io: MakeIO, any_store: RunStore, devslack_v: DevSlack, vclock: VirtualClock
) -> None:
    client = client_for(devslack_v)
    await client.chat_postMessage(channel=DEPLOYS, text="plain")
    await client.chat_postMessage(
        channel=DEPLOYS, text="other app", metadata={"event_type": "x", "event_payload": {}}
    )
    await client.chat_postMessage(  # the key alone, as every run's own message has it
        channel=DEPLOYS,
        text="key only",
        metadata={"event_type": "hitlbot_post", "event_payload": {"key": "run"}},
    )
    _orphan_claim(any_store, "run", vclock() - 30)
    ours = await post(make_io(any_store), "run")
    assert ours is not None
    landed = await client.conversations_history(channel=DEPLOYS)
    assert [m["text"] for m in landed["messages"]] == ["run", "key only", "other app", "plain"]


async def test_two_runs_whose_records_were_lost_each_recover_their_own_message(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    io = make_io(any_store)
    first = await io.post("run", "run-a", channel=DEPLOYS, text="a", blocks=BLOCKS)
    second = await io.post("run", "run-b", channel=DEPLOYS, text="b", blocks=BLOCKS)
    assert first is not None and second is not None
    for run_id in ("run-a", "run-b"):  # both records lost: the claims remain, orphaned
        lost = {"channel": DEPLOYS, "ts": None, "owner": "crashed", "claimed_at": vclock() - 30}
        any_store.set_annotation(run_id, POST_PREFIX + "run", lost)

    restarted = make_io(any_store)
    assert await restarted.post("run", "run-a", channel=DEPLOYS, text="a", blocks=BLOCKS) == first
    assert await restarted.post("run", "run-b", channel=DEPLOYS, text="b", blocks=BLOCKS) == second
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["a", "b"]


# --------------------------------------------------------------------------- updates


async def update(io: SlackIO, key: str, text: str, run_id: str = RUN) -> None:
    await io.update(run_id, key, text=text, blocks=BLOCKS)


async def accepted(control: SlackControl, method: str = "chat.update") -> int:
    """How many calls of `method` Slack accepted (a 429 counts as an error too)."""
    stats = await control.method_stats(method)
    return stats["calls"] - stats["errors"]


async def test_update_is_queued_while_down_and_latest_content_wins(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    assert await post(io, "run:9") is not None
    await slack_control_v.fault(method="chat.update", status=503)
    await update(io, "run:9", "waiting")
    await update(io, "run:9", "done")
    assert io.outbox_size() == 1
    await slack_control_v.clear_faults()
    await io.drain()
    (message,) = await slack_control_v.messages(DEPLOYS)
    assert message["text"] == "done" and io.outbox_size() == 0
    assert await accepted(slack_control_v) == 1  # asked once, for the newest


async def test_updates_under_a_429_storm_all_arrive_newest_and_once(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    io = make_io(any_store)
    for i in range(6):
        assert await post(io, f"request:{i}") is not None
    await slack_control_v.fault(method="chat.update", ratelimit={"retry_after": 3, "count": 20})
    for version in range(3):
        for i in range(6):
            await update(io, f"request:{i}", f"v{version} of {i}")
    assert await accepted(slack_control_v) == 0  # nothing got through yet, nothing was lost
    assert io.outbox_size() == 6  # one entry per message: the newest content

    await io.drain()
    messages = await slack_control_v.messages(DEPLOYS)
    assert texts(messages) == [f"v2 of {i}" for i in range(6)]
    stats = await slack_control_v.method_stats("chat.update")
    assert stats["ratelimited"] == 20 and await accepted(slack_control_v) == 6
    assert vclock.slept >= 20 * 3  # every 429's Retry-After waited out, none hammered
    assert io.outbox_size() == 0


async def test_a_429_is_waited_out_even_with_update_pacing_off(
    make_io: MakeIO, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    io = make_io(MemoryStore(), updates_per_minute=0)
    assert await post(io, "request:1") is not None
    await slack_control_v.fault(method="chat.update", ratelimit={"retry_after": 3, "count": 5})
    await update(io, "request:1", "answered")
    await io.drain()
    assert (await slack_control_v.method_stats("chat.update"))["calls"] == 6
    assert vclock.slept >= 5 * 3
    assert texts(await slack_control_v.messages(DEPLOYS)) == ["answered"]


async def test_updates_under_the_tier_3_limit_are_paced_not_refused(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    io = make_io(any_store, pace_per_second=0)
    for i in range(60):
        assert await post(io, f"request:{i}", channel=[DEPLOYS, GENERAL][i % 2]) is not None
    for i in range(60):
        await update(io, f"request:{i}", f"answered {i}")
    await io.drain()
    stats = await slack_control_v.method_stats("chat.update")
    assert await accepted(slack_control_v) == 60 and stats["ratelimited"] == 0
    both = await slack_control_v.messages(DEPLOYS) + await slack_control_v.messages(GENERAL)
    assert sorted(texts(both)) == sorted(f"answered {i}" for i in range(60))


async def test_updates_queued_before_a_restart_go_out_after_it(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl, vclock: VirtualClock
) -> None:
    crashed = make_io(any_store)
    assert await post(crashed, "run") is not None
    assert await post(crashed, "request:1", thread_key="run") is not None
    await slack_control_v.fault(method="chat.update", ratelimit={"retry_after": 30, "count": 99})
    waited = vclock.slept
    await update(crashed, "request:1", "answered")
    await update(crashed, "run", "completed")
    # Stored before returning, without waiting for Slack: a crash from here on loses nothing.
    assert vclock.slept == waited and crashed.outbox_size() == 2
    # The process dies here, its updates refused so far; Slack recovers meanwhile.
    await slack_control_v.clear_faults()

    restarted = make_io(any_store)
    await restarted.drain()
    parent = restarted.ref(RUN, "run")
    assert parent is not None
    assert texts(await slack_control_v.messages(DEPLOYS, parent.ts)) == ["completed", "answered"]
    assert restarted.outbox_size() == 0


async def test_an_update_waits_for_its_queued_post_which_goes_out_newest(
    make_io: MakeIO, any_store: RunStore, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postMessage", status=503)
    io = make_io(any_store)
    assert await post(io, "run:7") is None
    assert await post(io, "request:7", thread_key="run:7") is None
    await update(io, "request:7", "answered")
    await update(io, "run:7", "completed")
    await io.drain()  # the posts cannot go yet, so neither can their updates
    assert (await slack_control_v.method_stats("chat.update"))["calls"] == 0

    await slack_control_v.clear_faults()
    await io.drain()
    parent = io.ref(RUN, "run:7")
    assert parent is not None
    thread = await slack_control_v.messages(DEPLOYS, thread_ts=parent.ts)
    assert texts(thread) == ["completed", "answered"]
    assert (await slack_control_v.method_stats("chat.update"))["calls"] == 0  # posted newest
    assert io.outbox_size() == 0


async def test_an_update_waits_for_a_post_another_process_is_making(
    make_io: MakeIO,
    any_store: RunStore,
    devslack_v: DevSlack,
    slack_control_v: SlackControl,
    vclock: VirtualClock,
) -> None:
    other = _other_process(any_store, vclock)
    _orphan_claim(any_store, "request:8", vclock(), owner=other.owner)
    io = make_io(any_store)
    await update(io, "request:8", "answered")
    await io.drain()
    assert io.outbox_size() == 1  # never before its post

    ts = await _land_directly(devslack_v, "request:8")  # the other process posts it...
    any_store.set_annotation(RUN, POST_PREFIX + "request:8", {"channel": DEPLOYS, "ts": ts})
    await io.drain()  # ...and the update follows
    (message,) = await slack_control_v.messages(DEPLOYS)
    assert message["text"] == "answered" and io.outbox_size() == 0


async def test_an_update_backlog_goes_out_once_slack_takes_updates_again(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    """After an outage the backlog does not sit out the outbox's (long) back-off: the first
    update that goes through shows that Slack is back."""
    io = make_io(MemoryStore(), outbox_backoff=3600, outbox_backoff_max=3600)
    assert await post(io, "request:1") is not None
    assert await post(io, "request:2") is not None
    await slack_control_v.fault(method="chat.update", status=503)
    task = asyncio.create_task(io.run_outbox())
    try:
        await update(io, "request:1", "answered 1")

        async def failed_in_the_outbox() -> bool:
            return (await slack_control_v.method_stats("chat.update"))["errors"] >= 4

        await wait_until(failed_in_the_outbox)  # now backing off for an hour (virtual)
        await slack_control_v.clear_faults()
        await update(io, "request:2", "answered 2")

        async def both_shown() -> bool:
            shown = texts(await slack_control_v.messages(DEPLOYS))
            return shown == ["answered 1", "answered 2"]

        await wait_until(both_shown, timeout=5)  # an hour of back-off is 36 s of real time
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_update_of_a_deleted_message_is_logged_and_dropped(
    make_io: MakeIO, devslack_v: DevSlack, caplog: pytest.LogCaptureFixture
) -> None:
    io = make_io(MemoryStore())
    ref = await post(io, "request:gone")
    assert ref is not None
    await client_for(devslack_v).chat_delete(channel=ref.channel, ts=ref.ts)
    with caplog.at_level(logging.ERROR, logger="hitlbot.slack"):
        await update(io, "request:gone", "answered")
    assert "message_not_found" in caplog.text and io.outbox_size() == 0


async def test_update_of_a_message_never_posted_changes_nothing(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    await update(io, "request:never", "answered")
    await io.drain()
    assert io.outbox_size() == 0
    assert (await slack_control_v.method_stats("chat.update"))["calls"] == 0


# --------------------------------------------------------------------------- other calls


async def test_control_and_bidi_characters_never_reach_slack(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    io = make_io(MemoryStore())
    unsafe, shown = "ship\x00prod \u202eexe.gnp", "ship\ufffdprod \ufffdexe.gnp"

    def blocks(text: str) -> list[dict]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]

    parent = await io.post("run", RUN, channel=DEPLOYS, text=unsafe, blocks=blocks(unsafe))
    assert parent is not None
    await io.post("request:1", RUN, channel=DEPLOYS, text="ask", blocks=BLOCKS, thread_key="run")
    await io.update(RUN, "request:1", text=unsafe, blocks=blocks(unsafe))  # goes at once
    await io.ephemeral(DEPLOYS, ALICE, unsafe, blocks(unsafe))
    await io.direct_message(ALICE, unsafe, blocks(unsafe))
    await io.publish_home(ALICE, {"type": "home", "blocks": blocks(unsafe)})
    home = (await slack_control_v.get("home", user=ALICE))["view"]
    await io.update_view(home["id"], {"type": "home", "blocks": blocks(f"again {unsafe}")})

    seen = [
        *await slack_control_v.messages(DEPLOYS, thread_ts=parent.ts),
        *await slack_control_v.ephemeral(ALICE),
        *await slack_control_v.messages("D0ALICE01"),
    ]
    assert [m["text"] for m in seen] == [shown] * 4
    assert [m["blocks"][0]["text"]["text"] for m in seen] == [shown] * 4
    home = (await slack_control_v.get("home", user=ALICE))["view"]
    assert home["blocks"][0]["text"]["text"] == f"again {shown}"
    assert io.outbox_size() == 0


async def test_ephemeral_home_and_views(make_io: MakeIO, slack_control_v: SlackControl) -> None:
    io = make_io(MemoryStore())
    await io.ephemeral(DEPLOYS, ALICE, "only you")
    assert [m["text"] for m in await slack_control_v.ephemeral(ALICE)] == ["only you"]
    home = {"type": "home", "blocks": BLOCKS}
    await io.publish_home(ALICE, home)
    assert (await slack_control_v.get("home", user=ALICE))["view"] is not None
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": BLOCKS}
    assert await io.open_view("not-a-trigger", modal) is None  # invalid_trigger_id


async def test_ephemeral_is_dropped_not_raised_when_slack_is_down(
    make_io: MakeIO, slack_control_v: SlackControl
) -> None:
    await slack_control_v.fault(method="chat.postEphemeral", status=503)
    await make_io(MemoryStore()).ephemeral(DEPLOYS, ALICE, "lost")
    assert await slack_control_v.ephemeral(ALICE) == []
