"""What a Slack client does with Block Kit elements: ids, clicks, picks and typed values.

Slack fills in missing `block_id`/`action_id`, reports an interaction as an `actions[0]`
object, and keeps a modal's input in `state.values`. The control API acts as the user, so it
needs the same translation from "click Approve" or "type 'because'" to Slack's shapes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

Block = dict[str, Any]
Element = dict[str, Any]

#: Element types that are not interactive and never get an action_id.
_STATIC_TYPES = {"image", "plain_text", "mrkdwn"}

#: For each element type: the state/action field holding the user's choice, and the field
#: holding its initial value.
_VALUE_FIELDS: dict[str, tuple[str, str]] = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "rich_text_input": ("rich_text_value", "initial_value"),
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "multi_static_select": ("selected_options", "initial_options"),
    "multi_external_select": ("selected_options", "initial_options"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "checkboxes": ("selected_options", "initial_options"),
    "radio_buttons": ("selected_option", "initial_option"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "overflow": ("selected_option", ""),
    "file_input": ("files", ""),
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")

REQUIRED_FIELD = "Please fill out this field."


class ElementError(ValueError):
    """The user tried something the Slack client would not let them do."""


def iter_elements(blocks: Any) -> Iterator[tuple[Block, Element]]:
    """Yield (block, element) for every element a user can act on, in display order."""
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("actions", "context_actions"):
            for element in block.get("elements") or []:
                if isinstance(element, dict):
                    yield block, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif kind == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def assign_ids(blocks: Any, new_id: Callable[[], str]) -> Any:
    """A copy of `blocks` where every block has a block_id and every element an action_id,
    as Slack returns them (apps rely on these ids in the payloads they receive)."""
    if not isinstance(blocks, list):
        return blocks
    result = copy.deepcopy(blocks)
    for block in result:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = new_id()
    for _block, element in iter_elements(result):
        if element.get("type") not in _STATIC_TYPES and not element.get("action_id"):
            element["action_id"] = new_id()
    return result


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def visible_texts(block: Block, element: Element) -> list[str]:
    """The words a user would read to pick this element (button label, placeholder...)."""
    texts = [_text_of(element.get("text")), _text_of(element.get("placeholder"))]
    if block.get("type") == "input":
        texts.append(_text_of(block.get("label")))
    if block.get("type") == "section" and block.get("accessory") is element:
        texts.append(_text_of(block.get("text")))
    return [t for t in texts if t]


def find_element(
    blocks: Any, *, action_id: str | None, text: str | None, block_id: str | None = None
) -> tuple[Block, Element] | None:
    """The first element matching action_id (exact) or visible text (exact, then
    case-insensitive), optionally inside block `block_id`."""
    candidates = [
        (b, e)
        for b, e in iter_elements(blocks)
        if block_id is None or b.get("block_id") == block_id
    ]
    if action_id is not None:
        for block, element in candidates:
            if element.get("action_id") == action_id:
                return block, element
        return None
    if text is not None:
        for fold in (False, True):
            for block, element in candidates:
                texts = visible_texts(block, element)
                if fold:
                    texts = [t.casefold() for t in texts]
                if (text.casefold() if fold else text) in texts:
                    return block, element
    return None


def options_of(element: Element) -> list[dict[str, Any]]:
    """Every option of a select/overflow/checkbox/radio element, groups flattened."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def _pick_option(element: Element, wanted: Any) -> dict[str, Any]:
    if isinstance(wanted, dict):
        return copy.deepcopy(wanted)
    options = options_of(element)
    for option in options:
        if option.get("value") == wanted:
            return copy.deepcopy(option)
    for option in options:
        if _text_of(option.get("text")).casefold() == str(wanted).casefold():
            return copy.deepcopy(option)
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(wanted)}, "value": str(wanted)}
    raise ElementError(f"no option {wanted!r} in {element.get('action_id')}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def convert_value(
    element: Element,
    value: Any,
    *,
    resolve_user: Callable[[str], str],
    resolve_channel: Callable[[str], str],
) -> Any:
    """Turn what the control API was given ("approve", ["a","b"], "@bob") into the Slack
    value of this element type (an option object, a user id...)."""
    kind = element.get("type", "")
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        return None if value is None else _pick_option(element, value)
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return [_pick_option(element, v) for v in _as_list(value)]
    if kind == "users_select":
        return None if value is None else resolve_user(str(value))
    if kind == "multi_users_select":
        return [resolve_user(str(v)) for v in _as_list(value)]
    if kind in ("conversations_select", "channels_select"):
        return None if value is None else resolve_channel(str(value))
    if kind in ("multi_conversations_select", "multi_channels_select"):
        return [resolve_channel(str(v)) for v in _as_list(value)]
    if kind == "datepicker":
        if value is not None and not _DATE.match(str(value)):
            raise ElementError(f"a date is YYYY-MM-DD, not {value!r}")
        return value
    if kind == "timepicker":
        if value is not None and not _TIME.match(str(value)):
            raise ElementError(f"a time is HH:MM, not {value!r}")
        return value
    if kind == "datetimepicker":
        return None if value is None else int(value)
    if kind == "number_input":
        if value is None or value == "":
            return None
        text = str(value)
        try:
            float(text) if element.get("is_decimal_allowed") else int(text)
        except ValueError as exc:
            raise ElementError(f"{text!r} is not a valid number") from exc
        return text
    if kind == "rich_text_input":
        if value is None or isinstance(value, dict):
            return value
        return {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": str(value)}]}
            ],
        }
    if kind == "file_input":
        return _as_list(value)
    return None if value is None else str(value)


def state_entry(element: Element, value: Any) -> dict[str, Any] | None:
    """The `state.values[block_id][action_id]` object for `value`, or None for buttons."""
    kind = element.get("type", "")
    fields = _VALUE_FIELDS.get(kind)
    if fields is None or kind == "overflow":
        return None
    return {"type": kind, fields[0]: value}


def initial_value(element: Element) -> Any:
    """The element's value before the user touches it (Slack reports it on submission)."""
    kind = element.get("type", "")
    fields = _VALUE_FIELDS.get(kind)
    if fields is None:
        return None
    field, initial = fields
    if initial and initial in element:
        return copy.deepcopy(element[initial])
    return [] if field.endswith("s") and field != "rich_text_value" else None


def action_object(block: Block, element: Element, value: Any, action_ts: str) -> dict[str, Any]:
    """The `actions[0]` entry of a block_actions payload."""
    kind = element.get("type", "")
    action: dict[str, Any] = {
        "type": kind,
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
    }
    if kind in ("button", "workflow_button"):
        action["text"] = copy.deepcopy(element.get("text"))
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    else:
        fields = _VALUE_FIELDS.get(kind)
        if fields is not None:
            action[fields[0]] = value
        if "placeholder" in element:
            action["placeholder"] = copy.deepcopy(element["placeholder"])
    action["action_ts"] = action_ts
    return action


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def client_side_errors(element: Element, value: Any, optional: bool) -> str | None:
    """What the Slack client says before sending anything (required field, text length)."""
    if is_empty(value):
        return None if optional else REQUIRED_FIELD
    if element.get("type") == "plain_text_input" and isinstance(value, str):
        min_length = element.get("min_length")
        max_length = element.get("max_length")
        if isinstance(min_length, int) and len(value) < min_length:
            return f"Please enter at least {min_length} characters."
        if isinstance(max_length, int) and len(value) > max_length:
            return f"Please enter no more than {max_length} characters."
    return None
