"""The param form: a modal built from a procedure's parameter schema, and its submission read
back into the raw values `coerce_params(..., from_strings=True)` expects.

`run <name>` with required parameters missing opens this form instead of failing, so a person
fills the gaps with the right kind of input (a number field for numbers, a select for choices)
instead of guessing the `key=value` spelling. The form never checks values itself: the schema
rules live in `runtime.schema`, and `param_errors` maps their messages onto the fields so Slack
shows each one under the input it concerns (`response_action: errors`). Everything here is pure.

Field mapping (block_id ``param:<name>``, action_id ``value``):

- string: plain_text_input, multiline for ``input: textarea``, ``rows`` or long text
- number / integer: number_input (decimals only for number)
- boolean: checkboxes with one option (unchecked is false, so it is never a required field)
- enum: static_select (array with enum: multi_static_select); more than 100 choices: a text input
- array: multiline plain_text_input, one item per line (or a JSON array)
- object: multiline plain_text_input holding JSON
- ``input: hidden``: not shown; a value given on the command line travels in private_metadata
  (sealed by the listener with `bot.view_seal`, so a submission cannot change it).
  A hidden parameter that is required and has nothing to fall back on is shown anyway, as the
  run could never start otherwise.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from bot.view_seal import SEAL_RESERVE
from runtime.errors import HitlbotError, ParamError
from runtime.procedure import FieldSpec, Procedure
from runtime.schema import coerce_params, lua_problem, normalise

CALLBACK_PARAMS = "run_params"
BLOCK_PREFIX = "param:"
ACTION_VALUE = "value"
MAX_MODAL_BLOCKS = 100
MAX_TITLE = 24
MAX_BLOCK_ID = 255
MAX_OPTIONS = 100
MAX_INITIAL_TEXT = 3000
MAX_HINT = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_METADATA = 3000
LONG_TEXT = 150  # a default longer than this gets a multiline input

_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_CHECKED = {"text": {"type": "plain_text", "text": "Yes"}, "value": "true"}


class ParamFormError(HitlbotError):
    """The procedure cannot be offered as a Slack form (too many fields, values too large)."""


def block_id(name: str) -> str:
    """The block_id of a parameter's field; `param_errors` keys use the same."""
    return BLOCK_PREFIX + name


# -- building the modal -----------------------------------------------------------------------


def param_modal(
    procedure: Procedure,
    given: dict[str, Any] | None = None,
    *,
    channel: str,
    user: str,
    errors: dict[str, str] | None = None,
    command_name: str = "/procedure",
) -> dict:
    """The modal asking for `procedure`'s parameters, pre-filled with `given` values (from the
    command line, as typed) over the declared defaults.

    `errors` ({name or "param:<name>": message}) are shown in the fields' hints: a view being
    opened has no other place for them. A given value the field cannot hold (``count=abc`` for
    a number) is left out and explained the same way. Raises `ParamFormError` when the fields
    do not fit in one modal.
    """
    given = dict(given or {})
    notes = {_strip_prefix(key): message for key, message in (errors or {}).items()}
    shown = visible_params(procedure, given)
    if len(shown) > MAX_MODAL_BLOCKS:
        raise ParamFormError(
            f"`{procedure.procedure_id}` has {len(shown)} parameters, more than a Slack form "
            f"holds ({MAX_MODAL_BLOCKS}). Start it with `{command_name} run "
            f"{procedure.procedure_id} key=value ...` instead."
        )
    too_long = [name for name in shown if len(block_id(name)) > MAX_BLOCK_ID]
    if too_long:
        raise ParamFormError(
            f"Parameter name `{too_long[0][:40]}…` is too long for a Slack form "
            f"({MAX_BLOCK_ID - len(BLOCK_PREFIX)} characters at most); rename it in the procedure."
        )
    blocks = [
        _input_block(name, procedure.params[name], given.get(name), notes.get(name))
        for name in shown
    ]
    intro = _intro_block(procedure, has_fields=bool(blocks))
    if intro is not None and len(blocks) < MAX_MODAL_BLOCKS:
        blocks.insert(0, intro)
    return {
        "type": "modal",
        "callback_id": CALLBACK_PARAMS,
        "title": _plain(_cut(f"Run {procedure.name or procedure.procedure_id}", MAX_TITLE)),
        "submit": _plain("Run"),
        "close": _plain("Cancel"),
        "private_metadata": _metadata(procedure, shown, given, channel=channel, user=user),
        "blocks": blocks,
    }


