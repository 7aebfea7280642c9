"""AppSync's AWSJSON and AWSDateTime scalars, and the server's clock format.

AWSJSON travels as a JSON-encoded *string* both ways: a client that sends an object, or
reads `metadata` as if it were one, works against a lenient fake and fails on AppSync.
AppSync stores the parsed value (a DynamoDB map) and prints it back compactly, so the string
a client reads is not byte-for-byte the one it wrote.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, StringValueNode, print_ast

# AppSync: YYYY-MM-DDThh:mm[:ss[.1-9 digits]] and a compulsory offset, Z or ±hh:mm[:ss].
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?"
    r"(?:Z|[+-](\d{2}):(\d{2})(?::(\d{2}))?)$"
)


def iso_timestamp(moment: datetime) -> str:
    """`$util.time.nowISO8601()`: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def encode_json(value: Any) -> str:
    """How an AWSJSON value is printed back: compact, as AppSync serialises a stored map."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def coerce_json_input(value: Any) -> str:
    """Accept a string holding valid JSON; keep the text (resolvers parse it when storing)."""
    if not isinstance(value, str):
        raise GraphQLError(
            f"Unable to parse `{_shown(value)}` as valid JSON: AWSJSON takes a JSON-encoded string."
        )
    try:
        json.loads(value)
    except ValueError as exc:
        raise GraphQLError(f"Unable to parse `{value}` as valid JSON.") from exc
    return value


def _json_literal(node: Any, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(f"Value '{print_ast(node)}' is not a valid 'AWSJSON'.")
    return coerce_json_input(node.value)


def _json_output(value: Any) -> str:
    # Stored AWSJSON values are parsed JSON, so the output is always freshly encoded.
    return encode_json(value)


def valid_datetime(value: str) -> bool:
    match = _DATETIME.match(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def coerce_datetime_input(value: Any) -> str:
    if not isinstance(value, str) or not valid_datetime(value):
        raise GraphQLError(f"Unable to parse `{_shown(value)}` as a valid AWSDateTime.")
    return value


def _datetime_literal(node: Any, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(f"Value '{print_ast(node)}' is not a valid 'AWSDateTime'.")
    return coerce_datetime_input(node.value)


def _datetime_output(value: Any) -> str:
    return str(value)


def install_scalars(schema: GraphQLSchema) -> None:
    """Give the schema's AWSJSON and AWSDateTime AppSync's coercion rules."""
    json_type = schema.type_map["AWSJSON"]
    datetime_type = schema.type_map["AWSDateTime"]
    assert isinstance(json_type, GraphQLScalarType)
    assert isinstance(datetime_type, GraphQLScalarType)
    json_type.coerce_input_value = coerce_json_input
    json_type.coerce_input_literal = _json_literal
    json_type.coerce_output_value = _json_output
    datetime_type.coerce_input_value = coerce_datetime_input
    datetime_type.coerce_input_literal = _datetime_literal
    datetime_type.coerce_output_value = _datetime_output
