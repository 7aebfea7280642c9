"""Modals: answering requests that need typing, and reading what a message had to shorten.

Each answering modal carries `private_metadata` JSON `{"request_id": ...}` (review modals
add `"option"`), sealed by the listener that opens it (`bot.view_seal`) so that a submission
cannot aim it at another request, and its `parse_*_submission` turns `view.state.values` into
the raw answer `Engine.answer` takes (checked by `runtime.answers.normalize_answer`). Input
block ids are fixed (`answer`, `feedback`, `note`, `item:<n>`, `artifact:<n>`), so
`modal_errors` can put an AnswerError on the right field with `response_action: errors`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.blocks import (
    CALLBACK_INFO,
    CALLBACK_INPUT,
    CALLBACK_INPUTS,
    CALLBACK_RESOLVE,
    CALLBACK_REVIEW,
    FEEDBACK_DECISIONS,
    MAX_CHECKBOXES,
    PLACEHOLDER_LIMIT,
    artifact_label,
    artifact_text,
    as_text,
    cap_blocks,
    choice_bounds,
    context,
    context_items,
    decision_edits,
    divider,
    fields_sections,
    humanize,
    option,
    option_label,
    options_or_groups,
    plain,
    request_title,
    review_option,
    section,
    short_id,
)
from bot.mrkdwn import escape, split, to_mrkdwn, truncate
from runtime.answers import canonical_value
from runtime.models import PendingRequest, RunRecord
from runtime.primitives.human import MAX_ITEMS

MODAL_TITLE_LIMIT = 24
MAX_MODAL_BLOCKS = 100
INPUT_LIMIT = 3000  # plain_text_input's initial_value and typed value
LABEL_LIMIT = 2000
TEXT_PIECE = 2900  # section text per block, a little under Slack's 3000
FULL_TEXT_BUDGET = 30_000  # characters shown in one modal: views stop at 250 kB of JSON
ARTIFACT_PART = 2500  # an artifact to edit is split in parts that leave room to type
MAX_ARTIFACT_PARTS = 10
MAX_RADIO = 5  # a few choices read best as radio buttons; more get a menu

ANSWER = "answer"  # block_id and action_id of a single-field modal
FEEDBACK = "feedback"
NOTE = "note"
YES, NO = "yes", "no"


# --- the shell ----------------------------------------------------------------------------


def modal(
    title: str,
    blocks: list[dict],
    *,
    callback_id: str,
    metadata: dict[str, Any] | None = None,
    submit: str | None = None,
    close: str = "Cancel",
) -> dict[str, Any]:
    """A modal view within Slack's limits (24-character titles, 100 blocks)."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MODAL_TITLE_LIMIT),
        "close": plain(close, MODAL_TITLE_LIMIT),
        "blocks": cap_blocks(blocks, MAX_MODAL_BLOCKS),
    }
    if submit:
        view["submit"] = plain(submit, MODAL_TITLE_LIMIT)
    if metadata is not None:
        set_view_metadata(view, metadata)
    return view


def set_view_metadata(view: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Store `metadata` as the view's `private_metadata` JSON (compact: Slack allows 3000)."""
    view["private_metadata"] = json.dumps(metadata, separators=(",", ":"))


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON a modal carries in `private_metadata` ({} when absent or not ours)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    hint: str | None = None,
    optional: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, LABEL_LIMIT),
        "element": element,
    }
    if hint and hint.strip():
        block["hint"] = plain(hint, LABEL_LIMIT)
    if optional:
        block["optional"] = True
    return block


def text_element(
    *,
    multiline: bool = False,
    placeholder: str | None = None,
    initial: Any = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ANSWER,
        "multiline": multiline,
    }
    if placeholder and placeholder.strip():
        element["placeholder"] = plain(placeholder, PLACEHOLDER_LIMIT)
    if isinstance(initial, str | int | float) and not isinstance(initial, bool):
        text = str(initial)
        if text.strip() and len(text) <= INPUT_LIMIT:
            element["initial_value"] = text
    return element


