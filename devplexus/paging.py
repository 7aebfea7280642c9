"""`limit`, `nextToken` and key conditions: how Amplify's list resolvers page a DynamoDB read.

DynamoDB applies `Limit` to the items it *reads*, before any filter, and returns a
LastEvaluatedKey whenever it stopped because of the limit (even when nothing is left, so the
last page can be empty). AppSync hands that key to the client as an opaque `nextToken` that
only works for the query it came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from devplexus.catalog import Index
from devplexus.errors import invalid_pagination_token, invalid_parameter
from devplexus.store import KeyCondition, Position

#: Amplify's list resolvers: `$util.defaultIfNull($ctx.args.limit, 100)`.
DEFAULT_LIMIT = 100
_KEY_OPERATORS = ("eq", "le", "lt", "ge", "gt", "between", "beginsWith")


def page_limit(value: int | None) -> int:
    limit = DEFAULT_LIMIT if value is None else value
    if limit < 1:
        raise invalid_parameter(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return limit


def _scope(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_token(query: str, position: dict[str, Any]) -> str:
    raw = json.dumps({"scope": _scope(query), **position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_token(query: str, token: str | None) -> dict[str, Any] | None:
    """The position a token points at; a token of another query or garbage is refused."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_pagination_token() from None
    if not isinstance(data, dict) or data.get("scope") != _scope(query):
        raise invalid_pagination_token()
    return data


def index_position(query: str, token: str | None) -> Position | None:
    data = decode_token(query, token)
    if data is None:
        return None
    if not isinstance(data.get("seq"), int):
        raise invalid_pagination_token()
    return Position(data.get("sort"), data["seq"])


def index_token(query: str, position: Position) -> str:
    return encode_token(query, {"sort": position.sort_value, "seq": position.seq})


def _composite_value(index: Index, parts: Any) -> str:
    """`{responseStatus: PENDING}` -> "PENDING": the given parts, in key order, joined by #."""
    if not isinstance(parts, dict):
        raise invalid_parameter("Invalid KeyConditionExpression: composite key parts expected")
    given = [str(parts[key]) for key in index.sort_keys if parts.get(key) is not None]
    return "#".join(given)


def key_condition(index: Index, argument: dict[str, Any] | None) -> KeyCondition | None:
    """The sort key condition of an index query (the first operator given, as the resolver
    template checks them), with composite parts joined the way they are stored."""
    if not argument:
        return None
    for op in _KEY_OPERATORS:
        value = argument.get(op)
        if value is None:
            continue
        values = list(value) if op == "between" else [value]
        if op == "between" and len(values) != 2:
            raise invalid_parameter("Invalid KeyConditionExpression: BETWEEN takes two values")
        if index.composite:
            values = [_composite_value(index, v) for v in values]
        return KeyCondition(op, tuple(values))
    return None
