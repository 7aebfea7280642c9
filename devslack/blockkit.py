"""Block Kit validation: devslack refuses what Slack refuses, in Slack's words.

A bot under test must meet the same wall it meets in production, so every message here has the
shape Slack puts in ``response_metadata.messages``::

    [ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]

The limits come from the Block Kit reference (docs.slack.dev/reference/block-kit). The wording
copies Slack's answers seen in public reports where there are some (``must provide an object``,
``unsupported type: X``, ``invalid additional property: emoji``, ``no more than 50 items
allowed``, ``must define either `text` or `fields```, ``must define `submit` to use `input`
block``) and keeps their style where there are none (duplicates, dates, numbers).

The rules live in two tables, ``ELEMENTS`` and ``BLOCKS``: a schema per type, built from a few
check helpers. Validation never raises: any JSON value gives a list of messages, in document
order, empty when Slack would accept it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MESSAGE, MODAL, HOME = "message", "modal", "home"
ALL_SURFACES = frozenset({MESSAGE, MODAL, HOME})
MAX_BLOCKS = {MESSAGE: 50, MODAL: 100, HOME: 100}
MARKDOWN_TOTAL = 12_000  # all markdown blocks of one payload together

PLAIN = ("plain_text",)
ANY_TEXT = ("plain_text", "mrkdwn")


@dataclass
class _Ctx:
    """What one validation run carries: the surface, the findings and the ids seen so far."""

    surface: str
    errors: list[str] = field(default_factory=list)
    block_ids: set[str] = field(default_factory=set)
    action_ids: set[str] = field(default_factory=set)  # per block: reset by each block
    markdown_chars: int = 0

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")


Check = Callable[[Any, str, _Ctx], None]
Post = Callable[[Mapping[str, Any], str, _Ctx], None]


@dataclass(frozen=True)
class Schema:
    """An object's known fields (each with its check), the required ones, the surfaces it may
    appear on (blocks only), whether unknown fields are refused, and a whole-object check."""

    fields: Mapping[str, Check]
    required: tuple[str, ...] = ()
    surfaces: frozenset[str] = ALL_SURFACES
    closed: bool = False
    post: Post | None = None


# --- check helpers ------------------------------------------------------------------------


def _chars(n: int, lo: int, hi: int, ptr: str, ctx: _Ctx) -> None:
    if n < lo:
        ctx.error(f"must be more than {lo - 1} characters", ptr)
    elif n > hi:
        ctx.error(f"must be less than {hi + 1} characters", ptr)


def _string(hi: int, lo: int = 0) -> Check:
    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, str):
            ctx.error("must provide a string", ptr)
        else:
            _chars(len(v), lo, hi, ptr, ctx)

    return check


def _boolean(v: Any, ptr: str, ctx: _Ctx) -> None:
    if not isinstance(v, bool):
        ctx.error("must provide a boolean", ptr)


def _integer(lo: int, hi: int | None = None) -> Check:
    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, int) or isinstance(v, bool):  # JSON true is no number
            ctx.error("must provide an integer", ptr)
        elif v < lo:
            ctx.error(f"must be no less than {lo}", ptr)
        elif hi is not None and v > hi:
            ctx.error(f"must be no more than {hi}", ptr)

    return check


def _enum(*values: str) -> Check:
    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, str):
            ctx.error("must provide a string", ptr)
        elif v not in values:
            ctx.error("must be a valid enum value", ptr)

    return check


def _pattern(regex: str, what: str, valid: Callable[[str], bool] = lambda s: True) -> Check:
    compiled = re.compile(regex)

    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, str):
            ctx.error("must provide a string", ptr)
        elif not compiled.fullmatch(v) or not valid(v):
            ctx.error(f"must be {what}", ptr)

    return check


def _array(item: Check, hi: int, lo: int = 1) -> Check:
    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, list):
            ctx.error("must provide an array", ptr)
            return
        if len(v) > hi:
            ctx.error(f"no more than {hi} items allowed", ptr)
        elif len(v) < lo:
            ctx.error(f"no fewer than {lo} items allowed", ptr)
        for i, x in enumerate(v):
            item(x, f"{ptr}/{i}", ctx)

    return check


def _object(schema: Schema) -> Check:
    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        _check_object(v, schema, ptr, ctx)

    return check


def _check_object(v: Any, schema: Schema, ptr: str, ctx: _Ctx) -> None:
    """Required fields first, then each field in the payload's own order, then the rule that
    spans fields (posts check the types they read: they run on broken objects too, so that
    every problem is reported at once)."""
    if not isinstance(v, dict):
        ctx.error("must provide an object", ptr)
        return
    for name in schema.required:
        if name not in v:
            ctx.error(f"missing required field: {name}", ptr)
    for key, value in v.items():
        check = schema.fields.get(key)
        if check is not None:
            check(value, f"{ptr}/{key}", ctx)
        elif schema.closed:
            ctx.error(f"invalid additional property: {key}", ptr)
    if schema.post is not None:
        schema.post(v, ptr, ctx)


def _text(hi: int, kinds: tuple[str, ...] = ANY_TEXT) -> Check:
    """A text object. Where both kinds may stand, Slack sees a union and says so first:
    ``failed to match all allowed schemas`` at the object, then the real fault inside it."""
    flag = {"plain_text": "emoji", "mrkdwn": "verbatim"}

    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, dict):
            ctx.error("must provide an object", ptr)
            return
        mark = len(ctx.errors)
        kind = v.get("type")
        if "type" not in v:
            ctx.error("missing required field: type", ptr)
        elif not isinstance(kind, str):
            ctx.error("must provide a string", f"{ptr}/type")
        elif kind not in kinds:
            ctx.error("must be a valid enum value", f"{ptr}/type")
        else:
            if "text" not in v:
                ctx.error("missing required field: text", ptr)
            for key, value in v.items():
                if key == "text":
                    _string(hi, 1)(value, f"{ptr}/text", ctx)
                elif key == flag[kind]:
                    _boolean(value, f"{ptr}/{key}", ctx)
                elif key != "type":
                    ctx.error(f"invalid additional property: {key}", ptr)
        if len(kinds) > 1 and len(ctx.errors) > mark:
            ctx.errors.insert(
                mark, f"[ERROR] failed to match all allowed schemas [json-pointer:{ptr}]"
            )

    return check


def _unique(seen: Callable[[_Ctx], set[str]], what: str, hi: int = 255) -> Check:
    """An id of at most ``hi`` characters that must not repeat where ``seen`` says."""

    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        _string(hi)(v, ptr, ctx)
        if isinstance(v, str):
            if v in seen(ctx):
                ctx.error(f"duplicate {what}: {v}", ptr)
            seen(ctx).add(v)

    return check


def _markdown_text(v: Any, ptr: str, ctx: _Ctx) -> None:
    """A markdown block's text: 12,000 characters at most, counted over the whole payload."""
    before = len(ctx.errors)
    _string(MARKDOWN_TOTAL, 1)(v, ptr, ctx)
    if isinstance(v, str):
        ctx.markdown_chars += len(v)
        if len(ctx.errors) == before and ctx.markdown_chars > MARKDOWN_TOTAL:
            ctx.error(f"markdown blocks must total less than {MARKDOWN_TOTAL + 1} characters", ptr)