def choice_element(
    options: list[dict[str, Any]], *, multiple: bool = False, initial: Any = None, high: Any = None
) -> dict[str, Any]:
    """Radio buttons or checkboxes for a few options, a menu for many; option values are
    indexes into `options`; the default, if among them, is pre-selected."""
    chosen = initial if isinstance(initial, list) else [initial]
    items = [
        option(option_label(o), str(i), o.get("description") if len(options) <= 10 else None)
        for i, o in enumerate(options)
    ]
    selected = [items[i] for i, o in enumerate(options) if _in(o.get("value"), chosen)]
    if multiple:
        if len(options) <= MAX_CHECKBOXES:
            element: dict[str, Any] = {"type": "checkboxes", "options": items}
        else:
            element = {"type": "multi_static_select", **options_or_groups(_plain_items(items))}
            element["placeholder"] = plain("Choose…", PLACEHOLDER_LIMIT)
            if isinstance(high, int) and not isinstance(high, bool) and high >= 1:
                element["max_selected_items"] = high
            selected = _plain_items(selected)
        if selected:
            element["initial_options"] = selected
    else:
        if len(options) <= MAX_RADIO:
            element = {"type": "radio_buttons", "options": items}
        else:
            element = {"type": "static_select", **options_or_groups(_plain_items(items))}
            element["placeholder"] = plain("Choose…", PLACEHOLDER_LIMIT)
            selected = _plain_items(selected)
        if selected:
            element["initial_option"] = selected[0]
    element["action_id"] = ANSWER
    return element


