"""devslack: a strict local stand-in for Slack, written from Slack's documentation.

Run it with `python -m devslack --app-url URL`, or in-process:

    devslack = DevSlack(DevSlackConfig(app_url="http://127.0.0.1:3000/slack/events"))
    await devslack.start()
    ...  # point the app at devslack.env, drive it through /_dev/api/
    await devslack.stop()
"""

from devslack.config import DevSlackConfig
from devslack.server import DevSlack

__all__ = ["DevSlack", "DevSlackConfig"]
