"""The bot's configuration: one pydantic-settings class read from the environment.

A missing or invalid setting stops start-up with one line that names the variable and says how
to fix it; tokens are `SecretStr`, so they never reach a log or a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.plexus import PlexusConfigError, PlexusSettings, load_plexus_settings
from runtime.errors import HitlbotError
from runtime.quotas import MIB, RunQuotas
from runtime.sandbox import SandboxLimits

Mode = Literal["http", "socket", "dev"]


class SettingsError(HitlbotError):
    """A setting that stops the bot from starting. Its message says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    database_url: str = Field("sqlite:///hitlbot.db", validation_alias="HITLBOT_DATABASE_URL")
    procedures_dir: Path = Field(Path("examples"), validation_alias="HITLBOT_PROCEDURES_DIR")
    default_channel: str | None = Field(None, validation_alias="HITLBOT_DEFAULT_CHANNEL")
    command: str = Field("/procedure", validation_alias="HITLBOT_COMMAND")
    escalation_mention: str = Field(
        "here",
        validation_alias="HITLBOT_ESCALATION_MENTION",
        description="who error/critical escalations mention: here, channel, none or @group",
    )
    slack_pace: float = Field(
        1.0,
        ge=0,
        validation_alias="HITLBOT_SLACK_PACE",
        description="posts per second per channel (Slack's limit is about 1); 0 turns pacing off",
    )
    slack_update_pace: float = Field(
        50.0,
        ge=0,
        validation_alias="HITLBOT_SLACK_UPDATE_PACE",
        description="message updates per minute for the whole workspace (chat.update is Tier 3: "
        "about 50); 0 turns pacing off (Retry-After is still honoured)",
    )
    lua_workers: int = Field(
        4,
        ge=1,
        le=256,
        validation_alias="HITLBOT_LUA_WORKERS",
        description="how many procedures execute at once, each in a worker process of its own",
    )
    worker_memory_mb: int = Field(
        256,
        ge=32,
        le=65536,
        validation_alias="HITLBOT_WORKER_MEMORY_MB",
        description="memory an execution may use, in Lua and in the primitives together",
    )
    time_limit_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        validation_alias="HITLBOT_TIME_LIMIT_SECONDS",
        description="wall time one execution (a start or a resume) may take",
    )
    lua_memory_mb: int = Field(
        64, ge=1, le=65536, validation_alias="HITLBOT_LUA_MEMORY_MB", description="Lua's heap"
    )
    instruction_limit: int = Field(
        200_000_000, ge=1000, validation_alias="HITLBOT_INSTRUCTION_LIMIT"
    )
    max_state_bytes: int = Field(1024 * 1024, ge=1, validation_alias="HITLBOT_MAX_STATE_BYTES")
    max_events: int = Field(10_000, ge=1, validation_alias="HITLBOT_MAX_EVENTS")
    max_event_bytes: int = Field(4 * 1024 * 1024, ge=1, validation_alias="HITLBOT_MAX_EVENT_BYTES")
    max_log_entries: int = Field(10_000, ge=1, validation_alias="HITLBOT_MAX_LOG_ENTRIES")
    max_log_bytes: int = Field(8 * 1024 * 1024, ge=1, validation_alias="HITLBOT_MAX_LOG_BYTES")
    max_result_bytes: int = Field(1024 * 1024, ge=1, validation_alias="HITLBOT_MAX_RESULT_BYTES")
    heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        le=300,
        validation_alias="HITLBOT_HEARTBEAT_SECONDS",
        description="how often the bot says it is alive; silent for three times this, it is "
        "taken for dead and another process finishes its half-done work",
    )
    plexus_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=3600,
        validation_alias="HITLBOT_PLEXUS_POLL_SECONDS",
        description="how often answers given in Plexus are looked for (with PLEXUS_API_URL)",
    )
    host: str = Field("0.0.0.0", validation_alias="HITLBOT_HOST")
    port: int = Field(3000, validation_alias="HITLBOT_PORT")

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.startswith("/") or len(value) < 2 or " " in value:
            raise ValueError("must be a slash command such as /procedure")
        return value

    def limits(self) -> SandboxLimits:
        """What one execution may use."""
        return SandboxLimits(
            memory_bytes=self.lua_memory_mb * MIB,
            instructions=self.instruction_limit,
            wall_seconds=self.time_limit_seconds,
        )

    def quotas(self) -> RunQuotas:
        """What one run may store."""
        return RunQuotas(
            state_bytes=self.max_state_bytes,
            events=self.max_events,
            event_bytes=self.max_event_bytes,
            log_entries=self.max_log_entries,
            log_bytes=self.max_log_bytes,
            result_bytes=self.max_result_bytes,
        )

    def plexus(self) -> PlexusSettings | None:
        """Plexus's settings (`PLEXUS_*`, as Plexus's own client reads them) when
        `PLEXUS_API_URL` is set: runs are then mirrored there and answered from there too."""
        settings = PlexusSettings()
        if not settings.api_url:
            return None
        try:
            return load_plexus_settings()
        except PlexusConfigError as exc:
            raise SettingsError(str(exc)) from None

    def require(self, mode: Mode) -> Settings:
        """Check what `mode` needs, so a misconfigured bot fails at start, not at first use."""
        token = _secret(self.slack_bot_token)
        if not token:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set: use the Bot User OAuth Token (xoxb-...) "
                "from your app's OAuth & Permissions page"
            )
        if not token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if mode in ("http", "dev") and not _secret(self.slack_signing_secret):
            raise SettingsError(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your app's "
                "Basic Information page"
            )
        if mode == "socket" and not _secret(self.slack_app_token).startswith("xapp-"):
            raise SettingsError(
                "SLACK_APP_TOKEN must be an app-level token (xapp-...) with connections:write "
                "for Socket Mode: create one under Basic Information > App-Level Tokens"
            )
        self.plexus()  # a half-configured Plexus is refused at start, not at first use
        if not self.procedures_dir.is_dir():
            raise SettingsError(
                f"HITLBOT_PROCEDURES_DIR={self.procedures_dir} is not a directory: point it at "
                "the folder holding your procedure files"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides) or raise one clear `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "setting"
        name = _env_name(field)
        raise SettingsError(f"{name} is invalid: {error['msg']}") from None


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else field.upper()
