"""DevPlexus: one running stand-in for Plexus's GraphQL API, its dashboard and control API.

Everything an instance owns (store, schema, faults, stats) hangs off this object, so several
instances can run side by side in one process (tests do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from devplexus.config import DevPlexusConfig, load_seed
from devplexus.control import Control
from devplexus.dashboard import Dashboard, as_output
from devplexus.executor import Executor, build_executable_schema
from devplexus.faults import Faults
from devplexus.graphql_http import GraphQLEndpoint
from devplexus.responses import Answer
from devplexus.seeding import apply_seed, ensure_account
from devplexus.stats import Stats
from devplexus.store import Store
from devplexus.writes import Writer

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DevPlexus:
    """A local Plexus API: start() binds host:port, stop() releases everything.

    `clock` gives every server-set time (createdAt, updatedAt, an answer's responded_at),
    so tests can order records without sleeping.
    """

    def __init__(
        self,
        config: DevPlexusConfig | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config or DevPlexusConfig()
        self.clock = clock
        self._seed = load_seed(self.config.seed_path)
        self.store = Store(self.config.db_path)
        self.writer = Writer(self.store, clock)
        self.schema, self.catalog = build_executable_schema(self.store, self.writer)
        self.faults = Faults()
        self._apply_initial_faults()
        self.stats = Stats()
        self.dashboard = Dashboard(
            self.catalog, self.store, self.writer, clock, lambda: self.config.response_target
        )
        self.endpoint = GraphQLEndpoint(
            Executor(self.schema, self.store), lambda: self.config.api_key, self.faults, self.stats
        )
        self.control = Control(
            self.catalog,
            self.store,
            self.dashboard,
            self.faults,
            self.stats,
            self.info,
            self.reset,
            lambda: self.config.dashboard_user,
        )
        if self.store.count() == 0:
            self._load_seed()
        self.account = ensure_account(self.catalog, self.writer, self.config.account_key)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _load_seed(self) -> None:
        with self.store.transaction():
            apply_seed(self.schema, self.catalog, self.writer, self._seed)

    def _apply_initial_faults(self) -> None:
        spec = self.config.faults
        if not spec:
            return
        for rule in spec if isinstance(spec, list) else [spec]:
            self.faults.configure(rule)

    # ------------------------------------------------------------------ HTTP app

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.add_routes(
            [
                web.post("/graphql", self.endpoint.handle),
                web.get("/", self._index),
                *self.control.routes(),
            ]
        )
        app.router.add_static("/static/", STATIC_DIR)
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        runner = web.AppRunner(
            self._app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # the bound socket tells which free port was picked
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.close()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("DevPlexus.start() has not been called")
        return f"http://{self.config.host}:{self._port}"

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"

    @property
    def env(self) -> dict[str, str]:
        """What a Plexus client needs to talk to this devplexus."""
        return {
            "PLEXUS_API_URL": self.graphql_url,
            "PLEXUS_API_KEY": self.config.api_key,
            "PLEXUS_ACCOUNT_KEY": self.config.account_key,
        }

    @property
    def account_id(self) -> str:
        return str(self.account["id"])

    def info(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "account": as_output(self.catalog.model("Account"), self.account),
            "dashboard_user": self.config.dashboard_user,
            "response_target": self.config.response_target,
        }

    # ------------------------------------------------------------------ test conveniences

    def reset(self) -> None:
        """Back to the seed (same as POST /_dev/api/reset), with the initial faults."""
        with self.store.transaction():
            self.store.clear()
            apply_seed(self.schema, self.catalog, self.writer, self._seed)
        self.account = ensure_account(self.catalog, self.writer, self.config.account_key)
        self.stats.reset()
        self.faults.reset()
        self._apply_initial_faults()

    def records(self, model: str, **equals: Any) -> list[dict[str, Any]]:
        """Items of `model` as GraphQL returns them, in creation order, filtered by equality."""
        definition = self.catalog.model(model)
        items = [as_output(definition, item) for item in self.store.all(model)]
        return [i for i in items if all(i.get(k) == v for k, v in equals.items())]

    async def respond(
        self,
        message_id: str,
        *,
        action: str | None = None,
        text: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Answer a pending request as the Plexus dashboard does; returns the RESPONSE row."""
        answer = Answer(
            action, text, user_id if user_id is not None else self.config.dashboard_user
        )
        return await asyncio.to_thread(self.dashboard.respond, message_id, answer)
