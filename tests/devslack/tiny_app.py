"""A tiny Bolt app written for devslack's tests (not the project's bot).

/procedure NAME posts a message with an Approve button; Approve opens a modal asking for a
reason; submitting validates the reason (at least 5 characters, else a field error) and
then chat.update's the original message.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

COMMAND = "/procedure"
MIN_REASON = 5


def build_app(env: dict[str, str]) -> AsyncApp:
    """The app, talking to the Web API at env["SLACK_API_URL"]."""
    client = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=env["SLACK_SIGNING_SECRET"])

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        name = body["text"] or "unnamed"
        await client.chat_postMessage(
            channel=body["channel_id"],
            text=f"Procedure {name} needs approval",
            blocks=[
                {
                    "type": "section",
                    "block_id": "summary",
                    "text": {"type": "mrkdwn", "text": f"*{name}* needs approval"},
                },
                {
                    "type": "actions",
                    "block_id": "decision",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "approve",
                            "text": {"type": "plain_text", "text": "Approve"},
                            "style": "primary",
                            "value": name,
                        }
                    ],
                },
            ],
        )

    @app.action("approve")
    async def on_approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "approve_modal",
                "title": {"type": "plain_text", "text": "Approve"},
                "submit": {"type": "plain_text", "text": "Approve"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "private_metadata": json.dumps(
                    {"channel": container["channel_id"], "ts": container["message_ts"]}
                ),
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "reason",
                        "label": {"type": "plain_text", "text": "Reason"},
                        "element": {"type": "plain_text_input", "action_id": "reason_input"},
                    }
                ],
            },
        )

    @app.view("approve_modal")
    async def on_submit(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        reason = view["state"]["values"]["reason"]["reason_input"]["value"] or ""
        if len(reason) < MIN_REASON:
            await ack(
                response_action="errors",
                errors={"reason": f"Give a reason of at least {MIN_REASON} characters"},
            )
            return
        await ack()
        origin = json.loads(view["private_metadata"])
        await client.chat_update(
            channel=origin["channel"],
            ts=origin["ts"],
            text=f"Approved by <@{body['user']['id']}>: {reason}",
            blocks=[
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"Approved by <@{body['user']['id']}>: {reason}",
                    },
                }
            ],
        )

    return app


class HttpRunner:
    """Serves a Bolt app over HTTP on a free port (request verification stays on).

    The server starts before the app exists, because the app needs devslack's URL and
    devslack needs the app's: `app` is set once both are known."""

    def __init__(self) -> None:
        self.app: AsyncApp | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        assert self.app is not None, "HttpRunner.app is not set"
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def start(self) -> str:
        web_app = web.Application()
        web_app.router.add_post("/slack/events", self._handle)
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def connect_socket_mode(app: AsyncApp, env: dict[str, str]) -> AsyncSocketModeHandler:
    """Connect the app over Socket Mode (apps.connections.open through the client's base_url)."""
    handler = AsyncSocketModeHandler(app, app_token=env["SLACK_APP_TOKEN"])
    await handler.connect_async()
    return handler
