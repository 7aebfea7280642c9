"""devslack's Block Kit validator: one rule a case, each with a payload Slack accepts and one it
refuses, the refusal checked word for word and pointer for pointer."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import pytest

from devslack.blockkit import validate_message, validate_view


@dataclass(frozen=True)
class M:
    """A message's `blocks`."""

    blocks: Any


@dataclass(frozen=True)
class V:
    """A view (modal or Home tab)."""

    view: Any


def run(payload: M | V) -> list[str]:
    if isinstance(payload, M):
        return validate_message(payload.blocks)
    return validate_view(payload.view)


def err(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def union(pointer: str) -> str:
    """What Slack says first where either text kind may stand, or of a refused view."""
    return err("failed to match all allowed schemas", pointer)


VIEW = union("/view")


def pt(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, **extra}


def md(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, **extra}


def section(**extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": md(), **extra}


def button(action_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": pt("Go"), "action_id": action_id, **extra}


def actions(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements), **extra}


def opt(value: str = "a", text: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"text": text or pt(value), "value": value, **extra}


def select(kind: str = "static_select", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "action_id": "pick", "options": [opt("a"), opt("b")], **extra}


def field_input(element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "input", "label": pt("Label"), "element": element, **extra}


def group(label: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"label": label or pt("Group"), "options": [opt("a")], **extra}


def grouped(groups: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "pick", "option_groups": groups, **extra}


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    view = {"type": "modal", "title": pt("Title"), "submit": pt("Save"), "blocks": list(blocks)}
    return {**view, **extra}


def confirm(**extra: Any) -> dict[str, Any]:
    return {"title": pt("Sure?"), "text": md("Really?"), "confirm": pt("Yes"), "deny": pt("No")} | (
        extra
    )


def in_actions(element: dict[str, Any]) -> M:
    return M([actions(element)])


def in_modal(element: dict[str, Any]) -> V:
    return V(modal(field_input(element)))


def without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


E0 = "/blocks/0/elements/0"
I0 = "/view/blocks/0/element"
CONFIRM_OK = button(confirm=confirm())

CASES: list[tuple[str, M | V, M | V, list[str]]] = [
    # --- surfaces and blocks -----------------------------------------------------------
    ("blocks is a list", M([]), M({"type": "divider"}), [err("must provide an array", "/blocks")]),
    (
        "at most 50 blocks in a message",
        M([{"type": "divider"}] * 50),
        M([{"type": "divider"}] * 51),
        [err("no more than 50 items allowed", "/blocks")],
    ),
    (
        "at most 100 blocks in a modal",
        V(modal(*[{"type": "divider"}] * 100)),
        V(modal(*[{"type": "divider"}] * 101)),
        [VIEW, err("no more than 100 items allowed", "/view/blocks")],
    ),
    (
        "at most 100 blocks in a Home tab",
        V({"type": "home", "blocks": [{"type": "divider"}] * 100}),
        V({"type": "home", "blocks": [{"type": "divider"}] * 101}),
        [VIEW, err("no more than 100 items allowed", "/view/blocks")],
    ),
    (
        "a block is an object",
        M([section()]),
        M(["section"]),
        [err("must provide an object", "/blocks/0")],
    ),
    (
        "a block has a type",
        M([{"type": "divider"}]),
        M([{"block_id": "x"}]),
        [union("/blocks/0")],
    ),
    (
        "a block type is known",
        M([section()]),
        M([{"type": "sectoin"}]),
        [err("unsupported type: sectoin", "/blocks/0/type")],
    ),
    (
        "input blocks belong to modals and Home tabs, not messages",
        V({"type": "home", "blocks": [field_input({"type": "plain_text_input"})]}),
        M([field_input({"type": "plain_text_input"})]),
        [err("unsupported type: input", "/blocks/0/type")],
    ),
    (
        "markdown blocks belong to messages only",
        M([{"type": "markdown", "text": "**hi**"}]),
        V(modal({"type": "markdown", "text": "**hi**"})),
        [VIEW, err("unsupported type: markdown", "/view/blocks/0/type")],
    ),
    (
        "block_id is at most 255 characters",
        M([section(block_id="b" * 255)]),
        M([section(block_id="b" * 256)]),
        [err("must be less than 256 characters", "/blocks/0/block_id")],
    ),
    (
        "block_id is unique in a message",
        M([section(block_id="a"), section(block_id="b")]),
        M([section(block_id="a"), section(block_id="a")]),
        [err("duplicate block_id: a", "/blocks/1/block_id")],
    ),
    (
        "block_id is unique in a view",
        V(modal(section(block_id="a"), field_input({"type": "plain_text_input"}, block_id="b"))),
        V(modal(section(block_id="a"), field_input({"type": "plain_text_input"}, block_id="a"))),
        [VIEW, err("duplicate block_id: a", "/view/blocks/1/block_id")],
    ),
    (
        "action_id is at most 255 characters",
        in_actions(button("a" * 255)),
        in_actions(button("a" * 256)),
        [err("must be less than 256 characters", f"{E0}/action_id")],
    ),
    (
        "action_id is unique in its block (and may repeat in another block)",
        M([actions(button("go")), actions(button("go"))]),
        M([actions(button("go"), button("go"))]),
        [err("duplicate action_id: go", "/blocks/0/elements/1/action_id")],
    ),
    # --- section -----------------------------------------------------------------------
    (
        "section text is at most 3000 characters",
        M([section(text=md("x" * 3000))]),
        M([section(text=md("x" * 3001))]),
        [union("/blocks/0/text"), err("must be less than 3001 characters", "/blocks/0/text/text")],
    ),
    (
        "section text is at least 1 character",
        M([section(text=pt("x"))]),
        M([section(text=pt(""))]),
        [union("/blocks/0/text"), err("must be more than 0 characters", "/blocks/0/text/text")],
    ),
    (
        "a section has text or fields",
        M([{"type": "section", "fields": [md()]}]),
        M([{"type": "section", "block_id": "s"}]),
        [err("must define either `text` or `fields`", "/blocks/0/type")],
    ),
    (
        "a section has at most 10 fields",
        M([section(fields=[md()] * 10)]),
        M([section(fields=[md()] * 11)]),
        [err("no more than 10 items allowed", "/blocks/0/fields")],
    ),
    (
        "a section field is at most 2000 characters",
        M([section(fields=[pt("x" * 2000)])]),
        M([section(fields=[pt("x" * 2001)])]),
        [
            union("/blocks/0/fields/0"),
            err("must be less than 2001 characters", "/blocks/0/fields/0/text"),
        ],
    ),
    (
        "a section accessory is of an allowed type",
        M([section(accessory=button())]),
        M([section(accessory={"type": "plain_text_input"})]),
        [err("unsupported type: plain_text_input", "/blocks/0/accessory/type")],
    ),
    (
        "an element has a type",
        M([section(accessory=button())]),
        M([section(accessory={"text": pt("Go")})]),
        [union("/blocks/0/accessory")],
    ),
    # --- header, context, divider, image -----------------------------------------------
    (
        "header text is plain_text",
        M([{"type": "header", "text": pt("Deploy")}]),
        M([{"type": "header", "text": md("Deploy")}]),
        [err("must be a valid enum value", "/blocks/0/text/type")],
    ),
    (
        "header text is at most 150 characters",
        M([{"type": "header", "text": pt("x" * 150)}]),
        M([{"type": "header", "text": pt("x" * 151)}]),
        [err("must be less than 151 characters", "/blocks/0/text/text")],
    ),
    (
        "a header has text",
        M([{"type": "header", "text": pt()}]),
        M([{"type": "header"}]),
        [err("missing required field: text", "/blocks/0")],
    ),
    (
        "context holds at most 10 elements",
        M([{"type": "context", "elements": [md()] * 10}]),
        M([{"type": "context", "elements": [md()] * 11}]),
        [err("no more than 10 items allowed", "/blocks/0/elements")],
    ),
    (
        "context holds at least 1 element",
        M([{"type": "context", "elements": [md()]}]),
        M([{"type": "context", "elements": []}]),
        [err("no fewer than 1 items allowed", "/blocks/0/elements")],
    ),
    (
        "context elements are images or text",
        M(
            [
                {
                    "type": "context",
                    "elements": [{"type": "image", "image_url": "u", "alt_text": "a"}],
                }
            ]
        ),
        M([{"type": "context", "elements": [button()]}]),
        [union(E0), err("must be a valid enum value", f"{E0}/type")],
    ),
    (
        "a divider is just a divider",
        M([{"type": "divider", "block_id": "d"}]),
        M([{"type": "divider", "block_id": 7}]),
        [err("must provide a string", "/blocks/0/block_id")],
    ),
    (
        "image_url is at most 3000 characters",
        M([{"type": "image", "image_url": "u" * 3000, "alt_text": "a"}]),
        M([{"type": "image", "image_url": "u" * 3001, "alt_text": "a"}]),
        [err("must be less than 3001 characters", "/blocks/0/image_url")],
    ),
    (
        "alt_text is at most 2000 characters",
        M([{"type": "image", "image_url": "u", "alt_text": "a" * 2000}]),
        M([{"type": "image", "image_url": "u", "alt_text": "a" * 2001}]),
        [err("must be less than 2001 characters", "/blocks/0/alt_text")],
    ),
    (
        "an image block has alt_text",
        M([{"type": "image", "image_url": "u", "alt_text": "a"}]),
        M([{"type": "image", "image_url": "u"}]),
        [err("missing required field: alt_text", "/blocks/0")],
    ),
    (
        "an image block has image_url or slack_file",
        M([{"type": "image", "slack_file": {"id": "F1"}, "alt_text": "a"}]),
        M([{"type": "image", "alt_text": "a"}]),
        [err("must define either `image_url` or `slack_file`", "/blocks/0/type")],
    ),
    (
        "an image title is plain_text of at most 2000 characters",
        M([{"type": "image", "image_url": "u", "alt_text": "a", "title": pt("t" * 2000)}]),
        M([{"type": "image", "image_url": "u", "alt_text": "a", "title": pt("t" * 2001)}]),
        [err("must be less than 2001 characters", "/blocks/0/title/text")],
    ),
    # --- actions -----------------------------------------------------------------------
    (
        "actions hold at most 25 elements",
        M([actions(*[button(f"b{i}") for i in range(25)])]),
        M([actions(*[button(f"b{i}") for i in range(26)])]),
        [err("no more than 25 items allowed", "/blocks/0/elements")],
    ),
    (
        "actions hold at least 1 element",
        M([actions(button())]),
        M([actions()]),
        [err("no fewer than 1 items allowed", "/blocks/0/elements")],
    ),
    (
        "actions hold interactive elements only",
        in_actions(select()),
        in_actions({"type": "plain_text_input"}),
        [err("unsupported type: plain_text_input", f"{E0}/type")],
    ),
    # --- input -------------------------------------------------------------------------
    (
        "an input label is plain_text of at most 2000 characters",
        V(modal(field_input({"type": "plain_text_input"}, label=pt("l" * 2000)))),
        V(modal(field_input({"type": "plain_text_input"}, label=pt("l" * 2001)))),
        [VIEW, err("must be less than 2001 characters", "/view/blocks/0/label/text")],
    ),
    (
        "an input label is not mrkdwn",
        V(modal(field_input({"type": "plain_text_input"}, label=pt("Name")))),
        V(modal(field_input({"type": "plain_text_input"}, label=md("Name")))),
        [VIEW, err("must be a valid enum value", "/view/blocks/0/label/type")],
    ),
    (
        "an input hint is plain_text of at most 2000 characters",
        V(modal(field_input({"type": "plain_text_input"}, hint=pt("h" * 2000)))),
        V(modal(field_input({"type": "plain_text_input"}, hint=pt("h" * 2001)))),
        [VIEW, err("must be less than 2001 characters", "/view/blocks/0/hint/text")],
    ),
    (
        "an input element is of an input-capable type",
        in_modal({"type": "plain_text_input"}),
        in_modal(button()),
        [VIEW, err("unsupported type: button", f"{I0}/type")],
    ),
    (
        "an input block has a label and an element",
        V(modal(field_input({"type": "plain_text_input"}))),
        V(modal({"type": "input", "label": pt()})),
        [VIEW, err("missing required field: element", "/view/blocks/0")],
    ),
    (
        "optional and dispatch_action are booleans",
        V(modal(field_input({"type": "plain_text_input"}, optional=True, dispatch_action=False))),
        V(modal(field_input({"type": "plain_text_input"}, optional="yes"))),
        [VIEW, err("must provide a boolean", "/view/blocks/0/optional")],
    ),
    # --- markdown, rich_text -----------------------------------------------------------
    (
        "markdown block text is at most 12000 characters",
        M([{"type": "markdown", "text": "m" * 12000}]),
        M([{"type": "markdown", "text": "m" * 12001}]),
        [err("must be less than 12001 characters", "/blocks/0/text")],
    ),
    (
        "markdown blocks together are at most 12000 characters",
        M([{"type": "markdown", "text": "m" * 6000}, {"type": "markdown", "text": "m" * 6000}]),
        M([{"type": "markdown", "text": "m" * 6000}, {"type": "markdown", "text": "m" * 6001}]),
        [err("markdown blocks must total less than 12001 characters", "/blocks/1/text")],
    ),
    (
        "rich_text holds sections, lists, preformatted runs and quotes",
        M([{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]}]),
        M([{"type": "rich_text", "elements": [{"type": "rich_text_table"}]}]),
        [err("unsupported type: rich_text_table", "/blocks/0/elements/0/type")],
    ),
    # --- text objects ------------------------------------------------------------------
    (
        "a text object is plain_text or mrkdwn",
        M([section(text=md())]),
        M([section(text={"type": "markdown", "text": "x"})]),
        [union("/blocks/0/text"), err("must be a valid enum value", "/blocks/0/text/type")],
    ),
    (
        "a text object has text",
        M([section(text=md("x"))]),
        M([section(text={"type": "mrkdwn"})]),
        [union("/blocks/0/text"), err("missing required field: text", "/blocks/0/text")],
    ),
    (
        "a text object is an object",
        M([section(text=md())]),
        M([section(text="hello")]),
        [err("must provide an object", "/blocks/0/text")],
    ),
    (
        "emoji only on plain_text (Slack's own words, slack-go#1414)",
        M([section(text=pt("x", emoji=True))]),
        M([section(text=md("x", emoji=True))]),
        [union("/blocks/0/text"), err("invalid additional property: emoji", "/blocks/0/text")],
    ),
    (
        "verbatim only on mrkdwn",
        M([section(text=md("x", verbatim=True))]),
        M([section(text=pt("x", verbatim=True))]),
        [union("/blocks/0/text"), err("invalid additional property: verbatim", "/blocks/0/text")],
    ),
    (
        "emoji is a boolean",
        M([section(text=pt("x", emoji=False))]),
        M([section(text=pt("x", emoji="true"))]),
        [union("/blocks/0/text"), err("must provide a boolean", "/blocks/0/text/emoji")],
    ),
    # --- button and confirm ------------------------------------------------------------
    (
        "button text is plain_text",
        in_actions(button(text=pt("Approve"))),
        in_actions(button(text=md("*Approve*"))),
        [err("must be a valid enum value", f"{E0}/text/type")],
    ),
    (
        "button text is at most 75 characters",
        in_actions(button(text=pt("x" * 75))),
        in_actions(button(text=pt("x" * 76))),
        [err("must be less than 76 characters", f"{E0}/text/text")],
    ),
    (
        "button value is at most 2000 characters",
        in_actions(button(value="v" * 2000)),
        in_actions(button(value="v" * 2001)),
        [err("must be less than 2001 characters", f"{E0}/value")],
    ),
    (
        "button url is at most 3000 characters",
        in_actions(button(url="u" * 3000)),
        in_actions(button(url="u" * 3001)),
        [err("must be less than 3001 characters", f"{E0}/url")],
    ),
    (
        "button style is primary or danger",
        in_actions(button(style="danger")),
        in_actions(button(style="secondary")),
        [err("must be a valid enum value", f"{E0}/style")],
    ),
    (
        "button style is a string, never null",
        in_actions(button(style="primary")),
        in_actions(button(style=None)),
        [err("must provide a string", f"{E0}/style")],
    ),
    (
        "a button has text",
        in_actions(button()),
        in_actions(without(button(), "text")),
        [err("missing required field: text", E0)],
    ),
    (
        "a confirm dialog has title, text, confirm and deny",
        in_actions(CONFIRM_OK),
        in_actions(button(confirm=without(confirm(), "deny"))),
        [err("missing required field: deny", f"{E0}/confirm")],
    ),
    (
        "confirm title is plain_text of at most 100 characters",
        in_actions(button(confirm=confirm(title=pt("t" * 100)))),
        in_actions(button(confirm=confirm(title=pt("t" * 101)))),
        [err("must be less than 101 characters", f"{E0}/confirm/title/text")],
    ),
    (
        "confirm text is at most 300 characters",
        in_actions(button(confirm=confirm(text=pt("t" * 300)))),
        in_actions(button(confirm=confirm(text=pt("t" * 301)))),
        [
            union(f"{E0}/confirm/text"),
            err("must be less than 301 characters", f"{E0}/confirm/text/text"),
        ],
    ),
    (
        "confirm and deny labels are plain_text of at most 30 characters",
        in_actions(button(confirm=confirm(confirm=pt("c" * 30), deny=pt("d" * 30)))),
        in_actions(button(confirm=confirm(confirm=pt("c" * 31), deny=md("No")))),
        [
            err("must be less than 31 characters", f"{E0}/confirm/confirm/text"),
            err("must be a valid enum value", f"{E0}/confirm/deny/type"),
        ],
    ),
    (
        "confirm style is primary or danger",
        in_actions(button(confirm=confirm(style="danger"))),
        in_actions(button(confirm=confirm(style="red"))),
        [err("must be a valid enum value", f"{E0}/confirm/style")],
    ),
    # --- options -----------------------------------------------------------------------
    (
        "a select holds at most 100 options",
        in_actions(select(options=[opt(str(i)) for i in range(100)])),
        in_actions(select(options=[opt(str(i)) for i in range(101)])),
        [err("no more than 100 items allowed", f"{E0}/options")],
    ),
    (
        "select option text is plain_text",
        in_actions(select(options=[opt("a", pt("A"))])),
        in_actions(select(options=[opt("a", md("*A*"))])),
        [err("must be a valid enum value", f"{E0}/options/0/text/type")],
    ),
    (
        "a select has options or option_groups",
        in_actions(grouped([group()])),
        in_actions(without(select(), "options")),
        [err("must define either `options` or `option_groups`", f"{E0}/type")],
    ),
    (
        "a select holds at most 100 option groups",
        in_actions(grouped([group()] * 100)),
        in_actions(grouped([group()] * 101)),
        [err("no more than 100 items allowed", f"{E0}/option_groups")],
    ),
    (
        "an option group label is plain_text of at most 75 characters",
        in_actions(grouped([group(pt("g" * 75))])),
        in_actions(grouped([group(pt("g" * 76))])),
        [err("must be less than 76 characters", f"{E0}/option_groups/0/label/text")],
    ),
    (
        "checkboxes hold at most 10 options, which may be mrkdwn",
        in_actions(
            {"type": "checkboxes", "options": [opt(str(i), md(f"*{i}*")) for i in range(10)]}
        ),
        in_actions(
            {"type": "checkboxes", "options": [opt(str(i), md(f"*{i}*")) for i in range(11)]}
        ),
        [err("no more than 10 items allowed", f"{E0}/options")],
    ),
    (
        "radio buttons hold at most 10 options",
        in_actions({"type": "radio_buttons", "options": [opt(str(i)) for i in range(10)]}),
        in_actions({"type": "radio_buttons", "options": [opt(str(i)) for i in range(11)]}),
        [err("no more than 10 items allowed", f"{E0}/options")],
    ),
    (
        "an overflow holds at most 5 options",
        in_actions({"type": "overflow", "options": [opt(str(i)) for i in range(5)]}),
        in_actions({"type": "overflow", "options": [opt(str(i)) for i in range(6)]}),
        [err("no more than 5 items allowed", f"{E0}/options")],
    ),
    (
        "an overflow holds at least 1 option",
        in_actions({"type": "overflow", "options": [opt()]}),
        in_actions({"type": "overflow", "options": []}),
        [err("no fewer than 1 items allowed", f"{E0}/options")],
    ),
    (
        "option text is at most 75 characters",
        in_actions(select(options=[opt("a", pt("x" * 75))])),
        in_actions(select(options=[opt("a", pt("x" * 76))])),
        [err("must be less than 76 characters", f"{E0}/options/0/text/text")],
    ),
    (
        "option value is at most 150 characters",
        in_actions(select(options=[opt("v" * 150, pt("V"))])),
        in_actions(select(options=[opt("v" * 151, pt("V"))])),
        [err("must be less than 151 characters", f"{E0}/options/0/value")],
    ),
    (
        "option description is at most 75 characters",
        in_actions(select(options=[opt("a", description=pt("d" * 75))])),
        in_actions(select(options=[opt("a", description=pt("d" * 76))])),
        [err("must be less than 76 characters", f"{E0}/options/0/description/text")],
    ),
    (
        "an option has a value",
        in_actions(select(options=[opt("a")])),
        in_actions(select(options=[{"text": pt("A")}])),
        [err("missing required field: value", f"{E0}/options/0")],
    ),
    (
        "an option url belongs to overflow menus only",
        in_actions({"type": "overflow", "options": [opt("a", url="https://example.com")]}),
        in_actions(select(options=[opt("a", url="https://example.com")])),
        [err("invalid additional property: url", f"{E0}/options/0")],
    ),
    (
        "initial_option is one of the options",
        in_actions(select(initial_option=opt("b"))),
        in_actions(select(initial_option=opt("z"))),
        [err("must match one of the provided options", f"{E0}/initial_option")],
    ),
    (
        "initial_option may come from an option group",
        in_actions(grouped([group(), group(options=[opt("b")])], initial_option=opt("b"))),
        in_actions(grouped([group(), group(options=[opt("b")])], initial_option=opt("c"))),
        [err("must match one of the provided options", f"{E0}/initial_option")],
    ),
    (
        "checkbox initial_options are among the options",
        in_actions(
            {"type": "checkboxes", "options": [opt("a"), opt("b")], "initial_options": [opt("b")]}
        ),
        in_actions(
            {
                "type": "checkboxes",
                "options": [opt("a"), opt("b")],
                "initial_options": [opt("a"), opt("c")],
            }
        ),
        [err("must match one of the provided options", f"{E0}/initial_options/1")],
    ),
    (
        "radio initial_option is among the options",
        in_actions({"type": "radio_buttons", "options": [opt("a")], "initial_option": opt("a")}),
        in_actions(
            {
                "type": "radio_buttons",
                "options": [opt("a")],
                "initial_option": opt("a", pt("Other")),
            }
        ),
        [err("must match one of the provided options", f"{E0}/initial_option")],
    ),
    (
        "placeholder is plain_text of at most 150 characters",
        in_actions(select(placeholder=pt("p" * 150))),
        in_actions(select(placeholder=pt("p" * 151))),
        [err("must be less than 151 characters", f"{E0}/placeholder/text")],
    ),
    (
        "placeholder is not mrkdwn",
        in_actions({"type": "users_select", "placeholder": pt("Who?")}),
        in_actions({"type": "users_select", "placeholder": md("Who?")}),
        [err("must be a valid enum value", f"{E0}/placeholder/type")],
    ),
    (
        "max_selected_items is at least 1",
        in_actions(select("multi_static_select", max_selected_items=1)),
        in_actions(select("multi_static_select", max_selected_items=0)),
        [err("must be no less than 1", f"{E0}/max_selected_items")],
    ),
    (
        "max_selected_items is an integer",
        in_actions({"type": "multi_users_select", "max_selected_items": 3}),
        in_actions({"type": "multi_users_select", "max_selected_items": True}),
        [err("must provide an integer", f"{E0}/max_selected_items")],
    ),
    # --- inputs, pickers ---------------------------------------------------------------
    (
        "plain_text_input min_length is 0 to 3000",
        in_modal({"type": "plain_text_input", "min_length": 0}),
        in_modal({"type": "plain_text_input", "min_length": 3001}),
        [VIEW, err("must be no more than 3000", f"{I0}/min_length")],
    ),
    (
        "plain_text_input max_length is 1 to 3000",
        in_modal({"type": "plain_text_input", "max_length": 3000}),
        in_modal({"type": "plain_text_input", "max_length": 0}),
        [VIEW, err("must be no less than 1", f"{I0}/max_length")],
    ),
    (
        "plain_text_input min_length is no more than max_length",
        in_modal({"type": "plain_text_input", "min_length": 5, "max_length": 5}),
        in_modal({"type": "plain_text_input", "min_length": 6, "max_length": 5}),
        [VIEW, err("must be no more than max_length", f"{I0}/min_length")],
    ),
    (
        "plain_text_input initial_value is a string",
        in_modal({"type": "plain_text_input", "initial_value": "draft", "multiline": True}),
        in_modal({"type": "plain_text_input", "initial_value": 5}),
        [VIEW, err("must provide a string", f"{I0}/initial_value")],
    ),
    (
        "number_input needs is_decimal_allowed",
        in_modal({"type": "number_input", "is_decimal_allowed": False}),
        in_modal({"type": "number_input"}),
        [VIEW, err("missing required field: is_decimal_allowed", I0)],
    ),
    (
        "number_input values are numeric strings",
        in_modal({"type": "number_input", "is_decimal_allowed": True, "initial_value": "-2.5"}),
        in_modal(
            {
                "type": "number_input",
                "is_decimal_allowed": True,
                "initial_value": "two",
                "min_value": 1,
            }
        ),
        [
            VIEW,
            err("must be a number", f"{I0}/initial_value"),
            err("must provide a string", f"{I0}/min_value"),
        ],
    ),
    (
        "number_input is whole unless decimals are allowed",
        in_modal({"type": "number_input", "is_decimal_allowed": False, "max_value": "10"}),
        in_modal({"type": "number_input", "is_decimal_allowed": False, "max_value": "10.5"}),
        [VIEW, err("must be a whole number when is_decimal_allowed is false", f"{I0}/max_value")],
    ),
    (
        "number_input min_value is no more than max_value",
        in_modal(
            {"type": "number_input", "is_decimal_allowed": True, "min_value": "1", "max_value": "1"}
        ),
        in_modal(
            {
                "type": "number_input",
                "is_decimal_allowed": True,
                "min_value": "2",
                "max_value": "1.5",
            }
        ),
        [VIEW, err("must be no more than max_value", f"{I0}/min_value")],
    ),
    (
        "email and url inputs take a plain_text placeholder",
        in_modal({"type": "email_text_input", "placeholder": pt("you@example.com")}),
        in_modal({"type": "url_text_input", "placeholder": pt("u" * 151)}),
        [VIEW, err("must be less than 151 characters", f"{I0}/placeholder/text")],
    ),
    (
        "datepicker initial_date is YYYY-MM-DD",
        in_actions({"type": "datepicker", "initial_date": "2024-02-29"}),
        in_actions({"type": "datepicker", "initial_date": "2023-02-29"}),
        [err("must be a date as YYYY-MM-DD", f"{E0}/initial_date")],
    ),
    (
        "timepicker initial_time is HH:mm",
        in_actions({"type": "timepicker", "initial_time": "23:59"}),
        in_actions({"type": "timepicker", "initial_time": "24:00"}),
        [err("must be a time as HH:mm", f"{E0}/initial_time")],
    ),
    # --- views -------------------------------------------------------------------------
    ("a view is an object", V(modal()), V([]), [err("must provide an object", "/view")]),
    (
        "a view is a modal or a Home tab",
        V({"type": "home", "blocks": []}),
        V({"type": "dialog", "blocks": []}),
        [VIEW, err("must be a valid enum value", "/view/type")],
    ),
    (
        "a modal has a title",
        V(modal()),
        V(without(modal(), "title")),
        [VIEW, err("missing required field: title", "/view")],
    ),
    (
        "a modal title is plain_text of at most 24 characters",
        V(modal(title=pt("t" * 24))),
        V(modal(title=pt("t" * 25))),
        [VIEW, err("must be less than 25 characters", "/view/title/text")],
    ),
    (
        "a modal submit is plain_text of at most 24 characters",
        V(modal(submit=pt("s" * 24))),
        V(modal(submit=pt("s" * 25))),
        [VIEW, err("must be less than 25 characters", "/view/submit/text")],
    ),
    (
        "a modal close is plain_text",
        V(modal(close=pt("Cancel"))),
        V(modal(close=md("Cancel"))),
        [VIEW, err("must be a valid enum value", "/view/close/type")],
    ),
    (
        "a modal with an input block needs submit (node-slack-sdk#875)",
        V(modal(field_input({"type": "plain_text_input"}))),
        V(without(modal(section(), field_input({"type": "plain_text_input"})), "submit")),
        [VIEW, err("must define `submit` to use `input` block", "/view/blocks/1/input")],
    ),
    (
        "private_metadata is at most 3000 characters",
        V(modal(private_metadata="m" * 3000)),
        V(modal(private_metadata="m" * 3001)),
        [VIEW, err("must be less than 3001 characters", "/view/private_metadata")],
    ),
    (
        "callback_id is at most 255 characters",
        V(modal(callback_id="c" * 255)),
        V(modal(callback_id="c" * 256)),
        [VIEW, err("must be less than 256 characters", "/view/callback_id")],
    ),
    (
        "external_id is at most 255 characters",
        V({"type": "home", "blocks": [], "external_id": "e" * 255}),
        V({"type": "home", "blocks": [], "external_id": "e" * 256}),
        [VIEW, err("must be less than 256 characters", "/view/external_id")],
    ),
    (
        "clear_on_close and notify_on_close are booleans",
        V(modal(clear_on_close=True, notify_on_close=False)),
        V(modal(notify_on_close="yes")),
        [VIEW, err("must provide a boolean", "/view/notify_on_close")],
    ),
    (
        "a view has blocks",
        V({"type": "home", "blocks": []}),
        V({"type": "home"}),
        [VIEW, err("missing required field: blocks", "/view")],
    ),
    (
        "a modal takes no unknown fields (Slack: submit_disabled)",
        V(modal(callback_id="c")),
        V(modal(submit_disabled=True)),
        [VIEW, err("invalid additional property: submit_disabled", "/view")],
    ),
    (
        "a Home tab needs no title or submit",
        V(
            {
                "type": "home",
                "blocks": [field_input({"type": "plain_text_input"}, dispatch_action=True)],
            }
        ),
        V(
            {
                "type": "home",
                "blocks": [field_input({"type": "plain_text_input"})],
                "callback_id": 1,
            }
        ),
        [VIEW, err("must provide a string", "/view/callback_id")],
    ),
    # --- all problems, in document order ------------------------------------------------
    (
        "every problem is reported, in document order",
        M([section(), {"type": "header", "text": pt()}, actions(button())]),
        M([section(text=pt("")), {"type": "header", "text": md()}, actions(button(style="x"))]),
        [
            union("/blocks/0/text"),
            err("must be more than 0 characters", "/blocks/0/text/text"),
            err("must be a valid enum value", "/blocks/1/text/type"),
            err("must be a valid enum value", "/blocks/2/elements/0/style"),
        ],
    ),
]


@pytest.mark.parametrize(("rule", "valid", "invalid", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(rule: str, valid: M | V, invalid: M | V, expected: list[str]) -> None:
    assert run(valid) == [], rule
    assert run(invalid) == expected, rule


def approval_message() -> list[dict[str, Any]]:
    """A realistic approval request, as a human-in-the-loop bot posts one."""
    sure = {
        "title": pt("Deny this deploy?"),
        "text": md("*web-api* stays on `v1.4.1`. The requester is told."),
        "confirm": pt("Deny"),
        "deny": pt("Keep it open"),
        "style": "danger",
    }
    return [
        {"type": "header", "block_id": "hdr", "text": pt(":rocket: Deploy approval", emoji=True)},
        {
            "type": "section",
            "block_id": "summary",
            "text": md("<@U0ALICE> asks to deploy *web-api* `v1.4.2` to *production*."),
            "accessory": {
                "type": "image",
                "image_url": "https://example.com/web-api.png",
                "alt_text": "web-api logo",
            },
        },
        {
            "type": "section",
            "block_id": "facts",
            "fields": [
                md("*Service:*\nweb-api"),
                md("*Environment:*\nproduction"),
                md("*Change:*\n<https://example.com/pr/812|#812 Faster login>"),
                md("*Risk:*\nlow", verbatim=True),
                pt("Window: 14:00–15:00 UTC"),
                md("*Rollback:*\nautomatic"),
            ],
        },
        {"type": "divider", "block_id": "div"},
        {
            "type": "context",
            "block_id": "ctx",
            "elements": [
                {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "Alice"},
                md("Requested by <@U0ALICE> · procedure `deploy` · run 42"),
            ],
        },
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": pt("Approve", emoji=True),
                    "style": "primary",
                    "value": '{"run": 42, "decision": "approve"}',
                    "confirm": sure
                    | {
                        "title": pt("Approve this deploy?"),
                        "confirm": pt("Approve"),
                        "style": "primary",
                    },
                },
                {
                    "type": "button",
                    "action_id": "deny",
                    "text": pt("Deny"),
                    "style": "danger",
                    "value": '{"run": 42, "decision": "deny"}',
                    "confirm": sure,
                },
                {
                    "type": "static_select",
                    "action_id": "delegate",
                    "placeholder": pt("Delegate to…"),
                    "option_groups": [
                        {
                            "label": pt("On call"),
                            "options": [opt("U0BOB", pt("Bob")), opt("U0CAROL", pt("Carol"))],
                        },
                        {"label": pt("Leads"), "options": [opt("U0DAVE", pt("Dave"))]},
                    ],
                },
                {
                    "type": "overflow",
                    "action_id": "more",
                    "options": [
                        opt("logs", pt("View logs"), url="https://example.com/logs/42"),
                        opt("snooze", pt("Snooze 1 h"), description=pt("Ask again later")),
                    ],
                },
                {
                    "type": "button",
                    "action_id": "details",
                    "text": pt("Details"),
                    "url": "https://example.com/runs/42",
                },
            ],
        },
        {
            "type": "rich_text",
            "block_id": "notes",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "Notes"}]}
            ],
        },
        {"type": "markdown", "text": "**Checks:** all green"},
    ]


