"""End-to-end fixtures: devslack and the bot as separate processes, talking real HTTP.

`python -m devslack` and `hitlbot serve` (or `hitlbot socket`) run as subprocesses on free
ports, once per session (one stack per delivery mode, started on first use); every test
starts from a reset devslack and leaves no run waiting behind it. Tests act as people through
devslack's control API (`Slack`) and check what people would see there, and what the bot
recorded in its database (`Slack.store`, a `SqlStore` on the same SQLite file).

Nothing waits by sleeping: `Slack.wait_for` polls a condition until a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from adapters.sql import SqlStore
from runtime.engine import Engine
from runtime.models import PendingRequest, RunRecord, RunStatus

REPO = Path(__file__).resolve().parents[3]
PROCEDURES = Path(__file__).resolve().parent / "procedures"
PYTHON = sys.executable
HITLBOT = str(Path(sys.executable).with_name("hitlbot"))

#: Seed ids (devslack/seed.yaml).
ALICE, BOB, CAROL, DAVE = "U0ALICE01", "U0BOB0001", "U0CAROL01", "U0DAVE001"
ONCALL = "S0ONCALL1"
TEAM, APP = "T0DEVSLACK", "A0DEVAPP01"
USER_IDS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE}

#: Event retries come quickly here (Slack: 1 s, 1 min, 5 min) so a retry test stays short.
EVENT_RETRY_DELAYS = "1,2,4"
START_TIMEOUT = 30.0
WAIT_TIMEOUT = 10.0
TIME_LIMIT = 5  # seconds one execution may take in the e2e bot

RUN_ID = re.compile(r"run `([0-9a-f]{8})`")

#: Channels added to devslack's seed: each test posts in a channel of its own, so Slack's
#: per-channel posting pace (and the bot's) is never shared between tests.
TEST_CHANNELS = 60


def e2e_channel_id(n: int) -> str:
    return f"C0E2E{n:04d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deadline_loop(timeout: float, what: str, log: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Yield until `timeout` seconds have passed, then fail naming `what` (and a log tail)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        yield
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s\n{log()[-4000:]}")


# ---------------------------------------------------------------------------- processes


class Proc:
    """One subprocess with its output in a log file (shown when something goes wrong)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"--- starting {' '.join(self.argv)}\n".encode())
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if not self.alive:
            raise AssertionError(f"{self.name} exited\n{self.log()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Send `sig` to this process only (it leads its own session) and wait for it."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Stack:
    """devslack and the bot, each in its own process, for one delivery mode; and devplexus
    too in mode "plexus" (HTTP mode, runs mirrored into a local Plexus)."""

    mode: str  # "http" | "socket" | "plexus"
    workdir: Path
    slack_port: int
    bot_port: int
    devslack: Proc | None = None
    bot: Proc | None = None
    devplexus: Proc | None = None
    env: dict[str, str] = field(default_factory=dict)
    plexus_env: dict[str, str] = field(default_factory=dict)
    channels_used: int = 0

    def next_channel(self) -> str:
        """The id of a test channel (`#e2e-NN`) no recent test has posted in."""
        self.channels_used += 1
        return e2e_channel_id(self.channels_used % TEST_CHANNELS)

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}"

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.bot_port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "bot.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def procedures_dir(self) -> Path:
        """The bot's procedures: a copy of PROCEDURES that a test may add a file to."""
        return self.workdir / "procedures"

    def start(self) -> None:
        shutil.copytree(PROCEDURES, self.procedures_dir)
        self.start_devslack()
        if self.mode == "plexus":
            self.start_devplexus()
        self.start_bot()

    @property
    def plexus_url(self) -> str:
        """devplexus's dashboard (its control API is under /_dev/api/)."""
        return self.plexus_env["PLEXUS_API_URL"].removesuffix("/graphql")

    def start_devplexus(self) -> None:
        argv = [PYTHON, "-m", "devplexus", "--port", str(free_port())]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.devplexus = Proc("devplexus", argv, env, self.workdir / "devplexus.log")
        self.devplexus.start()
        for _ in deadline_loop(START_TIMEOUT, "devplexus printed its environment"):
            self.devplexus.check_alive()
            exports = dict(re.findall(r"export (\w+)=(\S+)", self.devplexus.log()))
            if "PLEXUS_API_URL" in exports:
                self.plexus_env = exports
                return

    def write_seed(self) -> Path:
        """The packaged seed plus TEST_CHANNELS channels (every user and the bot are members)."""
        import devslack

        seed = yaml.safe_load((Path(devslack.__file__).parent / "seed.yaml").read_text())
        seed["channels"] += [
            {"id": e2e_channel_id(n), "name": f"e2e-{n:02d}"} for n in range(TEST_CHANNELS)
        ]
        path = self.workdir / "seed.yaml"
        path.write_text(yaml.safe_dump(seed))
        return path

    def start_devslack(self) -> None:
        argv = [PYTHON, "-m", "devslack", "--port", str(self.slack_port)]
        argv += ["--seed", str(self.write_seed())]
        argv += ["--event-retry-delays", EVENT_RETRY_DELAYS]
        if self.mode == "socket":
            argv.append("--socket-mode")
        else:
            argv += ["--app-url", f"{self.bot_url}/slack/events"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.devslack = Proc("devslack", argv, env, self.workdir / "devslack.log")
        self.devslack.start()
        for _ in deadline_loop(
            START_TIMEOUT, "devslack printed its environment", self.devslack.log
        ):
            self.devslack.check_alive()
            exports = dict(re.findall(r"export (\w+)=(\S+)", self.devslack.log()))
            if "SLACK_API_URL" in exports and _http_ok(self.slack_url + "/_dev/api/workspace"):
                self.env = exports
                return

    def bot_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITLBOT_"))}
        env.update(
            PYTHONUNBUFFERED="1",
            SLACK_BOT_TOKEN=self.env["SLACK_BOT_TOKEN"],
            SLACK_API_URL=self.env["SLACK_API_URL"],
            HITLBOT_DATABASE_URL=self.db_url,
            HITLBOT_PROCEDURES_DIR=str(self.procedures_dir),
            # A killed bot is taken for dead after 3 s, so crash tests stay short.
            HITLBOT_HEARTBEAT_SECONDS="1",
            # Runs that never finish on their own end at 5 s, so limit tests stay short.
            HITLBOT_TIME_LIMIT_SECONDS=str(TIME_LIMIT),
            # chat.update's limit is the workspace's, and devslack forgets its count at every
            # test's reset while the bot would not: one test's updates would slow the next
            # test's. Here devslack's own Tier 3 limit (and its Retry-After) paces them.
            HITLBOT_SLACK_UPDATE_PACE="0",
        )
        if self.plexus_env:  # answers given in Plexus are looked for five times a second
            env.update(self.plexus_env, HITLBOT_PLEXUS_POLL_SECONDS="0.2")
        if self.mode == "socket":
            env["SLACK_APP_TOKEN"] = self.env["SLACK_APP_TOKEN"]
        else:
            env["SLACK_SIGNING_SECRET"] = self.env["SLACK_SIGNING_SECRET"]
            env["HITLBOT_PORT"] = str(self.bot_port)
        return env

    def start_bot(self) -> None:
        command = "socket" if self.mode == "socket" else "serve"  # "plexus" is HTTP mode
        self.bot = Proc("hitlbot", [HITLBOT, command], self.bot_env(), self.workdir / "bot.log")
        self.bot.start()
        if self.mode == "http":
            for _ in deadline_loop(START_TIMEOUT, "the bot became ready", self.bot.log):
                self.bot.check_alive()
                if _http_ok(self.bot_url + "/readyz"):
                    return
        else:
            self._wait_socket_ready()

    def _wait_socket_ready(self) -> None:
        """Socket Mode has no HTTP endpoint: ready when devslack can deliver a command."""
        assert self.bot is not None
        body = {"user": "dave", "channel": "#general", "command": "/procedure", "text": "help"}
        for _ in deadline_loop(START_TIMEOUT, "the bot took deliveries", self.bot.log):
            self.bot.check_alive()
            request = urllib.request.Request(
                self.slack_url + "/_dev/api/command",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as r:
                if json.load(r).get("verdict") == "ok":
                    return

    def kill_bot(self) -> None:
        """SIGKILL: a crash, with nothing cleaned up."""
        assert self.bot is not None
        self.bot.stop(signal.SIGKILL)

    def stop(self) -> None:
        for proc in (self.bot, self.devslack, self.devplexus):
            if proc is not None:
                proc.stop()


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stack]]:
    """Stacks by mode, each started the first time a test asks for it."""
    started: dict[str, Stack] = {}
    yield started
    for stack in started.values():
        stack.stop()


