"""How to start devplexus, and the seed it starts from.

The seed is data (a YAML file shipped with the package, replaceable with --seed) so a demo
or a test can start with its own accounts, procedures or pending requests without code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: AppSync API keys look like `da2-` and 26 lower-case letters and digits.
DEFAULT_API_KEY = "da2-devplexuslocaldevkey000000"
#: The dashboard's `NEXT_PUBLIC_CONSOLE_RESPONSE_TARGET` default.
DEFAULT_RESPONSE_TARGET = "cloud"


@dataclass
class DevPlexusConfig:
    """Everything a devplexus instance is started with."""

    port: int = 0  # 0 = a free port
    host: str = "127.0.0.1"
    api_key: str = DEFAULT_API_KEY
    account_key: str = "dev"  # PLEXUS_ACCOUNT_KEY: an Account with this key always exists
    db_path: str | None = None  # None = in memory; a file keeps data across restarts
    seed_path: str | None = None  # None = the packaged seed.yaml
    faults: dict[str, Any] | list[dict[str, Any]] | None = None  # as POST /_dev/api/faults
    response_target: str = DEFAULT_RESPONSE_TARGET  # responseTarget of dashboard answers
    dashboard_user: str = "dev-user"  # createdByUserId of answers given on the page


Seed = dict[str, list[dict[str, Any]]]


def load_seed(path: str | None = None) -> Seed:
    """Read `path` (or the packaged seed): model name -> list of items."""
    if path is None:
        text = resources.files("devplexus").joinpath("seed.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError("seed: the file must map model names to lists of items")
    for model, items in data.items():
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError(f"seed: `{model}` must be a list of items (mappings)")
    return data
