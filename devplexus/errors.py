"""The errors devplexus answers with, shaped as AppSync and its DynamoDB resolvers shape them.

Clients classify failures by `errorType` and message text (Plexus's own client retries on
throttling and gives up on anything else), so a stand-in that invents its own wording would
teach a client the wrong rules. Resolver errors carry AppSync's `errorType`; request-level
errors (syntax, validation, variables) carry none, as on AppSync.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from graphql import GraphQLError

CONDITIONAL_CHECK_FAILED = "DynamoDB:ConditionalCheckFailedException"
DYNAMODB_EXCEPTION = "DynamoDB:DynamoDbException"
ILLEGAL_ARGUMENT = "DynamoDB:UserIllegalArgumentException"
THROTTLED = "DynamoDB:ProvisionedThroughputExceededException"
UNAUTHORIZED = "UnauthorizedException"
MALFORMED_REQUEST = "MalformedHttpRequestException"

_REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits


class AppSyncError(Exception):
    """A resolver failure AppSync reports as `{"errorType", "message"}` under the field's path."""

    def __init__(self, error_type: str | None, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def dynamodb_request_id() -> str:
    """DynamoDB's request ids are 52 upper-case letters and digits."""
    return "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(52))


def _dynamodb(error_type: str, text: str) -> AppSyncError:
    suffix = f" (Service: DynamoDb, Status Code: 400, Request ID: {dynamodb_request_id()})"
    return AppSyncError(error_type, text + suffix)


def conditional_check_failed() -> AppSyncError:
    """A create over an existing id, an update or delete of a missing one, or a false condition."""
    return _dynamodb(CONDITIONAL_CHECK_FAILED, "The conditional request failed")


def invalid_parameter(text: str) -> AppSyncError:
    """DynamoDB refusing a request's parameters (a NULL index key, a limit below 1, ...)."""
    return _dynamodb(DYNAMODB_EXCEPTION, text)


def throughput_exceeded() -> AppSyncError:
    return _dynamodb(
        THROTTLED,
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    )


def invalid_pagination_token() -> AppSyncError:
    return AppSyncError(
        ILLEGAL_ARGUMENT,
        "com.amazonaws.deepdish.common.pagination.InvalidPaginationTokenException: "
        "Invalid pagination token given.",
    )


def composite_key_incomplete(operation: str, index: str, missing: str) -> AppSyncError:
    """The @index resolvers' own check: a composite sort key is written whole or not at all."""
    verb = "creating" if operation == "create" else "updating"
    return AppSyncError(
        None,
        f"When {verb} any part of the composite sort key for @index '{index}', "
        f"you must provide all fields for the key. Missing key: '{missing}'.",
    )


def _locations(error: GraphQLError) -> list[dict[str, Any]] | None:
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations]


def request_error(error: GraphQLError) -> dict[str, Any]:
    """A syntax, validation or variable error: AppSync gives it no path and no errorType."""
    return {"path": None, "locations": _locations(error), "message": error.message}


def field_error(error: GraphQLError) -> dict[str, Any]:
    """An error raised while resolving a field, with AppSync's keys in AppSync's order."""
    original = error.original_error
    error_type = original.error_type if isinstance(original, AppSyncError) else None
    message = original.message if isinstance(original, AppSyncError) else error.message
    return {
        "path": list(error.path) if error.path is not None else None,
        "data": None,
        "errorType": error_type,
        "errorInfo": None,
        "locations": _locations(error),
        "message": message,
    }


def http_error(error_type: str, message: str) -> dict[str, Any]:
    """The body AppSync sends with a 4xx/5xx answer (no data, one error)."""
    return {"errors": [{"errorType": error_type, "message": message}]}