def _either(*names: str) -> Post:
    """Slack's sentence for an object that needs one of two fields and has neither."""

    def post(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
        if not any(v.get(n) for n in names):
            quoted = " or ".join(f"`{n}`" for n in names)
            ctx.error(f"must define either {quoted}", f"{ptr}/type")

    return post


# --- composition objects ------------------------------------------------------------------

ACTION_ID = _unique(lambda ctx: ctx.action_ids, "action_id")
BLOCK_ID = _unique(lambda ctx: ctx.block_ids, "block_id")
PLACEHOLDER = _text(150, PLAIN)

CONFIRM = _object(
    Schema(
        {
            "title": _text(100, PLAIN),
            # docs.slack.dev now says plain_text; api.slack.com said any text object. Both pass.
            "text": _text(300),
            "confirm": _text(30, PLAIN),
            "deny": _text(30, PLAIN),
            "style": _enum("primary", "danger"),
        },
        required=("title", "text", "confirm", "deny"),
    )
)


def _option(kinds: tuple[str, ...], url: bool = False) -> Check:
    """An option: mrkdwn text only in checkboxes and radio buttons, a url only in overflow."""
    fields: dict[str, Check] = {
        "text": _text(75, kinds),
        "value": _string(150),
        "description": _text(75, kinds),
    }
    if url:
        fields["url"] = _string(3000)
    return _object(Schema(fields, required=("text", "value"), closed=True))


def _options(hi: int, kinds: tuple[str, ...] = PLAIN, url: bool = False) -> Check:
    return _array(_option(kinds, url), hi)


OPTION_GROUP = _object(
    Schema({"label": _text(75, PLAIN), "options": _options(100)}, required=("label", "options"))
)


def _same_option(a: Any, b: Any) -> bool:
    """Slack wants an initial option that "exactly matches" one of the options: same value,
    same text."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    ta, tb = a.get("text"), b.get("text")
    return (
        a.get("value") == b.get("value")
        and isinstance(ta, dict)
        and isinstance(tb, dict)
        and ta.get("text") == tb.get("text")
    )


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _initial_among_options(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
    """``initial_option(s)`` must be among ``options`` (or the options of ``option_groups``)."""
    pool = _list(v.get("options"))
    for group in _list(v.get("option_groups")):
        pool = pool + (_list(group.get("options")) if isinstance(group, dict) else [])
    if "initial_option" in v and not any(_same_option(v["initial_option"], o) for o in pool):
        ctx.error("must match one of the provided options", f"{ptr}/initial_option")
    for i, chosen in enumerate(_list(v.get("initial_options"))):
        if not any(_same_option(chosen, o) for o in pool):
            ctx.error("must match one of the provided options", f"{ptr}/initial_options/{i}")


def _static_select_post(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
    if "options" in v and "option_groups" in v:
        ctx.error("must define only one of `options` or `option_groups`", f"{ptr}/type")
    elif "options" not in v and "option_groups" not in v:
        ctx.error("must define either `options` or `option_groups`", f"{ptr}/type")
    else:
        _initial_among_options(v, ptr, ctx)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _length_bounds(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
    lo, hi = _int(v.get("min_length")), _int(v.get("max_length"))
    if lo is not None and hi is not None and lo > hi:
        ctx.error("must be no more than max_length", f"{ptr}/min_length")


NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, str) and NUMBER.fullmatch(v) else None


def _number_bounds(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
    """number_input values are numeric strings: whole unless decimals are allowed, and
    ``min_value`` no greater than ``max_value``."""
    for key in ("initial_value", "min_value", "max_value"):
        if (
            _number(v.get(key)) is not None
            and "." in v[key]
            and v.get("is_decimal_allowed") is False
        ):
            ctx.error("must be a whole number when is_decimal_allowed is false", f"{ptr}/{key}")
    lo, hi = _number(v.get("min_value")), _number(v.get("max_value"))
    if lo is not None and hi is not None and lo > hi:
        ctx.error("must be no more than max_value", f"{ptr}/min_value")


def _valid_date(s: str) -> bool:
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


DISPATCH_CONFIG = _object(
    Schema({"trigger_actions_on": _array(_enum("on_enter_pressed", "on_character_entered"), 2)})
)
STRINGS = _array(_string(255), 100, 0)
ANY_OBJECT = _object(Schema({}))

# --- block elements -----------------------------------------------------------------------

STYLE = _enum("primary", "danger")
INITIAL_OPTION = _option(PLAIN)
INITIAL_OPTIONS = _array(_option(PLAIN), 100, 0)
GROUPS = _array(OPTION_GROUP, 100)
NUMERIC = _pattern(NUMBER.pattern, "a number")
DATE = _pattern(r"\d{4}-\d{2}-\d{2}", "a date as YYYY-MM-DD", _valid_date)
TIME = _pattern(r"([01]\d|2[0-3]):[0-5]\d", "a time as HH:mm")

_COMMON: dict[str, Check] = {"action_id": ACTION_ID, "focus_on_load": _boolean}
_SELECT: dict[str, Check] = {**_COMMON, "placeholder": PLACEHOLDER, "confirm": CONFIRM}
_MULTI: dict[str, Check] = {**_SELECT, "max_selected_items": _integer(1)}
_TYPED: dict[str, Check] = {**_COMMON, "placeholder": PLACEHOLDER}
_TYPED |= {"initial_value": _string(3000), "dispatch_action_config": DISPATCH_CONFIG}
_CONVERSATIONS: dict[str, Check] = {"filter": ANY_OBJECT, "response_url_enabled": _boolean}
_CONVERSATIONS |= {"default_to_current_conversation": _boolean}
_IMAGE: dict[str, Check] = {"image_url": _string(3000), "slack_file": ANY_OBJECT}
_IMAGE |= {"alt_text": _string(2000)}
_NEEDS_IMAGE = _either("image_url", "slack_file")

ELEMENTS: dict[str, Schema] = {
    "button": Schema(
        {**_COMMON, "text": _text(75, PLAIN), "value": _string(2000), "url": _string(3000)}
        | {"style": STYLE, "confirm": CONFIRM, "accessibility_label": _string(75)},
        required=("text",),
    ),
    "checkboxes": Schema(
        {**_COMMON, "options": _options(10, ANY_TEXT), "confirm": CONFIRM}
        | {"initial_options": _array(_option(ANY_TEXT), 10, 0)},
        required=("options",),
        post=_initial_among_options,
    ),
    "radio_buttons": Schema(
        {**_COMMON, "options": _options(10, ANY_TEXT), "confirm": CONFIRM}
        | {"initial_option": _option(ANY_TEXT)},
        required=("options",),
        post=_initial_among_options,
    ),
    "static_select": Schema(
        {**_SELECT, "options": _options(100), "option_groups": GROUPS}
        | {"initial_option": INITIAL_OPTION},
        post=_static_select_post,
    ),
    "multi_static_select": Schema(
        {**_MULTI, "options": _options(100), "option_groups": GROUPS}
        | {"initial_options": INITIAL_OPTIONS},
        post=_static_select_post,
    ),
    "external_select": Schema(
        {**_SELECT, "initial_option": INITIAL_OPTION, "min_query_length": _integer(0)}
    ),
    "multi_external_select": Schema(
        {**_MULTI, "initial_options": INITIAL_OPTIONS, "min_query_length": _integer(0)}
    ),
    "users_select": Schema({**_SELECT, "initial_user": _string(255)}),
    "multi_users_select": Schema({**_MULTI, "initial_users": STRINGS}),
    "conversations_select": Schema(
        {**_SELECT, **_CONVERSATIONS} | {"initial_conversation": _string(255)}
    ),
    "multi_conversations_select": Schema(
        {**_MULTI, **_CONVERSATIONS} | {"initial_conversations": STRINGS}
    ),
    "channels_select": Schema(
        {**_SELECT, "initial_channel": _string(255), "response_url_enabled": _boolean}
    ),
    "multi_channels_select": Schema({**_MULTI, "initial_channels": STRINGS}),
    "overflow": Schema(
        {**_COMMON, "options": _options(5, url=True), "confirm": CONFIRM}, required=("options",)
    ),
    "datepicker": Schema({**_SELECT, "initial_date": DATE}),
    "timepicker": Schema({**_SELECT, "initial_time": TIME, "timezone": _string(255)}),
    "datetimepicker": Schema({**_COMMON, "confirm": CONFIRM, "initial_date_time": _integer(0)}),
    "plain_text_input": Schema(
        {**_TYPED, "multiline": _boolean, "min_length": _integer(0, 3000)}
        | {"max_length": _integer(1, 3000)},
        post=_length_bounds,
    ),
    "number_input": Schema(
        {**_TYPED, "is_decimal_allowed": _boolean, "initial_value": NUMERIC}
        | {"min_value": NUMERIC, "max_value": NUMERIC},
        required=("is_decimal_allowed",),
        post=_number_bounds,
    ),
    "email_text_input": Schema(_TYPED),
    "url_text_input": Schema(_TYPED),
    "rich_text_input": Schema({**_TYPED, "initial_value": ANY_OBJECT}),
    "file_input": Schema({"action_id": ACTION_ID, "max_files": _integer(1, 10)}),
    "workflow_button": Schema(
        {**_COMMON, "text": _text(75, PLAIN), "workflow": ANY_OBJECT, "style": STYLE},
        required=("text", "workflow"),
    ),
    "image": Schema(_IMAGE, required=("alt_text",), post=_NEEDS_IMAGE),
}

SELECTS = {"static_select", "external_select", "users_select", "conversations_select"}
SELECTS |= {"channels_select"}
MULTI_SELECTS = {f"multi_{s}" for s in SELECTS}
ACCESSORY = frozenset(
    {"button", "checkboxes", "datepicker", "image", "overflow", "radio_buttons", "timepicker"}
    | {"workflow_button"}
    | SELECTS
    | MULTI_SELECTS
)
ACTIONS = frozenset(ACCESSORY - {"image"} | {"datetimepicker", "rich_text_input"})
INPUTS = frozenset(
    {"checkboxes", "datepicker", "datetimepicker", "email_text_input", "file_input"}
    | {"number_input", "plain_text_input", "radio_buttons", "rich_text_input", "timepicker"}
    | {"url_text_input"}
    | SELECTS
    | MULTI_SELECTS
)


def _element(allowed: frozenset[str]) -> Check:
    """An element of one of the ``allowed`` types; the type picks its schema."""

    def check(v: Any, ptr: str, ctx: _Ctx) -> None:
        if not isinstance(v, dict):
            ctx.error("must provide an object", ptr)
            return
        kind = v.get("type")
        if not isinstance(kind, str):
            ctx.error("failed to match all allowed schemas", ptr)
        elif kind not in allowed:
            ctx.error(f"unsupported type: {kind}", f"{ptr}/type")
        else:
            _check_object(v, ELEMENTS[kind], ptr, ctx)

    return check


def _context_element(v: Any, ptr: str, ctx: _Ctx) -> None:
    """A context block holds images and text objects (the text check wraps its own faults)."""
    if isinstance(v, dict) and v.get("type") == "image":
        _element(frozenset({"image"}))(v, ptr, ctx)
    else:
        _text(3000)(v, ptr, ctx)


def _rich_text_part(v: Any, ptr: str, ctx: _Ctx) -> None:
    """rich_text holds sections, lists, preformatted runs and quotes; their insides are not
    checked here (they are Slack's own rendering of text, rarely hand-built wrong)."""
    kinds = ("rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote")
    if not isinstance(v, dict):
        ctx.error("must provide an object", ptr)
    elif not isinstance(v.get("type"), str):
        ctx.error("failed to match all allowed schemas", ptr)
    elif v["type"] not in kinds:
        ctx.error(f"unsupported type: {v['type']}", f"{ptr}/type")


# --- blocks -------------------------------------------------------------------------------

_MESSAGES_ONLY = frozenset({MESSAGE})
# An input block posted in a message gets invalid_blocks (python-slack-sdk#1257).
_VIEWS_ONLY = frozenset({MODAL, HOME})

BLOCKS: dict[str, Schema] = {
    "section": Schema(
        {
            "block_id": BLOCK_ID,
            "text": _text(3000),
            "fields": _array(_text(2000), 10, 0),
            "accessory": _element(ACCESSORY),
            "expand": _boolean,
        },
        post=_either("text", "fields"),
    ),
    "header": Schema({"block_id": BLOCK_ID, "text": _text(150, PLAIN)}, required=("text",)),
    "divider": Schema({"block_id": BLOCK_ID}),
    "context": Schema(
        {"block_id": BLOCK_ID, "elements": _array(_context_element, 10)}, required=("elements",)
    ),
    "image": Schema(
        {"block_id": BLOCK_ID, **_IMAGE, "title": _text(2000, PLAIN)},
        required=("alt_text",),
        post=_NEEDS_IMAGE,
    ),
    "actions": Schema(
        {"block_id": BLOCK_ID, "elements": _array(_element(ACTIONS), 25)}, required=("elements",)
    ),
    "input": Schema(
        {
            "block_id": BLOCK_ID,
            "label": _text(2000, PLAIN),
            "hint": _text(2000, PLAIN),
            "element": _element(INPUTS),
            "optional": _boolean,
            "dispatch_action": _boolean,
        },
        required=("label", "element"),
        surfaces=_VIEWS_ONLY,
    ),
    "rich_text": Schema(
        {"block_id": BLOCK_ID, "elements": _array(_rich_text_part, 100, 0)},
        required=("elements",),
    ),
    # Slack ignores a markdown block's block_id, so it is not held to being unique.
    "markdown": Schema(
        {"block_id": _string(255), "text": _markdown_text},
        required=("text",),
        surfaces=_MESSAGES_ONLY,
    ),
    "video": Schema(
        {
            "block_id": BLOCK_ID,
            "alt_text": _string(2000),
            "title": _text(199, PLAIN),
            "description": _text(3000, PLAIN),
            "video_url": _string(3000),
            "thumbnail_url": _string(3000),
            "title_url": _string(3000),
            "author_name": _string(49),
            "provider_name": _string(255),
            "provider_icon_url": _string(3000),
        },
        required=("alt_text", "title", "video_url", "thumbnail_url"),
    ),
    "file": Schema(
        {"block_id": BLOCK_ID, "external_id": _string(255), "source": _enum("remote")},
        required=("external_id", "source"),
        surfaces=_MESSAGES_ONLY,
    ),
}


def _block(v: Any, ptr: str, ctx: _Ctx) -> None:
    if not isinstance(v, dict):
        ctx.error("must provide an object", ptr)
        return
    kind = v.get("type")
    if not isinstance(kind, str):
        ctx.error("failed to match all allowed schemas", ptr)
        return
    schema = BLOCKS.get(kind)
    if schema is None or ctx.surface not in schema.surfaces:
        ctx.error(f"unsupported type: {kind}", f"{ptr}/type")
        return
    ctx.action_ids = set()  # "unique among all other action_ids in the containing block"
    _check_object(v, schema, ptr, ctx)


def _blocks(v: Any, ptr: str, ctx: _Ctx) -> None:
    _array(_block, MAX_BLOCKS[ctx.surface], 0)(v, ptr, ctx)


# --- surfaces -----------------------------------------------------------------------------

_VIEW_TEXT = _text(24, PLAIN)
_VIEW_COMMON: dict[str, Check] = {
    "type": _enum(MODAL, HOME),
    "blocks": _blocks,
    "private_metadata": _string(3000),
    "callback_id": _string(255),
    "external_id": _string(255),
}


def _modal_post(v: Mapping[str, Any], ptr: str, ctx: _Ctx) -> None:
    """A modal with an input block needs a submit button (node-slack-sdk#875)."""
    if "submit" in v:
        return
    for i, block in enumerate(_list(v.get("blocks"))):
        if isinstance(block, dict) and block.get("type") == "input":
            ctx.error("must define `submit` to use `input` block", f"{ptr}/blocks/{i}/input")
            return


VIEWS: dict[str, Schema] = {
    # Slack refuses unknown modal fields ("invalid additional property: submit_disabled").
    MODAL: Schema(
        {
            **_VIEW_COMMON,
            "title": _VIEW_TEXT,
            "submit": _VIEW_TEXT,
            "close": _VIEW_TEXT,
            "clear_on_close": _boolean,
            "notify_on_close": _boolean,
        },
        required=("type", "title", "blocks"),
        closed=True,
        post=_modal_post,
    ),
    HOME: Schema(_VIEW_COMMON, required=("type", "blocks")),
}


def validate_message(blocks: Any) -> list[str]:
    """Messages for the ``blocks`` of chat.postMessage, chat.update, chat.postEphemeral and
    response_url: [] when Slack would accept them. Pointers start at ``/blocks``."""
    ctx = _Ctx(MESSAGE)
    _blocks(blocks, "/blocks", ctx)
    return ctx.errors


def validate_view(view: Any) -> list[str]:
    """Messages for the ``view`` of views.open, views.push, views.update and views.publish
    (a modal or a Home tab): [] when Slack would accept it. Pointers start at ``/view``; as
    Slack does, a refused view leads with ``failed to match all allowed schemas`` at /view."""
    if not isinstance(view, dict):
        return ["[ERROR] must provide an object [json-pointer:/view]"]
    kind = view.get("type")
    known = isinstance(kind, str) and kind in VIEWS
    ctx = _Ctx(kind if known else MODAL)
    if known:
        _check_object(view, VIEWS[kind], "/view", ctx)
    elif "type" not in view:
        ctx.error("missing required field: type", "/view")
    else:
        _enum(MODAL, HOME)(kind, "/view/type", ctx)
    if ctx.errors:
        ctx.errors.insert(0, "[ERROR] failed to match all allowed schemas [json-pointer:/view]")
    return ctx.errors
