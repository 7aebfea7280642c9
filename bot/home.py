"""The App Home tab: what waits for the viewer, answerable right there, and recent runs.

Requests carry the same buttons as in their thread (same action_ids and values, block_ids
unique per request), so the listeners need nothing Home-specific; a multiple choice's ticks
arrive in `body["view"]["state"]["values"]` instead of `body["state"]["values"]`.
"""

from __future__ import annotations

from typing import Any

from bot.blocks import (
    STATUS_LINES,
    answer_blocks,
    context,
    divider,
    footer,
    header,
    request_body,
    section,
    slack_date,
    who,
)
from bot.mrkdwn import escape, split
from runtime.models import PendingRequest, RunRecord

MAX_HOME_BLOCKS = 100
RUNS_RESERVE = 12  # blocks kept for the runs part, however many requests wait
MAX_RUNS = 20
RUN_LINES_PER_SECTION = 2900


def home_view(
    pending: list[PendingRequest],
    runs: list[RunRecord],
    *,
    user_id: str,
    command: str = "/procedure",
    procedure_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Home view for `user_id`: `pending` are the requests they may answer (the caller
    filters), `runs` the recent runs, newest first."""
    blocks = [
        *_pending_blocks(pending, user_id, MAX_HOME_BLOCKS - RUNS_RESERVE),
        *_run_blocks(runs, command, procedure_names or {}),
    ]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _pending_blocks(pending: list[PendingRequest], user_id: str, room: int) -> list[dict]:
    blocks: list[dict] = [header("Waiting for you")]
    if not pending:
        blocks.append(section(f"Nothing is waiting for {who(user_id)} right now."))
        return blocks
    count = len(pending)
    blocks.append(context(f"{count} request{'s' if count != 1 else ''} you can answer"))
    shown = 0
    for request in pending:
        part = [*request_body(request), *answer_blocks(request), footer(request, waiting=True)]
        if len(blocks) + len(part) + 2 > room:
            break
        blocks += [*part, divider()]
        shown += 1
    if shown < count:
        rest = count - shown
        blocks.append(
            context(f"_…and {rest} more: answer {'them' if rest > 1 else 'it'} in the thread._")
        )
    return blocks


def _run_blocks(runs: list[RunRecord], command: str, names: dict[str, str]) -> list[dict]:
    blocks: list[dict] = [header("Recent runs")]
    if not runs:
        blocks.append(section(f"No runs yet. Start one with `{escape(command + ' run <name>')}`."))
    else:
        lines = "\n".join(_run_line(run, names) for run in runs[:MAX_RUNS])
        blocks += [section(piece) for piece in split(lines, RUN_LINES_PER_SECTION)]
    run_usage = escape(f"{command} run <name> key=value")
    usage = f"`{run_usage}` starts a run · `{escape(command)} help`"
    blocks.append(context(usage))
    return blocks


def _run_line(run: RunRecord, names: dict[str, str]) -> str:
    emoji, label = STATUS_LINES[run.status]
    name = escape(names.get(run.procedure_id) or run.procedure_id)
    by = f" · by {who(run.started_by)}" if run.started_by else ""
    return (
        f"{emoji} *{name}* `{escape(run.run_id[:8])}` · {label}{by} · {slack_date(run.created_at)}"
    )
