"""DevSlack: one running stand-in for Slack (Web API, deliveries, Socket Mode, UI, control).

Everything an instance owns (workspace, stats, faults, rate limits, connections) hangs off
this object, so several instances can run side by side in one process (tests do).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from devslack.config import DevSlackConfig, load_seed
from devslack.control import Control
from devslack.delivery import Deliverer
from devslack.faults import Faults
from devslack.interactions import Interactions
from devslack.live import LiveHub
from devslack.methods import Methods
from devslack.ratelimit import RateLimiter
from devslack.responder import Responder
from devslack.socket_mode import SocketHub
from devslack.stats import Stats
from devslack.webapi import WebApi
from devslack.workspace import Workspace

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NO_UI = (
    "<!doctype html><title>devslack</title><p>devslack is running; the web UI is not installed."
)


class DevSlack:
    """A local Slack: start() binds host:port, stop() releases everything."""

    def __init__(self, config: DevSlackConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        seed = load_seed(config.seed_path)
        self.live = LiveHub()
        self.workspace = Workspace(
            seed,
            clock=clock,
            publish=self.live.publish,
            signing_secret=config.signing_secret,
            bot_token=config.bot_token,
        )
        self.stats = Stats(self.live.publish)
        self.faults = Faults()
        self._initial_faults = config.faults
        self._apply_initial_faults()
        self.limiter = RateLimiter(clock, enabled=config.rate_limits)
        self.hub = SocketHub(seed.app_id)
        self.deliverer = Deliverer(
            stats=self.stats,
            hub=self.hub,
            signing_secret=lambda: self.workspace.signing_secret,
            app_url=config.app_url,
            # Without an app URL there is nowhere to POST: deliver over Socket Mode.
            socket_mode=config.socket_mode or not config.app_url,
            ack_timeout=config.ack_timeout,
            late_window=config.late_ack_window,
            retry_delays=config.event_retry_delays,
        )
        self.interactions = Interactions(self.workspace, self.deliverer)
        self.webapi = WebApi(
            self.workspace, Methods(self.workspace, self.hub), self.limiter, self.faults, self.stats
        )
        self.responder = Responder(self.workspace)
        self.control = Control(
            self.workspace, self.interactions, self.live, self.stats, self.faults, self.reset
        )
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _apply_initial_faults(self) -> None:
        spec = self._initial_faults
        if not spec:
            return
        for rule in spec if isinstance(spec, list) else [spec]:
            self.faults.configure(rule)

    # ------------------------------------------------------------------ HTTP app

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.add_routes(
            [
                web.route("*", "/api/{method}", self.webapi.handle),
                web.post("/_dev/hooks/{team}/{hook}", self.responder.handle),
                web.get("/link/", self.hub.handle),
                web.get("/link", self.hub.handle),
                web.get("/archives/{channel}/{ts}", self._permalink),
                web.get("/", self._index),
                *self.control.routes(),
            ]
        )
        if STATIC_DIR.is_dir():
            app.router.add_static("/static/", STATIC_DIR)
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        index = STATIC_DIR / "index.html"
        if index.is_file():
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})
        return web.Response(text=_NO_UI, content_type="text/html")

    async def _permalink(self, request: web.Request) -> web.StreamResponse:
        """chat.getPermalink links open the UI on that message."""
        raw = request.match_info["ts"].lstrip("p")
        ts = f"{raw[:-6]}.{raw[-6:]}" if len(raw) > 6 else raw
        target = f"/?channel={request.match_info['channel']}&ts={ts}"
        if request.query.get("thread_ts"):
            target += f"&thread_ts={request.query['thread_ts']}"
        raise web.HTTPFound(target)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        runner = web.AppRunner(
            self._app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        server = site._server  # the bound socket tells which free port was picked
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]
        self.workspace.base_url = self.base_url
        await self.deliverer.start()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("DevSlack.start() has not been called")
        return f"http://{self.config.host}:{self._port}"

    @property
    def env(self) -> dict[str, str]:
        """What an app needs to talk to this devslack."""
        ws = self.workspace
        return {
            "SLACK_BOT_TOKEN": ws.bot_token,
            "SLACK_SIGNING_SECRET": ws.signing_secret,
            "SLACK_APP_TOKEN": ws.app_token,
            "SLACK_API_URL": self.base_url + "/api/",
        }

    def reset(self) -> None:
        """Back to the seed (same as POST /_dev/api/reset), re-applying the initial faults."""
        self.workspace.reset()
        self.stats.reset()
        self.deliverer.forget_sent()
        self.faults.reset()
        self._apply_initial_faults()
        self.limiter.reset()
        self.live.publish({"type": "reset"}, None)

    async def stop(self) -> None:
        self.live.close()
        await self.hub.close()
        await self.deliverer.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