def visible_params(procedure: Procedure, given: dict[str, Any] | None = None) -> list[str]:
    """The parameters the form shows, in declaration order."""
    given = given or {}
    return [
        name
        for name, spec in procedure.params.items()
        if spec.input != "hidden" or (_unfillable(spec) and _blank(given.get(name)))
    ]


def _unfillable(spec: FieldSpec) -> bool:
    return spec.required and spec.value is None and spec.default is None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _strip_prefix(key: str) -> str:
    return key[len(BLOCK_PREFIX) :] if key.startswith(BLOCK_PREFIX) else key


def _intro_block(procedure: Procedure, *, has_fields: bool) -> dict | None:
    if not has_fields:
        label = procedure.name or procedure.procedure_id
        text = f"{label} takes no parameters. Press Run to start it."
    elif procedure.description:
        text = procedure.description
    else:
        return None
    return {"type": "section", "text": _plain(_cut(text, 3000))}


def _metadata(
    procedure: Procedure, shown: list[str], given: dict[str, Any], *, channel: str, user: str
) -> str:
    """What the submission handler needs and the form cannot hold: where to post, who asked,
    and values given for parameters the form does not show."""
    carried = {
        name: value
        for name, value in given.items()
        if name in procedure.params and name not in shown and not _blank(value)
    }
    meta: dict[str, Any] = {
        "procedure_id": procedure.procedure_id,
        "channel": channel,
        "user": user,
    }
    if carried:
        meta["given"] = carried
    text = json.dumps(meta, separators=(",", ":"), default=str)
    if len(text) > MAX_METADATA - SEAL_RESERVE:  # the listener seals it (bot.view_seal)
        raise ParamFormError(
            "The values given for hidden parameters are too long to carry through a form; "
            "give every parameter on the command line instead."
        )
    return text


def read_metadata(private_metadata: str | dict | None) -> dict[str, Any]:
    """The param modal's private_metadata as a dict ({} when missing or unreadable)."""
    if isinstance(private_metadata, dict):
        return private_metadata
    try:
        meta = json.loads(private_metadata or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


# -- one field ----------------------------------------------------------------------------------


def _input_block(name: str, spec: FieldSpec, given: Any, note: str | None) -> dict:
    """One input block. Builders return the element, whether it shows the starting value
    (a required field without it must become optional so the default can still apply), and
    a problem with the given value, if any."""
    start, problem = _start_value(spec, given)
    element, prefilled, hints = _element(spec, start)
    has_fallback = spec.value is not None or spec.default is not None
    optional = spec.type == "boolean" or not spec.required or (has_fallback and not prefilled)
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id(name),
        "label": _plain(_cut(name, 2000)),
        "element": element,
        "optional": optional,
    }
    hint = _hint(spec, [note, problem], hints)
    if hint:
        block["hint"] = _plain(hint)
    return block


def _start_value(spec: FieldSpec, given: Any) -> tuple[Any, str | None]:
    """The value the field starts with, typed: the given one when it converts, else the
    declared value or default. Returns (value or None, problem with the given value)."""
    fallback = spec.value if spec.value is not None else spec.default
    if _blank(given):
        return fallback, None
    value, problem = _typed(spec, given)
    if (
        problem is None
        and spec.enum
        and spec.type != "array"
        and _choice_index(spec.enum, value) is None
    ):
        problem = "not one of the choices"
    if problem:
        return fallback, f"{given!r} was not used: {problem}."
    return value, None