def every_input_modal() -> dict[str, Any]:
    """A modal that uses each input-capable element once."""
    elements = [
        {
            "type": "plain_text_input",
            "action_id": "a",
            "multiline": True,
            "min_length": 1,
            "max_length": 500,
            "placeholder": pt("Why?"),
            "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
        },
        {
            "type": "number_input",
            "action_id": "a",
            "is_decimal_allowed": True,
            "min_value": "0",
            "max_value": "99.5",
            "initial_value": "1.5",
        },
        {"type": "email_text_input", "action_id": "a", "initial_value": "a@example.com"},
        {"type": "url_text_input", "action_id": "a"},
        {"type": "datepicker", "action_id": "a", "initial_date": "2026-03-14"},
        {
            "type": "timepicker",
            "action_id": "a",
            "initial_time": "09:26",
            "timezone": "Europe/Paris",
        },
        {"type": "datetimepicker", "action_id": "a", "initial_date_time": 1_773_480_413},
        {
            "type": "checkboxes",
            "action_id": "a",
            "options": [opt("x", md("*X*"), description=md("_x_"))],
            "initial_options": [opt("x", md("*X*"), description=md("_x_"))],
        },
        {
            "type": "radio_buttons",
            "action_id": "a",
            "options": [opt("x"), opt("y")],
            "initial_option": opt("y"),
        },
        select("static_select", initial_option=opt("a")),
        select("multi_static_select", initial_options=[opt("a"), opt("b")], max_selected_items=2),
        {"type": "external_select", "action_id": "a", "min_query_length": 2},
        {"type": "multi_external_select", "action_id": "a"},
        {"type": "users_select", "action_id": "a", "initial_user": "U0BOB"},
        {"type": "multi_users_select", "action_id": "a", "initial_users": ["U0BOB", "U0CAROL"]},
        {
            "type": "conversations_select",
            "action_id": "a",
            "default_to_current_conversation": True,
            "filter": {"include": ["public"]},
        },
        {"type": "multi_conversations_select", "action_id": "a", "initial_conversations": ["C1"]},
        {
            "type": "channels_select",
            "action_id": "a",
            "initial_channel": "C1",
            "response_url_enabled": True,
        },
        {"type": "multi_channels_select", "action_id": "a", "initial_channels": ["C1"]},
        {"type": "rich_text_input", "action_id": "a"},
        {"type": "file_input", "action_id": "a", "max_files": 2},
    ]
    blocks = [field_input(e, block_id=f"b{i}", hint=pt("Hint")) for i, e in enumerate(elements)]
    return modal(
        *blocks,
        close=pt("Cancel"),
        callback_id="approve",
        private_metadata='{"run": 42}',
        notify_on_close=True,
        clear_on_close=False,
        external_id="run-42",
    )