def _plain_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Menu options without descriptions (Slack shows those only in radios and checkboxes)."""
    return [{"text": item["text"], "value": item["value"]} for item in items]


def _in(value: Any, chosen: list[Any]) -> bool:
    return value is not None and any(
        value == c or canonical_value(value) == canonical_value(c) for c in chosen if c is not None
    )


def _about(pending: PendingRequest) -> dict[str, Any]:
    """Small print naming the procedure and request, so a modal is never out of context."""
    return context(f"{escape(pending.procedure_id)} `{escape(short_id(pending))}`")


def _message(pending: PendingRequest, prefix: str = "") -> dict[str, Any]:
    text, _ = truncate(to_mrkdwn(pending.request.message) or "—", TEXT_PIECE - len(prefix))
    return section(prefix + text)


def _metadata(pending: PendingRequest, **extra: Any) -> dict[str, Any]:
    return {"request_id": pending.request_id, **extra}


# --- answering ----------------------------------------------------------------------------


def input_modal(pending: PendingRequest) -> dict[str, Any]:
    """The Respond modal: a text field (placeholder, multiline, default pre-filled), or the
    options as radio buttons / checkboxes / a menu when the request has choices."""
    request = pending.request
    hint = None
    if request.options:
        multiple = request.metadata.get("mode") == "multiple"
        element = choice_element(
            request.options,
            multiple=multiple,
            initial=request.default_value,
            high=request.metadata.get("max"),
        )
        label = choice_bounds(request) if multiple else "Your choice"
    elif request.request_type == "approval":
        element = _yes_no(request.default_value)
        label = "Your decision"
    else:
        element = text_element(
            multiline=bool(request.metadata.get("multiline", False)),
            placeholder=str(request.metadata.get("placeholder") or ""),
            initial=request.default_value,
        )
        label = "Your answer"
        if request.default_value not in (None, ""):
            hint = f"Pre-filled with the default: {as_text(request.default_value)}"
    blocks = [_about(pending), _message(pending), input_block(ANSWER, label, element, hint=hint)]
    return modal(
        request_title(request),
        blocks,
        callback_id=CALLBACK_INPUT,
        metadata=_metadata(pending),
        submit="Submit",
    )


def _yes_no(default: Any) -> dict[str, Any]:
    items = [option("Yes", YES), option("No", NO)]
    element: dict[str, Any] = {"type": "radio_buttons", "action_id": ANSWER, "options": items}
    if isinstance(default, bool):
        element["initial_option"] = items[0] if default else items[1]
    return element


def parse_input_submission(pending: PendingRequest, state_values: dict[str, Any]) -> Any:
    """The raw answer from an input modal: the typed text, the chosen option's value, or the
    list of chosen values."""
    state = _state(state_values, ANSWER)
    request = pending.request
    if request.options:
        return _chosen(request.options, state, multiple=request.metadata.get("mode") == "multiple")
    if request.request_type == "approval":
        return _yes_no_value(state)
    return state.get("value")


def _state(state_values: dict[str, Any], block: str) -> dict[str, Any]:
    """The state of the one element in `block` (whatever its action_id)."""
    actions = (state_values or {}).get(block) or {}
    if ANSWER in actions:
        return actions[ANSWER] or {}
    return next(iter(actions.values()), None) or {}


def _chosen(options: list[dict[str, Any]], state: dict[str, Any], *, multiple: bool) -> Any:
    """Option values from selected indexes: a list for multiple choices, else one value."""
    if "selected_options" in state or multiple:
        picked = state.get("selected_options") or []
    else:
        picked = [state["selected_option"]] if state.get("selected_option") else []
    values = []
    for item in picked:
        index = _index(item.get("value"))
        if index is not None and 0 <= index < len(options):
            values.append(options[index]["value"])
    if multiple:
        return values
    return values[0] if values else None


def _index(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _yes_no_value(state: dict[str, Any]) -> bool | None:
    picked = (state.get("selected_option") or {}).get("value")
    return {YES: True, NO: False}.get(picked)


# --- review decisions ---------------------------------------------------------------------


def review_modal(pending: PendingRequest, option_index: int) -> dict[str, Any]:
    """The modal behind a review option that edits or asks for changes: the artifact
    pre-filled for editing (when the option edits) and a feedback field."""
    item = review_option(pending, option_index)
    if item is None:
        raise ValueError(f"request {pending.request_id} has no review option {option_index}")
    label = option_label(item)
    blocks: list[dict] = [_about(pending), _message(pending, f"Decision: *{escape(label)}*\n")]
    parts = artifact_parts(pending) if decision_edits(item) else None
    if parts is not None:
        blocks += _artifact_inputs(pending, parts[0])
    elif decision_edits(item) and pending.request.metadata.get("artifact") is not None:
        blocks.append(context("_Too long to edit here: describe the changes below._"))
    blocks.append(_feedback_input(item))
    return modal(
        label,
        blocks,
        callback_id=CALLBACK_REVIEW,
        metadata=_metadata(pending, option=option_index),
        submit=label,
    )


def _artifact_inputs(pending: PendingRequest, parts: list[str]) -> list[dict]:
    name = artifact_label(pending.request)
    blocks = []
    for n, part in enumerate(parts):
        label = name if len(parts) == 1 else f"{name} (part {n + 1} of {len(parts)})"
        element = text_element(multiline=True, initial=part)
        blocks.append(input_block(f"artifact:{n}", label, element, optional=not part.strip()))
    return blocks


def _feedback_input(item: dict[str, Any]) -> dict[str, Any]:
    wants_changes = canonical_value(item.get("value")) in FEEDBACK_DECISIONS
    placeholder = "What should change?" if wants_changes else "Anything the author should know"
    hint = "Shown in the thread and returned to the procedure."
    element = text_element(multiline=True, placeholder=placeholder)
    return input_block(FEEDBACK, "Feedback", element, hint=hint, optional=not wants_changes)


def artifact_parts(pending: PendingRequest) -> tuple[list[str], list[str]] | None:
    """The artifact as text split into parts that each fit a text input, with the separators
    that join them back exactly; None when there is no artifact or it is too long to edit."""
    artifact = pending.request.metadata.get("artifact")
    if artifact is None:
        return None
    text = _editable(artifact).replace("\r\n", "\n")
    parts, joins = [], []
    chunk: list[str] = []
    size = 0
    for line in text.split("\n"):
        while len(line) > ARTIFACT_PART:  # a huge single line: cut it, join with nothing
            if chunk:
                parts.append("\n".join(chunk))
                joins.append("\n")
                chunk, size = [], 0
            parts.append(line[:ARTIFACT_PART])
            joins.append("")
            line = line[ARTIFACT_PART:]
        if chunk and size + len(line) + 1 > ARTIFACT_PART:
            parts.append("\n".join(chunk))
            joins.append("\n")
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    parts.append("\n".join(chunk))
    parts, joins = _move_blank_lines(parts, joins)
    if len(parts) > MAX_ARTIFACT_PARTS:
        return None
    return parts, joins


def _move_blank_lines(parts: list[str], joins: list[str]) -> tuple[list[str], list[str]]:
    """Slack trims the ends of typed text: newlines at a part's edges go into the joins."""
    for n in range(len(joins)):
        if joins[n] != "\n":
            continue
        before, after = parts[n], parts[n + 1]
        head = before.rstrip("\n")
        tail = after.lstrip("\n")
        joins[n] = "\n" * (1 + len(before) - len(head) + len(after) - len(tail))
        parts[n], parts[n + 1] = head, tail
    return parts, joins


