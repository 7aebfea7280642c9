"""How a Plexus client is configured: the environment variables Plexus's own client reads.

`PLEXUS_API_URL` (the AppSync GraphQL endpoint), `PLEXUS_API_KEY` (sent as `x-api-key`),
`PLEXUS_ACCOUNT_KEY` (resolved to an account id with `listAccountByKey`),
`PLEXUS_GRAPHQL_AUTH_MODE` (`api_key`, the default, or `iam` to sign requests with AWS SigV4
using the credentials botocore finds) and `PLEXUS_API_REGION` (for `iam`; otherwise parsed from
an `*.appsync-api.<region>.amazonaws.com` URL). The `NEXT_PUBLIC_*` names the dashboard uses
are accepted as fallbacks, as Plexus's client factory does.

The key is a `SecretStr`: it never reaches a log line, an error or a repr.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.plexus.errors import PlexusConfigError

AuthMode = Literal["api_key", "iam"]

_ENV_NAMES = {
    "api_url": "PLEXUS_API_URL",
    "api_key": "PLEXUS_API_KEY",
    "account_key": "PLEXUS_ACCOUNT_KEY",
    "auth_mode": "PLEXUS_GRAPHQL_AUTH_MODE",
    "region": "PLEXUS_API_REGION",
    "request_timeout": "PLEXUS_REQUEST_TIMEOUT_SECONDS",
    "s3_bucket": "AMPLIFY_STORAGE_REPORTBLOCKDETAILS_BUCKET_NAME",
}


class PlexusSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    api_url: str | None = Field(
        None, validation_alias=AliasChoices("PLEXUS_API_URL", "NEXT_PUBLIC_PLEXUS_API_URL")
    )
    api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("PLEXUS_API_KEY", "NEXT_PUBLIC_PLEXUS_API_KEY")
    )
    account_key: str | None = Field(None, validation_alias="PLEXUS_ACCOUNT_KEY")
    auth_mode: AuthMode = Field("api_key", validation_alias="PLEXUS_GRAPHQL_AUTH_MODE")
    region: str | None = Field(
        None, validation_alias=AliasChoices("PLEXUS_API_REGION", "NEXT_PUBLIC_PLEXUS_API_REGION")
    )
    request_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        validation_alias="PLEXUS_REQUEST_TIMEOUT_SECONDS",
        description="how long one HTTP attempt may take before it counts as failed (retried)",
    )
    s3_bucket: str = Field(
        "reportblockdetails-production",
        validation_alias="AMPLIFY_STORAGE_REPORTBLOCKDETAILS_BUCKET_NAME",
        description="where Plexus keeps metadata values it stored as `{_s3_key: ...}` pointers",
    )

    def checked(self) -> PlexusSettings:
        """Refuse settings a client cannot work with, naming the variable to fix."""
        if not self.api_url:
            raise PlexusConfigError(
                "PLEXUS_API_URL is not set: it is the Plexus GraphQL endpoint, "
                "e.g. https://<id>.appsync-api.<region>.amazonaws.com/graphql"
            )
        url = urlparse(self.api_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise PlexusConfigError(f"PLEXUS_API_URL must be an http(s) URL, not {self.api_url!r}")
        if self.auth_mode == "api_key" and not (self.api_key and self.api_key.get_secret_value()):
            raise PlexusConfigError(
                "PLEXUS_API_KEY is not set: Plexus's API key, sent as x-api-key "
                "(or set PLEXUS_GRAPHQL_AUTH_MODE=iam to sign requests with AWS credentials)"
            )
        return self

    @property
    def host(self) -> str:
        return urlparse(self.api_url or "").netloc


def load_plexus_settings(**overrides: object) -> PlexusSettings:
    """Settings from the environment (overrides win), checked; one clear error if unusable."""
    try:
        settings = PlexusSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = _ENV_NAMES.get(field, field)
        raise PlexusConfigError(f"{name} is invalid: {error['msg']}") from None
    return settings.checked()
