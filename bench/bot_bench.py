"""Slack bot benchmarks: the bot and devslack as separate processes, over real HTTP.

Run with `python bench/bot_bench.py [--quick]`. Starts `python -m devslack --no-rate-limits`
and the bot in HTTP mode (`hitlbot serve` with HITLBOT_SLACK_PACE=0 and
HITLBOT_SLACK_UPDATE_PACE=0, so that the bot's own pacing, ~1 post per second per channel and
~50 message updates per minute, does not stand in for the rate limits devslack has turned
off), with a SQLite database and a one-procedure catalog in a temporary directory, everything
on 127.0.0.1. The procedure asks two approvals in a row. Runs are
started by alice (`/procedure run bench_two n=<i>`) round-robin in #general, #deploys and
#incidents; bob clicks Approve. A Server-Sent Events stream from devslack (`/_dev/api/live`)
tells when each request message is posted.

Measures, in this order, on one bot process (numbers for the full run; `--quick` is smaller):
1. warm-up: 1,000 runs started (50 commands at once, batch after batch) and clicked to the
   end (50 clicks/s), so that the database already holds a history and the bot's caches and
   allocator have seen the load; then the bot's RSS with 0 runs waiting;
2. runs are then always added 50 `/procedure run` commands at once (the same burst before
   every RSS reading), each batch timed until every run's first request is posted: runs
   started per second;
3. click -> next request posted with 200 runs waiting: Approve clicks on the first request of
   each waiting run, open loop at 10 clicks/s; the latency is from sending the click to the
   second request's message in the run's thread (its devslack `ts`, the wall clock when
   devslack stored the post; when the SSE event reached this process is reported alongside);
4. more runs up to 250, 500 and 1,000 waiting; RSS (VmRSS of /proc/<pid>/status) at each;
5. ack latency with 1,000 runs waiting: open-loop Approve clicks at 20, then 100 clicks/s,
   each on a different run's first request; `ack_ms` is devslack's measure (sending the
   interaction -> the bot's HTTP response), as returned by `POST /_dev/api/click`;
6. runs started per second again, 500 commands at once (at most 50 in flight).

Goals (issue 4): ack p99 under 30 ms at 20 clicks/s; click -> next request p99 under 150 ms;
memory flat in the number of waiting runs, taken here as: under 5 kB of RSS per waiting run
(the least-squares slope through the readings at 0, 250, 500 and 1,000, i.e. under 5 MB for
1,000 waiting runs, ~5% of the bot). The method resolves about +-1.5 kB per run (one reading
moves by a MB or so with the allocator's high-water mark), enough to catch real per-run state
(a run's Lua state kept alive would be ~100 kB, a task and coroutine per run a few kB); smaller
per-run structures are found with `--tracemalloc FILE`. Bounded caches that fill as the
database grows (SQLite's page cache, 2 MB per pooled connection) show up in the slope too.

Prints one markdown table (measure, value, goal, met?) and then the raw numbers. The processes
are killed at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CHANNELS = ("C0GENERAL", "C0DEPLOYS", "C0INCIDNT")
STARTER = "alice"  # starts every run
APPROVER = "bob"  # clicks (the starter may not approve their own runs)
COMMAND = "/procedure"
APPROVE = "hitl:approve"
PROCEDURE_ID = "bench_two"
PROCEDURE = """\
name: Bench two approvals
version: 1.0.0
class: Tactus
description: Two approvals in a row (bench/bot_bench.py).
params:
  n:
    type: integer
    default: 0
code: |
  local first = Human.approve{message = "bench-" .. params.n .. " first approval?"%(timeout)s}
  local second = Human.approve{message = "bench-" .. params.n .. " second approval?"%(timeout)s}
  return {first = first, second = second}
