"""Parameter and output schemas: checking declarations, coercing inputs, checking results.

The same type rules serve three callers: the loader (is a declared default valid?), the bot and
the CLI (turn what a person typed into the values a run starts with) and the engine (does the
result match the declared outputs?). Problems are collected, not raised one at a time, so a
person fixes everything in one go. Every function here is pure.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from runtime.errors import ParamError
from runtime.procedure import FieldSpec, FieldType, Procedure

FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
SPEC_KEYS = frozenset(FieldSpec.model_fields)
UI_INPUTS = ("textarea", "hidden")

# Names people reach for out of habit (Python, JSON Schema, YAML) and the type they mean.
_TYPE_ALIASES = {
    "str": "string",
    "text": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "map": "object",
    "table": "object",
}
# Lua 5.4 integers are 64-bit: a larger integer cannot reach a procedure intact.
LUA_INTEGER_MIN = -(2**63)
LUA_INTEGER_MAX = 2**63 - 1
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


@dataclass(frozen=True)
class FieldCheck:
    """A field declaration read: the spec (None when it has errors), errors and warnings."""

    spec: FieldSpec | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- type rules --------------------------------------------------------------------------------


def type_problem(type_: str, value: Any) -> str | None:
    """Why `value` is not a `type_`, or None when it is. Booleans are never numbers."""
    ok = {
        "string": isinstance(value, str),
        "number": _is_number(value),
        "integer": _is_number(value) and float(value).is_integer(),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(type_, True)
    return None if ok else f"expected {_article(type_)}, got {_show(value)}"


def normalise(type_: str, value: Any) -> Any:
    """Undo what the trip through Lua blurs: `{}` is also an empty array, 3.0 an integer.

    A number too large for a Lua integer is a float, as Lua would read it."""
    if type_ == "array" and value == {}:
        return []
    if type_ == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if type_ == "number" and isinstance(value, int) and not _fits_lua(value):
        return float(value)
    return value


def lua_problem(value: Any) -> str | None:
    """Why `value`, or something inside it, cannot reach Lua intact: an integer outside
    Lua's 64-bit range, or a number that is not finite (JSON's NaN and Infinity); else None.
    Caught here, the person typing is told at once instead of the run failing later."""
    pending = [value]  # a stack, not recursion: a value may nest deeply
    while pending:
        item = pending.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int) and not _fits_lua(item):
            return (
                f"{item} is outside the integer range a procedure can hold "
                f"({LUA_INTEGER_MIN} to {LUA_INTEGER_MAX})"
            )
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a finite number"
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def _fits_lua(number: int) -> bool:
    return LUA_INTEGER_MIN <= number <= LUA_INTEGER_MAX


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _article(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    text = json.dumps(value, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind.get(type(value), 'object')} {text}"


# -- declarations ------------------------------------------------------------------------------


def parse_field(raw: Any, *, drop_default_when_required: bool = False) -> FieldCheck:
    """Read one parameter/output/state declaration as written in a file.

    `drop_default_when_required` is the Tactus field-builder rule (`field.string{required=true,
    default=...}` forgets the default); YAML keeps both, so the default always applies there.
    Unknown keys are warnings, not errors: Plexus files carry keys we have no use for.
    """
    if not isinstance(raw, Mapping):
        return FieldCheck(
            None, [f"must be a table of options like {{type = 'string'}}, got {_show(raw)}"]
        )
    errors: list[str] = []
    warnings: list[str] = []
    data = {k: v for k, v in raw.items() if k in SPEC_KEYS}
    for key in sorted(set(map(str, raw)) - SPEC_KEYS):
        warnings.append(f"unknown key {key!r} is ignored")

    type_ = data.get("type", "string")
    if type_ not in FIELD_TYPES:
        errors.append(_unknown_type(type_))
        return FieldCheck(None, errors, warnings)
    for key, kind in (("required", bool), ("description", str), ("input", str)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            errors.append(
                f"{key} must be {_article('boolean' if kind is bool else 'string')}, "
                f"got {_show(data[key])}"
            )
    if data.get("rows") is not None and type_problem("integer", data["rows"]):
        errors.append(f"rows must be an integer, got {_show(data['rows'])}")
    if isinstance(data.get("input"), str) and data["input"] not in UI_INPUTS:
        warnings.append(f"input {data['input']!r} is not a known UI hint ({', '.join(UI_INPUTS)})")
    errors.extend(_enum_problems(type_, data))
    for key in ("default", "value"):
        if data.get(key) is not None:
            data[key] = normalise(type_, data[key])
            errors.extend(f"{key} {p}" for p in _value_problems(type_, data.get("enum"), data[key]))

    if data.get("required") is True and data.get("default") is not None:
        if drop_default_when_required:
            warnings.append("default is ignored because required = true")
            data.pop("default")
        else:
            warnings.append("required has no effect because a default is given")
    if errors:
        return FieldCheck(None, errors, warnings)
    return FieldCheck(FieldSpec(**data), errors, warnings)


def _unknown_type(type_: Any) -> str:
    known = ", ".join(FIELD_TYPES)
    if not isinstance(type_, str):
        return f"type must be one of {known}, got {_show(type_)}"
    guess = _TYPE_ALIASES.get(type_.lower()) or next(
        iter(difflib.get_close_matches(type_, FIELD_TYPES, n=1)), None
    )
    hint = f"did you mean {guess!r}? " if guess else ""
    return f"unknown type {type_!r} ({hint}known: {known})"


def _enum_problems(type_: str, data: dict[str, Any]) -> list[str]:
    enum = data.get("enum")
    if enum is None:
        return []
    if enum == {}:
        enum = data["enum"] = []
    if not isinstance(enum, list) or not enum:
        return [f"enum must be a non-empty list of choices, got {_show(enum)}"]
    item_type = "string" if type_ == "array" else type_
    problems = []
    for choice in enum:
        if problem := type_problem(item_type, choice):
            problems.append(f"enum choice {problem}")
    return problems


def _value_problems(type_: str, enum: Any, value: Any) -> list[str]:
    """What is wrong with a value for a field (type, Lua's range, then enum); [] when fine."""
    if problem := type_problem(type_, value) or lua_problem(value):
        return [problem]
    if not isinstance(enum, list) or not enum:
        return []
    items = value if type_ == "array" else [value]
    bad = [item for item in items if item not in enum]
    if not bad:
        return []
    choices = ", ".join(json.dumps(c, default=str) for c in enum)
    shown = ", ".join(json.dumps(b, default=str) for b in bad)
    return [f"{shown} is not one of the choices ({choices})"]


# -- parameters --------------------------------------------------------------------------------


def coerce_params(procedure: Procedure, raw: dict[str, Any], *, from_strings: bool) -> dict:
    """The values a run starts with: defaults applied, strings converted, everything checked.

    `from_strings` is for people typing (CLI `key=value`, Slack forms): "3" becomes 3,
    "yes" becomes True, `a,b` or `["a","b"]` an array, and a blank entry counts as not given.
    Raises one `ParamError` listing every problem, one line each.
    """
    specs = procedure.params
    problems = [_unknown_param(name, specs) for name in raw if name not in specs]
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        value = raw.get(name)
        if from_strings and isinstance(value, str):
            if value.strip() == "":
                value = None
            elif spec.type != "string":
                value, problem = _from_string(spec.type, value)
                if problem:
                    problems.append(f"parameter {name!r}: {problem}")
                    continue
        if value is None:
            value = spec.value if spec.value is not None else spec.default
        if value is None:
            if spec.required:
                problems.append(f"parameter {name!r} is required{_describe(spec)}")
            continue
        value = normalise(spec.type, value)
        found = _value_problems(spec.type, spec.enum, value)
        problems.extend(f"parameter {name!r}: {p}" for p in found)
        values[name] = value
    if problems:
        raise ParamError("\n".join(problems))
    return values


def _unknown_param(name: str, specs: Mapping[str, FieldSpec]) -> str:
    if not specs:
        return f"unknown parameter {name!r}: this procedure takes no parameters"
    guess = difflib.get_close_matches(name, list(specs), n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown parameter {name!r} ({hint}known: {', '.join(specs)})"


def _describe(spec: FieldSpec) -> str:
    detail = f" ({spec.type}"
    if spec.enum:
        detail += ", one of " + ", ".join(json.dumps(c, default=str) for c in spec.enum)
    if spec.description:
        detail += f": {spec.description}"
    return detail + ")"


def _from_string(type_: str, text: str) -> tuple[Any, str | None]:
    """Convert what a person typed; (value, None) or (None, problem)."""
    stripped = text.strip()
    if type_ in ("number", "integer"):
        return _number_from_string(type_, stripped)
    if type_ == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE, None
        return None, f"expected true or false (or yes/no), got {text!r}"
    if type_ == "object" or (type_ == "array" and stripped.startswith("[")):
        try:
            return json.loads(stripped), None
        except ValueError as exc:  # JSONDecodeError, or an integer of thousands of digits
            detail = getattr(exc, "msg", str(exc))
            return None, f"expected JSON for {_article(type_)}, got {text!r} ({detail})"
        except RecursionError:
            return None, f"expected JSON for {_article(type_)}, nested less deeply"
    if type_ == "array":
        return [item.strip() for item in stripped.split(",") if item.strip()], None
    return text, None


def _number_from_string(type_: str, text: str) -> tuple[Any, str | None]:
    try:
        number: int | float = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None, f"expected {_article(type_)}, got {text!r}"
    if isinstance(number, float) and not math.isfinite(number):
        return None, f"expected a finite number, got {text!r}"
    if type_ == "integer" and not float(number).is_integer():
        return None, f"expected an integer, got {text!r}"
    return normalise(type_, number), None


# -- outputs -----------------------------------------------------------------------------------


def check_outputs(procedure: Procedure, result: Any) -> Any:
    """The run's result, checked against the declared outputs.

    With no outputs declared the result is the procedure's to shape, as in Tactus: it comes back
    unchanged (nil, a string, a list...). With outputs declared it must be a table (nil counts as
    an empty one); a missing required output or a wrong type or choice is a `ParamError`, and a
    dict comes back with Lua's blurs undone (`{}` for an empty array, 3.0 for an integer).
    Extra keys are kept: they harm nobody.
    """
    if not procedure.outputs:
        return result
    if result is None:
        result = {}
    if not isinstance(result, dict):
        raise ParamError(
            f"the procedure must return a table of outputs "
            f"({', '.join(procedure.outputs)}), got {_show(result)}"
        )
    checked = dict(result)
    problems: list[str] = []
    for name, spec in procedure.outputs.items():
        value = checked.get(name)
        if value is None:
            if spec.required:
                problems.append(f"output {name!r} is required but was not returned")
            continue
        value = checked[name] = normalise(spec.type, value)
        problems.extend(
            f"output {name!r}: {p}" for p in _value_problems(spec.type, spec.enum, value)
        )
    if problems:
        raise ParamError("\n".join(problems))
    return checked
