"""Block Kit messages for runs and their requests: what people see in a run's thread.

Pure functions from runtime records to `(fallback text, blocks)`; no I/O. Every payload stays
inside Slack's limits (texts, fields, buttons, 50 blocks, and a total well under the ~13k
characters Slack starts refusing), so a procedure can never produce a message Slack rejects.

Everything a procedure or a person wrote is escaped (`bot.mrkdwn.escape`) or converted from
Markdown (`to_mrkdwn`); only mentions the bot builds itself (`<@U...>`, the configured
responders) reach Slack as markup.

Interactive ids: every element's action_id starts with `hitl:<verb>`; buttons that share a
block get `:<n>` appended (Slack wants action_ids unique within a block), so listeners match
`ACTION_PATTERNS`. Interactive block_ids are `<kind>|<request_id>`, unique per request, so
a Home tab can hold many requests.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.mrkdwn import escape, link, to_mrkdwn, truncate
from runtime.answers import canonical_value
from runtime.models import HITLRequest, PendingRequest, RunRecord, RunStatus

# --- ids the listeners route on -----------------------------------------------------------

ACTION_APPROVE = "hitl:approve"
ACTION_REJECT = "hitl:reject"
ACTION_RESPOND = "hitl:respond"
ACTION_DECIDE = "hitl:decide"  # review option button (or menu); value {"r", "o"}
ACTION_SELECT = "hitl:select"  # single choice menu; selected option value {"r", "o"}
ACTION_CHOOSE = "hitl:choose"  # single choice button; value {"r", "o"}
ACTION_CHECKS = "hitl:checks"  # multiple choice checkboxes / menu: state only, ack and ignore
ACTION_SUBMIT_CHECKS = "hitl:submit_checks"  # value = request_id
ACTION_RESOLVE = "hitl:resolve"  # value = request_id
ACTION_DETAILS = "hitl:details"  # value {"run", "seq"}
ACTION_VIEW_FULL = "hitl:view_full"  # value = request_id
ACTION_VIEW_RESULT = "hitl:view_result"  # value = run_id
ACTION_CANCEL_RUN = "hitl:cancel_run"  # value = run_id

CALLBACK_INPUT = "hitl_input"
CALLBACK_REVIEW = "hitl_review"
CALLBACK_INPUTS = "hitl_inputs"
CALLBACK_RESOLVE = "hitl_resolve"
CALLBACK_PARAMS = "run_params"
CALLBACK_INFO = "hitl_info"  # read-only modals (details, full text): nothing to submit

_ALL_ACTIONS = (
    ACTION_APPROVE,
    ACTION_REJECT,
    ACTION_RESPOND,
    ACTION_DECIDE,
    ACTION_SELECT,
    ACTION_CHOOSE,
    ACTION_CHECKS,
    ACTION_SUBMIT_CHECKS,
    ACTION_RESOLVE,
    ACTION_DETAILS,
    ACTION_VIEW_FULL,
    ACTION_VIEW_RESULT,
    ACTION_CANCEL_RUN,
)
# For app.action(...): each action's id, optionally followed by ":<n>".
ACTION_PATTERNS: dict[str, re.Pattern[str]] = {
    action: re.compile("^" + re.escape(action) + r"(?::\d+)?$") for action in _ALL_ACTIONS
}

# --- Slack's limits (docs.slack.dev/reference/block-kit) and ours -------------------------

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
OPTION_LIMIT = 75
OPTION_VALUE_LIMIT = 150
PLACEHOLDER_LIMIT = 150
ID_LIMIT = 255
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTION_ELEMENTS = 25
MAX_CHECKBOXES = 10
MAX_MENU_OPTIONS = 100
MAX_MESSAGE_BLOCKS = 50
FALLBACK_LIMIT = 300  # the notification line: short, and far from chat.update's 4,000

MAX_BUTTONS = 5  # more choices than this become a menu: a wrapping row of buttons reads badly
MESSAGE_PREVIEW = 2000
ARTIFACT_PREVIEW = 1500
ARTIFACT_PREVIEW_LINES = 25
FIELD_PREVIEW = 200
MAX_SHOWN_FIELDS = 20
LIST_PREVIEW = 1200
ANSWER_PREVIEW = 1000

# --- vocabulary ---------------------------------------------------------------------------

TITLES = {
    "approval": "Approval needed",
    "input": "Input needed",
    "review": "Review needed",
    "select": "Choose one",
    "inputs": "Answers needed",
    "escalation": "Escalation",
}
LEVEL_EMOJI = {
    "debug": "🔎",
    "info": "ℹ️",
    "success": "✅",
    "warning": "⚠️",
    "error": "🔴",
    "critical": "🚨",
}
STATUS_LINES = {
    RunStatus.RUNNING: ("🔄", "Running"),
    RunStatus.WAITING_FOR_HUMAN: ("⏳", "Waiting for an answer"),
    RunStatus.COMPLETED: ("✅", "Completed"),
    RunStatus.FAILED: ("❌", "Failed"),
    RunStatus.CANCELLED: ("🚫", "Cancelled"),
}
APPROVE_WORDS = frozenset({"approve", "approved", "accept", "accepted", "yes", "ok", "go"})
REJECT_WORDS = frozenset({"reject", "rejected", "deny", "denied", "no", "no_go", "decline"})
DECISION_PAST = {
    "approve": "Approved",
    "reject": "Rejected",
    "request_changes": "Changes requested",
    "edit": "Edited",
}
# Metadata that steers the bot or is shown elsewhere, not context for the person answering.
NOT_CONTEXT = frozenset(
    {"hitlbot", "response_schema", "ui_schema", "placeholder", "multiline", "artifact"}
    | {"artifact_type", "context", "severity", "mode", "min", "max", "style", "items"}
)
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
CANCELLED_BY = re.compile(r"cancelled by <@([UW][A-Z0-9]{2,})>")  # the reason the bot writes
MENTION = re.compile(r"(?:<(?:@[UW][A-Z0-9]+|!here|!channel|!everyone|!subteam\^[A-Z0-9]+)>\s*)+")
CODE_TYPES = frozenset({"code", "json", "yaml", "diff", "sql", "log", "patch", "shell"})


# --- text objects and blocks --------------------------------------------------------------


def plain(text: Any, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """A plain_text object: shown literally (no mentions, no links), emoji shortcodes on."""
    cut, _ = truncate(" ".join(str(text).split()) or "—", limit)
    return {"type": "plain_text", "text": cut, "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """A mrkdwn object from text that is already mrkdwn (escaped or built here)."""
    cut, _ = truncate(text.strip() or " ", limit)
    return {"type": "mrkdwn", "text": cut}


def section(
    text: str, *, accessory: dict | None = None, block_id: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def context(*texts: str) -> dict[str, Any]:
    elements = [mrkdwn(text) for text in texts if text.strip()][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [mrkdwn(" ")]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_LIMIT),
        "action_id": action_id,
        "value": value,
    }
    if style in ("primary", "danger"):
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    """A confirmation Slack shows before sending the click: for what cannot be undone."""
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain(no, 30),
    }


def fields_sections(fields: list[str]) -> list[dict[str, Any]]:
    """Key/value fields, ten per section (Slack's maximum), each within the field limit."""
    chunks = [fields[i : i + MAX_FIELDS] for i in range(0, len(fields), MAX_FIELDS)]
    return [
        {"type": "section", "fields": [mrkdwn(text, FIELD_LIMIT) for text in chunk]}
        for chunk in chunks
    ]


def option(label: Any, value: str, description: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"text": plain(label, OPTION_LIMIT), "value": value}
    if description:
        item["description"] = plain(description, OPTION_LIMIT)
    return item


def options_or_groups(items: list[dict[str, Any]]) -> dict[str, Any]:
    """`options` for up to 100 choices, else `option_groups` of 100 (Slack's menu limits)."""
    if len(items) <= MAX_MENU_OPTIONS:
        return {"options": items}
    groups = []
    for start in range(0, min(len(items), MAX_MENU_OPTIONS**2), MAX_MENU_OPTIONS):
        chunk = items[start : start + MAX_MENU_OPTIONS]
        label = f"{start + 1}–{start + len(chunk)}"
        groups.append({"label": plain(label, OPTION_LIMIT), "options": chunk})
    return {"option_groups": groups}


def cap_blocks(blocks: list[dict], limit: int = MAX_MESSAGE_BLOCKS) -> list[dict]:
    """Keep a payload within the block limit: drop from the middle (context, long lists),
    never the head (what is asked) nor the tail (the buttons and the footer)."""
    if len(blocks) <= limit:
        return blocks
    tail = 3
    note = context("_Some content was left out; open the full view for the rest._")
    return [*blocks[: limit - tail - 1], note, *blocks[-tail:]]


# --- small formatting helpers -------------------------------------------------------------


PLEXUS_RESPONDER = "plexus:"
"""The responder of an answer given in Plexus: `plexus:<who answered there>`."""


def who(user: str | None) -> str:
    """A user as mrkdwn: a mention for Slack ids, "name in Plexus" for an answer given in
    Plexus's dashboard (`plexus:<name>`), the escaped name otherwise."""
    if not user:
        return "someone"
    if user.startswith(PLEXUS_RESPONDER):
        return f"{escape(user[len(PLEXUS_RESPONDER) :] or 'someone')} in Plexus"
    return f"<@{user}>" if USER_ID.fullmatch(user) else escape(user)


def safe_mention(mention: str | None) -> str:
    """Pass the configured responders' mention through only when it is mentions and nothing
    else; anything else is escaped, so a bad setting cannot inject markup."""
    if not mention or not mention.strip():
        return ""
    mention = mention.strip()
    return mention if MENTION.fullmatch(mention + " ") else escape(mention)


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A date each reader sees in their own time zone, with a UTC fallback for old clients."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>"


def answered_at(moment: datetime, since: datetime) -> str:
    """`at 14:02`, with the date when the answer came on another day than the request."""

    def day(value: datetime) -> Any:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()

    if day(moment) == day(since):
        return "at " + slack_date(moment, "{time}")
    return "at " + slack_date(moment, "{time} on {date_short}")


def duration(seconds: int | float) -> str:
    """1800 -> "30m", 5400 -> "1h 30m", 172800 -> "2d": how people say timeouts."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if secs and not days and not hours:
        parts.append(f"{secs}s")
    return " ".join(parts[:2]) or "0s"


def humanize(key: Any) -> str:
    """`change_ticket` -> "Change ticket": context keys as labels."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "—"


def as_text(value: Any) -> str:
    """A value as a person reads it: strings bare, everything else compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False, default=str)


def preview(value: Any, limit: int) -> str:
    """A value shortened for a field or a list line, escaped."""
    text, _ = truncate(escape(as_text(value).strip()) or "—", limit)
    return text


def fallback(text: str) -> str:
    """The message's `text`: one escaped line for notifications and screen readers."""
    one_line = " ".join(text.split())
    cut, _ = truncate(one_line, FALLBACK_LIMIT)
    return cut or "hitlbot"


def option_label(item: dict[str, Any]) -> str:
    return str(item.get("label", item.get("value")))


# --- ids and values -----------------------------------------------------------------------


def block_id(kind: str, request_id: str) -> str:
    """`<kind>|<request_id>`: unique per request, and the request can be read back from it."""
    candidate = f"{kind}|{request_id}"
    if len(candidate) <= ID_LIMIT:
        return candidate
    return f"{kind}|#" + hashlib.sha256(request_id.encode()).hexdigest()[:32]


def choice_value(request_id: str, index: int) -> str:
    """`{"r": request_id, "o": index}` for buttons and menu options. A menu option's value
    holds 150 characters; past that only the index goes and the block_id names the request."""
    value = json.dumps({"r": request_id, "o": index}, separators=(",", ":"))
    return value if len(value) <= OPTION_VALUE_LIMIT else json.dumps({"o": index})


def parse_choice(action: dict[str, Any]) -> tuple[str | None, int | None]:
    """`(request_id, option index)` from a block_actions `actions[0]` for ACTION_DECIDE,
    ACTION_CHOOSE and ACTION_SELECT, whether it came from a button or a menu."""
    raw = action.get("value")
    if raw is None:
        raw = (action.get("selected_option") or {}).get("value")
    try:
        data = json.loads(raw) if isinstance(raw, str) else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    request_id = data.get("r") or request_id_from_block(action.get("block_id"))
    index = data.get("o")
    return request_id, index if isinstance(index, int) and not isinstance(index, bool) else None


def request_id_from_block(block: str | None) -> str | None:
    """The request a `<kind>|<request_id>` block_id belongs to (None for hashed or foreign)."""
    if not block or "|" not in block:
        return None
    request_id = block.split("|", 1)[1]
    return None if request_id.startswith("#") else request_id


def short_id(pending: PendingRequest) -> str:
    """`1a2b3c4d:pos2` for `deploy:1a2b3c4d:pos2`: the run and position, enough to tell apart."""
    prefix = pending.procedure_id + ":"
    rid = pending.request_id
    return rid[len(prefix) :] if rid.startswith(prefix) and len(rid) > len(prefix) else rid


# --- what a request shows -----------------------------------------------------------------


def request_title(request: HITLRequest) -> str:
    kind = request.request_type
    if kind == "escalation":
        severity = str(request.metadata.get("severity", "error"))
        emoji = LEVEL_EMOJI.get(severity, LEVEL_EMOJI["error"])
        return f"{emoji} {humanize(severity)} escalation"
    if kind == "select" and request.metadata.get("mode") == "multiple":
        return "Choose options"
    if kind == "input" and request.options:
        return "Choose one"
    return TITLES.get(kind, "Answer needed")


def context_items(request: HITLRequest) -> dict[str, Any]:
    """The key/value context the procedure gave: an approval's metadata, the `context`
    table of reviews and escalations."""
    if request.request_type == "approval":
        raw = {k: v for k, v in request.metadata.items() if k not in NOT_CONTEXT}
    else:
        raw = request.metadata.get("context") or {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if v is not None and v != "" and v != {}}


def context_fields(items: dict[str, Any]) -> tuple[list[str], bool]:
    """Fields for a context table, at most MAX_SHOWN_FIELDS; True when some were left out
    (the full view has them all)."""
    fields = [
        f"*{preview(humanize(k), 80)}*\n{preview(v, FIELD_PREVIEW)}" for k, v in items.items()
    ]
    if len(fields) <= MAX_SHOWN_FIELDS:
        return fields, any(len(as_text(v)) > FIELD_PREVIEW for v in items.values())
    hidden = len(fields) - (MAX_SHOWN_FIELDS - 1)
    return [*fields[: MAX_SHOWN_FIELDS - 1], f"_…and {hidden} more_"], True


def artifact_text(request: HITLRequest, value: Any = None) -> str:
    """A review's artifact as mrkdwn: Markdown converted, code and data in a code block."""
    artifact = request.metadata.get("artifact") if value is None else value
    kind = str(request.metadata.get("artifact_type", "")).lower()
    if artifact is None:
        return ""
    if not isinstance(artifact, str):
        return "```\n" + escape(json.dumps(artifact, ensure_ascii=False, indent=2)) + "\n```"
    if kind in CODE_TYPES:
        return "```\n" + escape(artifact.replace("```", "`\u200b``")) + "\n```"
    return to_mrkdwn(artifact)


def artifact_preview(request: HITLRequest, value: Any = None) -> tuple[str, bool]:
    """The head of the artifact for a message, and whether it was cut."""
    text = artifact_text(request, value)
    lines = text.split("\n")
    cut_lines = len(lines) > ARTIFACT_PREVIEW_LINES
    if cut_lines:
        text = "\n".join(lines[:ARTIFACT_PREVIEW_LINES])
        if text.count("```") % 2:
            text += "\n```"
    short, cut = truncate(text, ARTIFACT_PREVIEW)
    if cut_lines and not cut:
        short += "\n…"
    return short, cut or cut_lines


def artifact_label(request: HITLRequest) -> str:
    return humanize(request.metadata.get("artifact_type") or "artifact")


def describe_answer(request: HITLRequest, value: Any) -> str:
    """An answer in the words of its request, as escaped mrkdwn: "rejected", "*Degraded*"."""
    kind = request.request_type
    if kind == "approval":
        return "approved" if value else "rejected"
    if kind == "review" and isinstance(value, dict):
        return f"*{preview(decision_label(request, value), 60)}*"
    if kind == "escalation":
        return "resolved"
    if kind in ("select", "input") and request.options:
        return chosen_labels(request.options, value)
    if kind == "inputs":
        return "the defaults"
    if value is None or value == "":
        return "no answer"
    return f"“{preview(value, 80)}”"


def decision_label(request: HITLRequest, value: dict[str, Any]) -> str:
    """A review answer's option label (a default names only the decision)."""
    if value.get("label"):
        return str(value["label"])
    decision = canonical_value(value.get("decision"))
    for item in request.options or []:
        if canonical_value(item.get("value")) == decision:
            return option_label(item)
    return str(value.get("decision"))


def chosen_labels(options: list[dict[str, Any]], value: Any) -> str:
    """The labels of the chosen option value(s), bold, comma separated."""
    labels = {json.dumps(o.get("value"), default=str): option_label(o) for o in options}
    chosen = value if isinstance(value, list) else [value]
    names = [labels.get(json.dumps(v, default=str), as_text(v)) for v in chosen if v is not None]
    if not names:
        return "nothing"
    text = ", ".join(f"*{preview(name, 60)}*" for name in names[:10])
    return text + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def approvers_text(request: HITLRequest) -> str:
    """Who may answer, as the call said it (names as written; Slack ids as mentions)."""
    routing = request.metadata.get("hitlbot") or {}
    approvers = routing.get("approvers") if isinstance(routing, dict) else None
    if isinstance(approvers, str):
        approvers = [approvers]
    if not isinstance(approvers, list) or not approvers:
        return ""
    names = []
    for entry in approvers[:5]:
        entry = str(entry).strip()
        names.append(who(entry) if USER_ID.fullmatch(entry) else escape("@" + entry.lstrip("@")))
    more = f" +{len(approvers) - 5}" if len(approvers) > 5 else ""
    return "Who can answer: " + ", ".join(names) + more


def timeout_text(pending: PendingRequest) -> str:
    """`Times out after 30m (today at 14:32), then: rejected` — or that it never does."""
    request = pending.request
    if request.request_type == "escalation":
        return "Never times out"
    if not request.timeout_seconds:
        return "No timeout"
    deadline = pending.created_at.timestamp() + request.timeout_seconds
    when = slack_date(datetime.fromtimestamp(deadline, UTC))
    then = describe_answer(request, request.default_value)
    return f"Times out after {duration(request.timeout_seconds)} ({when}), then: {then}"


def footer(pending: PendingRequest, *, waiting: bool) -> dict[str, Any]:
    parts = [f"{escape(pending.procedure_id)} `{escape(short_id(pending))}`"]
    if waiting:
        parts.append(timeout_text(pending))
        approvers = approvers_text(pending.request)
        if approvers:
            parts.append(approvers)
    return context(" · ".join(parts))


def view_full_button(pending: PendingRequest, label: str = "View full") -> dict[str, Any]:
    return button(label, ACTION_VIEW_FULL, pending.request_id)


# --- request messages ---------------------------------------------------------------------


def request_message(
    pending: PendingRequest, *, mention: str | None = None
) -> tuple[str, list[dict]]:
    """The message asking for an answer, posted in the run's thread.

    `mention` (trusted mrkdwn such as "<!subteam^S123>" or "<!here>") is put in front of
    error and critical escalations, and in the fallback text so that it notifies."""
    request = pending.request
    ping = _escalation_mention(request, mention)
    blocks = [
        *request_body(pending, mention=ping),
        *answer_blocks(pending),
        footer(pending, waiting=True),
    ]
    text = f"{request_title(request)}: {inline_markdown(request.message)}"
    return fallback(f"{ping} {text}" if ping else text), cap_blocks(blocks)


def _escalation_mention(request: HITLRequest, mention: str | None) -> str:
    if request.request_type != "escalation":
        return ""
    if str(request.metadata.get("severity", "error")) not in ("error", "critical"):
        return ""
    return safe_mention(mention)


def request_body(pending: PendingRequest, *, mention: str = "") -> list[dict]:
    """What is asked, without the means to answer: the title, the message, the context
    fields and the request's own content (artifact, choices, items)."""
    request = pending.request
    message, cut = truncate(to_mrkdwn(request.message) or "—", MESSAGE_PREVIEW)
    if mention:
        message = f"{mention} {message}"
    items = context_items(request)
    fields, fields_cut = context_fields(items)
    accessory = view_full_button(pending) if cut or fields_cut else None
    blocks: list[dict] = [header(request_title(request)), section(message, accessory=accessory)]
    blocks += fields_sections(fields)
    blocks += _content_blocks(pending)
    return blocks


def _content_blocks(pending: PendingRequest) -> list[dict]:
    request = pending.request
    kind = request.request_type
    if kind == "review" and request.metadata.get("artifact") is not None:
        text, cut = artifact_preview(request)
        accessory = view_full_button(pending) if cut else None
        return [section(f"*{escape(artifact_label(request))}*\n{text}", accessory=accessory)]
    options = request.options or []
    described = any(o.get("description") for o in options)
    if kind in ("select", "input") and described and not _checkboxes(request):
        return [section(_option_list(options))]
    if kind == "inputs":
        return [section(_items_list(request))]
    return []


def _checkboxes(request: HITLRequest) -> bool:
    """Checkboxes show option descriptions themselves; buttons and menus do not."""
    multiple = request.metadata.get("mode") == "multiple"
    return multiple and len(request.options or []) <= MAX_CHECKBOXES


def _option_list(options: list[dict[str, Any]]) -> str:
    lines = []
    for item in options:
        line = f"*{preview(option_label(item), 75)}*"
        if item.get("description"):
            line += f" — {preview(item['description'], 150)}"
        lines.append(line)
    text, _ = truncate("\n".join(lines), LIST_PREVIEW)
    return text


def _items_list(request: HITLRequest) -> str:
    lines = []
    for item in request.metadata.get("items", []):
        line = f"• *{preview(item.get('label', item.get('item_id')), 75)}*"
        message = item.get("message")
        if message and message != item.get("label"):
            line += f" — {preview(message, 150)}"
        if not item.get("required", True):
            line += " _(optional)_"
        lines.append(line)
    text, _ = truncate("\n".join(lines) or "—", LIST_PREVIEW)
    return text


def answer_blocks(pending: PendingRequest) -> list[dict]:
    """The buttons, menus or checkboxes that answer the request (same in a thread and in the
    Home tab)."""
    request = pending.request
    rid = pending.request_id
    kind = request.request_type
    if kind == "approval":
        return [
            _actions(
                pending,
                [
                    button("Approve", ACTION_APPROVE, rid, style="primary"),
                    button("Reject", ACTION_REJECT, rid, style="danger"),
                ],
            )
        ]
    if kind == "review":
        return _review_actions(pending)
    if kind == "escalation":
        return [_actions(pending, [button("Resolve", ACTION_RESOLVE, rid, style="primary")])]
    if kind == "select" and request.metadata.get("mode") == "multiple":
        return _checks(pending)
    if kind in ("select", "input") and request.options:
        return [_single_choice(pending)]
    if kind == "inputs":
        count = len(request.metadata.get("items", []))
        label = f"Answer {count} question{'s' if count != 1 else ''}" if count else "Respond"
        return [_actions(pending, [button(label, ACTION_RESPOND, rid, style="primary")])]
    return [_actions(pending, [button("Respond", ACTION_RESPOND, rid, style="primary")])]


def _actions(pending: PendingRequest, elements: list[dict], kind: str = "actions") -> dict:
    return {
        "type": "actions",
        "block_id": block_id(kind, pending.request_id),
        "elements": elements[:MAX_ACTION_ELEMENTS],
    }


def decision_style(item: dict[str, Any]) -> str | None:
    """A review option's button style: as the procedure said, else green for approving words
    and red for rejecting ones."""
    style = item.get("style")
    if style in ("primary", "danger"):
        return style
    if style not in (None, "", "default"):
        return None
    word = canonical_value(item.get("value"))
    if word in APPROVE_WORDS:
        return "primary"
    if word in REJECT_WORDS:
        return "danger"
    return None


def _review_actions(pending: PendingRequest) -> list[dict]:
    options = pending.request.options or []
    rid = pending.request_id
    if not options:
        return []
    if len(options) <= MAX_ACTION_ELEMENTS:
        buttons = [
            button(
                option_label(o),
                f"{ACTION_DECIDE}:{i}",
                choice_value(rid, i),
                style=decision_style(o),
            )
            for i, o in enumerate(options)
        ]
        return [_actions(pending, buttons)]
    return [_menu(pending, ACTION_DECIDE, "Choose a decision")]


def _single_choice(pending: PendingRequest) -> dict:
    """Buttons for a few choices, a menu for many (or when the procedure asks for one)."""
    request = pending.request
    options = request.options or []
    style = str(request.metadata.get("style") or "").lower()
    as_buttons = style in ("buttons", "button") or len(options) <= MAX_BUTTONS
    if style in ("dropdown", "menu", "select", "list"):
        as_buttons = False
    if as_buttons and len(options) <= MAX_ACTION_ELEMENTS:
        buttons = [
            button(option_label(o), f"{ACTION_CHOOSE}:{i}", choice_value(pending.request_id, i))
            for i, o in enumerate(options)
        ]
        return _actions(pending, buttons)
    return _menu(pending, ACTION_SELECT, "Choose…")


def _menu(pending: PendingRequest, action_id: str, placeholder: str) -> dict:
    """A static menu; Slack asks to confirm, since picking sends the answer at once."""
    items = [
        option(option_label(o), choice_value(pending.request_id, i))
        for i, o in enumerate(pending.request.options or [])
    ]
    element = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, PLACEHOLDER_LIMIT),
        "confirm": confirm_dialog("Send this answer?", "The run goes on with it.", "Send"),
        **options_or_groups(items),
    }
    return _actions(pending, [element], kind="select")