def get_stack(stacks: dict[str, Stack], mode: str, tmp: pytest.TempPathFactory) -> Stack:
    stack = stacks.get(mode)
    if stack is None:
        stack = Stack(mode, tmp.mktemp(f"e2e-{mode}"), free_port(), free_port())
        stacks[mode] = stack  # registered first: a failed start is still stopped
        stack.start()
    assert stack.bot is not None
    if not stack.bot.alive:  # a test that killed the bot failed before restarting it
        stack.start_bot()
    return stack


# ---------------------------------------------------------------------------- the driver


@dataclass
class Thread:
    """A run's message in a channel, the parent of the run's thread."""

    channel: str
    ts: str
    run_id: str


class Slack:
    """People acting in devslack (control API), and what the bot recorded (its database)."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession, store: SqlStore) -> None:
        self.stack = stack
        self.http = http
        self.store = store
        self.channel = stack.next_channel()  # this test's own channel

    def another_channel(self) -> str:
        """One more channel for this test (posts in one channel are paced at ~1/s)."""
        return self.stack.next_channel()

    @property
    def api(self) -> str:
        return self.stack.slack_url + "/_dev/api/"

    # -- the control API -----------------------------------------------------------------

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(self.api + path, params=params) as response:
            data = await response.json()
            assert response.status == 200, (path, response.status, data)
            return data

    async def post(self, path: str, body: dict[str, Any] | None = None, *, ok: bool = True) -> Any:
        async with self.http.post(self.api + path, json=body or {}) as response:
            data = await response.json()
            if ok:
                assert response.status == 200, (path, body, response.status, data)
            return data

    async def plexus(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """devplexus's control API (the "plexus" stack): GET records/..., POST respond ..."""
        url = self.stack.plexus_url + "/_dev/api/" + path
        async with self.http.request(method, url, json=body) as response:
            data = await response.json()
            assert response.status == 200, (path, body, response.status, data)
            return data

    async def plexus_records(self, model: str, **where: str) -> list[dict[str, Any]]:
        return (await self.plexus("GET", f"records/{model}?" + urllib.parse.urlencode(where)))[
            "items"
        ]

    async def command(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """`user` types `/procedure <text>` in `channel`; the bot must ack in time."""
        body = {"user": user, "channel": channel, "command": "/procedure", "text": text}
        result = await self.post("command", body)
        assert result["verdict"] == "ok", result
        return result

    async def click(self, user: str, where: Any, *, text: str | None = None, **spec: Any) -> Any:
        """`user` clicks the element with visible `text` (or `action_id=`, `value=`) of a
        message (a `Thread`, a message dict, or (channel, ts)), "home", or a view id."""
        body: dict[str, Any] = {"user": user, **spec}
        if text is not None:
            body["text"] = text
        if where == "home":
            body["channel"] = "home"
        elif isinstance(where, str):
            body["view_id"] = where
        elif isinstance(where, Thread):
            body.update(channel=where.channel, ts=where.ts)
        elif isinstance(where, dict):
            body.update(channel=where["channel"], ts=where["ts"])
        else:
            body.update(channel=where[0], ts=where[1])
        result = await self.post("click", body)
        assert result.get("verdict") in ("ok", None), result
        return result

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        return await self.post("submit", {"user": user, "view_id": view_id, "values": values})

    async def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        params = {"channel": channel, **({"thread_ts": thread_ts} if thread_ts else {})}
        messages = (await self.get("messages", **params))["messages"]
        for message in messages:
            message.setdefault("channel", channel)
        return messages

    async def views(self, user: str) -> list[dict[str, Any]]:
        return (await self.get("views", user=user))["views"]

    async def home(self, user: str) -> dict[str, Any] | None:
        return (await self.get("home", user=user))["view"]

    async def ephemeral(self, user: str) -> list[dict[str, Any]]:
        return (await self.get("ephemeral", user=user))["messages"]

    async def method_calls(self, method: str) -> dict[str, int]:
        methods = (await self.get("stats"))["methods"]
        return methods.get(method, {"calls": 0, "ratelimited": 0, "errors": 0})

    async def deliveries(self) -> list[dict[str, Any]]:
        return (await self.get("stats"))["deliveries"]

    async def fault(self, **rule: Any) -> None:
        await self.post("faults", rule)

    async def clear_faults(self) -> None:
        await self.post("faults", {"clear": True})

    # -- waiting -------------------------------------------------------------------------

    async def wait_for(
        self,
        probe: Callable[[], Awaitable[Any]],
        what: str,
        timeout: float = WAIT_TIMEOUT,
    ) -> Any:
        """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
        end = time.monotonic() + timeout
        while True:
            result = await probe()
            if result:
                return result
            if time.monotonic() > end:
                assert self.stack.bot is not None
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}\n"
                    f"--- bot log tail:\n{self.stack.bot.log()[-3000:]}"
                )
            await asyncio.sleep(0.02)

    # -- runs and their threads ------------------------------------------------------------

    async def start(self, user: str, channel: str, text: str) -> Thread:
        """`user` runs `/procedure <text>` in `channel`; returns the run's new message."""
        before = {m["ts"] for m in await self.messages(channel)}
        await self.command(user, channel, text)

        async def posted() -> dict[str, Any] | None:
            fresh = [m for m in await self.messages(channel) if m["ts"] not in before]
            return next((m for m in fresh if m.get("bot_id") and RUN_ID.search(all_text(m))), None)

        message = await self.wait_for(posted, f"the run message of `{text}` in {channel}")
        prefix = RUN_ID.search(all_text(message)).group(1)  # type: ignore[union-attr]
        runs = self.store.find_runs(prefix)
        assert len(runs) == 1, runs
        return Thread(channel, message["ts"], runs[0].run_id)

    async def thread(self, thread: Thread) -> list[dict[str, Any]]:
        """The run's thread, parent first."""
        return await self.messages(thread.channel, thread.ts)

    async def replies(self, thread: Thread) -> list[dict[str, Any]]:
        return (await self.thread(thread))[1:]

    async def parent(self, thread: Thread) -> dict[str, Any]:
        return (await self.thread(thread))[0]

    async def wait_reply(
        self, thread: Thread, contains: str, *, timeout: float = WAIT_TIMEOUT
    ) -> dict[str, Any]:
        """The (first) reply in the thread whose text or blocks contain `contains`."""

        async def found() -> dict[str, Any] | None:
            return next((m for m in await self.replies(thread) if contains in all_text(m)), None)

        return await self.wait_for(found, f"a reply containing {contains!r}", timeout)

    async def wait_parent(
        self, thread: Thread, contains: str, *, timeout: float = WAIT_TIMEOUT
    ) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            parent = await self.parent(thread)
            return parent if contains in all_text(parent) else None

        return await self.wait_for(found, f"the run message saying {contains!r}", timeout)

    async def wait_request(self, thread: Thread, message: str) -> dict[str, Any]:
        """The open request whose message says `message`: answer buttons are on it."""

        async def found() -> dict[str, Any] | None:
            for reply in await self.replies(thread):
                if message in all_text(reply) and answer_elements(reply):
                    return reply
            return None

        return await self.wait_for(found, f"a request asking {message!r}")

    async def wait_run(
        self, thread: Thread, status: RunStatus, *, timeout: float = WAIT_TIMEOUT
    ) -> RunRecord:
        """The run, once the database says `status` and its result is in the thread."""

        async def ended() -> RunRecord | None:
            run = self.store.get_run(thread.run_id)
            return run if run is not None and run.status is status else None

        run = await self.wait_for(ended, f"run {thread.run_id[:8]} {status.value}", timeout)
        if status in (RunStatus.COMPLETED, RunStatus.FAILED):  # its result, last in the thread
            await self.wait_reply(thread, f"run `{thread.run_id[:8]}` · Finished", timeout=timeout)
        return run

    async def wait_ephemeral(
        self,
        user: str,
        contains: str,
        *,
        besides: Collection[str] = (),
    ) -> dict[str, Any]:
        """An ephemeral message to `user` containing `contains` (other than those whose ts is
        in `besides`)."""

        async def found() -> dict[str, Any] | None:
            for message in await self.ephemeral(user):
                if contains in message["text"] and message["ts"] not in besides:
                    return message
            return None

        return await self.wait_for(found, f"an ephemeral to {user} saying {contains!r}")

    async def wait_view(self, user: str, title: str) -> dict[str, Any]:
        """The modal on top of `user`'s stack, once its title starts with `title`."""

        async def top() -> dict[str, Any] | None:
            views = await self.views(user)
            if views and views[-1]["title"]["text"].startswith(title):
                return views[-1]
            return None

        return await self.wait_for(top, f"the {title!r} modal for {user}")

    async def wait_no_view(self, user: str) -> None:
        async def closed() -> bool:
            return not await self.views(user)

        await self.wait_for(closed, f"{user}'s modals to close")

    def requests(self, thread: Thread) -> list[PendingRequest]:
        return self.store.list_requests(run_id=thread.run_id)

    # -- the bot's log ---------------------------------------------------------------------

    def log_mark(self) -> int:
        """Where the bot's log ends now; `wait_log` reads only what comes after it."""
        assert self.stack.bot is not None
        return len(self.stack.bot.log())

    def log_since(self, mark: int) -> str:
        assert self.stack.bot is not None
        return self.stack.bot.log()[mark:]

    async def wait_log(self, contains: str, since: int, count: int = 1) -> list[str]:
        """The bot's log lines written after `since` that contain `contains`, once there are
        `count` of them (what an operator reads: the bot says what it refused or ignored)."""

        async def found() -> list[str]:
            lines = [line for line in self.log_since(since).splitlines() if contains in line]
            return lines if len(lines) >= count else []

        return await self.wait_for(found, f"{count} log line(s) saying {contains!r}")

    async def replay(self, delivery_id: int) -> dict[str, Any]:
        """devslack sends an earlier delivery again, exactly as it went out."""
        return await self.post("replay", {"delivery_id": delivery_id})

    # -- deliveries straight to the bot (duplicates, retries) ------------------------------

    async def deliver(self, body: str | bytes, content_type: str, **headers: str) -> int:
        """POST a signed request to the bot's request URL, as Slack would."""
        return (await self.deliver_for_body(body, content_type, **headers))[0]

    async def deliver_for_body(
        self, body: str | bytes, content_type: str, **headers: str
    ) -> tuple[int, Any]:
        """`deliver`, returning the status and the response body (JSON when it is JSON)."""
        raw = body.encode() if isinstance(body, str) else body
        return await self.post_raw(raw, {**self.signed_headers(raw, content_type), **headers})

    def signed_headers(self, body: bytes, content_type: str) -> dict[str, str]:
        """The headers Slack sends with `body`: its type, a timestamp, the v0 signature."""
        timestamp = str(int(time.time()))
        secret = self.stack.env["SLACK_SIGNING_SECRET"].encode()
        base = b"v0:" + timestamp.encode() + b":" + body
        digest = hmac.new(secret, base, hashlib.sha256).hexdigest()
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
        }

    async def post_raw(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """POST exactly these bytes and headers to the bot's request URL."""
        url = self.stack.bot_url + "/slack/events"
        async with self.http.post(url, data=body, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:
                return response.status, text


async def deliver_click(slack: Slack, payload: dict[str, Any]) -> int:
    """Send a block_actions payload to the bot (form-encoded, signed); its HTTP status."""
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return await slack.deliver(body, "application/x-www-form-urlencoded")


async def deliver_event(slack: Slack, envelope: dict[str, Any], retry: int = 0) -> int:
    """Send an Events API envelope to the bot; `retry` > 0 marks it as Slack's retry N."""
    headers = {}
    if retry:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return await slack.deliver(json.dumps(envelope), "application/json", **headers)


def new_trigger_id() -> str:
    """A trigger id as Slack issues them: one per interaction, never reused."""
    return f"{int(time.time())}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"


def submission_payload(user_id: str, view: dict[str, Any], values: dict[str, Any]) -> dict:
    """The view_submission payload Slack sends when `user_id` submits `view` (as devslack
    shows it) with `values` as its `state.values`."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "devslack"},
        "user": {"id": user_id, "username": user_id, "name": user_id, "team_id": TEAM},
        "api_app_id": APP,
        "token": "devslackverificationtoken",
        "trigger_id": new_trigger_id(),
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


async def deliver_submission(slack: Slack, payload: dict[str, Any]) -> tuple[int, Any]:
    """Send a view_submission payload to the bot (signed); its status and JSON ack, if any."""
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return await slack.deliver_for_body(body, "application/x-www-form-urlencoded")


def click_payload(user: str, message: dict[str, Any], text: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` (a name) clicks the button labelled
    `text` on `message` (a channel message from `Slack.messages`)."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if (element.get("text") or {}).get("text") == text:
                action = {
                    "type": element["type"],
                    "action_id": element["action_id"],
                    "block_id": block["block_id"],
                    "text": element["text"],
                    "value": element.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
                break
        else:
            continue
        break
    else:
        raise AssertionError(f"no {text!r} button on the message")
    channel = message["channel"]
    return {
        "type": "block_actions",
        "user": {"id": USER_IDS[user], "username": user, "name": user, "team_id": TEAM},
        "api_app_id": APP,
        "token": "devslackverificationtoken",
        "team": {"id": TEAM, "domain": "devslack"},
        "enterprise": None,
        "is_enterprise_install": False,
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": message.get("thread_ts"),
        },
        "trigger_id": new_trigger_id(),
        "channel": {"id": channel, "name": "e2e"},
        "message": {k: message.get(k) for k in ("ts", "text", "blocks", "thread_ts")},
        "state": {"values": {}},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [action],
    }


def home_opened_envelope(user: str, event_id: str) -> dict[str, Any]:
    """The Events API envelope of `app_home_opened` for `user` (a name)."""
    user_id = USER_IDS[user]
    return {
        "token": "devslackverificationtoken",
        "team_id": TEAM,
        "api_app_id": APP,
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM, "user_id": "U0HITLBOT", "is_bot": True, "enterprise_id": None}
        ],
    }


def all_text(message: dict[str, Any]) -> str:
    """A message's (or view's) fallback text and every text in its blocks, for `in` checks."""
    blocks = json.dumps(message.get("blocks") or [], ensure_ascii=False)
    return message.get("text", "") + "\n" + blocks


def answer_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements of a message that answer a request (not View full/Details)."""
    found = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            action = str(element.get("action_id", ""))
            if action.startswith("hitl:") and not action.startswith(
                ("hitl:view_full", "hitl:details", "hitl:cancel_run", "hitl:view_result")
            ):
                found.append(element)
    return found


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        block["text"]["text"]
        for block in blocks
        if block.get("type") == "section" and isinstance(block.get("text"), dict)
    ]