def _typed(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """A given value in the field's type; strings are read the way `coerce_params` reads them."""
    if not isinstance(value, str):
        return value, None
    text = value.strip()
    if spec.type in ("number", "integer"):
        number = _to_number(text)
        if number is None or (spec.type == "integer" and not float(number).is_integer()):
            return None, f"expected {'an integer' if spec.type == 'integer' else 'a number'}"
        number = normalise(spec.type, number)
        return (None, problem) if (problem := lua_problem(number)) else (number, None)
    if spec.type == "boolean":
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE, None
        return None, "expected true or false"
    if spec.type == "object" or (spec.type == "array" and text.startswith("[")):
        try:
            return json.loads(text), None
        except ValueError:
            return None, "expected JSON"
    if spec.type == "array":
        return [item.strip() for item in text.split(",") if item.strip()], None
    return value, None


def _to_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _element(spec: FieldSpec, start: Any) -> tuple[dict, bool, list[str]]:
    """(element, pre-filled?, extra hint lines) for the field's type."""
    if spec.enum and len(spec.enum) <= MAX_OPTIONS:
        if spec.type == "array":
            return _multi_select(spec.enum, start)
        return _select(spec.enum, start)
    if spec.type in ("number", "integer"):
        return _number_input(spec.type, start)
    if spec.type == "boolean":
        return _checkbox(start)
    if spec.type == "array":
        return _array_input(start)
    if spec.type == "object":
        return _object_input(start)
    return _text_input(spec, start)


def _text_input(spec: FieldSpec, start: Any) -> tuple[dict, bool, list[str]]:
    text = "" if start is None else str(start)
    multiline = bool(spec.input == "textarea" or spec.rows or "\n" in text or len(text) > LONG_TEXT)
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_VALUE,
        "multiline": multiline,
    }
    hints = [_choices_hint(spec.enum)] if spec.enum else []
    return _prefill_text(element, text, hints)


def _prefill_text(element: dict, text: str, hints: list[str]) -> tuple[dict, bool, list[str]]:
    """Put `text` in the input when Slack allows it; a longer default stays out of the form and
    applies when the field is left empty."""
    if not text:
        return element, False, hints
    if len(text) > MAX_INITIAL_TEXT:
        return element, False, [*hints, "Leave empty to use the default (too long to show)."]
    element["initial_value"] = text
    return element, True, hints


def _array_input(start: Any) -> tuple[dict, bool, list[str]]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_VALUE,
        "multiline": True,
        "placeholder": _plain("One item per line"),
    }
    return _prefill_text(element, _array_text(start), ["One item per line."])


def _array_text(items: Any) -> str:
    """Lines when every item is a one-line string, else a JSON array (the parser takes both)."""
    if not isinstance(items, list) or not items:
        return ""
    if all(isinstance(i, str) and i.strip() and "\n" not in i for i in items):
        return "\n".join(items)
    return json.dumps(items, ensure_ascii=False)


def _object_input(start: Any) -> tuple[dict, bool, list[str]]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_VALUE,
        "multiline": True,
        "placeholder": _plain('A JSON object, e.g. {"key": "value"}'),
    }
    text = "" if start is None else json.dumps(start, indent=2, ensure_ascii=False)
    return _prefill_text(element, text, ["A JSON object."])


def _number_input(type_: str, start: Any) -> tuple[dict, bool, list[str]]:
    element: dict[str, Any] = {
        "type": "number_input",
        "action_id": ACTION_VALUE,
        "is_decimal_allowed": type_ == "number",
    }
    text = _number_text(type_, start)
    if text is None:
        return element, False, []
    element["initial_value"] = text
    return element, True, []