def choice_bounds(request: HITLRequest) -> str:
    """`Choose 2 to 3` / `Choose at least 1` / `Choose up to 3`: a multiple choice's rule."""
    low, high = request.metadata.get("min"), request.metadata.get("max")
    if low and high:
        return f"Choose {low}" if low == high else f"Choose {low} to {high}"
    if low:
        return f"Choose at least {low}"
    if high:
        return f"Choose up to {high}"
    return "Choose any"


def _checks(pending: PendingRequest) -> list[dict]:
    """Checkboxes (a menu above ten options) and a Submit button; the min/max is stated."""
    request = pending.request
    options = request.options or []
    items = [option(option_label(o), str(i), o.get("description")) for i, o in enumerate(options)]
    if len(options) <= MAX_CHECKBOXES:
        element: dict[str, Any] = {"type": "checkboxes", "action_id": ACTION_CHECKS}
        element["options"] = items
    else:
        element = {
            "type": "multi_static_select",
            "action_id": ACTION_CHECKS,
            "placeholder": plain("Choose…", PLACEHOLDER_LIMIT),
            **options_or_groups([option(option_label(o), str(i)) for i, o in enumerate(options)]),
        }
        high = request.metadata.get("max")
        if isinstance(high, int) and high >= 1:
            element["max_selected_items"] = high
    submit = button("Submit", ACTION_SUBMIT_CHECKS, pending.request_id, style="primary")
    return [
        context(choice_bounds(request)),
        _actions(pending, [element], kind="checks"),
        _actions(pending, [submit]),
    ]


