"""`hitlbot`, the command line: run procedures in a terminal, answer their requests, resume them.

The CLI is one more channel next to Slack: it drives the same `runtime.engine.Engine` over the same
SQL store, so a run started here can be answered in Slack, and the other way round.
"""

from bot.cli.app import main

__all__ = ["main"]
