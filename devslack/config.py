"""Configuration of one devslack instance and the workspace seed it starts from.

The seed is data (a YAML file shipped with the package, replaceable with --seed) so that a
demo or a test can run against a different team without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Slack's Events API retry schedule: "nearly immediately", then after 1 and 5 minutes.
SLACK_EVENT_RETRY_DELAYS: tuple[float, ...] = (1.0, 60.0, 300.0)


@dataclass
class DevSlackConfig:
    """How to start devslack (see the shared design: the first fields are the contract)."""

    app_url: str | None = None  # where deliveries go (HTTP mode)
    port: int = 0  # 0 = a free port
    host: str = "127.0.0.1"
    seed_path: str | None = None  # None = the packaged seed.yaml
    signing_secret: str | None = None  # None = the seed's
    bot_token: str | None = None  # None = the seed's
    socket_mode: bool = False  # deliver over Socket Mode instead of HTTP
    ack_timeout: float = 3.0  # Slack's deadline
    faults: dict | None = None  # initial fault injection, same shape as POST /_dev/api/faults
    # Additions beyond the shared contract (all default to Slack's behaviour):
    event_retry_delays: tuple[float, ...] = SLACK_EVENT_RETRY_DELAYS
    rate_limits: bool = True  # False turns the Web API rate limiter off (benchmarks)
    late_ack_window: float = 10.0  # how long past the deadline a late ack is still measured


@dataclass
class SeedUser:
    id: str
    name: str
    display_name: str
    real_name: str
    email: str = ""
    tz: str = "Europe/London"
    deleted: bool = False  # a deactivated account: still listed, marked deleted


@dataclass
class SeedChannel:
    id: str
    name: str
    is_private: bool = False
    is_general: bool = False
    purpose: str = ""
    topic: str = ""
    members: list[str] | None = None  # None = every user plus the bot


@dataclass
class SeedUsergroup:
    id: str
    handle: str
    name: str
    users: list[str]
    description: str = ""


@dataclass
class Seed:
    """The parsed seed file; names in member lists are resolved by the Workspace."""

    team_id: str
    team_name: str
    team_domain: str
    app_id: str
    app_name: str
    bot_user_id: str
    bot_id: str
    scopes: list[str]
    commands: list[str]
    signing_secret: str
    bot_token: str
    app_token: str
    verification_token: str
    users: list[SeedUser] = field(default_factory=list)
    channels: list[SeedChannel] = field(default_factory=list)
    usergroups: list[SeedUsergroup] = field(default_factory=list)


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ValueError(f"seed: missing `{key}` in {where}")
    return mapping[key]


def parse_seed(data: dict[str, Any]) -> Seed:
    """Build a Seed from the YAML mapping, failing loudly on missing keys."""
    team = _require(data, "team", "the seed")
    app = _require(data, "app", "the seed")
    return Seed(
        team_id=_require(team, "id", "team"),
        team_name=_require(team, "name", "team"),
        team_domain=team.get("domain", str(team["name"]).lower()),
        app_id=_require(app, "id", "app"),
        app_name=_require(app, "name", "app"),
        bot_user_id=_require(app, "bot_user_id", "app"),
        bot_id=_require(app, "bot_id", "app"),
        scopes=list(app.get("scopes", [])),
        commands=list(app.get("commands", [])),
        signing_secret=str(_require(data, "signing_secret", "the seed")),
        bot_token=str(_require(data, "bot_token", "the seed")),
        app_token=str(_require(data, "app_token", "the seed")),
        verification_token=str(data.get("verification_token", "devslackverificationtoken")),
        users=[SeedUser(**u) for u in data.get("users", [])],
        channels=[SeedChannel(**c) for c in data.get("channels", [])],
        usergroups=[SeedUsergroup(**g) for g in data.get("usergroups", [])],
    )


def load_seed(path: str | None = None) -> Seed:
    """Read `path`, or the seed.yaml shipped inside the package when `path` is None."""
    if path is None:
        text = resources.files("devslack").joinpath("seed.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("seed: the file must hold a mapping")
    return parse_seed(data)