def _editable(artifact: Any) -> str:
    if isinstance(artifact, str):
        return artifact
    return json.dumps(artifact, ensure_ascii=False, indent=2, default=str)


def parse_review_submission(
    pending: PendingRequest, option_index: int, state_values: dict[str, Any]
) -> dict[str, Any]:
    """`{"decision", "feedback"[, "edited_artifact"]}` from a review modal; the artifact is
    returned only when the modal showed it, and unchanged text keeps the original value."""
    item = review_option(pending, option_index)
    if item is None:
        raise ValueError(f"request {pending.request_id} has no review option {option_index}")
    feedback = _state(state_values, FEEDBACK).get("value") or ""
    answer: dict[str, Any] = {"decision": item["value"], "feedback": feedback}
    split_parts = artifact_parts(pending) if decision_edits(item) else None
    if split_parts is not None:
        parts, joins = split_parts
        typed = [
            _state(state_values, f"artifact:{n}").get("value") or "" for n in range(len(parts))
        ]
        text = typed[0] + "".join(join + part for join, part in zip(joins, typed[1:], strict=True))
        answer["edited_artifact"] = _edited(pending.request.metadata.get("artifact"), text)
    return answer


def _edited(original: Any, text: str) -> Any:
    """The edited artifact: the original value when only whitespace at the ends changed,
    data parsed back from JSON when it was data."""
    if isinstance(original, str):
        same = text.replace("\r\n", "\n").strip() == original.replace("\r\n", "\n").strip()
        return original if same else text
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text
    return original if parsed == original else parsed


# --- several inputs at once ---------------------------------------------------------------


def inputs_modal(pending: PendingRequest) -> dict[str, Any]:
    """One modal with every item of a `Human.multiple`: required ones marked by Slack,
    defaults pre-filled, each item's message as its hint."""
    items = pending.request.metadata.get("items", [])
    # The runtime asks at most MAX_ITEMS, which fill the modal next to `_about`; a longer
    # batch (asked before that limit) keeps a block to say what happens to the rest.
    shown = items if len(items) <= MAX_ITEMS else items[: MAX_MODAL_BLOCKS - 2]
    blocks: list[dict] = [_about(pending)]
    for n, item in enumerate(shown):
        message = str(item.get("message") or "")
        hint = message if message and message != item.get("label") else None
        blocks.append(
            input_block(
                item_block_id(n, item),
                str(item.get("label") or item.get("item_id")),
                _item_element(item),
                hint=hint,
                optional=not item.get("required", True),
            )
        )
    if len(shown) < len(items):
        blocks.append(context("_More items than a modal holds: the rest take their defaults._"))
    count = len(items)
    title = f"Answer {count} questions" if count != 1 else "Answer 1 question"
    return modal(
        title, blocks, callback_id=CALLBACK_INPUTS, metadata=_metadata(pending), submit="Submit"
    )


def item_block_id(index: int, item: dict[str, Any]) -> str:
    """`item:<n>:<item_id>`: the position reads the answer back, the id places errors."""
    block = f"item:{index}:{item.get('item_id')}"
    return block if len(block) <= 255 else f"item:{index}"