"""
#: With --timeouts: a day, so that nothing times out during the run, but the bot's timers
#: (a timeout and a half-time reminder per request) are scheduled for every waiting run.
TIMEOUT = ", timeout = 86400"
REQUEST_TEXT = re.compile(r"bench-(\d+) (first|second) approval")
STAGES = ("first", "second")

STARTUP_TIMEOUT = 30.0  # seconds for a process to come up
POST_TIMEOUT = 60.0  # seconds for an expected message to be posted
COMMANDS_IN_FLIGHT = 50
SETTLE = 2.0  # seconds of quiet before reading RSS


@dataclass(frozen=True)
class Sizes:
    warmup: int  # runs started (`chunk` at once) and clicked to the end before RSS at 0
    chunk: int  # runs are added this many at a time (the same burst before every RSS read)
    next_runs: int  # runs waiting during the click -> next measure
    next_rate: float
    levels: tuple[int, ...]  # waiting runs at which RSS is read
    ack_phases: tuple[tuple[float, float], ...]  # (clicks per second, seconds)
    burst: int  # runs started at once at the end


FULL = Sizes(
    warmup=1000,
    chunk=50,
    next_runs=200,
    next_rate=10.0,
    levels=(0, 250, 500, 1000),
    ack_phases=((20.0, 15.0), (100.0, 5.0)),
    burst=500,
)
QUICK = Sizes(
    warmup=100,
    chunk=20,
    next_runs=40,
    next_rate=10.0,
    levels=(0, 100, 200, 300),
    ack_phases=((20.0, 4.0), (100.0, 1.5)),
    burst=100,
)
MAX_KB_PER_RUN = 5.0  # "flat": RSS per waiting run (least-squares slope over the levels)


# --------------------------------------------------------------------------- numbers


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: list[float], unit: str = "ms") -> str:
    if not samples:
        return "no samples"
    return (
        f"n={len(samples)} min={min(samples):.1f} p50={percentile(samples, 50):.1f} "
        f"p90={percentile(samples, 90):.1f} p99={percentile(samples, 99):.1f} "
        f"max={max(samples):.1f} mean={statistics.fmean(samples):.1f} {unit}"
    )


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- processes


class Processes:
    """devslack and the bot as child processes; `stop()` ends them whatever happened."""

    def __init__(
        self,
        tmp: Path,
        *,
        timeouts: bool = False,
        tracemalloc: str | None = None,
    ) -> None:
        self.tmp = tmp
        self.timeouts = timeouts
        self.tracemalloc = tracemalloc
        self.slack: subprocess.Popen[bytes] | None = None
        self.bot: subprocess.Popen[bytes] | None = None
        self.slack_url = ""
        self.bot_url = ""
        self._files: list[Any] = []

    def _log(self, name: str) -> Any:
        handle = open(self.tmp / name, "wb")  # noqa: SIM115 - closed in stop()
        self._files.append(handle)
        return handle

    async def start(self) -> None:
        bot_port, slack_port = free_port(), free_port()
        self.bot_url = f"http://{HOST}:{bot_port}"
        self.slack_url = f"http://{HOST}:{slack_port}"
        out = self._log("devslack.log")
        self.slack = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devslack",
                "--app-url",
                f"{self.bot_url}/slack/events",
                "--port",
                str(slack_port),
                "--no-rate-limits",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        env = await self._devslack_env()
        procedures = self.tmp / "procedures"
        procedures.mkdir()
        timeout = TIMEOUT if self.timeouts else ""
        (procedures / f"{PROCEDURE_ID}.yaml").write_text(PROCEDURE % {"timeout": timeout})
        env.update(
            HITLBOT_DATABASE_URL=f"sqlite:///{self.tmp / 'bot.db'}",
            HITLBOT_PROCEDURES_DIR=str(procedures),
            HITLBOT_HOST=HOST,
            HITLBOT_PORT=str(bot_port),
            HITLBOT_SLACK_PACE="0",
            HITLBOT_SLACK_UPDATE_PACE="0",
        )
        if self.tracemalloc:
            env["BENCH_TRACEMALLOC"] = str(Path(self.tracemalloc).resolve())
        serve = [sys.executable, str(ROOT / "bench" / "serve_traced.py")]
        self.bot = subprocess.Popen(
            [*serve, "--port", str(bot_port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log("bot.log"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        await self._wait_ready()

    async def _devslack_env(self) -> dict[str, str]:
        """The `export K=V` lines devslack prints once it listens."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        log = self.tmp / "devslack.log"
        while time.monotonic() < deadline:
            self._check_alive()
            text = log.read_text(errors="replace") if log.exists() else ""
            if "SLACK_API_URL=" in text:
                found = re.findall(r"export (\w+)=(\S+)", text)
                return dict(found)
            await asyncio.sleep(0.05)
        raise RuntimeError(f"devslack did not start within {STARTUP_TIMEOUT:.0f} s")

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                self._check_alive()
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.bot_url}/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the bot was not ready within {STARTUP_TIMEOUT:.0f} s")

    def _check_alive(self) -> None:
        for name, proc in (("devslack", self.slack), ("bot", self.bot)):
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with status {proc.returncode}")

    def stop(self) -> None:
        for proc in (self.bot, self.slack):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for handle in self._files:
            handle.close()

    def tails(self, lines: int = 25) -> str:
        parts = []
        for name in ("devslack.log", "bot.log"):
            path = self.tmp / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- last lines of {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)


