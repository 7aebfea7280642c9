"""Filter and condition inputs evaluated the way DynamoDB evaluates the expressions Amplify
builds from them (`$util.transform.toDynamoDBFilterExpression` / `...ConditionExpression`).

The DynamoDB rules a client notices: a comparison with a missing attribute is false (so
`ne` does not match a row that lacks the attribute), values of different types never compare,
`contains` means substring for strings and membership for lists, and an attribute written as
null exists (it is a NULL attribute) while a removed one does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devplexus.errors import invalid_parameter

_MISSING = object()

_TYPE_NAMES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "_null": lambda v: v is None,
    "list": lambda v: isinstance(v, list),
    "map": lambda v: isinstance(v, dict),
    "binary": lambda v: False,
    "binarySet": lambda v: False,
    "numberSet": lambda v: False,
    "stringSet": lambda v: False,
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _comparable(left: Any, right: Any) -> bool:
    return left is not _MISSING and _kind(left) == _kind(right)


def _size(value: Any) -> int | None:
    if isinstance(value, str | list | dict):
        return len(value.encode() if isinstance(value, str) else value)
    return None


def _contains(value: Any, operand: Any) -> bool:
    if isinstance(value, str) and isinstance(operand, str):
        return operand in value
    if isinstance(value, list):
        return operand in value
    return False


def _compare(op: str, value: Any, operand: Any) -> bool:
    """One operator of a Model*Input against the stored value (_MISSING when absent)."""
    if op == "attributeExists":
        return (value is not _MISSING) == bool(operand)
    if op == "attributeType":
        return value is not _MISSING and _TYPE_NAMES[operand](value)
    if op == "size":
        size = _size(value) if value is not _MISSING else None
        return size is not None and all(_compare(k, size, v) for k, v in operand.items())
    if op == "contains":
        return value is not _MISSING and _contains(value, operand)
    if op == "notContains":
        return not (value is not _MISSING and _contains(value, operand))
    if op == "beginsWith":
        return isinstance(value, str) and isinstance(operand, str) and value.startswith(operand)
    if op == "between":
        if len(operand) != 2:
            raise invalid_parameter("Invalid FilterExpression: BETWEEN takes exactly two values")
        low, high = operand
        return _comparable(value, low) and _comparable(value, high) and low <= value <= high
    if op == "eq":
        return _comparable(value, operand) and value == operand
    if op == "ne":
        return value is not _MISSING and not (_kind(value) == _kind(operand) and value == operand)
    if not _comparable(value, operand):
        return False
    return {
        "lt": value < operand,
        "le": value <= operand,
        "gt": value > operand,
        "ge": value >= operand,
    }[op]


def matches(item: dict[str, Any], expression: dict[str, Any] | None) -> bool:
    """True when `item` satisfies a filter or condition input (None or {} matches all)."""
    if not expression:
        return True
    for key, operand in expression.items():
        if operand is None:
            continue  # an explicit null sub-input adds no clause
        if key == "and":
            ok = all(matches(item, part) for part in operand if part is not None)
        elif key == "or":
            parts = [part for part in operand if part is not None]
            ok = not parts or any(matches(item, part) for part in parts)
        elif key == "not":
            ok = not matches(item, operand)
        else:
            value = item.get(key, _MISSING)
            ok = all(_compare(op, value, arg) for op, arg in operand.items() if arg is not None)
        if not ok:
            return False
    return True