def checks_block_id(pending: PendingRequest) -> str:
    return block_id("checks", pending.request_id)


def parse_checks_state(pending: PendingRequest, state_values: dict[str, Any]) -> list[Any]:
    """The option values ticked in a multiple choice, from block_actions `state.values`
    (a message's `body["state"]["values"]`, or the Home view's `view.state.values`):
    the raw answer for Engine.answer when Submit is clicked."""
    block = (state_values or {}).get(checks_block_id(pending)) or {}
    state = block.get(ACTION_CHECKS) or {}
    options = pending.request.options or []
    chosen = []
    for item in state.get("selected_options") or []:
        index = _int(item.get("value"))
        if index is not None and 0 <= index < len(options):
            chosen.append(options[index]["value"])
    return chosen


def _int(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


# --- review decisions -----------------------------------------------------------------------

EDIT_DECISIONS = frozenset({"edit", "revise"})
FEEDBACK_DECISIONS = frozenset({"request_changes", "changes", "changes_requested", "revise"})


def review_option(pending: PendingRequest, index: int) -> dict[str, Any] | None:
    options = pending.request.options or []
    return options[index] if isinstance(index, int) and 0 <= index < len(options) else None


def decision_edits(item: dict[str, Any]) -> bool:
    """Whether choosing this option edits the artifact (`edit = true`, or an "edit" option)."""
    if "edit" in item:
        return bool(item["edit"])
    return canonical_value(item.get("value")) in EDIT_DECISIONS


def choice_answer(pending: PendingRequest, index: int) -> Any:
    """The raw answer for option `index` of a choice button or menu (ACTION_CHOOSE,
    ACTION_SELECT) or a review decision answered without a modal (ACTION_DECIDE)."""
    options = pending.request.options or []
    if not isinstance(index, int) or not 0 <= index < len(options):
        raise ValueError(f"request {pending.request_id} has no option {index}")
    value = options[index]["value"]
    return {"decision": value} if pending.request.request_type == "review" else value


def decision_needs_modal(pending: PendingRequest, index: int) -> bool:
    """True when a review button must open `review_modal` (the option edits the artifact or
    asks for changes, so feedback matters) instead of answering at once."""
    item = review_option(pending, index)
    if item is None:
        return False
    return decision_edits(item) or canonical_value(item.get("value")) in FEEDBACK_DECISIONS


# --- answered requests ----------------------------------------------------------------------


def answered_message(pending: PendingRequest) -> tuple[str, list[dict]]:
    """The request as it was asked, its buttons replaced by the outcome."""
    request = pending.request
    headline, body = outcome(pending)
    blocks = [*request_body(pending), section(headline)]
    if body:
        blocks.append(body)
    blocks.append(footer(pending, waiting=False))
    return fallback(f"{request_title(request)}: {_strip_markup(headline)}"), cap_blocks(blocks)


def outcome_text(pending: PendingRequest) -> str:
    """One mrkdwn line saying how the request ended: for messages and ephemeral replies
    ("already answered: ✅ Approved by <@U1> at 14:02")."""
    return outcome(pending)[0]


def outcome(pending: PendingRequest) -> tuple[str, dict | None]:
    """The outcome line, and a block with what was said (feedback, note, typed text)."""
    response = pending.response
    request = pending.request
    if response is None:
        return ("🚫 Cancelled", None) if pending.cancelled else ("⏳ Waiting for an answer", None)
    at = answered_at(response.responded_at, pending.created_at)
    if response.timed_out:
        then = describe_answer(request, response.value)
        return f"⏱️ Timed out {at}: default applied ({then})", None
    by = f"by {who(response.responder)} {at}" if response.responder else at
    return _answered_line(request, response.value, by), _answer_detail(pending, response.value)


def _answered_line(request: HITLRequest, value: Any, by: str) -> str:
    kind = request.request_type
    if kind == "approval":
        return f"✅ Approved {by}" if value else f"❌ Rejected {by}"
    if kind == "review" and isinstance(value, dict):
        decision = canonical_value(value.get("decision"))
        emoji = "✅" if decision in APPROVE_WORDS else "❌" if decision in REJECT_WORDS else "📝"
        past = DECISION_PAST.get(decision)
        label = past or f"*{preview(decision_label(request, value), 60)}*"
        return f"{emoji} {label} {by}"
    if kind == "escalation":
        return f"✅ Resolved {by}"
    if kind in ("select", "input") and request.options:
        return f"✅ {chosen_labels(request.options, value)} chosen {by}"
    return f"✅ Answered {by}"


def _answer_detail(pending: PendingRequest, value: Any) -> dict | None:
    request = pending.request
    kind = request.request_type
    if kind == "review" and isinstance(value, dict):
        return _review_detail(pending, value)
    if kind == "escalation" and isinstance(value, dict) and value.get("note"):
        return section(_quote(str(value["note"])))
    if kind == "input" and not request.options and value not in (None, ""):
        return section(_quote(as_text(value)))
    if kind == "inputs" and isinstance(value, dict):
        return _inputs_detail(request, value)
    return None


def _review_detail(pending: PendingRequest, value: dict[str, Any]) -> dict | None:
    """The reviewer's feedback, quoted, and a way to read the artifact as they edited it."""
    request = pending.request
    lines = []
    if value.get("feedback"):
        lines.append(_quote(str(value["feedback"])))
    edited = value.get("edited_artifact")
    accessory = None
    if edited is not None and edited != request.metadata.get("artifact"):
        lines.append(f"_{escape(artifact_label(request))} edited_")
        accessory = view_full_button(pending, "View edited")
    return section("\n".join(lines), accessory=accessory) if lines else None


def _inputs_detail(request: HITLRequest, value: dict[str, Any]) -> dict | None:
    items = {item["item_id"]: item for item in request.metadata.get("items", [])}
    fields = []
    for item_id, answer in value.items():
        item = items.get(item_id, {"label": item_id, "request_type": "input"})
        fields.append(f"*{preview(item.get('label', item_id), 80)}*\n{_item_answer(item, answer)}")
    if not fields:
        return None
    shown = fields[:MAX_FIELDS]
    if len(fields) > MAX_FIELDS:
        shown[-1] = f"_…and {len(fields) - MAX_FIELDS + 1} more_"
    return fields_sections(shown)[0]


def _item_answer(item: dict[str, Any], answer: Any) -> str:
    kind = item.get("request_type")
    if kind == "approval" and isinstance(answer, bool):
        return "yes" if answer else "no"
    if item.get("options") and kind in ("select", "input"):
        return chosen_labels(item["options"], answer)
    if kind == "review" and isinstance(answer, dict):
        return preview(answer.get("label") or answer.get("decision"), FIELD_PREVIEW)
    return preview(answer, FIELD_PREVIEW) if answer not in (None, "", []) else "—"


def _quote(text: str, limit: int = ANSWER_PREVIEW) -> str:
    short, _ = truncate(escape(text.strip()), limit)
    return "\n".join("> " + line for line in short.split("\n"))


def _strip_markup(text: str) -> str:
    """The outcome line for the fallback text: dates as their fallback, no emphasis."""
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", text)
    return text.replace("*", "")


# --- run messages ---------------------------------------------------------------------------


def run_message(
    run: RunRecord,
    procedure_name: str,
    *,
    waiting_for: str | None = None,
    summary: str | None = None,
) -> tuple[str, list[dict]]:
    """The run's parent message: what was started, by whom, with which params, and a status
    line the bot keeps current. `waiting_for` is trusted mrkdwn built by the bot (e.g.
    "<@U1> (approval)"); `summary` is the procedure's Markdown (converted and escaped).
    A Cancel button stays while the run is not over."""
    status = status_line(run, waiting_for=waiting_for, summary=summary)
    name = escape(procedure_name or run.procedure_id)
    accessory = None
    if not run.status.is_final:
        accessory = button(
            "Cancel run",
            ACTION_CANCEL_RUN,
            run.run_id,
            style="danger",
            confirm=confirm_dialog(
                "Cancel this run?", "Pending requests are withdrawn.", "Cancel run", "Keep it"
            ),
        )
    blocks: list[dict] = [section(f"*{name}*\n{status}", accessory=accessory)]
    blocks += fields_sections(param_fields(run.params))
    started = [f"Started by {who(run.started_by)}"] if run.started_by else []
    started += [f"run `{escape(run.run_id[:8])}`", slack_date(run.created_at)]
    blocks.append(context(" · ".join(started)))
    return fallback(f"{name}: {_strip_markup(status)}"), blocks


def status_line(
    run: RunRecord, *, waiting_for: str | None = None, summary: str | None = None
) -> str:
    """`⏳ Waiting for <@U1>` / `✅ Completed · deployed: yes` / `❌ Failed: reason`."""
    emoji, label = STATUS_LINES[run.status]
    line = f"{emoji} *{label}*"
    if run.status is RunStatus.WAITING_FOR_HUMAN and waiting_for:
        line = f"{emoji} *Waiting for* {waiting_for}"
    if run.status is RunStatus.COMPLETED:
        detail = to_mrkdwn(summary or result_summary(run))
        if detail:
            line += " · " + truncate(detail, 600)[0]
    elif run.status in (RunStatus.FAILED, RunStatus.CANCELLED) and run.error:
        canceller = CANCELLED_BY.fullmatch(run.error.strip())
        if canceller:
            line += f" by {who(canceller.group(1))}"
        else:
            line += ": " + truncate(escape(run.error), 600)[0]
    return line


def param_fields(params: dict[str, Any]) -> list[str]:
    """A run's params as fields, one line each; ten at most (one section)."""
    fields = [
        f"*{preview(key, 80)}*\n{preview(_first_line(value), 150)}" for key, value in params.items()
    ]
    if len(fields) > MAX_FIELDS:
        fields = [*fields[: MAX_FIELDS - 1], f"_…and {len(fields) - MAX_FIELDS + 1} more_"]
    return fields


def _first_line(value: Any) -> str:
    text = as_text(value).strip()
    first = text.split("\n", 1)[0]
    return first + " …" if first != text else first


def result_summary(run_or_result: Any) -> str:
    """A one-line plain-text summary of a run's result: `deployed: yes · decision: go`.
    Accepts the run or its result; not escaped (run_message's `summary` escapes it)."""
    result = run_or_result.result if isinstance(run_or_result, RunRecord) else run_or_result
    if result is None or result == {} or result == []:
        return ""
    if isinstance(result, dict):
        parts = [
            f"{k}: {truncate(as_text(v), 60)[0]}"
            for k, v in result.items()
            if v is not None and v != ""  # an empty value says nothing on one line
        ]
        return truncate(" · ".join(parts), 300)[0]
    return truncate(as_text(result), 300)[0]


def result_message(run: RunRecord, *, procedure_name: str | None = None) -> tuple[str, list[dict]]:
    """The end of a run, posted last in its thread: its result, or why it failed."""
    emoji, label = STATUS_LINES[run.status]
    name = escape(procedure_name or run.procedure_id)
    blocks: list[dict] = [section(f"{emoji} *{name}: {label.lower()}*")]
    if run.status is RunStatus.COMPLETED:
        blocks += _result_blocks(run)
    elif run.error:
        blocks.append(section(_quote(run.error, 1500)))
    finished = f"Finished {slack_date(run.updated_at)}"
    took = (run.updated_at - run.created_at).total_seconds()
    if took >= 1:
        finished += f" after {duration(took)}"
    blocks.append(context(f"run `{escape(run.run_id[:8])}` · {finished}"))
    text = f"{procedure_name or run.procedure_id}: {label.lower()}"
    return fallback(escape(text)), blocks


def _result_blocks(run: RunRecord) -> list[dict]:
    result = run.result
    if result is None or result == {} or result == []:
        return []
    scalar = isinstance(result, dict) and all(
        not isinstance(v, dict | list) for v in result.values()
    )
    if scalar and len(result) <= MAX_FIELDS:
        fields = [
            f"*{preview(humanize(k), 80)}*\n{preview(v, FIELD_PREVIEW)}" for k, v in result.items()
        ]
        cut = any(len(as_text(v)) > FIELD_PREVIEW for v in result.values())
    else:
        body = json.dumps(result, ensure_ascii=False, indent=2, default=str)
        text, cut = truncate("```\n" + escape(body) + "\n```", 2000)
        fields = []
    accessory = button("View full", ACTION_VIEW_RESULT, run.run_id) if cut else None
    if fields:
        blocks = fields_sections(fields)
        if accessory:
            blocks.append(section("_Some values were shortened._", accessory=accessory))
        return blocks
    return [section(text, accessory=accessory)]


# --- notifications and alerts ---------------------------------------------------------------


def notification_message(
    event_payload: dict[str, Any], *, run_id: str, seq: int
) -> tuple[str, list[dict]]:
    """A `Human.notify` in the thread: one line styled by level, `content` as mrkdwn, the
    context as small print, `details` behind a Details button."""
    level = str(event_payload.get("level") or "info")
    emoji = LEVEL_EMOJI.get(level, LEVEL_EMOJI["info"])
    message = str(event_payload.get("message") or "Notification")
    text = f"{emoji} *{inline_markdown(message)}*"
    content = event_payload.get("content")
    cut = False
    if content:
        body, cut = truncate(to_mrkdwn(str(content)), MESSAGE_PREVIEW)
        text += "\n" + body
    details = event_payload.get("details") or []
    accessory = None
    if details or cut:
        value = json.dumps({"run": run_id, "seq": seq}, separators=(",", ":"))
        accessory = button("Details", ACTION_DETAILS, value)
    blocks: list[dict] = [section(text, accessory=accessory)]
    small = context_line(event_payload.get("context"))
    if small:
        blocks.append(context(small))
    return fallback(f"{emoji} {escape(message)}"), blocks


def alert_message(event_payload: dict[str, Any]) -> tuple[str, list[dict]]:
    """A `System.alert`: the alert line by level, where it came from and its context."""
    level = str(event_payload.get("level") or "info")
    emoji = LEVEL_EMOJI.get(level, LEVEL_EMOJI["info"])
    message = str(event_payload.get("message") or "Alert")
    blocks: list[dict] = [section(f"{emoji} *{inline_markdown(message)}*")]
    small = [f"Alert · {escape(level)}"]
    if event_payload.get("source"):
        small.append(f"from {preview(event_payload['source'], 80)}")
    extra = context_line(event_payload.get("context"))
    blocks.append(context(" · ".join(small), *([extra] if extra else [])))
    return fallback(f"{emoji} Alert: {escape(message)}"), blocks


def inline_markdown(text: str) -> str:
    """One line of Markdown as mrkdwn, for titles (no block constructs)."""
    converted = to_mrkdwn(" ".join(text.split()))
    return truncate(converted.replace("*", ""), 500)[0] or "—"


def context_line(items: Any) -> str:
    """A small context table as one line: `service: payments · runbook: https://…`."""
    if not isinstance(items, dict) or not items:
        return ""
    parts = [
        f"{preview(humanize(k), 40)}: {_context_value(v)}"
        for k, v in items.items()
        if v is not None
    ]
    return truncate(" · ".join(parts), 1500)[0]


def _context_value(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"https?://\S+", value) and len(value) < 500:
        return link(value)
    return preview(value, 120)


# --- what the listeners need ------------------------------------------------------------------

NO_ANSWER = object()  # answer_for_action: this interaction answers nothing (yet)
_VALUE_IS_REQUEST = frozenset(
    {ACTION_APPROVE, ACTION_REJECT, ACTION_RESPOND, ACTION_RESOLVE, ACTION_VIEW_FULL}
    | {ACTION_SUBMIT_CHECKS}
)
_CHOICES = frozenset({ACTION_DECIDE, ACTION_SELECT, ACTION_CHOOSE})


def base_action(action_id: str) -> str:
    """`hitl:decide:2` -> `hitl:decide`: the action without the per-button suffix."""
    for action, pattern in ACTION_PATTERNS.items():
        if pattern.match(action_id):
            return action
    return action_id


def parse_action_value(action: dict[str, Any]) -> tuple[str | None, int | None]:
    """`(request_id, option index)` of a block_actions `actions[0]` on a request (the index is
    None for buttons that are not choices). Checkbox ticks name their request by block_id."""
    kind = base_action(str(action.get("action_id", "")))
    if kind in _CHOICES:
        return parse_choice(action)
    if kind in _VALUE_IS_REQUEST and action.get("value"):
        return str(action["value"]), None
    return request_id_from_block(action.get("block_id")), None


def is_settled(pending: PendingRequest) -> bool:
    return pending.response is not None or pending.cancelled


def modal_for_action(
    action_id: str, pending: PendingRequest, option: int | None
) -> dict[str, Any] | None:
    """The modal a click opens, or None when the click answers directly (or answers nothing).
    A settled request opens nothing but View full: `answer_for_action` then lets the service
    say who answered it."""
    from bot import modals  # modals builds on this module

    kind = base_action(action_id)
    if kind == ACTION_VIEW_FULL:
        return modals.request_details_modal(pending)
    if is_settled(pending):
        return None
    if kind == ACTION_RESPOND:
        if pending.request.request_type == "inputs":
            return modals.inputs_modal(pending)
        return modals.input_modal(pending)
    if kind == ACTION_RESOLVE:
        return modals.resolve_modal(pending)
    if kind == ACTION_DECIDE and option is not None and decision_needs_modal(pending, option):
        return modals.review_modal(pending, option)
    return None


def answer_for_action(
    action_id: str,
    action: dict[str, Any],
    pending: PendingRequest,
    option: int | None,
    body: dict[str, Any],
) -> Any:
    """The raw answer a click gives (for Engine.answer), or NO_ANSWER. For a settled request
    it returns None, so that the answer attempt reports "already answered by ...".
    Multiple choices read the ticks from the message's (or Home view's) state."""
    kind = base_action(action_id)
    if kind in (ACTION_CHECKS, ACTION_VIEW_FULL, ACTION_DETAILS, ACTION_CANCEL_RUN):
        return NO_ANSWER
    if is_settled(pending):
        return None
    if kind == ACTION_APPROVE:
        return True
    if kind == ACTION_REJECT:
        return False
    if kind in _CHOICES:
        if option is None or review_option(pending, option) is None:
            return NO_ANSWER
        return choice_answer(pending, option)
    if kind == ACTION_SUBMIT_CHECKS:
        state = (body.get("state") or {}).get("values")
        if state is None:
            state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
        return parse_checks_state(pending, state)
    return NO_ANSWER


def already_answered_text(pending: PendingRequest) -> str:
    """The ephemeral reply to a click on a request that is settled."""
    if pending.response is None:
        if pending.cancelled:
            return "This request was cancelled; nothing was recorded."
        return "This request is still open."
    return f"Already answered, nothing changed: {outcome_text(pending)}"


KIND_NOUNS = {
    "approval": "an approval",
    "input": "an answer",
    "review": "a review",
    "select": "a choice",
    "inputs": "answers",
    "escalation": "the escalation to be resolved",
}


def waiting_for_text(pending: PendingRequest) -> str:
    """For the run message's status: `an approval from @oncall, <@U1>`."""
    noun = KIND_NOUNS.get(pending.request.request_type, "an answer")
    approvers = approvers_text(pending.request).removeprefix("Who can answer: ")
    return f"{noun} from {approvers}" if approvers else noun


def reminder_message(pending: PendingRequest) -> tuple[str, list[dict]]:
    """A nudge in the thread before a request times out: what is waiting and until when
    (the buttons stay on the request itself, so there is one place to answer)."""
    request = pending.request
    title = request_title(request)
    message = truncate(inline_markdown(request.message), 300)[0]
    blocks = [
        section(f"⏰ *Still waiting:* {escape(title)} · {message}"),
        context(" · ".join(p for p in (timeout_text(pending), approvers_text(request)) if p)),
    ]
    return fallback(f"⏰ Still waiting: {title}: {message}"), blocks


BROADCASTS = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


def mention_for(responders: Any, groups: dict[str, str] | None = None) -> str | None:
    """The mention for escalation responders: `here`/`channel`/`everyone`, user ids, user
    group ids (S...), or group handles found in `groups` ({"oncall": "S0ONCALL1"}).
    Names it cannot turn into a real mention are left out: they would not notify anyone."""
    entries = [responders] if isinstance(responders, str) else list(responders or [])
    mentions = []
    for entry in entries:
        name = str(entry).strip().lstrip("@!")
        mention = BROADCASTS.get(name.lower())
        if mention is None and USER_ID.fullmatch(name):
            mention = f"<@{name}>"
        elif mention is None and re.fullmatch(r"S[A-Z0-9]{2,}", name):
            mention = f"<!subteam^{name}>"
        elif mention is None and groups and name in groups:
            mention = f"<!subteam^{groups[name]}>"
        if mention and mention not in mentions:
            mentions.append(mention)
    return " ".join(mentions) or None


# --- replies to the slash command ---------------------------------------------------------------


def procedure_list_text(procedures: dict[str, Any], command: str) -> str:
    """`/procedure list`: each procedure's id (what to type), name, description and params."""
    if not procedures:
        return "No procedures are available."
    lines = [f"*Procedures* ({len(procedures)})"]
    for procedure_id in sorted(procedures):
        procedure = procedures[procedure_id]
        line = f"• `{escape(procedure_id)}`"
        name = getattr(procedure, "name", None)
        if name and name != procedure_id:
            line += f" *{escape(name)}*"
        description = getattr(procedure, "description", None)
        if description:
            line += f" — {preview(_first_line(description), 150)}"
        params = list(getattr(procedure, "params", {}) or {})
        if params:
            line += f"\n    params: {escape(', '.join(params))}"
        lines.append(line)
    lines.append(f"Start one with `{escape(command + ' run <name> key=value')}`.")
    return truncate("\n".join(lines), 3900)[0]


def run_status_text(run: RunRecord, procedure_name: str | None = None) -> str:
    """`/procedure status <run>`: one run's status, params and outcome."""
    name = escape(procedure_name or run.procedure_id)
    lines = [f"*{name}* `{escape(run.run_id[:8])}` · {status_line(run)}"]
    started = f"Started {slack_date(run.created_at)}"
    if run.started_by:
        started += f" by {who(run.started_by)}"
    lines.append(started)
    if run.params:
        shown = ", ".join(
            f"{escape(str(k))}={preview(_first_line(v), 60)}" for k, v in run.params.items()
        )
        lines.append(f"Params: {truncate(shown, 800)[0]}")
    return "\n".join(lines)


def runs_status_text(runs: list[RunRecord]) -> str:
    """`/procedure status`: the recent runs, one line each, newest first."""
    if not runs:
        return "No runs yet."
    lines = ["*Recent runs*"]
    for run in runs[:20]:
        emoji, label = STATUS_LINES[run.status]
        by = f" by {who(run.started_by)}" if run.started_by else ""
        lines.append(
            f"{emoji} `{escape(run.run_id[:8])}` {escape(run.procedure_id)} · {label}{by}"
            f" · {slack_date(run.created_at)}"
        )
    return "\n".join(lines)
