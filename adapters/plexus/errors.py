"""What can go wrong when talking to Plexus, each in words the person who has to act can use.

Every error names the GraphQL operation it happened in, so a log line or a failed run says
where to look; none carries the API key (it lives only in the transport's headers).
All are `HitlbotError`s: a run whose Plexus call failed fails with this message, not with a
traceback.
"""

from __future__ import annotations

from runtime.errors import HitlbotError

CONDITIONAL_CHECK_FAILED = "DynamoDB:ConditionalCheckFailedException"


class PlexusError(HitlbotError):
    """Base of the Plexus adapters' errors."""


class PlexusConfigError(PlexusError):
    """A missing or invalid `PLEXUS_*` setting. The message names the variable."""


class PlexusAuthError(PlexusError):
    """Plexus refused our credentials: retrying cannot help, the settings must change."""

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        super().__init__(
            f"Plexus refused the credentials for {operation} ({detail}): check PLEXUS_API_KEY, "
            "or the AWS credentials when PLEXUS_GRAPHQL_AUTH_MODE=iam"
        )


class PlexusGraphQLError(PlexusError):
    """A GraphQL error that is not transient: a bad input, a failed condition, a missing type."""

    def __init__(self, operation: str, error_type: str | None, message: str) -> None:
        self.operation = operation
        self.error_type = error_type
        self.detail = message
        kind = f"{error_type}: " if error_type else ""
        super().__init__(f"Plexus GraphQL operation {operation} failed: {kind}{message}")

    @property
    def condition_failed(self) -> bool:
        """The write's condition did not hold (e.g. the id exists, or the row changed)."""
        return self.error_type == CONDITIONAL_CHECK_FAILED


class PlexusUnavailableError(PlexusError):
    """Plexus kept failing in a way that is worth retrying, until the retry policy gave up."""

    def __init__(self, operation: str, attempts: int, seconds: float, reason: str) -> None:
        self.operation = operation
        self.attempts = attempts
        self.reason = reason
        plural = "s" if attempts != 1 else ""
        super().__init__(
            f"Plexus did not complete {operation} after {attempts} attempt{plural} "
            f"in {seconds:.1f} s: {reason}"
        )


class PlexusNotFoundError(PlexusError):
    """A record we were told to use does not exist in Plexus."""


class PlexusDataError(PlexusError):
    """A record holds something we cannot read: bad JSON, a wrong shape, an S3 pointer with no
    S3 configured. Names the record and the key."""
