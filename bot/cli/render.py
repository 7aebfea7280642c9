"""How a run looks in a terminal: its notifications, its requests, the answers, the outcome.

Everything a procedure wrote (messages, context, artifacts) is shown as plain `Text`, never parsed
as rich markup: a message such as "[prod] deploy" must print as written.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from runtime.models import HITLRequest, PendingRequest, RunEvent, RunRecord, RunStatus

LEVEL_STYLES = {
    "debug": "dim",
    "info": "cyan",
    "success": "green",
    "warning": "yellow",
    "error": "red",
    "critical": "bold red",
}
STATUS_STYLES = {
    RunStatus.COMPLETED: "bold green",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "bold red",
    RunStatus.WAITING_FOR_HUMAN: "bold yellow",
    RunStatus.RUNNING: "bold blue",
}
TITLES = {
    "approval": "Approval needed",
    "input": "Input needed",
    "review": "Review needed",
    "escalation": "Escalation",
    "select": "Choose one",
    "inputs": "Several answers needed",
}
# Metadata keys that steer the bot rather than inform the person answering.
HIDDEN_METADATA = frozenset({"hitlbot", "response_schema", "ui_schema"})
ARTIFACT_MAX_LINES = 40
ARTIFACT_MAX_CHARS = 4000


def make_console(*, stderr: bool = False) -> Console:
    """A console without automatic highlighting: colour only where we put it on purpose."""
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def as_text(value: Any) -> str:
    """A value as a person reads it: strings bare, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def short(text: str, limit: int = 40) -> str:
    """The first line of `text`, cut to `limit` characters: for one-line summaries."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > limit or first != text.strip():
        return first[: limit - 3].rstrip() + "..."
    return first


def truncate_artifact(text: str) -> tuple[str, int]:
    """Keep the head of a long artifact; return it with the number of lines left out."""
    lines = text.splitlines()
    kept: list[str] = []
    size = 0
    for line in lines[:ARTIFACT_MAX_LINES]:
        if kept and size + len(line) > ARTIFACT_MAX_CHARS:
            break
        kept.append(line[:ARTIFACT_MAX_CHARS])
        size += len(line) + 1
    return "\n".join(kept), len(lines) - len(kept)


def duration(seconds: int) -> str:
    """900 -> "15m", 7200 -> "2h", 5400 -> "1h30m": how people say timeouts."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0s"


def option_label(option: dict[str, Any]) -> str:
    return str(option.get("label", option.get("value")))


def describe_value(request: HITLRequest, value: Any) -> str:
    """An answer value in the words of its request: "approved", "Ship it", "note: paged DBA"."""
    kind = request.request_type
    if kind == "approval":
        return "approved" if value else "rejected"
    if kind == "review" and isinstance(value, dict):
        label = value.get("label") or value.get("decision")
        text = f"{label}"
        if value.get("feedback"):
            text += f", feedback: {value['feedback']!r}"
        artifact = request.metadata.get("artifact")
        if value.get("edited_artifact") not in (None, artifact):
            text += " (artifact edited)"
        return text
    if kind == "escalation":
        note = value.get("note") if isinstance(value, dict) else None
        return f"resolved, note: {note!r}" if note else "resolved"
    if kind in ("select", "input") and request.options:
        labels = {json.dumps(o["value"], default=str): option_label(o) for o in request.options}
        chosen = value if isinstance(value, list) else [value]
        names = [labels.get(json.dumps(v, default=str), as_text(v)) for v in chosen]
        return ", ".join(names) if names else "nothing"
    if kind == "inputs" and isinstance(value, dict):
        items = {item["item_id"]: item for item in request.metadata.get("items", [])}
        parts = []
        for item_id, item_value in value.items():
            item = items.get(item_id)
            label = item["label"] if item else item_id
            parts.append(f"{label}: {_item_value(item, item_value)}")
        return "; ".join(parts)
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else as_text(value)


def _item_value(item: dict[str, Any] | None, value: Any) -> str:
    if item is None:
        return as_text(value)
    if item["request_type"] == "approval" and isinstance(value, bool):
        return "yes" if value else "no"
    sub = HITLRequest(
        request_type=item["request_type"],
        message=item.get("message", ""),
        options=item.get("options") or None,
        metadata=item.get("metadata", {}),
    )
    return describe_value(sub, value)


