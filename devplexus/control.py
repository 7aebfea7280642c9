"""The control API under /_dev/api/: inspect records, answer requests, inject faults, reset.

This is how the dashboard page, tests and benchmarks drive devplexus. JSON in, JSON out;
errors are HTTP 4xx with `{"ok": false, "error": <code>, "detail": <text>}`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devplexus.catalog import Catalog
from devplexus.dashboard import Dashboard, as_output
from devplexus.faults import Faults
from devplexus.responses import Answer, RespondError
from devplexus.stats import Stats
from devplexus.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


class Control:
    """Handlers of /_dev/api/*."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        dashboard: Dashboard,
        faults: Faults,
        stats: Stats,
        info: Callable[[], dict[str, Any]],
        reset: Callable[[], None],
        dashboard_user: Callable[[], str],
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.dashboard = dashboard
        self.faults = faults
        self.stats = stats
        self._info = info
        self._reset = reset
        self._dashboard_user = dashboard_user

    def routes(self) -> list[web.RouteDef]:
        def wrap(handler: Callable[[web.Request], Awaitable[dict[str, Any]]]) -> Handler:
            async def run(request: web.Request) -> web.StreamResponse:
                try:
                    return web.json_response(await handler(request))
                except ControlError as exc:
                    body = {"ok": False, "error": exc.code, "detail": exc.detail}
                    return web.json_response(body, status=exc.status)

            return run

        return [
            web.get("/_dev/api/info", wrap(self.info)),
            web.get("/_dev/api/dashboard", wrap(self.view)),
            web.get("/_dev/api/records/{model}", wrap(self.records)),
            web.get("/_dev/api/records/{model}/{id}", wrap(self.record)),
            web.get("/_dev/api/stats", wrap(self.get_stats)),
            web.get("/_dev/api/faults", wrap(self.get_faults)),
            web.post("/_dev/api/faults", wrap(self.set_faults)),
            web.post("/_dev/api/respond", wrap(self.respond)),
            web.post("/_dev/api/reset", wrap(self.reset)),
        ]

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ControlError("invalid_json", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ControlError("invalid_json", "the body must be a JSON object")
        return body

    def _model(self, request: web.Request) -> Any:
        name = request.match_info["model"]
        if name not in self.catalog.models:
            known = ", ".join(sorted(self.catalog.models))
            raise ControlError("unknown_model", f"no model {name!r}; models: {known}", 404)
        return self.catalog.models[name]

    # ------------------------------------------------------------------ reads

    async def info(self, request: web.Request) -> dict[str, Any]:
        return self._info()

    async def view(self, request: web.Request) -> dict[str, Any]:
        view = await asyncio.to_thread(self.dashboard.view)
        return {**view, "user": self._dashboard_user()}

    async def records(self, request: web.Request) -> dict[str, Any]:
        """Every item of a model in creation order; query parameters filter by equality."""
        model = self._model(request)
        stored = await asyncio.to_thread(self.store.all, model.name)
        items = [as_output(model, item) for item in stored]
        for key, wanted in request.query.items():
            if key not in model.attributes:
                raise ControlError("unknown_attribute", f"{model.name} has no {key!r}")
            items = [i for i in items if i.get(key) is not None and str(i[key]) == wanted]
        return {"items": items}

    async def record(self, request: web.Request) -> dict[str, Any]:
        model = self._model(request)
        item = self.store.get(model.name, request.match_info["id"])
        if item is None:
            raise ControlError("not_found", f"no {model.name} {request.match_info['id']}", 404)
        return {"item": as_output(model, item)}

    async def get_stats(self, request: web.Request) -> dict[str, Any]:
        return self.stats.snapshot()

    async def get_faults(self, request: web.Request) -> dict[str, Any]:
        return {"faults": self.faults.describe()}

    # ------------------------------------------------------------------ actions

    async def set_faults(self, request: web.Request) -> dict[str, Any]:
        try:
            self.faults.configure(await self._body(request))
        except ValueError as exc:
            raise ControlError("invalid_arguments", str(exc)) from exc
        return {"ok": True, "faults": self.faults.describe()}

    async def respond(self, request: web.Request) -> dict[str, Any]:
        """Answer a pending request as the dashboard would:
        `{"message_id", "action"?, "text"?, "user_id"?}`."""
        body = await self._body(request)
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise ControlError("invalid_arguments", "`message_id` (a ChatMessage id) is required")
        for key in ("action", "text", "user_id"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ControlError("invalid_arguments", f"`{key}` must be a string")
        user = body["user_id"] if "user_id" in body else self._dashboard_user()
        answer = Answer(body.get("action") or None, body.get("text"), user or None)
        try:
            message = await asyncio.to_thread(self.dashboard.respond, message_id, answer)
        except RespondError as exc:
            raise ControlError(exc.code, exc.message, exc.status) from exc
        return {"ok": True, "message": message}

    async def reset(self, request: web.Request) -> dict[str, Any]:
        self._reset()
        return {"ok": True}