def _number_text(type_: str, value: Any) -> str | None:
    """A number as Slack's number_input wants it: digits, no exponent, whole for integers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type_ == "integer" and not isinstance(value, int):
        return None
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)), "f")


def _checkbox(start: Any) -> tuple[dict, bool, list[str]]:
    element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ACTION_VALUE,
        "options": [_CHECKED],
    }
    if start is True:
        element["initial_options"] = [_CHECKED]
    return element, isinstance(start, bool), []


def _select(choices: list[Any], start: Any) -> tuple[dict, bool, list[str]]:
    options = _options(choices)
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ACTION_VALUE,
        "placeholder": _plain("Choose one"),
        "options": options,
    }
    index = _choice_index(choices, start)
    if index is None:
        return element, False, []
    element["initial_option"] = options[index]
    return element, True, []


def _multi_select(choices: list[Any], start: Any) -> tuple[dict, bool, list[str]]:
    options = _options(choices)
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": ACTION_VALUE,
        "placeholder": _plain("Choose any"),
        "options": options,
    }
    picked = [_choice_index(choices, item) for item in (start if isinstance(start, list) else [])]
    initial = [options[i] for i in dict.fromkeys(picked) if i is not None]
    if not initial:
        return element, False, []
    element["initial_options"] = initial
    return element, True, []


def _options(choices: list[Any]) -> list[dict]:
    """One option per choice. The value is the choice as typed on a command line (so the
    submission coerces like `key=value`), or `#<index>` when that is too long or repeats."""
    options, seen = [], set()
    for index, choice in enumerate(choices):
        text = choice_text(choice)
        value = text if 0 < len(text) <= MAX_OPTION_VALUE and text not in seen else f"#{index}"
        seen.add(value)
        label = _cut(text, MAX_OPTION_TEXT) if text else '""'
        options.append({"text": _plain(label), "value": value})
    return options


def choice_text(choice: Any) -> str:
    """A choice as someone would type it: strings as they are, anything else as JSON."""
    return choice if isinstance(choice, str) else json.dumps(choice, ensure_ascii=False)


def _choice_index(choices: list[Any], value: Any) -> int | None:
    for index, choice in enumerate(choices):
        if type(choice) is type(value) and choice == value:
            return index
    if isinstance(value, str):
        for index, choice in enumerate(choices):
            if choice_text(choice) == value:
                return index
    return None


def _choices_hint(choices: list[Any]) -> str:
    return "One of: " + ", ".join(choice_text(c) for c in choices)


def _hint(spec: FieldSpec, problems: list[str | None], extra: list[str]) -> str:
    parts = [f"⚠️ {p}" for p in problems if p]
    if spec.description:
        parts.append(spec.description)
    parts.extend(extra)
    return _cut(" ".join(parts), MAX_HINT)


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- reading the submission ---------------------------------------------------------------------


def parse_param_submission(
    procedure: Procedure,
    state_values: dict[str, Any],
    *,
    private_metadata: str | dict | None = None,
) -> dict[str, Any]:
    """`view.state.values` back into raw values for `coerce_params(..., from_strings=True)`:
    strings as typed, numbers as Slack's numeric strings, checkboxes as "true"/"false", a
    select as its choice, array lines as a list of strings. Empty fields are left out so
    defaults apply. Values the form carried for hidden parameters (private_metadata) come
    first; the form's own fields win."""
    raw: dict[str, Any] = dict(read_metadata(private_metadata).get("given") or {})
    for name, spec in procedure.params.items():
        entry = (state_values.get(block_id(name)) or {}).get(ACTION_VALUE)
        if not isinstance(entry, dict):
            continue
        value = _read_entry(spec, entry)
        if value is not None:
            raw[name] = value
    return raw