# --------------------------------------------------------------------------- devslack's view


@dataclass(frozen=True)
class Posted:
    """A request message as devslack published it."""

    n: int
    stage: str
    channel: str
    ts: str
    thread_ts: str
    seen: float  # perf_counter() when the SSE event reached this process


class Live:
    """Follows `GET /_dev/api/live`: every request message posted, every result posted."""

    def __init__(self) -> None:
        self.requests: dict[tuple[int, str], Posted] = {}
        self.results: dict[str, float] = {}  # thread_ts -> perf_counter() seen
        self.events = 0
        self._keys: set[str] = set()
        self._waiters: dict[Any, list[asyncio.Future[Any]]] = {}
        self._connected = asyncio.Event()

    async def follow(self, session: aiohttp.ClientSession, base_url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with session.get(f"{base_url}/_dev/api/live", timeout=timeout) as response:
            response.raise_for_status()
            buffer = b""
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                self._connected.set()
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    for line in frame.split(b"\n"):
                        if line.startswith(b"data: "):
                            self._event(json.loads(line[6:]), now)

    async def connected(self) -> None:
        await asyncio.wait_for(self._connected.wait(), STARTUP_TIMEOUT)

    def _event(self, event: dict[str, Any], now: float) -> None:
        self.events += 1
        if event.get("type") != "message" or event.get("deleted"):
            return
        payload = (event.get("metadata") or {}).get("event_payload") or {}
        key = str(payload.get("key") or "")
        if key in self._keys:  # an edit of a message seen already
            return
        if key.startswith("request:"):
            match = REQUEST_TEXT.search(event.get("text") or "")
            if match is None:
                return
            self._keys.add(key)
            posted = Posted(
                n=int(match.group(1)),
                stage=match.group(2),
                channel=str(event["channel"]),
                ts=str(event["ts"]),
                thread_ts=str(event.get("thread_ts") or ""),
                seen=now,
            )
            self.requests[(posted.n, posted.stage)] = posted
            self._wake((posted.n, posted.stage), posted)
        elif key == "result":
            self._keys.add(key + str(event.get("thread_ts")))
            thread = str(event.get("thread_ts") or "")
            self.results[thread] = now
            self._wake(("result", thread), now)

    def _wake(self, key: Any, value: Any) -> None:
        for future in self._waiters.pop(key, []):
            if not future.done():
                future.set_result(value)

    async def _wait(self, key: Any, known: Any) -> Any:
        if known is not None:
            return known
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        return await asyncio.wait_for(future, POST_TIMEOUT)

    async def request(self, n: int, stage: str) -> Posted:
        return await self._wait((n, stage), self.requests.get((n, stage)))

    async def result(self, thread_ts: str) -> float:
        return await self._wait(("result", thread_ts), self.results.get(thread_ts))


class Slack:
    """The devslack control API, as the people in the workspace use it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = f"{base_url}/_dev/api"

    async def _post(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"{self.base}/{name}", json=body) as response:
            data = await response.json()
        if not data.get("ok"):
            raise RuntimeError(f"devslack {name} failed: {data}")
        return data

    async def command(self, n: int) -> dict[str, Any]:
        return await self._post(
            "command",
            {
                "user": STARTER,
                "channel": CHANNELS[n % len(CHANNELS)],
                "command": COMMAND,
                "text": f"run {PROCEDURE_ID} n={n}",
            },
        )

    async def click(self, posted: Posted) -> dict[str, Any]:
        return await self._post(
            "click",
            {"user": APPROVER, "channel": posted.channel, "ts": posted.ts, "action_id": APPROVE},
        )

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base}/stats") as response:
            return await response.json()


# --------------------------------------------------------------------------- measures


@dataclass
class StartBatch:
    count: int
    seconds: float
    latency_ms: list[float]  # command sent -> first request posted (devslack ts)
    ack_ms: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass
class ClickPhase:
    label: str
    target_rate: float
    achieved_rate: float = 0.0
    ack_ms: list[float] = field(default_factory=list)  # devslack's ack_ms of each click
    round_trip_ms: list[float] = field(default_factory=list)  # POST /_dev/api/click, here
    next_posted_ms: list[float] = field(default_factory=list)  # click sent -> next ts
    next_seen_ms: list[float] = field(default_factory=list)  # click sent -> SSE event here
    failures: list[str] = field(default_factory=list)


async def open_loop(
    rate: float, items: list[Any], action: Callable[[Any], Awaitable[None]]
) -> float:
    """Start `action(item)` at `rate` per second, not waiting for earlier ones; return the
    achieved rate of starts, then wait for all of them."""
    tasks = []
    started: list[float] = []
    origin = time.perf_counter()
    for index, item in enumerate(items):
        delay = origin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        started.append(time.perf_counter())
        tasks.append(asyncio.create_task(action(item)))
    await asyncio.gather(*tasks)
    if len(started) < 2:
        return float("nan")
    return (len(started) - 1) / (started[-1] - started[0])


class Bench:
    def __init__(
        self,
        slack: Slack,
        live: Live,
        bot_pid: int,
        tracemalloc: str | None = None,
        profile: Path | None = None,
        other_pids: dict[str, int] | None = None,
    ) -> None:
        self.slack = slack
        self.tracemalloc = tracemalloc
        self.profile = profile
        self.pids = {"bot": bot_pid, "bench": os.getpid(), **(other_pids or {})}
        self.cpu: list[tuple[str, float, dict[str, float]]] = []  # label, wall s, CPU s
        self.live = live
        self.bot_pid = bot_pid
        self.next_n = 0
        self.waiting_first: list[int] = []  # runs whose first request is open, oldest first

    async def start_runs(self, count: int) -> StartBatch:
        """Fire `count` run commands at once; done when every first request is posted."""
        ns = list(range(self.next_n, self.next_n + count))
        self.next_n += count
        gate = asyncio.Semaphore(COMMANDS_IN_FLIGHT)
        latency: list[float] = []
        acks: list[float] = []

        async def one(n: int) -> None:
            async with gate:
                sent = time.time()
                reply = await self.slack.command(n)
            acks.append(float(reply["ack_ms"]))
            posted = await self.live.request(n, "first")
            latency.append((float(posted.ts) - sent) * 1000)

        origin = time.perf_counter()
        await asyncio.gather(*(one(n) for n in ns))
        last_seen = max(self.live.requests[(n, "first")].seen for n in ns)
        self.waiting_first += ns
        return StartBatch(count, last_seen - origin, latency, acks)

    async def click_phase(self, label: str, rate: float, ns: list[int]) -> ClickPhase:
        """Approve the first request of each run in `ns`, open loop at `rate` per second."""
        phase = ClickPhase(label, rate)
        for n in ns:
            self.waiting_first.remove(n)

        async def one(n: int) -> None:
            posted = await self.live.request(n, "first")
            sent_wall, sent = time.time(), time.perf_counter()
            try:
                reply = await self.slack.click(posted)
            except (RuntimeError, aiohttp.ClientError) as exc:
                phase.failures.append(f"bench-{n}: {exc}")
                return
            phase.round_trip_ms.append((time.perf_counter() - sent) * 1000)
            if reply.get("verdict") != "ok" or reply.get("ack_ms") is None:
                phase.failures.append(f"bench-{n}: verdict {reply.get('verdict')}")
                return
            phase.ack_ms.append(float(reply["ack_ms"]))
            try:
                following = await self.live.request(n, "second")
            except TimeoutError:
                phase.failures.append(f"bench-{n}: no second request within {POST_TIMEOUT} s")
                return
            phase.next_posted_ms.append((float(following.ts) - sent_wall) * 1000)
            phase.next_seen_ms.append((following.seen - sent) * 1000)

        phase.achieved_rate = await open_loop(rate, ns, one)
        return phase

    async def finish_runs(self, ns: list[int], rate: float) -> None:
        """Click both approvals of each run (open loop at `rate`), wait for every result."""

        async def approve(n: int, stage: str) -> None:
            await self.slack.click(await self.live.request(n, stage))

        for stage in STAGES:
            await open_loop(rate, ns, lambda n, stage=stage: approve(n, stage))
        for n in ns:
            await self.live.result(self.live.requests[(n, "first")].thread_ts)
        done = set(ns)
        self.waiting_first = [n for n in self.waiting_first if n not in done]

    async def grow(self, count: int, chunk: int) -> list[StartBatch]:
        """Start `count` runs, `chunk` at once, one chunk after the other."""
        batches = []
        while count > 0:
            batches.append(await self.start_runs(min(chunk, count)))
            count -= batches[-1].count
        return batches

    @contextlib.asynccontextmanager
    async def observed(self, label: str) -> Any:
        """Record the CPU time each process uses meanwhile; with --profile DIR, py-spy
        samples the bot meanwhile too (collapsed stacks in DIR/<label>.txt)."""
        spy = self._py_spy(label) if self.profile is not None else None
        if spy is not None:
            await asyncio.sleep(1.0)  # py-spy attaches
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        started = time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - started
            used = {name: cpu_seconds(pid) - before[name] for name, pid in self.pids.items()}
            self.cpu.append((label, wall, used))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                try:
                    spy.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(timeout=10)

    def _py_spy(self, label: str) -> subprocess.Popen[bytes]:
        assert self.profile is not None
        output = self.profile / f"{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.txt"
        return subprocess.Popen(
            [
                shutil.which("py-spy") or "py-spy",
                "record",
                "--pid",
                str(self.bot_pid),
                "--rate",
                "200",
                "--nonblocking",
                "--threads",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def settled_rss(self, label: str) -> int:
        await asyncio.sleep(SETTLE)
        kb = rss_kb(self.bot_pid)
        if self.tracemalloc:
            with open(self.tracemalloc, "a") as out:
                out.write(f"\n##### {label}: VmRSS {kb} kB\n")
            os.kill(self.bot_pid, signal.SIGUSR1)
            await asyncio.sleep(SETTLE)
        return kb


@dataclass
class Results:
    sizes: Sizes
    rss_start_kb: int = 0
    rss_kb: dict[int, int] = field(default_factory=dict)  # waiting runs -> VmRSS
    rss_after_kb: int = 0
    chunks: list[StartBatch] = field(default_factory=list)
    burst: StartBatch | None = None
    next_phase: ClickPhase | None = None
    ack_phases: list[ClickPhase] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    cpu: list[tuple[str, float, dict[str, float]]] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    elapsed: float = 0.0


async def measure(
    procs: Processes, sizes: Sizes, tracemalloc: str | None = None, profile: Path | None = None
) -> Results:
    assert procs.bot is not None
    results = Results(sizes)
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        live = Live()
        follower = asyncio.create_task(live.follow(session, procs.slack_url))
        try:
            await live.connected()
            assert procs.slack is not None
            bench = Bench(
                Slack(session, procs.slack_url),
                live,
                procs.bot.pid,
                tracemalloc,
                profile,
                {"devslack": procs.slack.pid},
            )
            results.rss_start_kb = rss_kb(procs.bot.pid)
            say(f"bot up (pid {procs.bot.pid}, {results.rss_start_kb / 1024:.1f} MB)")

            say(f"warm-up: {sizes.warmup} runs, {sizes.chunk} at once, clicked to the end")
            await bench.grow(sizes.warmup, sizes.chunk)
            await bench.finish_runs(list(range(sizes.warmup)), rate=50.0)
            results.rss_kb[0] = await bench.settled_rss("0 waiting")

            say(f"starting {sizes.next_runs} runs, {sizes.chunk} at once")
            results.chunks += await bench.grow(sizes.next_runs, sizes.chunk)
            await asyncio.sleep(SETTLE)
            say(f"click -> next request, {sizes.next_runs} waiting, {sizes.next_rate:g}/s")
            async with bench.observed(f"click -> next, {sizes.next_rate:g}/s"):
                results.next_phase = await bench.click_phase(
                    f"click -> next, {sizes.next_runs} waiting",
                    sizes.next_rate,
                    list(bench.waiting_first),
                )
            waiting = sizes.next_runs
            for level in sizes.levels[1:]:
                say(f"starting {level - waiting} runs -> {level} waiting")
                results.chunks += await bench.grow(level - waiting, sizes.chunk)
                waiting = level
                results.rss_kb[level] = await bench.settled_rss(f"{level} waiting")

            for rate, seconds in sizes.ack_phases:
                count = round(rate * seconds)
                if count > len(bench.waiting_first):
                    raise RuntimeError(f"only {len(bench.waiting_first)} runs left to click")
                say(f"ack latency: {count} clicks at {rate:g}/s, {waiting} runs waiting")
                ns = bench.waiting_first[:count]
                async with bench.observed(f"ack, {rate:g} clicks/s"):
                    phase = await bench.click_phase(f"{rate:g} clicks/s", rate, ns)
                results.ack_phases.append(phase)
                await asyncio.sleep(SETTLE)
            results.rss_after_kb = rss_kb(procs.bot.pid)

            say(f"runs started per second: {sizes.burst} at once")
            async with bench.observed(f"{sizes.burst} runs started at once"):
                results.burst = await bench.start_runs(sizes.burst)
            results.stats = await bench.slack.stats()
        finally:
            results.cpu = bench.cpu
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await follower
    results.elapsed = time.perf_counter() - began
    results.load = (load_before, os.getloadavg()[0])
    return results


# --------------------------------------------------------------------------- report


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def latency_cell(samples: list[float], failures: list[str]) -> tuple[str, float]:
    """ "p50 / p99 ms" (and how many clicks failed) plus the p99 the goal is checked on."""
    if not samples:
        return f"no samples ({len(failures)} failed)", math.inf
    p99 = percentile(samples, 99)
    failed = f" ({len(failures)} failed)" if failures else ""
    return f"{percentile(samples, 50):.0f} / {p99:.0f} ms{failed}", p99


def table_rows(results: Results) -> Iterator[tuple[str, str, str, str]]:
    for phase in results.ack_phases:
        cell, p99 = latency_cell(phase.ack_ms, phase.failures)
        goal = phase.target_rate == 20.0
        yield (
            f"ack latency at {phase.target_rate:g} clicks/s "
            f"(achieved {phase.achieved_rate:.1f}/s), p50 / p99",
            cell,
            "p99 < 30 ms" if goal else "—",
            yes(p99 < 30 and not phase.failures) if goal else "—",
        )
    phase = results.next_phase
    if phase is not None:
        cell, p99 = latency_cell(phase.next_posted_ms, phase.failures)
        yield (
            f"click -> next request posted, {results.sizes.next_runs} runs waiting "
            f"({phase.achieved_rate:.1f} clicks/s), p50 / p99",
            cell,
            "p99 < 150 ms",
            yes(p99 < 150 and not phase.failures),
        )
    if results.chunks:
        count = sum(batch.count for batch in results.chunks)
        seconds = sum(batch.seconds for batch in results.chunks)
        yield (
            f"runs started per second ({results.sizes.chunk} `/procedure run` at once, "
            f"{len(results.chunks)} times)",
            f"{count / seconds:.1f} runs/s",
            "—",
            "—",
        )
    if results.burst is not None:
        yield (
            f"runs started per second ({results.burst.count} `/procedure run` at once)",
            f"{results.burst.rate:.1f} runs/s",
            "—",
            "—",
        )
    levels = sorted(results.rss_kb)
    slope = rss_slope(results.rss_kb)
    growth = results.rss_kb[levels[-1]] - results.rss_kb[levels[0]]
    yield (
        f"bot RSS with {' / '.join(str(level) for level in levels)} runs waiting",
        " / ".join(f"{results.rss_kb[level] / 1024:.1f}" for level in levels)
        + f" MB ({slope:+.1f} kB per waiting run; {growth / 1024:+.1f} MB in all)",
        f"flat (< {MAX_KB_PER_RUN:g} kB per waiting run)",
        yes(slope < MAX_KB_PER_RUN),
    )


def rss_slope(rss: dict[int, int]) -> float:
    """kB of RSS per waiting run: the least-squares slope through every reading (one reading
    alone moves by a MB or so with the allocator's high-water mark)."""
    xs, ys = list(rss), [float(rss[x]) for x in rss]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [rows[0], tuple("-" * w for w in widths), *rows[1:]]
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def print_raw(results: Results, *, timeouts: bool) -> None:
    print()
    print("Raw numbers")
    print(
        f"  machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        "bot pacing off, "
        f"devslack --no-rate-limits, approvals "
        f"{'with a one-day timeout' if timeouts else 'without timeout'}, "
        f"total {results.elapsed:.0f} s"
    )
    print(
        f"  load average (1 min): {results.load[0]:.2f} before the run (other processes), "
        f"{results.load[1]:.2f} at its end (the bench's own processes add about 1)"
    )
    phases = [p for p in [results.next_phase, *results.ack_phases] if p is not None]
    for phase in phases:
        print(
            f"  [{phase.label}] target {phase.target_rate:g}/s, "
            f"achieved {phase.achieved_rate:.2f}/s"
        )
        print(f"    ack_ms (devslack)           {summary(phase.ack_ms)}")
        print(f"    click round trip (here)     {summary(phase.round_trip_ms)}")
        print(f"    click -> next posted (ts)   {summary(phase.next_posted_ms)}")
        print(f"    click -> next seen (SSE)    {summary(phase.next_seen_ms)}")
        if phase.failures:
            print(f"    failures: {len(phase.failures)}, e.g. {phase.failures[:3]}")
    batches = [(f"{b.count} at once", b) for b in results.chunks]
    if results.burst is not None:
        batches.append((f"{results.burst.count} at once, at the end", results.burst))
    for index, (name, batch) in enumerate(batches):
        if 0 < index < len(batches) - 1 and len(batches) > 6:
            continue  # the first chunk, the last chunk and the burst tell the story
        print(
            f"  [runs started, {name}] {batch.count} runs in {batch.seconds:.2f} s = "
            f"{batch.rate:.1f} runs/s"
        )
        print(f"    command ack_ms              {summary(batch.ack_ms)}")
        print(f"    command -> first request    {summary(batch.latency_ms)}")
    if results.chunks:
        rates = [b.rate for b in results.chunks]
        print(f"  [runs started, every chunk]  {summary(rates, unit='runs/s')}")
    rss = ", ".join(f"{level}: {kb / 1024:.1f} MB" for level, kb in sorted(results.rss_kb.items()))
    print(
        f"  [bot RSS] at start {results.rss_start_kb / 1024:.1f} MB; waiting runs {rss}; "
        f"after the click phases {results.rss_after_kb / 1024:.1f} MB"
    )
    for label, wall, used in results.cpu:
        shares = ", ".join(
            f"{name} {secs:.1f} s ({secs / wall:.0%})" for name, secs in used.items()
        )
        print(f"  [CPU during {label}, {wall:.1f} s] {shares}")
    deliveries = results.stats.get("deliveries") or []
    verdicts: dict[str, int] = {}
    for row in deliveries:
        verdicts[f"{row.get('kind')}:{row.get('verdict')}"] = (
            verdicts.get(f"{row.get('kind')}:{row.get('verdict')}", 0) + 1
        )
    clicks = [
        float(r["ack_ms"])
        for r in deliveries
        if r.get("kind") == "block_actions" and r.get("ack_ms") is not None
    ]
    print(f"  [devslack stats] deliveries {dict(sorted(verdicts.items()))}")
    print(f"    every block_actions ack_ms  {summary(clicks)}")
    methods = results.stats.get("methods") or {}
    calls = {name: m.get("calls") for name, m in sorted(methods.items())}
    print(f"    Web API calls               {calls}")


async def run(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    # Ctrl-C or a kill: cancel the run, so that the cleanup below ends the child processes.
    main_task, loop = asyncio.current_task(), asyncio.get_running_loop()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as name:
        tmp = Path(name)
        procs = Processes(tmp, timeouts=args.timeouts, tracemalloc=args.tracemalloc)
        try:
            await procs.start()
            profile = Path(args.profile).resolve() if args.profile else None
            results = await measure(procs, sizes, args.tracemalloc, profile)
        except Exception:
            procs.stop()
            print(procs.tails(), file=sys.stderr)
            raise
        finally:
            procs.stop()
            if args.keep_logs:
                for log in ("devslack.log", "bot.log"):
                    if (tmp / log).exists():
                        (Path(args.keep_logs) / log).write_bytes((tmp / log).read_bytes())
    header = ("measure", "value", "goal", "met?")
    print_table([header, *table_rows(results)])
    print_raw(results, timeouts=args.timeouts)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (CI smoke)")
    parser.add_argument(
        "--timeouts",
        action="store_true",
        help="give both approvals a one-day timeout (the bot then keeps timers per request)",
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the two processes' logs here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the bot with py-spy (on PATH) during the click phases and the burst; "
        "collapsed stacks go to DIR (the numbers then include py-spy's overhead)",
    )
    parser.add_argument(
        "--tracemalloc",
        metavar="FILE",
        help="trace the bot's allocations; at every RSS reading append the top sites to FILE",
    )
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bot_bench: interrupted; devslack and the bot were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