def _cancel_leftovers(store: SqlStore) -> None:
    """Cancel what a test left waiting (straight in the database, as a second replica
    would): later tests then see only their own requests, e.g. in the Home tab."""
    engine = Engine(store)
    for run in store.list_runs(limit=1000, status=RunStatus.WAITING_FOR_HUMAN):
        with contextlib.suppress(Exception):
            engine.cancel(run.run_id, reason="test over")


@contextlib.asynccontextmanager
async def _driver(stack: Stack) -> AsyncIterator[Slack]:
    store = SqlStore(stack.db_url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        slack = Slack(stack, http, store)
        await slack.post("reset")
        if stack.devplexus is not None:
            await slack.plexus("POST", "faults", {"clear": True})
        try:
            yield slack
        finally:
            _cancel_leftovers(store)
            store.close()


@pytest.fixture
async def slack(
    stacks: dict[str, Stack], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Slack]:
    """The HTTP-mode stack (`hitlbot serve`), reset for this test."""
    async with _driver(get_stack(stacks, "http", tmp_path_factory)) as driver:
        yield driver


@pytest.fixture
async def plexus_slack(
    stacks: dict[str, Stack], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Slack]:
    """The HTTP-mode stack with devplexus beside it: every run mirrored in a local Plexus."""
    async with _driver(get_stack(stacks, "plexus", tmp_path_factory)) as driver:
        yield driver


@pytest.fixture(params=["http", "socket"])
async def any_slack(
    request: pytest.FixtureRequest,
    stacks: dict[str, Stack],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Slack]:
    """Each test using this runs in HTTP mode and in Socket Mode (`hitlbot socket`)."""
    async with _driver(get_stack(stacks, request.param, tmp_path_factory)) as driver:
        yield driver