def test_a_realistic_approval_message_is_valid() -> None:
    assert validate_message(approval_message()) == []


def test_a_modal_with_every_input_element_is_valid() -> None:
    assert validate_view(every_input_modal()) == []


def test_a_home_tab_with_every_block_it_may_hold_is_valid() -> None:
    blocks = [b for b in approval_message() if b["type"] != "markdown"]
    blocks.append(field_input({"type": "plain_text_input"}, dispatch_action=True, block_id="in"))
    blocks.append(
        {
            "type": "video",
            "alt_text": "demo",
            "title": pt("Demo"),
            "video_url": "https://example.com/v",
            "thumbnail_url": "https://example.com/t.png",
        }
    )
    assert validate_view({"type": "home", "blocks": blocks, "callback_id": "home"}) == []


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, favouring the shapes and names Block Kit uses so the fuzz reaches deep."""
    names = [
        "type",
        "text",
        "blocks",
        "elements",
        "element",
        "fields",
        "accessory",
        "options",
        "option_groups",
        "initial_option",
        "initial_options",
        "confirm",
        "label",
        "value",
        "block_id",
        "action_id",
        "style",
        "min_length",
        "max_length",
        "min_value",
        "max_value",
        "is_decimal_allowed",
        "title",
        "submit",
        "image_url",
        "url",
        "emoji",
    ]
    kinds = [
        "section",
        "actions",
        "input",
        "context",
        "header",
        "image",
        "markdown",
        "button",
        "static_select",
        "checkboxes",
        "overflow",
        "plain_text",
        "mrkdwn",
        "modal",
        "home",
        "number_input",
        "plain_text_input",
        "datepicker",
        "rich_text",
        "radio_buttons",
    ]
    roll = rng.random()
    if depth > 5 or roll < 0.3:
        return rng.choice(
            [
                None,
                True,
                False,
                0,
                -1,
                2.5,
                10**20,
                "",
                "x" * rng.randint(0, 300),
                rng.choice(kinds),
                "2024-13-45",
                "1.5",
                [],
                {},
            ]
        )
    if roll < 0.55:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {rng.choice(names): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def mutate(value: Any, rng: random.Random) -> Any:
    """The value with one subtree somewhere swapped for random JSON."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return value | {key: mutate(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return [*value[:i], mutate(value[i], rng), *value[i + 1 :]]
    return random_json(rng)


def assert_messages(result: Any) -> None:
    assert isinstance(result, list)
    assert all(
        isinstance(m, str) and m.startswith("[ERROR] ") and "[json-pointer:/" in m for m in result
    )


def test_fuzz_random_json_never_raises() -> None:
    rng = random.Random(20260314)
    for _ in range(3000):
        value = random_json(rng)
        assert_messages(validate_message(value))
        assert_messages(validate_message([value]))
        assert_messages(validate_view(value))
        assert_messages(validate_view({"type": rng.choice(["modal", "home"]), "blocks": [value]}))


def test_fuzz_mutated_valid_payloads_never_raise() -> None:
    rng = random.Random(42)
    message, view = approval_message(), every_input_modal()
    for _ in range(3000):
        assert_messages(validate_message(mutate(copy.deepcopy(message), rng)))
        assert_messages(validate_view(mutate(copy.deepcopy(view), rng)))


def test_validation_does_not_change_its_input() -> None:
    message, view = approval_message(), every_input_modal()
    validate_message(message)
    validate_view(view)
    assert message == approval_message() and view == every_input_modal()