def _read_entry(spec: FieldSpec, entry: dict[str, Any]) -> Any:
    """One state entry, read by the element type Slack reports (the procedure file may have
    changed since the form opened) and shaped for the field's type."""
    kind = entry.get("type")
    if kind == "checkboxes":
        return "true" if entry.get("selected_options") else "false"
    if kind == "static_select":
        option = entry.get("selected_option")
        return _option_choice(spec, option) if isinstance(option, dict) else None
    if kind == "multi_static_select":
        picked = [_option_choice(spec, o) for o in entry.get("selected_options") or []]
        return [p for p in picked if p is not None] or None
    value = entry.get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    if spec.type == "array" and kind == "plain_text_input":
        return _read_lines(value)
    return value


def _option_choice(spec: FieldSpec, option: dict[str, Any]) -> Any:
    """The typed-out choice behind an option value (see `_options`)."""
    value = option.get("value")
    if not isinstance(value, str):
        return None
    choices = spec.enum or []
    if any(choice_text(c) == value for c in choices):
        return value
    if value.startswith("#") and value[1:].isdigit() and int(value[1:]) < len(choices):
        return choice_text(choices[int(value[1:])])
    return value  # not a choice (any more): coerce_params says so on the field


def _read_lines(text: str) -> Any:
    """One item per line; text that is a JSON array is taken as one. Broken JSON is returned as
    text so that `coerce_params` explains the problem on the field."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(parsed, list):
            return parsed
    return [line.strip() for line in stripped.splitlines() if line.strip()] or None


# -- errors on the fields -----------------------------------------------------------------------


def check_param_submission(
    procedure: Procedure,
    state_values: dict[str, Any],
    *,
    private_metadata: str | dict | None = None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """(typed values, {}) when the submission is valid, else (None, {"param:<name>": message})
    ready for `response_action: errors`. Problems that name no field of the form are added to
    the first field; with no field at all the `ParamError` is raised for the caller to report."""
    raw = parse_param_submission(procedure, state_values, private_metadata=private_metadata)
    try:
        return coerce_params(procedure, raw, from_strings=True), {}
    except ParamError as error:
        fields = [name for name in procedure.params if block_id(name) in state_values]
        mapped = errors_by_block(procedure, error, fields)
        if not mapped:
            raise
        return None, mapped


def param_errors(
    procedure: Procedure,
    state_values: dict[str, Any],
    *,
    private_metadata: str | dict | None = None,
) -> dict[str, str]:
    """{"param:<name>": message} for `response_action: errors`; {} when the values are valid.
    Raises `ParamError` only for problems the form has no field to show on."""
    return check_param_submission(procedure, state_values, private_metadata=private_metadata)[1]


def errors_by_block(
    procedure: Procedure, error: ParamError, fields: list[str] | None = None
) -> dict[str, str]:
    """`coerce_params`' problems (one line each, naming the parameter) keyed by block_id.

    Only `fields` (default: every parameter) get keys; other problems are added to the first
    of them. {} when `fields` is empty."""
    fields = list(procedure.params) if fields is None else fields
    if not fields:
        return {}
    found: dict[str, list[str]] = {}
    stray: list[str] = []
    for line in filter(str.strip, str(error).splitlines()):
        name, message = _split_problem(line, procedure)
        if name in fields:
            found.setdefault(name, []).append(message)
        else:
            stray.append(_sentence(line))
    if stray:
        found.setdefault(fields[0], []).extend(stray)
    return {block_id(name): _cut(" ".join(msgs), MAX_HINT) for name, msgs in found.items()}


def _split_problem(line: str, procedure: Procedure) -> tuple[str | None, str]:
    """("name", what to show on its field) for "parameter 'name': ..." and "parameter 'name'
    is required ..."; (None, line) for anything else."""
    for name in procedure.params:
        head = f"parameter {name!r}"
        if not line.startswith(head):
            continue
        rest = line[len(head) :]
        if rest.startswith(": "):
            return name, _sentence(rest[2:])
        if rest.startswith(" is required"):
            return name, "This field is required" + rest[len(" is required") :] + "."
    return None, line


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
