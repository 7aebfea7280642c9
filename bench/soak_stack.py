"""The soak's stack: devslack and the bot as processes, and what they hold.

`Stack` starts `python -m devslack` (rate limits on) and `python -m bot.cli serve` on free
ports in a temporary directory, crashes the bot with SIGKILL and starts it again, and ends
every process it started, by id. `ControlAPI` is devslack's control API (what people do, what
Slack holds, its live event stream); `Database` reads the bot's SQLite file with the bot's own
store, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from soak_audit import PROCEDURE, PROCEDURE_ID, Records

import devslack
from adapters.sql import SqlStore

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0  # seconds for devslack, or a (re)started bot, to serve


class StackError(Exception):
    """devslack or the bot did not start or died on its own: the soak cannot go on."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    found = [line.strip() for line in lines if line.strip()]
    return found[-1] if found else "(no output)"


def channel_ids(count: int) -> list[str]:
    return [f"C0SOAK{n:03d}" for n in range(1, count + 1)]


# --------------------------------------------------------------------------- processes


class Stack:
    """devslack and the bot as child processes; the bot can be crashed and restarted, and
    `stop()` ends every process this started (by id) whatever happened."""

    def __init__(self, tmp: Path, channels: list[str]) -> None:
        self.tmp = tmp
        self.channels = channels
        self.slack_url = f"http://{HOST}:{free_port()}"
        self.bot_port = free_port()
        self.devslack: subprocess.Popen[bytes] | None = None
        self.bots: list[subprocess.Popen[bytes]] = []  # every start; the last one serves
        self.env: dict[str, str] = {}
        self.ready = asyncio.Event()
        self.failure = ""  # why the current bot will not become ready
        self.restarts: list[float] = []  # seconds from a kill to the new bot ready
        self.orphans: set[int] = set()  # worker pids of killed bots, checked at the end
        self._watch: asyncio.Task[None] | None = None

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'bot.db'}"

    def _spawn(self, argv: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} starting {' '.join(argv)}\n".encode())
            out.flush()
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is ours to handle
            )

    async def start(self) -> None:
        procedures = self.tmp / "procedures"
        procedures.mkdir()
        (procedures / f"{PROCEDURE_ID}.yaml").write_text(PROCEDURE)
        argv = [sys.executable, "-m", "devslack", "--port", self.slack_url.rsplit(":", 1)[1]]
        argv += ["--seed", str(self._write_seed())]
        argv += ["--app-url", f"http://{HOST}:{self.bot_port}/slack/events"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.devslack = self._spawn(argv, "devslack.log", env)
        self.env = await self._devslack_env()
        self.start_bot()
        await self.wait_ready()

    def _write_seed(self) -> Path:
        """devslack's own seed plus the soak's channels (every user and the bot are in)."""
        seed = yaml.safe_load((Path(devslack.__file__).parent / "seed.yaml").read_text())
        seed["channels"] += [
            {"id": cid, "name": f"soak-{i:02d}"} for i, cid in enumerate(self.channels, 1)
        ]
        path = self.tmp / "seed.yaml"
        path.write_text(yaml.safe_dump(seed))
        return path

    async def _devslack_env(self) -> dict[str, str]:
        """The `export K=V` lines devslack prints once it listens."""
        log = self.tmp / "devslack.log"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self.devslack is not None
            if self.devslack.poll() is not None:
                raise StackError(
                    f"devslack exited with status {self.devslack.returncode}: {last_line(log)}"
                )
            found = dict(re.findall(r"export (\w+)=(\S+)", log.read_text(errors="replace")))
            if "SLACK_API_URL" in found:
                return found
            await asyncio.sleep(0.05)
        raise StackError(f"devslack did not start within {STARTUP_TIMEOUT:.0f} s")

    def _bot_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITLBOT_"))}
        env.update(
            PYTHONUNBUFFERED="1",
            SLACK_BOT_TOKEN=self.env["SLACK_BOT_TOKEN"],
            SLACK_SIGNING_SECRET=self.env["SLACK_SIGNING_SECRET"],
            SLACK_API_URL=self.env["SLACK_API_URL"],
            HITLBOT_DATABASE_URL=self.db_url,
            HITLBOT_PROCEDURES_DIR=str(self.tmp / "procedures"),
            HITLBOT_HOST=HOST,
            HITLBOT_PORT=str(self.bot_port),
            HITLBOT_HEARTBEAT_SECONDS="1",
        )
        return env

    def start_bot(self) -> None:
        argv = [sys.executable, "-m", "bot.cli", "serve"]
        bot = self._spawn(argv, "bot.log", self._bot_env())
        self.bots.append(bot)
        self.ready.clear()
        self.failure = ""
        self._watch = asyncio.get_running_loop().create_task(self._until_ready(bot))

    async def _until_ready(self, bot: subprocess.Popen[bytes]) -> None:
        started = time.monotonic()
        url = f"http://{HOST}:{self.bot_port}/readyz"
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while time.monotonic() - started < STARTUP_TIMEOUT:
                if bot.poll() is not None:
                    log = last_line(self.tmp / "bot.log")
                    self.failure = f"the bot exited with status {bot.returncode}: {log}"
                    return
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(url) as response:
                        if response.status == 200:
                            self.ready.set()
                            if len(self.bots) > 1:
                                self.restarts.append(time.monotonic() - started)
                            return
                await asyncio.sleep(0.1)
        self.failure = f"the bot was not ready within {STARTUP_TIMEOUT:.0f} s"

    async def wait_ready(self) -> None:
        """Until the bot serves; StackError if it cannot (it exited, or took too long)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT + 1
        bot = self.bots[-1]
        if bot.poll() is not None and not self.failure:  # it died after it was ready
            log = last_line(self.tmp / "bot.log")
            self.failure = f"the bot exited by itself with status {bot.returncode}: {log}"
            self.ready.clear()
        while not self.ready.is_set():
            if self.failure:
                raise StackError(self.failure)
            if time.monotonic() > deadline:
                raise StackError(f"the bot was not ready within {STARTUP_TIMEOUT:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), 0.5)

    def crash_bot(self) -> None:
        """SIGKILL the serving bot (nothing flushed, nothing cleaned up) and start another."""
        bot = self.bots[-1]
        self.orphans |= worker_pids(bot.pid)
        bot.kill()
        bot.wait(timeout=10)
        if self._watch is not None:
            self._watch.cancel()
        self.start_bot()

    def surviving_workers(self) -> list[int]:
        """Worker processes of killed bots still alive (they should exit with their bot)."""
        return [pid for pid in sorted(self.orphans) if is_worker(pid)]

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for proc in [*self.bots, self.devslack]:
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in self.surviving_workers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def keep(self, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        for name in ("devslack.log", "bot.log", "bot.db", "bot.db-wal", "bot.db-shm"):
            if (self.tmp / name).exists():
                shutil.copy2(self.tmp / name, where / name)


def worker_pids(pid: int) -> set[int]:
    """The children of `pid` (the bot's procedure workers), from /proc."""
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found |= {int(child) for child in children.read_text().split()}
    return found


def is_worker(pid: int) -> bool:
    try:
        return b"runtime.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# --------------------------------------------------------------------------- devslack's API


class ControlAPI:
    """devslack's control API (`/_dev/api/`): what people do, and what Slack holds."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.api = f"{base_url}/_dev/api/"

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body); status 0 when devslack did not answer in time (the action may
        or may not have happened, as when a person's client loses its connection)."""
        try:
            async with self.http.post(self.api + path, json=body) as response:
                return response.status, await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, {"error": f"devslack did not answer ({type(exc).__name__})"}

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        async with self.http.get(self.api + path, params=params) as response:
            data = await response.json()
            if response.status != 200:
                raise RuntimeError(f"GET {path} {params}: HTTP {response.status} {data}")
            return data

    async def messages(self, channels: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Every message of `channels`, threads included, as (channel, message)."""
        found: list[tuple[str, dict[str, Any]]] = []
        for channel in channels:
            for message in (await self.get("messages", channel=channel))["messages"]:
                found.append((channel, message))
                if message.get("reply_count"):
                    thread = await self.get("messages", channel=channel, thread_ts=message["ts"])
                    found += [(channel, reply) for reply in thread["messages"][1:]]
        return found

    async def stats(self, *, deliveries: bool = True) -> dict[str, Any]:
        return await self.get("stats", **({} if deliveries else {"limit": "0"}))

    async def follow(self, on_message: Callable[[str, dict[str, Any]], None]) -> None:
        """Hand every message devslack posts or changes to `on_message`, from the live
        stream (`GET live`); reconnects when the stream breaks, until cancelled."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=None)
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, ValueError):
                async with self.http.get(self.api + "live", timeout=timeout) as response:
                    buffer = b""
                    async for chunk in response.content.iter_any():
                        buffer += chunk
                        while b"\n\n" in buffer:
                            frame, buffer = buffer.split(b"\n\n", 1)
                            for line in frame.split(b"\n"):
                                if line.startswith(b"data: "):
                                    event = json.loads(line[6:])
                                    if event.get("type") == "message" and not event.get("deleted"):
                                        on_message(str(event["channel"]), event)
            await asyncio.sleep(1)


# --------------------------------------------------------------------------- the database


class Database:
    """The bot's SQLite file, read with the bot's own store (off the event loop)."""

    def __init__(self, url: str) -> None:
        self.store = SqlStore(url)

    def close(self) -> None:
        self.store.close()

    async def run_numbers(self) -> set[int]:
        runs = await asyncio.to_thread(self.store.list_runs, limit=1_000_000)
        return {run.params["n"] for run in runs if isinstance(run.params.get("n"), int)}

    async def progress(self) -> tuple[Counter[str], int, int, int]:
        """(runs by status, answered requests, posts and updates queued for Slack, runs with
        half-done work): what changes while the bot gets on."""

        def read() -> tuple[Counter[str], int, int, int]:
            runs = self.store.list_runs(limit=1_000_000)
            answered = sum(r.response is not None for r in self.store.list_requests())
            return (
                Counter(run.status.value for run in runs),
                answered,
                len(self.store.list_annotations("outbox:")),
                len(self.store.list_annotations("slack:unsynced")),
            )

        return await asyncio.to_thread(read)

    async def records(self) -> Records:
        def read() -> Records:
            runs = self.store.list_runs(limit=1_000_000)
            refs = {
                run_id: (value["channel"], value["ts"])
                for run_id, _, value in self.store.list_annotations("slack:post:run")
                if isinstance(value, dict) and value.get("ts")
            }
            return Records(
                runs=runs,
                requests=self.store.list_requests(),
                events={run.run_id: self.store.list_events(run.run_id) for run in runs},
                thread_refs=refs,
            )

        return await asyncio.to_thread(read)
