"""Soak: crash the bot again and again while people start runs and click, then count the damage.

Run with `python bench/soak.py [--runs 50] [--kills 10] [--seconds 200] [--seed N]
[--channels K] [--settle 300] [--quick] [--keep DIR]` (`make soak`).

Starts `python -m devslack` with Slack's rate limits on (the point: a bot that posts too fast
or retries badly shows it here) and the bot in HTTP mode (`python -m bot.cli serve`, with
HITLBOT_HEARTBEAT_SECONDS=1 so that a killed bot's work is taken over within seconds) as
separate processes on free ports, with a SQLite database and one procedure in a temporary
directory. The procedure asks an approval, posts a notification, asks a second approval and
returns both answers; its number `n` is in every message, so each post can be told apart.

While `--seconds` pass:
- alice starts `--runs` runs (`/procedure run soak n=<n>` through devslack's control API) in
  `--channels` channels, in bursts of one to eight commands at once, in the first half of the
  time; a command whose delivery failed because the bot was down is sent again once the bot
  is back, unless its run exists;
- bob clicks each request as it appears (followed on devslack's live event stream, with a
  sweep of every thread every few seconds as a backstop), after a human pause: Approve on the
  first, Reject on the second, sometimes twice in a row (a double click); a click whose
  delivery failed is clicked again once the bot is back;
- the bot gets `--kills` SIGKILLs at seeded moments and is restarted at once: a third within
  a second of a burst of commands, a third within 15 ms of a click being sent (as the bot
  takes it, acks it and records the answer), the rest anywhere.

Then it waits until every run has ended and the bot has nothing queued for Slack, or nothing
has moved for a minute, or `--settle` seconds (whichever comes first), and judges the final
state of devslack (control API: messages, threads, stats) and of the bot's database
(`adapters.sql.SqlStore`: runs, requests, events, where it recorded each run's message); see
bench/soak_audit.py for the exact rules:
1. runs completed (goal: every run planned);
2. answers lost: a click the bot acknowledged whose answer is not recorded, or a run left
   waiting on a request that has its answer;
3. answers doubled: an answer recorded where nobody clicked, or not the one clicked, a request
   asked twice in one run, a result that is not what was clicked;
4. posts doubled: a run's message, a request, the notification or the result posted twice;
5. runs sharing a message: a thread holding posts of two runs, or two runs whose recorded
   message is the same;
6. answered requests still showing their buttons;
7. posts missing or outside their run's thread;
and the chat.postMessage and chat.update calls devslack counted, with how many got a 429.

Prints one markdown table (measure, value, goal, met?) and the raw numbers; exits 0 when
every goal is met, 1 when one is not, 2 when the stack did not start (with one line saying
why). The processes are killed at the end, also on error or Ctrl-C. The seed fixes the plan
(bursts, channels, kill moments); what the system does at those moments varies from run to
run, as timing does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import aiohttp
    from soak_audit import (
        ACKED,
        CLICKED,
        NOT_SENT,
        PROCEDURE_ID,
        REQUEST_REF,
        REQUEST_TEXT,
        Click,
        Command,
        Findings,
        Message,
        Records,
        audit,
        goal_rows,
        has_answer_buttons,
    )
    from soak_stack import STARTUP_TIMEOUT, ControlAPI, Database, Stack, StackError, channel_ids

    from runtime.models import RunStatus
except ImportError as exc:  # run with the project's environment, not a bare Python
    sys.exit(f"soak: {exc}; run it with the project's Python: .venv/bin/python bench/soak.py")

STARTER = "alice"
CLICKER = "bob"
CALL_TIMEOUT = 30.0  # seconds per control API call (a delivery waits at most 3 s + 10 s)
ATTEMPTS = 10  # sends of one command or one click before giving up on it
BURSTS = (1, 1, 1, 2, 3, 5, 8)  # commands sent at once, drawn for each burst
STARTS_WITHIN = 0.5  # runs start in this share of --seconds
PAUSE = (0.3, 3.0)  # seconds a person takes to click a request that appeared
DOUBLE_CLICK = 0.1  # chance that a click is a double click
SWEEP_EVERY = 10.0  # seconds between sweeps of every thread for requests to click
DONE_QUIET = 3.0  # seconds without a Slack call before a finished soak is read
STUCK_QUIET = 60.0  # seconds without any change before a soak is read unfinished
CLICK_WINDOW = 0.015  # a click kill falls this many seconds or less after a click is sent
CLICK_WAIT = 5.0  # seconds a click kill waits for a click before it kills anyway
WORKER_GRACE = 5.0  # seconds a killed bot's worker processes get to exit on their own


def say(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Burst:
    at: float  # seconds after the start
    channel: str
    runs: tuple[int, ...]  # the n of each run started


@dataclass(frozen=True)
class Kill:
    at: float
    kind: str  # burst (just after one), click (just after one is sent), random


@dataclass(frozen=True)
class Plan:
    bursts: list[Burst]
    kills: list[Kill]


def make_plan(runs: int, kills: int, seconds: float, channels: list[str], seed: int) -> Plan:
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < runs:
        sizes.append(min(rng.choice(BURSTS), runs - sum(sizes)))
    times = sorted(rng.uniform(0, seconds * STARTS_WITHIN) for _ in sizes)
    bursts, n = [], 0
    for at, size in zip(times, sizes, strict=True):
        bursts.append(Burst(at, rng.choice(channels), tuple(range(n, n + size))))
        n += size
    kinds = [("burst", "click", "random")[i % 3] for i in range(kills)]
    rng.shuffle(kinds)
    planned = []
    for kind in kinds:
        if kind == "burst" and bursts:
            at = rng.choice(bursts).at + rng.uniform(0.05, 1.0)
        else:
            at = rng.uniform(1.0, seconds)
        planned.append(Kill(min(at, seconds), kind))
    return Plan(bursts, sorted(planned, key=lambda kill: kill.at))


# --------------------------------------------------------------------------- people


@dataclass
class People:
    """alice starts runs, bob clicks requests; both try again when the bot was down."""

    api: ControlAPI
    stack: Stack
    db: Database
    rng: random.Random
    commands: list[Command] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    double_clicks: int = 0
    click_sent: asyncio.Event = field(default_factory=asyncio.Event)
    last_clicked: str | None = None  # the request of the click sent last
    _answering: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def start_runs(self, bursts: list[Burst], began: float) -> None:
        starts = []
        for burst in bursts:
            await asyncio.sleep(max(0.0, began + burst.at - time.monotonic()))
            starts += [asyncio.create_task(self.start_run(n, burst.channel)) for n in burst.runs]
        await asyncio.gather(*starts)

    async def start_run(self, n: int, channel: str) -> None:
        """`/procedure run soak n=<n>`, sent again after a failed delivery (once the bot is
        back) unless the run was created after all."""
        body = {"user": STARTER, "channel": channel, "command": "/procedure"}
        for _ in range(ATTEMPTS):
            _, result = await self.api.post("command", {**body, "text": f"run soak n={n}"})
            verdict = str(result.get("verdict") or result.get("error"))
            self.commands.append(Command(n, verdict))
            if verdict in ACKED:
                return
            await self.stack.wait_ready()
            if n in await self.db.run_numbers():
                return

    def saw(self, channel: str, message: dict[str, Any]) -> None:
        """A message appeared or changed: answer it if it is a request nobody answered yet."""
        if not has_answer_buttons(message.get("blocks") or []):
            return
        text = str(message.get("text") or "") + json.dumps(message.get("blocks"))
        ref, stage = REQUEST_REF.search(text), REQUEST_TEXT.search(text)
        if ref is None or stage is None:
            return
        request_id = f"{PROCEDURE_ID}:{ref.group(1)}"
        if request_id not in self._answering:
            answer = self.answer(request_id, CLICKED[stage.group(2)], channel, str(message["ts"]))
            self._answering[request_id] = asyncio.create_task(answer)

    async def answer(self, request_id: str, label: str, channel: str, ts: str) -> None:
        """bob clicks `label` after a pause; again (once the bot is back) when the delivery
        failed. Sometimes he double-clicks."""
        await asyncio.sleep(self.rng.uniform(*PAUSE))
        body = {"user": CLICKER, "channel": channel, "ts": ts, "text": label}
        for _ in range(ATTEMPTS):
            times = 2 if self.rng.random() < DOUBLE_CLICK else 1
            self.double_clicks += times - 1
            verdicts = await asyncio.gather(
                *(self.click(request_id, label, body) for _ in range(times))
            )
            if any(verdict in (*ACKED, NOT_SENT) for verdict in verdicts):
                return
            await self.stack.wait_ready()
            await asyncio.sleep(self.rng.uniform(*PAUSE) / 3)

    async def click(self, request_id: str, label: str, body: dict[str, Any]) -> str:
        self.last_clicked = request_id
        self.click_sent.set()
        status, result = await self.api.post("click", body)
        verdict = str(result.get("verdict") or result.get("error"))
        if 400 <= status < 500:  # the button (or its message) is gone: nothing was sent
            verdict = NOT_SENT
        self.clicks.append(Click(request_id, label, verdict))
        return verdict

    async def next_click(self, timeout: float) -> str | None:
        """The request of the next click sent within `timeout` seconds, if one is."""
        self.click_sent.clear()
        try:
            await asyncio.wait_for(self.click_sent.wait(), timeout)
        except TimeoutError:
            return None
        return self.last_clicked

    async def sweep(self) -> None:
        """Every few seconds, look at every thread for requests the live stream missed."""
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, RuntimeError):
                for channel, message in await self.api.messages(self.stack.channels):
                    self.saw(channel, message)

    def stop(self) -> None:
        for task in self._answering.values():
            task.cancel()


# --------------------------------------------------------------------------- crashes


@dataclass(frozen=True)
class Crash:
    at: float  # seconds after the start
    kind: str
    wall: float  # time.time() of the kill, to compare with when answers were recorded
    clicked: str | None = None  # a click kill: the request whose click was just sent


async def crash_bot(stack: Stack, people: People, plan: Plan, began: float) -> list[Crash]:
    """SIGKILL the bot at the planned moments (each time it is serving) and restart it."""
    rng = random.Random(len(plan.kills))
    done = []
    for kill in plan.kills:
        await asyncio.sleep(max(0.0, began + kill.at - time.monotonic()))
        await stack.wait_ready()
        clicked, kind = None, kill.kind
        if kill.kind == "click":  # kill as the bot takes, acks and records a click
            clicked = await people.next_click(CLICK_WAIT)
            if clicked is None:
                kind = "click, but none came"
            await asyncio.sleep(rng.uniform(0, CLICK_WINDOW))
        stack.crash_bot()
        done.append(Crash(time.monotonic() - began, kind, time.time(), clicked))
        say(f"killed the bot at {done[-1].at:.1f} s ({kind})")
    await stack.wait_ready()
    return done


# --------------------------------------------------------------------------- settling


async def settle(api: ControlAPI, db: Database, stack: Stack, timeout: float) -> str:
    """Wait until every run has ended and the bot has nothing left to do for Slack, or
    nothing has moved for STUCK_QUIET seconds, or `timeout`; say which."""
    began = time.monotonic()
    last: Any = None
    changed = quiet_since = began
    calls = -1
    while time.monotonic() - began < timeout:
        await asyncio.sleep(1)
        await stack.wait_ready()
        statuses, answered, queued, unsynced = await db.progress()
        methods = (await api.stats(deliveries=False)).get("methods") or {}
        total = sum(int(m.get("calls") or 0) for m in methods.values())
        now = time.monotonic()
        if total != calls:
            calls, quiet_since = total, now
        state = (statuses, answered, queued, unsynced, total)
        if state != last:
            last, changed = state, now
        running = sum(statuses[s.value] for s in RunStatus if not s.is_final)
        if not running and not queued and not unsynced and now - quiet_since >= DONE_QUIET:
            return f"every run ended and nothing waited for Slack after {now - began:.0f} s"
        if now - changed >= STUCK_QUIET:
            return f"nothing moved for {STUCK_QUIET:.0f} s ({running} runs not ended)"
    return f"--settle deadline ({timeout:.0f} s) reached"


def click_kill_outcomes(crashes: list[Crash], records: Records) -> Counter[str]:
    """When the answer of the click each click kill fell on was recorded: before the kill,
    after it (the click was sent again, or the bot recovered it), or never."""
    requests = {request.request_id: request for request in records.requests}
    outcomes: Counter[str] = Counter()
    for crash in crashes:
        request = requests.get(crash.clicked or "")
        if crash.clicked is None:
            continue
        if request is None or request.response is None:
            outcomes["never recorded"] += 1
        elif request.response.responded_at.timestamp() <= crash.wall:
            outcomes["recorded before the kill"] += 1
        else:
            outcomes["recorded after the kill"] += 1
    return outcomes


# --------------------------------------------------------------------------- one soak


@dataclass
class Soak:
    """Everything a soak observed, for the report."""

    args: argparse.Namespace
    findings: Findings
    stats: dict[str, Any]
    crashes: list[Crash]
    restarts: list[float]
    commands: list[Command]
    clicks: list[Click]
    double_clicks: int
    ended: str
    surviving_workers: list[int]
    click_kills: Counter[str]  # when the answer of the click a kill followed was recorded
    seconds: dict[str, float]  # phase -> seconds


async def soak(args: argparse.Namespace, stack: Stack) -> Soak:
    channels = stack.channels
    plan = make_plan(args.runs, args.kills, args.seconds, channels, args.seed)
    say(f"starting devslack and the bot in {stack.tmp}")
    setup = time.monotonic()
    await stack.start()
    db = Database(stack.db_url)
    timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        api = ControlAPI(http, stack.slack_url)
        people = People(api, stack, db, random.Random(args.seed + 1))
        background = [
            asyncio.create_task(api.follow(people.saw)),
            asyncio.create_task(people.sweep()),
        ]
        try:
            began = time.monotonic()
            say(
                f"{args.runs} runs in {len(plan.bursts)} bursts, {args.kills} kills, "
                f"{args.seconds:g} s"
            )
            starts = asyncio.create_task(people.start_runs(plan.bursts, began))
            background.append(starts)
            crashes = await crash_bot(stack, people, plan, began)
            await asyncio.sleep(max(0.0, began + args.seconds - time.monotonic()))
            await starts
            soaked = time.monotonic()
            say("waiting for the runs to end")
            ended = await settle(api, db, stack, args.settle)
            say(ended)
            settled = time.monotonic()
            messages = [Message.from_control(c, m) for c, m in await api.messages(channels)]
            records = await db.records()
            stats = await api.stats()
        finally:
            people.stop()
            for task in background:
                task.cancel()
            db.close()
    await asyncio.sleep(WORKER_GRACE if stack.orphans else 0)
    findings = audit(args.runs, messages, records, people.commands, people.clicks)
    return Soak(
        args=args,
        findings=findings,
        stats=stats,
        crashes=crashes,
        restarts=stack.restarts,
        commands=people.commands,
        clicks=people.clicks,
        double_clicks=people.double_clicks,
        ended=ended,
        surviving_workers=stack.surviving_workers(),
        click_kills=click_kill_outcomes(crashes, records),
        seconds={
            "start-up": began - setup,
            "soak": soaked - began,
            "settle": settled - soaked,
        },
    )


# --------------------------------------------------------------------------- report


def method_cell(stats: dict[str, Any], method: str) -> str:
    counts = (stats.get("methods") or {}).get(method) or {}
    return f"{counts.get('calls', 0)} calls, {counts.get('ratelimited', 0)} got 429"


def table(result: Soak) -> tuple[list[tuple[str, str, str, str]], bool]:
    rows = [("measure", "value", "goal", "met?")]
    met = True
    for number, (name, value, goal, ok) in enumerate(goal_rows(result.findings), 1):
        rows.append((f"{number}. {name}", value, goal, "yes" if ok else "**no**"))
        met = met and ok
    for method in ("chat.postMessage", "chat.update"):
        rows.append((f"{method} calls", method_cell(result.stats, method), "—", "—"))
    return rows, met


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [rows[0], tuple("-" * w for w in widths), *rows[1:]]
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def counted(items: list[Any], attribute: str) -> str:
    counts = Counter(getattr(item, attribute) for item in items)
    return ", ".join(f"{key} {count}" for key, count in sorted(counts.items())) or "none"


def examples(name: str, offenders: list[str], limit: int = 8) -> Iterator[str]:
    if offenders:
        yield f"  {name} ({len(offenders)}):"
        yield from (f"    {line}" for line in offenders[:limit])
        if len(offenders) > limit:
            yield f"    ... and {len(offenders) - limit} more"


def raw_lines(result: Soak) -> Iterator[str]:
    args, findings = result.args, result.findings
    yield "Raw numbers"
    yield (
        f"  soak: {args.runs} runs, {args.kills} kills over {args.seconds:g} s, "
        f"{args.channels} channels, seed {args.seed}; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the end"
    )
    phases = ", ".join(f"{name} {secs:.0f} s" for name, secs in result.seconds.items())
    yield f"  time: {phases}; the wait ended because {result.ended}"
    crashes = ", ".join(f"{c.at:.1f} s ({c.kind})" for c in result.crashes)
    yield f"  kills: {crashes or 'none'}"
    if result.click_kills:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.click_kills.items()))
        yield f"  kills within {CLICK_WINDOW * 1000:.0f} ms of a click, its answer: {outcomes}"
    if result.restarts:
        yield (
            f"  restart to ready: median {statistics.median(result.restarts):.1f} s, "
            f"max {max(result.restarts):.1f} s"
        )
    yield f"  runs by status: {dict(sorted(findings.statuses.items()))}"
    yield f"  commands sent: {len(result.commands)} ({counted(result.commands, 'verdict')})"
    yield (
        f"  clicks: {len(result.clicks)} ({counted(result.clicks, 'verdict')}; "
        f"{result.double_clicks} were the second of a double click)"
    )
    if findings.commands_without_run:
        yield f"  commands acknowledged that made no run: n = {findings.commands_without_run}"
    if findings.extra_runs:
        yield f"  numbers started more than once: n = {findings.extra_runs}"
    yield f"  most runs in one thread: {findings.max_runs_per_thread}"
    yield f"  messages that are no run's post: {findings.unclassified}"
    if result.surviving_workers:
        yield f"  worker processes still alive {WORKER_GRACE:g} s after their bot was killed: "
        yield f"    {len(result.surviving_workers)} (pids {result.surviving_workers[:10]})"
    deliveries = result.stats.get("deliveries") or []
    verdicts = Counter(f"{row.get('kind')}:{row.get('verdict')}" for row in deliveries)
    yield f"  devslack deliveries: {dict(sorted(verdicts.items()))}"
    methods = result.stats.get("methods") or {}
    for name, counts in sorted(methods.items()):
        yield (
            f"  {name}: {counts.get('calls', 0)} calls, {counts.get('ratelimited', 0)} 429, "
            f"{counts.get('errors', 0)} errors"
        )
    yield from examples("answers lost", findings.answers_lost)
    yield from examples("answers doubled", findings.answers_doubled)
    yield from examples("posts doubled", findings.posts_doubled)
    yield from examples("runs sharing a message", [r[:8] for r in findings.runs_sharing], 20)
    yield from examples("answered requests still showing buttons", findings.stale_buttons)
    yield from examples("posts missing or outside their thread", findings.posts_missing)


# --------------------------------------------------------------------------- main


QUICK = {"runs": 10, "kills": 3, "seconds": 40.0, "settle": 180.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs to start (default 50)")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the bot (default 10)")
    parser.add_argument(
        "--seconds", type=float, default=200.0, help="time the runs start and the kills fall in"
    )
    parser.add_argument("--seed", type=int, default=1, help="fixes bursts and kill moments")
    parser.add_argument("--channels", type=int, default=3, help="channels runs start in")
    parser.add_argument(
        "--settle",
        type=float,
        default=300.0,
        help="at most this many seconds, after the kills, for the runs to end (default 300)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 runs, 3 kills, 40 s (options given still win)"
    )
    parser.add_argument("--keep", metavar="DIR", help="copy the logs and the database here")
    args = parser.parse_args()
    if args.quick:
        given = {a.split("=")[0].lstrip("-") for a in sys.argv[1:] if a.startswith("--")}
        for name, value in QUICK.items():
            if name not in given:
                setattr(args, name, value)
    if args.runs < 1 or args.kills < 0 or args.seconds <= 0 or args.channels < 1:
        parser.error("--runs and --channels must be at least 1, --kills at least 0, --seconds > 0")
    return args


async def run(args: argparse.Namespace) -> int:
    # Ctrl-C or a kill: cancel the soak, so that the cleanup below ends the child processes.
    main_task, loop = asyncio.current_task(), asyncio.get_running_loop()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="soak-") as name:
        stack = Stack(Path(name), channel_ids(args.channels))
        try:
            limit = STARTUP_TIMEOUT + args.seconds + args.settle + 300
            result = await asyncio.wait_for(soak(args, stack), limit)
        except StackError as exc:
            print(f"soak: the stack failed: {exc}", file=sys.stderr)
            return 2
        except TimeoutError:
            print(f"soak: gave up after {limit:.0f} s (a deadline inside did not hold)")
            return 2
        finally:
            stack.stop()
            if args.keep:
                stack.keep(Path(args.keep))
    rows, met = table(result)
    print_table(rows)
    print()
    for line in raw_lines(result):
        print(line)
    return 0 if met else 1


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: interrupted; devslack and the bot were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
