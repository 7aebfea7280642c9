"""`hitlbot dev`: the whole thing on one machine, with nothing to sign up for.

Starts devslack (a local Slack), devplexus (a local Plexus), the bot in HTTP mode pointed at
both with their tokens and keys, a SQLite file and a procedures directory, then prints the URLs
to open. Requests between them go over real HTTP, signed, exactly as with Slack and Plexus: a
click in Slack shows in Plexus, and an answer given in Plexus resumes the run in Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from aiohttp import web

from bot.server import BotRuntime
from bot.settings import load_settings
from devplexus import DevPlexus, DevPlexusConfig
from devslack.config import DevSlackConfig
from devslack.server import DevSlack

LOCALHOST = "127.0.0.1"


async def run_dev(*, port: int, slack_port: int, procedures: Path, db: str) -> None:
    devslack = DevSlack(
        DevSlackConfig(app_url=f"http://{LOCALHOST}:{port}/slack/events", port=slack_port)
    )
    await devslack.start()
    # A local Plexus too, kept beside the database: runs are mirrored there and can be
    # answered from its dashboard, as with a real Plexus.
    plexus_db = str(Path(db).with_suffix(".plexus.db")) if "://" not in db else None
    devplexus = DevPlexus(DevPlexusConfig(db_path=plexus_db))
    await devplexus.start()
    os.environ.update(devplexus.env)  # PLEXUS_*: read as a real deployment's would be
    env = devslack.env
    settings = load_settings(
        SLACK_BOT_TOKEN=env["SLACK_BOT_TOKEN"],
        SLACK_SIGNING_SECRET=env["SLACK_SIGNING_SECRET"],
        SLACK_API_URL=env["SLACK_API_URL"],
        HITLBOT_DATABASE_URL=db if "://" in db else f"sqlite:///{db}",
        HITLBOT_PROCEDURES_DIR=str(procedures),
        HITLBOT_HOST=LOCALHOST,
        HITLBOT_PORT=port,
    ).require("dev")
    bot = BotRuntime(settings)
    runner = web.AppRunner(bot.web_app())
    await runner.setup()
    await web.TCPSite(runner, LOCALHOST, port).start()
    print(f"hitlbot dev is running. Open {devslack.base_url}/ in your browser.", flush=True)
    print(
        f"  Try `{settings.command} list` or `{settings.command} run deploy_approval` "
        "in #deploys; act as another user to approve. Ctrl-C stops.",
        flush=True,
    )
    print(
        f"  Plexus: {devplexus.base_url}/ shows every run too, and can answer its requests.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await devslack.stop()
        await devplexus.stop()