class Transcript:
    """Writes the story of a run to a console as it happens."""

    def __init__(self, console: Console) -> None:
        self.console = console

    # -- run lifecycle -----------------------------------------------------------------------

    def started(self, run: RunRecord, name: str) -> None:
        line = Text.assemble(
            ("Run ", "bold"), (run.run_id[:8], "bold cyan"), " of ", (name, "bold")
        )
        self.console.print(line)
        if run.params:
            shown = ", ".join(f"{k}={short(as_text(v))}" for k, v in run.params.items())
            self.console.print(Text(f"  params: {shown}", style="dim"))

    def resuming(self, run: RunRecord) -> None:
        line = Text.assemble(
            ("Resuming run ", "bold"),
            (run.run_id[:8], "bold cyan"),
            " of ",
            (run.procedure_id, "bold"),
            f" ({run.status.value})",
        )
        self.console.print(line)

    def events(self, events: list[RunEvent]) -> None:
        for event in events:
            self.console.print(event_line(event))

    def request(self, pending: PendingRequest) -> None:
        self.console.print(request_panel(pending))

    def answered(self, pending: PendingRequest, origin: str) -> None:
        response = pending.response
        if response is None:
            return
        value = describe_value(pending.request, response.value)
        if response.timed_out:
            line = Text.assemble(("  timed out", "yellow"), f": the default applies: {value}")
        else:
            who = f" by {response.responder}" if response.responder else ""
            line = Text.assemble(("  answer", "green"), f": {value}", (f"  ({origin}{who})", "dim"))
        self.console.print(line)

    def already_answered(self, message: str) -> None:
        self.console.print(Text(f"  {message}; going on with that answer", style="yellow"))

    def completed(self, run: RunRecord) -> None:
        self.console.print(_status_line(run))
        if run.result:
            self.console.print_json(data=run.result, highlight=False, default=str)

    def waiting(self, run: RunRecord, hint: str) -> None:
        self.console.print(_status_line(run))
        self.console.print(Text(f"Resume with: {hint}"), soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(Text(message, style="dim"), soft_wrap=True)


def _status_line(run: RunRecord) -> Text:
    return Text.assemble(
        "Run ",
        (run.run_id[:8], "bold cyan"),
        " ",
        (run.status.value, STATUS_STYLES.get(run.status, "bold")),
    )


def event_line(event: RunEvent) -> Text:
    payload = event.payload
    level = str(payload.get("level", "info"))
    style = LEVEL_STYLES.get(level, "")
    message = as_text(payload.get("message", ""))
    if event.kind == "stage":
        return Text.assemble(
            ("-- stage: ", "dim"), (str(payload.get("stage")), "bold"), (" --", "dim")
        )
    if event.kind == "alert":
        source = f" ({payload['source']})" if payload.get("source") else ""
        return Text.assemble(
            (f"ALERT {level.upper()}{source}: ", f"bold {style}"), (message, style)
        )
    if event.kind == "log":
        quiet = level in ("debug", "info")
        return Text.assemble((f"  log {level}: ", "dim"), (message, "dim" if quiet else style))
    line = Text.assemble((f"[{level}] ", style), (message, style))
    for detail in payload.get("details") or []:
        line.append(f"\n    {detail.get('title')}: {detail.get('content')}", style="dim")
    return line


def request_panel(pending: PendingRequest) -> Panel:
    request = pending.request
    body: list[RenderableType] = [Text(request.message, style="bold")]
    body.extend(_details(request))
    body.append(Text(_footer(pending), style="dim"))
    title = TITLES.get(request.request_type, request.request_type)
    if request.request_type == "escalation":
        severity = str(request.metadata.get("severity", "error"))
        title = f"Escalation - severity {severity.upper()}"
        border = LEVEL_STYLES.get(severity, "red")
    elif request.request_type == "select" and request.metadata.get("mode") == "multiple":
        title = "Choose one or more"
        border = "magenta"
    else:
        border = "magenta"
    return Panel(
        Group(*body),
        title=Text(title, style="bold"),
        title_align="left",
        border_style=border,
        expand=False,
    )


def _footer(pending: PendingRequest) -> str:
    request = pending.request
    parts = [pending.request_id]
    if request.timeout_seconds and request.request_type != "escalation":
        default = request.default_value
        shown = describe_value(request, default) if default is not None else "no answer"
        parts.append(f"times out after {duration(request.timeout_seconds)} (default: {shown})")
    return " - ".join(parts)


def _details(request: HITLRequest) -> list[RenderableType]:
    kind = request.request_type
    meta = request.metadata
    if kind == "approval":
        return _context(meta)
    if kind == "input":
        out = _options(request.options) if request.options else []
        if meta.get("placeholder"):
            out.append(Text(f"e.g. {meta['placeholder']}", style="dim"))
        if request.default_value is not None:
            out.append(Text(f"default: {as_text(request.default_value)}", style="dim"))
        return out
    if kind == "review":
        return [*_context(meta.get("context") or {}), *_artifact(meta), *_options(request.options)]
    if kind == "escalation":
        return _context(meta.get("context") or {})
    if kind == "select":
        out = _context({k: v for k, v in meta.items() if k not in ("mode", "min", "max", "style")})
        out.extend(_options(request.options))
        if meta.get("mode") == "multiple":
            out.append(Text(_bounds(meta), style="dim"))
        return out
    if kind == "inputs":
        return [_items_table(meta.get("items", []))]
    return _context(meta)


def _bounds(meta: dict[str, Any]) -> str:
    low, high = meta.get("min"), meta.get("max")
    if low and high:
        return f"choose {low} to {high}" if low != high else f"choose exactly {low}"
    if low:
        return f"choose at least {low}"
    if high:
        return f"choose at most {high}"
    return "choose any number"


def _context(context: dict[str, Any]) -> list[RenderableType]:
    shown = {k: v for k, v in context.items() if k not in HIDDEN_METADATA and v not in (None, "")}
    if not shown:
        return []
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for key, value in shown.items():
        grid.add_row(str(key), Text(as_text(value)))
    return [grid]


def _options(options: list[dict[str, Any]] | None) -> list[RenderableType]:
    if not options:
        return []
    lines = Text()
    for number, option in enumerate(options, start=1):
        if number > 1:
            lines.append("\n")
        lines.append(f"  {number}. ", style="bold")
        lines.append(option_label(option))
        if option.get("description"):
            lines.append(f" - {option['description']}", style="dim")
    return [lines]


def _artifact(meta: dict[str, Any]) -> list[RenderableType]:
    artifact = meta.get("artifact")
    if artifact is None:
        return []
    text = artifact if isinstance(artifact, str) else json.dumps(artifact, indent=2, default=str)
    head, left_out = truncate_artifact(text)
    body = Text(head)
    if left_out:
        body.append(f"\n... {left_out} more line{'s' if left_out != 1 else ''}", style="dim")
    title = str(meta.get("artifact_type") or "artifact")
    return [Panel(body, title=Text(title, style="dim"), title_align="left", border_style="dim")]


def _items_table(items: list[dict[str, Any]]) -> Table:
    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 1))
    table.add_column("#")
    table.add_column("item")
    table.add_column("asks")
    table.add_column("")
    for number, item in enumerate(items, start=1):
        required = "required" if item.get("required", True) else "optional"
        kind = item.get("request_type", "input")
        if kind == "select" and item.get("metadata", {}).get("mode") == "multiple":
            kind = "select several"
        table.add_row(str(number), Text(item.get("label", item["item_id"])), kind, required)
    return table


def runs_table(rows: list[dict[str, Any]], now: datetime) -> Table:
    """The `hitlbot runs` table; rows come from `bot.cli.report.run_summary`."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False)
    # The identifying columns never wrap; the request message gives way to them.
    table.add_column("run", no_wrap=True)
    table.add_column("procedure", no_wrap=True, max_width=24, overflow="ellipsis")
    table.add_column("status", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("waiting on", min_width=16)
    for row in rows:
        status = RunStatus(row["status"])
        waiting = row["waiting_on"]
        table.add_row(
            Text(row["run_id"][:8], style="cyan"),
            Text(row["procedure_id"]),
            Text(status.value, style=STATUS_STYLES.get(status, "")),
            ago(datetime.fromisoformat(row["updated_at"]), now),
            Text(f"{waiting['request_type']}: {short(waiting['message'], 60)}")
            if waiting
            else Text(""),
        )
    return table


def ago(moment: datetime, now: datetime) -> str:
    """How long ago, as people say it; a date once it is more than a week old."""
    seconds = int((now - moment).total_seconds())
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            if unit == "d" and seconds >= 7 * 86400:
                return moment.astimezone().strftime("%Y-%m-%d")
            return f"{seconds // size}{unit} ago"
    return "just now"
