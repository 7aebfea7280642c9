"""`hitlbot serve`, `hitlbot socket` and `hitlbot dev`: the long-running commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from bot.settings import load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # Request-level chatter from the HTTP stack adds nothing a person needs.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def serve_command(args: argparse.Namespace) -> int:
    from bot.server import serve_http

    overrides = {"HITLBOT_PORT": args.port} if args.port else {}
    settings = load_settings(**overrides).require("http")
    _logging()
    serve_http(settings)
    return 0


def socket_command(args: argparse.Namespace) -> int:
    from bot.server import BotRuntime

    settings = load_settings().require("socket")
    _logging()
    asyncio.run(BotRuntime(settings).serve_socket_mode())
    return 0


def dev_command(args: argparse.Namespace) -> int:
    from bot.dev import run_dev

    _logging()
    asyncio.run(
        run_dev(
            port=args.port,
            slack_port=args.slack_port,
            procedures=Path(args.procedures),
            db=args.db,
        )
    )
    return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "serve",
        help="run the Slack bot over HTTP (POST /slack/events, /healthz, /readyz)",
        description="Run the Slack app in HTTP mode. Settings come from the environment: "
        "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL, HITLBOT_DATABASE_URL, "
        "HITLBOT_PROCEDURES_DIR, HITLBOT_DEFAULT_CHANNEL, HITLBOT_COMMAND, HITLBOT_PORT.",
    )
    serve.add_argument("--port", type=int, help="port to listen on (default: HITLBOT_PORT or 3000)")
    commands.add_parser(
        "socket",
        help="run the Slack bot over Socket Mode (needs SLACK_APP_TOKEN)",
        description="Run the Slack app in Socket Mode: no public URL needed.",
    )
    dev = commands.add_parser(
        "dev",
        help="run the bot against a local Slack (devslack) and print the URL to open",
        description="Start devslack, the bot in HTTP mode pointed at it, a SQLite file and the "
        "procedures directory; open the printed URL in a browser.",
    )
    dev.add_argument("--port", type=int, default=3000, help="the bot's port (default: 3000)")
    dev.add_argument("--slack-port", type=int, default=3100, help="devslack's port (default: 3100)")
    dev.add_argument(
        "--procedures", default="examples", help="procedures directory (default: examples)"
    )
    dev.add_argument("--db", default="hitlbot.db", help="SQLite file (default: hitlbot.db)")