def _item_element(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("request_type")
    metadata = item.get("metadata") or {}
    default = item.get("default_value")
    if kind == "approval":
        return _yes_no(default)
    options = item.get("options") or []
    if options:
        return choice_element(
            options,
            multiple=metadata.get("mode") == "multiple",
            initial=default,
            high=metadata.get("max"),
        )
    return text_element(
        multiline=bool(metadata.get("multiline", False)),
        placeholder=str(metadata.get("placeholder") or ""),
        initial=default,
    )


def parse_inputs_submission(pending: PendingRequest, state_values: dict[str, Any]) -> dict:
    """`{item_id: raw answer}` for every item; an empty field gives None (the item's default
    applies, or normalize_answer says it is required)."""
    answers: dict[str, Any] = {}
    for n, item in enumerate(pending.request.metadata.get("items", [])):
        state = _state(state_values, item_block_id(n, item))
        answers[item["item_id"]] = _item_answer(item, state)
    return answers


def _item_answer(item: dict[str, Any], state: dict[str, Any]) -> Any:
    kind = item.get("request_type")
    if kind == "approval":
        return _yes_no_value(state)
    options = item.get("options") or []
    if options:
        multiple = (item.get("metadata") or {}).get("mode") == "multiple"
        value = _chosen(options, state, multiple=multiple)
        if kind == "review" and value is not None:
            return {"decision": value}
        return value
    return state.get("value") or None


# --- escalations --------------------------------------------------------------------------


def resolve_modal(pending: PendingRequest) -> dict[str, Any]:
    """Resolve an escalation, with an optional note for the thread and the procedure."""
    items = context_items(pending.request)
    blocks: list[dict] = [_about(pending), _message(pending)]
    if items:
        fields = [
            f"*{escape(humanize(k))}*\n{escape(as_text(v))}" for k, v in list(items.items())[:10]
        ]
        blocks += fields_sections(fields)
    element = text_element(multiline=True, placeholder="What was done, and what is left")
    blocks.append(
        input_block(
            NOTE,
            "Resolution note",
            element,
            hint="Shown in the thread with the outcome.",
            optional=True,
        )
    )
    return modal(
        "Resolve escalation",
        blocks,
        callback_id=CALLBACK_RESOLVE,
        metadata=_metadata(pending),
        submit="Resolve",
    )


def parse_resolve_submission(pending: PendingRequest, state_values: dict[str, Any]) -> dict:
    """`{"note": ...}`: the raw answer an escalation takes."""
    return {"note": _state(state_values, NOTE).get("value") or ""}


def modal_errors(pending: PendingRequest, message: str) -> dict[str, str]:
    """`{block_id: message}` for `ack(response_action="errors", errors=...)`: an AnswerError
    shown on the field it is about (an item's, or the modal's main field)."""
    text = truncate(str(message), 300)[0]
    kind = pending.request.request_type
    if kind == "inputs":
        items = pending.request.metadata.get("items", [])
        named = _named_item(message)
        for n, item in enumerate(items):
            if item["item_id"] == named:
                return {item_block_id(n, item): text}
        return {item_block_id(0, items[0]): text} if items else {}
    if kind == "review":
        return {FEEDBACK: text}
    if kind == "escalation":
        return {NOTE: text}
    return {ANSWER: text}


def form_error(view: dict[str, Any], message: str) -> dict[str, str]:
    """`{block_id: message}` from the submitted view alone (no request needed, so it also
    serves when the request is gone, and for other modals): an item's field when the message
    names the item, else the modal's main field, else its first input."""
    text = truncate(str(message), 300)[0]
    inputs = [
        str(b["block_id"])
        for b in view.get("blocks") or []
        if b.get("type") == "input" and b.get("block_id")
    ]
    named = _named_item(str(message))
    for block in inputs:
        if named is not None and block.startswith("item:") and block.split(":", 2)[2:] == [named]:
            return {block: text}
    for main in (ANSWER, NOTE, FEEDBACK):
        if main in inputs:
            return {main: text}
    return {inputs[0]: text} if inputs else {}


def _named_item(message: str) -> str | None:
    """The item id an AnswerError names (`item 'ticket': ...`)."""
    found = re.search(r"item (['\"])(.+?)\1", message)
    return found.group(2) if found else None


# --- reading in full ----------------------------------------------------------------------


class _Budget:
    """Characters left for a modal's text: views stop at 250 kB, so a huge artifact is cut
    with a note rather than refused."""

    def __init__(self, total: int = FULL_TEXT_BUDGET) -> None:
        self.left = total

    def take(self, text: str) -> tuple[str, bool]:
        cut, truncated = truncate(text, max(self.left, 1))
        self.left -= len(cut)
        return cut, truncated


def text_blocks(text: str, budget: _Budget | None = None) -> list[dict]:
    """Long mrkdwn as consecutive sections of at most TEXT_PIECE characters."""
    budget = budget or _Budget()
    shown, cut = budget.take(text)
    blocks = [section(piece) for piece in split(shown, TEXT_PIECE) if piece.strip()]
    if cut:
        blocks.append(context("_The rest is too long to show in Slack._"))
    return blocks


def details_modal(title: str, sections: list[dict[str, Any]]) -> dict[str, Any]:
    """Read-only sections (`[{"title", "content"}]`, as `Human.notify` details), each
    Markdown converted, long ones split over several blocks."""
    budget = _Budget()
    blocks: list[dict] = []
    for n, part in enumerate(sections or []):
        if n:
            blocks.append(divider())
        heading = str(part.get("title") or "").strip()
        if heading:
            blocks.append(section(f"*{escape(heading)}*"))
        blocks += text_blocks(to_mrkdwn(str(part.get("content") or "")) or "—", budget)
    if not blocks:
        blocks.append(section("_No details._"))
    return modal(title or "Details", blocks, callback_id=CALLBACK_INFO, close="Close")


def full_text_modal(title: str, text: str, *, code: bool = False) -> dict[str, Any]:
    """A long text in full (Markdown, or code kept verbatim when `code`)."""
    body = "```\n" + escape(text.replace("```", "`\u200b``")) + "\n```" if code else to_mrkdwn(text)
    return modal(
        title or "Full text",
        text_blocks(body or "—"),
        callback_id=CALLBACK_INFO,
        close="Close",
    )


def request_details_modal(pending: PendingRequest) -> dict[str, Any]:
    """Everything a request message had to shorten (ACTION_VIEW_FULL): the whole message,
    every context field, the whole artifact, and the edited artifact once answered."""
    request = pending.request
    budget = _Budget()
    blocks: list[dict] = [_about(pending), *text_blocks(to_mrkdwn(request.message) or "—", budget)]
    items = context_items(request)
    if items:
        fields = [
            f"*{escape(humanize(k))}*\n{escape(as_text(v))}" for k, v in list(items.items())[:80]
        ]
        blocks += fields_sections(fields)
    if request.metadata.get("artifact") is not None:
        blocks.append(divider())
        blocks.append(section(f"*{escape(artifact_label(request))}*"))
        blocks += text_blocks(artifact_text(request) or "—", budget)
    edited = _edited_artifact(pending)
    if edited is not None:
        blocks.append(divider())
        blocks.append(section(f"*{escape(artifact_label(request))}, as edited*"))
        blocks += text_blocks(artifact_text(request, edited) or "—", budget)
    return modal(request_title(request), blocks, callback_id=CALLBACK_INFO, close="Close")


def _edited_artifact(pending: PendingRequest) -> Any:
    response = pending.response
    if response is None or not isinstance(response.value, dict):
        return None
    edited = response.value.get("edited_artifact")
    return None if edited == pending.request.metadata.get("artifact") else edited


def result_modal(run: RunRecord) -> dict[str, Any]:
    """A run's whole result (ACTION_VIEW_RESULT), as indented JSON."""
    body = json.dumps(run.result, ensure_ascii=False, indent=2, default=str)
    return full_text_modal(f"Result {run.run_id[:8]}", body, code=True)


def notification_details_modal(event_payload: dict[str, Any]) -> dict[str, Any]:
    """ACTION_DETAILS: a notification's whole content and its `details` sections."""
    sections = []
    if event_payload.get("content"):
        sections.append({"title": "", "content": str(event_payload["content"])})
    sections += [d for d in event_payload.get("details") or [] if isinstance(d, dict)]
    return details_modal(str(event_payload.get("message") or "Details"), sections)
