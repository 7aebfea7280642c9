"""Serving the bot: HTTP mode on aiohttp, or Socket Mode, over one set of wired parts.

`BotRuntime` builds everything from `Settings` (store, engine, Slack client, service, timers,
app) and owns the background tasks (the heartbeat, timers, the outbox, recovery of what a dead
process left half done, periodic syncs) for the lifetime of the server, whichever transport
delivers Slack's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.plexus import PlexusAnswerFeed, PlexusClient
from adapters.sql import SqlStore
from bot.app import Listeners, build_app
from bot.approvers import Approvers
from bot.catalog import RECHECK_SECONDS, ProcedureCatalog
from bot.deliveries import FORGET_EVERY_SECONDS, Deliveries
from bot.intake import HttpIntake, Refused, SocketModeIntake
from bot.journal import JournalFollower, View
from bot.liveness import Liveness
from bot.plexus_answers import PlexusAnswers
from bot.plexus_procedures import PlexusProcedures
from bot.plexus_view import PlexusView
from bot.service import RunService
from bot.settings import Settings
from bot.slack_io import SlackIO, SlackIOConfig
from bot.timers import Timers
from bot.view_seal import ViewSeal
from runtime.engine import Engine
from runtime.errors import HitlbotError
from runtime.loader import MAX_FILE_BYTES
from runtime.pool import WorkerPool
from runtime.quotas import MIB

log = logging.getLogger("hitlbot")

SYNC_EVERY_SECONDS = 15.0
JOURNAL_EVERY_SECONDS = 1.0  # when a view follows it (it is also woken by every change)
JOURNAL_IDLE_SECONDS = 60.0  # when none does: it is only trimmed


class BotRuntime:
    """The bot's parts, wired once, with the background work they need."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SqlStore(settings.database_url)
        # Procedures execute (and procedure files are read) in worker processes that can be
        # killed at their time limit and are held to a memory limit by the OS.
        self.workers = WorkerPool(
            settings.lua_workers, memory_bytes=settings.worker_memory_mb * MIB
        )
        self.engine = Engine(
            self.store,
            executor=self.workers,
            limits=settings.limits(),
            quotas=settings.quotas(),
        )
        beat = settings.heartbeat_seconds
        self.liveness = Liveness(self.store, interval=beat, stale_after=3 * beat)
        self.catalog = ProcedureCatalog(settings.procedures_dir, load=self.workers.load)
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        self.client = AsyncWebClient(
            token=token,
            base_url=settings.slack_api_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=3),
                AsyncRateLimitErrorRetryHandler(max_retry_count=5),
                AsyncServerErrorRetryHandler(max_retry_count=3),
            ],
        )
        self.slack = SlackIO(
            self.client,
            self.store,
            config=SlackIOConfig(
                pace_per_second=settings.slack_pace,
                updates_per_minute=settings.slack_update_pace,
            ),
            liveness=self.liveness,
        )
        self.approvers = Approvers(self.slack.client)
        self.service = RunService(
            engine=self.engine,
            store=self.store,
            catalog=self.catalog,
            slack=self.slack,
            approvers=self.approvers,
            escalation_mention=settings.escalation_mention,
            liveness=self.liveness,
            lua_workers=settings.lua_workers,
        )
        self.timers = Timers(self.store, self.service.time_out, self.service.remind)
        self.service.schedule = self.timers.schedule
        self.service.unschedule = self.timers.cancel
        secret = settings.slack_signing_secret
        signing_secret = secret.get_secret_value() if secret else None
        # The views of runs that follow the run journal: Plexus, when it is configured.
        views: list[View] = []
        plexus_procedures: PlexusProcedures | None = None
        self.plexus: PlexusClient | None = None
        self.plexus_answers: PlexusAnswers | None = None
        plexus_settings = settings.plexus()
        if plexus_settings is not None:
            self.plexus = PlexusClient(plexus_settings)
            views.append(
                PlexusView(
                    self.plexus,
                    self.store,
                    procedure_text=_procedure_text,
                    procedure_name=self._procedure_name,
                )
            )
            feed = PlexusAnswerFeed(self.plexus)
            self.plexus_answers = PlexusAnswers(feed, self.service, self.liveness)
            plexus_procedures = PlexusProcedures(self.plexus, self.workers.load)
        self.journal = JournalFollower(self.store, self.liveness, views=views)
        self.service.changed = self.journal.wake
        self.deliveries = Deliveries(self.store, self.liveness)
        self.intake = HttpIntake(signing_secret)
        self.listeners = Listeners(
            self.service,
            self.catalog,
            settings.command,
            settings.default_channel,
            self.deliveries,
            ViewSeal(token or ""),
            plexus=plexus_procedures,
        )
        self.app = build_app(
            client=self.client, signing_secret=signing_secret, listeners=self.listeners
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self.ready = False

    async def start(self) -> None:
        """Check the token, start the workers, read the procedures, say this process lives,
        restart timers, start the loops (which first finish what a crash left half done)."""
        await self.client.auth_test()
        await asyncio.to_thread(self.workers.start)
        await self.catalog.refresh()
        await asyncio.to_thread(self.liveness.beat)
        await self.timers.start()
        every = self.liveness.interval
        self._tasks = [
            asyncio.create_task(
                _forever(self.catalog.refresh, RECHECK_SECONDS, "reading procedures"),
                name="catalog",
            ),
            asyncio.create_task(
                _forever(lambda: asyncio.to_thread(self.liveness.beat), every, "heartbeat"),
                name="heartbeat",
            ),
            asyncio.create_task(self.slack.run_outbox(), name="outbox"),
            asyncio.create_task(_forever(self._recover, every, "recovery"), name="recover"),
            asyncio.create_task(
                _forever(self.service.sync_waiting, SYNC_EVERY_SECONDS, "sync"), name="sync"
            ),
            asyncio.create_task(
                _forever(self.deliveries.forget_old, FORGET_EVERY_SECONDS, "forgetting"),
                name="deliveries",
            ),
            asyncio.create_task(
                self.journal.run(JOURNAL_EVERY_SECONDS if self.plexus else JOURNAL_IDLE_SECONDS),
                name="journal",
            ),
        ]
        if self.plexus_answers is not None:
            poll = _forever(self.plexus_answers.poll, self.settings.plexus_poll_seconds, "Plexus")
            self._tasks.append(asyncio.create_task(poll, name="plexus-answers"))
        self.ready = True

    def _procedure_name(self, procedure_id: str) -> str:
        try:
            return self.catalog.get(procedure_id).name
        except HitlbotError:
            return procedure_id

    async def _recover(self) -> None:
        """Finish what stopped processes left half done: their runs, then the requests they
        acked and did not act on (which may need those runs)."""
        await self.service.recover()
        await self.listeners.redo_unfinished()

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.service.idle()
        self.service.close()
        self.deliveries.close()
        if self.plexus is not None:
            await self.plexus.aclose()
        await asyncio.to_thread(self.workers.close)
        await self.timers.stop()
        await asyncio.to_thread(self.liveness.retire)  # what is left over may be taken at once
        await self.slack.close()
        self.store.close()

    # -- HTTP mode ----------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/events", self._slack_events)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.on_startup.append(lambda _: self.start())
        app.on_cleanup.append(lambda _: self.stop())
        return app

    async def _slack_events(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            bolt_request = self.intake.read(raw, request.headers, request.query_string)
        except Refused as refused:
            log.warning(
                "refused a request (HTTP %d) from %s: %s",
                refused.status,
                request.remote,
                refused.reason,
            )
            return web.json_response({"error": refused.reason}, status=refused.status)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        if not self.ready:
            return web.json_response({"ok": False, "reason": "starting"}, status=503)
        try:
            await asyncio.to_thread(self.store.list_runs, limit=1)
        except Exception as exc:
            return web.json_response({"ok": False, "reason": f"database: {exc}"}, status=503)
        return web.json_response({"ok": True})

    # -- Socket Mode ----------------------------------------------------------------------------

    async def serve_socket_mode(self) -> None:
        token = self.settings.slack_app_token
        handler = SocketModeIntake(self.app, app_token=token.get_secret_value() if token else None)
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # as HTTP mode: finish the work taken on
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await handler.connect_async()
            await stop.wait()
        finally:
            await handler.close_async()
            await self.stop()


async def _forever(work: Callable[[], Awaitable[None]], every: float, what: str) -> None:
    """Do `work` now and then every `every` seconds; a failure is logged, never fatal."""
    while True:
        try:
            await work()
        except Exception:  # one bad run must not stop the loop
            log.exception("%s failed", what)
        await asyncio.sleep(every)


def _procedure_text(source_path: str | None) -> str | None:
    """A procedure file's text, for Plexus's copy of it (None when it cannot be read)."""
    if not source_path:
        return None
    try:
        path = Path(source_path)
        return path.read_text(encoding="utf-8") if path.stat().st_size <= MAX_FILE_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


def serve_http(settings: Settings) -> None:
    """Run HTTP mode until interrupted."""
    bot = BotRuntime(settings)
    web.run_app(bot.web_app(), host=settings.host, port=settings.port, print=None)
