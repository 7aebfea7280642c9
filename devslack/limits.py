"""Slack's size and shape rules for message and view arguments, mapped to Slack's errors.

Block Kit rules themselves live in devslack.blockkit (written separately); this module calls
it and adds the rules that sit outside blocks (text length, attachments, view payload size),
so every entry point (Web API, response_url, ack bodies) refuses exactly what Slack refuses.
"""

from __future__ import annotations

import json
from typing import Any

from devslack.errors import SlackError

MESSAGE_TEXT_LIMIT = 40_000  # chat.postMessage / postEphemeral: msg_too_long above this
UPDATE_TEXT_LIMIT = 4_000  # chat.update: msg_too_long above this
VIEW_SIZE_LIMIT = 250_000  # views.*: view_too_large above 250 kB of JSON
MAX_ATTACHMENTS = 100
_SECTION_TEXT_LIMIT = 3000


def parse_json_arg(value: Any, error: str) -> Any:
    """Form-encoded calls carry blocks/view/metadata as JSON strings; JSON calls as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def _fallback_message_errors(blocks: Any, prefix: str) -> list[str]:
    """The few checks devslack makes when devslack.blockkit is not importable."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{prefix}]"]
    errors = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(
                f"[ERROR] failed to match all allowed schemas [json-pointer:{prefix}/{i}]"
            )
            continue
        text = block.get("text")
        too_long = isinstance(text, dict) and len(str(text.get("text", ""))) > _SECTION_TEXT_LIMIT
        if block["type"] == "section" and too_long:
            errors.append(
                f"[ERROR] must be less than 3001 characters [json-pointer:{prefix}/{i}/text/text]"
            )
    return errors


def message_block_errors(blocks: Any) -> list[str]:
    """Slack's `response_metadata.messages` for invalid message blocks ([] when valid)."""
    try:
        from devslack import blockkit
    except ImportError:
        return _fallback_message_errors(blocks, "/blocks")
    return list(blockkit.validate_message(blocks))


def view_errors(view: Any) -> list[str]:
    """Slack's messages for an invalid view ([] when valid)."""
    try:
        from devslack import blockkit
    except ImportError:
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            return ["[ERROR] must be a modal or home view [json-pointer:/view/type]"]
        return _fallback_message_errors(view.get("blocks", []), "/view/blocks")
    return list(blockkit.validate_view(view))


def parse_blocks(raw: Any) -> list[dict[str, Any]] | None:
    """The `blocks` argument as a list (None when absent), or invalid_blocks_format."""
    if raw is None or raw == "":
        return None
    blocks = parse_json_arg(raw, "invalid_blocks_format")
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    return blocks


def parse_attachments(raw: Any) -> list[dict[str, Any]] | None:
    if raw is None or raw == "":
        return None
    attachments = parse_json_arg(raw, "invalid_attachments")
    if not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise SlackError("too_many_attachments")
    return attachments


def check_message(
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    attachments: list[dict[str, Any]] | None,
    *,
    text_limit: int = MESSAGE_TEXT_LIMIT,
    require_content: bool = True,
) -> None:
    """Raise Slack's error for a message Slack would refuse."""
    if require_content and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None and len(text) > text_limit:
        raise SlackError("msg_too_long")
    if blocks is not None:
        messages = message_block_errors(blocks)
        if messages:
            raise SlackError("invalid_blocks", response_metadata={"messages": messages})


def parse_view(raw: Any) -> dict[str, Any]:
    """The `view` argument as a dict, refusing what Slack refuses before looking at blocks."""
    if raw is None or raw == "":
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: view"]},
        )
    size = len(raw.encode()) if isinstance(raw, str) else len(json.dumps(raw).encode())
    if size > VIEW_SIZE_LIMIT:
        raise SlackError("view_too_large")
    view = parse_json_arg(raw, "invalid_arguments")
    if not isinstance(view, dict):
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] must be an object [json-pointer:/view]"]},
        )
    return view


def check_view(view: dict[str, Any]) -> None:
    messages = view_errors(view)
    if messages:
        raise SlackError("invalid_arguments", response_metadata={"messages": messages})
